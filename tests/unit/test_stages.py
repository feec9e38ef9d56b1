"""The stage logic with fakes: a canned decision service, no broker, no model."""

import asyncio
import base64

import pytest

from veil import Policy, Redactor
from veil.detectors.protocol import ONE_AT_A_TIME
from veil.errors import InvalidInput
from veil.schemas import (
    AnalyzedRecord,
    DecideRequest,
    DecideResponse,
    Decision,
    DecisionSource,
    RecordKind,
    SourceRef,
    dumps,
)
from veil.sealing import Sealer, SealError
from veil.streams.stages import AnalyzeStage, DecideStage, Failed, ToAsk, dead_letter

ORIGIN = SourceRef(topic="veil.logs.in", partition=0, offset=7)
SEALER = Sealer(b"a payload key for the tests")


def kept(dl) -> bytes:
    return SEALER.open(base64.b64decode(dl.payload), "deadletter")


class CannedService:
    model = "fake@1"

    def __init__(self, *, redact: bool, confidence: float = 0.95, fail: bool = False, unavailable: str | None = None):
        self.redact, self.confidence, self.fail, self.unavailable = redact, confidence, fail, unavailable
        self.requests: list[DecideRequest] = []

    async def decide(self, request: DecideRequest) -> DecideResponse:
        self.requests.append(request)
        if self.fail:
            raise ConnectionError("pool down")
        if self.unavailable:
            return DecideResponse(record_id=request.record_id, decisions=[], unavailable=self.unavailable)
        return DecideResponse(record_id=request.record_id, decisions=[
            Decision(finding=f, redact=self.redact, confidence=self.confidence, source=DecisionSource.MODEL,
                     rationale="canned", model="fake", model_version="1") for f in request.findings])


def analyzed(text: str) -> AnalyzedRecord:
    stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), analyst=None, max_bytes=10_000)
    rec = stage.decode(RecordKind.LOG, text.encode(), ORIGIN, "b1")
    return asyncio.run(stage.analyze(rec))


TEXT = "login bob@example.com from 10.0.0.5"


def run(service, **kw) -> tuple:
    stage = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), security=service, **kw)
    out = asyncio.run(stage.run(analyzed(TEXT)))
    return out.document, out.audits


def test_when_model_keeps_confidently_then_only_uncertain_span_is_kept():
    service = CannedService(redact=False)
    doc, events = run(service)
    assert [f.entity for f in service.requests[0].findings] == ["IP_ADDRESS"]  # e-mail never asked
    assert doc.redacted_text == "login <EMAIL_1> from 10.0.0.5"
    assert {e.event.action for e in events} == {"redact", "keep"}


def test_when_model_says_redact_then_redacted_with_model_attribution():
    doc, events = run(CannedService(redact=True))
    assert doc.redacted_text == "login <EMAIL_1> from <IP_ADDRESS_1>"
    model_events = [e for e in events if e.veil.decided_by == "model"]
    assert model_events and model_events[0].veil.model == "fake"


def test_when_security_service_fails_then_fail_closed_redacts_everything():
    doc, events = run(CannedService(redact=False, fail=True))
    assert doc.redacted_text == "login <EMAIL_1> from <IP_ADDRESS_1>"
    assert "fail_closed" in doc.decision_modes
    assert any("unavailable" in e.veil.rationale for e in events)


def test_when_providers_are_down_inside_the_pool_then_fail_closed_too():
    doc, events = run(CannedService(redact=False, unavailable="AllProvidersFailed: every security provider failed"))
    assert doc.redacted_text == "login <EMAIL_1> from <IP_ADDRESS_1>"
    assert any("unavailable (AllProvidersFailed)" in e.veil.rationale for e in events)


@pytest.mark.parametrize("service", [CannedService(redact=False, fail=True),
                                     CannedService(redact=False, unavailable="AllProvidersFailed: x")])
def test_hold_mode_raises_instead_of_deciding_so_the_record_is_retried(service):
    from veil.streams.stages import DecisionUnavailable

    with pytest.raises(DecisionUnavailable, match="unavailable"):
        run(service, on_model_failure="hold")


def test_unsure_model_decisions_are_queued_for_review_with_context():
    stage = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"),
                        security=CannedService(redact=True, confidence=0.85), review_below=0.9)
    out = asyncio.run(stage.run(analyzed(TEXT)))
    [item] = out.reviews
    assert item.id.endswith(":27-35") and item.context == "login bob@example.com from [[10.0.0.5]]"
    assert item.decision.confidence == 0.85 and item.origin == ORIGIN
    sure = asyncio.run(DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"),
                                   security=CannedService(redact=True, confidence=0.95), review_below=0.9).run(analyzed(TEXT)))
    assert sure.reviews == []  # confident decisions and policy decisions are not reviewed


