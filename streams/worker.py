"""Builds the stages from settings and runs the Faust worker in the foreground."""

from __future__ import annotations

import gc
import logging
import os

from veil.cache import Caching
from veil.composition import build_redactor, payload_sealer, private_dir
from veil.errors import ConfigError, VeilError
from veil.models import build
from veil.models.metrics import METRICS
from veil.settings import Settings, check_keys
from veil.streams.decisions import DecisionShare
from veil.streams.health import Health
from veil.streams.outputs import Outputs
from veil.streams.preflight import check_kafka
from veil.streams.service import ApiGuard
from veil.streams.sink import TopicSink, make_client
from veil.streams.stages import AnalyzeStage, DecideStage, NoSecurityModel
from veil.streams.telemetry import WorkerMetrics

log = logging.getLogger(__name__)


class StreamFailed(VeilError):
    """A stage failed on too many records in a row; the worker stopped with its batch uncommitted."""


def run_worker(settings: Settings) -> None:
    """Start the stream workers and block until SIGINT/SIGTERM."""
    import faust
    import ray

    from veil.streams.app import create_app
    from veil.streams.security import SecurityPool

    kafka, es, m = settings.kafka, settings.elasticsearch, settings.models
    if not kafka.bootstrap_servers or not es.url:
        raise ConfigError("no broker or Elasticsearch URL configured; run `veil dev up` or set "
                          "VEIL_KAFKA__BOOTSTRAP_SERVERS and VEIL_ELASTICSEARCH__URL")
    check_keys(settings)  # before anything starts: a one-line error naming the variable to set
    web = settings.stream  # no open API on a shared network: refused before anything starts
    guard = ApiGuard.build(web.web_host, web.api_token, web.max_request_bytes) if web.web_enabled else None
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    private_dir(settings.state_dir)  # Faust's tables and the worker's files: owner-only
    if settings.payload_key is None:
        log.warning("VEIL_PAYLOAD_KEY is not set: internal topics are sealed with the key in %s/payload.key, "
                    "which workers on other machines do not have", settings.state_dir)

    redactor = build_redactor(settings)  # configuration errors first (keys, policy), then the network
    check_kafka(kafka)  # a refused password is one line here, not a worker that waits for ever
    analyst = build.analyst(settings)
    caching = Caching.build(settings.cache, settings.hmac_key.get_secret_value().encode(), analyst)
    metrics = WorkerMetrics(lambda: llm_figures(), lambda: caching.stats,
                            lambda: {"general": analyze.asked, "security": decide.asked})
    pool = (SecurityPool(settings=settings.ray, models=m, on_batch=metrics.security_batch.observe)
            if m.security_enabled else NoSecurityModel())
    share = None
    if caching.decisions is not None and settings.cache.share:
        share = DecisionShare(caching.decisions, bootstrap=kafka, topic=settings.topic("decisions"),
                              group=f"{settings.app_id}-decisions", served=lambda: pool.model,
                              secret=settings.decisions_secret,
                              on_reject=lambda reason: metrics.shared_rejected.labels(reason).inc())
    outputs = Outputs(kafka, extra={"message.max.bytes": kafka.max_message_bytes})
    sink = topic_sink(settings, metrics) if settings.stream.sink else None

    def llm_figures():
        """This process's models (the analyst) and the security actors' last reported figures."""
        yield from (("worker", st) for st in METRICS.snapshot().values())
        for i, actor_stats in enumerate(pool.last_metrics):
            yield from ((f"security-actor-{i}", st) for st in actor_stats.values())

    stream = settings.stream
    health = Health(stream.max_consecutive_failures, stall_s=stream.stall_s)
    analyze = AnalyzeStage(redactor=redactor, analyst=analyst, max_bytes=kafka.max_record_bytes, caching=caching,
                           analyst_budget_s=stream.analyst_budget_s, progress=health.tracker("analyze"))
    decide = DecideStage(redactor=redactor, security=pool, on_model_failure=stream.on_model_failure,
                         review_below=stream.review_below, caching=caching,
                         max_message_bytes=kafka.max_message_bytes, sealer=payload_sealer(settings),
                         judge_budget_questions=stream.judge_budget_questions, judge_budget_s=stream.judge_budget_s)
    app = create_app(settings, analyze=analyze, decide=decide, outputs=outputs,
                     sink=sink, metrics=metrics, share=share, health=health, guard=guard)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True, redirect_stdouts=False)
    gc.freeze()  # the models and tables loaded so far live as long as the worker: no collection scans them again
    try:
        if sink is not None:
            sink.start()
        try:
            worker.execute_from_commandline()
        except SystemExit:
            if health.fatal is not None:  # the worker stopped itself: that is a failure, not a shutdown
                raise StreamFailed(health.fatal) from None
            raise
        if health.fatal is not None:
            raise StreamFailed(health.fatal)
    finally:
        if sink is not None:
            sink.stop()
        outputs.close()
        if share is not None:
            share.close()
        if isinstance(pool, SecurityPool):
            pool.close()
        ray.shutdown()


def topic_sink(settings: Settings, metrics: WorkerMetrics | None = None) -> TopicSink:
    """The sink from the output topics to their indices (not started)."""
    es = settings.elasticsearch
    return TopicSink(settings.kafka, f"{settings.app_id}-sink",
                     {settings.topic("redacted"): es.redacted_index, settings.topic("audit"): es.audit_index,
                      settings.topic("deadletter"): es.deadletter_index},
                     make_client(es), max_docs=es.bulk_max_docs, max_wait=es.flush_seconds,
                     max_retry_seconds=es.max_retry_seconds, metrics=metrics,
                     deadletter_topic=settings.topic("deadletter"))


def run_sink(settings: Settings) -> None:
    """Only the sink, in the foreground, until SIGINT/SIGTERM (``veil sink``)."""
    import signal
    import threading

    kafka, es = settings.kafka, settings.elasticsearch
    if not kafka.bootstrap_servers or not es.url:
        raise ConfigError("no broker or Elasticsearch URL configured")
    check_kafka(kafka)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    metrics = WorkerMetrics()
    sink = topic_sink(settings, metrics).start()
    log.info("sink: indexing %s", ", ".join(sink.indices))
    try:
        while not stop.wait(1.0):
            if sink.error is not None:
                raise RuntimeError(f"the Elasticsearch sink stopped: {type(sink.error).__name__}")
    finally:
        sink.stop()
