"""The public face of a redacted record: the document written to the index and one audit event
per decision; record ids, source names and batch tags as they may be written anywhere; metadata and
a model's rationale redacted. The text itself is redacted by :class:`~veil.redactor.Redactor`."""

from __future__ import annotations

import hmac
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import orjson

from veil.fields import field_secrets, plain_identifier
from veil.operators import value_hash
from veil.policy import Policy
from veil.schemas import (
    AnalyzedRecord,
    AuditDetails,
    AuditEvent,
    Decision,
    DecisionSource,
    EcsEvent,
    Finding,
    RedactedDocument,
    trusted,
)
from veil.schemas.ecs import DocumentEvent, Ecs, EcsHost, EcsService
from veil.schemas.findings import Fallback
from veil.schemas.records import utcnow
from veil.verification import Redaction


class TextRedactor(Protocol):
    """What a publisher needs of the :class:`~veil.redactor.Redactor` it belongs to."""

    @property
    def policy(self) -> Policy: ...

    @property
    def hmac_key(self) -> bytes: ...

    @property
    def service(self) -> EcsService | None: ...

    @property
    def host(self) -> EcsHost | None: ...

    def scan(self, text: str) -> list[Finding]: ...

    def redact_text(self, text: str, decisions: Sequence[Decision], *, source: str | None = None) -> Redaction: ...

    def redact_unasked(self, value: str, found: Sequence[Finding] = ()) -> str: ...

_ECS = Ecs()  # shared by every audit event, never changed
#: The longest document _id Elasticsearch takes, in UTF-8 bytes; a record's id keeps room for the
#: ``:start-end`` its audit events' ids add.
MAX_ID_BYTES = 512
_RECORD_ID_BYTES = MAX_ID_BYTES - 32


