import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from veil import Policy, Redactor
from veil.detectors.protocol import ONE_AT_A_TIME
from veil.operators import OPERATORS, derive_siv_key
from veil.schemas import (
    Analysis,
    AnalyzedRecord,
    Category,
    Decision,
    DecisionSource,
    Finding,
    InboundRecord,
    RecordKind,
    SourceRef,
    dumps,
)

KEY = b"test-key"


def redactor(**policy) -> Redactor:
    return Redactor(policy=Policy(**policy), hmac_key=KEY, encryption_key=derive_siv_key("test-secret"))


def auto(text: str, r: Redactor | None = None):
    """Redact as the pipeline does when no model answers: policy decisions plus fail-closed."""
    r = r or redactor()
    tri = r.triage(text, r.scan(text))
    return r.redact_text(text, tri.decided + [r.settle(f, None) for f in tri.ask_model])


def test_when_same_value_twice_then_same_placeholder_number():
    out = auto("a@example.com wrote to b@example.com and cc a@example.com")
    assert out.text == "<EMAIL_1> wrote to <EMAIL_2> and cc <EMAIL_1>"


def test_when_redacted_then_offsets_refer_to_original_text():
    text = "mail x@example.com card 4111111111111111"
    out = auto(text)
    assert [text[a.start:a.end] for a in out.applied] == ["x@example.com", "4111111111111111"]


def test_when_hmac_operator_then_pseudonym_is_stable_across_documents():
    r = redactor(default_operator="hmac")
    a, b = auto("from x@example.com", r), auto("to x@example.com today", r)
    assert a.applied[0].replacement == b.applied[0].replacement
    assert "x@example.com" not in a.text


def test_when_mask_operator_then_last_four_kept():
    out = auto("card 4111111111111111", redactor(default_operator="mask"))
    assert out.text == "card ************1111"


def test_when_score_below_threshold_then_model_is_asked():
    r = redactor()
    t = r.triage("host 10.0.0.5", r.scan("host 10.0.0.5"))
    assert [f.entity for f in t.ask_model] == ["IP_ADDRESS"] and t.decided == []


def test_when_value_allow_listed_then_kept():
    r = redactor(allow_values=frozenset({"ops@example.com"}))
    text = "mail ops@example.com"
    assert auto(text, r).text == text


def test_when_model_gives_no_decision_then_fail_closed_redacts():
    r = redactor()
    f = r.scan("host 10.0.0.5")[0]
    d = r.settle(f, None)
    assert d.redact and d.source is DecisionSource.FAIL_CLOSED


def test_when_model_keeps_without_confidence_then_overruled():
    r = redactor(keep_min_confidence=0.8)
    f = r.scan("host 10.0.0.5")[0]
    unsure = Decision(finding=f, redact=False, confidence=0.5, source=DecisionSource.MODEL, rationale="maybe")
    sure = unsure.model_copy(update={"confidence": 0.95})
    assert r.settle(f, unsure).redact is True
    assert r.settle(f, sure).redact is False


def test_when_an_operator_leaves_the_value_then_a_placeholder_replaces_it():
    from veil import operators

    operators.OPERATORS["broken"] = lambda value, finding, ctx: f"[{value}]"
    try:
        r = redactor(default_operator="broken")
        text = "key AKIAIOSFODNN7EXAMPLE"
        out = r.redact_text(text, r.triage(text, r.scan(text)).decided)
    finally:
        del operators.OPERATORS["broken"]
    assert out.text == "key <AWS_ACCESS_KEY_1>"
    assert [a.operator for a in out.applied] == ["placeholder"]


def test_when_drop_shifts_context_then_next_word_is_not_mistaken_for_a_leak():
    assert auto("password=hunter22x AAA", redactor(default_operator="drop")).text == "password= AAA"


def test_when_a_strong_value_is_kept_on_purpose_then_verification_respects_it():
    r = redactor()
    text = "key AKIAIOSFODNN7EXAMPLE"
    keep = Decision(finding=r.scan(text)[0], redact=False, confidence=1.0, source=DecisionSource.POLICY)
    assert r.redact_text(text, [keep]).text == text


def _analyzed(text: str, candidates) -> AnalyzedRecord:
    rec = InboundRecord(id="t:1", kind=RecordKind.LOG, text=text, source="s",
                        origin=SourceRef(topic="t", partition=0, offset=1))
    return AnalyzedRecord(record=rec, analysis=Analysis(), candidates=candidates)


