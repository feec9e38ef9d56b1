"""The security stage on a Ray actor pool: each actor loads the security model once.

Records reach the actors in micro-batches (:class:`~streams.batching.MicroBatcher`): one Ray call
carries every record that queued while the pool was busy, and at most ``max_in_flight`` batches
per actor are out at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable

import orjson
import ray

from veil.models.metrics import ModelStats
from veil.schemas import DecideRequest, DecideResponse, dumps, loads
from veil.settings import ModelSettings, RaySettings
from veil.streams.batching import MicroBatcher

log = logging.getLogger(__name__)


def dumps_stats(stats: dict[str, ModelStats]) -> bytes:
    return orjson.dumps({k: v.model_dump() for k, v in stats.items()})


def loads_stats(raw: bytes) -> dict[str, ModelStats]:
    return {k: ModelStats.model_validate(v) for k, v in orjson.loads(raw).items()}


@ray.remote
class SecurityActor:
    """Holds the security model (its provider chain) and judges candidates; bytes in and out (orjson).

    Threaded (``max_concurrency`` set by the pool) so that a hot-swap loads the new version while
    ``decide`` calls keep being served by the old one. The records of one batch are judged on
    ``parallel`` threads: a remote server (Ollama, vLLM) serves them at once, an in-process model
    takes them one at a time.
    """

    def __init__(self, models: ModelSettings, parallel: int = 1) -> None:
        import os
        from concurrent.futures import ThreadPoolExecutor

        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spin-waiting threads starve the other model
        from veil.models import build

        self._build = build
        self._manager = build.manager(models, ("security",), load_now=True)
        self._judge = build.judge(models, self._manager)
        self._threads = ThreadPoolExecutor(max(1, parallel), thread_name_prefix="judge")

    def decide_many(self, raws: list[bytes]) -> list[bytes]:
        """One micro-batch: a response per request, in order."""
        return list(self._threads.map(self.decide, raws))

    def decide(self, raw: bytes) -> bytes:
        from veil.cache import marked_context
        from veil.errors import ProviderError

        request = loads(DecideRequest, raw)
        decisions, unavailable = [], None
        started = time.monotonic()
        try:
            asked = (zip(request.findings, request.contexts) if request.contexts else
                     ((f, marked_context(request.text, f.start, f.end)) for f in request.findings))
            for f, context in asked:
                if request.budget_s is not None and time.monotonic() - started > request.budget_s:
                    unavailable = "budget"  # the rest are redacted by the stage: fail closed
                    break
                if (d := self._judge.judge_context(context, f)) is not None:
                    decisions.append(d)
        except ProviderError as err:
            unavailable = f"{type(err).__name__}: {str(err)[:200]}"
        return dumps(DecideResponse(record_id=request.record_id, decisions=decisions, unavailable=unavailable))

    def model(self) -> str:
        current = self._manager.current("security")
        return f"{current.name}@{current.version}"

    def metrics(self) -> bytes:
        """This actor's per-model call figures (its process's registry)."""
        from veil.models.metrics import METRICS

        return dumps_stats(METRICS.snapshot())

    def swap(self, models: ModelSettings) -> str:
        """Load the security model ``models`` names, switch to it, drain the old one; the judge
        follows (a tuned model may want another prompt)."""
        self._manager.swap("security", self._build.source("security", models))
        self._judge = self._build.judge(models, self._manager)
        return self.model()


class SecurityPool:
    """Micro-batches round-robin over the actors, a bounded number in flight, awaited without blocking the loop."""

    def __init__(self, *, settings: RaySettings, models: ModelSettings,
                 on_batch: Callable[[int], object] | None = None) -> None:
        if not ray.is_initialized():
            if settings.address:
                ray.init(address=settings.address, log_to_driver=False)
            else:
                ray.init(num_cpus=max(2, int(settings.pool_size * settings.actor_cpus) + 1),
                         include_dashboard=False, object_store_memory=settings.object_store_mb << 20,
                         log_to_driver=False, configure_logging=False)
        threads = settings.max_in_flight + 2  # batches, plus a swap and a metrics call beside them
        actor = SecurityActor.options(num_cpus=settings.actor_cpus, max_concurrency=threads)  # type: ignore[attr-defined]
        self._actors = [actor.remote(models, settings.batch_parallel) for _ in range(settings.pool_size)]
        self.model = ray.get([a.model.remote() for a in self._actors])[0]  # fail at start-up, not on the first record
        self._next = itertools.cycle(self._actors)
        self._settings = settings
        self._batcher: MicroBatcher[bytes, bytes] | None = None
        self._batcher_loop: asyncio.AbstractEventLoop | None = None
        self.last_metrics: list[dict[str, ModelStats]] = []
        self.batches = self.batched_records = 0
        self._on_batch = on_batch

    @property
    def batcher(self) -> MicroBatcher[bytes, bytes]:
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher_loop is not loop:  # its queue belongs to one event loop
            s, self._batcher_loop = self._settings, loop
            self._batcher = MicroBatcher(self._send, max_items=s.batch_max, window_s=s.batch_window_ms / 1000,
                                         max_batches=s.pool_size * s.max_in_flight)
        return self._batcher

    async def _send(self, raws: list[bytes]) -> list[bytes]:
        self.batches += 1
        self.batched_records += len(raws)
        if self._on_batch is not None:
            self._on_batch(len(raws))
        return await next(self._next).decide_many.remote(raws)

    async def decide(self, request: DecideRequest) -> DecideResponse:
        return loads(DecideResponse, await self.batcher.submit(dumps(request)))

    def metrics(self) -> list[dict[str, ModelStats]]:
        """Per-model figures from each actor, in actor order (blocking)."""
        return [loads_stats(raw) for raw in ray.get([a.metrics.remote() for a in self._actors])]

    async def refresh_metrics(self) -> None:
        """Fetch the actors' figures without blocking the event loop; ``last_metrics`` keeps them."""
        raws = await asyncio.gather(*(a.metrics.remote() for a in self._actors))
        self.last_metrics = [loads_stats(raw) for raw in raws]

    def swap(self, models: ModelSettings) -> str:
        """Rolling hot-swap: one actor at a time, so the others keep serving at full speed."""
        for actor in self._actors:
            self.model = ray.get(actor.swap.remote(models))
        log.info("security pool swapped model=%s actors=%d", self.model, len(self._actors))
        return self.model

    def close(self) -> None:
        for a in self._actors:
            ray.kill(a)
        self._actors = []
