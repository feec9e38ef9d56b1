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

import sys

import numpy as np

# thinc imports torch when it is installed (2 s of start-up, with the train extra) though this NER
# never uses it: hide torch while thinc loads, unless the process already has it.
_HIDE_TORCH = "torch" not in sys.modules
if _HIDE_TORCH:
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
try:
    from thinc.api import NumpyOps, get_current_ops, set_current_ops
finally:
    if _HIDE_TORCH:
        del sys.modules["torch"]

from veil.schemas import Category, Finding, trusted
from veil.cache import LRU
from veil.detectors import biluo, language, prefilter
from veil.detectors.names import given_names, is_name
from veil.detectors.people import NOT_NAMES, PARTICLES
from veil.detectors.base import ConstantParts

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


def load_for_inference(model_path: Path):
    """The spaCy pipeline (tokenizer, tok2vec, ner only) built on :class:`InferenceOps`.

    A layer keeps the ops it was built with, so other spaCy pipelines in the process are untouched.
    """
    spacy = _import_spacy()
    ops, previous = InferenceOps(), get_current_ops()
    set_current_ops(ops)
    try:
        nlp = _load_builtin_first(spacy, model_path)
    finally:
        set_current_ops(previous)
    for _, pipe in nlp.pipeline:
        for node in pipe.model.walk():
            ops.freeze([node.get_param(name) for name in node.param_names if node.has_param(name)])
    return nlp


def _import_spacy():
    """``import spacy`` without its command-line package.

    ``spacy/__init__`` imports ``spacy.cli`` for one function (``spacy.info``), and with it jinja2,
    requests, httpx and weasel: 0.26 s of every ``veil redact``'s start-up, 60% of importing
    spaCy. Here a stand-in serves that import and is removed at once: ``spacy.info`` and a later
    ``import spacy.cli`` load the real package.
    """
    if "spacy" in sys.modules:
        return sys.modules["spacy"]
    import types

    def info(*args, **kwargs):  # spacy.info, loaded when called
        from spacy.cli.info import info as real

        return real(*args, **kwargs)

    package, module = types.ModuleType("spacy.cli"), types.ModuleType("spacy.cli.info")
    package.__path__ = []  # type: ignore[attr-defined]
    module.info = info  # type: ignore[attr-defined]
    sys.modules["spacy.cli"], sys.modules["spacy.cli.info"] = package, module
    try:
        import spacy
    finally:
        for name, stand_in in (("spacy.cli.info", module), ("spacy.cli", package)):
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
        parent = sys.modules.get("spacy")
        if parent is not None and getattr(parent, "cli", None) is package:
            delattr(parent, "cli")
    return spacy


