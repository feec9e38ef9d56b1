"""Pydantic models for every message Veil reads or writes. The leaf package: imports nothing else from Veil."""

from veil.schemas.audit import (
    AuditDetails,
    AuditEvent,
    DeadLetterDocument,
    EcsUser,
    OperatorDetails,
    OperatorEvent,
    deadletter_document,
    operator_event,
)
from veil.schemas.ecs import ECS_VERSION, Ecs, EcsEvent, EcsHost, EcsService, process_identity
from veil.schemas.codec import dumps, loads
from veil.schemas.findings import AppliedRedaction, Category, Decision, DecisionSource, Finding, trusted
from veil.schemas.llm import ChatMessage, GenerationRequest, GenerationResponse, Sampling, TokenStep
from veil.schemas.records import (
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
    VariablePart,
)

__all__ = [
    "ECS_VERSION", "Ecs", "process_identity", "Analysis", "AnalyzedRecord", "DeadLetterDocument", "EcsHost", "EcsService", "deadletter_document", "AppliedRedaction", "AuditDetails", "AuditEvent", "Category",
    "ChatMessage", "ControlCommand", "DeadLetter", "DecideRequest", "DecideResponse", "Decision", "DecisionSource",
    "EcsEvent", "EcsUser", "Feedback", "Finding", "GenerationRequest", "GenerationResponse", "InboundDocument",
    "InboundLogLine", "InboundRecord", "OperatorDetails", "OperatorEvent", "RecordKind", "RedactedDocument", "ReviewItem",
    "Sampling", "SourceRef", "TokenStep", "VariablePart",
    "dumps", "loads", "operator_event", "trusted",
]
