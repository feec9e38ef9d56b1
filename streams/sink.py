"""Elasticsearch sink: the output topics (already redacted) into their indices, in bulk.

:class:`ElasticsearchSink` buffers documents and writes them in one bulk request per flush; a
failed flush raises and keeps the buffer. :class:`TopicSink` feeds it from Kafka on its own thread
with a librdkafka consumer: it commits the offsets of a batch only after the batch is indexed, so
a crash or an Elasticsearch outage loses nothing, and documents keep their ``_id`` (derived from
the source record), so what is read twice is written once.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from elasticsearch import Elasticsearch

from veil.composition import KafkaConnection, client_config
from veil.errors import SinkError
from veil.schemas import DeadLetter, SourceRef, deadletter_document, dumps, loads
from veil.settings import ElasticsearchSettings

log = logging.getLogger(__name__)


#: Bulk item statuses worth another try: Elasticsearch is overloaded or a shard is not there yet.
RETRYABLE = frozenset({429})
_PREVIEW = re.compile(r"\.?\s*Preview of field's value: .*", re.S)


@dataclass(frozen=True, slots=True)
class Pending:
    """A document waiting in the buffer: its bulk lines and where it came from (for its dead letter)."""

    index: str
    doc_id: str
    lines: bytes
    origin: SourceRef | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A document Elasticsearch refused for good (a 4xx other than 429 in its bulk item)."""

    pending: Pending
    status: int
    error_type: str
    reason: str


@dataclass(slots=True)
class BulkResult:
    indexed: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    retried: int = 0  # items sent again (429, 5xx)

    def add(self, other: BulkResult) -> None:
        self.indexed += other.indexed
        self.rejected += other.rejected
        self.retried += other.retried


def es_reason(error: Any) -> tuple[str, str]:
    """(type, reason) of a bulk item's error, without the preview of the value Elasticsearch may quote."""
    if not isinstance(error, dict):
        return "unknown", str(error)[:200]
    reason = _PREVIEW.sub("", str(error.get("reason", "")))[:300]
    return str(error.get("type", "unknown")), reason


class ElasticsearchSink:
    """Buffers documents and writes them in one bulk request per flush.

    Elasticsearch answers per document: what it took is done, a 429 or 5xx item stays in the buffer
    for the next flush (only that item), and a permanent rejection (a mapping conflict, an id it
    refuses) is handed back in :class:`BulkResult` for the caller to dead-letter; it never holds up
    the documents after it. A document may be given as the JSON bytes read from Kafka: they go into
    the request as they are, never parsed and re-written.
    """

    def __init__(self, client: Elasticsearch, *, max_retry_seconds: float = 30.0,
                 on_retry: Callable[[], None] | None = None) -> None:
        self._client = client
        self._buffer: list[Pending] = []
        self._max_retry = max_retry_seconds
        self._on_retry = on_retry

    def add(self, index: str, doc_id: str, source: dict[str, Any] | bytes, origin: SourceRef | None = None) -> None:
        body = source if isinstance(source, bytes) else orjson.dumps(source)
        action = b'{"index":' + orjson.dumps({"_index": index, "_id": doc_id}) + b"}\n"
        self._buffer.append(Pending(index, doc_id, action + body + b"\n", origin))

    def __len__(self) -> int:
        return len(self._buffer)

    def flush(self) -> BulkResult:
        """Write the buffer once. Raises :class:`SinkError` (buffer kept) when the request itself
        failed; otherwise returns what was indexed and rejected, keeping the items to retry."""
        if not self._buffer:
            return BulkResult()
        batch, self._buffer = self._buffer, []
        try:
            # the client sends bytes as they are (NDJSON serialised here); its annotations name only parsed operations
            response = self._client.bulk(operations=b"".join(p.lines for p in batch), refresh=False)  # type: ignore[arg-type]
        except Exception as err:  # transport errors of every kind: ES is down or overloaded
            self._buffer = batch + self._buffer
            raise SinkError(f"bulk failed: {type(err).__name__}") from err
        if not response.get("errors"):
            return BulkResult(indexed=len(batch))
        items = response.get("items", [])
        if len(items) != len(batch):  # not an answer per document: nothing can be told apart
            self._buffer = batch + self._buffer
            raise SinkError(f"bulk answered {len(items)} items for {len(batch)} documents")
        result, retry = BulkResult(), []
        for pending, entry in zip(batch, items):
            item: dict[str, Any] = next(iter(entry.values()), {})
            status = int(item.get("status", 500))
            if status < 300:
                result.indexed += 1
            elif status in RETRYABLE or status >= 500:
                retry.append(pending)
            else:
                kind, reason = es_reason(item.get("error"))
                result.rejected.append(Rejected(pending, status, kind, reason))
        result.retried = len(retry)
        self._buffer = retry + self._buffer
        return result

    def flush_with_retry(self, wait: Callable[[float], Any] = time.sleep,
                         stopping: Callable[[], bool] = lambda: False) -> BulkResult:
        """Flush until every document is indexed or rejected, backing off with jitter between tries
        (a failed request, or items answered 429/5xx); never drops a document. ``wait`` is how to
        pass the time between tries (a consumer polls meanwhile, to stay in its group); gives up
        (raising) only when ``stopping`` says so."""
        delay, total = 0.2, BulkResult()
        while True:
            try:
                total.add(self.flush())
                if not self._buffer:
                    return total
                why = f"{len(self._buffer)} items answered 429/5xx"
            except SinkError as err:
                why = str(err)
            if stopping():
                raise SinkError(f"stopped with {len(self._buffer)} documents not indexed ({why})")
            log.warning("sink flush incomplete, retrying error=%s delay=%.1fs pending=%d", why, delay, len(self))
            if self._on_retry is not None:
                self._on_retry()
            wait(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._max_retry)


