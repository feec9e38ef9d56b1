"""What Veil indexes follows ECS 8.17 where a field has an ECS name.

Read against ECS's own field list (``../shared/reference/elastic-ecs-8.17/ecs_flat.yml``): every
field of Veil's index templates that ECS defines has ECS's type, no Veil field takes the name of an
ECS object (``source`` as a keyword breaks a data view over ``veil-*`` beside ECS data), the
``event.*`` categorisation values Veil can write are ones ECS allows, and the documents Veil writes
carry the ECS fields it maps (``ecs.version``, ``event.id``, ``service.*``, ``host.*``).
"""

from __future__ import annotations

import typing
from functools import cache
from pathlib import Path

import pytest
import yaml

from veil.ops.stack.elastic import TEMPLATES
from veil.ops.stack.elastic import mapped_fields as mapped
from veil.schemas import ECS_VERSION, EcsEvent, RecordKind, SourceRef, deadletter_document, operator_event
from veil.schemas.records import DeadLetter

ECS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "elastic-ecs-8.17" / "ecs_flat.yml"
pytestmark = pytest.mark.skipif(not ECS.is_file(), reason="../shared/reference is not beside the checkout")


@cache
def ecs_fields() -> dict[str, dict]:
    return yaml.safe_load(ECS.read_text())


def flat(doc: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in doc.items():
        if isinstance(value, dict) and value:
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


def ecs_objects() -> set[str]:
    """Names ECS uses for objects (a field set or a nested object): never a leaf of Veil's."""
    parents = set()
    for name in ecs_fields():
        parts = name.split(".")
        parents |= {".".join(parts[:i]) for i in range(1, len(parts))}
    return parents


def allowed(field: str) -> set[str]:
    return {v["name"] for v in ecs_fields()[field].get("allowed_values", [])}


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_mapped_field_with_an_ecs_name_has_the_ecs_type(template):
    fields, checked = ecs_fields(), 0
    for name, kind in mapped(template).items():
        if name in fields:
            assert kind == fields[name]["type"], f"{template}: {name} is {kind}, ECS says {fields[name]['type']}"
            checked += 1
        assert name not in ecs_objects(), f"{template}: {name} is a leaf where ECS has an object"
    assert checked >= 4 and "ecs.version" in mapped(template)


def test_the_check_catches_a_type_or_name_ecs_disagrees_with():
    fields = ecs_fields()
    assert fields["event.id"]["type"] == "keyword" and fields["error.message"]["type"] == "match_only_text"
    assert "source" in ecs_objects() and "host" in ecs_objects()  # a keyword `source` fails the test above


def test_event_categorisation_values_are_ones_ecs_allows():
    for field in ("kind", "category", "type", "outcome"):
        annotation = EcsEvent.model_fields[field].annotation
        inner = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation
        values = set(typing.get_args(inner))
        assert values and values <= allowed(f"event.{field}"), (field, values - allowed(f"event.{field}"))


def _documents(redactor_factory) -> dict[str, dict]:
    import orjson

    from veil.schemas import Analysis, AnalyzedRecord, InboundRecord, dumps

    redactor = redactor_factory()
    rec = InboundRecord(id="r-1", kind=RecordKind.DOCUMENT, text="write to ana@example.org today", source="crm",
                        origin=SourceRef(topic="veil.docs.in", partition=0, offset=7), metadata={"team": "x"})
    found = redactor.scan(rec.text)
    analyzed = AnalyzedRecord(record=rec, analysis=Analysis(), candidates=found)
    decisions = redactor.conclude(redactor.triage(rec.text, found), {})
    doc, audits = redactor.records.redact_record(analyzed, decisions)
    dl = deadletter_document(DeadLetter(reason="bad", error_type="InvalidInput", origin=rec.origin, payload=""))
    op = operator_event("replay", "ops")
    return {"redacted": orjson.loads(dumps(doc)), "audit": orjson.loads(dumps(audits[0])),
            "operator": orjson.loads(dumps(op)), "deadletter": orjson.loads(dumps(dl))}


def test_written_documents_carry_the_ecs_fields_and_fit_their_mappings():
    from veil.policy import Policy
    from veil.redactor import Redactor
    from veil.schemas import process_identity

    service, host = process_identity()
    docs = _documents(lambda: Redactor(policy=Policy(), hmac_key=b"k" * 32, service=service, host=host))
    fields = ecs_fields()
    index_of = {"redacted": "redacted", "audit": "audit", "operator": "audit", "deadletter": "deadletter"}
    for kind, doc in docs.items():
        values = flat(doc)
        mapping = mapped(index_of[kind])
        assert values["ecs.version"] == ECS_VERSION, kind
        for name in values:
            if name in fields or name.split(".")[0] in ("event", "service", "host", "error"):
                assert name in mapping, f"{kind}: {name} is written but not mapped"
        for field in ("event.kind", "event.outcome"):
            if field in values:
                assert values[field] in allowed(field), (kind, field, values[field])
        for field in ("event.category", "event.type"):
            for v in values.get(field, []):
                assert v in allowed(field), (kind, field, v)
    audit = flat(docs["audit"])
    assert audit["event.id"] == docs["audit"]["id"] and audit["host.name"] and audit["service.node.name"]
    assert flat(docs["redacted"])["event.provider"] == "crm" and "source" not in docs["redacted"]
    assert flat(docs["deadletter"])["event.kind"] == "pipeline_error" and "payload" not in str(docs["deadletter"]["veil"])
