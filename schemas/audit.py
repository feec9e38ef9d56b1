"""Audit events, ECS-compatible field names, never a raw value or document text.

Two kinds share the audit index: one :class:`AuditEvent` per decision (the stream writes them) and
one :class:`OperatorEvent` per operator action (a review label, a re-drive, a replay, a model
promotion, a worker applying a swap).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from veil.schemas.ecs import Ecs, EcsError, EcsEvent, EcsHost, EcsService
from veil.schemas.findings import Fallback
from veil.schemas.records import DeadLetter, SourceRef, utcnow


class AuditDetails(BaseModel):
    record_id: str
    source_topic: str
    source_partition: int
    source_offset: int
    batch: str | None = None
    entity: str
    category: str
    start: int
    end: int
    detector: str
    detector_score: float
    decided_by: str
    confidence: float
    rationale: str
    operator: str | None = None
    model: str | None = None
    model_version: str | None = None
    cached: bool = False
    value_hash: str
    fallback: Fallback | None = Field(None, description="Set on spans that verification redacted as a fallback: "
                                 "occurrences | tokens | lines | record.")


class AuditEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    timestamp: datetime = Field(default_factory=utcnow, alias="@timestamp")
    id: str
    ecs: Ecs = Field(default_factory=Ecs)
    event: EcsEvent
    service: EcsService | None = None
    host: EcsHost | None = None
    veil: AuditDetails


class EcsUser(BaseModel):
    name: str


__all__ = ["AuditDetails", "AuditEvent", "DeadLetterDocument", "Ecs", "EcsError", "EcsEvent", "EcsHost", "EcsService",
           "EcsUser", "OperatorDetails", "OperatorEvent", "OperatorScope", "deadletter_document", "operator_event"]


class OperatorDetails(BaseModel):
    """What an operator did: names, counts and positions only (never payloads or document text)."""

    name: str = Field(description="review-label | deadletter-redrive | replay | model-promote | model-swap")
    target: str | None = Field(None, description="The topic or model role acted on.")
    count: int | None = Field(None, description="Messages sent or labels written.")
    range: str | None = Field(None, description="The from..to range an operation covered.")
    record_id: str | None = None
    label: str | None = None
    corrected: bool | None = None
    model: str | None = None
    worker: str | None = None
    error: str | None = Field(None, description="Why the action failed (the error type and a short message).")


class OperatorScope(BaseModel):
    """The custom ``veil`` namespace of an operator event."""

    batch: str | None = None
    operation: OperatorDetails


class OperatorEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    timestamp: datetime = Field(default_factory=utcnow, alias="@timestamp")
    id: str
    ecs: Ecs = Field(default_factory=Ecs)
    event: EcsEvent
    user: EcsUser
    veil: OperatorScope


def operator_event(operation: str, user: str, *, id: str | None = None, configuration: bool = False,
                   outcome: str = "success", **details) -> OperatorEvent:
    """An operator action as an audit event (``id`` defaults to a fresh one: each action is new)."""
    import uuid

    event_id = id or f"op:{uuid.uuid4().hex}"
    return OperatorEvent(
        id=event_id,
        event=EcsEvent(id=event_id, action=operation, category=["configuration" if configuration else "process"], type=["change"],
                       outcome=outcome),
        user=EcsUser(name=user), veil=OperatorScope(operation=OperatorDetails(name=operation, **details)))


class DeadLetterDetails(BaseModel):
    stage: str
    origin: SourceRef
    batch: str | None = None
    payload_bytes: int | None = None
    payload_digest: str | None = Field(None, description="Keyed digest (HMAC-SHA256) of the whole record.")
    truncated: bool = False


class DeadLetterDocument(BaseModel):
    """A dead letter as indexed for Kibana (``{prefix}-deadletter``): why, where from, how large,
    its digest and time; never the payload (that stays sealed on the dead-letter topic)."""

    model_config = ConfigDict(populate_by_name=True)

    timestamp: datetime = Field(alias="@timestamp")
    id: str
    ecs: Ecs = Field(default_factory=Ecs)
    event: EcsEvent
    error: EcsError
    veil: DeadLetterDetails


def deadletter_document(dl: DeadLetter) -> DeadLetterDocument:
    """The indexed form of a dead letter. Its id is its origin and stage, so a record dead-lettered
    twice (at-least-once) is one document."""
    o = dl.origin
    doc_id = f"{o.topic}:{o.partition}:{o.offset}:{dl.stage}"
    return DeadLetterDocument(
        timestamp=dl.failed_at, id=doc_id,
        event=EcsEvent(kind="pipeline_error", category=["process"], type=["error"], action="dead-letter",
                       outcome="failure", dataset="veil.deadletter", id=doc_id, reason=dl.reason),
        error=EcsError(type=dl.error_type, message=dl.reason),
        veil=DeadLetterDetails(stage=dl.stage, origin=o, batch=dl.batch, payload_bytes=dl.payload_bytes,
                               payload_digest=dl.payload_digest, truncated=dl.truncated))
