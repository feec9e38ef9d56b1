"""Prometheus metrics of a worker: throughput, stage latency, consumer lag, dead letters, reviews,
and the LLM figures of this process and of the security actors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from veil.models.metrics import LATENCY_BUCKETS, ModelStats

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class LlmCollector:
    """Exports per-model call figures (``models.metrics``) gathered by ``source`` at scrape time."""

    def __init__(self, source: Callable[[], Iterable[tuple[str, ModelStats]]]) -> None:
        self.source = source

    def collect(self):
        calls = CounterMetricFamily("veil_llm_calls", "LLM calls per model", labels=["model", "where"])
        errors = CounterMetricFamily("veil_llm_errors", "Failed LLM calls per model", labels=["model", "where"])
        tokens = CounterMetricFamily("veil_llm_tokens", "Tokens per model and direction", labels=["model", "where", "direction"])
        # a histogram, not percentiles: buckets add up across workers and actors (histogram_quantile)
        latency = HistogramMetricFamily("veil_llm_latency_seconds", "Latency of LLM calls", labels=["model", "where"])
        speed = GaugeMetricFamily("veil_llm_tokens_per_second", "Generation speed over recent calls", labels=["model", "where"])
        for where, s in self.source():
            calls.add_metric([s.model, where], s.calls)
            errors.add_metric([s.model, where], s.errors)
            tokens.add_metric([s.model, where, "in"], s.prompt_tokens)
            tokens.add_metric([s.model, where, "out"], s.completion_tokens)
            if len(s.latency_buckets) == len(LATENCY_BUCKETS):
                buckets = [(f"{le:g}", float(n)) for le, n in zip(LATENCY_BUCKETS, s.latency_buckets)]
                latency.add_metric([s.model, where], [*buckets, ("+Inf", float(s.calls))], sum_value=s.latency_sum_s)
            if s.tokens_per_s is not None:
                speed.add_metric([s.model, where], s.tokens_per_s)
        yield from (calls, errors, tokens, latency, speed)


class CacheCollector:
    """Exports the template and cache figures (``Caching.stats``) and the questions put to each
    model role at scrape time."""

    def __init__(self, source: Callable[[], dict[str, dict[str, float]]],
                 questions: Callable[[], dict[str, int]] | None = None) -> None:
        self.source = source
        self.questions = questions

    def collect(self):
        if self.questions is not None:
            asked = CounterMetricFamily("veil_model_questions", "Questions put to each model role", labels=["role"])
            for role, n in self.questions().items():
                asked.add_metric([role], n)
            yield asked
        hits = CounterMetricFamily("veil_cache_hits", "Model answers reused", labels=["cache"])
        misses = CounterMetricFamily("veil_cache_misses", "Model questions not in the cache", labels=["cache"])
        size = GaugeMetricFamily("veil_cache_entries", "Entries held (templates: mined templates)", labels=["cache"])
        for name, st in self.source().items():
            if "hits" in st:
                hits.add_metric([name], st["hits"])
                misses.add_metric([name], st["misses"])
            size.add_metric([name], st.get("entries", st.get("templates", 0)))
        yield from (hits, misses, size)


class WorkerMetrics:
    """One registry per worker (not the global one), so tests can build several."""

    def __init__(self, llm_source: Callable[[], Iterable[tuple[str, ModelStats]]] | None = None,
                 cache_source: Callable[[], dict[str, dict[str, float]]] | None = None,
                 questions: Callable[[], dict[str, int]] | None = None) -> None:
        self.registry = r = CollectorRegistry()
        self.consumed = Counter("veil_records_consumed", "Records read from input topics", ["topic"], registry=r)
        self.redacted = Counter("veil_documents_redacted", "Redacted documents produced", ["kind"], registry=r)
        self.dead_letters = Counter("veil_dead_letters", "Records sent to the dead-letter topic", ["stage", "error"], registry=r)
        self.reviews = Counter("veil_review_items", "Model decisions queued for review", registry=r)
        self.fallbacks = Counter("veil_verification_fallbacks", "Documents redacted more coarsely because a redacted "
                                 "value survived the first redaction", ["level"], registry=r)
        self.decisions = Counter("veil_decisions", "Decisions by who made them and the action", ["decided_by", "action"], registry=r)
        self.indexed = Counter("veil_documents_indexed", "Documents written to Elasticsearch", ["index"], registry=r)
        self.busy_seconds = Counter("veil_stage_busy_seconds", "Time a stage had records in it", ["stage"], registry=r)
        self.stage_records = Counter("veil_stage_records", "Records through a stage", ["stage"], registry=r)
        self._inflight: dict[str, int] = {}
        self._busy_since: dict[str, float] = {}
        self.sink_seconds = Counter("veil_sink_seconds", "Time spent in bulk writes", ["index"], registry=r)
        self.sink_retries = Counter("veil_sink_retries", "Failed bulk writes that were retried", ["index"], registry=r)
        self.shared_rejected = Counter("veil_shared_decisions_rejected", "veil.decisions entries ignored: unsigned "
                                       "or with a MAC that does not verify", ["reason"], registry=r)
        self.held = Counter("veil_records_held", "Retries of records held while the security model was unavailable", registry=r)
        self.stage_seconds = Histogram("veil_stage_seconds", "Time per record in a stage", ["stage"], buckets=_SECONDS, registry=r)
        self.security_batch = Histogram("veil_security_batch_records", "Records per micro-batch sent to the security pool",
                                        buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.request_seconds = Histogram("veil_http_redact_seconds", "POST /v1/redact latency", buckets=_SECONDS, registry=r)
        self.offset = Gauge("veil_consumed_offset", "Last offset consumed", ["topic", "partition"], registry=r)
        self.lag = Gauge("veil_consumer_lag_seconds", "Age of the last consumed record (now - its timestamp)",
                         ["topic", "partition"], registry=r)
        if llm_source is not None:
            r.register(LlmCollector(llm_source))
        if cache_source is not None:
            r.register(CacheCollector(cache_source, questions))

    @contextmanager
    def stage(self, stage: str, records: int):
        """Time ``records`` going through a sequential stage together."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.busy_seconds.labels(stage).inc(time.perf_counter() - started)
            self.stage_records.labels(stage).inc(records)

    @contextmanager
    def busy(self, stage: str):
        """Time a record in a concurrent stage; the stage is busy while any record is in it."""
        self.stage_records.labels(stage).inc()
        if self._inflight.get(stage, 0) == 0:
            self._busy_since[stage] = time.perf_counter()
        self._inflight[stage] = self._inflight.get(stage, 0) + 1
        try:
            yield
        finally:
            self._inflight[stage] -= 1
            if self._inflight[stage] == 0:
                self.busy_seconds.labels(stage).inc(time.perf_counter() - self._busy_since[stage])

    def saw(self, topic: str, partition: int, offset: int, timestamp_s: float | None) -> None:
        """Record one consumed input message; lag is counted from what was consumed."""
        self.consumed.labels(topic).inc()
        self.offset.labels(topic, str(partition)).set(offset)
        if timestamp_s:
            self.lag.labels(topic, str(partition)).set(max(0.0, time.time() - timestamp_s))

    def render(self) -> bytes:
        return generate_latest(self.registry)
