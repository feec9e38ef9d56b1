"""Every field Veil writes to Elasticsearch, and where its value comes from.

Nothing reaches an index that did not go through redaction or that is not Veil's own. This list is
the one place that says so, field by field; ``tests/unit/test_field_inventory.py`` fails when an
index template maps a field that is not on it (or the list names one no template maps), and plants
values in every field a producer controls to show none survives.
"""

from __future__ import annotations

from enum import StrEnum


class Origin(StrEnum):
    VEIL = "veil"  # computed by Veil, from its settings, its models' names or the Kafka position
    REDACTED = "redacted"  # the record's text after redaction and verification
    IDENTIFIER = "identifier"  # a producer's id, source or batch tag: kept only in the strict shape, else a keyed digest
    METADATA = "metadata"  # producer metadata: keys and values redacted by the detectors (key-shaped runs too)
    MODEL = "model"  # written by a model from unredacted context: scrubbed of the value and redacted by the detectors
    OPERATOR = "operator"  # given by an operator on the command line (a user name, a label, a range)
    #: a dead letter's reason: Veil's own words (never quoting the input), or for a document Elasticsearch
    #: refused, Elasticsearch's words about the redacted document (its value previews cut out)
    ELASTICSEARCH = "elasticsearch"


V, R, ID, M, L, OP, E = (Origin.VEIL, Origin.REDACTED, Origin.IDENTIFIER, Origin.METADATA, Origin.MODEL,
                       Origin.OPERATOR, Origin.ELASTICSEARCH)
_ECS_EVENT = {"@timestamp": V, "ecs.version": V, "event.dataset": V, "event.id": ID, "event.kind": V}

INVENTORY: dict[str, dict[str, Origin]] = {
    "redacted": _ECS_EVENT | {
        "id": ID, "event.provider": ID, "batch": ID, "kind": V, "origin.topic": V, "origin.partition": V, "origin.offset": V,
        "processed_at": V, "redacted_text": R, "text_kind": V, "language": V, "decision_modes": V, "models": V,
        "entity_counts": V, "template_id": V, "fallback": V, "detail": V, "metadata": M,
        "redactions.start": V, "redactions.end": V, "redactions.entity": V, "redactions.category": V,
        "redactions.operator": V, "redactions.replacement": V, "redactions.value_hash": V,
    },
    "audit": _ECS_EVENT | {
        "id": ID, "event.action": V, "event.category": V, "event.type": V, "event.outcome": V, "event.reason": V,
        "service.name": V, "service.type": V, "service.version": V, "service.node.name": V, "host.name": V,
        "user.name": OP,
        "veil.record_id": ID, "veil.batch": ID, "veil.source_topic": V, "veil.source_partition": V,
        "veil.source_offset": V, "veil.entity": V, "veil.category": V, "veil.start": V, "veil.end": V,
        "veil.detector": V, "veil.detector_score": V, "veil.decided_by": V, "veil.confidence": V,
        "veil.rationale": L, "veil.operator": V, "veil.model": V, "veil.model_version": V, "veil.cached": V,
        "veil.value_hash": V, "veil.fallback": V,
        "veil.operation.name": V, "veil.operation.target": V, "veil.operation.count": V, "veil.operation.range": OP,
        "veil.operation.record_id": ID, "veil.operation.label": OP, "veil.operation.corrected": OP,
        "veil.operation.model": V, "veil.operation.worker": V, "veil.operation.error": V,
    },
    "deadletter": _ECS_EVENT | {
        "id": V, "event.id": V, "event.action": V, "event.category": V, "event.type": V, "event.outcome": V,
        "event.reason": E, "error.type": E, "error.message": E, "veil.stage": V, "veil.batch": ID, "veil.origin.topic": V,
        "veil.origin.partition": V, "veil.origin.offset": V, "veil.payload_bytes": V, "veil.payload_digest": V,
        "veil.truncated": V,
    },
}
