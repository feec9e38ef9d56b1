"""What Veil writes to Elasticsearch fits the strict index mappings (a field the mapping lacks is a
rejected bulk item in production, so every field must be declared)."""

from __future__ import annotations

import orjson
import pytest

from tests.unit.test_stages import CannedService, run
from veil.ops.stack.elastic import template_body
from veil.schemas import dumps, operator_event


def mapping(name: str) -> dict:
    return template_body(name, "veil")["template"]["mappings"]


def unmapped(doc: dict, props: dict, prefix: str = "") -> list[str]:
    """Fields of ``doc`` a strict mapping would reject."""
    missing = []
    for key, value in doc.items():
        spec = props.get(key)
        if spec is None:
            missing.append(prefix + key)
        elif spec.get("dynamic") is True:
            continue
        elif "properties" in spec:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    missing += unmapped(item, spec["properties"], f"{prefix}{key}.")
    return missing


def test_unmapped_finds_an_undeclared_field():
    props = mapping("audit")["properties"]
    assert unmapped({"id": "x", "veil": {"entity": "E", "mood": "calm"}, "extra": 1}, props) == ["veil.mood", "extra"]


def test_redacted_documents_and_decision_events_fit_their_mappings():
    doc, audits = run(CannedService(redact=True))
    assert audits and doc.redactions
    assert unmapped(orjson.loads(dumps(doc)), mapping("redacted")["properties"]) == []
    for event in audits:
        assert unmapped(orjson.loads(dumps(event)), mapping("audit")["properties"]) == []


@pytest.mark.parametrize("details", [
    {"target": "veil.feedback", "record_id": "r1", "label": "keep", "corrected": True, "model": "m@1"},
    {"target": "veil.logs.in", "count": 12, "range": "earliest..latest"},
    {"target": "security", "model": "m@2", "worker": "host:1", "error": "ProviderError: down"},
])
def test_operator_events_fit_the_audit_mapping(details):
    event = operator_event("model-swap", "ana", configuration=True, outcome="failure", **details)
    event.veil.batch = "b1"
    raw = orjson.loads(dumps(event))
    assert raw["user"] == {"name": "ana"} and raw["event"]["category"] == ["configuration"]
    assert unmapped(raw, mapping("audit")["properties"]) == []
