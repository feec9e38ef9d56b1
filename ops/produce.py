"""Producing JSONL or text lines to a topic, as-is: validation is the pipeline's job."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from veil.composition import KafkaConnection
from veil.errors import VeilError
from veil.ops.kafka_range import Headers, Writer


def read_records(path: Path, fmt: str) -> list[bytes]:
    """One record per non-empty line. ``fmt`` is ``jsonl`` or ``text``; both are sent verbatim."""
    if fmt not in ("jsonl", "text"):
        raise VeilError(f"unknown format {fmt!r}; use jsonl or text")
    with path.open("rb") as fh:
        return [line.rstrip(b"\r\n") for line in fh if line.strip()]


def produce(bootstrap: KafkaConnection, topic: str, values: Iterable[bytes], *, batch: str | None = None,
            timeout: float = 30.0, max_message_bytes: int = 1_000_000) -> int:
    """Send values and wait for every delivery report. Returns the number delivered."""
    headers: Headers | None = [("veil-batch", batch.encode())] if batch else None
    writer = Writer(bootstrap, max_message_bytes=max_message_bytes)
    for value in values:
        writer.send(topic, value, headers=headers)
    writer.close(timeout)
    return writer.sent
