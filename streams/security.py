"""The security stage on a Ray actor pool: each actor loads the security model once."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path

import ray

from schemas import DecideRequest, DecideResponse, dumps, loads
from veil.settings import RaySettings

log = logging.getLogger(__name__)


@ray.remote
class SecurityActor:
    """Holds one security model and judges candidates; plain bytes in and out (orjson)."""

    def __init__(self, model_path: str, name: str, version: str, n_threads: int, n_ctx: int) -> None:
        import os

        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spin-waiting threads starve the other model
        from models.llamacpp import LlamaCppProvider
        from models.roles import SecurityJudge

        provider = LlamaCppProvider(model_path=Path(model_path), name=name, version=version,
                                    n_threads=n_threads, n_ctx=n_ctx)
        self._judge = SecurityJudge(provider)
        self._model = f"{name}@{version}"

    def decide(self, raw: bytes) -> bytes:
        request = loads(DecideRequest, raw)
        decisions = [d for f in request.findings if (d := self._judge.judge(request.text, f)) is not None]
        return dumps(DecideResponse(record_id=request.record_id, decisions=decisions))

    def model(self) -> str:
        return self._model


class SecurityPool:
    """Round-robin over actors with a bound on in-flight calls, awaited without blocking the loop."""

    def __init__(self, *, settings: RaySettings, model_path: Path, name: str, version: str,
                 n_threads: int, n_ctx: int) -> None:
        if not ray.is_initialized():
            if settings.address:
                ray.init(address=settings.address, log_to_driver=False)
            else:
                ray.init(num_cpus=max(2, int(settings.pool_size * settings.actor_cpus) + 1),
                         include_dashboard=False, object_store_memory=settings.object_store_mb << 20,
                         log_to_driver=False, configure_logging=False)
        self.model = f"{name}@{version}"
        self._actors = [
            SecurityActor.options(num_cpus=settings.actor_cpus).remote(str(model_path), name, version, n_threads, n_ctx)
            for _ in range(settings.pool_size)
        ]
        ray.get([a.model.remote() for a in self._actors])  # fail at start-up, not on the first record
        self._next = itertools.cycle(self._actors)
        self._slots = asyncio.Semaphore(settings.pool_size * settings.max_in_flight)

    async def decide(self, request: DecideRequest) -> DecideResponse:
        async with self._slots:
            raw = await next(self._next).decide.remote(dumps(request))
        return loads(DecideResponse, raw)

    def close(self) -> None:
        for a in self._actors:
            ray.kill(a)
        self._actors = []
