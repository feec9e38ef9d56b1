"""One linear-time pass that tells which patterns can match at all (RE2 multi-pattern set).

Python's ``re`` tries each pattern at every position; with ~50 patterns that dominates the cost of
a log line. RE2 matches all of them in one pass. Each pattern is loosened for RE2 (lookarounds
removed), which only widens what it matches, so the set is a safe filter: the exact ``re``
pattern still decides. Without the ``google-re2`` package, callers fall back to literal triggers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

try:  # optional accelerator
    import re2
except ImportError:  # pragma: no cover - exercised where google-re2 is absent
    re2 = None

AVAILABLE = re2 is not None


def loosen(pattern: str) -> str:
    """``pattern`` in RE2's syntax, matching wherever ``pattern`` matches (and maybe more).

    RE2 has no lookarounds. One that tests a single character at an edge of the pattern becomes
    that character, consumed ("(?<![\\d-])X" -> "(?:^|[^\\d-])X", "X(?!\\d)" -> "X(?:\\D|$)"): for
    *whether* a text matches somewhere this is exact, and it keeps digit patterns from matching
    inside longer digit runs, which in logs are everywhere. Any other lookaround is dropped, which
    only widens the match. Backreferences are refused: write patterns without.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(("(?<!", "(?<=", "(?!", "(?="), i):
            end = _group_end(pattern, i)
            ahead = pattern[i + 2] in "!="
            body = pattern[i + (3 if ahead else 4):end]
            at_edge = _only_closing(pattern[end + 1:]) if ahead else _opens_only("".join(out))
            negative = pattern[i + (2 if ahead else 3)] == "!"
            one = _single_char(body, negate=negative) if at_edge else None
            if one is not None and not negative:
                out.append(one)  # a character must be there
            elif one is not None:
                out.append(f"(?:{one}|$)" if ahead else f"(?:^|{one})")  # another character, or the edge
            i = end + 1
            continue
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            if pattern[i + 1].isdigit():
                raise ValueError(f"backreference in pattern: {pattern!r}")
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if ch == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end + 1])
            i = end + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_OPENERS = re.compile(r"(?:\(\?[a-zA-Z]+\)|\((?:\?:|\?P<\w+>)?)*")
_NEGATED_ESCAPES = {"\\d": "\\D", "\\D": "\\d", "\\w": "\\W", "\\W": "\\w", "\\s": "\\S", "\\S": "\\s"}


def _opens_only(prefix: str) -> bool:
    """Whether a pattern so far has consumed nothing: only flags and group openings."""
    return _OPENERS.fullmatch(prefix) is not None


def _only_closing(rest: str) -> bool:
    return not rest.strip(")")


def _single_char(body: str, *, negate: bool) -> str | None:
    """The one-character class ``body`` is (negated when ``negate``), or None if it is more."""
    if body in _NEGATED_ESCAPES:
        return _NEGATED_ESCAPES[body] if negate else body
    if body.startswith("[") and _class_end(body, 0) == len(body) - 1:
        if not negate:
            return body
        return "[" + body[2:] if body.startswith("[^") else "[^" + body[1:]
    if len(body) == 1 and body not in "\\.^$|?*+()[]{}":
        return f"[^{body}]" if negate else body
    return None


def _class_end(p: str, i: int) -> int:
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1
    while p[j] != "]":
        j += 2 if p[j] == "\\" else 1
    return j


def _group_end(p: str, i: int) -> int:
    depth, j = 0, i
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(p, j) + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ValueError(f"unbalanced group in pattern: {p!r}")


def compile_fast(pattern: str):
    """A compiled pattern with ``.search``: RE2 when available (same syntax here), else ``re``."""
    import re

    return re2.compile(pattern) if re2 is not None else re.compile(pattern)


# Text that patterns for numbers with separators (cards, phones, national ids) match somewhere in.
_DIGIT_RUNS = "1234567890123456789012345 123 456 789 12 34 56 78 90 123-45-6789 1234.56.789 2026-11-20"


class PatternSet:
    """Indices of the patterns that match somewhere in a text, found in one RE2 pass per group.

    RE2 runs a set as one DFA whose states are combinations of the patterns' own states. Patterns
    that all match runs of digits and separators combine badly: on a line of timestamps and
    numbers every new position is a new combination, so the DFA is rebuilt as it goes. Measured
    on the synthetic log lines: Veil's 58 screen patterns took 21 us a line as one set and 5.7 us
    as three (the digit-run patterns in two groups, the rest in one). So patterns that match
    ``_DIGIT_RUNS`` go into groups of at most ``digit_group`` patterns, the others into one set.
    """

    def __init__(self, patterns: Sequence[str], *, max_mem: int = 64 << 20, digit_group: int = 6) -> None:
        if re2 is None:
            raise RuntimeError("google-re2 is not installed")
        loose = [loosen(p) for p in patterns]
        digits = [i for i, p in enumerate(loose) if re2.search(p, _DIGIT_RUNS)]
        rest = sorted(set(range(len(loose))) - set(digits))
        groups = [digits[k:k + digit_group] for k in range(0, len(digits), digit_group)]
        self._sets: list[tuple[Callable[[bytes], list[int] | None], list[int]]] = []
        for members in [rest, *groups] if rest else groups:
            options = re2.Options()
            options.max_mem = max_mem
            one = re2.Set.SearchSet(options)
            for i in members:
                one.Add(loose[i])
            one.Compile()
            # the compiled set's own Match (the package's Python wrapper around it only re-checks
            # the argument's type: a tenth of a log line's screening)
            raw = getattr(getattr(one, "_set", None), "Match", None) or one.Match
            self._sets.append((raw, members))

    def by_owner(self, text: str, owners: Sequence[tuple[int, int]]) -> dict[int, list[int]]:
        """``matching`` grouped by owner: ``owners[k]`` is ``(owner, index)`` for pattern ``k``; gives
        owner -> its matching indices, in order. One loop, no list of pattern indices in between
        (a tenth of a log line's screening)."""
        data = text.encode()
        out: dict[int, list[int]] = {}
        several = False
        for match, members in self._sets:
            found = match(data)
            if found:
                for k in found:
                    owner, index = owners[members[k]]
                    got = out.get(owner)
                    if got is None:
                        out[owner] = [index]
                    else:
                        got.append(index)
                        several = True
        if several:  # a set reports its matches in no particular order
            for got in out.values():
                got.sort()
        return out

    def matching(self, text: str) -> list[int]:
        out: list[int] = []
        data = text.encode()  # once for every group
        for match, members in self._sets:
            found = match(data)
            if found:
                out += [members[k] for k in found]
        if len(self._sets) > 1:
            out.sort()
        return out
