"""Messages on Veil's topics, from inbound records to the redacted documents written to Elasticsearch."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from veil.schemas.ecs import DocumentEvent, Ecs
from veil.schemas.findings import AppliedRedaction, Decision, Fallback, Finding


def utcnow() -> datetime:
    return datetime.now(UTC)


class RecordKind(StrEnum):
    DOCUMENT = "document"
    LOG = "log"


class SourceRef(BaseModel):
    """Where a record came from in Kafka; the identity that makes Elasticsearch writes idempotent."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class InboundDocument(BaseModel):
    """A JSON document on ``veil.docs.in``."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=256)
    text: str = Field(min_length=1)
    source: str = Field(default="unknown", max_length=256, description="Producing system, e.g. 'crm'.")
    metadata: dict[str, str] = Field(default_factory=dict)
    timestamp: datetime | None = None


class InboundLogLine(BaseModel):
    """A log line on ``veil.logs.in``: either raw text or JSON ``{"line": ..., "source": ...}``."""

    model_config = ConfigDict(extra="forbid")

    line: str = Field(min_length=1)
    source: str = Field(default="unknown", max_length=256)
    timestamp: datetime | None = None


class InboundRecord(BaseModel):
    """An inbound document or log line after decoding, normalized to one shape."""

    id: str
    kind: RecordKind
    text: str
    source: str
    origin: SourceRef
    batch: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    timestamp: datetime = Field(default_factory=utcnow)


class Analysis(BaseModel):
    """What the general analyst said about a record."""

    text_kind: str = "unknown"
    language: str = "unknown"
    #: Written by the model from the unredacted text: internal only, never indexed.
    summary: str = ""
    topics: list[str] = Field(default_factory=list)
    model: str | None = None
    model_version: str | None = None
    hallucinated_spans: int = 0
    error: str | None = None
    #: the analyst ran out of time (its budget for the record): the detectors' findings stand alone
    timed_out: bool = False


class AnalystResult(BaseModel):
    """What the general analyst said about one text: the analysis and the candidate spans it found."""

    analysis: Analysis
    findings: list[Finding]


class VariablePart(BaseModel):
    """A part of a log line that varies between the lines of its template, and its placeholder there."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    placeholder: str


class Templated(Protocol):
    """A log line mined into its template (``veil.templates.TemplatedLine``): its variable parts."""

    @property
    def variables(self) -> list[VariablePart]: ...


class AnalyzedRecord(BaseModel):
    """A record with its candidate spans, on ``veil.analyzed``. Internal: carries the original text."""

    record: InboundRecord
    analysis: Analysis
    candidates: list[Finding]
    #: For a log line mined into a template: its id and the parts that vary; the security model is
    #: shown the line with the variable parts it is not asked about replaced by their placeholders.
    template_id: str | None = None
    variables: list[VariablePart] | None = None
    #: The mined line behind ``variables``, in the process that mined it: its variable parts are
    #: worked out only when a record needs the security model (or leaves for veil.analyzed).
    _templated: Templated | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, record: InboundRecord, analysis: Analysis, candidates: list[Finding], template_id: str | None,
           line: Templated | None) -> AnalyzedRecord:
        """The analyzed record; ``line``: the mined log line its variable parts come from, when asked."""
        out = cls(record=record, analysis=analysis, candidates=candidates, template_id=template_id)
        out._templated = line
        return out

    def variable_parts(self) -> list[VariablePart] | None:
        if self.variables is None and self._templated is not None:
            self.variables = self._templated.variables
        return self.variables


