"""What ``GET /health`` reports: every part of a worker, and when a stage is broken rather than unlucky.

A record that fails is dead-lettered and the stream goes on: that is the stream working, whatever
the record, so it never counts toward stopping a worker (anyone who can write to an input topic
could otherwise stop redaction for everyone). A stage whose infrastructure fails (a model that
cannot answer, Kafka, Elasticsearch: :func:`veil.errors.is_infrastructure`) is broken, not
unlucky: after ``stream.max_consecutive_failures`` such failures in a row with no success between,
the stage is reported down (``/health`` answers 503) and the worker stops with a non-zero exit,
leaving the records it had not finished uncommitted for the next start.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from veil.errors import is_infrastructure


@dataclass
class Health:
    max_consecutive_failures: int = 50
    #: part -> a callable that says why it is down, or None when it is fine (read at each request)
    probes: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    fatal: str | None = None
    _failures: dict[str, int] = field(default_factory=dict)
    _last_error: dict[str, str] = field(default_factory=dict)
    #: records dead-lettered for what they are (not counted toward stopping), per stage
    dead_lettered: dict[str, int] = field(default_factory=dict)
    #: a stage on one record this long is reported down (``stream.stall_s``)
    stall_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    #: stage -> token -> (where the record came from, when the stage started on it)
    _working: dict[str, dict[int, tuple[str, float]]] = field(default_factory=dict)
    _tokens: itertools.count = field(default_factory=itertools.count)

    def begin(self, stage: str, origin) -> int:
        """A stage starts on a record (``origin``: its Kafka position, a SourceRef; never content);
        the token ends it."""
        token = next(self._tokens)
        where = f"{origin.topic}/{origin.partition}/{origin.offset}"
        self._working.setdefault(stage, {})[token] = (where, self.clock())
        return token

    def end(self, stage: str, token: int) -> None:
        self._working.get(stage, {}).pop(token, None)

    def tracker(self, stage: str) -> Callable[[object | None], None]:
        """For a stage that works on one record at a time: called with the record's origin when it
        starts on it, with None when it is done."""
        current: list[int] = []

        def track(origin) -> None:
            while current:
                self.end(stage, current.pop())
            if origin is not None:
                current.append(self.begin(stage, origin))
        return track

    def stalled(self, stage: str) -> str | None:
        """Why ``stage`` is down for being stuck: the oldest record it has been on longer than stall_s."""
        working = self._working.get(stage)
        if not working:
            return None
        origin, since = min(working.values(), key=lambda w: w[1])
        waited = self.clock() - since
        return f"stuck for {waited:.0f} s on the record at {origin}" if waited > self.stall_s else None

    def succeeded(self, stage: str) -> None:
        self._failures[stage] = 0

    def failed(self, stage: str, err: BaseException) -> bool:
        """A record this stage could not process, dead-lettered. An infrastructure failure counts
        toward stopping; a record's own failure is the stream working and neither counts nor hides
        the infrastructure failures around it. True when the stage has failed too often in a row
        to go on."""
        if not is_infrastructure(err):
            self.dead_lettered[stage] = self.dead_lettered.get(stage, 0) + 1
            return self.fatal is not None
        n = self._failures[stage] = self._failures.get(stage, 0) + 1
        self._last_error[stage] = type(err).__name__
        if n >= self.max_consecutive_failures and self.fatal is None:
            self.fatal = f"the {stage} stage failed on {n} records in a row (last: {type(err).__name__})"
        return self.fatal is not None

    def parts(self) -> dict[str, str]:
        out = {}
        for stage in ("analyze", "decide"):
            n = self._failures.get(stage, 0)
            if self.fatal is not None and self.fatal.startswith(f"the {stage} "):
                out[stage] = f"down: {self.fatal}"
            elif (stuck := self.stalled(stage)) is not None:
                out[stage] = f"down: {stuck}"
            elif n:
                out[stage] = f"ok ({n} failed in a row, last {self._last_error[stage]})"
            else:
                out[stage] = "ok"
        for name, probe in self.probes.items():
            why = probe()
            out[name] = "ok" if why is None else f"down: {why}"
        return out

    def report(self) -> tuple[int, dict]:
        """(HTTP status, body): 503 when any part is down."""
        parts = self.parts()
        down = any(state.startswith("down") for state in parts.values())
        return (503 if down else 200), {"status": "down" if down else "ok", "parts": parts}
