"""Every indexed field is on the inventory (veil.schemas.inventory), and no value a producer plants
in a field it controls (text, metadata keys and values, id, source, batch header), plainly or
disguised, survives into a redacted document, its audit events or a dead letter's document."""

from __future__ import annotations

import unicodedata

import orjson
import pytest

from veil import Policy, Redactor
from veil.fields import keylike
from veil.intake import decode
from veil.ops.stack.elastic import TEMPLATES, mapped_fields
from veil.schemas import Analysis, AnalyzedRecord, Decision, DecisionSource, RecordKind, SourceRef, dumps
from veil.schemas.inventory import INVENTORY, Origin

PLANTED = ["maria.lopez@example.com", "+44 20 7946 0958", "DE89370400440532013000", "4111 1111 1111 1111",
           "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_1234567890abcdefghijABCDEFGHIJ123456",
           "203.0.113.77", "(415) 555-0132"]


def disguises(value: str) -> list[str]:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in value)
    return [value, value[:6] + "\u00ad" + value[6:], value[:5] + "\u200b" + value[5:], fullwidth,
            "".join(c + "\u0301" if c.isdigit() else c for c in value)]


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Mn", "Me"))


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_indexed_field_is_on_the_inventory_and_the_inventory_names_only_mapped_fields(template):
    mapped, listed = set(mapped_fields(template)), set(INVENTORY[template])
    assert mapped - listed == set(), f"{template}: fields with no stated origin: {sorted(mapped - listed)}"
    assert listed - mapped == set(), f"{template}: listed but not mapped: {sorted(listed - mapped)}"


def test_the_inventory_check_catches_a_new_field():
    extra = set(mapped_fields("redacted")) | {"producer_note"}
    assert extra - set(INVENTORY["redacted"]) == {"producer_note"}


def test_producer_fields_are_identifiers_metadata_or_redacted_text():
    producer = {"redacted": {"id", "event.provider", "batch", "redacted_text", "metadata", "event.id"},
                "audit": {"id", "event.id", "veil.record_id", "veil.batch"}}
    for index, fields in producer.items():
        for name in fields:
            assert INVENTORY[index][name] in (Origin.IDENTIFIER, Origin.METADATA, Origin.REDACTED), (index, name)


@pytest.mark.parametrize("planted", PLANTED)
def test_a_value_planted_in_any_producer_field_reaches_no_index(planted):
    r = Redactor(policy=Policy(), hmac_key=b"k" * 32)
    for i, value in enumerate(disguises(planted)):
        # in text a bare key needs its label (text precision); in every other field it needs none
        text = f"aws_secret_access_key = {value}" if keylike(planted) else f"contact {value} today"
        body = {"id": f"rec-{value}", "text": text, "source": value,
                "metadata": {"owner": value, value: "x", "note": f"see {value}"}}
        rec = decode(RecordKind.DOCUMENT, orjson.dumps(body), SourceRef(topic="veil.docs.in", partition=0, offset=i),
                     max_bytes=100_000, batch=value)
        found = r.scan(rec.text)
        # a model that quotes the value in its rationale
        said = {(f.start, f.end): Decision(finding=f, redact=True, confidence=0.9, source=DecisionSource.MODEL,
                                           rationale=f"{rec.text[f.start:f.end]} is personal") for f in found}
        triage = r.triage(rec.text, found)
        doc, events = r.records.redact_record(AnalyzedRecord(record=rec, analysis=Analysis(), candidates=found),
                                      r.conclude(triage, said))
        written = fold(dumps(doc).decode() + "".join(dumps(e).decode() for e in events))
        assert fold(planted) not in written and fold(planted).replace(" ", "") not in written, (planted, i)
