"""Log templates: which parts of a line are the same in every line of its kind, and which vary.

A Drain tree (the ``drain3`` library) groups lines by their masked tokens: numbers, addresses and
identifiers are masked before mining (``<NUM>``, ``<IP>``, ...), and Drain turns the tokens that
differ between lines of one group into ``<*>``. A :class:`TemplatedLine` keeps the alignment of
a line with its template, so that

- spans the general model found in the template map back onto the line (:meth:`to_line`), and
- the security model is shown the line with every variable part replaced by its placeholder
  (:meth:`view`), the candidate's own included: it judges the role of a value in the template
  ("the client address of an access log"), which is the same question for every line of the
  template, so it is asked once; the values themselves are still read by the detectors on every
  line, and the model never sees them.

    >>> miner = TemplateMiner()
    >>> _ = miner.mine("login ok user=alice from 10.0.0.7")
    >>> t = miner.mine("login ok user=bob from 10.0.0.9")
    >>> t.template
    'login ok <*> from <IP>'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from drain3.drain import Drain, LogCluster

from veil.schemas import VariablePart, trusted

WILDCARD = "<*>"
# Masked before mining. None of these can match whitespace, so masking keeps token boundaries.
# Every mask starts with a digit or a hex letter; the leading lookahead lets the scan skip other
# positions without trying each alternative there (2x faster on log lines, same matches).
_MASKS = re.compile(
    r"(?=[\da-fA-F])(?:"
    r"(?P<TS>\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r"|(?P<UUID>\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b)"
    r"|(?P<IP>(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]))"
    r"|(?P<HEX>\b(?=[a-fA-F]*\d)[0-9a-fA-F]{12,}\b)"
    r"|(?P<NUM>(?<![A-Za-z0-9])\d+(?:\.\d+)?))"
)
_TOKEN = re.compile(r"\S+")
_SEEN_MAX = 100_000  # masked lines remembered
_PLACEHOLDER = {name: f"<{name}>" for name in _MASKS.groupindex}


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of one token: ``start``/``end`` in the line, ``tpl_start``/``tpl_end`` in the
    template string, and the template's text for it (the line's own text when constant)."""

    start: int
    end: int
    tpl_start: int
    tpl_end: int
    placeholder: str | None  # None: constant