def test_when_input_invalid_then_dead_letter_keeps_payload_and_position():
    err = InvalidInput("not valid JSON: x")
    dl = dead_letter(err, ORIGIN, b"{bad", stage="analyze", batch="b1", sealer=SEALER)
    assert (dl.reason, dl.origin.offset, dl.batch, dl.sealed, kept(dl)) == ("not valid JSON: x", 7, "b1", True, b"{bad")


def test_when_a_record_is_dead_lettered_then_its_raw_text_is_sealed_and_its_digest_keyed():
    raw = b'{"text": "mail ana@example.org"}'
    dl = dead_letter(InvalidInput("schema: x"), ORIGIN, raw, stage="analyze", sealer=SEALER)
    blob = dumps(dl)
    assert b"ana@example.org" not in blob and base64.b64encode(raw) not in blob
    assert dl.payload_digest == SEALER.digest(raw) != Sealer(b"another payload key!!").digest(raw)
    with pytest.raises(SealError):  # another key does not open it
        Sealer(b"another payload key!!").open(base64.b64decode(dl.payload), "deadletter")
    with pytest.raises(SealError):  # nor does it open as another topic's message
        SEALER.open(base64.b64decode(dl.payload), "analyzed")


def test_redacted_document_never_carries_original_text():
    doc, events = run(CannedService(redact=True))
    blob = dumps(doc) + b"".join(dumps(e) for e in events)
    assert b"bob@example.com" not in blob and b"10.0.0.5" not in blob


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe"])
def test_when_log_bytes_invalid_then_decode_raises(raw):
    stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), analyst=None, max_bytes=100)
    with pytest.raises(InvalidInput):
        stage.decode(RecordKind.LOG, raw, ORIGIN, None)


def test_when_records_are_scanned_and_settled_then_the_work_runs_off_the_event_loop():
    import threading

    seen: list[str] = []

    class Spy(Redactor):
        def scan_many(self, *a, **k):
            seen.append(threading.current_thread().name)
            return super().scan_many(*a, **k)

        def redact_text(self, *a, **k):
            seen.append(threading.current_thread().name)
            return super().redact_text(*a, **k)

    redactor = Spy(policy=Policy(), hmac_key=b"k")
    analyze = AnalyzeStage(redactor=redactor, analyst=None, max_bytes=10_000)
    decide = DecideStage(redactor=redactor, security=CannedService(redact=True))

    async def main():
        loop_thread = threading.current_thread().name
        rec = analyze.decode(RecordKind.LOG, TEXT.encode(), ORIGIN, "b1")
        items = await analyze.analyze_many([rec])
        [out] = await decide.settle_many(items)
        done = await decide.run(items[0])
        return loop_thread, out, done

    loop_thread, out, done = asyncio.run(main())
    assert isinstance(out, ToAsk)  # the IP address needs the model: the record goes to the security topic
    assert done.encoded is not None and b"bob@example.com" not in done.encoded[0]
    assert len(seen) == 2 and all(name.startswith("redact") and name != loop_thread for name in seen)


def test_when_one_record_of_a_batch_raises_then_only_it_becomes_an_error():
    class Flaky(Redactor):
        def redact_text(self, text, decisions, **kw):
            if "eve@" in text:
                raise RuntimeError("boom")
            return super().redact_text(text, decisions, **kw)

    decide = DecideStage(redactor=Flaky(policy=Policy(), hmac_key=b"k"), security=CannedService(redact=True))
    good, bad = analyzed("mail bob@example.com"), analyzed("mail eve@example.com")
    first, second = asyncio.run(decide.settle_many([good, bad]))
    assert first.document.redacted_text == "mail <EMAIL_1>"
    assert isinstance(second, Failed) and isinstance(second.error, RuntimeError)


def test_audit_events_built_without_validation_equal_validated_ones():
    from veil.schemas import AuditEvent

    out = asyncio.run(DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"),
                                  security=CannedService(redact=True)).run(analyzed(TEXT)))
    assert out.audits
    for event in out.audits:
        assert AuditEvent.model_validate(event.model_dump()) == event
        assert dumps(AuditEvent.model_validate_json(dumps(event))) == dumps(event)


def test_when_a_record_is_larger_than_the_broker_takes_then_its_dead_letter_keeps_a_bounded_prefix():
    big = b'{"text": "' + b"x" * 1_100_000 + b'"}'
    dl = dead_letter(InvalidInput("message of 1100012 bytes exceeds the 1000000-byte limit"), ORIGIN, big,
                     stage="analyze", max_payload=4096, sealer=SEALER)
    assert dl.truncated and dl.payload_bytes == len(big) and dl.payload_digest == SEALER.digest(big)
    assert kept(dl) == big[:4096] and len(dumps(dl)) < 8000
    small = dead_letter(InvalidInput("bad"), ORIGIN, b"{bad", stage="analyze", sealer=SEALER)
    assert not small.truncated and kept(small) == b"{bad"


def test_when_an_error_is_not_veils_own_then_the_reason_does_not_echo_its_message():
    dl = dead_letter(ValueError("could not parse 'ana@example.org'"), ORIGIN, b"x", stage="decide", sealer=SEALER)
    assert dl.reason == "ValueError in the decide stage" and "ana@" not in dumps(dl).decode()


