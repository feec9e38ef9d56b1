"""Synchronous redaction over HTTP with the stream's own stages; the web views stay thin."""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import re
import time
from dataclasses import dataclass

from pydantic import BaseModel, SecretStr

from veil.errors import ConfigError, InvalidInput
from veil.schemas import Category, DecisionSource, RecordKind, ReportedFinding, SourceRef, dumps
from veil.schemas.findings import Fallback
from veil.settings import require_secret
from veil.streams.stages import AnalyzeStage, DecideStage, DecisionUnavailable
from veil.streams.telemetry import WorkerMetrics

HTTP_TOPIC = "http"
CONTENT_DIGEST = re.compile(r"~[0-9a-f]{16}$")


class RedactResponse(BaseModel):
    id: str
    redacted_text: str
    findings: list[ReportedFinding]
    models: dict[str, str]
    #: Set when verification redacted more coarsely than decided (occurrences, tokens, lines, record).
    fallback: Fallback | None = None


class HttpError(Exception):
    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


@dataclass(frozen=True)
class ApiGuard:
    """What the worker's HTTP API asks of a request before reading it: a bearer token (compared in
    constant time), a JSON body, a size limit. Errors are :class:`HttpError` (401, 403, 413, 415)."""

    token: bytes | None
    max_body: int

    @classmethod
    def build(cls, host: str, token: SecretStr | None, max_body: int) -> ApiGuard:
        """The guard for a server bound to ``host``; refuses an open API on a non-loopback address."""
        if token is None and not is_loopback(host):
            raise ConfigError(f"VEIL_STREAM__API_TOKEN is not set and the worker's API binds to {host}, which is not "
                              "loopback: set a token, or bind to 127.0.0.1 (VEIL_STREAM__WEB_HOST)")
        require_secret("VEIL_STREAM__API_TOKEN", token, 16)
        return cls(token.get_secret_value().encode() if token is not None else None, max_body)

    def authorize(self, header: str | None) -> None:
        if self.token is None:
            return
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise HttpError(401, "a bearer token is required (Authorization: Bearer ...)",
                            {"WWW-Authenticate": 'Bearer realm="veil"'})
        if not hmac.compare_digest(given.strip().encode(), self.token):
            raise HttpError(403, "the bearer token is not valid")

    def check_body(self, content_type: str | None, length: int | None) -> None:
        if length is not None and length > self.max_body:
            raise HttpError(413, f"the body has {length} bytes; the limit is {self.max_body}")
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            raise HttpError(415, "send the document as application/json")

    async def read(self, chunks) -> bytes:
        """The body from an async byte stream (``.read(n)``), stopped at the limit (a chunked body has
        no length to check beforehand)."""
        body = bytearray()
        while chunk := await chunks.read(65_536):
            body += chunk
            if len(body) > self.max_body:
                raise HttpError(413, f"the body is over the limit of {self.max_body} bytes")
        return bytes(body)


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
        findings = [ReportedFinding(start=e.veil.start, end=e.veil.end, entity=e.veil.entity,
                                    category=Category(e.veil.category), detector=e.veil.detector, score=e.veil.detector_score,
                                    action="redact" if e.event.action == "redact" else "keep",
                                    decided_by=DecisionSource(e.veil.decided_by), operator=e.veil.operator,
                                    fallback=e.veil.fallback) for e in decided.audits]
        # the caller's id (or its keyed hash): the content digest that keeps indexed ids distinct is not needed here
        rid = CONTENT_DIGEST.sub("", doc.id.removeprefix(f"{HTTP_TOPIC}:"))
        return RedactResponse(id=rid, redacted_text=doc.redacted_text,
                              findings=sorted(findings, key=lambda f: f.start), models=doc.models,
                              fallback=doc.fallback)
