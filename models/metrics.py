"""Per-model call metrics: latency (cumulative buckets, for Prometheus histograms that add up
across workers, and percentiles over recent calls, for a run's summary), tokens in and out,
tokens/s, errors, calls."""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel

from veil.errors import ProviderError, ProviderTimeout
from veil.models.provider import Provider
from veil.schemas import GenerationRequest, GenerationResponse

#: Upper bounds (seconds) of the latency buckets: a CPU judge answers in 0.1-2 s, an analyst in 1-30 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class ModelStats(BaseModel):
    """One model's figures. The percentiles are over the most recent ``window`` calls; the
    buckets count every call since start (cumulative, one per bound of :data:`LATENCY_BUCKETS`;
    ``calls`` is the +Inf bucket) and add up across processes."""

    model: str
    calls: int
    errors: int
    timeouts: int
    prompt_tokens: int
    completion_tokens: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None
    tokens_per_s: float | None  # generated tokens per second of generation, over the window
    latency_buckets: list[int] = []
    latency_sum_s: float = 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class _Series:
    latencies: deque[float]
    speeds: deque[tuple[int, float]]  # (completion tokens, generation seconds)
    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))  # calls per bucket (not cumulative)
    latency_sum: float = 0.0


@dataclass
class Metrics:
    """Thread-safe registry of per-model series. One per process; snapshots are plain models."""

    window: int = 1024
    _series: dict[str, _Series] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, model: str) -> _Series:
        s = self._series.get(model)
        if s is None:
            s = self._series[model] = _Series(deque(maxlen=self.window), deque(maxlen=self.window))
        return s

    def record(self, model: str, seconds: float, response: GenerationResponse | None = None,
               error: ProviderError | None = None) -> None:
        with self._lock:
            s = self._get(model)
            s.calls += 1
            s.latencies.append(seconds)
            s.latency_sum += seconds
            if (i := bisect.bisect_left(LATENCY_BUCKETS, seconds)) < len(LATENCY_BUCKETS):
                s.buckets[i] += 1
            if error is not None:
                s.errors += 1
                s.timeouts += isinstance(error, ProviderTimeout)
            if response is not None:
                s.prompt_tokens += response.prompt_tokens
                s.completion_tokens += response.completion_tokens
                gen = response.seconds - (response.prompt_seconds or 0.0)
                if response.completion_tokens and gen > 0:
                    s.speeds.append((response.completion_tokens, gen))

    def snapshot(self) -> dict[str, ModelStats]:
        with self._lock:
            out = {}
            for model, s in self._series.items():
                lat = sorted(s.latencies)
                tokens, secs = sum(t for t, _ in s.speeds), sum(x for _, x in s.speeds)
                out[model] = ModelStats(
                    model=model, calls=s.calls, errors=s.errors, timeouts=s.timeouts,
                    prompt_tokens=s.prompt_tokens, completion_tokens=s.completion_tokens,
                    latency_p50_s=percentile(lat, 50) if lat else None,
                    latency_p95_s=percentile(lat, 95) if lat else None,
                    latency_p99_s=percentile(lat, 99) if lat else None,
                    tokens_per_s=tokens / secs if secs else None,
                    latency_buckets=list(itertools.accumulate(s.buckets)), latency_sum_s=s.latency_sum,
                )
            return out


#: The process-wide registry that providers built from settings report to.
METRICS = Metrics()


class Metered:
    """Wraps a provider and records every call in ``metrics`` under ``name@version``."""

    def __init__(self, inner: Provider, metrics: Metrics = METRICS) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name, self.version, self.backend = inner.name, inner.version, inner.backend

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        started = time.perf_counter()
        try:
            response = self.inner.generate(request)
        except ProviderError as err:
            self.metrics.record(self.key, time.perf_counter() - started, error=err)
            raise
        self.metrics.record(self.key, time.perf_counter() - started, response=response)
        return response

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        yield from self.inner.stream(request)  # type: ignore[attr-defined]

    def health(self) -> None:
        self.inner.health()

    def close(self) -> None:
        self.inner.close()
