"""The detector protocol, a table-driven pattern detector, and overlap resolution."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from veil.detectors import prefilter
from veil.detectors.prefilter import PatternSet
from veil.detectors.protocol import ONE_AT_A_TIME, BatchDetector, ConstantParts, Detector, Screened
from veil.normalize import View, normalized
from veil.occurrences import Spans
from veil.schemas import Category, Finding, trusted

#: Returns None to reject a match, or a score to use instead of the spec's base score.
Validator = Callable[[str, str, int], float | None]  # (value, text, value_start) -> score | None


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """One entity type found by a regular expression (group ``v`` is the value when present)."""

    entity: str
    category: Category
    pattern: str
    score: float
    reason: str
    validator: Validator | None = None
    flags: int = 0
    #: Lower-case literals of which one must occur in the lower-cased text for the regex to run
    #: (a cheap prefilter; most log lines contain none of them). Empty: always run.
    triggers: tuple[str, ...] = ()
    #: Lower-case words that, within 48 characters before the value, add ``context_boost``.
    context: tuple[str, ...] = ()
    context_boost: float = 0.0
    #: Name of a cheap necessary condition in GATES; the regex runs only when the gate opens.
    gate: str | None = None
    #: Reported as the finding's detector ("pii", "secrets", ...); the detector's name when empty.
    group: str = ""
    #: Found only with one of ``context`` as a word within 48 characters before the value: for
    #: checksums that one number in ten passes (a Dutch BSN's 11-proof, a SIN's Luhn, Aadhaar's
    #: Verhoeff), which ids and counters in logs pass all the time.
    requires_context: bool = False


#: Necessary conditions shared by many specs, each checked once per text (with RE2 when present:
#: these alternations are slow in Python's backtracking engine).
GATES = {
    # 8+ digits in a row, three digit groups joined by spaces or dashes, a BSN (dots optional) or CPF, an area
    # code in brackets, or an international number; written so that timestamps ("2026-11-20",
    # "10:34:06.374"), IPv4 addresses, time-zone offsets ("+0000") and "status size" pairs in access
    # logs ("200 5123") do not open it
    "numeric": prefilter.compile_fast(
        r"\d{8}|(?:^|\D)\d{3}[ -]\d{2,}[ -]\d{2,}|\d{2,}[ -]\d{3,}[ -]\d{2,}|\d{4}\.?\d{2}\.?\d{3}"
        r"|\d{3}\.\d{3}\.\d{3}|\(\d{2,4}\)\s?\d|\+\d{1,3}[ .(-]\d|\+\d{7,}"),
    # quasi-identifiers (veil.detectors.quasi): a numeric date, a month's name, an age
    "date": prefilter.compile_fast(r"\d[/.-]\d{1,2}[/.-]\d|\d{4}-\d{2}-\d{2}"),
    "month": prefilter.compile_fast(r"(?i)jan|feb|f[ée]v|mar|m[äa]r|apr|avr|abr|ma[iy]|mag|jun|jui|giu|jul|lug|aug|ao|ago"
                                    r"|sep|set|oct|okt|ott|out|nov|dec|d[ée]c|dez|dic"),
    "age": prefilter.compile_fast(r"(?i)\d\s?-?(?:a[ñn]o|ans|anni|jahr|jähr|år|jaar|lat|let|vuot|year|yr|y/?o)"
                                  r"|aged|age|edad|âge|idade|età|alter|leeftijd|ålder|wiek"),
    # a house number (or "s/n"), then within a few characters a postcode and a capitalised town
    "postcode": prefilter.compile_fast(r"(?:\d|s/n|S/N)[.,]?\s{0,2}[-–]?\s{0,2}\(?(?:[A-Z]{1,2}-)?\d{3,5}\)?\s?[.,]?\s?[A-ZÀ-Þ]"),
    # an upper-case run followed by a digit at the start of a word (IBAN, NINO, fiscal codes, postcodes)
    "alnum": prefilter.compile_fast(r"\b[A-Z]{1,6} ?\d"),
}


@dataclass(slots=True)
class PatternDetector:
    """Runs a table of :class:`PatternSpec`; each match may be validated and rescored."""

    name: str
    specs: Sequence[PatternSpec]
    use_set: bool = True
    _pairs: list[tuple[PatternSpec, re.Pattern[str]]] = field(init=False, repr=False)
    _set: PatternSet | None = field(init=False, repr=False)
    _by_trigger: dict[str, list[tuple[PatternSpec, re.Pattern[str]]]] = field(init=False, repr=False)
    _triggers: re.Pattern[str] | None = field(init=False, repr=False)
    _ungated: list[tuple[PatternSpec, re.Pattern[str]]] = field(init=False, repr=False)
    _gated: dict[str, list[tuple[PatternSpec, re.Pattern[str]]]] = field(init=False, repr=False)
    _needs: list[tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pairs, self._by_trigger, self._ungated, self._gated = [], {}, [], {}
        # Words of which one must occur for a spec to find anything: its triggers, or the context
        # it requires (a checksum-only number in a log line is let go before its regex runs).
        self._needs = [spec.triggers or (spec.context if spec.requires_context else ()) for spec in self.specs]
        for spec in self.specs:
            pair = (spec, re.compile(spec.pattern, spec.flags))
            self._pairs.append(pair)
            for t in spec.triggers:
                self._by_trigger.setdefault(t, []).append(pair)
            if spec.triggers:
                continue  # selected by its triggers, not run on every text
            if spec.gate is None:
                self._ungated.append(pair)
            else:
                self._gated.setdefault(spec.gate, []).append(pair)
        # One scan finds every trigger present; longest first so "sk_live_" is not hidden by "sk".
        words = sorted(self._by_trigger, key=len, reverse=True)
        self._triggers = re.compile("|".join(re.escape(w) for w in words)) if words else None
        # With RE2 one pass selects the candidate patterns; the triggers and gates are the fallback.
        # Built at the first ``detect``: a Scanner screens the patterns itself and calls
        # ``detect_screened`` (compiling an unused set cost 0.05 s of every start-up).
        self._set = None

    reading = ONE_AT_A_TIME

    @property
    def screen(self) -> list[str]:
        return [s.pattern for s in self.specs]

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(s.entity for s in self.specs)

    def _active(self, text: str, lowered: str) -> list[tuple[PatternSpec, re.Pattern[str]]]:
        always = self._ungated
        for name, pairs in self._gated.items():
            if GATES[name].search(text):
                always = [*always, *pairs]
        if self._triggers is None:
            return always
        seen: dict[int, tuple[PatternSpec, re.Pattern[str]]] = {}
        hits = set(self._triggers.findall(lowered))
        if not hits:
            return always
        for word in self._by_trigger:  # overlapping triggers (e.g. "sk" inside "sk_live_") need a plain check
            if word in hits or (len(word) <= 4 and word in lowered):
                for pair in self._by_trigger[word]:
                    seen[id(pair)] = pair
        return [*always, *seen.values()]

    def detect(self, text: str) -> list[Finding]:
        if self._set is None and self.use_set and prefilter.AVAILABLE:
            self._set = PatternSet([s.pattern for s in self.specs])
        if self._set is not None:
            hits = self._set.matching(text)
            return self.detect_screened(text, hits) if hits else []
        return self._run(text, self._active(text, lowered := text.lower()), lowered)

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        lowered = text.lower()  # a spec's triggers (and a context it requires) still have to occur
        return self._run(text, [self._pairs[i] for i in hits
                                if not (words := self._needs[i]) or any(w in lowered for w in words)], lowered)

    def _run(self, text: str, active: list[tuple[PatternSpec, re.Pattern[str]]], lowered: str) -> list[Finding]:
        found: list[Finding] = []
        for spec, rx in active:
            groups = [g for g in ("v", "v2", "v3") if g in rx.groupindex]  # a value's alternatives (quoted or not)
            for m in rx.finditer(text):
                group = next((g for g in groups if m.start(g) >= 0), 0) if groups else 0
                start, end = m.span(group)
                if start == end:
                    continue
                score = spec.score
                if spec.validator is not None:
                    checked = spec.validator(m.group(group), text, start)
                    if checked is None:
                        continue
                    score = checked
                if spec.requires_context:
                    if not _context_word(spec.context).search(lowered, max(0, start - 48), start):
                        continue
                    score = min(1.0, score + spec.context_boost)
                elif spec.context and any(w in lowered[max(0, start - 48):start] for w in spec.context):
                    score = min(1.0, score + spec.context_boost)
                found.append(
                    trusted(Finding, start=start, end=end, entity=spec.entity, category=spec.category,
                            detector=spec.group or self.name, score=score, reason=spec.reason)
                )
        return found


@functools.cache
def _context_word(words: tuple[str, ...]) -> re.Pattern[str]:
    """One of ``words`` as a whole word ("sin" in "SIN:", not in "using")."""
    return re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in words) + r")(?![a-z])")




def merge_findings(findings: Iterable[Finding], text: str | None = None) -> list[Finding]:
    """Resolve overlaps: keep the highest-scoring span, longer first on ties; order by offset.

    Greedy over a priority order, so the result never contains two overlapping spans. A model's
    guess (NER, the name cues) that lies inside a span a pattern found gives way to it whatever the
    scores: the street in "Calle González Besada, 25" is named after a person, but the whole is an
    address.
    """
    findings = list(findings)
    if all(a.end <= b.start for a, b in itertools.pairwise(findings)):
        return findings  # already in order and disjoint (a scanner's output): nothing to resolve
    findings = _inside_patterns_dropped(findings, text)
    if len(findings) >= 8:  # many findings rarely overlap (a record full of addresses): check that first
        by_start = sorted(findings, key=lambda f: (f.start, f.end))
        if all(a.end <= b.start for a, b in itertools.pairwise(by_start)):
            return by_start
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    if len(ranked) < 8:  # the common case: a plain check beats building an index
        small: list[Finding] = []
        for f in ranked:
            if all(f.end <= k.start or f.start >= k.end for k in small):
                small.append(f)
        return sorted(small, key=lambda f: f.start)
    taken = Spans()
    kept = []
    for f in ranked:
        if not taken.overlaps(f.start, f.end):
            taken.add(f.start, f.end)
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


#: detectors whose findings are a model's or a cue's guess, not a pattern's match
GUESSES = frozenset({"ner", "names"})


def _inside_patterns_dropped(findings: list[Finding], text: str | None) -> list[Finding]:
    """Guesses give way to the patterns' spans: one inside a pattern's span is dropped, and so is an
    organisation or place that overlaps one; a person that overlaps its edge keeps its longest part
    outside it ("Dr. Ana Ruiz Calle Mayor 5" names Ana Ruiz)."""
    solid = [f for f in findings if f.detector not in GUESSES]
    if not solid or len(solid) == len(findings):
        return findings
    out = []
    for f in findings:
        if f.detector in GUESSES:
            start, end = f.start, f.end
            for s in solid:
                if s.start < end and start < s.end:
                    left, right = s.start - start, end - s.end
                    if (left <= 0 and right <= 0) or f.entity != "PERSON":
                        break  # inside, or not a name: a place or firm cut short names nothing ("IBAN", "EUR")
                    start, end = (start, s.start) if left >= right else (s.end, end)
            else:
                kept = _trimmed(f, start, end, text) if (start, end) != (f.start, f.end) else f
                if kept is not None:
                    out.append(kept)
            continue
        out.append(f)
    return out


def _trimmed(f: Finding, start: int, end: int, text: str | None) -> Finding | None:
    """``f`` cut to ``[start, end)``, less the spaces and punctuation at its edges when the text is
    known; None when no word is left."""
    if text is not None:
        while start < end and not text[start].isalnum():
            start += 1
        while end > start and not text[end - 1].isalnum():
            end -= 1
    return None if end - start < 2 else f.model_copy(update={"start": start, "end": end})


def scan(text: str, detectors: Iterable[Detector]) -> list[Finding]:
    """All detectors over ``text``, overlaps resolved."""
    return merge_findings((f for d in detectors for f in d.detect(text)), text)


class Scanner:
    """Runs a set of detectors over texts, overlaps resolved.

    With RE2, the ``screen`` patterns of every :class:`Screened` detector go into one multi-pattern
    set, matched once per text: a detector whose screen does not match is skipped, and the others
    learn which of their parts to run. Most log lines need no detector at all, and one pass costs
    less than each detector checking its own conditions. Without RE2 every detector runs on every
    text; the findings are the same either way.
    """

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.detectors = list(detectors)
        self._screened = [bool(d.screen) for d in self.detectors]
        self._owner: list[tuple[int, int]] = []  # set index -> (detector index, index in its screen)
        patterns: list[str] = []
        for i, d in enumerate(self.detectors):
            for j, pattern in enumerate(d.screen):
                self._owner.append((i, j))
                patterns.append(pattern)
        self._set = PatternSet(patterns) if patterns and prefilter.AVAILABLE else None

    def _hits(self, text: str) -> dict[int, list[int]]:
        """Detector index -> the indices of its screen patterns that match ``text``, in order."""
        return self._set.by_owner(text, self._owner)  # type: ignore[union-attr]

    def scan(self, text: str) -> list[Finding]:
        """Every detector over ``text``'s view (invisible and look-alike characters folded;
        see :mod:`veil.normalize`), findings mapped back to ``text``."""
        view = normalized(text)
        if view is None:
            return self._scan(text)
        return [_remap(f, view) for f in self._scan(view.text)]

    def _scan(self, text: str) -> list[Finding]:
        if self._set is None:
            return scan(text, self.detectors)
        hits = self._hits(text)
        found: list[Finding] = []
        for i, d in enumerate(self.detectors):
            if not self._screened[i]:
                found += d.detect(text)
            elif i in hits:
                found += cast("Screened", d).detect_screened(text, hits[i])
        return merge_findings(found, text) if len(found) > 1 else found

    def scan_many(self, texts: Sequence[str], constants: Sequence[ConstantParts | None] | None = None,
                  documents: Sequence[bool] | None = None) -> list[list[Finding]]:
        """``scan`` for many texts; a detector with ``detect_many`` (NER) sees its texts in one batch,
        with the constant parts of each log line when ``constants`` gives them. A detector that
        ``reads_documents`` gets every text ``documents`` marks, whatever its screen says, and reads
        those whole; one that is ``documents_only`` gets those texts alone."""
        views = [normalized(t) for t in texts]
        if any(v is not None for v in views):
            texts = [t if v is None else v.text for t, v in zip(texts, views)]
            if constants is not None:  # a template's parts are offsets into the original line
                constants = [c if v is None else None for c, v in zip(constants, views)]
        every = range(len(texts))
        hits: list[dict[int, list[int]]] | None = None
        if self._set is not None:
            hits = [self._hits(t) for t in texts]
            screened_in: list[list[int]] = [[] for _ in self.detectors]  # detector -> texts its screen matched
            for k, h in enumerate(hits):
                for i in h:
                    screened_in[i].append(k)
        any_document = documents is not None and any(documents)
        per_text: list[list[Finding]] = [[] for _ in texts]
        for i, d in enumerate(self.detectors):
            screened = hits is not None and self._screened[i]
            whole = documents is not None and d.reading.documents
            if documents is not None and d.reading.documents_only:
                chosen = [k for k in every if documents[k]]
            elif screened and whole and any_document:
                chosen = [k for k in every if i in hits[k] or documents[k]]  # type: ignore[index]
            elif screened:
                chosen = screened_in[i]
            else:
                chosen = list(every)
            if d.reading.batch:
                batch = cast("BatchDetector", d)
                chosen_documents = [documents[k] for k in chosen] if documents is not None and whole else None
                chosen_constants = ([constants[k] for k in chosen] if constants is not None and d.reading.templates
                                    else None)
                results = batch.detect_many([texts[k] for k in chosen], chosen_constants, chosen_documents)
            elif screened:
                results = [cast("Screened", d).detect_screened(texts[k], hits[k][i]) for k in chosen]  # type: ignore[index]
            else:
                results = [d.detect(texts[k]) for k in chosen]
            for k, found in zip(chosen, results):
                per_text[k] += found
        merged = [merge_findings(fs, t) if len(fs) > 1 else fs for fs, t in zip(per_text, texts)]
        return [fs if v is None else [_remap(f, v) for f in fs] for fs, v in zip(merged, views)]


def _remap(f: Finding, view: View) -> Finding:
    start, end = view.span(f.start, f.end)
    return trusted(Finding, start=start, end=end, entity=f.entity, category=f.category, detector=f.detector,
                   score=f.score, reason=f.reason)
