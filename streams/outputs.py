"""What the agents write to Kafka, through one librdkafka producer.

Faust's own producer costs a few hundred microseconds of Python per message; librdkafka takes a
message in a few microseconds and batches it in C. The agents hand it every output of a batch of
records and then :meth:`Outputs.flush` before the batch is acknowledged, so an input offset is
committed only after everything made from it is on the broker (at least once, as before).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from confluent_kafka import KafkaError, Producer

from veil.composition import KafkaConnection, client_config
from veil.errors import SinkError

log = logging.getLogger(__name__)


class Outputs:
    def __init__(self, bootstrap: KafkaConnection, *, linger_ms: int = 5, extra: dict | None = None) -> None:
        self._producer = Producer(client_config(bootstrap, {
            "linger.ms": linger_ms,
            "acks": "all",
            "enable.idempotence": False,  # keys give the idempotence that matters: documents keep their ids
            "queue.buffering.max.kbytes": 256 * 1024,
            **(extra or {}),
        }))
        self._failed: list[str] = []
        self._lock = threading.Lock()

    def _delivered(self, err: KafkaError | None, msg) -> None:
        if err is not None:
            with self._lock:
                self._failed.append(f"{msg.topic()}: {err.name()}")

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Queue one message (non-blocking unless librdkafka's queue is full)."""
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._delivered)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.05)

    def _flush(self, timeout: float) -> None:
        left = self._producer.flush(timeout)
        with self._lock:
            failed, self._failed = self._failed, []
        if left:
            raise SinkError(f"{left} messages not delivered within {timeout:.0f}s")
        if failed:
            raise SinkError(f"{len(failed)} messages not delivered: {sorted(set(failed))[:3]}")

    async def flush(self, timeout: float = 60.0) -> None:
        """Wait until every queued message is on the broker; raises :class:`SinkError` if any was
        not (the caller then must not acknowledge what made them)."""
        await asyncio.to_thread(self._flush, timeout)

    def close(self, timeout: float = 10.0) -> None:
        left = self._producer.flush(timeout)
        if left:
            log.warning("outputs: %d messages still queued at close", left)
