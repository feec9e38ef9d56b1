"""Verification: where a redacted value still stands in the output, and how far to widen.

After the operators run, every value decided "redact" is looked for in the output, outside Veil's
own replacements (anywhere when 8+ characters long, as a whole word when shorter), in one pass
over the text. :meth:`veil.redactor.Redactor.redact_text` widens the redaction level by level
(:data:`FALLBACK_LEVELS`, then the whole record) until nothing is found.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from veil.occurrences import Spans, ValueIndex, is_word, readable_at
from veil.schemas import AppliedRedaction, Decision
from veil.schemas.findings import Fallback


def word_occurrences(text: str, value: str) -> Iterator[tuple[int, int]]:
    """Spans where ``value`` stands in ``text`` not glued to other letters or digits."""
    if not value:
        return
    start = text.find(value)
    while start >= 0:
        if is_word(text, start, start + len(value)):
            yield start, start + len(value)
        start = text.find(value, start + 1)


#: How far redaction widens, step by step, when a redacted value still stands somewhere in the
#: output: each occurrence of it, the token around it, its line; last, the whole record.
FALLBACK_LEVELS: tuple[Fallback, ...] = ("occurrences", "tokens", "lines")
WHOLE_RECORD: Fallback = "record"
#: The entity of the one placeholder that replaces a whole record as the last resort.
RECORD_ENTITY = "REDACTED_TEXT"


@dataclass(slots=True)  # read-only by convention: a frozen one costs 2.5x to build, once per redacted line
class Redaction:
    text: str
    applied: list[AppliedRedaction]
    #: (start, end) of each replacement in the redacted text, so verification can skip them.
    output_spans: list[tuple[int, int]] = field(default_factory=list)
    #: Every decision this redaction carried out or kept, including the other occurrences of
    #: redacted values that ``apply`` added: the audit trail and batch output are built from it.
    decisions: list[Decision] = field(default_factory=list)
    #: The operator that covered each redacted decision's span (a replacement may cover several).
    operators: dict[tuple[int, int], str] = field(default_factory=dict)
    #: The coarsest fallback verification needed (None: the decisions as made verified).
    fallback: Fallback | None = None
    #: The fallback level that added each span it redacted.
    fallback_spans: dict[tuple[int, int], Fallback] = field(default_factory=dict)


class OffsetMap:
    """Maps positions in redacted text back to the original, through the replacements."""

    def __init__(self, redaction: Redaction) -> None:
        self.out_starts = [s for s, _ in redaction.output_spans]
        self.out_ends = [e for _, e in redaction.output_spans]
        self.starts = [a.start for a in redaction.applied]
        self.ends = [a.end for a in redaction.applied]

    def start(self, p: int) -> int:
        """The original position of output position ``p`` as a span's start (inside a replacement:
        where the replaced value began)."""
        i = bisect_right(self.out_starts, p) - 1
        if i < 0:
            return p
        return self.starts[i] if p < self.out_ends[i] else self.ends[i] + p - self.out_ends[i]

    def end(self, q: int) -> int:
        """The original position of output position ``q`` as a span's end."""
        i = bisect_left(self.out_starts, q) - 1
        if i < 0:
            return q
        return self.ends[i] if q <= self.out_ends[i] else self.ends[i] + q - self.out_ends[i]


def shows(value: str, replacement: str, entity: str) -> bool:
    """The replacement shows the value it replaced (an operator that fails its one job)."""
    rest = replacement.replace(entity, "")
    if len(value) >= 4:
        return value in rest
    return any(True for _ in word_occurrences(rest, value))


def widen(text: str, level: str, start: int, end: int, bounds: list[tuple[int, int]] | None) -> tuple[int, int]:
    """The span a fallback level redacts for an occurrence at ``[start, end)`` of the original."""
    if level == "occurrences" or not bounds:
        # a value glued inside a longer word ("RootPassword" in "RootPassword999") takes the word
        floor, ceiling = max(0, start - _GLUE_MAX), min(len(text), end + _GLUE_MAX)
        while start > floor and text[start - 1].isalnum():
            start -= 1
        while end < ceiling and text[end].isalnum():
            end += 1
        return start, end
    i = bisect_right(bounds, (start, len(text) + 1)) - 1  # the token or line that holds ``start``
    if i >= 0 and bounds[i][1] > start:
        start = bounds[i][0]
    j = bisect_right(bounds, (end - 1, len(text) + 1)) - 1  # the one that holds the last character
    if j >= 0 and bounds[j][1] >= end:
        end = bounds[j][1]
    return start, max(end, start + 1)


_GLUE_MAX = 64  # how far an occurrence grows into the word around it (longer runs: the token level)
#: What bounds a widened occurrence at each level past the first: tokens, then lines.
BOUNDS = {"tokens": re.compile(r"\S+"), "lines": re.compile(r"[^\n]+")}


def survivors(original: str, redaction: Redaction) -> list[tuple[int, int, Decision]]:
    """Where a redacted value still stands in the output, outside Veil's own replacements:
    anywhere when 8+ characters long, as a whole word when shorter (short strings occur by chance
    inside other words). Each as a span of the original text and the decision that redacted the
    value. Any residual detector finding that carries a redacted value would contain such an
    occurrence, so this needs no second detector pass."""
    by_value: dict[str, Decision] = {}
    for d in redaction.decisions:
        if d.redact and d.finding.end > d.finding.start:
            by_value.setdefault(original[d.finding.start:d.finding.end], d)
    out = redaction.text
    if not by_value or (len(by_value) < ValueIndex.PLAIN_BELOW and not any(v in out for v in by_value)):
        return []  # the common case: none of a few values is left anywhere
    ours = Spans(redaction.output_spans)
    back = OffsetMap(redaction)
    found = []
    for start, end, value in ValueIndex(by_value).find(out):
        if readable_at(out, start, end) and not ours.contains(start, end):
            found.append((back.start(start), back.end(end), by_value[value]))
    return found
