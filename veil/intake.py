"""Decoding inbound Kafka values into :class:`InboundRecord`, with a clear reason when that fails."""

from __future__ import annotations

from datetime import datetime

import orjson
from pydantic import ValidationError

from veil.errors import InvalidInput
from veil.schemas import InboundDocument, InboundLogLine, InboundRecord, RecordKind, SourceRef

#: Field names that may be named in a reason; any other key is the producer's and may be a value.
_KNOWN_KEYS = set(InboundDocument.model_fields) | set(InboundLogLine.model_fields)


def _first_error(err: ValidationError) -> str:
    """The first schema error as "where: what", without the input: a key that is not one of
    ours (``{"ana@example.org": 1}``) is shown as ``<key>``, never echoed."""
    e = err.errors(include_input=False, include_url=False)[0]
    parts = [p if isinstance(p, int) or p in _KNOWN_KEYS else "<key>" for p in e["loc"]]
    where = ".".join(str(p) for p in parts) or "value"
    return f"{where}: {e['msg']}"


def decode(kind: RecordKind, raw: bytes | None, origin: SourceRef, *, max_bytes: int,
           batch: str | None = None, received: datetime | None = None) -> InboundRecord:
    """Turn a raw Kafka value into a record. Raises :class:`InvalidInput` with a one-line reason.

    The record's timestamp is the one it carries, else ``received`` (the Kafka message time), else now."""
    if raw is None or not raw.strip():
        raise InvalidInput("empty message")
    if len(raw) > max_bytes:
        raise InvalidInput(f"message of {len(raw)} bytes exceeds the {max_bytes}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"not valid UTF-8 at byte {err.start}") from err
    if "\x00" in text:
        raise InvalidInput("contains NUL characters")

    fallback = {"timestamp": received} if received is not None else {}
    if kind is RecordKind.LOG:
        return _decode_log(text, origin, batch, fallback)
    return _decode_document(text, origin, batch, fallback)


def _decode_document(text: str, origin: SourceRef, batch: str | None, fallback: dict) -> InboundRecord:
    try:
        doc = InboundDocument.model_validate_json(text)
    except ValidationError as err:
        first = err.errors(include_input=False)[0]
        if first["type"] == "json_invalid":
            raise InvalidInput(f"not valid JSON: {first['msg']}") from err
        raise InvalidInput(f"schema: {_first_error(err)}") from err
    rid = f"{origin.topic}:{doc.id}" if doc.id else f"{origin.topic}:{origin.partition}:{origin.offset}"
    extra = {"timestamp": doc.timestamp} if doc.timestamp else fallback
    return InboundRecord(id=rid, kind=RecordKind.DOCUMENT, text=doc.text, source=doc.source, origin=origin,
                         batch=batch, metadata=doc.metadata, **extra)


def _decode_log(text: str, origin: SourceRef, batch: str | None, fallback: dict) -> InboundRecord:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            payload = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            payload = None  # a raw line that merely starts with a brace
        if isinstance(payload, dict) and "line" in payload:  # the envelope; other JSON is a structured log line
            try:
                line = InboundLogLine.model_validate(payload)
            except ValidationError as err:
                raise InvalidInput(f"schema: {_first_error(err)}") from err
            extra = {"timestamp": line.timestamp} if line.timestamp else fallback
            return InboundRecord(id=f"{origin.topic}:{origin.partition}:{origin.offset}", kind=RecordKind.LOG,
                                 text=line.line, source=line.source, origin=origin, batch=batch, **extra)
    return InboundRecord(id=f"{origin.topic}:{origin.partition}:{origin.offset}", kind=RecordKind.LOG,
                         text=text.rstrip("\r\n"), source="unknown", origin=origin, batch=batch, **fallback)
