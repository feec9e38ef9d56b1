"""Batch redaction: the same pipeline as the stream (detectors, optional analyst and judge), in-process.

    >>> from veil import Policy, Redactor
    >>> engine = BatchEngine(Redactor(policy=Policy(), hmac_key=b"k"))
    >>> engine.run("1", "mail bob@example.com").redacted_text
    'mail <EMAIL_1>'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import orjson

from schemas import Decision, Finding
from veil.errors import ProviderError
from veil.redactor import Redactor


class Analyst(Protocol):
    def analyze(self, text: str): ...  # -> models.roles.AnalystResult


class Judge(Protocol):
    def judge(self, text: str, finding: Finding) -> Decision | None: ...


# Plain dataclasses: these are Veil's own output (serialized natively by orjson), built once per
# record on the hot path; validating them again would only cost time.
@dataclass(frozen=True, slots=True)
class BatchFinding:
    start: int
    end: int
    entity: str
    category: str
    detector: str
    score: float
    action: str
    decided_by: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    id: str
    redacted_text: str
    findings: list[BatchFinding]

    def to_json(self) -> bytes:
        return orjson.dumps(self)


class BatchEngine:
    """Redacts one text at a time. Without a judge, uncertain candidates fail closed (redacted)."""

    def __init__(self, redactor: Redactor, *, analyst: Analyst | None = None, judge: Judge | None = None) -> None:
        self.redactor = redactor
        self.analyst = analyst
        self.judge = judge

    def run(self, record_id: str, text: str, source: str | None = None) -> BatchResult:
        return self._finish(record_id, text, self.redactor.scan(text), source)

    def run_many(self, records: list[tuple[str, str]], source: str | None = None) -> list[BatchResult]:
        """Like ``run`` for ``(id, text)`` pairs; batch-capable detectors see them together."""
        scanned = self.redactor.scan_many([text for _, text in records])
        return [self._finish(rid, text, found, source) for (rid, text), found in zip(records, scanned)]

    def _finish(self, record_id: str, text: str, candidates: list[Finding], source: str | None) -> BatchResult:
        if self.analyst is not None:
            candidates += self.analyst.analyze(text).findings
        if not candidates:  # the common case for log lines: nothing to decide or replace
            return BatchResult(id=record_id, redacted_text=text, findings=[])
        triage = self.redactor.triage(text, candidates, source=source)
        answers = {}
        why = "" if self.judge is not None else "no security model in this run; redacted"
        if self.judge is not None:
            try:
                for f in triage.ask_model:
                    if (d := self.judge.judge(text, f)) is not None:
                        answers[(f.start, f.end)] = d
            except ProviderError as err:  # no provider: every undecided candidate is redacted
                why = f"security model unavailable ({type(err).__name__}); redacted"
        decisions = self.redactor.conclude(triage, answers, why=why)
        redaction = self.redactor.redact_text(text, decisions, source=source)
        return BatchResult(id=record_id, redacted_text=redaction.text, findings=[
            BatchFinding(start=d.finding.start, end=d.finding.end, entity=d.finding.entity,
                         category=d.finding.category.value, detector=d.finding.detector, score=d.finding.score,
                         action="redact" if d.redact else "keep", decided_by=d.source.value)
            for d in sorted(redaction.decisions, key=lambda d: d.finding.start)
        ])