def _load_builtin_first(spacy, model_path: Path):
    """``spacy.load`` without importing other packages' spaCy plugins, unless the pipeline needs one.

    spaCy imports every installed package's ``spacy_factories`` entry point whenever it builds a
    pipeline. One such plugin (Presidio's, which imports torch and transformers) made start-up
    3.5 s slower, though the pipelines Veil ships use spaCy's own components only.
    """
    exclude = ["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]
    config = _saved_tokenizer_config(spacy, Path(model_path))
    plugins = spacy.util.registry._entry_point_factories
    plugins.entry_points = False
    try:
        nlp = spacy.load(model_path, exclude=exclude, config=config)
    except (ValueError, KeyError):  # a component from a plugin: load the usual way
        nlp = None
    finally:
        plugins.entry_points = True
    if nlp is None:
        nlp = spacy.load(model_path, exclude=exclude)
    # en_core_web_sm's NER has its own embedding layers; the shared tok2vec then feeds only the
    # excluded tagger and parser and would cost a third of the time for nothing
    if "tok2vec" in nlp.pipe_names and not nlp.get_pipe("tok2vec").listening_components:
        nlp.remove_pipe("tok2vec")
    return nlp


_SAVED_TOKENIZER = "veil.saved_tokenizer.v1"


def _saved_tokenizer_config(spacy, model_path: Path) -> dict:
    """Config overrides that build the pipeline's tokenizer empty when its saved state replaces it.

    spaCy builds the language's default tokenizer (1,347 special cases for English, each checked
    by tokenizing it, and the punctuation patterns) and then ``from_disk`` loads the saved one over
    it: the first build is thrown away, 0.2 s of every start-up. For spaCy's own tokenizer with a
    saved state an empty one is built instead; the saved state sets every rule and pattern, so the
    result is the same (a test compares the two tokenizers' bytes). Any other tokenizer: no change.
    """
    try:
        saved = spacy.util.load_config(model_path / "config.cfg")["nlp"]["tokenizer"]
    except (OSError, KeyError, ValueError):
        return {}
    if saved.get("@tokenizers") != "spacy.Tokenizer.v1" or not (model_path / "tokenizer").exists():
        return {}
    from spacy.tokenizer import Tokenizer

    spacy.util.registry.tokenizers.register(_SAVED_TOKENIZER, func=lambda: lambda nlp: Tokenizer(nlp.vocab))
    return {"nlp": {"tokenizer": {"@tokenizers": _SAVED_TOKENIZER}}}


class InferenceOps(NumpyOps):
    """NumPy ops for a model that only predicts, tuned for the short windows NER sees.

    Two measured costs of spaCy's defaults on such inputs (AVX-512 EPYC, a 10-20 token window):
    the bundled BLIS kernels multiply these small matrices 4-6x slower than NumPy's BLAS, and
    ``x @ W.T`` with a transposed weight view is ~3x slower than with a row-major copy of ``W.T``.
    So this uses NumPy and keeps one transposed copy of each frozen weight matrix; together they
    make a window about 40% faster. Arrays that are not frozen parameters (the model's own buffers,
    registered with :meth:`freeze` once loaded) take the usual path.
    """

    name = "veil-inference"

    def __init__(self) -> None:
        super().__init__(use_blis=False)
        self._frozen: set[int] = set()
        self._transposed: dict[tuple, np.ndarray] = {}

    def freeze(self, params) -> None:
        """Register parameter arrays that will not change while these ops live."""
        self._frozen.update(p.ctypes.data for p in params if isinstance(p, np.ndarray))

    def gemm(self, x, y, out=None, trans1=False, trans2=False):
        if trans2 and not trans1 and out is None and y.ndim == 2 and y.ctypes.data in self._frozen:
            key = (y.ctypes.data, y.shape, y.strides)
            yt = self._transposed.get(key)
            if yt is None:
                yt = self._transposed[key] = np.ascontiguousarray(y.T)
            return x @ yt
        return super().gemm(x, y, out=out, trans1=trans1, trans2=trans2)


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
    uses_templates = True
    reads_documents = True

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
        in every line, or a callable that works them out (called only for a text with a window). A window opened only for matches inside one such part is cut to that part:
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
            if documents is not None and i not in foreign:  # a log line: see _in_log_line
                found_windows = [w for w in found_windows if _may_name(t, w[0], w[1], self._function_words)]
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
                    found = _known_people(texts[i], results[i]) if i in foreign else results[i]
                    results[i] = people_in_document(texts[i], found, self.name)
                elif results[i]:
                    results[i] = _in_log_line(texts[i], results[i], self._function_words)
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
                and prev.text.lower() not in _NOT_GIVEN_NAMES:
            return prev.idx
        return ent.start_char


#: Titles and forms of address: "President Biden" names Biden; the title identifies no one.
_TITLE = re.compile(
    r"(?:(?:Vice|Chief|Deputy|Prime|Lord|Lady|Attorney|Surgeon)\s+)?"
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|President|Senator|Sen|Rep|Representative|Congressman|Congresswoman"
    r"|Governor|Gov|Mayor|Judge|Justice|Minister|Secretary|Speaker|Chancellor|King|Queen|Prince|Princess|Pope"
    r"|Saint|St|Sir|Dame|Reverend|Rev|Father|Fr|Sister|Brother|Bishop|Rabbi|Imam|Captain|Capt|General|Gen|Colonel"
    r"|Col|Major|Maj|Lieutenant|Lt|Sergeant|Sgt|Officer|Detective|Agent|Coach|Uncle|Aunt|Auntie|Grandma|Grandpa"
    r"|Herr|Frau|Mme|Mlle|Monsieur|Madame|Señor|Señora|Señorita|Sr|Sra|Srta|Don|Doña|Dott|Dottssa|Avv|Ing|Signor"
    r"|Signora|Doctor|Mister|Administrator|Commissioner|Ambassador|Chairman|Chairwoman|Chair|Madam)\b\.?\s+")
#: Words that make a capitalised phrase an event, a day, a thing or a group rather than a person.
_THINGS = frozenset({
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "tonight", "tonite", "today",
    "tomorrow", "weekend", "birthday", "day", "night", "morning", "christmas", "easter", "halloween", "holiday",
    "fest", "festival", "bash", "party", "concert", "show", "tour", "live", "lyrics", "album", "single", "remix",
    "weather", "advisory", "warning", "watch", "forecast", "storm", "band", "club", "team", "fc", "quidditch",
    "observatory", "theatre", "theater", "museum", "hall", "center", "centre", "university", "college",
    "school", "church", "hospital", "street", "road", "avenue", "case", "set", "edition", "salad", "order", "sale",
    "shop", "shopping", "store", "app", "game", "games", "movie", "film", "series", "season", "episode", "trailer",
    "news", "report", "update", "awards", "award", "cup", "league", "championship", "tournament", "workout",
    "recipe", "photo", "video", "pics", "contest", "giveaway", "ticket", "tickets", "recognition", "awareness",
    "shuttle", "telescope", "station", "project", "program", "programme", "law", "theory", "plan",
    "girls", "boys", "brothers", "sisters", "kids", "fans", "crew", "gang", "trio", "duo", "quartet", "orchestra",
    "choir", "symphony", "sonata", "concerto", "mater", "trail", "falls", "river", "lake", "mountain", "island",
    "airport", "bridge", "tower", "castle", "palace", "temple", "mosque", "cathedral", "plays", "games"})
#: Words the small model takes into a name's front: "[My Santorum]", "[From Judy]", "[Describe Einstein]".
_LEADING = re.compile(r"(?i:the|a|an|my|our|your|his|her|their|from|to|and|with|for|by|of|at|in|on|describe|explain"
                      r"|meet|ask|call|thank|thanks|congrats|congratulations|happy|welcome|via|rip|ft|feat)\s+(?=\S)")
_TITLE_BEFORE = re.compile(r"\b" + _TITLE.pattern + r"\Z")

def people_in_document(text: str, found: list[Finding], detector: str) -> list[Finding]:
    """A document's PERSON findings, checked against each other. A full name ("Andy Warhol")
    vouches for its family name written alone elsewhere ("Warhol said"), found by the model or not;
    a single word the model calls a person is kept only when it is a known given or family name,
    follows a title ("Mr Kovačević"), acts as a person ("Goldsmith's test") or is so vouched for
    ("Hajj", "Iodine", "Skylab" are none); a single name kept once is redacted wherever the document
    writes it."""
    vouched: set[str] = set()
    for f in found:
        if f.entity == "PERSON":
            words = text[f.start:f.end].split()
            if len(words) >= 2 and words[-1][:1].isupper() and len(words[-1]) >= 3 and words[-1].isalpha():
                vouched.add(words[-1])
    out, have, acting = [], set(), set()
    for f in found:
        value = text[f.start:f.end]
        if f.entity == "PERSON" and " " not in value and value not in vouched and not is_name(value.strip(".'’")) \
                and not _TITLE_BEFORE.search(text, max(0, f.start - 40), f.start):
            if not _acts_as_person(text, f):
                continue
        if f.entity == "PERSON" and " " not in value and value[:1].isupper():
            acting.add(value)  # a name kept once ("Goldsmith's test") names that person wherever the document writes it
        out.append(f)
        have.add((f.start, f.end))
    for name in vouched | acting:
        for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            if not any(s <= m.start() < e for s, e in have):
                out.append(trusted(Finding, start=m.start(), end=m.end(), entity="PERSON", category=Category.PII,
                                   detector=detector, score=_LABELS["PERSON"][2],
                                   reason="a name found elsewhere in the same document"))
    return out


#: What a person does in a sentence: owns ("Goldsmith's test"), speaks or acts ("Bhamre said"), is cited ("Spang (1983)").
_PERSON_AFTER = re.compile(
    r"(?:'s|’s|'|’)(?!\w)|\s+(?:said|says|told|tells|wrote|writes|argued|argues|claimed|claims|noted|notes|added|asked"
    r"|replied|stated|explained|was|is|has|had|did|does|will|would|could|became|died|recovered|reacted|starred|played"
    r"|married|returned|went|came|made|won|lost|took|gave|shared|published|thinks|thought|believed|called)\b"
    r"|\s*,?\s*\(?(?:1[5-9]|20)\d\d\b|\s+et al\b|(?:,\s*(?:&\s*)?[A-Z][\w'’-]+){1,6},?\s*\(?(?:1[5-9]|20)\d\d\b")


def _acts_as_person(text: str, f: Finding) -> bool:
    """Whether a single capitalised word the model calls a person behaves as one (see
    :data:`_PERSON_AFTER`), and is neither a hashtag, an acronym nor a word also written in lower
    case in the same text ("#Concert", "GOAT", "Prototypes ... prototypes")."""
    value = text[f.start:f.end]
    if value.isupper() or text[max(0, f.start - 2):f.start].strip().endswith(("#", "@")):
        return False
    if not _PERSON_AFTER.match(text, f.end):
        return False
    return re.search(rf"(?<!\w){re.escape(value.lower())}(?!\w)", text) is None


def _in_log_line(text: str, found: list[Finding], function_words: frozenset[str]) -> list[Finding]:
    """What the model finds in a log line, kept only when it is a person with a listed name among
    its words (capitalised, not in capitals, and no function word: "The" and "reason" are family
    names somewhere) or a title before it: in logs the model calls applications, states and fields organisations
    and people ("Microsoft Word[14463]", "SleepType: Normal Sleep", "Clock Mode is Low"), and an
    organisation or a place on a log line is no one's personal data."""
    return [f for f in _known_people(text, found) if f.entity == "PERSON"
            and (any(_log_name(w.strip(".,'’\"()"), function_words) for w in text[f.start:f.end].split())
                 or _TITLE_BEFORE.search(text, max(0, f.start - 40), f.start))]


def _log_name(word: str, function_words: frozenset[str]) -> bool:
    """A listed name written as one ("Ana"; not "the", "The" or a code in capitals such as "RAS")."""
    return word[:1].isupper() and not (len(word) > 1 and word.isupper()) and word.lower() not in function_words \
        and is_name(word)


_NAME_WORD = re.compile(r"[^\W\d_][\w'’\u0300-\u036f-]*")
_TITLE_IN = re.compile(r"\b" + _TITLE.pattern)


def _may_name(text: str, start: int, end: int, function_words: frozenset[str]) -> bool:
    """Whether ``_in_log_line`` could keep anything the model finds in ``text[start:end]``: a word
    there is a listed name as that rule reads it, or a title stands before one. Most windows of a
    log line open on two capitalised words ("Component State Change") and name no one: they are
    not read at all."""
    for word in _NAME_WORD.findall(text, start, end):
        word = word.rstrip("'’-")
        if _log_name(word, function_words) or (("-" in word or "'" in word or "’" in word)
                                               and any(_log_name(p, function_words) for p in re.split(r"['’-]", word))):
            return True
    return _TITLE_IN.search(text, max(0, start - 40), end) is not None


def _known_people(text: str, found: list[Finding]) -> list[Finding]:
    """In a language it was not trained on, the model calls many capitalised phrases a person
    ("Fecha de Ingreso", "Historia Actual"): there a PERSON of several words is kept only when one of
    them is a known given or family name, or a title stands before it; one in lower case is dropped,
    and words before a lower-case one are cut off ("Unterlagen an Yuki Wang" names Yuki Wang)."""
    out = []
    for f in found:
        if f.entity == "PERSON":
            value = text[f.start:f.end]
            cut = max((m.end() for m in re.finditer(r"(?<!\S)[^\W\d_A-Z][^\s]*\s+", value)
                       if m.group().strip() not in PARTICLES), default=0)
            if cut:
                f = f.model_copy(update={"start": f.start + cut})
                value = value[cut:]
            if not value[:1].isupper():
                continue
            if " " in value and not any(is_name(w.strip(".,'’\"()")) for w in value.split()) \
                    and not _TITLE_BEFORE.search(text, max(0, f.start - 40), f.start):
                continue
        out.append(f)
    return out




_EDGE = "\"'“”‘’«»()[]{}<>*~.,;:!?-–—"


def person_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The part of a PERSON entity that names someone, or None when none does. Left out: titles in
    front, quotes and brackets around, what follows a ``|`` separator. Dropped: an entity that
    cannot be a name (digits, a hashtag, a handle, a link, a word such as "Mom" or "Hmm"), and one
    in lower case unless one of its words is a known given or family name ("steve" in a post is a
    name, "potty" is not)."""
    while start < end and text[start] in _EDGE:
        start += 1
    while (m := _TITLE.match(text, start, end)) or (m := _LEADING.match(text, start, end)):
        start = m.end()
    for stop in ("|", "\n"):  # "Soulja Boy | TheDeAndreWay", "Szabó Zsófia\nCím"
        cut = text.find(stop, start, end)
        if cut >= 0:
            end = cut
    while end > start and (text[end - 1] in _EDGE or text[end - 1].isspace()):
        if text[end - 1] == "." and end - start >= 2 and text[end - 2].isupper() and (end - start == 2 or not text[end - 3].isalpha()):
            break  # an initial: "George W."
        end -= 1
    value = text[start:end]
    if len(value) < 2 or value[0] in "#@" or "http" in value.lower() or any(c.isdigit() or c in "/\\=_" for c in value):
        return None  # "Gartenstraße 54" is an address; "#winElmers", "@ana", "Localidad/ Provincia", links: no names
    words = value.split()
    if all(w.lower().strip(".'’") in NOT_NAMES for w in words):
        return None  # "Mom", "Chief Justice"
    cut = min((i for i in (value.find("@"), value.find("&")) if i >= 0), default=-1)
    if cut >= 0:  # "Lady Gaga &amp; The Muppets", "Marina @ElReyTheatre"
        return person_span(text, start, start + cut) if cut >= 2 else None
    if any(w.lower().strip(".,!?'’") in _THINGS for w in words):
        # "Marvin Gaye Day" names Marvin Gaye; "Winter Weather Advisory", "Zac Brown Band" name no one
        while words and words[-1].lower().strip(".,!?'’") in _THINGS:
            words.pop()
        if not words or len(words) == len(value.split()) or any(w.lower().strip(".,!?'’") in _THINGS for w in words) \
                or len(words) == 1:
            return None  # "Lebowski Fest", "Winter Weather Advisory"
        end = start + value.index(words[-1], len(" ".join(words[:-1]))) + len(words[-1])
        value = text[start:end]
        words = value.split()
    if len(words) > 1 and value.isupper() and not any(is_name(w.capitalize()) for w in words):
        return None  # "DING DONG DING DONG"; "RAFAEL WARNOCK" is a name
    if not any(c.isupper() for c in value) and not any(len(w) > 2 and is_name(w.strip(".'’")) for w in words):
        return None  # "steve" and "paris hilton" in a post are names; "bagay kasi na" is not
    return start, end


_NOT_GIVEN_NAMES = frozenset({"customer", "patient", "user", "client", "cliente", "kunde", "herr", "frau", "mr", "mrs",
                              "ms", "dr", "dear", "hi", "hello", "the", "titular", "mme", "team", "meeting"})
