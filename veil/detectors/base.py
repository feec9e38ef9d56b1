"""The detector protocol, a table-driven pattern detector, and overlap resolution."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from schemas import Category, Finding

#: Returns None to reject a match, or a score to use instead of the spec's base score.
Validator = Callable[[str, str, int], float | None]  # (value, text, value_start) -> score | None


class Detector(Protocol):
    name: str

    def detect(self, text: str) -> list[Finding]:
        """Return findings with offsets into ``text``."""
        ...


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """One entity type found by a regular expression (group ``v`` is the value when present)."""

    entity: str
    category: Category
    pattern: str
    score: float
    reason: str
    validator: Validator | None = None
    flags: int = 0
    #: Lower-case literals of which one must occur in the lower-cased text for the regex to run
    #: (a cheap prefilter; most log lines contain none of them). Empty: always run.
    triggers: tuple[str, ...] = ()
    #: Lower-case words that, within 48 characters before the value, add ``context_boost``.
    context: tuple[str, ...] = ()
    context_boost: float = 0.0


@dataclass(slots=True)
class PatternDetector:
    """Runs a table of :class:`PatternSpec`; each match may be validated and rescored."""

    name: str
    specs: Sequence[PatternSpec]
    _compiled: list[tuple[PatternSpec, re.Pattern[str]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._compiled = [(s, re.compile(s.pattern, s.flags)) for s in self.specs]

    def detect(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        lowered = text.lower()
        for spec, rx in self._compiled:
            if spec.triggers and not any(t in lowered for t in spec.triggers):
                continue
            for m in rx.finditer(text):
                group = "v" if "v" in rx.groupindex else 0
                start, end = m.span(group)
                if start == end:
                    continue
                score: float | None = spec.score
                if spec.validator is not None:
                    score = spec.validator(m.group(group), text, start)
                    if score is None:
                        continue
                if spec.context and any(w in lowered[max(0, start - 48):start] for w in spec.context):
                    score = min(1.0, score + spec.context_boost)
                found.append(
                    Finding.model_construct(start=start, end=end, entity=spec.entity, category=spec.category,
                            detector=self.name, score=score, reason=spec.reason)
                )
        return found


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Resolve overlaps: keep the highest-scoring span, longer first on ties; order by offset.

    Greedy over a priority order, so the result never contains two overlapping spans.
    """
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def scan(text: str, detectors: Iterable[Detector]) -> list[Finding]:
    """All detectors over ``text``, overlaps resolved."""
    return merge_findings(f for d in detectors for f in d.detect(text))
