"""Record-level redaction: triage findings, apply operators, verify, and build the audit trail.

Pure functions over schemas; the stream, the Ray actors and the batch CLI all call this.
"""

from __future__ import annotations

import hmac
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import orjson

from veil.detectors import Detector, Scanner, default_detectors, entity_types, merge_findings
from veil.detectors.protocol import ConstantParts
from veil.fields import field_secrets, plain_identifier
from veil.occurrences import Spans, ValueIndex, is_word
from veil.operators import OPERATORS, OperatorContext, placeholder, value_hash
from veil.policy import QUASI, DenyListDetector, Policy
from veil.schemas import (
    AnalyzedRecord,
    AppliedRedaction,
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
from veil.schemas.findings import ANALYST_ENTITIES, Fallback
from veil.schemas.records import utcnow
from veil.verification import (
    BOUNDS,
    FALLBACK_LEVELS,
    RECORD_ENTITY,
    WHOLE_RECORD,
    Redaction,
    shows,
    survivors,
    widen,
)

_ECS = Ecs()  # shared by every audit event, never changed
#: The longest document _id Elasticsearch takes, in UTF-8 bytes; a record's id keeps room for the
#: ``:start-end`` its audit events' ids add.
MAX_ID_BYTES = 512
_RECORD_ID_BYTES = MAX_ID_BYTES - 32


def _decision(*, finding: Finding, redact: bool, confidence: float, source: DecisionSource,
              rationale: str = "") -> Decision:
    """A policy decision. Built without re-validation: every field comes from a finding we made and
    the policy (model answers are validated where they enter, in the roles)."""
    return trusted(Decision, finding=finding, redact=redact, confidence=confidence, source=source,
                                    rationale=rationale[:200], model=None, model_version=None, cached=False)


def _only_at(text: str, value: str, starts: set[int]) -> bool:
    """Every occurrence of ``value`` in ``text``, overlapping ones included, starts in ``starts``."""
    i = text.find(value)
    while i >= 0:
        if i not in starts:
            return False
        i = text.find(value, i + 1)
    return True


def quasi_detector() -> Detector:
    """Dates and ages, for the ``anonymize`` profile."""
    from veil.detectors import quasi
    from veil.detectors.base import PatternDetector

    return PatternDetector(name="quasi", specs=[replace(s, group="quasi") for s in quasi.SPECS])


def known_entities(detectors: Sequence[Detector] = ()) -> set[str]:
    """Every entity type a finding can have: the built-in detectors', the NER model's and the
    general analyst's, Veil's own, and those a detector of one's own declares (``entities``)."""
    names = entity_types() | set(ANALYST_ENTITIES) | QUASI | {"DENYLIST", "INTERNAL_HOSTNAME", RECORD_ENTITY}
    for d in detectors:
        names |= d.entities
    return names


@dataclass(slots=True)  # read-only by convention: a frozen one costs 2.5x to build, once per redacted line
class Triage:
    """Findings settled by policy, and those the security model must judge."""

    decided: list[Decision]
    ask_model: list[Finding]


@dataclass(slots=True)
class Redactor:
    """Detectors + policy + key. Stateless between records; safe to share across tasks."""

    policy: Policy
    hmac_key: bytes
    detectors: Sequence[Detector] = field(default_factory=default_detectors)
    encryption_key: bytes | None = None
    #: ECS ``service``/``host`` of the process, written into every audit event (which worker decided)
    service: EcsService | None = None
    host: EcsHost | None = None
    _scanner: Scanner = field(init=False, repr=False)
    #: (kind, name) -> as indexed, for sources and batch tags: a stream has few and each record names one
    _public: dict[tuple[str, str], str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.policy.check_operators(OPERATORS, encryption_key=self.encryption_key is not None)
        self.policy.check_entities(known_entities(self.detectors))
        if self.policy.deny_values:
            self.detectors = [*self.detectors, DenyListDetector(self.policy.deny_values)]
        if self.policy.profile == "anonymize" and not any(d.name == "quasi" for d in self.detectors):
            self.detectors = [*self.detectors, quasi_detector()]
        self._scanner = Scanner(self.detectors)

    def scan(self, text: str) -> list[Finding]:
        return self._scanner.scan(text)

    def scan_many(self, texts: Sequence[str], constants: Sequence[ConstantParts | None] | None = None,
                  documents: Sequence[bool] | None = None) -> list[list[Finding]]:
        """``scan`` for many texts; detectors with ``detect_many`` (NER) see them in one batch.
        ``constants``: per text, the parts its log template holds constant (or None);
        ``documents``: per text, whether it is a document (NER reads it whole) or a log line."""
        return self._scanner.scan_many(texts, constants, documents)

    def triage(self, text: str, candidates: Sequence[Finding], *, source: str | None = None) -> Triage:
        policy = self.policy.for_source(source) if source else self.policy
        decided: list[Decision] = []
        ask: list[Finding] = []
        candidates = policy.select(text, [c for c in candidates if c.score >= policy.min_candidate_score])
        for f in merge_findings(candidates, text):
            if text[f.start:f.end] in policy.allow_values:
                decided.append(_decision(finding=f, redact=False, confidence=1.0, source=DecisionSource.POLICY,
                                        rationale="value is on the allow-list"))
            elif not policy.needs_model(f):
                decided.append(_decision(finding=f, redact=True, confidence=f.score, source=DecisionSource.POLICY,
                                        rationale=f"{f.detector}: {f.reason}"[:200]))
            else:
                ask.append(f)
        return Triage(decided=decided, ask_model=ask)

    def settle(self, finding: Finding, decision: Decision | None, *, why: str = "") -> Decision:
        """Apply the policy to a model decision. No decision, or an unsure keep, means redact."""
        if decision is None:
            return _decision(finding=finding, redact=True, confidence=finding.score,
                            source=DecisionSource.FAIL_CLOSED, rationale=why or "no model decision; redacted")
        if not decision.redact and decision.confidence < self.policy.keep_min_confidence:
            return decision.model_copy(update={"redact": True, "rationale": f"unsure keep overruled: {decision.rationale}"[:200]})
        return decision

    def conclude(self, triage: Triage, answers: Mapping[tuple[int, int], Decision], *, why: str = "") -> list[Decision]:
        """Policy decisions plus the model's answers (by span), settled; unanswered spans fail closed."""
        return [*triage.decided, *(self.settle(f, answers.get((f.start, f.end)), why=why) for f in triage.ask_model)]

    def apply(self, text: str, decisions: Sequence[Decision], *, source: str | None = None) -> Redaction:
        """Carry out the decisions, and redact every other whole-word occurrence of a redacted value.
        Not verified: :meth:`redact_text` is the safe entry point."""
        policy = self.policy.for_source(source) if source else self.policy
        return self._apply(text, decisions, policy)

    def _apply(self, text: str, decisions: Sequence[Decision], policy: Policy, **fallback) -> Redaction:
        return self._replace(text, [*decisions, *self._other_occurrences(text, decisions)], policy, **fallback)

    def _replace(self, text: str, decisions: list[Decision], policy: Policy, *, fallback: Fallback | None = None,
                 fallback_spans: dict[tuple[int, int], Fallback] | None = None) -> Redaction:
        """One replacement per run of overlapping redacted spans (the widest span's entity names it)."""
        ctx = OperatorContext(hmac_key=self.hmac_key, encryption_key=self.encryption_key)
        out: list[str] = []
        applied: list[AppliedRedaction] = []
        spans: list[tuple[int, int]] = []
        operators: dict[tuple[int, int], str] = {}
        redact = sorted((d for d in decisions if d.redact and d.finding.end > d.finding.start),
                        key=lambda d: (d.finding.start, -d.finding.end, d.finding.entity != RECORD_ENTITY))
        hashes: dict[str, str] = {}  # a value that stands several times is hashed once
        pos = out_pos = i = 0
        while i < len(redact):
            lead = redact[i]
            start, end = lead.finding.start, lead.finding.end
            j = i + 1
            while j < len(redact) and redact[j].finding.start < end:
                f = redact[j].finding
                if f.end > end:
                    end = f.end
                if f.end - f.start > lead.finding.end - lead.finding.start:
                    lead = redact[j]
                j += 1
            f = lead.finding
            value = text[start:end]
            op = "placeholder" if f.entity == RECORD_ENTITY else policy.operator_for(f)
            replacement = OPERATORS[op](value, f, ctx)
            if op != "placeholder" and shows(value, replacement, f.entity):
                op, replacement = "placeholder", placeholder(value, f, ctx)  # never the operator's leak
            for d in redact[i:j]:
                operators[(d.finding.start, d.finding.end)] = op
            out.append(text[pos:start])
            out_pos += start - pos
            out.append(replacement)
            spans.append((out_pos, out_pos + len(replacement)))
            out_pos += len(replacement)
            pos = end
            digest = hashes.get(value)
            if digest is None:
                digest = hashes[value] = value_hash(value, self.hmac_key)
            applied.append(trusted(AppliedRedaction, start=start, end=end, entity=f.entity, category=f.category,
                                   operator=op, replacement=replacement, value_hash=digest))
            i = j
        out.append(text[pos:])
        return Redaction(text="".join(out), applied=applied, output_spans=spans, decisions=decisions,
                         operators=operators, fallback=fallback, fallback_spans=fallback_spans or {})

    @staticmethod
    def _other_occurrences(text: str, decisions: Sequence[Decision]) -> list[Decision]:
        """A value redacted once is redacted wherever else it stands as a whole word in the record,
        even where no detector fired (a name the NER model tagged only once, say). One pass over
        the text finds every value; a longer value wins where two start at the same place."""
        first: dict[str, Decision] = {}
        at: dict[str, set[int]] = {}  # where each value was decided
        for d in decisions:
            if d.redact and d.finding.end - d.finding.start >= 3:
                value = text[d.finding.start:d.finding.end]
                first.setdefault(value, d)
                at.setdefault(value, set()).add(d.finding.start)
        if not first or (len(first) < ValueIndex.PLAIN_BELOW and all(_only_at(text, v, at[v]) for v in first)):
            return []  # the common case: a few values, each standing only where it was decided
        taken = Spans((d.finding.start, d.finding.end) for d in decisions)
        extra: list[Decision] = []
        found = sorted(ValueIndex(first).find(text), key=lambda m: (m[0], m[0] - m[1]))
        for start, end, value in found:
            if not is_word(text, start, end) or taken.overlaps(start, end):
                continue
            taken.add(start, end)
            d = first[value]
            f = d.finding.model_copy(update={"start": start, "end": end})
            extra.append(d.model_copy(update={"finding": f, "rationale": "another occurrence of a redacted value"}))
        return extra

    def survivors(self, original: str, redaction: Redaction) -> list[tuple[int, int, Decision]]:
        """Where a redacted value still stands in the output (see :func:`veil.verification.survivors`)."""
        return survivors(original, redaction)

    def redact_text(self, text: str, decisions: Sequence[Decision], *, source: str | None = None) -> Redaction:
        """Apply the decisions and verify the output; never raises for what the text holds.

        Where a redacted value survives (inside a longer word, next to a replacement, re-formed
        by an operator), redaction widens step by step until the output verifies: every occurrence
        of the value, then the whole token around it, then its line, and as the last resort the
        whole text becomes one typed placeholder. ``Redaction.fallback`` and the decisions' spans
        in ``fallback_spans`` say what happened, for the audit trail.
        """
        policy = self.policy.for_source(source) if source else self.policy
        redaction = self._apply(text, decisions, policy)
        added: dict[tuple[int, int], Decision] = {}
        levels: dict[tuple[int, int], Fallback] = {}
        for level in FALLBACK_LEVELS:
            found = self.survivors(text, redaction)
            if not found:
                return redaction
            pattern = BOUNDS.get(level)
            bounds = [m.span() for m in pattern.finditer(text)] if pattern is not None else None
            for start, end, d in found:
                span = widen(text, level, start, end, bounds)
                if span not in added:
                    levels[span] = level
                    added[span] = d.model_copy(update={
                        "finding": d.finding.model_copy(update={"start": span[0], "end": span[1]}),
                        "rationale": f"verification fallback ({level}): a redacted value stood here"})
            current = [d for d in decisions if (d.finding.start, d.finding.end) not in added] + list(added.values())
            redaction = self._apply(text, current, policy, fallback=level, fallback_spans=levels)
        found = self.survivors(text, redaction)
        if not found:
            return redaction
        d = found[0][2]
        whole = d.model_copy(update={
            "finding": trusted(Finding, start=0, end=len(text), entity=RECORD_ENTITY, category=d.finding.category,
                               detector="verification", score=1.0, reason="no narrower redaction verified"),
            "redact": True, "rationale": f"verification fallback ({WHOLE_RECORD}): nothing narrower verified"})
        rest = [d for d in redaction.decisions if (d.finding.start, d.finding.end) != (0, len(text))]
        return self._replace(text, [*rest, whole], policy, fallback=WHOLE_RECORD,
                             fallback_spans={**levels, (0, len(text)): WHOLE_RECORD})

    def redact_record(self, analyzed: AnalyzedRecord, decisions: Sequence[Decision],
                      models: dict[str, str] | None = None) -> tuple[RedactedDocument, list[AuditEvent]]:
        rec = analyzed.record
        redaction = self.redact_text(rec.text, decisions, source=rec.source)
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
        return any(f.score >= self.policy.min_candidate_score for f in self.scan(value))

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
            shown = given if self.keepable(given) else f"id-{value_hash(given, self.hmac_key)[:32]}"
            public = f"{topic}:{shown}~{self.content_digest(rec)}"
        if len(public.encode()) > _RECORD_ID_BYTES:  # Elasticsearch would refuse it: a keyed digest of it instead
            public = f"id-{value_hash(public, self.hmac_key)[:48]}"
        return public

    def content_digest(self, rec, *, timed: bool = False) -> str:
        """A keyed digest of what a record says (text, source, metadata; with ``timed`` its time as
        well): 64 bits, hex."""
        parts = [rec.text, rec.source, rec.metadata, *([rec.timestamp.isoformat()] if timed else [])]
        content = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
        return hmac.digest(self.hmac_key, content, "sha256")[:8].hex()

    def keepable(self, value: str) -> bool:
        """Whether an identifier (a record id, a source name, a batch tag) may be indexed as it is:
        the strict shape of :func:`veil.fields.plain_identifier`, and nothing a detector finds in it."""
        return plain_identifier(value) and not self._sensitive(value) and not field_secrets(value)

    def _named(self, kind: str, value: str) -> str:
        public = self._public.get((kind, value))
        if public is None:
            public = value if self.keepable(value) else f"{kind}-{value_hash(value, self.hmac_key)[:16]}"
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
        found = self.scan(value) + field_secrets(value)
        if not found:
            return value
        triage = self.triage(value, found)
        return self.redact_text(value, self.conclude(triage, {}, why="metadata: redacted without a model")).text

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
            value_hash=digest or value_hash(rec.text[f.start:f.end], self.hmac_key), fallback=fallback)
        event_id = f"{rid}:{f.start}-{f.end}"
        event = trusted(EcsEvent, kind="event", category=["process"], type=["change" if operator else "info"],
                        action=action, outcome="success", dataset="veil.audit", id=event_id, reason=None)
        return trusted(AuditEvent, timestamp=at or utcnow(), id=event_id, ecs=_ECS, event=event,
                       service=self.service, host=self.host, veil=details)
