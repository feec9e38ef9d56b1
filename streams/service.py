"""Synchronous redaction over HTTP with the stream's own stages; the web views stay thin."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass

from pydantic import BaseModel

from veil.schemas import RecordKind, SourceRef, dumps
from veil.streams.stages import AnalyzeStage, DecideStage, DecisionUnavailable
from veil.streams.telemetry import WorkerMetrics
from veil.errors import InvalidInput

HTTP_TOPIC = "http"
CONTENT_DIGEST = re.compile(r"~[0-9a-f]{16}$")


class HttpFinding(BaseModel):
    start: int
    end: int
    entity: str
    category: str
    detector: str
    action: str
    decided_by: str
    operator: str | None = None
    fallback: str | None = None


class RedactResponse(BaseModel):
    id: str
    redacted_text: str
    findings: list[HttpFinding]
    models: dict[str, str]
    #: Set when verification redacted more coarsely than decided (occurrences, tokens, lines, record).
    fallback: str | None = None


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class RedactService:
    """``POST /v1/redact``: the body is a document as on ``veil.docs.in`` (``{"text", "id"?,
    "source"?, "metadata"?}``); it goes through the same analyze and decide stages as the stream,
    without Kafka. Nothing is written anywhere; the response carries no original values."""

    analyze: AnalyzeStage
    decide: DecideStage
    metrics: WorkerMetrics | None = None

    def __post_init__(self) -> None:
        self._seq = itertools.count()

    async def redact(self, body: bytes) -> RedactResponse:
        return await self._redact(body, self._response)

    async def redact_json(self, body: bytes) -> bytes:
        """``redact`` as the response body, serialized off the event loop."""
        return await self._redact(body, lambda decided: dumps(self._response(decided)))

    async def _redact(self, body: bytes, respond):
        started = time.perf_counter()
        try:
            record = self.analyze.decode(RecordKind.DOCUMENT, body, SourceRef(topic=HTTP_TOPIC, partition=0,
                                                                            offset=next(self._seq)), None)
        except InvalidInput as err:
            raise HttpError(400, err.reason) from err
        try:
            decided = await self.decide.run(await self.analyze.analyze(record), encode=False)
            # 30,000 findings make 30,000 entries: the response is built on the redaction thread too
            return await self.decide.offload(respond, decided)
        except DecisionUnavailable as err:
            raise HttpError(503, str(err)) from err
        finally:
            if self.metrics is not None:
                self.metrics.request_seconds.observe(time.perf_counter() - started)

    @staticmethod
    def _response(decided) -> RedactResponse:
        doc = decided.document
        findings = [HttpFinding(start=e.veil.start, end=e.veil.end, entity=e.veil.entity, category=e.veil.category,
                                detector=e.veil.detector, action=e.event.action, decided_by=e.veil.decided_by,
                                operator=e.veil.operator, fallback=e.veil.fallback) for e in decided.audits]
        # the caller's id (or its keyed hash): the content digest that keeps indexed ids distinct is not needed here
        rid = CONTENT_DIGEST.sub("", doc.id.removeprefix(f"{HTTP_TOPIC}:"))
        return RedactResponse(id=rid, redacted_text=doc.redacted_text,
                              findings=sorted(findings, key=lambda f: f.start), models=doc.models,
                              fallback=doc.fallback)
