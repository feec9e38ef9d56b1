"""The decision cache shared through the compacted ``veil.decisions`` topic.

Every worker publishes the decisions its security model makes (key: the cache key, a keyed hash;
value: the decision without any text) and follows the topic from the beginning, so a worker that
restarts, or takes over partitions in a rebalance, starts warm. An entry made for another model
than the one served now is skipped: a promotion invalidates the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from pydantic import ValidationError

from veil.schemas import dumps, loads
from veil.cache import CachedDecision, DecisionCache

log = logging.getLogger(__name__)


class DecisionShare:
    def __init__(self, cache: DecisionCache, *, bootstrap: str, topic: str, group: str,
                 served: Callable[[], str]) -> None:
        self.cache, self.topic, self.served = cache, topic, served
        self.loaded = self.skipped = 0
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "enable.idempotence": False})
        self._consumer_config = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
        self._stopping = False
        cache.on_store = self.publish

    def publish(self, key: str, entry: CachedDecision) -> None:
        """Hand an entry to the producer (non-blocking; librdkafka batches and sends it)."""
        try:
            self._producer.produce(self.topic, key=key.encode(), value=dumps(entry))
            self._producer.poll(0)
        except BufferError:
            log.warning("decision share: producer queue full, entry not shared")

    async def follow(self) -> None:
        """Load the topic from the beginning, then keep reading what other workers publish."""
        consumer = Consumer(self._consumer_config)

        def assign() -> None:  # metadata calls block: keep them off the event loop
            parts = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in parts])

        def take() -> list:
            return consumer.consume(500, timeout=1.0)

        try:
            await asyncio.to_thread(assign)
            while not self._stopping:
                for msg in await asyncio.to_thread(take):
                    if msg.error() is None:
                        self._load(msg.key(), msg.value())
        finally:
            consumer.close()

    def _load(self, key: bytes | None, value: bytes | None) -> None:
        if key is None or value is None:  # a tombstone
            return
        try:
            entry = loads(CachedDecision, value)
        except (ValidationError, ValueError):
            self.skipped += 1
            return
        if entry.served != self.served():
            self.skipped += 1
            return
        self.cache.put(key.decode(), entry, publish=False)
        self.loaded += 1

    def close(self) -> None:
        self._stopping = True
        self._producer.flush(5)
