"""Audit events: one per decision, ECS-compatible field names, never the raw value."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.records import utcnow


class EcsEvent(BaseModel):
    kind: str = "event"
    category: list[str] = Field(default_factory=lambda: ["process"])
    type: list[str] = Field(default_factory=lambda: ["info"])
    action: str = Field(description="redact | keep")
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
    value_hash: str


class AuditEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    timestamp: datetime = Field(default_factory=utcnow, alias="@timestamp")
    id: str
    event: EcsEvent
    veil: AuditDetails
