"""The two LLM roles: the general analyst and the security judge.

Each asks for JSON matching a schema, validates it with pydantic, retries once, and otherwise
reports "cannot decide" (None) so that the caller fails closed. When the provider itself fails
(unreachable, timed out, every provider of a chain down) the judge raises ``ProviderError``: the
caller chooses between redacting conservatively and holding the record until it is back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Generic, Literal, TypeVar, cast

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from veil import textkind
from veil.cache import JUDGE_CONTEXT_CHARS, UNREACHABLE, marked_context
from veil.detectors import language
from veil.detectors.name_evidence import plausible_person
from veil.errors import ProviderError, ProviderTimeout
from veil.models.provider import Provider
from veil.schemas import (
    Analysis,
    AnalystResult,
    Category,
    ChatMessage,
    Decision,
    DecisionSource,
    Finding,
    GenerationRequest,
    GenerationResponse,
    Sampling,
    TokenStep,
)
from veil.schemas.findings import AnalystEntity

log = logging.getLogger(__name__)

SpanType = AnalystEntity
#: The category a judge answers with ("none" when it keeps the value).
JudgeCategory = Literal["pii", "secret", "infra", "none"]
_SPAN_CATEGORY = {"PERSON": Category.PII, "ADDRESS": Category.PII, "LOCATION": Category.PII,
                  "ORGANIZATION": Category.PII, "PROJECT": Category.INFRA, "INTERNAL_SYSTEM": Category.INFRA}
LLM_SPAN_SCORE = 0.5  # below any auto-redact threshold: the judge always sees LLM spans


class AnalystSpan(BaseModel):
    text: str = Field(min_length=1, max_length=120)
    type: SpanType


class AnalystAnswer(BaseModel):
    kind: Literal["log", "email", "chat", "code", "config", "document", "other"]
    language: str = Field(min_length=2, max_length=8)
    summary: str = Field(default="", max_length=200)
    topics: list[str] = Field(default_factory=list, max_length=5)
    spans: list[AnalystSpan] = Field(max_length=5)


class JudgeAnswer(BaseModel):
    """The judge's answer, verdict first (the order the few-shot examples teach)."""

    redact: bool
    category: JudgeCategory
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = Field(max_length=120)


class ReasonedAnswer(BaseModel):
    """The same answer, reason first: what a tuned judge is trained to write. A 135M model tuned on
    verdict-first answers learned the "keep" reasons and categories but still opened with
    ``"redact": true``; deciding after the reason, it decides better. (Field order is the order
    constrained decoding writes them.)"""

    rationale: str = Field(max_length=120)
    category: JudgeCategory
    redact: bool
    confidence: float = Field(ge=0.0, le=1.0)


Role = Literal["analyst", "judge"]


class RolePrompt(BaseModel):
    """A role's prompt for one model family: the system prompt, the few-shot examples (invented
    values only) and the sampling defaults. A family's variant replaces the parts it gives."""

    model_config = ConfigDict(frozen=True)

    system: str
    examples: list[dict[str, Any]] = []
    sampling: dict[str, Any] = {}


class RolePrompts(RolePrompt):
    """A role's entry in ``prompts.yaml``: the default prompt and the variants per model family."""

    families: dict[str, dict[str, Any]] = {}


@cache
def prompts() -> dict[Role, RolePrompts]:
    raw = yaml.safe_load(resources.files("veil.models").joinpath("prompts.yaml").read_text())
    return {role: RolePrompts.model_validate(entry) for role, entry in raw.items()}


def prompt(role: Role, family: str | None = None) -> RolePrompt:
    """The role's prompt (system, examples, sampling), with the model family's overrides applied."""
    base = prompts()[role]
    override = base.families.get(family or "", {})
    return RolePrompt.model_validate({**base.model_dump(exclude={"families"}), **override,
                                      "sampling": {**base.sampling, **override.get("sampling", {})}})


def role_sampling(role: Role, family: str | None = None, configured: Sampling | None = None) -> Sampling:
    """Configured sampling for the model wins; else the role's defaults for its family."""
    return configured or Sampling(**prompt(role, family).sampling)


