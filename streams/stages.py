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
    InboundRecord,
    RecordKind,
    RedactedDocument,
    SourceRef,
)
from schemas.records import Analysis
from veil.errors import InvalidInput, UnsafeOutput
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


@dataclass
class DecideStage:
    """Ask the security pool about uncertain findings, settle by policy, redact, and audit."""

    redactor: Redactor
    security: DecisionService
    general_model: str | None = None

    async def run(self, analyzed: AnalyzedRecord) -> tuple[RedactedDocument, list[AuditEvent]]:
        text = analyzed.record.text
        triage = self.redactor.triage(text, analyzed.candidates, source=analyzed.record.source)
        answers: dict[tuple[int, int], Decision] = {}
        why = ""
        if triage.ask_model:
            try:
                response = await self.security.decide(
                    DecideRequest(record_id=analyzed.record.id, text=text, findings=triage.ask_model))
                answers = {(d.finding.start, d.finding.end): d for d in response.decisions}
            except Exception as err:  # the pool is down or the actor died: fail closed
                why = f"security model unavailable ({type(err).__name__}); redacted"
                log.warning("security stage failed record=%s error=%s", analyzed.record.id, type(err).__name__)
        decisions = self.redactor.conclude(triage, answers, why=why)
        models = {"security": self.security.model}
        if analyzed.analysis.model:
            models["general"] = f"{analyzed.analysis.model}@{analyzed.analysis.model_version}"
        return self.redactor.redact_record(analyzed, decisions, models)


__all__ = ["AnalyzeStage", "DecideStage", "DecisionService", "UnsafeOutput", "dead_letter"]
