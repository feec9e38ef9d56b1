"""Pydantic models for every message Veil reads or writes. The leaf package: imports nothing else from Veil."""

from schemas.audit import AuditDetails, AuditEvent, EcsEvent
from schemas.codec import dumps, loads
from schemas.findings import AppliedRedaction, Category, Decision, DecisionSource, Finding, trusted
from schemas.llm import ChatMessage, GenerationRequest, GenerationResponse, Sampling
from schemas.records import (
    Analysis,
    AnalyzedRecord,
    ControlCommand,
    DeadLetter,
    DecideRequest,
    DecideResponse,
    Feedback,
    InboundDocument,
    InboundLogLine,
    InboundRecord,
    RecordKind,
    RedactedDocument,
    ReviewItem,
    SourceRef,
)

__all__ = [
    "Analysis", "AnalyzedRecord", "AppliedRedaction", "AuditDetails", "AuditEvent", "Category",
    "ChatMessage", "ControlCommand", "DeadLetter", "DecideRequest", "DecideResponse", "Decision", "DecisionSource",
    "EcsEvent", "Feedback", "Finding", "GenerationRequest", "GenerationResponse", "InboundDocument",
    "InboundLogLine", "InboundRecord", "RecordKind", "RedactedDocument", "ReviewItem", "Sampling", "SourceRef",
    "dumps", "loads", "trusted",
]