def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema()


A = TypeVar("A", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Reply(Generic[A]):
    """What one structured call brought back: the valid answer (None when none came after the
    retries) and the provider's response it was read from."""

    answer: A | None
    response: GenerationResponse | None


def _ask(provider: Provider, messages: list[ChatMessage], answer: type[A], sampling: Sampling,
         attempts: int = 2, top_logprobs: int = 0, budget_s: float | None = None) -> Reply[A]:
    """One structured call with a retry on invalid output; None when no valid answer came back.
    ``budget_s`` bounds both tries together (each is given what is left: past it, no retry).
    Provider errors propagate (a :class:`ProviderTimeout` when the budget ran out mid-call)."""
    request = GenerationRequest(messages=messages, json_schema=_schema(answer), sampling=sampling,
                                top_logprobs=top_logprobs)
    deadline = None if budget_s is None else time.monotonic() + budget_s
    for attempt in range(attempts):
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            request = request.model_copy(update={"timeout_s": left})
        try:
            response = provider.generate(request)
            return Reply(answer.model_validate_json(response.text), response)
        except ValidationError:
            log.warning("invalid structured answer model=%s attempt=%d", provider.name, attempt + 1)
            request = request.model_copy(update={"sampling": sampling.model_copy(update={"seed": sampling.seed + attempt + 1})})
    return Reply(None, None)


def few_shot(role: Role, render: Callable[[dict[str, Any]], str], family: str | None = None) -> list[ChatMessage]:
    """System prompt plus example turns for ``role``; ``render(example)`` writes the user turn."""
    p = prompt(role, family)
    messages = [ChatMessage(role="system", content=p.system)]
    for ex in p.examples:
        messages += [ChatMessage(role="user", content=render(ex)),
                     ChatMessage(role="assistant", content=orjson.dumps(ex["answer"]).decode())]
    return messages


_NAMES = ("PERSON", "ORGANIZATION", "LOCATION", "PROJECT")
#: Organisations and places come from NER and the policy's profile decides on them: measured on the
#: shared sets, the small analyst's ones were mostly headings and common nouns (all-label precision
#: on docs.dev 0.64 -> 0.58 with them), so its people, addresses, projects and systems are taken only.
_LEFT_TO_NER = frozenset({"ORGANIZATION", "LOCATION"})
#: Project and system names are taken from the analyst only where the layout says the text is
#: configuration or a log (``veil.textkind``; the model calls posts "log" too), not in prose or
#: posts: there its ones were product names, diseases and headings.
_INFRA_KINDS = frozenset({"log", "config", "code"})


def plausible(value: str, kind: str) -> bool:
    """Cheap sanity checks on a span the analyst typed; small models call timestamps and user
    agents names, and headings, titles and products people. Names are mostly letters and carry no
    slash or '@'; a person's name is capitalised, has a given or family name from the name list
    among its words and no role word ("Mr President"); an organisation or place is capitalised; an
    address has a number; a system name is one token shaped like an identifier ("zeta-prod",
    "billing_v2"), a project name that or a short name that says it is one ("Proyecto Halcon");
    host names need a few letters (``2026-11-20T10:01:05Z`` has two)."""
    compact = "".join(value.split())
    letters = sum(c.isalpha() for c in compact)
    if kind in _NAMES and not (letters >= 2 and letters >= 0.75 * len(compact) and not any(c in value for c in "/@=:")):
        return False
    words = value.split()
    if kind == "PERSON":
        return plausible_person(words)
    if kind == "ADDRESS":  # words and a number: "Calle Mayor 5", not "AKIAIOSFODNN7EXAMPLE"
        return len(words) >= 2 and any(c.isdigit() for c in value) and letters >= 3
    if kind == "INTERNAL_SYSTEM":  # one token: "zeta-prod", not "call me on +44 20 ..."
        return len(words) == 1 and letters >= 3 and letters >= 0.3 * len(compact) and bool(_IDENTIFIER.search(value))
    if kind == "PROJECT":
        return len(words) <= 4 and (bool(_IDENTIFIER.search(value)) or bool(_PROJECT_WORD.search(value)))
    if kind in ("ORGANIZATION", "LOCATION"):  # a proper name: "Acme GmbH", not "to move the search cluster"
        return len(words) <= 6 and value[:1].isupper()
    return letters >= 3 and letters >= 0.3 * len(compact)


#: An identifier's shape: a digit, an inner dash, underscore or dot, or a capital inside a word.
_IDENTIFIER = re.compile(r"\w[-_.]\w|\d|[a-z][A-Z]")
_PROJECT_WORD = re.compile(r"(?i)\b(?:project|proyecto|projet|projekt|progetto|projeto|code ?name|operation)\b")


def served(provider: Provider) -> str:
    return f"{provider.name}@{provider.version}"


class GeneralAnalyst:
    """Kind of text, language, and candidate spans detectors cannot see."""

    def __init__(self, provider: Provider, *, max_chars: int = 1500, min_span_chars: int = 3,
                 sampling: Sampling | None = None, family: str | None = None) -> None:
        self.provider = provider
        self.max_chars = max_chars
        self.min_span_chars = min_span_chars
        self.sampling = role_sampling("analyst", family, sampling)
        self._prefix = few_shot("analyst", lambda ex: ex["text"], family)

    @property
    def identity(self) -> str:
        """The model now served, ``name@version``: what a cached answer must have come from."""
        return served(self.provider)

    def analyze(self, text: str, budget_s: float | None = None) -> AnalystResult:
        """Never raises: without an answer (none valid, the provider failing, ``budget_s`` spent) the
        detectors' candidates stand alone, and the analysis says why."""
        excerpt = text[: self.max_chars]
        try:
            reply = _ask(self.provider, [*self._prefix, ChatMessage(role="user", content=excerpt)],
                         AnalystAnswer, self.sampling, budget_s=budget_s)
        except ProviderError as err:
            log.warning("analyst provider failed model=%s error=%s", self.provider.name, type(err).__name__)
            reply, why, timed_out = Reply(None, None), f"{UNREACHABLE} ({type(err).__name__})", isinstance(err, ProviderTimeout)
        else:
            why, timed_out = "no valid analyst answer", False
        answer, response = reply.answer, reply.response
        # the layout and the function words tell kind and language more reliably than a small model
        kind, lang = textkind.guess(excerpt), language.guess(excerpt)
        if answer is None or response is None:
            return AnalystResult(analysis=Analysis(model=self.provider.name, model_version=self.provider.version,
                                                   error=why, timed_out=timed_out, text_kind=kind or "unknown",
                                                   language=lang or "unknown"),
                                 findings=[])
        spans = answer.spans if kind in _INFRA_KINDS else \
            [sp for sp in answer.spans if sp.type not in ("PROJECT", "INTERNAL_SYSTEM")]
        findings, hallucinated = self.locate(excerpt, spans)
        return AnalystResult(
            analysis=Analysis(text_kind=kind or answer.kind, language=lang or answer.language.lower(),
                              summary=answer.summary,
                              topics=answer.topics, model=response.model, model_version=response.model_version,
                              hallucinated_spans=hallucinated),
            findings=findings,
        )

    def locate(self, text: str, spans: list[AnalystSpan]) -> tuple[list[Finding], int]:
        """Every occurrence of each span in ``text``. Spans not found verbatim, or that cannot be
        what the model says they are (a timestamp called a PERSON), are dropped and counted."""
        findings: list[Finding] = []
        hallucinated = 0
        for span in spans:
            needle = span.text.strip()
            if len(needle) < self.min_span_chars:
                continue
            start = text.find(needle)
            if start < 0 or not plausible(needle, span.type):
                hallucinated += 1
                continue
            if span.type in _LEFT_TO_NER:
                continue
            while start >= 0:
                findings.append(Finding(start=start, end=start + len(needle), entity=span.type,
                                        category=_SPAN_CATEGORY[span.type], detector=f"llm:{self.provider.name}",
                                        score=LLM_SPAN_SCORE, reason="general analyst candidate"))
                start = text.find(needle, start + len(needle))
        return findings, hallucinated


def judge_question(context: str, entity: str) -> str:
    """The judge's user turn: the detector's entity and the text with the span in ``[[ ]]``."""
    return f"Detector says: {entity}\nText: {context}"


def judge_prefix(family: str | None = None, examples: bool = True) -> list[ChatMessage]:
    """System prompt and, unless the model was tuned to do without, the example turns."""
    messages = few_shot("judge", lambda ex: judge_question(ex["context"], ex["entity"]), family)
    return messages if examples else messages[:1]


#: Words that state a verdict: the JSON value of ``redact`` (the answer's first field for a few-shot
#: judge), and the word after the colon of a tuned judge's rationale ("credit card: sensitive here",
#: "credit card: not sensitive here", see ``training.examples.answer``), where such a judge decides.
#: The first one an answer writes is where it decided.
VERDICT_WORDS = {"true": True, "false": False, "sensitive": True, "not": False}
VERDICT_TOP = 8  # alternatives asked for per step


def verdict_probability(steps: Sequence[TokenStep], redact: bool) -> float | None:
    """How likely the model itself found the verdict ``redact``: at the first step that wrote a
    verdict word, the probability of the words for ``redact`` over that of all verdict words. A side
    missing from the step's top tokens counts as likely as the least likely of them (the most it can
    be), so an unmeasured alternative never makes a keep look surer. None when no step wrote a
    verdict word (the backend reports nothing usable)."""
    for step in steps:
        said = VERDICT_WORDS.get((step.token or "").strip().lower())
        if said is None:
            continue
        mass: dict[bool, float] = {}
        for token, p in step.top.items():
            verdict = VERDICT_WORDS.get(token.strip().lower())
            if verdict is not None:
                mass[verdict] = mass.get(verdict, 0.0) + p
        mass[said] = mass.get(said, step.p or 0.0)
        mass[not said] = mass.get(not said, min(step.top.values(), default=0.0))
        total = mass[True] + mass[False]
        return round(mass[redact] / total, 4) if total > 0 else None
    return None


class SecurityJudge:
    """Redact or keep, per candidate, with category, confidence and a one-line rationale.

    The confidence is the probability the model gave its verdict where the backend reports token
    probabilities (llama.cpp does), else the number the model wrote. A model's written confidence
    is a habit, not a measurement (a tuned judge writes the same number every time); the token
    probability is what lets ``keep_min_confidence`` overrule the keeps it is unsure of.
    """

    def __init__(self, provider: Provider, *, context_chars: int = JUDGE_CONTEXT_CHARS, sampling: Sampling | None = None,
                 family: str | None = None, examples: bool = True) -> None:
        self.provider = provider
        self.context_chars = context_chars
        self.sampling = role_sampling("judge", family, sampling)
        self._prefix = judge_prefix(family, examples)
        self._answer = JudgeAnswer if examples else ReasonedAnswer  # zero-shot: a tuned model

    @property
    def identity(self) -> str:
        """The model now served, ``name@version``: the decision cache keys on it."""
        return served(self.provider)

    def judge(self, text: str, finding: Finding) -> Decision | None:
        """The model's decision, or None when it gave no valid answer; raises ``ProviderError``
        when no provider could be asked."""
        context = marked_context(text, finding.start, finding.end, self.context_chars)
        return self.judge_context(context, finding)

    def judge_context(self, context: str, finding: Finding) -> Decision | None:
        """Like :meth:`judge`, for a context already marked with ``[[ ]]``."""
        reply = _ask(self.provider, [*self._prefix, ChatMessage(role="user", content=judge_question(context, finding.entity))],
                     self._answer, self.sampling, top_logprobs=VERDICT_TOP)
        # one of the two answer shapes, the one asked for (the checker joins them to BaseModel)
        answer, response = cast("JudgeAnswer | ReasonedAnswer | None", reply.answer), reply.response
        if answer is None or response is None:
            return None
        measured = verdict_probability(response.steps, answer.redact) if response.steps else None
        return Decision(finding=finding, redact=answer.redact, confidence=answer.confidence if measured is None else measured,
                        source=DecisionSource.MODEL, rationale=answer.rationale,
                        model=response.model, model_version=response.model_version)
