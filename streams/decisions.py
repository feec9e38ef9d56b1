"""The decision cache shared through the compacted ``veil.decisions`` topic.

Every worker publishes the decisions its security model makes (key: the cache key, a keyed hash;
value: the decision without any text) and follows the topic from the beginning, so a worker that
restarts, or takes over partitions in a rebalance, starts warm. An entry made for another model
than the one served now is skipped: a promotion invalidates the cache.

Whoever can write to the topic would otherwise decide what Veil redacts (an entry flipped from
redact to keep lets the next lines of its template through in clear). So every entry carries a MAC
(HMAC-SHA256 under the decisions key, in the ``veil-mac`` header) over its key and its whole value
(served model, verdict, confidence, rationale, model and version); an entry without one, or whose
MAC does not verify, is ignored and counted. Set Kafka ACLs as well: only the workers' principal
may write ``veil.decisions``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from pydantic import ValidationError

from veil.cache import CachedDecision, DecisionCache
from veil.composition import KafkaConnection, client_config
from veil.schemas import dumps, loads

log = logging.getLogger(__name__)


MAC_HEADER = "veil-mac"
_MAC_VERSION = b"v1:"


def entry_mac(secret: bytes, key: bytes, value: bytes) -> bytes:
    """The MAC of one shared entry: its version, key and value bytes, unambiguously joined."""
    message = b"%d:" % len(key) + key + value
    return _MAC_VERSION + hmac.digest(secret, b"veil/decisions/v1\x00" + message, "sha256").hex().encode()


class DecisionShare:
    def __init__(self, cache: DecisionCache, *, bootstrap: KafkaConnection, topic: str, group: str,
                 served: Callable[[], str], secret: bytes,
                 on_reject: Callable[[str], None] | None = None) -> None:
        if not secret:
            raise ValueError("shared decisions need a key to sign them with")
        self.cache, self.topic, self.served = cache, topic, served
        self.loaded = self.skipped = self.rejected = 0
        self._secret = secret
        self._on_reject = on_reject
        self._producer = Producer(client_config(bootstrap, {"linger.ms": 50, "enable.idempotence": False}))
        self._kafka, self._group = bootstrap, group
        self._stopping = False
        cache.on_store = self.publish

    def publish(self, key: str, entry: CachedDecision) -> None:
        """Hand an entry, signed, to the producer (non-blocking; librdkafka batches and sends it)."""
        raw_key, value = key.encode(), dumps(entry)
        try:
            self._producer.produce(self.topic, key=raw_key, value=value,
                                   headers=[(MAC_HEADER, entry_mac(self._secret, raw_key, value))])
            self._producer.poll(0)
        except BufferError:
            log.warning("decision share: producer queue full, entry not shared")

    async def follow(self) -> None:
        """Load the topic from the beginning, then keep reading what other workers publish."""
        consumer = Consumer(client_config(self._kafka, {"group.id": self._group, "enable.auto.commit": False}))

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
                        self._load(msg.key(), msg.value(), msg.headers())
        finally:
            consumer.close()

    def _verified(self, key: bytes, value: bytes, headers) -> bool:
        given = [v for k, v in headers or () if k == MAC_HEADER]
        reason = None
        if len(given) != 1 or not given[0]:
            reason = "unsigned"
        elif not hmac.compare_digest(bytes(given[0]), entry_mac(self._secret, key, value)):
            reason = "bad_mac"
        if reason is None:
            return True
        self.rejected += 1
        if self._on_reject is not None:
            self._on_reject(reason)
        if self.rejected in (1, 10, 100, 1000) or self.rejected % 10_000 == 0:
            log.warning("decision share: ignored %d entries that are unsigned or do not verify (last: %s); "
                        "check who can write %s", self.rejected, reason, self.topic)
        return False

    def _load(self, key: bytes | None, value: bytes | None, headers=None) -> None:
        if key is None or value is None:  # a tombstone
            return
        if not self._verified(key, value, headers):
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