def test_when_record_redacted_then_audit_per_decision_without_raw_values():
    r = redactor()
    text = "user bob@example.com password=hunter22 from 10.0.0.5"
    found = r.scan(text)
    tri = r.triage(text, found)
    decisions = tri.decided + [r.settle(f, None) for f in tri.ask_model]
    doc, events = r.records.redact_record(_analyzed(text, found), decisions)
    assert len(events) == len(decisions) == 3
    blob = dumps(doc) + b"".join(dumps(e) for e in events)
    for secret in (b"bob@example.com", b"hunter22", b"10.0.0.5"):
        assert secret not in blob
    assert doc.entity_counts == {"EMAIL": 1, "PASSWORD": 1, "IP_ADDRESS": 1}
    assert {e.veil.decided_by for e in events} == {"policy", "fail_closed"}


values = st.sampled_from([
    "bob@example.com", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE", "password=hunter22x",
    "ghp_" + "Z9y8" * 9, "219-09-9999", "DE89 3704 0044 0532 0130 00", "sk_live_51HqLyjWDarjtT1zdp7dc",
])
filler = st.text(alphabet=string.ascii_letters + " .,;\n\u00e9\u4e2d\U0001F600", max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(filler, values), min_size=1, max_size=5), filler,
       st.sampled_from(sorted(OPERATORS)))
def test_property_offsets_map_back_and_no_value_survives(parts, tail, operator):
    text = "".join(f"{pre} {v} " for pre, v in parts) + tail
    r = redactor(default_operator=operator)
    found = r.scan(text)
    for f in found:
        assert 0 <= f.start < f.end <= len(text)
    out = auto(text, r)
    for a in out.applied:
        assert text[a.start:a.end]  # offsets slice the original text
    for _, v in parts:
        secret = v.split("=", 1)[-1]
        assert secret not in out.text


def test_findings_are_frozen_models():
    f = Finding(start=0, end=1, entity="X", category=Category.PII, detector="d", score=0.5)
    assert f.model_copy(update={"score": 0.6}).score == 0.6


def test_when_a_redacted_word_appears_inside_our_own_placeholder_then_output_is_still_safe():
    from veil.schemas import Category

    r = redactor()
    text = "SSN 219-09-9999 on file"
    ssn = r.scan(text)[0]
    org = Finding(start=0, end=3, entity="ORGANIZATION", category=Category.PII, detector="ner", score=0.45)
    decisions = [Decision(finding=f, redact=True, confidence=1.0, source=DecisionSource.POLICY) for f in (org, ssn)]
    out = r.redact_text(text, decisions)  # "<US_SSN_1>" contains "SSN" between underscores: ours, not a leak
    assert out.text == "<ORGANIZATION_1> <US_SSN_1> on file"


def test_when_a_redacted_value_recurs_undetected_then_every_occurrence_is_redacted_and_audited():
    from veil.schemas import Category

    r = redactor()
    text = "Laura Jensen called; please call Laura Jensen back"
    name = Finding(start=0, end=12, entity="PERSON", category=Category.PII, detector="ner", score=0.9)
    decision = Decision(finding=name, redact=True, confidence=0.9, source=DecisionSource.POLICY)
    doc, events = r.records.redact_record(_analyzed(text, [name]), [decision])
    assert doc.redacted_text == "<PERSON_1> called; please call <PERSON_1> back"
    assert sorted((e.veil.start, e.veil.end) for e in events) == [(0, 12), (33, 45)]
    assert {(a.start, a.end) for a in doc.redactions} == {(0, 12), (33, 45)}


def test_batch_findings_list_every_replacement():
    from veil.batch import BatchEngine

    class OnceNer:
        name, entities, screen, reading = "ner", frozenset({"PERSON"}), (), ONE_AT_A_TIME

        def detect(self, text):
            from veil.schemas import Category

            return [Finding(start=0, end=12, entity="PERSON", category=Category.PII, detector="ner", score=0.9)]

    r = Redactor(policy=Policy(), hmac_key=KEY, detectors=[OnceNer()])
    out = BatchEngine(r).run("1", "Laura Jensen called; please call Laura Jensen back")
    assert [(f.start, f.end) for f in out.findings] == [(0, 12), (33, 45)]


