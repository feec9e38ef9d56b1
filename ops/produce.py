"""Producing JSONL or text lines to a topic, as-is: validation is the pipeline's job."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import Producer

from veil.errors import VeilError


def read_records(path: Path, fmt: str) -> list[bytes]:
    """One record per non-empty line. ``fmt`` is ``jsonl`` or ``text``; both are sent verbatim."""
    if fmt not in ("jsonl", "text"):
        raise VeilError(f"unknown format {fmt!r}; use jsonl or text")
    with path.open("rb") as fh:
        return [line.rstrip(b"\r\n") for line in fh if line.strip()]


def produce(bootstrap: str, topic: str, values: Iterable[bytes], *, batch: str | None = None,
            timeout: float = 30.0) -> int:
    """Send values and wait for every delivery report. Returns the number delivered."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    errors: list[str] = []
    delivered = 0

    def on_delivery(err, _msg) -> None:
        nonlocal delivered
        if err is not None:
            errors.append(str(err))
        else:
            delivered += 1

    headers = [("veil-batch", batch.encode())] if batch else None
    sent = 0
    for value in values:
        producer.produce(topic, value=value, headers=headers, on_delivery=on_delivery)
        producer.poll(0)
        sent += 1
    remaining = producer.flush(timeout)
    if remaining or errors:
        raise VeilError(f"{sent - delivered} of {sent} records not delivered to {topic}: "
                        f"{errors[0] if errors else 'flush timed out'}")
    return delivered
