"""The record pipeline, written once: each step the batch engine (``veil redact``, ``veil.redact``)
and the stream's two stages take with a record, as plain functions without I/O.

    scan        detectors over texts read together; a log line mined into its template
    analysis    the general analyst's question (a template's, once per template when answers are
                reused) and what its answer adds
    decisions   triage by policy, the security model's questions (the cache answers those asked
                before), its answers settled, every candidate concluded (fail closed)

Redaction, verification and the audit trail follow in :class:`~veil.redactor.Redactor`. The callers
only put the questions to the models (in-process, or on a thread or a Ray pool within a budget) and
emit what comes out; none repeats a step. No Faust, Kafka or Ray import here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from veil.cache import Caching, Consultation, TemplateAnalyses, consult
from veil.detectors.protocol import ConstantParts
from veil.redactor import Redactor, Triage
from veil.schemas import AnalystResult, Decision, Finding, VariablePart
from veil.templates import TemplatedLine


@dataclass(slots=True)
class Scanned:
    """A text after the detectors: its mined line (a log line, when templates are on) and candidates."""

    text: str
    line: TemplatedLine | None
    candidates: list[Finding]


def _constant_parts(caching: Caching, text: str) -> list[tuple[int, int]] | None:
    line = caching.mine(text)
    return line.constant_parts() if line is not None else None


def scan(redactor: Redactor, caching: Caching | None, texts: Sequence[str], logs: Sequence[bool], *,
         mine: bool = True) -> list[Scanned]:
    """The detectors over ``texts`` at once (NER reads them in one batch); ``logs`` says which are
    log lines, the others are documents. ``mine``: mine each log line into its template now, as
    the models and the template id need it. Without them (detectors only) a line is mined only
    when NER asks for its constant parts: about one log line in five has a name-shaped window."""
    documents = [not log for log in logs]
    if caching is not None and not mine:
        lines: list[TemplatedLine | None] = [None] * len(texts)
        lazy: list[ConstantParts | None] = [partial(_constant_parts, caching, text) if log else None
                                            for text, log in zip(texts, logs)]
        found = redactor.scan_many(texts, lazy if any(c is not None for c in lazy) else None, documents=documents)
    else:
        lines = [caching.mine(text) if caching is not None and log else None for text, log in zip(texts, logs)]
        constants: list[ConstantParts | None] = [line.constant_parts if line is not None else None for line in lines]
        found = redactor.scan_many(texts, constants if any(c is not None for c in constants) else None,
                                   documents=documents)
    return [Scanned(text, line, candidates) for text, line, candidates in zip(texts, lines, found)]


@dataclass(slots=True)
class AnalysisPlan:
    """The general analyst's part of one text: the answer the cache holds, or the question to put."""

    cached: AnalystResult | None
    #: what to ask the analyst (the template of a mined log line, else the text); None when cached
    question: str | None
    analyses: TemplateAnalyses | None = None
    line: TemplatedLine | None = None

    def learn(self, answer: AnalystResult) -> AnalystResult:
        """The analyst's answer to :attr:`question`, kept for the template and projected onto this line."""
        if self.analyses is not None and self.line is not None:
            return self.analyses.learn(self.line, answer)
        return answer


def plan_analysis(caching: Caching | None, scanned: Scanned) -> AnalysisPlan:
    analyses = caching.analyses if caching is not None and scanned.line is not None else None
    if analyses is None or scanned.line is None:
        return AnalysisPlan(cached=None, question=scanned.text)
    cached = analyses.lookup(scanned.line)
    return AnalysisPlan(cached=cached, question=None if cached is not None else scanned.line.template,
                        analyses=analyses, line=scanned.line)


@dataclass(slots=True)
class DecisionPlan:
    """Policy's triage of one record's candidates and, for the uncertain ones, the consultation of
    the security model (the cache's answers and the questions left); None when nothing is asked."""

    triage: Triage
    consultation: Consultation | None

    @property
    def questions(self) -> int:
        return len(self.consultation.ask) if self.consultation is not None else 0

    def capped(self, limit: int) -> DecisionPlan:
        """At most ``limit`` questions; the candidates beyond them are concluded without an answer."""
        c = self.consultation
        if c is None or len(c.ask) <= limit:
            return self
        return DecisionPlan(self.triage, replace(c, ask=c.ask[:limit], contexts=c.contexts[:limit], keys=c.keys[:limit]))


def plan_decisions(redactor: Redactor, caching: Caching | None, text: str, candidates: list[Finding], *,
                   source: str | None, served: str | None,
                   variables: Callable[[], list[VariablePart] | None] | None = None) -> DecisionPlan:
    """Triage ``candidates``; with a security model (``served``: its name@version), consult it
    about the uncertain ones. Without one, nothing is asked (they are redacted at :func:`conclude`).
    ``variables``: the variable parts of a templated log line, worked out only when a question is put."""
    triage = redactor.triage(text, candidates, source=source)
    if served is None or not triage.ask_model:
        return DecisionPlan(triage, None)
    cache = caching.decisions if caching is not None else None
    return DecisionPlan(triage, consult(text, triage.ask_model, served=served, cache=cache,
                                        variables=variables() if variables is not None else None))


def conclude(redactor: Redactor, caching: Caching | None, plan: DecisionPlan, said: list[Decision] | None, *,
             complete: bool, why: str) -> list[Decision]:
    """Every candidate decided: by policy, by the cache, by the model's answers ``said`` (None: the
    model was not asked; its new answers go into the cache, ``complete`` when every question was put),
    and the rest redacted, ``why`` saying why the model did not decide them."""
    answers: dict[tuple[int, int], Decision] = {}
    if plan.consultation is not None:
        cache = caching.decisions if caching is not None else None
        answers = plan.consultation.answered if said is None else plan.consultation.settle(said, cache, complete=complete)
    return redactor.conclude(plan.triage, answers, why=why)


__all__ = ["AnalysisPlan", "DecisionPlan", "Scanned", "conclude", "plan_analysis", "plan_decisions", "scan"]