@dataclass(frozen=True, slots=True)
class View:
    """The line as the security model sees it: every variable part replaced by its placeholder."""

    text: str
    _runs: tuple[tuple[int, int, int, int, bool], ...]  # (line lo, line hi, view lo, view hi, variable)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Where a line span lands; a span that starts or ends inside a variable part takes in its
        whole placeholder (the value itself is never shown)."""
        vs = ve = None
        for lo, hi, vlo, vhi, variable in self._runs:
            if vs is None and lo <= start < hi:
                vs = vlo if variable else vlo + start - lo
            if lo < end <= hi:
                ve = vhi if variable else vlo + end - lo
                break
        if vs is None or ve is None:
            raise ValueError("span is outside the line")
        return vs, ve


class TemplatedLine:
    """A line, its template, and where they align. ``variables`` is all the hot path needs; the
    full alignment (``segments``) is built only when a template span must be mapped back."""

    __slots__ = ("_masked", "_masks", "_segments", "_tpl", "_variables", "template", "text")

    def __init__(self, text: str, masks: list[tuple[int, int, str]], masked: str, tpl: tuple[str, ...]) -> None:
        self.text, self._masks, self._masked, self._tpl = text, masks, masked, tpl
        self.template = " ".join(tpl)
        self._variables: list[VariablePart] | None = None
        self._segments: tuple[Segment, ...] | None = None

    def _tokens(self) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in _TOKEN.finditer(self.text)]

    @property
    def variables(self) -> list[VariablePart]:
        """The parts that vary, in order: masked values, and whole tokens the template made ``<*>``."""
        if self._variables is None:
            out: list[VariablePart] = []
            masks = self._masks
            if WILDCARD not in self._tpl:
                out = [trusted(VariablePart, start=s, end=e, placeholder=p) for s, e, p in masks]
            else:
                k = 0
                for (start, end), token, mtoken in zip(self._tokens(), self._tpl, self._masked.split()):
                    whole = token == WILDCARD and mtoken != WILDCARD
                    if whole:
                        out.append(trusted(VariablePart, start=start, end=end, placeholder=WILDCARD))
                    while k < len(masks) and masks[k][0] < end:
                        if not whole:
                            ms, me, name = masks[k]
                            out.append(trusted(VariablePart, start=ms, end=me, placeholder=name))
                        k += 1
            self._variables = out
        return self._variables

    def constant_parts(self) -> list[tuple[int, int]]:
        """The stretches between variable parts: the same text in every line of the template.
        A method, so that detectors can be handed it and call it only when they need it."""
        out, pos = [], 0
        for v in self.variables:
            if v.start > pos:
                out.append((pos, v.start))
            pos = v.end
        if pos < len(self.text):
            out.append((pos, len(self.text)))
        return out

    @property
    def segments(self) -> tuple[Segment, ...]:
        if self._segments is None:
            self._segments = self._align()
        return self._segments

    def _align(self) -> tuple[Segment, ...]:
        masks, line = self._masks, self.text
        segments: list[Segment] = []
        tpos = k = 0
        for (start, end), token in zip(self._tokens(), self._tpl):
            parts: list[tuple[int, int, str | None]] = []
            pos = start
            while k < len(masks) and masks[k][0] < end:
                ms, me, name = masks[k]
                if ms > pos:
                    parts.append((pos, ms, None))
                parts.append((ms, me, name))
                pos = me
                k += 1
            if pos < end:
                parts.append((pos, end, None))
            mtoken = "".join(line[a:b] if p is None else p for a, b, p in parts)
            if token == WILDCARD and mtoken != WILDCARD:
                segments.append(Segment(start, end, tpos, tpos + len(WILDCARD), WILDCARD))
            else:
                for a, b, p in parts:
                    width = len(p) if p is not None else b - a
                    segments.append(Segment(a, b, tpos, tpos + width, p))
                    tpos += width
                tpos -= len(token)
            tpos += len(token) + 1
        return tuple(segments)

    def to_line(self, tpl_start: int, tpl_end: int) -> tuple[int, int] | None:
        """The line span under a template span; a placeholder maps to the whole value it stands for."""
        start = end = None
        for s in self.segments:
            if start is None and tpl_start < s.tpl_end:
                start = s.start if s.placeholder is not None or tpl_start <= s.tpl_start else s.start + tpl_start - s.tpl_start
            if s.tpl_start < tpl_end:
                end = s.end if s.placeholder is not None or tpl_end >= s.tpl_end else s.start + tpl_end - s.tpl_start
            else:
                break
        if start is None or end is None or end <= start:
            return None
        return start, end

    def view(self) -> View:
        return view_of(self.text, self.variables)


def view_of(text: str, variables: Sequence[VariablePart]) -> View:
    """``text`` with each variable part replaced by its placeholder (the line's own spacing kept)."""
    out: list[str] = []
    runs: list[tuple[int, int, int, int, bool]] = []
    pos = vpos = 0
    for v in variables:
        if v.start > pos:
            out.append(text[pos:v.start])
            runs.append((pos, v.start, vpos, vpos + v.start - pos, False))
            vpos += v.start - pos
        out.append(v.placeholder)
        runs.append((v.start, v.end, vpos, vpos + len(v.placeholder), True))
        vpos += len(v.placeholder)
        pos = v.end
    out.append(text[pos:])
    runs.append((pos, len(text), vpos, vpos + len(text) - pos, False))
    return View("".join(out), tuple(runs))


class TemplateMiner:
    """Mines templates from the lines it is given, learning as it goes (not thread-safe)."""

    def __init__(self, *, depth: int = 4, similarity: float = 0.4, max_templates: int = 10_000,
                 max_children: int = 100) -> None:
        self._drain = Drain(depth=depth, sim_th=similarity, max_children=max_children,
                            max_clusters=max_templates, param_str=WILDCARD)
        self._max_templates = max_templates
        # Masked line -> its Drain cluster. Most masked lines recur (the synthetic logs: 4,722
        # distinct in 30,000), and a recurring one needs no tree search: Drain already generalized
        # its cluster to cover it. The cluster's current template is read at every use.
        self._seen: dict[str, LogCluster] = {}

    @property
    def templates(self) -> int:
        return len(self._drain.id_to_cluster)

    def mine(self, line: str) -> TemplatedLine:
        masks: list[tuple[int, int, str]] = []
        pieces: list[str] = []
        pos = 0
        for m in _MASKS.finditer(line):
            start, end = m.span()
            name = _PLACEHOLDER[m.lastgroup or ""]  # every alternative of _MASKS is a named group
            masks.append((start, end, name))
            pieces.append(line[pos:start])
            pieces.append(name)
            pos = end
        pieces.append(line[pos:])
        masked = "".join(pieces) if masks else line
        cluster = self._seen.get(masked)
        if cluster is None:
            cluster, _ = self._drain.add_log_message(masked)  # Drain splits on whitespace, as _TOKEN does
            if len(self._seen) >= _SEEN_MAX or len(self._drain.id_to_cluster) >= self._max_templates:
                # Bounded; and once Drain starts evicting clusters, a remembered one may be gone.
                self._seen.clear()
            self._seen[masked] = cluster
        return TemplatedLine(line, masks, masked, cluster.log_template_tokens)