def test_when_a_redacted_output_exceeds_the_message_limit_then_it_is_made_to_fit_coarser():
    text = " ".join(f"user{i}@example.org" for i in range(400))
    stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), analyst=None, max_bytes=100_000)
    item = asyncio.run(stage.analyze(stage.decode(RecordKind.DOCUMENT, dumps_doc(text), ORIGIN, None)))
    roomy = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), security=CannedService(redact=True))
    [fine] = asyncio.run(roomy.settle_many([item]))
    assert fine.document.entity_counts == {"EMAIL": 400} and fine.document.detail == "full"
    full = len(fine.encoded[0])
    # 1. without the per-finding list: every address still redacted, the counts and audit events kept
    summary = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), security=CannedService(redact=True),
                          max_message_bytes=full - 1)
    [out] = asyncio.run(summary.settle_many([item]))
    assert out.document.detail == "summary" and out.document.redactions == [] and len(out.encoded[0]) < full
    assert out.document.redacted_text == fine.document.redacted_text and len(out.audits) == 400
    assert "@example.org" not in out.encoded[0].decode()
    # 2. smaller than the redacted text itself: the text redacted whole
    whole = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), security=CannedService(redact=True),
                        max_message_bytes=4096)
    [out] = asyncio.run(whole.settle_many([item]))
    assert out.document.redacted_text == "<REDACTED_TEXT_1>" and out.document.fallback == "record"
    assert len(out.encoded[0]) <= 4096 and out.document.entity_counts == {"EMAIL": 400}


def test_when_even_the_whole_record_redaction_does_not_fit_then_the_record_fails_with_the_reason():
    from veil.streams.stages import OutputTooLarge

    meta = {f"k{i}": "v" * 100 for i in range(60)}  # 6 KB of metadata, kept whatever the text
    import orjson

    raw = orjson.dumps({"text": "mail ana@example.org", "metadata": meta})
    stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), analyst=None, max_bytes=100_000)
    item = asyncio.run(stage.analyze(stage.decode(RecordKind.DOCUMENT, raw, ORIGIN, None)))
    small = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), security=CannedService(redact=True),
                        max_message_bytes=4096)
    [out] = asyncio.run(small.settle_many([item]))
    assert isinstance(out, Failed) and isinstance(out.error, OutputTooLarge)
    assert "kafka.max_message_bytes" in str(out.error)


def dumps_doc(text: str) -> bytes:
    import orjson

    return orjson.dumps({"text": text})


def test_when_one_record_of_a_batch_breaks_a_detector_then_only_it_fails_analysis():
    class Fragile:
        name, entities, screen, reading = "fragile", frozenset(), (), ONE_AT_A_TIME

        def detect(self, text):
            if "boom" in text:
                raise RuntimeError("detector bug")
            return []

    stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k", detectors=[Fragile()]), analyst=None,
                         max_bytes=10_000)
    records = [stage.decode(RecordKind.LOG, t.encode(), ORIGIN, None) for t in ("fine one", "boom", "fine two")]
    out = asyncio.run(stage.analyze_each(records))
    assert isinstance(out[1], RuntimeError)
    assert [o.record.text for o in (out[0], out[2])] == ["fine one", "fine two"]


def test_when_a_stage_writes_raw_text_to_an_internal_topic_then_it_is_sealed():
    from veil.schemas import ReviewItem, loads

    decide = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), sealer=SEALER,
                         security=CannedService(redact=False, confidence=0.5), review_below=0.9)
    [to_ask] = asyncio.run(decide.settle_many([analyzed(TEXT)]))
    assert isinstance(to_ask, ToAsk) and b"bob@example.com" not in to_ask.payload and b"10.0.0.5" not in to_ask.payload
    assert loads(AnalyzedRecord, SEALER.open(to_ask.payload, "analyzed")).record.text == TEXT
    done = asyncio.run(decide.run(analyzed(TEXT)))
    [review] = done.encoded[2]
    assert b"10.0.0.5" not in review and loads(ReviewItem, SEALER.open(review, "review")).context.endswith("[[10.0.0.5]]")
    with pytest.raises(SealError):  # a plain message written by anyone to veil.analyzed is refused
        SEALER.open(dumps(analyzed(TEXT)), "analyzed")


def test_a_dead_letter_always_fits_the_message_limit_it_is_written_under():
    from veil.settings import KafkaSettings

    big = b"x" * 2_000_000
    for limit in (4096, 16_384, 100_000, 1_000_000):
        kafka = KafkaSettings(max_message_bytes=limit)
        dl = dead_letter(InvalidInput("too big"), ORIGIN, big, stage="analyze", sealer=SEALER,
                         max_payload=kafka.deadletter_payload_limit)
        assert len(dumps(dl)) <= limit, limit
    assert KafkaSettings().deadletter_payload_limit == 65_536  # the setting wins where it fits
