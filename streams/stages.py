"""The stream's two stages, drivers of the record pipeline (:mod:`veil.pipeline`): analyze (decode,
scan, the analyst within its budget) and decide (the security pool within its budget, hold mode,
redaction, audit events, review items). No Faust here, so they test alone."""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from veil import pipeline
from veil.cache import Caching, marked_context
from veil.errors import ProviderError, VeilError, safe_reason
from veil.intake import decode
from veil.models.roles import GeneralAnalyst
from veil.redactor import Redactor
from veil.schemas import (
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
    dumps,
)
from veil.schemas.records import Analysis, OnModelFailure, Stage
from veil.sealing import Sealer
from veil.verification import RECORD_ENTITY, WHOLE_RECORD

if TYPE_CHECKING:
    from veil.models.metrics import ModelStats
    from veil.settings import ModelSettings

#: The text of a document redacted whole because even its summary is over the message limit.
WHOLE_RECORD_TEXT = f"<{RECORD_ENTITY}_1>"

log = logging.getLogger(__name__)


class DecisionService(Protocol):
    model: str

    @property
    def last_metrics(self) -> list[dict[str, ModelStats]]:
        """The figures each of its model instances last reported (one per Ray actor)."""
        ...

    async def decide(self, request: DecideRequest) -> DecideResponse: ...

    def swap(self, models: ModelSettings) -> str:
        """Serve another security model (blocking); returns the model now served. Raises when the
        service cannot swap (the old model keeps serving)."""
        ...


class Offload:
    """Runs CPU-bound redaction on a thread of its own, so that the event loop (Kafka heartbeats and
    polls, ``/health``) stays responsive while a record with tens of thousands of findings is
    redacted. One thread: the detectors, the template miner and the caches are driven from it alone.
    The GIL is shared, but the interpreter switches threads every few milliseconds, so the loop
    waits milliseconds, not the seconds a large record takes."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="redact")

    async def __call__(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, _collector_paused, fn, args)


def _collector_paused(fn, args):
    """Run ``fn`` with the cyclic garbage collector paused. A large record makes hundreds of
    thousands of short-lived objects (findings, decisions, events); the collector would scan them,
    and the whole heap with the models, again and again (a third of the time of a 30,000-finding
    record). Reference counting frees them; a cycle among them waits for the next collection."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return fn(*args)
    finally:
        if paused:
            gc.enable()


#: The process's redaction thread, shared by the stages unless they are given their own.
REDACTION = Offload()


#: ``DecideResponse.unavailable`` when the record's model budget ran out (not a failing model)
BUDGET = "budget"


class OutputTooLarge(VeilError):
    """A record's output is larger than the broker takes even made coarse (:func:`fit`); it is dead-lettered."""


def dead_letter(err: Exception, origin: SourceRef, raw: bytes | None, *, stage: Stage, sealer: Sealer,
                batch: str | None = None, max_payload: int = 65_536) -> DeadLetter:
    """The dead letter of a record. It keeps at most ``max_payload`` bytes of the record (a 1 MB
    record would make a dead letter over the broker's limit), sealed, with the record's size and
    keyed digest; its origin points at the whole record. The reason is Veil's own message or, for
    an error that is not Veil's (it may quote the input), the error's type alone."""
    raw = raw or b""
    reason = safe_reason(err, f"in the {stage} stage")
    kept = sealer.seal(raw[:max_payload], "deadletter")
    return DeadLetter(reason=reason, error_type=type(err).__name__, origin=origin, batch=batch,
                      payload=base64.b64encode(kept).decode(), sealed=True, stage=stage, payload_bytes=len(raw),
                      payload_digest=sealer.digest(raw), truncated=len(raw) > max_payload)


