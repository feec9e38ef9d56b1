"""Micro-batching of concurrent calls, with a bound on the batches in flight.

Calls that arrive while every slot is busy wait in a queue; when a slot frees, everything queued
(up to ``max_items``) leaves as one batch. Under light load a call goes out at once, alone; under
load batches grow by themselves, so the per-call overhead (a Ray round trip, serialisation) is
paid once per batch. ``window_s`` optionally holds a batch open a little longer to fill it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)


class MicroBatcher(Generic[T, R]):
    def __init__(self, send: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_items: int, max_batches: int,
                 window_s: float = 0.0) -> None:
        if max_items < 1 or max_batches < 1:
            raise ValueError("max_items and max_batches must be at least 1")
        self._send, self.max_items, self.window_s = send, max_items, window_s
        self._slots = asyncio.Semaphore(max_batches)
        self._queue: asyncio.Queue[tuple[T, asyncio.Future]] = asyncio.Queue()
        self._runner: asyncio.Task | None = None
        self._inflight: set[asyncio.Task] = set()
        self.batches = 0  # sent so far (for metrics and tests)

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait for its result (or the batch's error)."""
        fut = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, fut))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()
            batch = [await self._queue.get()]
            deadline = loop.time() + self.window_s
            while len(batch) < self.max_items:
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
            task = asyncio.create_task(self._deliver(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _deliver(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        self.batches += 1
        try:
            results = await self._send([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} answered with {len(results)} results")
        except Exception as err:  # noqa: BLE001 - each caller gets the batch's error
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(err)
        else:
            for (_, fut), result in zip(batch, results):
                if not fut.done():  # a caller that gave up (cancelled) no longer waits
                    fut.set_result(result)
        finally:
            self._slots.release()

    async def close(self) -> None:
        """Stop taking batches; those in flight finish."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        await asyncio.gather(*self._inflight, return_exceptions=True)
