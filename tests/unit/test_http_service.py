"""The HTTP redaction service and the worker's Prometheus metrics, without a broker."""

import asyncio

import orjson
import pytest

from tests.unit.test_stages import CannedService
from veil import Policy, Redactor
from veil.streams.service import HttpError, RedactService
from veil.streams.stages import AnalyzeStage, DecideStage
from veil.streams.telemetry import WorkerMetrics


def service(**kw) -> tuple[RedactService, WorkerMetrics]:
    redactor = Redactor(policy=Policy(), hmac_key=b"k")
    metrics = WorkerMetrics()
    return RedactService(AnalyzeStage(redactor=redactor, analyst=None, max_bytes=10_000),
                         DecideStage(redactor=redactor, security=kw.pop("security", CannedService(redact=True)), **kw),
                         metrics), metrics


def test_redact_returns_redacted_text_and_findings_without_values():
    svc, metrics = service()
    body = orjson.dumps({"id": "t1", "text": "mail bob@example.com from 10.0.0.5", "source": "crm"})
    out = asyncio.run(svc.redact(body))
    assert out.id == "t1" and out.redacted_text == "mail <EMAIL_1> from <IP_ADDRESS_1>"
    assert [(f.entity, f.action, f.decided_by, f.operator) for f in out.findings] == [
        ("EMAIL", "redact", "policy", "placeholder"), ("IP_ADDRESS", "redact", "model", "placeholder")]
    blob = out.model_dump_json()
    assert "bob@example.com" not in blob and "10.0.0.5" not in blob
    assert b"veil_http_redact_seconds_count 1.0" in metrics.render()


@pytest.mark.parametrize(("body", "reason"), [(b"{not json", "not valid JSON"), (b'{"txt": "x"}', "schema"),
                                              (b"", "empty message"), (b"x" * 20_000, "exceeds")])
def test_bad_bodies_are_400_with_the_reason(body, reason):
    svc, _ = service()
    with pytest.raises(HttpError, match=reason) as err:
        asyncio.run(svc.redact(body))
    assert err.value.status == 400


def test_hold_mode_without_a_security_model_is_503_not_unredacted_text():
    svc, _ = service(security=CannedService(redact=False, fail=True), on_model_failure="hold")
    with pytest.raises(HttpError) as err:
        asyncio.run(svc.redact(orjson.dumps({"text": "from 10.0.0.5"})))
    assert err.value.status == 503


def test_metrics_render_counters_lag_and_llm_figures():
    from veil.models.metrics import Metrics

    recorded = Metrics()
    for seconds in (0.2, 0.2, 0.5, 0.6):
        recorded.record("judge@1", seconds)
    stats = recorded.snapshot()["judge@1"]
    m = WorkerMetrics(lambda: [("security-actor-0", stats)])
    m.saw("veil.logs.in", 1, 41, 1.0)
    m.dead_letters.labels("analyze", "InvalidInput").inc()
    text = m.render().decode()
    assert 'veil_records_consumed_total{topic="veil.logs.in"} 1.0' in text
    assert 'veil_consumed_offset{partition="1",topic="veil.logs.in"} 41.0' in text
    assert 'veil_consumer_lag_seconds{partition="1",topic="veil.logs.in"}' in text
    assert 'veil_dead_letters_total{error="InvalidInput",stage="analyze"} 1.0' in text
    assert 'veil_llm_calls_total{model="judge@1",where="security-actor-0"} 4.0' in text
    # a histogram (buckets add up across workers): 2 calls within 0.25 s, 3 within 0.5 s, 4 within 1 s
    assert 'veil_llm_latency_seconds_bucket{le="0.25",model="judge@1",where="security-actor-0"} 2.0' in text
    assert 'veil_llm_latency_seconds_bucket{le="0.5",model="judge@1",where="security-actor-0"} 3.0' in text
    assert 'veil_llm_latency_seconds_bucket{le="1",model="judge@1",where="security-actor-0"} 4.0' in text
    assert 'veil_llm_latency_seconds_bucket{le="+Inf",model="judge@1",where="security-actor-0"} 4.0' in text
    assert 'veil_llm_latency_seconds_sum{model="judge@1",where="security-actor-0"} 1.5' in text
    assert "quantile" not in text
