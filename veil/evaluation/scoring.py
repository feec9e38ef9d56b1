"""Scoring redaction output against labelled spans: per-type precision/recall/F1 and the leak rate.

Redaction is what matters, so matching is by characters, not by type names:
- a labelled value is *caught* when redacted spans cover at least ``min_cover`` of its characters;
- a redacted span is a *true positive* when at least half of its characters lie in labelled values;
- the *leak rate* is the share of labelled values still readable in the redacted text: present
  verbatim outside Veil's placeholders, anywhere when 8+ characters long, as a whole word when
  shorter (the rule verification uses; "34" inside "<PHONE_34>" or "1934" is no leak);
- *marked* is the share of the text's characters that were redacted, and *marked sensitive* the
  share of those that lie in labelled values: over-redaction shows here even when spans match.

``score(..., errors=[])`` also collects every miss and false positive with a short context, for a
person to study (``veil eval --errors FILE``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel

from veil.evaluation.dataset import DIRECT_IDENTIFIERS, SECRETS, LabeledRecord
from veil.occurrences import Spans, readable_at

#: Veil's own replacements (placeholders, pseudonyms, encrypted tokens) and Presidio-style ``<TYPE>``.
_REPLACEMENT = re.compile(r"<(?:ENC:)?[A-Z][A-Z0-9_]*(?:[_:][A-Za-z0-9_-]+)?>")
CONTEXT = 40  # characters of context on each side in an error entry


class PredictedSpan(BaseModel):
    start: int
    end: int
    entity: str
    action: str = "redact"


class Prediction(BaseModel):
    id: str
    redacted_text: str
    findings: list[PredictedSpan]


class TypeScore(BaseModel):
    support: int = 0
    caught: int = 0
    leaked: int = 0

    @property
    def recall(self) -> float:
        return self.caught / self.support if self.support else 1.0


class ErrorEntry(BaseModel):
    """A miss (a labelled value not caught) or a false positive (a redaction of nothing labelled)."""

    kind: Literal["miss", "false_positive"]
    record_id: str
    type: str  # the label type of a miss, the predicted entity of a false positive
    start: int
    end: int
    value: str
    context: str  # the value as ``[[value]]`` in up to CONTEXT characters each side
    leaked: bool | None = None


class Report(BaseModel):
    records: int
    labels: int
    by_label: dict[str, TypeScore]
    tp_by_entity: dict[str, int]
    fp_by_entity: dict[str, int]
    groups: dict[str, dict[str, float]]
    leak_rate: float
    chars: int = 0
    chars_marked: int = 0
    chars_marked_sensitive: int = 0

    @property
    def marked_share(self) -> float:
        return self.chars_marked / self.chars if self.chars else 0.0

    @property
    def marked_precision(self) -> float:
        return self.chars_marked_sensitive / self.chars_marked if self.chars_marked else 1.0

    @property
    def precision(self) -> float:
        tp, fp = sum(self.tp_by_entity.values()), sum(self.fp_by_entity.values())
        return tp / (tp + fp) if tp + fp else 1.0

    @property
    def recall(self) -> float:
        support = sum(s.support for s in self.by_label.values())
        return sum(s.caught for s in self.by_label.values()) / support if support else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _covered(start: int, end: int, spans: Sequence[tuple[int, int]]) -> int:
    return sum(max(0, min(end, e) - max(start, s)) for s, e in spans)


def _prf(tp: int, fp: int, caught: int, support: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = caught / support if support else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": support}


def visible(redacted_text: str) -> str:
    """The redacted text with every replacement token cut out (a separator left in its place)."""
    return _REPLACEMENT.sub("\x00", redacted_text)


def readable(value: str, text: str) -> bool:
    """``value`` stands in ``text`` by verification's rule (:func:`veil.occurrences.readable_at`)."""
    at = text.find(value)
    while at >= 0:
        if readable_at(text, at, at + len(value)):
            return True
        at = text.find(value, at + 1)
    return False


def _context(text: str, start: int, end: int) -> str:
    before = text[max(0, start - CONTEXT):start]
    after = text[end:end + CONTEXT]
    return f"{before}[[{text[start:end]}]]{after}".replace("\n", "⏎")


def _overlap(a: Spans, b: Spans) -> int:
    """Characters in both unions of spans."""
    total = i = j = 0
    while i < len(a.starts) and j < len(b.starts):
        lo, hi = max(a.starts[i], b.starts[j]), min(a.ends[i], b.ends[j])
        total += max(0, hi - lo)
        if a.ends[i] < b.ends[j]:
            i += 1
        else:
            j += 1
    return total