def _doc_record(text: str, *, rid: str | None, source: str = "crm", metadata: dict | None = None) -> AnalyzedRecord:
    import orjson

    from veil.intake import decode

    body = {"text": text, "source": source, "metadata": metadata or {}} | ({"id": rid} if rid else {})
    rec = decode(RecordKind.DOCUMENT, orjson.dumps(body), SourceRef(topic="veil.docs.in", partition=0, offset=3),
                 max_bytes=100_000)
    return AnalyzedRecord(record=rec, analysis=Analysis(), candidates=[])


def test_when_fields_beside_the_text_carry_values_then_nothing_of_them_reaches_the_document():
    r = redactor()
    rec = _doc_record("nothing here", rid="card 4111 1111 1111 1111", source="ana@example.org",
                      metadata={"owner": "bob@example.com", "carol@example.org": "x", "team": "billing"})
    doc, events = r.records.redact_record(rec, [])
    blob = dumps(doc) + b"".join(dumps(e) for e in events)
    for value in (b"4111 1111 1111 1111", b"ana@example.org", b"bob@example.com", b"carol@example.org"):
        assert value not in blob
    assert doc.metadata["team"] == "billing" and doc.metadata["owner"] == "<EMAIL_1>"
    assert doc.id.startswith("veil.docs.in:id-") and doc.source.startswith("source-")
    again, _ = r.records.redact_record(rec, [])
    assert again.id == doc.id  # stable: a redelivered record overwrites its copy


def test_when_fields_carry_nothing_then_they_are_kept_as_given():
    r = redactor()
    doc, _ = r.records.redact_record(_doc_record("mail a@b.co", rid="ticket-77", metadata={"lang": "en"}), [])
    assert (doc.source, doc.metadata) == ("crm", {"lang": "en"})
    assert re.fullmatch(r"veil\.docs\.in:ticket-77~[0-9a-f]{16}", doc.id)
    # the digest of a producer's id is the one earlier releases wrote (text, source, metadata): ids stay stable
    import hmac

    import orjson

    content = orjson.dumps(["mail a@b.co", "crm", {"lang": "en"}], option=orjson.OPT_SORT_KEYS)
    assert doc.id.endswith("~" + hmac.digest(r.hmac_key, content, "sha256")[:8].hex())
    ours, _ = r.records.redact_record(_doc_record("x", rid=None), [])
    assert re.fullmatch(r"veil\.docs\.in:0:3~[0-9a-f]{16}", ours.id)


def _log_record(text: str, offset: int, at: str) -> AnalyzedRecord:
    from datetime import datetime

    from veil.intake import decode

    rec = decode(RecordKind.LOG, text.encode(), SourceRef(topic="veil.logs.in", partition=1, offset=offset),
                 max_bytes=100_000, received=datetime.fromisoformat(at))
    return AnalyzedRecord(record=rec, analysis=Analysis(), candidates=[])


def test_a_line_at_an_offset_used_before_a_topic_was_recreated_gets_a_document_of_its_own():
    """Offsets start at 0 again when a topic is re-created (or the embedded broker loses its memory):
    the id carries a keyed digest of the line's time and content, so the same offset with another
    line, or the same line produced at another time, is another document; a redelivery is not."""
    r = redactor()
    before, _ = r.records.redact_record(_log_record("GET /healthz 200", 0, "2026-12-01T10:00:00.120+00:00"), [])
    redelivered, _ = r.records.redact_record(_log_record("GET /healthz 200", 0, "2026-12-01T10:00:00.120+00:00"), [])
    other_line, _ = r.records.redact_record(_log_record("GET /login 302", 0, "2026-12-01T10:00:00.120+00:00"), [])
    same_line_later, _ = r.records.redact_record(_log_record("GET /healthz 200", 0, "2026-12-02T08:00:00.005+00:00"), [])
    assert before.id.startswith("veil.logs.in:1:0~") and redelivered.id == before.id
    assert len({before.id, other_line.id, same_line_later.id}) == 3