@dataclass
class AnalyzeStage:
    """Decode an inbound value, run the detectors and the general analyst. A log line is mined
    into its template first: the analyst reads the template, once per template when answers are
    reused, and the detectors read every line."""

    redactor: Redactor
    analyst: GeneralAnalyst | None
    max_bytes: int
    caching: Caching | None = None
    asked: int = 0  # questions put to the analyst
    offload: Offload = field(default=REDACTION)
    #: wall time of the analyst for one record: past it, the record goes on with the detectors' findings
    analyst_budget_s: float = 30.0
    over_budget: int = 0  # records whose analysis ran out of budget
    #: told when a record's model work starts (its origin) and ends (None): the stall watchdog
    progress: Callable[[SourceRef | None], None] | None = None
    _executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="analyst"))

    def decode(self, kind: RecordKind, raw: bytes | None, origin: SourceRef, batch: str | None,
               received: datetime | None = None) -> InboundRecord:
        return decode(kind, raw, origin, max_bytes=self.max_bytes, batch=batch, received=received)

    async def analyze(self, record: InboundRecord) -> AnalyzedRecord:
        return (await self.analyze_many([record]))[0]

    async def analyze_many(self, records: list[InboundRecord]) -> list[AnalyzedRecord]:
        """``analyze`` for records read together: batch-capable detectors (NER) see them at once."""
        scanned = await self.offload(self._scan, records)
        return [await self._analyze(r, s) for r, s in zip(records, scanned)]

    async def analyze_each(self, records: list[InboundRecord]) -> list[AnalyzedRecord | Exception]:
        """``analyze_many``; if the batch raises, each record again alone, so that a record that
        makes a detector or the analyst fail costs only itself: its place holds the exception."""
        try:
            return [*await self.analyze_many(records)]
        except Exception:  # noqa: BLE001 - sorted out record by record below
            out: list[AnalyzedRecord | Exception] = []
            for record in records:
                try:
                    out.append((await self.analyze_many([record]))[0])
                except Exception as err:  # noqa: BLE001 - that record's dead letter
                    out.append(err)
            return out

    def _scan(self, records: list[InboundRecord]) -> list[pipeline.Scanned]:
        return pipeline.scan(self.redactor, self.caching, [r.text for r in records],
                             [r.kind == RecordKind.LOG for r in records])

    async def _analyze(self, record: InboundRecord, scanned: pipeline.Scanned) -> AnalyzedRecord:
        caching, line = self.caching, scanned.line
        template_id = caching.template_id(line) if caching is not None else None
        if self.analyst is None:
            return AnalyzedRecord.of(record, Analysis(), scanned.candidates, template_id, line)
        plan = pipeline.plan_analysis(caching, scanned)
        result = plan.cached
        if result is None:
            # llama.cpp releases the GIL; running it on a thread keeps the event loop (heartbeats) alive.
            self.asked += 1
            if self.progress is not None:
                self.progress(record.origin)
            budget = self.analyst_budget_s
            call = asyncio.get_running_loop().run_in_executor(self._executor, self.analyst.analyze,
                                                              plan.question or record.text, budget)
            try:  # the provider stops at the budget; this guards against one that does not
                answer = await asyncio.wait_for(asyncio.shield(call), budget + min(5.0, budget))
            except TimeoutError:
                self.over_budget += 1
                log.warning("analyst over budget record=%s:%d:%d budget=%.0fs", record.origin.topic,
                            record.origin.partition, record.origin.offset, budget)
                return AnalyzedRecord.of(record, Analysis(error=f"over the analyst's budget ({budget:g} s): detectors only"),
                                         scanned.candidates, template_id, line)
            finally:
                if self.progress is not None:
                    self.progress(None)
            if answer.analysis.timed_out:
                self.over_budget += 1
            result = plan.learn(answer)
        return AnalyzedRecord.of(record, result.analysis, scanned.candidates + result.findings, template_id, line)


class NoSecurityModel:
    """The decision service of a detectors-only worker: nothing is asked, undecided candidates are redacted."""

    model = "none"

    @property
    def last_metrics(self) -> list[dict[str, ModelStats]]:
        return []  # no model, no figures

    async def decide(self, request: DecideRequest) -> DecideResponse:
        return DecideResponse(record_id=request.record_id, decisions=[], unavailable="no security model configured")

    def swap(self, models: ModelSettings) -> str:
        raise ProviderError("this worker runs without a security model (models.security is none): nothing to swap")


class DecisionUnavailable(ProviderError):
    """Hold mode: the security model cannot be asked; the record must be retried, not committed."""

    retryable = True


@dataclass(frozen=True, slots=True)
class Decided:
    document: RedactedDocument
    audits: list[AuditEvent]
    reviews: list[ReviewItem]
    #: The document, audit events and (sealed) review items as JSON, made on the redaction thread (a
    #: record with 30,000 findings has 30,000 audit events: serializing them on the event loop would stall it).
    encoded: tuple[bytes, list[bytes], list[bytes]] | None = None