class TopicSink:
    """Reads topics with a librdkafka consumer and bulk-indexes each message into its index
    (``indices``: topic -> index or alias), on a thread of its own.

    A batch is up to ``max_docs`` messages or what ``max_wait`` seconds brought; its offsets are
    committed after the bulk request succeeded. While Elasticsearch is down the consumer's
    partitions are paused and it keeps polling, so it stays in its group.
    """

    def __init__(self, bootstrap: KafkaConnection, group: str, indices: dict[str, str], client: Elasticsearch, *,
                 max_docs: int = 2000, max_wait: float = 0.5, max_retry_seconds: float = 30.0,
                 metrics=None, deadletter_topic: str | None = None) -> None:
        self.indices = indices
        self.max_docs, self.max_wait = max_docs, max_wait
        self.metrics = metrics
        #: Where documents Elasticsearch refuses go; read from here (when in ``indices``), a dead
        #: letter is indexed without its payload.
        self.deadletter_topic = deadletter_topic
        self._sink = ElasticsearchSink(client, max_retry_seconds=max_retry_seconds, on_retry=self._retried)
        self._consumer = Consumer(client_config(bootstrap, {
            "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": False,
            "fetch.wait.max.ms": int(max_wait * 1000), "session.timeout.ms": 10_000, "heartbeat.interval.ms": 1000,
        }))
        self._producer = Producer(client_config(bootstrap, {"linger.ms": 5, "acks": "all"})) if deadletter_topic else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_topic: str | None = None
        self.error: BaseException | None = None
        self.rejected = 0  # documents Elasticsearch refused, dead-lettered

    def _retried(self) -> None:
        if self.metrics is not None and self._retry_topic is not None:
            self.metrics.sink_retries.labels(self.indices[self._retry_topic]).inc()

    def subscribe(self) -> TopicSink:
        """Join the group (``start`` does; call it alone to drive :meth:`step` by hand)."""
        self._consumer.subscribe(list(self.indices))
        return self

    def start(self) -> TopicSink:
        self.subscribe()
        self._thread = threading.Thread(target=self._run, name="veil-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._consumer.close()
        if self._producer is not None:
            self._producer.flush(10)

    @property
    def assigned(self) -> bool:
        """Whether the group gave this sink partitions yet."""
        return bool(self._consumer.assignment())

    def _wait(self, seconds: float) -> None:
        """Pass the time during a retry: paused partitions, but still polling."""
        parts = self._consumer.assignment()
        self._consumer.pause(parts)
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            self._consumer.poll(min(0.2, max(0.0, end - time.monotonic())))
        self._consumer.resume(parts)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.step()
        except BaseException as err:  # noqa: BLE001 - recorded for the worker's health check
            if not self._stop.is_set():
                log.error("sink stopped: %s", type(err).__name__)
                self.error = err

    def step(self) -> int:
        """One batch: consume, index, dead-letter what Elasticsearch refused, commit. Returns the
        documents indexed."""
        messages = self._consumer.consume(self.max_docs, self.max_wait)
        if not messages:
            return 0
        started = time.perf_counter()
        counts: dict[str, int] = {}  # index -> documents sent to it
        for m in messages:
            if (error := m.error()) is not None:
                log.warning("sink: consumer error %s", error.name())
                continue
            value, topic, partition, offset = m.value(), m.topic(), m.partition(), m.offset()
            if not value or topic is None or partition is None or offset is None:
                continue  # a consumed message without an error has all three
            origin = SourceRef(topic=topic, partition=partition, offset=offset)
            index = self.indices[topic]
            try:
                if topic == self.deadletter_topic:
                    doc = deadletter_document(loads(DeadLetter, value))
                    doc_id, value = doc.id, dumps(doc)
                else:
                    doc_id = orjson.loads(value)["id"]
            except (ValueError, KeyError, TypeError):  # not Veil's output: a bug, never data to index
                log.error("sink: skipped a message without an id topic=%s partition=%d offset=%d",
                          m.topic(), m.partition(), m.offset())
                continue
            self._sink.add(index, doc_id, value, origin)
            counts[index] = counts.get(index, 0) + 1
            self._retry_topic = m.topic()
        result = self._sink.flush_with_retry(self._wait, self._stop.is_set)
        if result.rejected:
            self._dead_letter(result.rejected)
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as err:
            if err.args[0].code() != KafkaError._NO_OFFSET:  # a rebalance, say: the batch is read (and written) again
                log.warning("sink: commit failed error=%s", err.args[0].name())
        if self.metrics is not None:
            seconds = time.perf_counter() - started
            for r in result.rejected:
                counts[r.pending.index] -= 1
            total = sum(counts.values()) or 1
            for index, n in counts.items():
                self.metrics.indexed.labels(index).inc(n)
                self.metrics.sink_seconds.labels(index).inc(seconds * n / total)
        return result.indexed

    def _dead_letter(self, rejected: list[Rejected]) -> None:
        """Documents Elasticsearch refused for good: a dead letter each (its reason and where the
        document lies on its topic, not the document), on the broker before the batch is committed."""
        for r in rejected:
            p = r.pending
            log.error("sink: Elasticsearch rejected a document index=%s status=%d error=%s", p.index, r.status, r.error_type)
            if self.metrics is not None:
                self.metrics.dead_letters.labels("index", r.error_type).inc()
            if p.origin is None or self._producer is None or self.deadletter_topic is None \
                    or p.origin.topic == self.deadletter_topic:
                continue  # a dead letter's own document: counted and logged, never dead-lettered again
            self.rejected += 1
            body = p.lines.split(b"\n", 2)[1]
            try:
                batch = orjson.loads(body).get("batch")
            except (orjson.JSONDecodeError, AttributeError):
                batch = None
            dl = DeadLetter(reason=f"Elasticsearch rejected the document ({r.status} {r.error_type}): {r.reason}",
                            error_type=r.error_type, origin=p.origin, batch=batch, payload="", sealed=False,
                            stage="index", payload_bytes=len(body))
            self._producer.produce(self.deadletter_topic, value=dumps(dl), key=p.doc_id.encode())
        if self._producer is not None and self._producer.flush(30):
            raise SinkError("dead letters of rejected documents not delivered; the batch is not committed")


def client_options(settings: ElasticsearchSettings) -> dict[str, Any]:
    """Connection options shared by the sink and the admin client."""
    options: dict[str, Any] = {"request_timeout": 30}
    if settings.api_key:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.username and settings.password:
        options["basic_auth"] = (settings.username, settings.password.get_secret_value())
    if settings.ca_certs:
        options["ca_certs"] = str(settings.ca_certs)
    return options


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    return Elasticsearch(settings.url, **client_options(settings))
