"""The in-process driver of the record pipeline (:mod:`veil.pipeline`), for ``veil redact`` and
``veil.Engine``: the same steps as the stream, the models (when given) asked at once.

    >>> from veil import Policy, Redactor
    >>> engine = BatchEngine(Redactor(policy=Policy(), hmac_key=b"k"))
    >>> engine.run("1", "mail bob@example.com").redacted_text
    'mail <EMAIL_1>'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import orjson

from veil import pipeline
from veil.cache import Analyst, Caching
from veil.errors import ProviderError
from veil.redactor import Redactor
from veil.schemas import Decision, Finding, ReportedFinding
from veil.schemas.findings import Fallback


class Judge(Protocol):
    @property
    def identity(self) -> str: ...

    def judge_context(self, context: str, finding: Finding) -> Decision | None: ...


# A plain dataclass: Veil's own output (serialized natively by orjson), built once per record on
# the hot path; read-only by convention, not frozen (a frozen dataclass builds 2.5x slower).
@dataclass(slots=True)
class BatchResult:
    id: str
    redacted_text: str
    findings: list[ReportedFinding]
    #: The coarsest redaction verification fell back to (occurrences, tokens, lines, record), or None.
    fallback: Fallback | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(self)


class BatchEngine:
    """Redacts one text at a time. Without a judge, uncertain candidates fail closed (redacted).

    With ``caching``, log lines are mined into templates (the analyst reads the template, the judge
    the line with the variable parts it is not asked about masked) and model answers are reused.
    """

    def __init__(self, redactor: Redactor, *, analyst: Analyst | None = None, judge: Judge | None = None,
                 caching: Caching | None = None) -> None:
        self.redactor = redactor
        self.analyst = analyst
        self.judge = judge
        self.caching = caching
        self.asked = {"general": 0, "security": 0}  # questions put to each model

    def run(self, record_id: str, text: str, source: str | None = None, *, log: bool = False) -> BatchResult:
        return self.run_many([(record_id, text)], source, logs=[log])[0]

    def run_many(self, records: list[tuple[str, str]], source: str | None = None, *,
                 logs: list[bool] | None = None) -> list[BatchResult]:
        """Like ``run`` for ``(id, text)`` pairs; batch-capable detectors see them together.
        ``logs`` says which are log lines (default: none)."""
        logs = logs or [False] * len(records)
        models = self.analyst is not None or self.judge is not None
        scanned = pipeline.scan(self.redactor, self.caching, [text for _, text in records], logs, mine=models)
        return [self._finish(rid, s, source) for (rid, _), s in zip(records, scanned)]

    def _finish(self, record_id: str, scanned: pipeline.Scanned, source: str | None) -> BatchResult:
        text, candidates = scanned.text, scanned.candidates
        if self.analyst is not None:
            plan = pipeline.plan_analysis(self.caching, scanned)
            result = plan.cached
            if result is None:
                self.asked["general"] += 1
                result = plan.learn(self.analyst.analyze(plan.question or text))
            candidates = candidates + result.findings
        if not candidates:  # the common case for log lines: nothing to decide or replace
            return BatchResult(id=record_id, redacted_text=text, findings=[])
        line = scanned.line
        decisions = pipeline.plan_decisions(self.redactor, self.caching, text, candidates, source=source,
                                            served=self.judge.identity if self.judge is not None else None,
                                            variables=(lambda: line.variables) if line is not None else None)
        said: list[Decision] | None = None
        why = "" if self.judge is not None else "no security model in this run; redacted"
        if self.judge is not None and decisions.consultation is not None:
            asked, said = decisions.consultation, []
            try:
                for f, context in zip(asked.ask, asked.contexts):
                    self.asked["security"] += 1
                    if (d := self.judge.judge_context(context, f)) is not None:
                        said.append(d)
            except ProviderError as err:  # no provider: every undecided candidate is redacted
                why = f"security model unavailable ({type(err).__name__}); redacted"
        concluded = pipeline.conclude(self.redactor, self.caching, decisions, said, complete=not why, why=why)
        redaction = self.redactor.redact_text(text, concluded, source=source)
        operators, levels = redaction.operators, redaction.fallback_spans
        return BatchResult(id=record_id, redacted_text=redaction.text, findings=[
            ReportedFinding(start=f.start, end=f.end, entity=f.entity, category=f.category, detector=f.detector,
                            score=f.score, action="redact" if d.redact else "keep", decided_by=d.source,
                            operator=operators.get((f.start, f.end)) if d.redact else None,
                            fallback=levels.get((f.start, f.end)))
            for d in sorted(redaction.decisions, key=lambda d: d.finding.start) for f in (d.finding,)
        ], fallback=redaction.fallback)