@dataclass(frozen=True, slots=True)
class ToAsk:
    """A record the security model must be asked about: the record, sealed, for the security topic."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Failed:
    """A record its stage could not process, and why (the caller dead-letters it)."""

    error: Exception


#: What settling a record at once gave: done, to be asked, or failed.
Settled = Decided | ToAsk | Failed


@dataclass
class DecideStage:
    """Ask the security pool about uncertain findings, settle by policy, redact, audit, and queue
    unsure model decisions for review.

    With a decision cache, answers already given for a candidate in the same context are reused;
    :meth:`settle_now` finishes a record at once when nothing is left to ask.

    When the pool cannot decide (down, timed out, its providers failing) ``on_model_failure``
    applies: ``redact`` fails closed on the undecided candidates, ``hold`` raises
    :class:`DecisionUnavailable` so the caller retries the record without committing it.
    """

    redactor: Redactor
    security: DecisionService
    on_model_failure: OnModelFailure = "redact"
    review_below: float = 0.75
    caching: Caching | None = None
    asked: int = 0  # questions put to the security model
    offload: Offload = field(default=REDACTION)
    max_message_bytes: int = 1_000_000  # kafka.max_message_bytes: a larger output is dead-lettered
    #: Why the security model could not be asked the last time, or None once it answered again.
    unavailable: str | None = None
    #: Seals what goes to internal topics with raw text (veil.analyzed, veil.review). None only
    #: where nothing is written (tests, the HTTP service): those messages are then plain JSON.
    sealer: Sealer | None = None
    #: the model work one record may cost: questions, and the wall time they take together
    judge_budget_questions: int = 32
    judge_budget_s: float = 60.0
    over_budget: int = 0  # records with candidates redacted because the budget ran out

    def _sealed(self, raw: bytes, purpose: str) -> bytes:
        return raw if self.sealer is None else self.sealer.seal(raw, purpose)

    def _plan(self, analyzed: AnalyzedRecord) -> pipeline.DecisionPlan:
        rec = analyzed.record
        served = None if isinstance(self.security, NoSecurityModel) else self.security.model
        return pipeline.plan_decisions(self.redactor, self.caching, rec.text, analyzed.candidates, source=rec.source,
                                       served=served, variables=analyzed.variable_parts)

    def settle_now(self, analyzed: AnalyzedRecord, *, encode: bool = False) -> Decided | None:
        """The record decided without the security model (policy and cache), or None if it must be asked."""
        plan = self._plan(analyzed)
        if plan.questions:
            return None
        why = "no security model configured; redacted" if isinstance(self.security, NoSecurityModel) else ""
        return self._finish(analyzed, plan, None, why, encode=encode)

    async def settle_many(self, items: list[AnalyzedRecord]) -> list[Settled]:
        """:meth:`settle_now` for a batch, on the redaction thread. Per record: what it became
        (:class:`Decided`), or :class:`ToAsk` when the security model must be asked, or
        :class:`Failed` (the caller dead-letters that record; the others go on)."""
        return await self.offload(self._settle_all, items)

    def _settle_all(self, items: list[AnalyzedRecord]) -> list[Settled]:
        out: list[Settled] = []
        for item in items:
            try:
                done = self.settle_now(item, encode=True)
                if done is None:
                    item.variable_parts()  # the decide agent (maybe in another worker) needs them
                    out.append(ToAsk(self._sealed(dumps(item), "analyzed")))
                else:
                    out.append(done)
            except Exception as err:  # noqa: BLE001 - one record's failure is that record's dead letter
                out.append(Failed(err))
        return out

    async def run(self, analyzed: AnalyzedRecord, *, encode: bool = True) -> Decided:
        rec = analyzed.record
        plan = await self.offload(self._plan, analyzed)
        said: list[Decision] | None = None
        failure: str | None = None
        why, over = "", False
        cap = self.judge_budget_questions
        if plan.questions > cap:  # the rest are redacted: fail closed, never a long wait
            why, over = f"over the record's budget of {cap} model questions; redacted", True
            plan = plan.capped(cap)
        if plan.consultation is not None and plan.consultation.ask:
            asked = plan.consultation
            self.asked += len(asked.ask)
            budget = self.judge_budget_s
            try:
                response = await asyncio.wait_for(self.security.decide(
                    DecideRequest(record_id=rec.id, findings=asked.ask, contexts=asked.contexts, budget_s=budget)),
                    budget + min(5.0, budget))
                said, failure = response.decisions, response.unavailable
            except TimeoutError:
                said, failure = [], BUDGET
            except Exception as err:  # noqa: BLE001 - the pool is down or the actor died: recorded as the failure
                failure = type(err).__name__
            if failure == BUDGET:  # the model answered too slowly for this record: redacted, not held
                why, over = f"over the record's model budget ({budget:g} s); redacted", True
                self.unavailable = None
            else:
                self.unavailable = None if failure is None else f"security model unavailable ({failure.split(':')[0]})"
            if failure is not None and failure != BUDGET:
                log.warning("security stage failed record=%s mode=%s", rec.id, self.on_model_failure)
                if self.on_model_failure == "hold":
                    raise DecisionUnavailable(f"security model unavailable ({failure.split(':')[0]})")
                why = f"security model unavailable ({failure.split(':')[0]}); redacted"
        self.over_budget += over
        return await self.offload(self._finish, analyzed, plan, said, why, encode, failure is None)

    def _finish(self, analyzed: AnalyzedRecord, plan: pipeline.DecisionPlan, said: list[Decision] | None,
                why: str, encode: bool = False, complete: bool = True) -> Decided:
        rec = analyzed.record
        decisions = pipeline.conclude(self.redactor, self.caching, plan, said, complete=complete, why=why)
        models = {"security": self.security.model}
        if analyzed.analysis.model:
            models["general"] = f"{analyzed.analysis.model}@{analyzed.analysis.model_version}"
        doc, audits = self.redactor.records.redact_record(analyzed, decisions, models)
        reviews = [  # a reused decision was queued when it was made
            ReviewItem(id=f"{doc.id}:{d.finding.start}-{d.finding.end}", record_id=doc.id, origin=rec.origin,
                       source=rec.source, context=marked_context(rec.text, d.finding.start, d.finding.end), decision=d)
            for d in decisions
            if d.source == DecisionSource.MODEL and not d.cached and d.confidence < self.review_below
        ]
        encoded = None
        if encode:
            doc, document = fit(doc, self.max_message_bytes)
            encoded = (document, [dumps(a) for a in audits], [self._sealed(dumps(r), "review") for r in reviews])
            if (size := max((len(m) for m in (*encoded[1], *encoded[2])), default=0)) > self.max_message_bytes:
                raise OutputTooLarge(f"an audit event or review item of {size} bytes exceeds the "
                                     f"{self.max_message_bytes}-byte message limit (kafka.max_message_bytes)")
        return Decided(doc, audits, reviews, encoded)


def fit(doc: RedactedDocument, limit: int) -> tuple[RedactedDocument, bytes]:
    """The document and its JSON, made to fit ``limit`` bytes: as it is; else without the
    per-finding list (``detail: summary``; the audit events keep every finding); else its text
    redacted whole (``fallback: record``). Raises :class:`OutputTooLarge` when even that does not
    fit (metadata or an id beyond the limit): the record is then dead-lettered."""
    encoded = dumps(doc)
    if len(encoded) <= limit:
        return doc, encoded
    first = len(encoded)
    for update in ({"redactions": [], "detail": "summary"},
                   {"redactions": [], "detail": "summary", "redacted_text": WHOLE_RECORD_TEXT, "fallback": WHOLE_RECORD}):
        doc = doc.model_copy(update=update)
        encoded = dumps(doc)
        if len(encoded) <= limit:
            log.info("output made to fit record=%s bytes=%d limit=%d detail=%s fallback=%s", doc.origin.offset, first,
                     limit, doc.detail, doc.fallback)
            return doc, encoded
    raise OutputTooLarge(f"a redacted document of {len(encoded)} bytes (its text redacted whole) exceeds the "
                         f"{limit}-byte message limit (kafka.max_message_bytes)")


__all__ = [
    "REDACTION",
    "AnalyzeStage",
    "DecideStage",
    "Decided",
    "DecisionService",
    "DecisionUnavailable",
    "Failed",
    "NoSecurityModel",
    "Offload",
    "OutputTooLarge",
    "Settled",
    "ToAsk",
    "dead_letter",
    "fit",
]
