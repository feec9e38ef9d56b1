"""The sink reads Elasticsearch's answer per document, against an HTTP server that answers ``_bulk``
the way Elasticsearch does (``errors: true``, a status and an error per item; the real client).

A 400 is a permanent rejection: handed back for its dead letter, never retried, never holding up
the documents after it. A 429 or 503 item is sent again, alone. Documents after them are indexed.
"""

from __future__ import annotations

import json

import orjson
import pytest
from elasticsearch import Elasticsearch
from werkzeug import Request, Response

from veil.errors import SinkError
from veil.schemas import SourceRef
from veil.streams.sink import ElasticsearchSink, es_reason

HEADERS = {"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"}
MAPPING_ERROR = {"type": "document_parsing_exception",
                 "reason": "[1:40] failed to parse field [metadata.n] of type [long] in document with id 'd2'. "
                           "Preview of field's value: 'ana@example.org'",
                 "caused_by": {"type": "illegal_argument_exception", "reason": "For input string"}}


class Bulk:
    """Answers each ``_bulk`` request with the next scripted list of item statuses."""

    def __init__(self, *scripts: list[int]) -> None:
        self.scripts = list(scripts)
        self.requests: list[list[str]] = []

    def __call__(self, request: Request) -> Response:
        lines = [json.loads(x) for x in request.get_data().splitlines() if x.strip()]
        ids = [line["index"]["_id"] for line in lines[::2]]
        self.requests.append(ids)
        statuses = self.scripts.pop(0) if self.scripts else [201] * len(ids)
        items = []
        for doc_id, status in zip(ids, statuses):
            item: dict = {"_index": "veil-redacted-000001", "_id": doc_id, "status": status}
            if status == 400:
                item["error"] = MAPPING_ERROR
            elif status == 429:
                item["error"] = {"type": "es_rejected_execution_exception", "reason": "rejected execution"}
            elif status >= 500:
                item["error"] = {"type": "unavailable_shards_exception", "reason": "primary shard is not active"}
            else:
                item |= {"result": "created", "_version": 1}
            items.append({"index": item})
        body = {"took": 3, "errors": any(s >= 300 for s in statuses), "items": items}
        return Response(json.dumps(body), status=200, headers=HEADERS)


@pytest.fixture()
def es(httpserver):
    def client(bulk: Bulk) -> Elasticsearch:
        for method in ("PUT", "POST"):
            httpserver.expect_request("/_bulk", method=method).respond_with_handler(bulk)
        return Elasticsearch(httpserver.url_for("/"))
    return client


def fill(sink: ElasticsearchSink, n: int, start: int = 1) -> None:
    for i in range(start, start + n):
        sink.add("veil-redacted", f"d{i}", {"id": f"d{i}", "batch": "b"},
                 SourceRef(topic="veil.redacted", partition=0, offset=i))


def test_a_rejected_document_is_handed_back_and_only_429_and_503_items_are_sent_again(es):
    bulk = Bulk([201, 400, 429, 503, 201])
    sink = ElasticsearchSink(es(bulk))
    fill(sink, 5)
    waits: list[float] = []
    result = sink.flush_with_retry(wait=waits.append)
    assert bulk.requests == [["d1", "d2", "d3", "d4", "d5"], ["d3", "d4"]]  # only the 429 and the 503, once more
    assert result.indexed == 4 and result.retried == 2 and len(waits) == 1 and len(sink) == 0
    (rejected,) = result.rejected
    assert rejected.pending.doc_id == "d2" and rejected.status == 400
    assert rejected.pending.origin == SourceRef(topic="veil.redacted", partition=0, offset=2)
    assert rejected.error_type == "document_parsing_exception"
    assert "failed to parse field [metadata.n]" in rejected.reason and "ana@example.org" not in rejected.reason


def test_later_documents_are_indexed_after_a_permanent_rejection(es):
    bulk = Bulk([400, 201], [201, 201, 201])
    sink = ElasticsearchSink(es(bulk))
    fill(sink, 2)
    first = sink.flush_with_retry(wait=lambda s: None)
    fill(sink, 3, start=3)
    second = sink.flush_with_retry(wait=lambda s: None)
    assert (first.indexed, len(first.rejected), second.indexed, len(second.rejected)) == (1, 1, 3, 0)
    assert bulk.requests == [["d1", "d2"], ["d3", "d4", "d5"]]  # the rejected document was never sent again


def test_items_that_keep_answering_429_wait_and_are_kept_until_stopping(es):
    bulk = Bulk([429, 201], [429], [429])
    sink = ElasticsearchSink(es(bulk))
    fill(sink, 2)
    tries = iter([False, True])
    with pytest.raises(SinkError, match="1 documents not indexed"):
        sink.flush_with_retry(wait=lambda s: None, stopping=lambda: next(tries))
    assert len(sink) == 1 and bulk.requests == [["d1", "d2"], ["d1"]]


def test_an_answer_that_does_not_match_the_request_keeps_the_whole_batch(httpserver):
    httpserver.expect_request("/_bulk", method="PUT").respond_with_response(
        Response(json.dumps({"took": 1, "errors": True, "items": []}), headers=HEADERS))
    sink = ElasticsearchSink(Elasticsearch(httpserver.url_for("/")))
    fill(sink, 2)
    with pytest.raises(SinkError, match="0 items for 2 documents"):
        sink.flush()
    assert len(sink) == 2


def test_the_reason_keeps_elasticsearchs_words_but_not_the_value_it_previews():
    kind, reason = es_reason(MAPPING_ERROR)
    assert kind == "document_parsing_exception" and reason.endswith("in document with id 'd2'")
    assert es_reason("weird") == ("unknown", "weird")
    assert orjson.dumps(es_reason({"reason": "x" * 1000}))  # bounded
    assert len(es_reason({"reason": "x" * 1000})[1]) == 300
