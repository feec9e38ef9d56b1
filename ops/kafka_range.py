"""Reading a bounded range of a topic (by offset or by time) and writing messages back.

Used by ``veil replay``, ``veil deadletter`` and ``veil review``. Partitions are assigned directly
(no group join): reading a range is not consuming a stream.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, Producer, TopicPartition

from veil.composition import KafkaConnection, client_config
from veil.errors import ConfigError, VeilError

_RELATIVE = re.compile(r"^-(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True, slots=True)
class Position:
    """Where a range starts or ends: an offset (the same on every partition), a time, or an end."""

    offset: int | None = None
    time_ms: int | None = None
    special: str | None = None  # "earliest" or "latest"

    @classmethod
    def parse(cls, spec: str, now: datetime | None = None) -> Position:
        """``earliest``, ``latest``, an offset (``1200``), an ISO time (``2026-11-20T10:00:00Z``) or
        a time relative to now (``-30m``, ``-2h``, ``-1d``)."""
        spec = spec.strip()
        if spec in ("earliest", "latest"):
            return cls(special=spec)
        if spec.isdigit():
            return cls(offset=int(spec))
        if m := _RELATIVE.match(spec):
            when = (now or datetime.now(UTC)) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
            return cls(time_ms=int(when.timestamp() * 1000))
        try:
            when = datetime.fromisoformat(spec.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"cannot read position {spec!r}: use earliest, latest, an offset, an ISO time or -30m") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return cls(time_ms=int(when.timestamp() * 1000))


#: Kafka record headers as the client reads and writes them.
Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers


def _consumer(bootstrap: KafkaConnection) -> Consumer:
    return Consumer(client_config(bootstrap, {"group.id": "veil-range-reader", "enable.auto.commit": False,
                                              "auto.offset.reset": "earliest", "enable.partition.eof": False}))


def _starts(c: Consumer, topic: str, partitions: list[int], pos: Position) -> dict[int, int]:
    if pos.special == "latest":
        return dict.fromkeys(partitions, OFFSET_END)
    if pos.offset is not None:
        return dict.fromkeys(partitions, pos.offset)
    if pos.time_ms is not None:
        found = c.offsets_for_times([TopicPartition(topic, p, pos.time_ms) for p in partitions], timeout=10)
        return {tp.partition: tp.offset if tp.offset >= 0 else OFFSET_END for tp in found}
    return dict.fromkeys(partitions, OFFSET_BEGINNING)


def read_range(bootstrap: KafkaConnection, topic: str, start: Position, stop: Position | None = None, *,
               idle_s: float = 2.0) -> Iterator[Message]:
    """Messages of ``topic`` from ``start`` up to ``stop``, in offset order per partition.

    ``stop`` is inclusive for an offset and exclusive for a time; ``latest`` (the default) means
    the messages written before the read began, told by their timestamps. Reading ends once every
    partition is past its end or nothing has arrived for ``idle_s``. High watermarks are not used
    and time lookups only narrow the start: the embedded broker reports both wrong.
    """
    stop = stop or Position(special="latest")
    until_ms = int(time.time() * 1000) if stop.special == "latest" else stop.time_ms
    c = _consumer(bootstrap)
    try:
        meta = c.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise ConfigError(f"topic {topic} does not exist")
        partitions = sorted(meta.partitions)
        if stop.special == "earliest":
            return
        todo = set(partitions)
        c.assign([TopicPartition(topic, p, o) for p, o in _starts(c, topic, partitions, start).items()])
        quiet_until = time.monotonic() + idle_s
        while todo and time.monotonic() < quiet_until:
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise VeilError(f"reading {topic}: {msg.error()}")
            quiet_until = time.monotonic() + idle_s
            p, offset, ts = msg.partition(), msg.offset(), msg.timestamp()[1]
            if p is None or offset is None or p not in todo or (start.time_ms is not None and ts < start.time_ms):
                continue  # offsets_for_times only narrows the start; timestamps decide
            if (stop.offset is not None and offset > stop.offset) or (until_ms is not None and ts >= until_ms):
                todo.discard(p)
                c.incremental_unassign([TopicPartition(topic, p)])
                continue
            raw = msg.headers() or []
            yield Message(topic=topic, partition=p, offset=offset, timestamp_ms=ts, key=msg.key(), value=msg.value(),
                          headers=list(raw.items() if isinstance(raw, dict) else raw))
    except KafkaException as err:
        raise VeilError(f"reading {topic}: {err}") from err
    finally:
        c.close()


class Writer:
    """An idempotent producer that raises if any message was not delivered."""

    def __init__(self, bootstrap: KafkaConnection, *, max_message_bytes: int = 1_000_000) -> None:
        self._p = Producer(client_config(bootstrap, {"enable.idempotence": True, "linger.ms": 5,
                                                     "message.max.bytes": max_message_bytes}))
        self._errors: list[str] = []
        self.sent = 0

    def _report(self, err, _msg) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send(self, topic: str, value: bytes | None, key: bytes | None = None,
             headers: Headers | None = None) -> None:
        self._p.produce(topic, value=value, key=key, headers=headers, on_delivery=self._report)
        self._p.poll(0)
        self.sent += 1

    def close(self, timeout: float = 30.0) -> None:
        left = self._p.flush(timeout)
        if left or self._errors:
            raise VeilError(f"{left or len(self._errors)} of {self.sent} messages not delivered: "
                            f"{self._errors[0] if self._errors else 'flush timed out'}")


__all__ = ["Message", "Position", "Writer", "read_range"]
