"""Real llama.cpp inference on the small registry model, and the security pool on real Ray."""

import asyncio

import pytest

from veil import Policy, Redactor
from veil.models.llamacpp import LlamaCppProvider
from veil.models.roles import GeneralAnalyst, JudgeAnswer, SecurityJudge
from veil.schemas import ChatMessage, DecideRequest, GenerationRequest, Sampling

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TEXT = "2026-11-20 WARN auth-svc login failed for tom@example.org from 10.8.2.14 (host db1.corp)"


@pytest.fixture(scope="module")
def provider(small_model):
    return LlamaCppProvider(model_path=small_model, name="smollm2-135m", version="test")


def test_when_schema_given_then_real_model_output_validates(provider):
    req = GenerationRequest(messages=[ChatMessage(role="user", content=f"Must 10.8.2.14 be redacted? {TEXT}")],
                            json_schema=JudgeAnswer.model_json_schema(), sampling=Sampling(max_tokens=128))
    res = provider.generate(req)
    JudgeAnswer.model_validate_json(res.text)  # raises if the grammar did not hold
    assert res.completion_tokens > 0 and res.prompt_tokens > 0 and res.seconds > 0


def test_when_analyst_runs_then_every_span_is_a_real_substring(provider):
    res = GeneralAnalyst(provider).analyze(TEXT)
    assert res.analysis.error is None and res.analysis.model == "smollm2-135m"
    for f in res.findings:
        assert TEXT[f.start:f.end].strip() and f.score < Policy().auto_redact_score


def test_when_judge_runs_then_decision_is_typed(provider):
    r = Redactor(policy=Policy(), hmac_key=b"k")
    [ip] = [f for f in r.scan(TEXT) if f.entity == "IP_ADDRESS"]
    d = SecurityJudge(provider).judge(TEXT, ip)
    assert d is not None and d.finding == ip and 0.0 <= d.confidence <= 1.0 and d.model == "smollm2-135m"


def test_when_pool_on_ray_decides_then_answers_come_back(ray_local, small_model):
    from veil.settings import ModelSettings, RaySettings
    from veil.streams.security import SecurityPool

    # five records arriving together leave in one micro-batch
    pool = SecurityPool(settings=RaySettings(pool_size=1, max_in_flight=1, batch_max=8),
                        models=ModelSettings(security="smollm2-135m"))
    try:
        r = Redactor(policy=Policy(), hmac_key=b"k")
        ask = r.triage(TEXT, r.scan(TEXT)).ask_model
        assert {f.entity for f in ask} == {"IP_ADDRESS", "INTERNAL_HOSTNAME"}

        async def five():
            return await asyncio.gather(*(pool.decide(DecideRequest(record_id=f"r{i}", text=TEXT, findings=ask))
                                          for i in range(5)))

        responses = asyncio.run(five())
        assert [x.record_id for x in responses] == [f"r{i}" for i in range(5)]
        assert (pool.batches, pool.batched_records) == (1, 5)  # five records, one Ray call
        for resp in responses:
            assert {(d.finding.start, d.finding.end) for d in resp.decisions} <= {(f.start, f.end) for f in ask}
            assert all(d.model == "smollm2-135m" for d in resp.decisions)
    finally:
        pool.close()


def test_when_pool_swaps_model_under_load_then_no_decide_call_fails(ray_local):
    from veil.settings import ModelSettings, RaySettings
    from veil.streams.security import SecurityPool

    pool = SecurityPool(settings=RaySettings(pool_size=1, max_in_flight=2), models=ModelSettings(security="smollm2-135m"))
    try:
        r = Redactor(policy=Policy(), hmac_key=b"k")
        ask = r.triage(TEXT, r.scan(TEXT)).ask_model[:1]
        before = pool.model

        async def run():
            calls = [asyncio.create_task(pool.decide(DecideRequest(record_id=f"r{i}", text=TEXT, findings=ask)))
                     for i in range(4)]
            await asyncio.sleep(0.2)
            swapped = await asyncio.to_thread(pool.swap, ModelSettings(security="smollm2-135m", n_ctx=1024))
            calls += [asyncio.create_task(pool.decide(DecideRequest(record_id=f"s{i}", text=TEXT, findings=ask)))
                      for i in range(2)]
            return swapped, await asyncio.gather(*calls)

        swapped, responses = asyncio.run(run())
        [stats] = pool.metrics()  # figures from inside the actor: the new version served the last calls
        assert sum(s.calls for s in stats.values()) >= 2 and all(s.latency_p50_s for s in stats.values())
        # every call came back (a judge that cannot decide returns no decision; it does not fail)
        assert [x.record_id for x in responses] == [f"r{i}" for i in range(4)] + ["s0", "s1"]
        assert swapped == pool.model == before  # same name and version, a fresh load
    finally:
        pool.close()
