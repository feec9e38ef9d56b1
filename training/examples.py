"""One training example for the security judge, and how it becomes the prompt and answer the model
is tuned on (the same prompt the judge asks at serving time)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from veil.models.roles import JudgeCategory, ReasonedAnswer, judge_prefix, judge_question
from veil.schemas import ChatMessage

Source = Literal["feedback", "policy", "model", "bootstrap"]
#: Which label wins when two sources label the same example.
PRIORITY: dict[str, int] = {"feedback": 3, "policy": 2, "bootstrap": 1, "model": 0}
#: the categories a tuned judge answers with when it redacts
_CATEGORIES: dict[str, JudgeCategory] = {"pii": "pii", "secret": "secret", "infra": "infra"}


class JudgeExample(BaseModel):
    id: str = Field(description="Audit/review id (record:start-end) or a bootstrap id.")
    record_id: str
    context: str = Field(description="Text around the span, the span marked with [[ ]].")
    entity: str
    category: str = Field(description="pii | secret | infra")
    label: Literal["redact", "keep"]
    source: Source
    confidence: float = Field(ge=0, le=1, description="How sure the label is (1 for a person's label).")

    @property
    def parts(self) -> tuple[str, str, str]:
        """The context before the span, the span, and the context after it (marks removed)."""
        before, rest = self.context.split("[[", 1)
        span, after = rest.split("]]", 1)
        return before, span, after

    @property
    def span(self) -> str:
        return self.parts[1]


def answer(ex: JudgeExample) -> ReasonedAnswer:
    """The answer the tuned judge should give."""
    redact = ex.label == "redact"
    what = ex.entity.lower().replace("_", " ")
    return ReasonedAnswer(redact=redact, category=_CATEGORIES.get(ex.category, "none") if redact else "none",
                       confidence=0.95 if redact else 0.9,
                       rationale=f"{what}: sensitive here" if redact else f"{what}: not sensitive here")


def prompt_messages(ex: JudgeExample, family: str | None, examples: bool = False) -> list[ChatMessage]:
    """The judge's prompt for ``ex`` (zero-shot by default: a tuned model needs no examples)."""
    return [*judge_prefix(family, examples), ChatMessage(role="user", content=judge_question(ex.context, ex.entity))]
