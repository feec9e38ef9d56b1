"""The Faust app: topics and thin agents (decode, call a stage, emit)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import faust

from veil.composition import client_config
from veil.errors import ConfigError, InvalidInput
from veil.schemas import AnalyzedRecord, ControlCommand, RecordKind, SourceRef, dumps, loads, operator_event
from veil.schemas.records import Stage
from veil.sealing import Sealer
from veil.settings import TOPICS, KafkaSettings, Settings
from veil.streams.decisions import DecisionShare
from veil.streams.failures import FailurePolicy
from veil.streams.health import Health
from veil.streams.outputs import Outputs
from veil.streams.service import ApiGuard, HttpError, RedactService
from veil.streams.sink import TopicSink
from veil.streams.stages import AnalyzeStage, Decided, DecideStage, DecisionUnavailable, Failed, ToAsk
from veil.streams.telemetry import WorkerMetrics

log = logging.getLogger(__name__)
BATCH_HEADER = "veil-batch"


def _header(event: faust.types.EventT, name: str) -> str | None:
    headers = event.message.headers or []
    items: Iterable[tuple[str, bytes | None]] = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _origin(event: faust.types.EventT) -> SourceRef:
    m = event.message
    return SourceRef(topic=m.topic, partition=m.partition, offset=m.offset)


def faust_broker(kafka: KafkaSettings) -> dict:
    """Faust's side of :func:`~veil.settings.client_config`: the broker URLs and credentials (TLS,
    SASL) from the same settings, so the agents connect the way every librdkafka client does."""
    context = None
    if kafka.uses_ssl:
        context = ssl.create_default_context(cafile=str(kafka.ssl_ca_file) if kafka.ssl_ca_file else None)
        context.check_hostname = kafka.ssl_check_hostname
        if kafka.ssl_cert_file is not None:
            password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
            context.load_cert_chain(str(kafka.ssl_cert_file), str(kafka.ssl_key_file), password)
    credentials: faust.auth.Credentials | None = None
    if kafka.security_protocol.startswith("SASL"):
        credentials = faust.SASLCredentials(username=kafka.sasl_username,
                                            password=kafka.sasl_password.get_secret_value(),  # type: ignore[union-attr]
                                            ssl_context=context, mechanism=kafka.sasl_mechanism)
    elif context is not None:
        credentials = faust.SSLCredentials(context)
    servers = [s.strip() for s in client_config(kafka)["bootstrap.servers"].split(",") if s.strip()]
    return {"broker": ";".join(f"kafka://{s}" for s in servers), "broker_credentials": credentials}


def create_app(settings: Settings, *, analyze: AnalyzeStage, decide: DecideStage,
               outputs: Outputs, sink: TopicSink | None = None, metrics: WorkerMetrics | None = None,
               share: DecisionShare | None = None, health: Health | None = None,
               sealer: Sealer | None = None, guard: ApiGuard | None = None,
               failures: FailurePolicy | None = None) -> faust.App:
    """The worker's app. Agents read through Faust and write through ``outputs`` (flushed before
    what they read is acknowledged); ``sink``, when given, indexes the output topics meanwhile.
    ``sealer`` (default: the decide stage's) seals raw text on internal topics; ``guard`` (default: built
    from the settings) checks the web API's requests; ``failures`` (default: dead letters on the
    dead-letter topic, the worker stopped after too many failures in a row) handles records a stage
    could not process."""
    sealer = sealer or decide.sealer
    if sealer is None:
        raise ConfigError("the stream needs a payload sealer: raw text is never written to a topic in plain")
    metrics = metrics or WorkerMetrics()
    health = health or Health(settings.stream.max_consecutive_failures)
    if sink is not None:
        health.probes["sink"] = lambda: f"stopped ({type(sink.error).__name__})" if sink.error is not None else None
    health.probes["security"] = lambda: decide.unavailable
    web = settings.stream
    app = faust.App(
        settings.app_id,
        **faust_broker(settings.kafka),
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.kafka.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        web_enabled=web.web_enabled,
        web_bind=web.web_host,
        web_port=web.web_port,
        web_host=web.web_host,
        store="memory://",
        broker_max_poll_records=2000,
        datadir=str(settings.state_dir / "faust"),
    )
    kinds = {settings.topic("docs.in"): RecordKind.DOCUMENT, settings.topic("logs.in"): RecordKind.LOG}
    #: the batch tag a producer set, as every document, event and dead letter carries it (a keyed
    #: hash when it is not a plain identifier: the header is the producer's, like the text)
    public_batch = analyze.redactor.records.public_batch
    inbound = app.topic(settings.topic("docs.in"), settings.topic("logs.in"), value_serializer="raw")
    names = {name: settings.topic(name) for name in TOPICS}

    async def stop_worker() -> None:
        # A graceful stop (run_worker turns it into a failure) that does not wait for this batch:
        # its events stay unacknowledged, so their offsets are not committed.
        app.conf.stream_wait_empty = False
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()  # never acknowledge this batch

    failures = failures or FailurePolicy(outputs=outputs, topic=names["deadletter"], sealer=sealer, health=health,
                                         metrics=metrics, max_payload=settings.kafka.deadletter_payload_limit,
                                         stop=stop_worker)

    async def failed(err: Exception, event, stage: Stage, batch: str | None) -> None:
        await failures.failed(err, event.value, _origin(event), stage, batch)

    async def to_deadletter(err: Exception, event, stage: Stage, batch: str | None) -> None:
        await failures.dead_letter(err, event.value, _origin(event), stage, batch)

    def emit(out: Decided) -> None:
        key = out.document.id.encode()
        if out.encoded is None:
            raise RuntimeError("a decided record reached the stream without its encoded (sealed) outputs")
        document, audits, reviews = out.encoded
        outputs.send(names["redacted"], document, key)
        metrics.redacted.labels(out.document.kind.value).inc()
        if out.document.fallback is not None:
            metrics.fallbacks.labels(out.document.fallback).inc()
        for a, raw in zip(out.audits, audits):
            outputs.send(names["audit"], raw, key)
            metrics.decisions.labels(a.veil.decided_by, a.event.action).inc()
        for raw in reviews:
            outputs.send(names["review"], raw, key)
        metrics.reviews.inc(len(out.reviews))

    @app.agent(inbound, name="analyze")
    async def analyze_agent(stream):
        # In batches: the detectors see many records at once, and the per-record overhead is paid
        # once per batch. Faust acknowledges a batch's events only after this loop is done with it.
        # with the analyst on, each record costs a model call: smaller batches, so none waits long
        size = web.analyze_batch if analyze.analyst is None else min(web.analyze_batch, web.analyze_batch_llm)
        async for events in stream.take_events(size, within=web.analyze_batch_ms / 1000):
            records, kept = [], []
            for event in events:
                m = event.message
                metrics.saw(m.topic, m.partition, m.offset, m.timestamp)
                batch = public_batch(_header(event, BATCH_HEADER))
                try:
                    received = datetime.fromtimestamp(m.timestamp, UTC) if m.timestamp else None
                    records.append(analyze.decode(kinds[m.topic], event.value, _origin(event), batch, received))
                    kept.append(event)
                except InvalidInput as err:
                    await to_deadletter(err, event, "analyze", batch)
            if not records:
                await outputs.flush()  # the dead letters
                continue
            with metrics.stage("analyze", len(records)):
                each = await analyze.analyze_each(records)
            analyzed, events_ok = [], []
            for event, record, item in zip(kept, records, each):
                if isinstance(item, Exception):  # that record alone: a detector or the analyst failed on it
                    await failed(item, event, "analyze", record.batch)
                else:
                    health.succeeded("analyze")
                    analyzed.append(item)
                    events_ok.append(event)
            kept = events_ok
            # Records the policy and the decision cache settle entirely skip the security stage's topic.
            with metrics.stage("settle", len(analyzed)):
                settled = await decide.settle_many(analyzed) if analyzed else []
            for event, item, out in zip(kept, analyzed, settled):
                if isinstance(out, Failed):
                    await failed(out.error, event, "decide", item.record.batch)
                    continue
                health.succeeded("decide")
                if isinstance(out, ToAsk):
                    outputs.send(names["analyzed"], out.payload, item.record.id.encode())
                else:
                    with metrics.stage("emit", 1):
                        emit(out)
            with metrics.stage("emit", 0):
                await outputs.flush()  # before the batch is acknowledged

    async def decide_holding(analyzed: AnalyzedRecord):
        """Run the decide stage; in hold mode, retry with backoff until the security model answers.
        The event is not acknowledged meanwhile, so its offset is not committed."""
        delay = 1.0
        while True:
            try:
                return await decide.run(analyzed)
            except DecisionUnavailable as err:
                metrics.held.inc()
                log.warning("holding record=%s: %s; retry in %.0fs", analyzed.record.id, err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.stream.hold_backoff_max_s)

    # Enough records in the security stage at once to fill its micro-batches (the pool bounds the
    # batches in flight); Faust commits an offset only when every record before it is done.
    analyzed_topic = app.topic(names["analyzed"], value_serializer="raw", key_serializer="raw")

    @app.agent(analyzed_topic, name="decide", concurrency=settings.ray.records_in_flight)
    async def decide_agent(stream):
        async for event in stream.events():
            try:
                analyzed = loads(AnalyzedRecord, sealer.open(event.value, "analyzed"))
            except (InvalidInput, ValueError) as err:  # not sealed by a worker of this deployment
                await to_deadletter(err, event, "decide", public_batch(_header(event, BATCH_HEADER)))
                await outputs.flush()
                continue
            token = health.begin("decide", analyzed.record.origin)
            try:
                with metrics.stage_seconds.labels("decide").time(), metrics.busy("decide"):
                    out = await decide_holding(analyzed)
            except Exception as err:  # noqa: BLE001 - a record that cannot be redacted is dead-lettered; the stream goes on
                await failed(err, event, "decide", analyzed.record.batch)
            else:
                health.succeeded("decide")
                emit(out)
            finally:
                health.end("decide", token)
            await outputs.flush()

    if sink is not None:
        @app.timer(interval=2.0)
        async def watch_sink():
            """The sink runs on a thread of its own; if it died, stop the worker rather than leave
            the indices behind silently (a restart resumes it from its committed offsets)."""
            if sink.error is not None:
                raise RuntimeError(f"the Elasticsearch sink stopped: {type(sink.error).__name__}")

    if share is not None:
        @app.task
        async def share_decisions():
            """Load the decisions other workers (and earlier runs) made, and follow the new ones."""
            await share.follow()

    if hasattr(decide.security, "swap"):
        @app.task
        async def control_listener():
            """Operator commands on veil.control. Every worker must apply each one, so this is not an
            agent (agents share the group's partitions): it reads every partition from the end."""
            from confluent_kafka import OFFSET_END, Consumer, TopicPartition

            topic = settings.topic("control")
            c = Consumer(client_config(settings.kafka, {"group.id": f"{settings.app_id}-control",
                                                        "enable.auto.commit": False}))

            def assign() -> None:  # metadata calls block: keep them off the event loop
                parts = c.list_topics(topic, timeout=10).topics[topic].partitions
                c.assign([TopicPartition(topic, p, OFFSET_END) for p in parts])

            try:
                await asyncio.to_thread(assign)
                while True:
                    msg = await asyncio.to_thread(c.poll, 1.0)
                    if msg is not None and not msg.error():
                        await apply_control(msg.value())
            finally:
                c.close()

    async def apply_control(raw: bytes) -> None:
        try:
            cmd = loads(ControlCommand, raw)
        except ValueError as err:
            log.warning("ignored control message: %s", type(err).__name__)
            return
        if cmd.role != "security":
            log.warning("control: swapping the %s model is not supported by the stream yet", cmd.role)
            return
        models = settings.models.model_copy(update={"security": cmd.model, "security_chain": []})
        log.info("control: swapping the security model to %s (by %s)", cmd.model, cmd.issued_by)
        worker = f"{socket.gethostname()}:{os.getpid()}"
        try:
            served = await asyncio.to_thread(decide.security.swap, models)
            if decide.caching is not None and decide.caching.decisions is not None:
                decide.caching.decisions.clear()  # keyed by model too; this frees the old model's entries
            log.info("control: security model now %s", served)
            outcome, details = "success", {"model": served}
        except Exception as err:  # noqa: BLE001 - a failed swap keeps the old model serving
            log.error("control: swap to %s failed, keeping the old model: %s", cmd.model, err)
            outcome, details = "failure", {"model": cmd.model, "error": f"{type(err).__name__}: {str(err)[:200]}"}
        event = operator_event("model-swap", cmd.issued_by, id=f"swap:{cmd.issued_at.isoformat()}:{worker}",
                               configuration=True, outcome=outcome, target=cmd.role, worker=worker, **details)
        outputs.send(names["audit"], dumps(event), event.id.encode())
        await outputs.flush()

    if web.web_enabled:
        guard = guard or ApiGuard.build(web.web_host, web.api_token, web.max_request_bytes)
        add_web(app, RedactService(analyze, decide, metrics), metrics, decide.security, health, guard)
    return app


def add_web(app: faust.App, service: RedactService, metrics: WorkerMetrics, security, health: Health,
            guard: ApiGuard) -> None:
    """``POST /v1/redact`` and ``GET /metrics`` (bearer token when configured), ``GET /health`` (open)
    on the worker's web server. Errors are JSON: ``{"error": reason}``."""

    def refused(view: faust.web.View, err: HttpError):
        response = view.json({"error": err.reason}, status=err.status)
        for name, value in err.headers.items():
            response.headers[name] = value
        return response

    @app.page("/v1/redact")
    class Redact(faust.web.View):
        async def post(self, request):
            try:
                guard.authorize(request.headers.get("Authorization"))
                guard.check_body(request.headers.get("Content-Type"), request.content_length)
                out = await service.redact_json(await guard.read(request.content))
            except HttpError as err:
                return refused(self, err)
            return self.bytes(out, content_type="application/json")

    @app.page("/health")
    class Health(faust.web.View):
        async def get(self, request):
            status, body = health.report()
            return self.json(body | {"security_model": security.model}, status=status)

    @app.page("/metrics")
    class Metrics(faust.web.View):
        async def get(self, request):
            try:
                guard.authorize(request.headers.get("Authorization"))
            except HttpError as err:
                return refused(self, err)
            return self.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

    if hasattr(security, "refresh_metrics"):
        @app.timer(interval=10.0)
        async def refresh_security_metrics():
            try:
                await security.refresh_metrics()
            except Exception as err:  # noqa: BLE001 - metrics must never stop the stream
                log.warning("could not fetch security actor metrics error=%s", type(err).__name__)

