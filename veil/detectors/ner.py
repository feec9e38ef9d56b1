"""Names, organisations and places with a spaCy NER pipeline (a local model folder, no download).

NER is the slowest detector: its network costs ~100 GFLOP per million characters, near one core's
peak. A document is read in the parts around its capitalised words and listed given names (what
the model would tag reading all of it, see ``NerDetector._capitalised_windows``); a log line only
in the windows around name-shaped tokens (two capitalised words in a row, or a title or greeting),
which most lines do not have. The entities are decoded by ``veil.detectors.biluo`` (NumPy), not by
spaCy's own loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from veil.cache import LRU
from veil.detectors import biluo, language, prefilter
from veil.detectors.name_evidence import NOT_GIVEN_NAMES, in_log_line, known_people, may_name, people_in_document, person_span
from veil.detectors.names import given_names
from veil.detectors.protocol import ConstantParts, Reading
from veil.detectors.spacy_runtime import load_for_inference
from veil.schemas import Category, Finding, trusted

_GATE = re.compile(
    r"\b[A-ZÀ-Þ][a-zß-ÿ'-]+\s+[A-ZÀ-Þ][a-zß-ÿ'-]+"
    r"|\b(?:Mr|Mrs|Ms|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra|Dear|Hi|Hello|Hallo|Hola|Bonjour|Thanks|Regards|Cheers)\b"
)
_GATE_FAST = prefilter.compile_fast(_GATE.pattern)  # yes/no check; offsets come from ``re`` below
#: spaCy label -> (entity, category, score for one token, score for two or more tokens)
_LABELS = {
    "PERSON": ("PERSON", Category.PII, 0.6, 0.88),
    "ORG": ("ORGANIZATION", Category.PII, 0.45, 0.45),
    "GPE": ("LOCATION", Category.PII, 0.45, 0.45),
    "LOC": ("LOCATION", Category.PII, 0.45, 0.45),
    "FAC": ("LOCATION", Category.PII, 0.45, 0.45),
}


_WORD = re.compile(r"\S+")
_PUNCTUATION = "\"'([{<“‘«¿¡*_-.,;:!?)]}>”’»"
#: Words either side of a capitalised word that the NER reads in a document (more than its four-token reach).
_MARGIN = 6


def _opens_window(words: str, function_words: frozenset[str], given_names: frozenset[str] = given_names()) -> bool:
    """Whether ``words`` hold a word the NER reads a document around (see
    ``NerDetector._capitalised_windows``): one with a capital letter that is not a function word
    ("d'Herbinville", "McKay", "NASA" count; "The", "We" do not), or a lower-case listed given name."""
    for word in words.split():
        core = word.strip(_PUNCTUATION)
        if word.lower() == word:  # no capital letter
            name = core.partition("'")[0]  # chats write "sam's coming" too
            if name in given_names and name not in function_words:
                return True
        elif core.lower() not in function_words or (len(core) > 1 and core.isupper()):
            return True
    return False


def windows(text: str, pad: int) -> list[tuple[int, int]]:
    """Spans of ``text`` around name-shaped matches, ``pad`` characters each side, merged, widened
    to whitespace so no word is cut."""
    return [(start, end) for start, end, _ in windows_with_matches(text, pad)]


def windows_with_matches(text: str, pad: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """:func:`windows`, each with the name-shaped matches it was opened for."""
    spans: list[tuple[int, int, list[tuple[int, int]]]] = []
    if not _GATE_FAST.search(text):
        return spans
    for m in _GATE.finditer(text):
        start, end = max(0, m.start() - pad), min(len(text), m.end() + pad)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]), [*spans[-1][2], m.span()])
        else:
            spans.append((start, end, [m.span()]))
    return spans



def _shifted(found: list[Finding], offset: int) -> list[Finding]:
    return [trusted(Finding, start=f.start + offset, end=f.end + offset, entity=f.entity, category=f.category,
                    detector=f.detector, score=f.score, reason=f.reason) for f in found]


def chunks(text: str, size: int) -> list[tuple[int, int]]:
    """``text`` cut into pieces of at most ``size`` characters, at a line break where one is near
    the end of a piece, else at a space, so that no name is cut in two (a 40-page judgment is read
    whole, a piece at a time)."""
    out: list[tuple[int, int]] = []
    start, n = 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            cut = text.rfind("\n", start + size // 2, end)
            if cut < 0:
                cut = text.rfind(" ", start + size // 2, end)
            if cut > start:
                end = cut + 1
        if text[start:end].strip():
            out.append((start, end))
        start = end
    return out


class NerDetector:
    """spaCy NER. A document in the model's language (or too short to tell) is read in the parts
    around its capitalised words and listed given names, a piece of at most ``max_chars`` at a
    time: a lone given name after "my name is", a speaker in a dialogue or a surname alone has
    nothing around it that a cheap pattern could see. Other texts are read only
    in the windows around name-shaped tokens: most log lines have none, a log template's constant
    windows are read once, and a model reading a language it does not know tags a name in every
    other capitalised word."""

    name = "ner"
    entities = frozenset(entity for entity, *_ in _LABELS.values())
    reading = Reading(batch=True, documents=True, templates=True)

    def __init__(self, model_path: Path, *, max_chars: int = 5000, pad: int = 32) -> None:
        self._nlp = load_for_inference(model_path)
        # NER alone: decode it in NumPy (same entities, about twice as fast as spaCy's own loop)
        self._decoder = biluo.decoder_for(self._nlp.get_pipe("ner")) if self._nlp.pipe_names == ["ner"] else None
        self.language = self._nlp.lang  # a document in another language is read in windows only
        self._function_words = frozenset(self._nlp.Defaults.stop_words)
        self.max_chars = max_chars
        self.pad = pad
        self._known: LRU[str, list[Finding]] = LRU(20_000)  # constant windows of log templates

    screen = (_GATE.pattern,)

    def detect(self, text: str) -> list[Finding]:
        return self.detect_many([text])[0]

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        return self.detect_many([text])[0]

    def detect_many(self, texts: list[str], constants: Sequence[ConstantParts | None] | None = None,
                    documents: Sequence[bool] | None = None) -> list[list[Finding]]:
        """Findings per text, all through spaCy in one ``nlp.pipe`` batch. A document
        (``documents[i]``) is read whole; another text only in the windows around name-shaped
        tokens (spaCy's cost grows with the number of tokens).

        ``constants`` (per text, optional): the parts of a log line its template says are the same
        in every line, or a callable that works them out (called only for a text with a window). A
        window opened only for matches inside one such part is cut to that part:
        the same text in every line of the template, so its findings are computed once and kept
        (exactly: by the window's text). Windows over a variable part run every time."""
        results: list[list[Finding]] = [[] for _ in texts]
        jobs: list[tuple[int, int, int, str | None]] = []
        foreign: set[int] = set()  # documents in a language the model was not trained on
        for i, t in enumerate(texts):
            if documents is not None and documents[i]:
                if language.guess(t) in (None, self.language):
                    jobs.extend((i, a + start, a + end, None) for a, b in self._capitalised_windows(t)
                                for start, end in chunks(t[a:b], self.max_chars))
                    continue
                foreign.add(i)
            found_windows = windows_with_matches(t[: self.max_chars], self.pad)
            if documents is not None and i not in foreign:  # a log line: see in_log_line
                found_windows = [w for w in found_windows if may_name(t, w[0], w[1], self._function_words)]
            runs = constants[i] if constants is not None and found_windows else None
            if callable(runs):
                runs = runs()
            for start, end, matches in found_windows:
                run = next((r for r in runs if all(r[0] <= a and b <= r[1] for a, b in matches)), None) if runs else None
                if run is None:
                    jobs.append((i, start, end, None))
                    continue
                start, end = max(start, run[0]), min(end, run[1])
                key = t[start:end]
                known = self._known.get(key)
                if known is None:
                    jobs.append((i, start, end, key))
                else:
                    results[i].extend(_shifted(known, start))
        if jobs:
            self._run_jobs(texts, jobs, results, documents, foreign)
        if documents is not None:  # also when every window was served from the cache
            for i, whole in enumerate(documents):
                if whole and results[i]:
                    found = known_people(texts[i], results[i]) if i in foreign else results[i]
                    results[i] = people_in_document(texts[i], found, self.name, score=_LABELS["PERSON"][2])
                elif results[i]:
                    results[i] = in_log_line(texts[i], results[i], self._function_words)
        return results

    def _run_jobs(self, texts: list[str], jobs: list[tuple[int, int, int, str | None]],
                  results: list[list[Finding]], documents: Sequence[bool] | None, foreign: set[int]) -> None:
        """Read each job's piece through the model; findings go to ``results`` (and the template cache)."""
        # the words first seen in these texts are forgotten afterwards: a stream of ids, hashes and
        # addresses would otherwise grow spaCy's vocabulary (and the process) without end
        with self._nlp.memory_zone():
            docs = self._read([texts[i][start:end] for i, start, end, _ in jobs])
            for (i, start, end, key), doc in zip(jobs, docs):
                if key is None:
                    found = self._findings(texts[i][start:end], doc, start)
                    if documents is not None and documents[i] and i not in foreign:
                        found = [f for f in found if _opens_window(texts[i][f.start:f.end], self._function_words)]
                    results[i].extend(found)
                else:
                    found = self._findings(key, doc, 0)
                    self._known.put(key, found)
                    results[i].extend(_shifted(found, start))

    def _capitalised_windows(self, text: str) -> list[tuple[int, int]]:
        """The parts of a document the NER reads: each word with a capital letter other than a
        function word ("The", "We"), and each lower-case listed given name ("sam's coming"), with
        ``_MARGIN`` words either side, merged. The model sees four tokens either side of a token
        (four convolution layers of window one) and a word is at least one token, so inside these
        parts it tags as it would reading everything; outside them it would tag only lower-case
        words, and those were mostly noise (a finding without such a word is dropped: near a part's edge the
        model reads "str" in code as an organisation). Measured on docs.dev (``veil eval --no-llm``): 4 of 3,630
        names lost, 25 false organisations gone, documents/s +29% (``ops.bench.docs_throughput``)."""
        words = [m.span() for m in _WORD.finditer(text)]
        names, fw = given_names(), self._function_words
        # a cheap first cut (a capital letter, or a listed name once stripped), then the full check
        maybe = [k for k, w in enumerate(text[a:b] for a, b in words)
                 if w.lower() != w or w.strip(_PUNCTUATION).partition("'")[0] in names]
        spans: list[list[int]] = []
        for k in maybe:
            a, b = words[k]
            if not _opens_window(text[a:b], fw):
                continue
            lo, hi = max(0, k - _MARGIN), min(len(words) - 1, k + _MARGIN)
            if spans and lo <= spans[-1][1] + 1:
                spans[-1][1] = hi
            else:
                spans.append([lo, hi])
        return [(words[lo][0], words[hi][1]) for lo, hi in spans]

    def _read(self, pieces: list[str], batch: int = 64) -> list:
        """``Doc`` objects with entities, for each piece. With the NumPy decoder, pieces go through
        in batches of similar length (its cost per step is the batch's, however many have ended)."""
        if self._decoder is None:
            return list(self._nlp.pipe(pieces, batch_size=batch))
        from spacy.tokens import Span

        docs = [self._nlp.make_doc(p) for p in pieces]
        order = sorted(range(len(docs)), key=lambda k: len(docs[k]))
        for at in range(0, len(order), batch):
            chosen = order[at: at + batch]
            for k, found in zip(chosen, self._decoder([docs[k] for k in chosen])):
                docs[k].set_ents([Span(docs[k], e.start, e.end, label=e.label) for e in found], default="outside")
        return docs

    def _findings(self, piece: str, doc, offset: int) -> list[Finding]:
        """Findings for one ``doc`` of ``piece`` (its text: ``doc.text`` rebuilds it token by token),
        shifted by ``offset``."""
        out: list[Finding] = []
        for ent in doc.ents:
            spec = _LABELS.get(ent.label_)
            if spec is None or len(ent.text.strip()) < 2:
                continue
            start, end = ent.start_char, ent.end_char
            if ent.label_ == "PERSON":
                span = person_span(piece, self._given_name_start(doc, ent), end)
                if span is None:
                    continue
                start, end = span
            entity, category, one, many = spec
            score = many if len(piece[start:end].split()) >= 2 else one
            out.append(trusted(Finding, start=start + offset, end=end + offset, entity=entity, category=category,
                               detector=self.name, score=score, reason=f"NER label {ent.label_}"))
        return out

    @staticmethod
    def _given_name_start(doc, ent) -> int:
        """The small model often tags only the surname; take one capitalised word before it too,
        unless that word opens the sentence (there it is more often "Customer" than a given name)."""
        i = ent.start - 1
        if i < 1:
            return ent.start_char
        prev, before = doc[i], doc[i - 1]
        if prev.is_title and prev.is_alpha and not before.is_sent_start and before.text not in ".!?:\n" \
                and prev.text.lower() not in NOT_GIVEN_NAMES:
            return prev.idx
        return ent.start_char
