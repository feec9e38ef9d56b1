"""Loaded models by role: hot-swap without downtime, and a memory budget with LRU unloading.

Each role ("general", "security") is a slot served by one model version at a time. A swap loads
the new version first, checks it, then switches the slot in one step; calls already running on the
old version finish there, and the old one is closed when the last of them returns. Under a memory
budget, loading a model first unloads the least recently used idle ones; an unloaded slot loads
again on its next call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from veil.errors import ProviderError
from veil.models.provider import Provider
from veil.schemas import GenerationRequest, GenerationResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelSource:
    """How to load one model version, and what it is expected to cost in memory."""

    name: str
    version: str
    load: Callable[[], Provider]
    memory_mb: float = 0.0


@dataclass(eq=False)
class _Loaded:
    source: ModelSource
    provider: Provider | None = None
    in_flight: int = 0
    last_used: float = 0.0
    retired: bool = False  # swapped out: close once drained, never serve new calls


class MemoryBudgetExceeded(ProviderError):
    """A model cannot fit even after unloading every idle one."""


@dataclass
class ModelManager:
    budget_mb: float = 0.0  # 0: no budget
    wait_s: float = 60.0  # how long a load waits for busy models to free memory
    clock: Callable[[], float] = time.monotonic
    _slots: dict[str, _Loaded] = field(default_factory=dict)
    _retired: list[_Loaded] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _loading: dict[str, threading.Lock] = field(default_factory=dict)

    def register(self, slot: str, source: ModelSource, *, load_now: bool = False) -> None:
        with self._lock:
            if slot in self._slots:
                raise ValueError(f"slot {slot!r} exists; use swap()")
            self._slots[slot] = _Loaded(source)
            self._loading[slot] = threading.Lock()
        if load_now:
            with self.use(slot):
                pass

    # -- serving -------------------------------------------------------------------------------

    @contextmanager
    def use(self, slot: str) -> Iterator[Provider]:
        """The slot's current provider, loaded if needed, held against unloading until exit."""
        entry = self._acquire(slot)
        try:
            yield entry.provider  # type: ignore[misc]
        finally:
            self._release(entry)

    def _acquire(self, slot: str) -> _Loaded:
        while True:
            with self._lock:
                entry = self._slots[slot]
                if entry.provider is not None:
                    entry.in_flight += 1
                    entry.last_used = self.clock()
                    return entry
            with self._loading[slot]:  # one loader per slot; others wait, then find it loaded
                with self._lock:
                    if self._slots[slot] is not entry or entry.provider is not None:
                        continue
                self._load(entry)

    def _release(self, entry: _Loaded) -> None:
        close = None
        with self._lock:
            entry.in_flight -= 1
            if entry.retired and entry.in_flight == 0 and entry.provider is not None:
                close, entry.provider = entry.provider, None
                self._retired.remove(entry)
            self._lock.notify_all()
        if close is not None:
            close.close()
            log.info("model drained and closed model=%s@%s", entry.source.name, entry.source.version)

    def _load(self, entry: _Loaded) -> None:
        self._make_room(entry.source.memory_mb, keep=entry)
        started = time.perf_counter()
        provider = entry.source.load()
        with self._lock:
            entry.provider = provider
            entry.last_used = self.clock()
        log.info("model loaded model=%s@%s seconds=%.2f", entry.source.name, entry.source.version,
                 time.perf_counter() - started)

    # -- budget --------------------------------------------------------------------------------

    def loaded_mb(self) -> float:
        with self._lock:
            return sum(e.source.memory_mb for e in self._entries() if e.provider is not None)

    def _entries(self) -> list[_Loaded]:
        return [*self._slots.values(), *self._retired]

    def _make_room(self, need_mb: float, keep: _Loaded) -> None:
        """Unload least recently used idle models until ``need_mb`` more fits in the budget; wait up
        to ``wait_s`` for busy ones to finish."""
        if not self.budget_mb:
            return
        if need_mb > self.budget_mb:
            raise MemoryBudgetExceeded(f"{keep.source.name} needs {need_mb:.0f} MB; the budget is {self.budget_mb:.0f} MB")
        deadline = time.monotonic() + self.wait_s
        unloaded: list[tuple[_Loaded, Provider]] = []
        try:
            with self._lock:
                while True:
                    loaded = [e for e in self._entries() if e.provider is not None and e is not keep]
                    if self.budget_mb - sum(e.source.memory_mb for e in loaded) >= need_mb:
                        return
                    idle = [e for e in loaded if e.in_flight == 0]
                    if idle:
                        victim = min(idle, key=lambda e: e.last_used)
                        unloaded.append((victim, victim.provider))  # type: ignore[arg-type]
                        victim.provider = None
                        if victim.retired:
                            self._retired.remove(victim)
                        continue
                    if time.monotonic() > deadline:
                        raise MemoryBudgetExceeded(f"no room for {keep.source.name}: the loaded models are busy")
                    self._lock.wait(0.2)  # a busy model can be unloaded once its calls return
        finally:
            for e, provider in unloaded:
                provider.close()
                log.info("model unloaded for memory model=%s@%s", e.source.name, e.source.version)

    # -- hot swap ------------------------------------------------------------------------------

    def swap(self, slot: str, source: ModelSource, *, check: Callable[[Provider], None] | None = None) -> None:
        """Load ``source``, check it (its health, plus ``check`` when given), then switch ``slot``.

        Raises and leaves the slot as it was when the new version does not load or fails its check.
        """
        new = _Loaded(source)
        with self._loading[slot]:
            self._load(new)
            try:
                new.provider.health()  # type: ignore[union-attr]
                if check is not None:
                    check(new.provider)  # type: ignore[arg-type]
            except Exception:
                new.provider.close()  # type: ignore[union-attr]
                raise
            close = None
            with self._lock:
                old = self._slots[slot]
                self._slots[slot] = new
                if old.provider is not None:
                    old.retired = True
                    if old.in_flight == 0:
                        close, old.provider = old.provider, None
                    else:
                        self._retired.append(old)
        if close is not None:
            close.close()
        log.info("model swapped slot=%s from=%s@%s to=%s@%s", slot, old.source.name, old.source.version,
                 source.name, source.version)

    def current(self, slot: str) -> ModelSource:
        with self._lock:
            return self._slots[slot].source

    def draining(self) -> int:
        """Retired versions still finishing calls."""
        with self._lock:
            return len(self._retired)

    def close(self) -> None:
        with self._lock:
            providers = [e.provider for e in self._entries() if e.provider is not None]
            for e in self._entries():
                e.provider = None
            self._retired.clear()
        for p in providers:
            p.close()


class SlotProvider:
    """A :class:`Provider` view of one manager slot: roles call it and never see a swap."""

    backend = "managed"

    def __init__(self, manager: ModelManager, slot: str) -> None:
        self.manager, self.slot = manager, slot

    @property
    def name(self) -> str:
        return self.manager.current(self.slot).name

    @property
    def version(self) -> str:
        return self.manager.current(self.slot).version

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        with self.manager.use(self.slot) as provider:
            return provider.generate(request)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        with self.manager.use(self.slot) as provider:
            yield from provider.stream(request)  # type: ignore[attr-defined]

    def health(self) -> None:
        with self.manager.use(self.slot) as provider:
            provider.health()

    def close(self) -> None:
        """The manager owns the models; closing a view closes nothing."""
