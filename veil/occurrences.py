"""Where many values occur in a text, found in one pass, and sets of disjoint spans.

Redaction asks "where else does any redacted value stand?" once per record, for every value at
once. Searching value by value costs (values x text length): a record with 30,000 e-mail
addresses took minutes. An Aho-Corasick automaton answers for all values in one pass over the
text, so the cost is the text's length plus the matches.

    >>> sorted(ValueIndex(["ab", "abc", "c"]).find("xabc"))
    [(1, 3, 'ab'), (1, 4, 'abc'), (3, 4, 'c')]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

try:
    import ahocorasick
except ImportError:  # pragma: no cover - a declared dependency; the plain search gives the same answers
    ahocorasick = None


def is_word(text: str, start: int, end: int) -> bool:
    """The span is not glued to letters or digits on either side."""
    return (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum())


#: A redacted value this long counts as still readable wherever it stands; a shorter one only as a
#: whole word (short strings occur by chance inside other words: "34" in "1934").
READABLE_ANYWHERE = 8


def readable_at(text: str, start: int, end: int) -> bool:
    """The value at ``[start, end)`` of ``text`` can be read there (verification's and scoring's rule)."""
    return end - start >= READABLE_ANYWHERE or is_word(text, start, end)


class ValueIndex:
    """Every occurrence, overlapping ones included, of a fixed set of non-empty values."""

    #: Below this many values a plain search per value is cheaper than building an automaton.
    PLAIN_BELOW = 8

    def __init__(self, values: Iterable[str]) -> None:
        self.values = {v for v in values if v}
        self._automaton = None
        if ahocorasick is not None and len(self.values) >= self.PLAIN_BELOW:
            automaton = ahocorasick.Automaton()
            for v in self.values:
                automaton.add_word(v, len(v))
            automaton.make_automaton()
            self._automaton = automaton

    def find(self, text: str) -> Iterator[tuple[int, int, str]]:
        """``(start, end, value)`` for each occurrence, in order of ``end``."""
        if not self.values:
            return
        if self._automaton is not None:
            for last, size in self._automaton.iter(text):
                yield last + 1 - size, last + 1, text[last + 1 - size:last + 1]
            return
        found = []
        for v in self.values:
            at = text.find(v)
            while at >= 0:
                found.append((at, at + len(v), v))
                at = text.find(v, at + 1)
        yield from sorted(found, key=lambda m: (m[1], m[0]))


class Spans:
    """Disjoint, non-empty half-open spans, sorted: O(log n) overlap and containment queries.

    ``add`` accepts only a span that overlaps none held (check with ``overlaps`` first).
    """

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for s, e in sorted(spans):
            if e <= s:
                continue  # an empty span (a dropped value) holds no character
            if self.ends and s < self.ends[-1]:  # overlapping input: hold the union
                self.ends[-1] = max(self.ends[-1], e)
                continue
            self.starts.append(s)
            self.ends.append(e)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_left(self.starts, end)  # spans [0, i) start before ``end``; the last ends latest
        return i > 0 and self.ends[i - 1] > start

    def contains(self, start: int, end: int) -> bool:
        """Some held span covers ``[start, end)`` whole."""
        i = bisect_right(self.starts, start) - 1
        return i >= 0 and end <= self.ends[i]

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        i = bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)
