"""Audit events, ECS-compatible field names, never a raw value or document text.

Two kinds share the audit index: one :class:`AuditEvent` per decision (the stream writes them) and
one :class:`OperatorEvent` per operator action (a review label, a re-drive, a replay, a model
promotion, a worker applying a swap).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from veil.schemas.records import utcnow


class EcsEvent(BaseModel):
    kind: str = "event"
    category: list[str] = Field(default_factory=lambda: ["process"])
    type: list[str] = Field(default_factory=lambda: ["info"])
    action: str = Field(description="redact | keep for decisions; the operation for operator actions")
    outcome: str = "success"
    dataset: str = "veil.audit"


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
    fallback: str | None = Field(None, description="Set on spans that verification redacted as a fallback: "
                                 "occurrences | tokens | lines | record.")


class AuditEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    timestamp: datetime = Field(default_factory=utcnow, alias="@timestamp")
    id: str
    event: EcsEvent
    veil: AuditDetails


class EcsUser(BaseModel):
    name: str


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
    event: EcsEvent
    user: EcsUser
    veil: OperatorScope


def operator_event(operation: str, user: str, *, id: str | None = None, configuration: bool = False,
                   outcome: str = "success", **details) -> OperatorEvent:
    """An operator action as an audit event (``id`` defaults to a fresh one: each action is new)."""
    import uuid

    return OperatorEvent(
        id=id or f"op:{uuid.uuid4().hex}",
        event=EcsEvent(action=operation, category=["configuration" if configuration else "process"], type=["change"],
                       outcome=outcome),
        user=EcsUser(name=user), veil=OperatorScope(operation=OperatorDetails(name=operation, **details)))
