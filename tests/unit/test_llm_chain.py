"""Provider chain: failover, retries with jitter, circuit breaker; and per-model metrics."""

import pytest

from veil.errors import AllProvidersFailed, ProviderError, ProviderTimeout, ProviderUnavailable
from veil.models.chain import CircuitBreaker, ProviderChain, RetryPolicy
from veil.models.metrics import Metered, Metrics, percentile
from veil.schemas import ChatMessage, GenerationRequest, GenerationResponse

REQUEST = GenerationRequest(messages=[ChatMessage(role="user", content="hi")])


class Scripted:
    """A fake backend that answers from a script: an exception instance is raised, a str returned."""

    backend = "fake"

    def __init__(self, name, *script, healthy=True):
        self.name, self.version, self.script, self.healthy = name, "1", list(script), healthy
        self.requests: list[GenerationRequest] = []

    def generate(self, request):
        self.requests.append(request)
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, Exception):
            raise step
        return GenerationResponse(text=step, model=self.name, model_version=self.version, backend=self.backend,
                                  prompt_tokens=10, completion_tokens=5, seconds=0.5, prompt_seconds=0.25)

    def health(self):
        if not self.healthy:
            raise ProviderUnavailable(f"{self.name} down")

    def close(self):
        self.closed = True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def chain(*providers, attempts=2, **kw):
    sleeps = []
    c = ProviderChain(providers, role="judge", retry=RetryPolicy(attempts=attempts, backoff_s=0.2, timeout_s=7.0),
                      sleep=sleeps.append, **kw)
    return c, sleeps


def test_first_provider_answers_and_gets_the_default_deadline():
    a, b = Scripted("a", "first"), Scripted("b")
    c, _ = chain(a, b)
    assert c.generate(REQUEST).text == "first"
    assert a.requests[0].timeout_s == 7.0 and not b.requests


def test_retryable_error_is_retried_with_jittered_backoff_then_fails_over():
    a = Scripted("a", ProviderTimeout("slow"), ProviderUnavailable("down"))
    b = Scripted("b", "from b")
    c, sleeps = chain(a, b, attempts=2)
    assert c.generate(REQUEST).model == "b"
    assert len(a.requests) == 2 and len(sleeps) == 1 and 0 <= sleeps[0] <= 0.2


def test_non_retryable_error_fails_over_at_once():
    a, b = Scripted("a", ProviderError("bad request")), Scripted("b", "ok")
    c, sleeps = chain(a, b, attempts=3)
    assert c.generate(REQUEST).text == "ok" and len(a.requests) == 1 and sleeps == []


def test_every_provider_failing_names_each_reason():
    c, _ = chain(Scripted("a", ProviderError("nope")), Scripted("b", ProviderUnavailable("x"), ProviderUnavailable("y")))
    with pytest.raises(AllProvidersFailed) as err:
        c.generate(REQUEST)
    assert set(err.value.reasons) == {"fake:a", "fake:b"} and "ProviderUnavailable: y" in err.value.reasons["fake:b"]
    assert isinstance(err.value, ProviderError)  # roles treat it like any provider error: fail closed


def test_open_circuit_skips_the_provider_until_the_reset_then_allows_one_trial():
    clock = Clock()
    a = Scripted("a", *[ProviderError("down")] * 3)
    b = Scripted("b")
    c, _ = chain(a, b, attempts=1, breaker_failures=2, breaker_reset_s=30, clock=clock)
    c.generate(REQUEST), c.generate(REQUEST)
    assert c.breakers[0].state == "open"
    c.generate(REQUEST)
    assert len(a.requests) == 2  # skipped while open
    clock.now = 31
    assert c.breakers[0].state == "half-open"
    c.generate(REQUEST)  # the trial fails: open again at once
    assert len(a.requests) == 3 and c.breakers[0].state == "open"
    clock.now = 62
    assert c.generate(REQUEST).model == "a" and c.breakers[0].state == "closed"  # trial succeeds


def test_half_open_breaker_lets_exactly_one_trial_through():
    clock = Clock()
    br = CircuitBreaker(failures=1, reset_s=10, clock=clock)
    br.failure()
    assert not br.allow()
    clock.now = 10
    assert br.allow() and not br.allow()
    br.success()
    assert br.allow() and br.state == "closed"


def test_status_reports_health_and_circuit_and_health_fails_only_when_all_are_down():
    c, _ = chain(Scripted("a", healthy=False), Scripted("b"))
    status = c.status()
    assert [(s.provider, s.healthy, s.circuit) for s in status] == [("fake:a", False, "closed"), ("fake:b", True, "closed")]
    assert "a down" in status[0].error
    c.health()
    c2, _ = chain(Scripted("a", healthy=False))
    with pytest.raises(AllProvidersFailed):
        c2.health()


def test_chain_needs_a_provider():
    with pytest.raises(ValueError):
        ProviderChain([])


def test_metered_provider_records_latency_tokens_speed_and_errors():
    metrics = Metrics(window=100)
    ok = Metered(Scripted("m", "a", "b", "c", ProviderTimeout("t")), metrics)
    for _ in range(3):
        ok.generate(REQUEST)
    with pytest.raises(ProviderTimeout):
        ok.generate(REQUEST)
    [stats] = metrics.snapshot().values()
    assert (stats.model, stats.calls, stats.errors, stats.timeouts) == ("m@1", 4, 1, 1)
    assert (stats.prompt_tokens, stats.completion_tokens) == (30, 15)
    assert stats.tokens_per_s == pytest.approx(5 / 0.25)
    assert stats.latency_p50_s is not None and stats.latency_p50_s <= stats.latency_p99_s


def test_percentile_is_nearest_rank():
    values = sorted(float(i) for i in range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99), percentile(values, 100)) == (50, 95, 99, 100)
    assert percentile([3.0], 99) == 3.0
