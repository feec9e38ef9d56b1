"""Record-level redaction: triage findings, apply operators, verify, and build the audit trail.

Pure functions over schemas; the stream, the Ray actors and the batch CLI all call this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from schemas import (
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
from veil.detectors import Detector, Scanner, default_detectors, merge_findings
from veil.detectors.base import ConstantParts
from veil.errors import UnsafeOutput
from veil.operators import OPERATORS, OperatorContext, value_hash
from veil.policy import DenyListDetector, Policy


def _decision(*, finding: Finding, redact: bool, confidence: float, source: DecisionSource,
              rationale: str = "") -> Decision:
    """A policy decision. Built without re-validation: every field comes from a finding we made and
    the policy (model answers are validated where they enter, in the roles)."""
    return trusted(Decision, finding=finding, redact=redact, confidence=confidence, source=source,
                                    rationale=rationale[:200], model=None, model_version=None, cached=False)


def _all_occurrences(text: str, value: str) -> Iterator[tuple[int, int]]:
    start = text.find(value)
    while start >= 0:
        yield start, start + len(value)
        start = text.find(value, start + 1)


def word_occurrences(text: str, value: str) -> Iterator[tuple[int, int]]:
    """Spans where ``value`` stands in ``text`` not glued to other letters or digits."""
    for start, end in _all_occurrences(text, value):
        if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            yield start, end


@dataclass(frozen=True, slots=True)
class Triage:
    """Findings settled by policy, and those the security model must judge."""

    decided: list[Decision]
    ask_model: list[Finding]


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str
    applied: list[AppliedRedaction]
    #: (start, end) of each replacement in the redacted text, so verification can skip them.
    output_spans: list[tuple[int, int]] = field(default_factory=list)
    #: Every decision this redaction carried out or kept, including the other occurrences of
    #: redacted values that ``apply`` added: the audit trail and batch output are built from it.
    decisions: list[Decision] = field(default_factory=list)


@dataclass(slots=True)
class Redactor:
    """Detectors + policy + key. Stateless between records; safe to share across tasks."""

    policy: Policy
    hmac_key: bytes
    detectors: Sequence[Detector] = field(default_factory=default_detectors)
    encryption_key: bytes | None = None
    _scanner: Scanner = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.policy.deny_values:
            self.detectors = [*self.detectors, DenyListDetector(self.policy.deny_values)]
        self._scanner = Scanner(self.detectors)

    def scan(self, text: str) -> list[Finding]:
        return self._scanner.scan(text)

    def scan_many(self, texts: Sequence[str],
                  constants: Sequence[ConstantParts | None] | None = None) -> list[list[Finding]]:
        """``scan`` for many texts; detectors with ``detect_many`` (NER) see them in one batch.
        ``constants``: per text, the parts its log template holds constant (or None)."""
        return self._scanner.scan_many(texts, constants)

    def triage(self, text: str, candidates: Sequence[Finding], *, source: str | None = None) -> Triage:
        policy = self.policy.for_source(source) if source else self.policy
        decided: list[Decision] = []
        ask: list[Finding] = []
        for f in merge_findings(c for c in candidates if c.score >= policy.min_candidate_score):
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
        policy = self.policy.for_source(source) if source else self.policy
        decisions = [*decisions, *self._other_occurrences(text, decisions)]
        ctx = OperatorContext(hmac_key=self.hmac_key, encryption_key=self.encryption_key)
        out: list[str] = []
        applied: list[AppliedRedaction] = []
        spans: list[tuple[int, int]] = []
        pos = out_pos = 0
        for d in sorted((d for d in decisions if d.redact), key=lambda d: d.finding.start):
            f = d.finding
            if f.start < pos:  # overlaps were merged upstream; a stray one is already covered
                continue
            value = text[f.start:f.end]
            op = policy.operator_for(f)
            replacement = OPERATORS[op](value, f, ctx)
            out.append(text[pos:f.start])
            out_pos += f.start - pos
            out.append(replacement)
            spans.append((out_pos, out_pos + len(replacement)))
            out_pos += len(replacement)
            pos = f.end
            applied.append(trusted(AppliedRedaction, start=f.start, end=f.end, entity=f.entity, category=f.category,
                                            operator=op, replacement=replacement,
                                            value_hash=value_hash(value, self.hmac_key)))
        out.append(text[pos:])
        return Redaction(text="".join(out), applied=applied, output_spans=spans, decisions=decisions)

    @staticmethod
    def _other_occurrences(text: str, decisions: Sequence[Decision]) -> list[Decision]:
        """A value redacted once is redacted wherever else it stands as a whole word in the record,
        even where no detector fired (a name the NER model tagged only once, say)."""
        redacted = [d for d in decisions if d.redact]
        if not redacted:
            return []
        taken = [(d.finding.start, d.finding.end) for d in decisions]
        extra: list[Decision] = []
        for d in redacted:
            value = text[d.finding.start:d.finding.end]
            if len(value) < 3:
                continue
            for span in word_occurrences(text, value):
                if any(s < span[1] and span[0] < e for s, e in taken):
                    continue
                taken.append(span)
                f = d.finding.model_copy(update={"start": span[0], "end": span[1]})
                extra.append(d.model_copy(update={"finding": f, "rationale": "another occurrence of a redacted value"}))
        return extra

    def verify(self, original: str, redaction: Redaction, decisions: Sequence[Decision]) -> None:
        """Refuse output in which a value decided "redact" survives.

        - No replacement may contain the value it replaced (an operator bug).
        - No redacted value may appear outside our own replacements: anywhere when 8+ characters
          long, as a whole word when shorter (short strings occur by chance inside other words).
        Any residual detector finding that carries a redacted value would contain such an
        occurrence, so these checks need no second detector pass.
        """
        redacted = {original[d.finding.start:d.finding.end] for d in decisions if d.redact}
        if not redacted:
            return  # nothing was replaced, so nothing replaced can have survived
        for a in redaction.applied:
            value = original[a.start:a.end]
            if len(value) >= 4 and value != a.entity and value in a.replacement:
                raise UnsafeOutput(f"the {a.operator} operator kept the value it replaced")
        ours = redaction.output_spans

        def outside_ours(span: tuple[int, int]) -> bool:
            return not any(s <= span[0] and span[1] <= e for s, e in ours)

        for value in redacted:
            anywhere = _all_occurrences(redaction.text, value) if len(value) >= 8 else ()
            if any(map(outside_ours, anywhere)) or any(map(outside_ours, word_occurrences(redaction.text, value))):
                raise UnsafeOutput(f"a redacted value of {len(value)} characters survives in the output")

    def redact_text(self, text: str, decisions: Sequence[Decision], *, source: str | None = None) -> Redaction:
        """Apply and verify; on a residual finding, redact every candidate; unsafe twice raises."""
        redaction = self.apply(text, decisions, source=source)
        try:
            self.verify(text, redaction, decisions)
            return redaction
        except UnsafeOutput:
            conservative = [d if d.redact else self.settle(d.finding, None, why="verification failed") for d in decisions]
            redaction = self.apply(text, conservative, source=source)
            self.verify(text, redaction, conservative)
            return redaction

    def redact_record(self, analyzed: AnalyzedRecord, decisions: Sequence[Decision],
                      models: dict[str, str] | None = None) -> tuple[RedactedDocument, list[AuditEvent]]:
        rec = analyzed.record
        redaction = self.redact_text(rec.text, decisions, source=rec.source)
        doc = RedactedDocument(
            id=rec.id, kind=rec.kind, source=rec.source, origin=rec.origin, batch=rec.batch,
            timestamp=rec.timestamp, redacted_text=redaction.text,
            text_kind=analyzed.analysis.text_kind, language=analyzed.analysis.language,
            redactions=redaction.applied,
            entity_counts=dict(Counter(a.entity for a in redaction.applied)),
            decision_modes=sorted({d.source.value for d in redaction.decisions}),
            models=models or {}, template_id=analyzed.template_id, metadata=rec.metadata,
        )
        ops = {(a.start, a.end): a.operator for a in redaction.applied}
        events = [self._audit(analyzed, d, ops.get((d.finding.start, d.finding.end))) for d in redaction.decisions]
        return doc, events

    def _audit(self, analyzed: AnalyzedRecord, d: Decision, operator: str | None) -> AuditEvent:
        rec, f = analyzed.record, d.finding
        action = "redact" if operator else "keep"
        return AuditEvent(
            id=f"{rec.id}:{f.start}-{f.end}",
            event=EcsEvent(action=action, category=["process"], type=["change" if operator else "info"]),
            veil=AuditDetails(
                record_id=rec.id, source_topic=rec.origin.topic, source_partition=rec.origin.partition,
                source_offset=rec.origin.offset, batch=rec.batch, entity=f.entity, category=f.category.value,
                start=f.start, end=f.end, detector=f.detector, detector_score=f.score,
                decided_by=d.source.value, confidence=d.confidence, rationale=d.rationale,
                operator=operator, model=d.model, model_version=d.model_version, cached=d.cached,
                value_hash=value_hash(rec.text[f.start:f.end], self.hmac_key),
            ),
        )
