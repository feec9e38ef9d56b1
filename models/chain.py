"""Failover across providers: per-call deadlines, retries with jitter, and a circuit breaker each."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from veil.errors import AllProvidersFailed, ProviderError
from veil.models.provider import Provider, Streaming
from veil.schemas import GenerationRequest, GenerationResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 2  # tries per provider, for retryable errors only
    backoff_s: float = 0.2  # full jitter: sleep uniform(0, min(max_backoff_s, backoff_s * 2**try))
    max_backoff_s: float = 2.0
    timeout_s: float | None = 60.0  # per-call deadline, unless the request brings its own


class CircuitBreaker:
    """Closed until ``failures`` calls in a row fail; then open for ``reset_s``, after which one
    trial call is let through (half-open): success closes it, failure opens it again."""

    def __init__(self, failures: int = 3, reset_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.reset_s, self._clock = failures, reset_s, clock
        self._streak = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        with self._lock:
            state = self.state
            if state == "closed":
                return True
            if state == "half-open" and not self._trial:
                self._trial = True  # exactly one trial call at a time
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._streak, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._streak += 1
            if self._trial or self._streak >= self.failures:
                self._opened_at = self._clock()
            self._trial = False


class ProviderStatus(BaseModel):
    provider: str  # backend:model
    circuit: str
    healthy: bool
    error: str | None = None


class ProviderChain:
    """A :class:`Provider` that tries its providers in order.

    Each provider gets ``retry.attempts`` tries on retryable errors (unreachable, overloaded, timed
    out), with jittered exponential backoff; a non-retryable error moves on at once. A provider
    whose circuit is open is skipped without a call. When every provider fails the chain raises
    :class:`AllProvidersFailed` naming each one's reason, and the caller fails closed.
    """

    backend = "chain"

    def __init__(self, providers: Sequence[Provider], *, role: str = "llm", retry: RetryPolicy = RetryPolicy(),
                 breaker_failures: int = 3, breaker_reset_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        self.providers = list(providers)
        self.role, self.retry = role, retry
        self.name, self.version = self.providers[0].name, self.providers[0].version
        self.breakers = [CircuitBreaker(breaker_failures, breaker_reset_s, clock) for _ in self.providers]
        self._sleep, self._rng = sleep, rng or random.Random()

    @staticmethod
    def label(p: Provider) -> str:
        return f"{p.backend}:{p.name}"

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        if request.timeout_s is None and self.retry.timeout_s is not None:
            request = request.model_copy(update={"timeout_s": self.retry.timeout_s})
        reasons: dict[str, str] = {}
        for provider, breaker in zip(self.providers, self.breakers):
            label = self.label(provider)
            if not breaker.allow():
                reasons[label] = "circuit open"
                continue
            for attempt in range(self.retry.attempts):
                try:
                    response = provider.generate(request)
                except ProviderError as err:
                    reasons[label] = f"{type(err).__name__}: {err}"
                    log.warning("provider failed role=%s provider=%s attempt=%d error=%s",
                                self.role, label, attempt + 1, type(err).__name__)
                    if not err.retryable or attempt + 1 == self.retry.attempts:
                        break
                    self._sleep(self._rng.uniform(0, min(self.retry.max_backoff_s, self.retry.backoff_s * 2 ** attempt)))
                else:
                    breaker.success()
                    return response
            breaker.failure()
        raise AllProvidersFailed(self.role, reasons)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Streams from the first available provider that can; fails over only before the first piece."""
        reasons: dict[str, str] = {}
        for provider, breaker in zip(self.providers, self.breakers):
            if not isinstance(provider, Streaming) or not breaker.allow():
                reasons[self.label(provider)] = "cannot stream" if breaker.state == "closed" else "circuit open"
                continue
            pieces = provider.stream(request)
            try:
                first = next(pieces, None)
            except ProviderError as err:
                breaker.failure()
                reasons[self.label(provider)] = f"{type(err).__name__}: {err}"
                continue
            breaker.success()
            if first is not None:
                yield first
                yield from pieces
            return
        raise AllProvidersFailed(self.role, reasons)

    def status(self) -> list[ProviderStatus]:
        """Health-check every provider (a cheap call per backend) with its circuit state."""
        out = []
        for provider, breaker in zip(self.providers, self.breakers):
            try:
                provider.health()
                out.append(ProviderStatus(provider=self.label(provider), circuit=breaker.state, healthy=True))
            except ProviderError as err:
                out.append(ProviderStatus(provider=self.label(provider), circuit=breaker.state, healthy=False,
                                          error=str(err)[:200]))
        return out

    def health(self) -> None:
        statuses = self.status()
        if not any(s.healthy for s in statuses):
            raise AllProvidersFailed(self.role, {s.provider: s.error or "unhealthy" for s in statuses})

    def close(self) -> None:
        for p in self.providers:
            p.close()
