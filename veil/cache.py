"""Bounded caches of model answers: the general analysis of a log template, and the security
model's decision on a candidate in its context.

Both are exact: the key is everything the model is shown (its name and version, the template or
the marked context and the entity), so a hit returns what the model would have answered again at
temperature 0. Keys are keyed hashes; no key or entry holds text, so entries may be shared
through Kafka.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from veil.schemas import AnalystResult, Decision, DecisionSource, Finding, VariablePart
from veil.settings import CacheSettings
from veil.templates import TemplatedLine, TemplateMiner, View, view_of

#: Text the security model sees on each side of a candidate.
JUDGE_CONTEXT_CHARS = 120

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A size-bounded mapping that forgets the least recently used entry first; counts hits."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("an LRU needs room for at least one entry")
        self.max_entries = max_entries
        self._data: OrderedDict[K, V] = OrderedDict()
        self.hits = self.misses = 0
        # The redaction thread reads while the decision follower (on the event loop) writes.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    @property
    def stats(self) -> dict[str, float]:
        asked = self.hits + self.misses
        return {"entries": len(self._data), "hits": self.hits, "misses": self.misses,
                "hit_rate": round(self.hits / asked, 4) if asked else 0.0}


def cache_key(secret: bytes, *parts: str) -> str:
    """A keyed hash of the parts: stable across workers that share the secret, opaque to anyone else."""
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


class CachedDecision(BaseModel):
    """A security-model answer without the finding it was about: what the decision cache holds and
    what ``veil.decisions`` carries (keyed by :func:`cache_key`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redact: bool | None = Field(description="None: the model gave no valid answer (it would not give one again).")
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    rationale: str = Field(default="", max_length=200)
    served: str = Field(description="The served model the key was made for; entries for another are stale.")
    model: str | None = None
    model_version: str | None = None

    @classmethod
    def of(cls, decision: Decision, served: str) -> CachedDecision:
        return cls(redact=decision.redact, confidence=decision.confidence, rationale=decision.rationale,
                   served=served, model=decision.model, model_version=decision.model_version)

    def for_finding(self, finding: Finding) -> Decision | None:
        if self.redact is None:
            return None
        return Decision(finding=finding, redact=self.redact, confidence=self.confidence, source=DecisionSource.MODEL,
                        rationale=self.rationale, model=self.model, model_version=self.model_version, cached=True)


@dataclass
class DecisionCache:
    """Security decisions by (served model, entity, marked context). ``on_store`` sees every new
    entry (the stream publishes them to the compacted ``veil.decisions`` topic)."""

    secret: bytes
    max_entries: int = 100_000
    on_store: Callable[[str, CachedDecision], None] | None = None

    def __post_init__(self) -> None:
        self._lru: LRU[str, CachedDecision] = LRU(self.max_entries)

    def key(self, served: str, entity: str, context: str) -> str:
        return cache_key(self.secret, "decision", served, entity, context)

    def get(self, key: str, served: str) -> CachedDecision | None:
        hit = self._lru.get(key)
        return hit if hit is not None and hit.served == served else None

    def put(self, key: str, entry: CachedDecision, *, publish: bool = True) -> None:
        self._lru.put(key, entry)
        if publish and self.on_store is not None:
            self.on_store(key, entry)

    def clear(self) -> None:
        self._lru.clear()

    @property
    def stats(self) -> dict[str, float]:
        return self._lru.stats


#: How an analysis says its provider could not be asked (``models.roles.GeneralAnalyst``).
UNREACHABLE = "provider unavailable"


class Analyst(Protocol):
    @property
    def identity(self) -> str: ...  # the served model, name@version

    def analyze(self, text: str, budget_s: float | None = None) -> AnalystResult: ...


@dataclass
class TemplateAnalyses:
    """The general analyst, asked about a log template instead of each line, once per template
    and model when ``reuse`` is on. Its spans land on each line of the template: a span over a
    placeholder covers the line's value there."""

    analyst: Analyst
    secret: bytes
    max_entries: int = 10_000
    reuse: bool = True

    def __post_init__(self) -> None:
        self._lru: LRU[str, AnalystResult] = LRU(self.max_entries)

    def _key(self, line: TemplatedLine) -> str:
        return cache_key(self.secret, "analysis", self.analyst.identity, line.template)

    def lookup(self, line: TemplatedLine) -> AnalystResult | None:
        result = self._lru.get(self._key(line)) if self.reuse else None
        return None if result is None else self._project(line, result)

    def learn(self, line: TemplatedLine, result: AnalystResult) -> AnalystResult:
        """Keep the analyst's answer about ``line.template`` (not a failed one) and project it onto ``line``."""
        # An answer that was not valid is kept too (the model would give it again); a provider that
        # could not be reached is asked again next time.
        if self.reuse and not (result.analysis.error or "").startswith(UNREACHABLE):
            self._lru.put(self._key(line), result)
        return self._project(line, result)

    @staticmethod
    def _project(line: TemplatedLine, result: AnalystResult) -> AnalystResult:
        if not result.findings:  # most templates: nothing to place on the line
            return result
        findings = []
        for f in result.findings:
            span = line.to_line(f.start, f.end)
            if span is not None:
                findings.append(f.model_copy(update={"start": span[0], "end": span[1]}))
        return result.model_copy(update={"findings": findings})

    @property
    def stats(self) -> dict[str, float]:
        return self._lru.stats


def marked_context(text: str, start: int, end: int, context_chars: int = JUDGE_CONTEXT_CHARS) -> str:
    """The span in ``[[ ]]`` with up to ``context_chars`` of text on each side."""
    lo, hi = max(0, start - context_chars), min(len(text), end + context_chars)
    return f"{text[lo:start]}[[{text[start:end]}]]{text[end:hi]}"


@dataclass(frozen=True, slots=True)
class Consultation:
    """The security model's part of one record: what the cache answered, and the questions left.

    Each question is the candidate in its marked context: for a templated log line, the line with
    every variable part replaced by its placeholder, the candidate's own included, so a candidate
    in the same place of the same template is the same question whatever the values."""

    served: str
    answered: dict[tuple[int, int], Decision]
    ask: list[Finding]
    contexts: list[str]  # what the model is shown for each of ``ask``
    keys: list[str]  # cache key of each of ``ask``

    def settle(self, decisions: list[Decision], cache: DecisionCache | None, *,
               complete: bool = True) -> dict[tuple[int, int], Decision]:
        """The cache's answers and the model's answers to ``ask``; the new ones go into the cache.
        ``complete``: every question was put to the model, so one without a decision got no valid
        answer (cached as such) rather than no answer at all (not cached)."""
        answers = dict(self.answered)
        index = {(f.start, f.end): i for i, f in enumerate(self.ask)}
        for d in decisions:
            span = (d.finding.start, d.finding.end)
            i = index.get(span)
            if i is None:
                continue
            answers[span] = d
            if cache is not None:
                cache.put(self.keys[i], CachedDecision.of(d, self.served))
        if cache is not None and complete:
            for f, key in zip(self.ask, self.keys):
                if (f.start, f.end) not in answers:
                    cache.put(key, CachedDecision(redact=None, served=self.served))
        return answers


def question(text: str, finding: Finding, view: View | None = None) -> str:
    """The marked context the security model is shown for ``finding``: in ``view`` of a templated
    line when given, else in the text itself."""
    if view is None:
        return marked_context(text, finding.start, finding.end)
    return marked_context(view.text, *view.span(finding.start, finding.end))


def consult(text: str, findings: list[Finding], *, served: str, cache: DecisionCache | None,
            variables: list[VariablePart] | None = None) -> Consultation:
    """Split ``findings`` into those the cache answers and the questions for the model."""
    answered: dict[tuple[int, int], Decision] = {}
    ask: list[Finding] = []
    contexts: list[str] = []
    keys: list[str] = []
    view = view_of(text, variables) if variables else None
    for f in findings:
        context = question(text, f, view)
        key = cache.key(served, f.entity, context) if cache is not None else ""
        hit = cache.get(key, served) if cache is not None else None
        if hit is not None:
            if (decision := hit.for_finding(f)) is not None:
                answered[(f.start, f.end)] = decision
        else:
            ask.append(f)
            contexts.append(context)
            keys.append(key)
    return Consultation(served, answered, ask, contexts, keys)


@dataclass
class Caching:
    """The template miner and the two caches, as the settings configure them."""

    secret: bytes
    miner: TemplateMiner | None = None
    analyses: TemplateAnalyses | None = None
    decisions: DecisionCache | None = None
    max_line_chars: int = 2000

    @classmethod
    def build(cls, settings: CacheSettings, secret: bytes, analyst: Analyst | None = None) -> Caching:
        miner = TemplateMiner(depth=settings.template_depth, similarity=settings.template_similarity,
                              max_templates=settings.max_templates) if settings.templates else None
        analyses = (TemplateAnalyses(analyst, secret, settings.max_templates, reuse=settings.reuse)
                    if miner is not None and analyst is not None else None)
        decisions = DecisionCache(secret, settings.max_decisions) if settings.reuse else None
        return cls(secret, miner, analyses, decisions, settings.max_line_chars)

    def mine(self, text: str) -> TemplatedLine | None:
        """The line's template, for a one-line log record (longer records are read as documents)."""
        if self.miner is None or len(text) > self.max_line_chars or "\n" in text:
            return None
        return self.miner.mine(text)

    def template_id(self, line: TemplatedLine | None) -> str | None:
        return None if line is None else cache_key(self.secret, "template", line.template)[:16]

    @property
    def stats(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        if self.miner is not None:
            out["templates"] = {"templates": self.miner.templates}
        if self.analyses is not None:
            out["analysis"] = self.analyses.stats
        if self.decisions is not None:
            out["decisions"] = self.decisions.stats
        return out


__all__ = [
    "JUDGE_CONTEXT_CHARS",
    "LRU",
    "CachedDecision",
    "Caching",
    "Consultation",
    "DecisionCache",
    "TemplateAnalyses",
    "cache_key",
    "consult",
    "marked_context",
    "question",
]
