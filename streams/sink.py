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
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException
from elasticsearch import Elasticsearch

from veil.errors import SinkError
from veil.settings import ElasticsearchSettings, KafkaConnection, client_config

log = logging.getLogger(__name__)


class ElasticsearchSink:
    """Buffers documents and writes them in one bulk request per flush.

    A document may be given as the JSON bytes read from Kafka: they go into the request as they
    are, never parsed and re-written.
    """

    def __init__(self, client: Elasticsearch, *, max_retry_seconds: float = 30.0,
                 on_retry: Callable[[], None] | None = None) -> None:
        self._client = client
        self._buffer: list[bytes] = []  # NDJSON pairs: action line, source line
        self._max_retry = max_retry_seconds
        self._on_retry = on_retry

    def add(self, index: str, doc_id: str, source: dict[str, Any] | bytes) -> None:
        body = source if isinstance(source, bytes) else orjson.dumps(source)
        self._buffer.append(b'{"index":' + orjson.dumps({"_index": index, "_id": doc_id}) + b"}\n" + body + b"\n")

    def __len__(self) -> int:
        return len(self._buffer)

    def flush(self) -> int:
        """Write the buffer once; raises :class:`SinkError` and keeps the buffer on failure."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        try:
            response = self._client.bulk(operations=b"".join(batch), refresh=False)
        except Exception as err:  # transport errors of every kind: ES is down or overloaded
            self._buffer = batch + self._buffer
            raise SinkError(f"bulk failed: {type(err).__name__}") from err
        if response.get("errors"):
            failed = [item for entry in response["items"] for item in entry.values() if item.get("status", 500) >= 300]
            self._buffer = batch + self._buffer  # ids make the rewrite of those that went in harmless
            reasons = {str(item.get("error", {}).get("type", "unknown")) for item in failed}
            raise SinkError(f"bulk rejected {len(failed)} documents: {sorted(reasons)}")
        return len(batch)

    def flush_with_retry(self, wait: Callable[[float], Any] = time.sleep,
                         stopping: Callable[[], bool] = lambda: False) -> int:
        """Flush until it succeeds, backing off with jitter; never drops a document. ``wait`` is how
        to pass the time between tries (a consumer polls meanwhile, to stay in its group); gives up
        (raising) only when ``stopping`` says so."""
        delay = 0.2
        while True:
            try:
                return self.flush()
            except SinkError as err:
                if stopping():
                    raise
                log.warning("sink flush failed, retrying error=%s delay=%.1fs pending=%d", err, delay, len(self))
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
                 metrics=None) -> None:
        self.indices = indices
        self.max_docs, self.max_wait = max_docs, max_wait
        self.metrics = metrics
        self._sink = ElasticsearchSink(client, max_retry_seconds=max_retry_seconds, on_retry=self._retried)
        self._consumer = Consumer(client_config(bootstrap, {
            "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": False,
            "fetch.wait.max.ms": int(max_wait * 1000), "session.timeout.ms": 10_000, "heartbeat.interval.ms": 1000,
        }))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_topic: str | None = None
        self.error: BaseException | None = None

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
        """One batch: consume, index, commit. Returns the documents indexed."""
        messages = self._consumer.consume(self.max_docs, self.max_wait)
        if not messages:
            return 0
        started = time.perf_counter()
        counts: dict[str, int] = {}
        for m in messages:
            if m.error() is not None:
                log.warning("sink: consumer error %s", m.error().name())
                continue
            value = m.value()
            if not value:
                continue
            index = self.indices[m.topic()]
            try:
                doc_id = orjson.loads(value)["id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):  # not Veil's output: a bug, never data to index
                log.error("sink: skipped a message without an id topic=%s partition=%d offset=%d",
                          m.topic(), m.partition(), m.offset())
                continue
            self._sink.add(index, doc_id, value)
            counts[index] = counts.get(index, 0) + 1
            self._retry_topic = m.topic()
        self._sink.flush_with_retry(self._wait, self._stop.is_set)
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as err:
            if err.args[0].code() != KafkaError._NO_OFFSET:  # a rebalance, say: the batch is read (and written) again
                log.warning("sink: commit failed error=%s", err.args[0].name())
        if self.metrics is not None:
            seconds = time.perf_counter() - started
            total = sum(counts.values()) or 1
            for index, n in counts.items():
                self.metrics.indexed.labels(index).inc(n)
                self.metrics.sink_seconds.labels(index).inc(seconds * n / total)
        return sum(counts.values())


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
