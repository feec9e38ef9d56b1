"""The stage logic the agents call: decode+analyze, decide+redact. No Faust here, so it tests alone."""

from __future__ import annotations

import asyncio
import base64
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from models.roles import GeneralAnalyst
from schemas import (
    AnalyzedRecord,
    AuditEvent,
    DeadLetter,
    DecideRequest,
    DecideResponse,
    Decision,
    DecisionSource,
    InboundRecord,
    RecordKind,
    RedactedDocument,
    ReviewItem,
    SourceRef,
)
from schemas.records import Analysis
from veil.errors import InvalidInput, ProviderError, UnsafeOutput
from veil.intake import decode
from veil.redactor import Redactor

log = logging.getLogger(__name__)


class DecisionService(Protocol):
    model: str

    async def decide(self, request: DecideRequest) -> DecideResponse: ...


def dead_letter(err: Exception, origin: SourceRef, raw: bytes | None, *, stage: str,
                batch: str | None = None) -> DeadLetter:
    reason = err.reason if isinstance(err, InvalidInput) else str(err)
    return DeadLetter(reason=reason, error_type=type(err).__name__, origin=origin, batch=batch,
                      payload=base64.b64encode(raw or b"").decode(), stage=stage)


@dataclass
class AnalyzeStage:
    """Decode an inbound value, run the detectors and the general analyst."""

    redactor: Redactor
    analyst: GeneralAnalyst | None
    max_bytes: int
    _executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="analyst"))

    def decode(self, kind: RecordKind, raw: bytes | None, origin: SourceRef, batch: str | None) -> InboundRecord:
        return decode(kind, raw, origin, max_bytes=self.max_bytes, batch=batch)

    async def analyze(self, record: InboundRecord) -> AnalyzedRecord:
        findings = self.redactor.scan(record.text)
        if self.analyst is None:
            return AnalyzedRecord(record=record, analysis=Analysis(), candidates=findings)
        # llama.cpp releases the GIL; running it on a thread keeps the event loop (heartbeats) alive.
        result = await asyncio.get_running_loop().run_in_executor(self._executor, self.analyst.analyze, record.text)
        return AnalyzedRecord(record=record, analysis=result.analysis, candidates=findings + result.findings)


class DecisionUnavailable(ProviderError):
    """Hold mode: the security model cannot be asked; the record must be retried, not committed."""

    retryable = True


@dataclass(frozen=True, slots=True)
class Decided:
    document: RedactedDocument
    audits: list[AuditEvent]
    reviews: list[ReviewItem]


def context_of(text: str, start: int, end: int, chars: int = 120) -> str:
    """The text around a value, with the value marked ``[[like this]]``."""
    return f"{text[max(0, start - chars):start]}[[{text[start:end]}]]{text[end:end + chars]}"


@dataclass
class DecideStage:
    """Ask the security pool about uncertain findings, settle by policy, redact, audit, and queue
    unsure model decisions for review.

    When the pool cannot decide (down, timed out, its providers failing) ``on_model_failure``
    applies: ``redact`` fails closed on the undecided candidates, ``hold`` raises
    :class:`DecisionUnavailable` so the caller retries the record without committing it.
    """

    redactor: Redactor
    security: DecisionService
    on_model_failure: str = "redact"
    review_below: float = 0.75

    async def run(self, analyzed: AnalyzedRecord) -> Decided:
        rec = analyzed.record
        triage = self.redactor.triage(rec.text, analyzed.candidates, source=rec.source)
        answers: dict[tuple[int, int], Decision] = {}
        why = ""
        if triage.ask_model:
            try:
                response = await self.security.decide(
                    DecideRequest(record_id=rec.id, text=rec.text, findings=triage.ask_model))
                answers = {(d.finding.start, d.finding.end): d for d in response.decisions}
                failure = response.unavailable
            except Exception as err:  # the pool is down or the actor died
                failure = type(err).__name__
            if failure is not None:
                log.warning("security stage failed record=%s mode=%s", rec.id, self.on_model_failure)
                if self.on_model_failure == "hold":
                    raise DecisionUnavailable(f"security model unavailable ({failure.split(':')[0]})")
                why = f"security model unavailable ({failure.split(':')[0]}); redacted"
        decisions = self.redactor.conclude(triage, answers, why=why)
        models = {"security": self.security.model}
        if analyzed.analysis.model:
            models["general"] = f"{analyzed.analysis.model}@{analyzed.analysis.model_version}"
        doc, audits = self.redactor.redact_record(analyzed, decisions, models)
        reviews = [
            ReviewItem(id=f"{rec.id}:{d.finding.start}-{d.finding.end}", record_id=rec.id, origin=rec.origin,
                       source=rec.source, context=context_of(rec.text, d.finding.start, d.finding.end), decision=d)
            for d in decisions if d.source == DecisionSource.MODEL and d.confidence < self.review_below
        ]
        return Decided(doc, audits, reviews)


__all__ = ["AnalyzeStage", "DecideStage", "Decided", "DecisionService", "DecisionUnavailable", "UnsafeOutput",
           "context_of", "dead_letter"]