def test_when_a_different_record_reuses_an_id_then_it_gets_a_document_of_its_own():
    r = redactor()
    first, first_events = r.records.redact_record(_doc_record("mail a@b.co", rid="ticket-77"), [])
    again, _ = r.records.redact_record(_doc_record("mail a@b.co", rid="ticket-77"), [])
    assert again.id == first.id  # a redelivery maps to its copy
    for changed in (_doc_record("mail c@d.co", rid="ticket-77"), _doc_record("mail a@b.co", rid="ticket-77", source="erp"),
                    _doc_record("mail a@b.co", rid="ticket-77", metadata={"lang": "de"})):
        other, events = r.records.redact_record(changed, [])
        assert other.id != first.id and other.id.startswith("veil.docs.in:ticket-77~")
        assert not {e.id for e in events} & {e.id for e in first_events}
    keyed = Redactor(policy=Policy(), hmac_key=b"another key")
    assert keyed.records.redact_record(_doc_record("mail a@b.co", rid="ticket-77"), [])[0].id != first.id  # keyed: not guessable


def test_when_an_id_would_be_over_elasticsearchs_512_bytes_then_a_keyed_digest_replaces_it():
    from veil.publishing import MAX_ID_BYTES

    r = redactor()
    long_id = "ü" * 256  # 256 characters (the input limit), 512 bytes of UTF-8: with the topic, too long
    found = r.scan("mail a@b.co")
    record = _doc_record("mail a@b.co", rid=long_id)
    doc, events = r.records.redact_record(record, r.conclude(r.triage(record.record.text, found), {}))
    assert len(doc.id.encode()) <= MAX_ID_BYTES and "ü" not in doc.id
    assert events and all(len(e.id.encode()) <= MAX_ID_BYTES for e in events)
    again, _ = r.records.redact_record(_doc_record("mail a@b.co", rid=long_id), [])
    other, _ = r.records.redact_record(_doc_record("mail a@b.co", rid="ü" * 255 + "x"), [])
    assert again.id == doc.id and other.id != doc.id  # a redelivery maps to its copy; another id does not
    short, _ = r.records.redact_record(_doc_record("mail a@b.co", rid="ticket-1"), [])
    assert short.id.startswith("veil.docs.in:ticket-1~")  # ids that fit are kept readable


def test_an_identifier_is_kept_only_in_the_strict_shape_and_otherwise_becomes_a_keyed_digest():
    r = redactor()
    kept = ["ticket-77", "crm", "2024-05-01T10:00:00Z", "550e8400-e29b-41d4-a716-446655440000", "order_123.v2"]
    digested = ["ana@example.org", "+44 20 7946 0958", "4111111111111111", "rec-4111 1111 1111 1111",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "id wJalrXUtnFEMI", "Kwame Mensah", "a\u200bb",
                "5f2b9c1e8d7a6b4c3e2f1a0b9c8d7e6f5a4b3c2d", "x" * 200, "AKIAIOSFODNN7EXAMPLE"]
    for value in kept:
        assert r.records.keepable(value), value
        assert r.records.public_batch(value) == value and r.records.public_source(value) == value
    for value in digested:
        assert not r.records.keepable(value), value
        assert r.records.public_batch(value).startswith("batch-") and r.records.public_source(value).startswith("source-")
        assert r.records.public_batch(value) == r.records.public_batch(value) and value not in r.records.public_batch(value)
    assert r.records.public_batch(None) is None and r.records.public_batch(r.records.public_batch("a b")) == r.records.public_batch("a b")


def test_the_batch_tag_reaches_the_document_and_its_audit_events_only_in_public_form():
    import orjson

    from veil.intake import decode

    r = redactor()
    rec = decode(RecordKind.DOCUMENT, orjson.dumps({"text": "mail a@b.co"}), SourceRef(topic="veil.docs.in", partition=0,
                 offset=3), max_bytes=100_000, batch="ana.lopez@example.org")
    found = r.scan(rec.text)
    doc, events = r.records.redact_record(AnalyzedRecord(record=rec, analysis=Analysis(), candidates=found),
                                  r.conclude(r.triage(rec.text, found), {}))
    assert doc.batch.startswith("batch-") and events and all(e.veil.batch == doc.batch for e in events)


def test_metadata_keys_and_values_lose_key_shaped_runs_without_a_label():
    r = redactor()
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    out = r.records.redact_fields({"owner": f"svc {secret}", secret: "1", "trace": "4bf92f3577b34da6a3ce929d0e0e4736",
                           "lang": "en-US", "hidden": secret[:6] + "\u200b" + secret[6:]})
    assert secret not in str(out) and secret[:20] not in str(out)
    assert out["trace"] == "4bf92f3577b34da6a3ce929d0e0e4736" and out["lang"] == "en-US"  # hex ids and words stay
