"""A budget per record, enforced: past it a record is redacted on the detectors' evidence (fail
closed) and audited so, never waited on; a stage stuck on one record shows on /health by origin."""

from __future__ import annotations

import asyncio
import time

import pytest

from veil import Policy, Redactor
from veil.schemas import Analysis, AnalystResult, DecideRequest, DecideResponse, Decision, DecisionSource, RecordKind, SourceRef
from veil.streams.health import Health
from veil.streams.stages import AnalyzeStage, DecideStage

ORIGIN = SourceRef(topic="veil.logs.in", partition=1, offset=42)
#: 40 internal addresses the judge is asked about (detector score below auto_redact_score)
LINE = "peers " + " ".join(f"10.1.{i // 200}.{i % 200}" for i in range(40))


class Judge:
    """A security service that keeps everything, slowly if told to."""

    model = "fake@1"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay, self.requests = delay, []

    async def decide(self, request: DecideRequest) -> DecideResponse:
        self.requests.append(request)
        await asyncio.sleep(self.delay)
        return DecideResponse(record_id=request.record_id, decisions=[
            Decision(finding=f, redact=False, confidence=0.99, source=DecisionSource.MODEL, rationale="internal lab",
                     model="fake", model_version="1") for f in request.findings])


def analyzed(text: str = LINE):
    stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), analyst=None, max_bytes=100_000)
    return asyncio.run(stage.analyze(stage.decode(RecordKind.LOG, text.encode(), ORIGIN, "b1")))


def test_questions_past_the_budget_are_not_asked_and_their_candidates_are_redacted_and_audited_so():
    judge = Judge()
    stage = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), security=judge, judge_budget_questions=5)
    out = asyncio.run(stage.run(analyzed()))
    assert len(judge.requests) == 1 and len(judge.requests[0].findings) == 5
    kept = [a for a in out.audits if a.event.action == "keep"]
    over = [a for a in out.audits if "budget of 5 model questions" in a.veil.rationale]
    assert len(kept) == 5 and len(over) == 35 and all(a.event.action == "redact" for a in over)
    assert out.document.redacted_text.count("<IP_ADDRESS_") == 35 and stage.over_budget == 1
    assert all(a.veil.decided_by == "fail_closed" for a in over)


@pytest.mark.parametrize("mode", ["redact", "hold"])
def test_a_judge_slower_than_the_budget_is_not_waited_on_even_in_hold_mode(mode):
    stage = DecideStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), security=Judge(delay=30.0),
                        judge_budget_s=0.2, on_model_failure=mode)
    started = time.monotonic()
    out = asyncio.run(stage.run(analyzed()))
    assert time.monotonic() - started < 3.0
    assert out.document.redacted_text.count("<IP_ADDRESS_") == 40
    assert all("model budget (0.2 s)" in a.veil.rationale for a in out.audits)
    assert stage.unavailable is None  # a slow answer is not a model that is down


class SlowAnalyst:
    identity = "slow@1"

    def __init__(self) -> None:
        self.budgets: list[float | None] = []

    def analyze(self, text: str, budget_s: float | None = None) -> AnalystResult:
        self.budgets.append(budget_s)
        time.sleep(3.0)  # ignores its budget: the stage's guard must hold anyway
        return AnalystResult(analysis=Analysis(text_kind="log"), findings=[])


def test_an_analyst_past_its_budget_leaves_the_record_to_the_detectors_and_progress_is_reported():
    analyst, seen = SlowAnalyst(), []
    stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), analyst=analyst, max_bytes=100_000,
                         analyst_budget_s=0.3, progress=seen.append)
    rec = stage.decode(RecordKind.DOCUMENT, b'{"text": "mail ana@example.org"}', ORIGIN, None)
    started = time.monotonic()
    out = asyncio.run(stage.analyze(rec))
    assert time.monotonic() - started < 2.5 and analyst.budgets == [0.3]
    assert "budget" in out.analysis.error and [f.entity for f in out.candidates] == ["EMAIL"]
    assert seen == [ORIGIN, None] and stage.over_budget == 1


def test_an_analyst_that_stops_at_its_budget_is_counted_over_budget_and_the_record_goes_on():
    """A provider that keeps its deadline (ProviderTimeout inside the analyst) says so in a field,
    not in the words of its error; an analyst that failed otherwise is not counted."""
    from veil.errors import ProviderTimeout, ProviderUnavailable
    from veil.models.roles import GeneralAnalyst

    class Provider:
        name, version, backend = "m", "1", "fake"

        def __init__(self, err: Exception) -> None:
            self.err = err

        def generate(self, request):
            raise self.err

        def health(self) -> None:
            pass

    counts = []
    for err in (ProviderTimeout("no answer within 0.3s"), ProviderUnavailable("connection refused")):
        stage = AnalyzeStage(redactor=Redactor(policy=Policy(), hmac_key=b"k"), analyst=GeneralAnalyst(Provider(err)),
                             max_bytes=100_000, analyst_budget_s=0.3)
        rec = stage.decode(RecordKind.DOCUMENT, b'{"text": "mail ana@example.org"}', ORIGIN, None)
        out = asyncio.run(stage.analyze(rec))
        assert [f.entity for f in out.candidates] == ["EMAIL"] and out.analysis.timed_out is isinstance(err, ProviderTimeout)
        counts.append(stage.over_budget)
    assert counts == [1, 0]


def test_a_stage_on_one_record_past_stall_s_is_down_on_health_naming_the_record_by_origin():
    now = [100.0]
    health = Health(stall_s=60, clock=lambda: now[0])
    track = health.tracker("analyze")
    track(ORIGIN)
    now[0] += 59
    assert health.report()[0] == 200
    now[0] += 2
    status, body = health.report()
    assert status == 503 and body["parts"]["analyze"] == "down: stuck for 61 s on the record at veil.logs.in/1/42"
    track(None)
    assert health.report()[0] == 200
    token = health.begin("decide", SourceRef(topic="veil.analyzed", partition=0, offset=7))
    now[0] += 61
    assert health.report()[1]["parts"]["decide"].endswith("veil.analyzed/0/7")
    health.end("decide", token)
    assert health.report()[0] == 200
