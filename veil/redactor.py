"""The text's redaction: scan, triage candidates by policy, conclude, apply the operators, and verify
that no redacted value is left standing (widening until none is).

The record's document and audit events are :mod:`veil.publishing` (``redactor.records``); the order of
the steps is :mod:`veil.pipeline`. No Faust, Kafka or Ray import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from veil.detectors import Detector, Scanner, default_detectors, entity_types, merge_findings
from veil.detectors.protocol import ConstantParts
from veil.occurrences import Spans, ValueIndex, is_word
from veil.operators import OPERATORS, OperatorContext, placeholder, value_hash
from veil.policy import QUASI, DenyListDetector, Policy
from veil.publishing import RecordPublisher
from veil.schemas import (
    AppliedRedaction,
    Decision,
    DecisionSource,
    Finding,
    trusted,
)
from veil.schemas.ecs import EcsHost, EcsService
from veil.schemas.findings import ANALYST_ENTITIES, Fallback
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
    #: the record's public face: its document, audit events, ids and names as written
    records: RecordPublisher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.policy.check_operators(OPERATORS, encryption_key=self.encryption_key is not None)
        self.policy.check_entities(known_entities(self.detectors))
        if self.policy.deny_values:
            self.detectors = [*self.detectors, DenyListDetector(self.policy.deny_values)]
        if self.policy.profile == "anonymize" and not any(d.name == "quasi" for d in self.detectors):
            self.detectors = [*self.detectors, quasi_detector()]
        self._scanner = Scanner(self.detectors)
        self.records = RecordPublisher(self)

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

    def redact_unasked(self, value: str, found: Sequence[Finding] = ()) -> str:
        """``value`` with every candidate a detector finds in it (and ``found``) redacted and
        verified, no model asked: metadata, a model's own words."""
        candidates = [*self.scan(value), *found]
        if not candidates:
            return value
        triage = self.triage(value, candidates)
        return self.redact_text(value, self.conclude(triage, {}, why="metadata: redacted without a model")).text

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