class RedactedDocument(BaseModel):
    """The only shape of a record that is written to Elasticsearch: no original values."""

    id: str
    kind: RecordKind
    ecs: Ecs = Field(default_factory=Ecs)
    event: DocumentEvent
    origin: SourceRef
    batch: str | None = None
    timestamp: datetime = Field(alias="@timestamp")
    processed_at: datetime = Field(default_factory=utcnow)
    redacted_text: str
    text_kind: str
    language: str
    redactions: list[AppliedRedaction]
    entity_counts: dict[str, int]
    decision_modes: list[str] = Field(description="Distinct decision sources used for this record.")
    models: dict[str, str] = Field(default_factory=dict, description="role -> model@version")
    template_id: str | None = Field(default=None, description="Log template (keyed hash), for grouping lines.")
    metadata: dict[str, str] = Field(default_factory=dict, description="The producer's metadata, redacted; "
                                     "indexed as one flattened field, so no producer can change the mapping.")
    fallback: Fallback | None = Field(default=None, description="The coarsest redaction verification fell back to "
                                 "(occurrences | tokens | lines | record); absent when the decisions verified.")
    detail: Literal["full", "summary"] = Field(default="full", description=(
        "summary: the per-finding list (redactions) was left out to fit the broker's message limit; "
        "entity_counts and the audit events keep the detail."))

    model_config = ConfigDict(populate_by_name=True)

    @property
    def source(self) -> str:
        """The producing system, as indexed (``event.provider``)."""
        return self.event.provider


#: What the decide stage does when the security model cannot be asked: redact the undecided
#: candidates (fail closed), or hold the record (not committed) until the model answers.
OnModelFailure = Literal["redact", "hold"]

#: Where in the stream a record failed: analysis, decision, or Elasticsearch refusing its document.
Stage = Literal["analyze", "decide", "index"]


class DeadLetter(BaseModel):
    """An input that could not be processed, with why and where it came from (Kafka only, never ES)."""

    reason: str
    error_type: str
    origin: SourceRef
    batch: str | None = None
    payload: str = Field(description="The original bytes (a prefix of them when ``truncated``), sealed with the "
                                     "payload key when ``sealed``, base64.")
    sealed: bool = Field(default=False, description="The payload is sealed (veil.sealing): open it with the payload key.")
    failed_at: datetime = Field(default_factory=utcnow)
    stage: Stage = "analyze"
    payload_bytes: int | None = Field(default=None, description="Size of the whole original record.")
    payload_digest: str | None = Field(default=None, description="Keyed digest (HMAC-SHA256 under the payload key) "
                                                                "of the whole original record.")
    truncated: bool = Field(default=False, description="The payload is a prefix: re-drive from the origin instead.")


class ReviewItem(BaseModel):
    """A model decision a person should check, on ``veil.review``. Internal: carries the context."""

    id: str = Field(description="record_id:start-end, stable across redeliveries")
    record_id: str
    origin: SourceRef
    source: str | None = None
    context: str = Field(description="Text around the value, the value marked [[like this]].")
    decision: Decision
    queued_at: datetime = Field(default_factory=utcnow)


class Feedback(BaseModel):
    """A person's label for a reviewed decision, on ``veil.feedback``; the training job reads it."""

    id: str
    record_id: str
    entity: str
    category: str
    context: str
    label: Literal["redact", "keep"]
    corrected: bool = Field(description="The label differs from the model's decision.")
    model: str | None = None
    model_version: str | None = None
    model_confidence: float
    reviewer: str
    reviewed_at: datetime = Field(default_factory=utcnow)


class ControlCommand(BaseModel):
    """An operator command on ``veil.control``, applied by every worker (e.g. promote a model)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["swap"]
    role: Literal["security", "general"] = "security"
    model: str = Field(min_length=1, description="Catalog name of the model version to serve.")
    issued_by: str = "unknown"
    issued_at: datetime = Field(default_factory=utcnow)


class DecideRequest(BaseModel):
    """Sent to the security actor pool: the findings needing a model decision, each with the marked
    context the model is shown (``veil.cache.question``); or, without contexts, the record text."""

    record_id: str
    findings: list[Finding]
    contexts: list[str] = Field(default_factory=list)
    text: str = ""
    budget_s: float | None = Field(default=None, description="Wall time for all of these questions; past it the "
                                   "actor stops asking and answers what it has, unavailable='budget'.")


class DecideResponse(BaseModel):
    record_id: str
    decisions: list[Decision]
    #: Set when the security model could not be asked for some findings (provider down): the stage
    #: then holds the record or redacts them, as configured.
    unavailable: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
