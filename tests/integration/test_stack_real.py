"""The embedded stack for real: Tansu broker, noida-db Elasticsearch API, the sink's bulk writes."""

import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from veil.errors import SinkError
from veil.ops.produce import produce
from veil.ops.stack import dev, elastic
from veil.settings import TOPICS, ElasticsearchSettings
from veil.streams.sink import ElasticsearchSink, make_client

pytestmark = [pytest.mark.integration]


def test_when_stack_up_then_topics_exist_with_partitions(stack_settings):
    md = AdminClient({"bootstrap.servers": stack_settings.kafka.bootstrap_servers}).list_topics(timeout=10)
    for short in TOPICS:
        topic = md.topics[stack_settings.topic(short)]
        assert len(topic.partitions) == stack_settings.kafka.partitions


def test_when_stack_up_twice_then_same_stack_is_reused(stack_settings):
    state, started = dev.up(stack_settings)
    assert not started and state.kafka_bootstrap == stack_settings.kafka.bootstrap_servers


def test_when_produced_then_consumed_with_batch_header(stack_settings):
    topic = stack_settings.topic("logs.in")
    boot = stack_settings.kafka.bootstrap_servers
    assert produce(boot, topic, [b"line one", b"line two"], batch="hdr-test") == 2
    c = Consumer({"bootstrap.servers": boot, "group.id": "t", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(stack_settings.kafka.partitions)])
    seen, deadline = [], time.monotonic() + 10
    while time.monotonic() < deadline and len(seen) < 2:
        m = c.poll(0.2)
        if m is not None and not m.error() and dict(m.headers() or []).get("veil-batch") == b"hdr-test":
            seen.append(m.value())
    c.close()
    assert sorted(seen) == [b"line one", b"line two"]


def test_when_templates_installed_then_strict_mapping_rejects_unknown_fields(stack_settings):
    es = elastic.client(stack_settings.elasticsearch)
    alias = stack_settings.elasticsearch.audit_index
    index = elastic.write_index(es, alias)
    assert index == f"{alias}-000001" or index.startswith(f"{alias}-0")  # an alias over numbered indices
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["dynamic"] == "strict" and "veil" in mapping["properties"]


def test_when_same_id_written_twice_then_one_document(stack_settings):
    es_settings = stack_settings.elasticsearch
    index = es_settings.redacted_index

    sink = ElasticsearchSink(make_client(es_settings))
    for text in ("first <EMAIL_1>", "second <EMAIL_1>"):
        sink.add(index, "idem-1", {"id": "idem-1", "redacted_text": text, "batch": "idem"})
        assert sink.flush().indexed == 1
    es = elastic.client(es_settings)
    es.indices.refresh(index=index)
    assert es.count(index=index, query={"term": {"batch": "idem"}})["count"] == 1
    assert es.get(index=index, id="idem-1")["_source"]["redacted_text"] == "second <EMAIL_1>"


def test_when_elasticsearch_unreachable_then_flush_raises_and_keeps_buffer():
    sink = ElasticsearchSink(make_client(ElasticsearchSettings(url="http://127.0.0.1:9")))  # nothing listens there
    sink.add("veil-redacted", "x", {"id": "x"})
    with pytest.raises(SinkError):
        sink.flush()
    assert len(sink) == 1  # nothing dropped; the next flush retries it
    with pytest.raises(SinkError):  # gives up only when told to stop
        sink.flush_with_retry(wait=lambda s: None, stopping=lambda: True)
    assert len(sink) == 1


def test_rollover_moves_writes_to_a_new_index_and_the_alias_still_reads_both(stack_settings):
    es_settings = stack_settings.elasticsearch
    es = elastic.client(es_settings)
    alias = es_settings.redacted_index
    assert elastic.install(es, es_settings) == [es_settings.redacted_index, es_settings.audit_index,
                                                es_settings.deadletter_index]  # idempotent
    before = elastic.write_index(es, alias)

    def write(doc_id: str) -> None:
        sink = ElasticsearchSink(make_client(es_settings))
        sink.add(alias, doc_id, {"id": doc_id, "kind": "log", "event": {"provider": "t"}, "redacted_text": "x",
                                 "batch": "roll"})
        assert sink.flush().indexed == 1

    write("roll-1")
    new = elastic.rollover(es, alias)
    assert new is not None and new != before and elastic.write_index(es, alias) == new
    write("roll-2")
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, query={"term": {"batch": "roll"}})["hits"]["hits"]
    assert sorted((h["_index"], h["_id"]) for h in hits) == [(before, "roll-1"), (new, "roll-2")]


def test_install_adds_new_fields_to_an_index_created_by_an_older_version(stack_settings):
    es_settings = stack_settings.elasticsearch.model_copy(update={"index_prefix": f"old{uuid.uuid4().hex[:6]}"})
    es = elastic.client(es_settings)
    alias = f"{es_settings.index_prefix}-audit"
    older = elastic.template_body("audit", es_settings.index_prefix)["template"]["mappings"]
    del older["properties"]["user"], older["properties"]["veil"]["properties"]["operation"]
    es.indices.create(index=f"{alias}-000001", mappings=older, aliases={alias: {"is_write_index": True}})
    elastic.install(es, es_settings)
    index = elastic.write_index(es, alias)
    props = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert props["user"]["properties"]["name"]["type"] == "keyword"
    assert "operation" in props["veil"]["properties"]


def test_topic_sink_indexes_what_it_reads_commits_and_skips_what_has_no_id(stack_settings):
    from tests.integration.stream_harness import drain
    from veil.streams.sink import TopicSink
    from veil.streams.telemetry import WorkerMetrics

    s, batch = stack_settings, uuid.uuid4().hex[:8]
    topic, index = s.topic("redacted"), s.elasticsearch.redacted_index
    docs = [f'{{"id": "{batch}-{i}", "kind": "log", "event": {{"provider": "t"}}, "redacted_text": "x", "batch": "{batch}"}}'.encode()
            for i in range(30)]
    produce(s.kafka.bootstrap_servers, topic, [*docs[:20], b'{"no_id": true}', *docs[20:], *docs[:5]])  # 5 again
    group = f"sink-test-{batch}"

    metrics = WorkerMetrics()
    sink = TopicSink(s.kafka.bootstrap_servers, group, {topic: index}, make_client(s.elasticsearch),
                     max_docs=7, max_wait=0.5, metrics=metrics)
    sink.subscribe()
    try:
        assert drain(sink) >= 35  # everything with an id (other tests' documents too), the repeats included
    finally:
        sink.stop()
    es = elastic.client(s.elasticsearch)
    es.indices.refresh(index=index)
    assert es.count(index=index, query={"term": {"batch": batch}})["count"] == 30  # repeats overwrote
    assert "veil_documents_indexed_total" in metrics.render().decode()
    again = TopicSink(s.kafka.bootstrap_servers, group, {topic: index}, make_client(s.elasticsearch), max_wait=0.5)
    again.subscribe()
    try:
        assert drain(again) == 0  # the group's offsets were committed
    finally:
        again.stop()
