"""Which operator each entity gets, and when the security model may keep a candidate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from veil.detectors.name_evidence import is_institution, reads_as_full_name
from veil.detectors.protocol import ONE_AT_A_TIME
from veil.errors import ConfigError
from veil.schemas import Category, Finding, trusted

#: Entities that are personal data only in context under the ``pii`` profile.
CONTEXTUAL = frozenset({"ORGANIZATION", "LOCATION"})
#: Entities that only the ``anonymize`` profile looks for (quasi-identifiers).
QUASI = frozenset({"DATE", "AGE"})
NEAR_PERSON = 40


def _kept(text: str, c: Finding, people: Sequence[Finding]) -> bool:
    """Under ``pii``: an organisation stays a candidate unless it is an institution (a small model
    often calls a person's name an organisation); a place only next to a person; either when it
    reads as a person's name."""
    value = text[c.start:c.end]
    if reads_as_full_name(value):
        return True
    if c.entity == "ORGANIZATION" and is_institution(value):
        return False  # "the Court of Appeal heard Ana ...": next to a name, still no one's data
    return c.entity == "ORGANIZATION" or any(_near(text, c, p) for p in people)


def _near(text: str, a: Finding, b: Finding) -> bool:
    lo, hi = (a, b) if a.start <= b.start else (b, a)
    gap = hi.start - lo.end
    return gap <= NEAR_PERSON and "\n" not in text[max(lo.end, 0):max(hi.start, lo.end)]


class SourceOverride(BaseModel):
    """Per-source changes: a different default operator, more operators, more allowed values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_operator: str | None = None
    category_operators: dict[Category, str] = Field(default_factory=dict)
    entity_operators: dict[str, str] = Field(default_factory=dict)
    allow_values: frozenset[str] = Field(default_factory=frozenset)


class Policy(BaseModel):
    """Redaction policy. Lookups go entity, then category, then the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_operator: str = "placeholder"
    category_operators: dict[Category, str] = Field(default_factory=dict)
    entity_operators: dict[str, str] = Field(default_factory=dict)
    auto_redact_score: float = Field(
        default=0.85, ge=0.0, le=1.0,
        description="Findings scoring at least this are redacted on the detector's evidence alone.",
    )
    keep_min_confidence: float = Field(
        default=0.8, ge=0.0, le=1.0, description="The security model must be at least this sure to keep a candidate."
    )
    min_candidate_score: float = Field(
        default=0.4, ge=0.0, le=1.0, description="Findings scoring below this are not candidates at all."
    )
    allow_values: frozenset[str] = Field(default_factory=frozenset, description="Values never redacted.")
    deny_values: frozenset[str] = Field(default_factory=frozenset, description="Values always redacted (DENYLIST).")
    min_llm_span_chars: int = Field(default=3, ge=1)
    sources: dict[str, SourceOverride] = Field(default_factory=dict, description="Overrides by record source.")
    profile: Literal["pii", "anonymize"] = Field(default="pii", description=(
        "pii: direct identifiers, secrets and infrastructure; organisations and places only next to a person. "
        "anonymize: also quasi-identifiers (dates, ages, every organisation and place)."))

    @classmethod
    def from_yaml(cls, path: Path) -> Policy:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})

    def for_source(self, source: str) -> Policy:
        """This policy with the overrides for ``source`` applied (itself when there are none)."""
        o = self.sources.get(source)
        if o is None:
            return self
        return self.model_copy(update={
            "default_operator": o.default_operator or self.default_operator,
            "category_operators": {**self.category_operators, **o.category_operators},
            "entity_operators": {**self.entity_operators, **o.entity_operators},
            "allow_values": self.allow_values | o.allow_values,
        })

    def operators(self) -> set[str]:
        """Every operator the policy names, its per-source overrides included."""
        named = {self.default_operator, *self.category_operators.values(), *self.entity_operators.values()}
        for o in self.sources.values():
            named |= {*([o.default_operator] if o.default_operator else []), *o.category_operators.values(),
                      *o.entity_operators.values()}
        return named

    def check_operators(self, known: Iterable[str], *, encryption_key: bool) -> None:
        """Raise :class:`ConfigError` for an operator that does not exist, or ``encrypt`` without a
        key: checked when the redactor is built, before any record is read."""
        named, known = self.operators(), set(known)
        if unknown := sorted(named - known):
            raise ConfigError(f"the policy names unknown operator(s) {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(known))})")
        if "encrypt" in named and not encryption_key:
            raise ConfigError("the policy uses the encrypt operator but no key is set: set VEIL_ENCRYPTION_KEY")

    def check_entities(self, known: Iterable[str]) -> None:
        """Raise :class:`ConfigError` for an entity type the policy gives an operator but nothing
        can report (a typo, say ``EMIAL``: its values would silently get the default operator)."""
        named = set(self.entity_operators)
        for o in self.sources.values():
            named |= set(o.entity_operators)
        if unknown := sorted(named - set(known)):
            raise ConfigError(f"the policy names unknown entity type(s) {', '.join(unknown)}; see `veil entities` "
                              "(a detector of your own declares its types in an `entities` attribute)")

    def select(self, text: str, candidates: Sequence[Finding]) -> list[Finding]:
        """The candidates this policy's profile redacts at all. Under ``pii`` an organisation or a
        place is personal data only where it points at a person (an employer or a home town next to
        a name): one within ``NEAR_PERSON`` characters of a PERSON candidate on the same line stays,
        and so does one that reads as a person's name (the model mistook it); other ones ("the
        Court", "the Ministry", "Madrid") are no candidates. Dates and ages are
        looked for under ``anonymize`` only (see ``veil.detectors.quasi``)."""
        if self.profile == "anonymize" or not any(c.entity in CONTEXTUAL for c in candidates):
            return list(candidates)
        people = [c for c in candidates if c.entity == "PERSON"]
        return [c for c in candidates if c.entity not in CONTEXTUAL or _kept(text, c, people)]

    def operator_for(self, finding: Finding) -> str:
        return self.entity_operators.get(
            finding.entity, self.category_operators.get(finding.category, self.default_operator)
        )

    def needs_model(self, finding: Finding) -> bool:
        """True when the detector's evidence alone does not settle the finding."""
        return finding.score < self.auto_redact_score


class DenyListDetector:
    """Exact occurrences of configured values (e.g. project code names), always redacted."""

    name = "denylist"
    entities = frozenset({"DENYLIST"})
    reading = ONE_AT_A_TIME

    def __init__(self, values: frozenset[str]) -> None:
        alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True) if v)
        self._rx = re.compile(alternatives) if alternatives else None
        self.screen = (alternatives,) if alternatives else ()

    def detect(self, text: str) -> list[Finding]:
        return self.detect_screened(text, [0])

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        if self._rx is None:
            return []
        return [trusted(Finding, start=m.start(), end=m.end(), entity="DENYLIST", category=Category.INFRA,
                                        detector=self.name, score=1.0, reason="value on the deny-list")
                for m in self._rx.finditer(text)]
