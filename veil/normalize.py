"""The view of a text that detectors read: invisible and look-alike characters folded away.

A zero-width space inside an e-mail address or a key, fullwidth digits in a card number, or a
combining accent in a host name defeat patterns written for plain text, while a reader (and the
search index) still sees the value. Detectors therefore scan a *view*: format characters (zero
width, joiners, bidi controls, soft hyphens and every other default-ignorable code point),
combining and enclosing marks and variation selectors are dropped, and each remaining character is folded with NFKC (fullwidth forms, ligatures,
compatibility digits). Each view position maps back to the original, so a finding covers the
original characters, invisible ones inside it included.

    >>> view = normalized("mail ana@exa\\u200bmple.org")
    >>> view.text, view.span(5, 20)
    ('mail ana@example.org', (5, 21))
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

#: Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt, Unicode 15): characters a
#: renderer shows as nothing, whatever their category (a Hangul filler is a letter, a combining
#: grapheme joiner a mark of class 0). Dropped from the view: a value split by one reads as whole.
DEFAULT_IGNORABLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff")
_IGNORABLE = re.compile(f"[{DEFAULT_IGNORABLE}]")
# Characters worth a closer look: the default-ignorable ones, combining diacritics and enclosing
# marks, superscript and fullwidth and halfwidth forms, compatibility ligatures and a few digits.
_SUSPECT = re.compile(
    f"[{DEFAULT_IGNORABLE}\u00b2\u00b3\u00b9\u0300-\u036f\u1ab0-\u1aff"
    "\u1dc0-\u1dff\u2070-\u209f\u20d0-\u20ff\u2100-\u214f"
    "\u2460-\u24ff\u3000\ufb00-\ufb4f\ufe20-\ufe2f\uff00-\uffef]")


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    """What one character becomes in the view ('' when it is dropped): default-ignorable
    characters, format characters and marks (combining, enclosing: a keycap on a digit) go; the
    rest is folded with NFKC."""
    if _IGNORABLE.match(ch) or unicodedata.category(ch) in ("Cf", "Mn", "Me"):
        return ""
    return unicodedata.normalize("NFKC", ch)


@dataclass(frozen=True, slots=True)
class View:
    """A folded text and, for each of its characters, the index of the original one it came from."""

    text: str
    origin: list[int]
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that view span ``[start, end)`` covers, with the dropped characters
        that follow it up to the next visible one (a combining accent on its last letter)."""
        origin = self.origin
        first = origin[start] if start < len(origin) else self.original_length
        if end <= start:
            return first, first
        if end >= len(origin):
            return first, self.original_length
        if origin[end] == origin[end - 1]:  # the span ends inside one folded character ("ﬁ" -> "fi")
            return first, origin[end - 1] + 1
        return first, origin[end]


def normalized(text: str) -> View | None:
    """The detectors' view of ``text``, or None when it is the text itself (most texts: a cheap check)."""
    if text.isascii() or _SUSPECT.search(text) is None:
        return None
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold(ch) if _SUSPECT.match(ch) else ch
        out.append(folded)
        origin.extend([i] * len(folded))
    return View(text="".join(out), origin=origin, original_length=len(text))