def score(labels: Iterable[LabeledRecord], predictions: Iterable[Prediction], *, min_cover: float = 0.8,
          errors: list[ErrorEntry] | None = None) -> Report:
    preds = {p.id: p for p in predictions}
    by_label: dict[str, TypeScore] = defaultdict(TypeScore)
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    group_counts: dict[str, list[int]] = {g: [0, 0, 0, 0] for g in ("direct_identifiers", "secrets", "all")}
    n_records = n_labels = leaked_total = chars = marked = marked_sensitive = 0
    for rec in labels:
        n_records += 1
        pred = preds.get(rec.id)
        if pred is None:
            raise ValueError(f"no prediction for record {rec.id}")
        redacted = [(f.start, f.end) for f in pred.findings if f.action == "redact"]
        label_spans = [(s.start, s.end) for s in rec.spans]
        shown = visible(pred.redacted_text)
        chars += len(rec.text)
        held, truth = Spans(redacted), Spans(label_spans)
        marked += sum(e - s for s, e in zip(held.starts, held.ends))
        marked_sensitive += _overlap(held, truth)
        union = list(zip(held.starts, held.ends))  # overlapping findings count their characters once
        for s in rec.spans:
            n_labels += 1
            caught = _covered(s.start, s.end, union) >= min_cover * (s.end - s.start)
            value = rec.text[s.start:s.end]
            leaked = bool(value) and readable(value, shown)
            if errors is not None and not caught:
                errors.append(ErrorEntry(kind="miss", record_id=rec.id, type=s.type, start=s.start, end=s.end,
                                         value=value, context=_context(rec.text, s.start, s.end), leaked=leaked))
            ts = by_label[s.type]
            ts.support += 1
            ts.caught += caught
            ts.leaked += leaked
            leaked_total += leaked
            for g in _groups(s.type):
                group_counts[g][2] += caught
                group_counts[g][3] += 1
        for f in pred.findings:
            if f.action != "redact":
                continue
            if _covered(f.start, f.end, label_spans) >= 0.5 * (f.end - f.start):
                tp[f.entity] += 1
                groups, slot = _groups(_label_type_at(rec, f.start, f.end)), 0
            else:
                fp[f.entity] += 1
                groups = ("all", *(g for g, members in _PRED_GROUPS.items() if f.entity in members))
                slot = 1
                if errors is not None:
                    errors.append(ErrorEntry(kind="false_positive", record_id=rec.id, type=f.entity, start=f.start,
                                             end=f.end, value=rec.text[f.start:f.end],
                                             context=_context(rec.text, f.start, f.end)))
            for g in groups:
                group_counts[g][slot] += 1
    return Report(
        records=n_records, labels=n_labels, by_label=dict(by_label), tp_by_entity=dict(tp), fp_by_entity=dict(fp),
        groups={g: _prf(*c) for g, c in group_counts.items()},
        leak_rate=leaked_total / n_labels if n_labels else 0.0,
        chars=chars, chars_marked=marked, chars_marked_sensitive=marked_sensitive,
    )


def _groups(label_type: str | None) -> tuple[str, ...]:
    if label_type in DIRECT_IDENTIFIERS:
        return ("direct_identifiers", "all")
    if label_type in SECRETS:
        return ("secrets", "all")
    return ("all",)


def _label_type_at(rec: LabeledRecord, start: int, end: int) -> str | None:
    best, best_overlap = None, 0
    for s in rec.spans:
        overlap = max(0, min(end, s.end) - max(start, s.start))
        if overlap > best_overlap:
            best, best_overlap = s.type, overlap
    return best


#: predicted entity types that belong to each reporting group (for false positives)
_PRED_GROUPS = {
    "direct_identifiers": {"PERSON", "POSTAL_ADDRESS", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "UK_NINO",
                           "DE_TAX_ID", "FR_NIR", "ES_DNI", "ES_NIE", "IT_FISCAL_CODE", "NL_BSN", "IN_AADHAAR",
                           "BR_CPF", "CA_SIN", "IP_ADDRESS", "DATE_OF_BIRTH", "UK_POSTCODE"},
    "secrets": {"PRIVATE_KEY", "PGP_PRIVATE_KEY", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN",
                "SLACK_TOKEN", "SLACK_WEBHOOK", "DISCORD_WEBHOOK", "STRIPE_KEY", "GOOGLE_API_KEY",
                "GCP_SERVICE_ACCOUNT_KEY", "AZURE_STORAGE_KEY", "AZURE_SAS_TOKEN", "AZURE_CLIENT_SECRET",
                "TWILIO_API_KEY", "SENDGRID_API_KEY", "NPM_TOKEN", "PYPI_TOKEN", "OPENAI_API_KEY",
                "HUGGINGFACE_TOKEN", "JWT", "BEARER_TOKEN", "BASIC_AUTH", "URL_CREDENTIALS", "PASSWORD", "API_KEY",
                "HIGH_ENTROPY_SECRET"},
}
