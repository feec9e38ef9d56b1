"""The sink on the real stack (Tansu broker, noida-db's Elasticsearch API): a document Elasticsearch
refuses for good is dead-lettered with Elasticsearch's reason, the rest of the batch and everything
after it is indexed, the offsets are committed, and the dead letter itself is indexed for Kibana."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.stream_harness import drain
from veil.ops.kafka_range import Position, read_range
from veil.ops.produce import produce
from veil.ops.stack import elastic
from veil.schemas import DeadLetter, loads
from veil.streams.sink import TopicSink, make_client
from veil.streams.telemetry import WorkerMetrics

pytestmark = pytest.mark.integration


def test_a_rejected_document_is_dead_lettered_and_the_stream_of_documents_goes_on(stack_settings):
    s, batch = stack_settings, f"rej-{uuid.uuid4().hex[:8]}"
    redacted, dead = s.topic("redacted"), s.topic("deadletter")
    es_settings = s.elasticsearch

    def doc(i: int, **extra) -> bytes:
        import orjson

        return orjson.dumps({"id": f"{batch}-{i}", "kind": "log", "event": {"provider": "t"}, "redacted_text": "x",
                             "batch": batch, **extra})

    # the 4th document has a field the strict mapping refuses (as a producer's changing metadata type did)
    produce(s.kafka.bootstrap_servers, redacted, [doc(i) for i in range(3)] + [doc(3, unmapped=1)]
            + [doc(i) for i in range(4, 10)])
    group = f"sink-rej-{batch}"
    indices = {redacted: es_settings.redacted_index, dead: es_settings.deadletter_index}
    metrics = WorkerMetrics()
    sink = TopicSink(s.kafka.bootstrap_servers, group, indices, make_client(es_settings), max_docs=50,
                     max_wait=0.3, metrics=metrics, deadletter_topic=dead).subscribe()
    try:
        drain(sink)
    finally:
        sink.stop()
    es = elastic.client(es_settings)
    es.indices.refresh(index=f"{es_settings.redacted_index},{es_settings.deadletter_index}")
    assert es.count(index=es_settings.redacted_index, query={"term": {"batch": batch}})["count"] == 9

    letters = [loads(DeadLetter, m.value) for m in read_range(s.kafka.bootstrap_servers, dead, Position(special="earliest"))]
    mine = [dl for dl in letters if dl.batch == batch]
    assert len(mine) == 1 and mine[0].stage == "index" and mine[0].payload == ""
    assert mine[0].error_type == "strict_dynamic_mapping_exception" and "Elasticsearch rejected" in mine[0].reason
    assert mine[0].origin.topic == redacted  # where the (redacted) document lies, to re-index it from

    # the dead letter is searchable for Kibana, without a payload
    hits = es.search(index=es_settings.deadletter_index, query={"term": {"veil.batch": batch}})["hits"]["hits"]
    assert len(hits) == 1
    found = hits[0]["_source"]
    assert found["error"]["type"] == "strict_dynamic_mapping_exception" and found["event"]["kind"] == "pipeline_error"
    assert "payload" not in found and found["veil"]["stage"] == "index"
    assert 'veil_dead_letters_total{error="strict_dynamic_mapping_exception",stage="index"} 1.0' in metrics.render().decode()

    # the offsets were committed: the same group reads nothing again
    again = TopicSink(s.kafka.bootstrap_servers, group, indices, make_client(es_settings), max_wait=0.3,
                      deadletter_topic=dead).subscribe()
    try:
        assert drain(again) == 0
    finally:
        again.stop()
