"""The Faust app: topics and thin agents (decode, call a stage, emit)."""

from __future__ import annotations

import logging

import faust

from schemas import AnalyzedRecord, RecordKind, SourceRef, dumps, loads
from elasticsearch import AsyncElasticsearch

from streams.sink import ElasticsearchSink
from streams.stages import AnalyzeStage, DecideStage, dead_letter
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

    @app.agent(t["analyzed"], name="decide")
    async def decide_agent(stream):
        async for event in stream.events():
            analyzed = loads(AnalyzedRecord, event.value)
            try:
                doc, audits = await decide.run(analyzed)
            except UnsafeOutput as err:
                await to_deadletter(err, event, "decide", analyzed.record.batch)
                continue
            await t["redacted"].send(key=doc.id.encode(), value=dumps(doc))
            for a in audits:
                await t["audit"].send(key=doc.id.encode(), value=dumps(a))

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
