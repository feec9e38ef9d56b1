"""What the stream does with a record a stage could not process, as one named, injectable policy
(the agents call it; a test drives it alone): the record's dead letter, with its reason, on the
dead-letter topic; and when a stage has failed on too many records in a row, the worker stops
(non-zero) with the batch in hand unacknowledged, so its offsets are not committed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from veil.schemas import SourceRef, dumps
from veil.schemas.records import Stage
from veil.sealing import Sealer
from veil.streams.health import Health
from veil.streams.stages import dead_letter
from veil.streams.telemetry import WorkerMetrics

log = logging.getLogger(__name__)

#: how long a worker that is about to stop itself reports 503 first (for whoever watches /health)
FATAL_GRACE_S = 2.0


class Sender(Protocol):
    """Where dead letters go (``veil.streams.outputs.Outputs``)."""

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None: ...

    async def flush(self) -> None: ...


@dataclass
class FailurePolicy:
    outputs: Sender
    topic: str  #: the dead-letter topic
    sealer: Sealer
    health: Health
    metrics: WorkerMetrics
    max_payload: int  #: bytes of a record a dead letter keeps (sealed)
    #: stops the worker without acknowledging the batch in hand; never returns
    stop: Callable[[], Awaitable[None]]
    grace_s: float = FATAL_GRACE_S

    async def dead_letter(self, err: Exception, raw: bytes | None, origin: SourceRef, stage: Stage,
                          batch: str | None) -> None:
        """The record's dead letter (its reason, never its text in plain), counted; the stream goes on."""
        dl = dead_letter(err, origin, raw, stage=stage, batch=batch, sealer=self.sealer, max_payload=self.max_payload)
        log.info("dead letter stage=%s topic=%s partition=%d offset=%d reason=%s", stage, dl.origin.topic,
                 dl.origin.partition, dl.origin.offset, dl.reason)
        self.outputs.send(self.topic, dumps(dl))
        self.metrics.dead_letters.labels(stage, type(err).__name__).inc()

    async def failed(self, err: Exception, raw: bytes | None, origin: SourceRef, stage: Stage,
                     batch: str | None) -> None:
        """A record the stage could not process: its dead letter; if the stage has now failed on
        too many records in a row, the dead letters so far are flushed and the worker stops."""
        await self.dead_letter(err, raw, origin, stage, batch)
        if self.health.failed(stage, err):
            log.critical("stopping the worker: %s", self.health.fatal)
            await self.outputs.flush()
            await asyncio.sleep(self.grace_s)  # /health answers 503 meanwhile
            await self.stop()


__all__ = ["FATAL_GRACE_S", "FailurePolicy", "Sender"]
