"""The Faust app: topics and thin agents (decode, call a stage, emit)."""

from __future__ import annotations

import asyncio
import logging

import faust
from elasticsearch import AsyncElasticsearch

from schemas import AnalyzedRecord, RecordKind, SourceRef, dumps, loads
from streams.sink import ElasticsearchSink
from streams.stages import AnalyzeStage, DecideStage, DecisionUnavailable, dead_letter
from veil.errors import InvalidInput, UnsafeOutput
from veil.settings import TOPICS, Settings

log = logging.getLogger(__name__)
BATCH_HEADER = "veil-batch"


def _header(event: faust.types.EventT, name: str) -> str | None:
    headers = event.message.headers or []
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _origin(event: faust.types.EventT) -> SourceRef:
    m = event.message
    return SourceRef(topic=m.topic, partition=m.partition, offset=m.offset)


def create_app(settings: Settings, *, bootstrap: str, analyze: AnalyzeStage, decide: DecideStage,
               es_client: AsyncElasticsearch) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.kafka.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        store="memory://",
        datadir=str(settings.state_dir / "faust"),
    )
    t = {name: app.topic(settings.topic(name), value_serializer="raw", key_serializer="raw") for name in TOPICS}
    kinds = {settings.topic("docs.in"): RecordKind.DOCUMENT, settings.topic("logs.in"): RecordKind.LOG}
    inbound = app.topic(settings.topic("docs.in"), settings.topic("logs.in"), value_serializer="raw")
    es = settings.elasticsearch

    async def to_deadletter(err: Exception, event, stage: str, batch: str | None) -> None:
        dl = dead_letter(err, _origin(event), event.value, stage=stage, batch=batch)
        log.info("dead letter stage=%s topic=%s partition=%d offset=%d reason=%s", stage, dl.origin.topic,
                 dl.origin.partition, dl.origin.offset, dl.reason)
        await t["deadletter"].send(value=dumps(dl))

    @app.agent(inbound, name="analyze")
    async def analyze_agent(stream):
        async for event in stream.events():
            batch = _header(event, BATCH_HEADER)
            try:
                record = analyze.decode(kinds[event.message.topic], event.value, _origin(event), batch)
            except InvalidInput as err:
                await to_deadletter(err, event, "analyze", batch)
                continue
            analyzed = await analyze.analyze(record)
            await t["analyzed"].send(key=record.id.encode(), value=dumps(analyzed))

    async def decide_holding(analyzed: AnalyzedRecord):
        """Run the decide stage; in hold mode, retry with backoff until the security model answers.
        The event is not acknowledged meanwhile, so its offset is not committed."""
        delay = 1.0
        while True:
            try:
                return await decide.run(analyzed)
            except DecisionUnavailable as err:
                log.warning("holding record=%s: %s; retry in %.0fs", analyzed.record.id, err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.stream.hold_backoff_max_s)

    @app.agent(t["analyzed"], name="decide")
    async def decide_agent(stream):
        async for event in stream.events():
            analyzed = loads(AnalyzedRecord, event.value)
            try:
                out = await decide_holding(analyzed)
            except UnsafeOutput as err:
                await to_deadletter(err, event, "decide", analyzed.record.batch)
                continue
            key = out.document.id.encode()
            await t["redacted"].send(key=key, value=dumps(out.document))
            for a in out.audits:
                await t["audit"].send(key=key, value=dumps(a))
            for r in out.reviews:
                await t["review"].send(key=key, value=dumps(r))

    def sink_agent(topic_name: str, index: str):
        sink = ElasticsearchSink(es_client, max_retry_seconds=es.max_retry_seconds)

        async def run(stream):
            async for values in stream.take(es.bulk_max_docs, within=es.flush_seconds):
                for raw in values:
                    doc = loads_json(raw)
                    sink.add(index, doc["id"], doc)
                await sink.flush_with_retry()

        app.agent(t[topic_name], name=f"sink-{topic_name}")(run)

    sink_agent("redacted", es.redacted_index)
    sink_agent("audit", es.audit_index)
    return app


def loads_json(raw: bytes) -> dict:
    import orjson

    return orjson.loads(raw)
