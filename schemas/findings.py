"""Spans, findings and decisions: the vocabulary shared by the redaction core, the LLM roles and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

M = TypeVar("M", bound=BaseModel)
#: per class: its field names, and whether one set of them may be shared by all its instances
_FIELDS: dict[type, tuple[set[str], bool]] = {}
_set = object.__setattr__
_new = object.__new__


def trusted(cls: type[M], **values) -> M:
    """Build ``cls`` from values its caller made and knows to be valid, without validation.

    For the hot path only (detectors make tens of thousands of findings a second): about twice
    as fast as ``model_construct``, which also fills defaults, so every field must be given. The
    result equals the validated model (a unit test holds it to that). The instances of a frozen
    model share one set of field names (pydantic changes it only when a field is assigned, which
    a frozen model refuses, and copies it for ``model_copy``).
    """
    known = _FIELDS.get(cls)
    if known is None:
        known = _FIELDS[cls] = (set(cls.model_fields), bool(cls.model_config.get("frozen")))
    names, shared = known
    if len(values) != len(names):
        raise TypeError(f"{cls.__name__}: trusted() needs every field, got {sorted(values)}")
    obj = _new(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", names if shared else set(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


#: How far verification widened a redaction (``veil.verification``): each occurrence of a value
#: left standing, the token around it, its line, or the whole record.
Fallback = Literal["occurrences", "tokens", "lines", "record"]

#: Span types the general analyst (an LLM) may report.
AnalystEntity = Literal["PERSON", "ORGANIZATION", "ADDRESS", "LOCATION", "PROJECT", "INTERNAL_SYSTEM"]
ANALYST_ENTITIES: tuple[str, ...] = get_args(AnalystEntity)


class Category(StrEnum):
    """Coarse family of a sensitive value; policies and dashboards group by it."""

    PII = "pii"
    SECRET = "secret"
    INFRA = "infra"


class Finding(BaseModel):
    """A candidate sensitive span, with offsets into the original text (Python str indices)."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    entity: str = Field(description="Entity type, upper snake case, e.g. EMAIL, AWS_ACCESS_KEY.")
    category: Category
    detector: str
    score: float = Field(ge=0.0, le=1.0)
    reason: str = ""


class DecisionSource(StrEnum):
    POLICY = "policy"  # the detector's own evidence was enough (validated checksum, fixed format)
    MODEL = "model"  # the security LLM decided
    FAIL_CLOSED = "fail_closed"  # no decision could be made; redacted conservatively


class Decision(BaseModel):
    """What the decide stage concluded for one finding."""

    model_config = ConfigDict(frozen=True)

    finding: Finding
    redact: bool
    confidence: float = Field(ge=0.0, le=1.0)
    source: DecisionSource
    rationale: str = Field(default="", max_length=200)
    model: str | None = None
    model_version: str | None = None
    cached: bool = Field(default=False, description="Reused from the decision cache, not asked again.")


class AppliedRedaction(BaseModel):
    """One replacement made in the text; offsets refer to the original text."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int
    entity: str
    category: Category
    operator: str
    replacement: str
    value_hash: str = Field(description="Keyed HMAC of the original value, for correlation without the value.")


# A plain dataclass: built once per finding on the hot path of ``veil redact`` and serialised by
# orjson natively; read-only by convention (a frozen dataclass costs 2.5x to build).
@dataclass(slots=True)
class ReportedFinding:
    """A finding as Veil reports it to a caller (``veil redact`` output, ``veil.Engine.run``, the
    HTTP API): where it is, what it is, who found and who decided it, the operator that replaced it
    and the verification fallback that widened it, if any. Never the value."""

    start: int
    end: int
    entity: str
    category: Category
    detector: str
    score: float
    action: Literal["redact", "keep"]
    decided_by: DecisionSource
    operator: str | None = None
    fallback: Fallback | None = None



