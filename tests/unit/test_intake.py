import pytest

from veil.errors import InvalidInput
from veil.intake import decode
from veil.schemas import RecordKind, SourceRef

ORIGIN = SourceRef(topic="veil.docs.in", partition=1, offset=42)


def doc(raw: bytes, **kw):
    return decode(RecordKind.DOCUMENT, raw, ORIGIN, max_bytes=kw.pop("max_bytes", 10_000), **kw)


def test_when_document_has_id_then_record_id_is_topic_and_id():
    rec = doc(b'{"id": "a-1", "text": "hello", "source": "crm"}', batch="b1")
    assert (rec.id, rec.text, rec.source, rec.batch) == ("veil.docs.in:a-1", "hello", "crm", "b1")


def test_when_document_has_no_id_then_record_id_is_its_kafka_position():
    assert doc(b'{"text": "hello"}').id == "veil.docs.in:1:42"


def test_when_log_line_is_raw_text_then_it_is_the_record_text():
    rec = decode(RecordKind.LOG, b"2026 INFO {not json} x\n", ORIGIN, max_bytes=100)
    assert rec.text == "2026 INFO {not json} x" and rec.kind is RecordKind.LOG


def test_when_log_line_is_json_then_line_field_is_used():
    rec = decode(RecordKind.LOG, b'{"line": "GET /", "source": "nginx"}', ORIGIN, max_bytes=100)
    assert (rec.text, rec.source) == ("GET /", "nginx")


def test_structured_json_log_line_without_the_envelope_is_the_record_text():
    raw = b'{"ts":"2026-11-20T10:01:02Z","level":"info","msg":"queue drained","items":42}'
    rec = decode(RecordKind.LOG, raw, ORIGIN, max_bytes=1000)
    assert rec.text == raw.decode() and rec.source == "unknown"


def test_envelope_with_a_bad_line_field_is_rejected():
    with pytest.raises(InvalidInput, match="schema: line"):
        decode(RecordKind.LOG, b'{"line": 5, "source": "x"}', ORIGIN, max_bytes=100)


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty message"),
    (b'{"id": "x", "text": ', "not valid JSON"),
    (b'{"id": "x"}', "schema: text: Field required"),
    (b'{"text": 42}', "schema: text: Input should be a valid string"),
    (b'{"text": "a", "surprise": 1}', "schema: <key>: Extra inputs are not permitted"),
    (b'\xff\xfe{"text": "a"}', "not valid UTF-8 at byte 0"),
    (b'{"text": "a\\u0000b"}', None),
])
def test_when_document_invalid_then_clear_reason(raw, reason):
    if reason is None:  # NUL inside a JSON escape is decoded by JSON, not rejected at the byte level
        assert doc(raw).text == "a\x00b"
        return
    with pytest.raises(InvalidInput) as err:
        doc(raw)
    assert err.value.reason.startswith(reason)


def test_when_message_too_large_then_rejected_with_size():
    with pytest.raises(InvalidInput, match="exceeds the 10-byte limit"):
        doc(b'{"text": "0123456789"}', max_bytes=10)


@pytest.mark.parametrize("raw", [b'{"text": "x", "ana@example.org": 1}', b'{"text": "x", "metadata": {"bob@example.org": 5}}',
                                 b'{"line": "x", "eve@example.org": true}'])
def test_when_a_key_is_not_ours_then_the_reason_does_not_echo_it(raw):
    kind = RecordKind.LOG if b'"line"' in raw else RecordKind.DOCUMENT
    with pytest.raises(InvalidInput) as err:
        decode(kind, raw, ORIGIN, max_bytes=10_000)
    assert "@example.org" not in err.value.reason and "<key>" in err.value.reason