class RecordPublisher:
    """Turns a record and its decisions into what may be written: built by the :class:`Redactor`
    it belongs to (``redactor.records``), whose keys, policy and detectors it uses."""

    def __init__(self, redactor: TextRedactor) -> None:
        self.redactor = redactor
        #: (kind, name) -> as indexed, for sources and batch tags: a stream has few and each record names one
        self._public: dict[tuple[str, str], str] = {}

    def redact_record(self, analyzed: AnalyzedRecord, decisions: Sequence[Decision],
                      models: dict[str, str] | None = None) -> tuple[RedactedDocument, list[AuditEvent]]:
        rec = analyzed.record
        redaction = self.redactor.redact_text(rec.text, decisions, source=rec.source)
        rid, source, metadata = self.public_id(rec), self.public_source(rec.source), self.redact_fields(rec.metadata)
        batch = self.public_batch(rec.batch)
        doc = RedactedDocument(
            id=rid, kind=rec.kind, event=DocumentEvent(provider=source, id=rid), origin=rec.origin, batch=batch,
            timestamp=rec.timestamp, redacted_text=redaction.text,
            text_kind=analyzed.analysis.text_kind, language=analyzed.analysis.language,
            redactions=redaction.applied,
            entity_counts=dict(Counter(a.entity for a in redaction.applied)),
            decision_modes=sorted({d.source.value for d in redaction.decisions}),
            models=models or {}, template_id=analyzed.template_id, metadata=metadata,
            fallback=redaction.fallback,
        )
        ops, levels = redaction.operators, redaction.fallback_spans
        hashes = {(a.start, a.end): a.value_hash for a in redaction.applied}  # the same value: hashed once
        events = []
        now = utcnow()
        for d in redaction.decisions:
            span = d.finding.start, d.finding.end
            events.append(self._audit(analyzed, d, ops.get(span), levels.get(span), hashes.get(span), now, rid, batch))
        return doc, events

    def _sensitive(self, value: str) -> bool:
        return any(f.score >= self.redactor.policy.min_candidate_score for f in self.redactor.scan(value))

    def public_id(self, rec) -> str:
        """The record's id as written to the index, followed by a keyed digest so that a new record
        never replaces an earlier one while a redelivered record still maps to its copy.

        Veil's own ids (topic:partition:offset, for log lines and documents without an id) are not
        unique for ever: a topic deleted and created again, or a broker that lost its storage, starts
        its offsets at 0 again. Their digest covers the record's time (the Kafka message timestamp,
        fixed when it was produced) with its content, so a later line at the same offset gets a
        document of its own. A producer's id is followed by the digest of the content, so a
        different record sent under an id already used does not replace the first. An id that is not
        :meth:`keepable` (a card number, an e-mail address, a key, odd characters) is itself replaced
        by a keyed hash."""
        topic = rec.origin.topic
        given = rec.id.removeprefix(f"{topic}:")
        if given == f"{rec.origin.partition}:{rec.origin.offset}":
            public = f"{rec.id}~{self.content_digest(rec, timed=True)}"
        else:
            shown = given if self.keepable(given) else f"id-{value_hash(given, self.redactor.hmac_key)[:32]}"
            public = f"{topic}:{shown}~{self.content_digest(rec)}"
        if len(public.encode()) > _RECORD_ID_BYTES:  # Elasticsearch would refuse it: a keyed digest of it instead
            public = f"id-{value_hash(public, self.redactor.hmac_key)[:48]}"
        return public

    def content_digest(self, rec, *, timed: bool = False) -> str:
        """A keyed digest of what a record says (text, source, metadata; with ``timed`` its time as
        well): 64 bits, hex."""
        parts = [rec.text, rec.source, rec.metadata, *([rec.timestamp.isoformat()] if timed else [])]
        content = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
        return hmac.digest(self.redactor.hmac_key, content, "sha256")[:8].hex()

    def keepable(self, value: str) -> bool:
        """Whether an identifier (a record id, a source name, a batch tag) may be indexed as it is:
        the strict shape of :func:`veil.fields.plain_identifier`, and nothing a detector finds in it."""
        return plain_identifier(value) and not self._sensitive(value) and not field_secrets(value)

    def _named(self, kind: str, value: str) -> str:
        public = self._public.get((kind, value))
        if public is None:
            public = value if self.keepable(value) else f"{kind}-{value_hash(value, self.redactor.hmac_key)[:16]}"
            if len(self._public) < 4096:
                self._public[(kind, value)] = public
        return public

    def public_source(self, source: str) -> str:
        """The producing system's name as indexed: itself when :meth:`keepable`, else a keyed hash."""
        return source if source == "unknown" else self._named("source", source)

    def public_batch(self, batch: str | None) -> str | None:
        """A batch tag (the ``veil-batch`` header) as written anywhere: itself when :meth:`keepable`,
        else a keyed hash (stable, so a batch can still be followed)."""
        return None if batch is None else self._named("batch", batch)

    def redact_fields(self, fields: Mapping[str, str]) -> dict[str, str]:
        """Metadata keys and values redacted like text: every candidate a detector finds is redacted
        (no model reads metadata), and verified the same way."""
        if not fields:
            return {}
        out: dict[str, str] = {}
        for key, value in fields.items():
            out[self._redact_field(key)] = self._redact_field(value)
        return out

    def scrub(self, written: str, value: str) -> str:
        """Words a model wrote after reading the unredacted text (a judge's rationale): the value it
        judged is taken out, and whatever else a detector finds in them is redacted."""
        if value.strip() and value.casefold() in written.casefold():
            written = re.sub(re.escape(value), "<value>", written, flags=re.IGNORECASE)
        return self._redact_field(written) if written else written

    def _redact_field(self, value: str) -> str:
        return self.redactor.redact_unasked(value, field_secrets(value))

    def _audit(self, analyzed: AnalyzedRecord, d: Decision, operator: str | None,
               fallback: Fallback | None = None, digest: str | None = None, at: datetime | None = None,
               record_id: str | None = None, batch: str | None = None) -> AuditEvent:
        """One decision's event. Built without re-validation (a record with 30,000 findings has
        30,000 events): every field comes from the record, the decision and the redaction made here;
        a unit test holds the result equal to the validated model."""
        rec, f = analyzed.record, d.finding
        rid = record_id or rec.id
        action = "redact" if operator else "keep"
        details = trusted(
            AuditDetails, record_id=rid, source_topic=rec.origin.topic, source_partition=rec.origin.partition,
            source_offset=rec.origin.offset, batch=batch if batch is not None else self.public_batch(rec.batch),
            entity=f.entity, category=f.category.value,
            start=f.start, end=f.end, detector=f.detector, detector_score=f.score,
            decided_by=d.source.value, confidence=d.confidence,
            rationale=self.scrub(d.rationale, rec.text[f.start:f.end]) if d.source == DecisionSource.MODEL else d.rationale,
            operator=operator, model=d.model, model_version=d.model_version, cached=d.cached,
            value_hash=digest or value_hash(rec.text[f.start:f.end], self.redactor.hmac_key), fallback=fallback)
        event_id = f"{rid}:{f.start}-{f.end}"
        event = trusted(EcsEvent, kind="event", category=["process"], type=["change" if operator else "info"],
                        action=action, outcome="success", dataset="veil.audit", id=event_id, reason=None)
        return trusted(AuditEvent, timestamp=at or utcnow(), id=event_id, ecs=_ECS, event=event,
                       service=self.redactor.service, host=self.redactor.host, veil=details)
