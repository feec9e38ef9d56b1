"""The spaCy NER detector on the real registry model, and the redaction of names end to end."""

import itertools

import pytest

from veil import Policy, Redactor
from veil.batch import BatchEngine
from veil.detectors import default_detectors

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def ner(ner_model):
    from veil.detectors.ner import NerDetector

    return NerDetector(ner_model)


def test_when_fetched_then_folder_is_verified_and_reused(ner_model, model_cache):
    from veil.models import registry

    assert registry.is_fetched("en-core-web-sm", model_cache)
    assert (ner_model / "meta.json").is_file() and (ner_model / "ner").is_dir()
    assert registry.fetch("en-core-web-sm", model_cache) == ner_model  # idempotent, no re-download


def test_when_full_name_in_text_then_person_found_with_strong_score(ner):
    text = "New hire paperwork for Priya Tanaka: start date Monday."
    [f] = [f for f in ner.detect(text) if f.entity == "PERSON"]
    assert text[f.start:f.end] == "Priya Tanaka" and f.score >= Policy().auto_redact_score


def test_when_no_name_shape_then_model_is_not_run(ner, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("NER ran on a line without a name-shaped token")

    monkeypatch.setattr(ner, "_nlp", type("X", (), {"pipe": boom, "__call__": boom})())
    assert ner.detect("2026-11-20T10:01:25Z INFO api-gw GET /healthz 200 2ms") == []


def test_when_street_and_number_then_not_a_person(ner):
    text = "Bitte senden an Gartenstraße 54, 10115 Berlin."
    assert not [f for f in ner.detect(text) if f.entity == "PERSON" and "54" in text[f.start:f.end]]


def test_when_name_repeats_then_every_occurrence_is_redacted(ner):
    r = Redactor(policy=Policy(), hmac_key=b"k", detectors=[*default_detectors(), ner])
    text = "Customer Laura Jensen called. Laura Jensen wants a refund; ask Laura Jensen for the receipt."
    out = BatchEngine(r).run("1", text)
    assert "Laura Jensen" not in out.redacted_text
    assert out.redacted_text.count("<PERSON_1>") == 3


def test_batched_and_single_detection_agree(ner):
    texts = ["Hi Peter, the contract with Globex Corporation is attached.", "GET /healthz 200",
             "Patient Ana Souza was referred by Dr Omar Haddad."]
    single = [[(f.start, f.end, f.entity) for f in ner.detect(t)] for t in texts]
    batched = [[(f.start, f.end, f.entity) for f in fs] for fs in ner.detect_many(texts)]
    assert single == batched and single[1] == [] and single[2]


def test_inference_ops_give_the_same_entities_as_spacy_defaults(ner_model):
    """The tuned ops only change how matrices are multiplied: on every NER window of the evaluation
    set they find the same entities, and they really serve the frozen weights from their cache."""
    import spacy

    from veil.detectors.ner import windows
    from veil.detectors.spacy_runtime import load_for_inference
    from veil.evaluation import dataset

    default = spacy.load(ner_model, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"])
    tuned = load_for_inference(ner_model)
    texts = [r.text[s:e] for r in dataset.build() for s, e in windows(r.text, 32)]
    ents = lambda nlp: [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]  # noqa: E731
    expected = ents(default)
    assert sum(map(len, expected)) >= len(texts)  # the windows do carry entities
    assert ents(tuned) == expected
    assert tuned.pipe_names == ["ner"]  # the NER has its own embeddings: the shared tok2vec is dropped
    assert tuned.get_pipe("ner").model.ops._transposed  # the fast path was taken


def test_numpy_decoder_finds_what_spacy_finds(ner_model, ner):
    """The vectorised decoder and spaCy's own greedy parser give the same entities, token for
    token, on whole documents of many lengths and on log windows, batched by length."""
    import spacy

    from veil.detectors.ner import windows
    from veil.evaluation import dataset

    assert ner._decoder is not None
    default = spacy.load(ner_model, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"])
    records = dataset.build()
    texts = [r.text for r in records] + [r.text[s:e] for r in records for s, e in windows(r.text, 32)]
    texts += ["\n\n", " ", "Ana", "Contact Maria Lopez or John Smith at Acme Corp in Berlin on Monday.  \n"]
    expected = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in default.pipe(texts)]
    found = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in ner._read(texts)]
    assert sum(map(len, expected)) > len(records)
    assert found == expected


def test_numpy_decoder_declines_what_it_does_not_reproduce():
    import spacy

    from veil.detectors.biluo import decoder_for

    nlp = spacy.blank("en")
    beam = nlp.add_pipe("beam_ner")
    tagger = nlp.add_pipe("tagger")
    assert decoder_for(beam) is None and decoder_for(tagger) is None


def test_windows_in_a_templates_constant_parts_are_computed_once(ner):
    from veil.templates import TemplateMiner

    miner = TemplateMiner()
    lines = [f"[{n}.5s][info][gc] GC({n}) Pause Young (Normal) (G1 Evacuation Pause) {n}M->1M(9M) 1.{n}ms"
             for n in (101, 202, 303, 404)]
    mined = [miner.mine(line) for line in lines]
    first = ner.detect_many(lines[2:], [m.constant_parts for m in mined[2:]])
    hits = ner._known.stats["hits"]
    again = ner.detect_many(lines[2:], [m.constant_parts for m in mined[2:]])
    assert ner._known.stats["hits"] > hits  # the constant window was not run again
    assert again == first
    # The cut window lies inside one constant part, so findings there are the same on every line.
    for line, found in zip(lines[2:], first):
        assert all(line[f.start:f.end] in lines[0] for f in found)


def test_a_log_line_served_wholly_from_the_template_cache_is_still_filtered_as_a_log_line(ner):
    """When every window of a batch comes from the cache of a template's constant parts, the
    findings still go through the log-line rule (people with a listed name only). They once did
    not: "Clock Mode" came out as a person on the second batch of a stream."""
    from veil.templates import TemplateMiner

    miner = TemplateMiner()
    lines = [f"- 11230306{n} R0{n}-M0-N2 RAS Node card status: ALERT {n} is active. Clock Mode is Low. "
             f"Clock Select is Midplane. Phy JTAG Reset is asserted." for n in range(10, 16)]
    mined = [miner.mine(line) for line in lines]
    hits = ner._known.stats["hits"]
    for at in (2, 4):  # the second batch is served from the cache
        found = ner.detect_many(lines[at:at + 2], [m.constant_parts for m in mined[at:at + 2]], documents=[False] * 2)
        assert found == [[], []]
    assert ner._known.stats["hits"] > hits


def test_a_detectors_only_batch_mines_only_the_lines_ner_reads_and_finds_the_same(ner_model):
    """Without models, a log line is mined only when NER has a window in it. The findings are
    those of mining every line first, as a batch with models does."""
    from veil.cache import Caching
    from veil.detectors.ner import NerDetector
    from veil.evaluation.logs import typical_lines
    from veil.settings import CacheSettings

    lines = typical_lines(1500, seed=21)
    caching = Caching.build(CacheSettings(), b"k")
    mined = []
    mine = caching.mine
    caching.mine = lambda text: mined.append(text) or mine(text)  # type: ignore[method-assign]
    redactor = Redactor(policy=Policy(), hmac_key=b"k", detectors=[*default_detectors(), NerDetector(ner_model)])
    lazy = BatchEngine(redactor, caching=caching).run_many([(str(i), t) for i, t in enumerate(lines)],
                                                           logs=[True] * len(lines))
    assert 0 < len(mined) < len(lines) // 2

    miner = Caching.build(CacheSettings(), b"k").miner
    eager_redactor = Redactor(policy=Policy(), hmac_key=b"k", detectors=[*default_detectors(), NerDetector(ner_model)])
    eager = eager_redactor.scan_many(lines, [miner.mine(t).constant_parts for t in lines], documents=[False] * len(lines))
    assert any(f.detector == "ner" for fs in eager for f in fs)
    kept = eager_redactor.policy.min_candidate_score
    assert [[(f.start, f.end, f.entity) for f in r.findings] for r in lazy] == \
           [[(f.start, f.end, f.entity) for f in fs if f.score >= kept] for fs in eager]


def test_loading_the_model_imports_no_other_spacy_plugin(ner_model, tmp_path, monkeypatch):
    """spaCy imports every installed ``spacy_factories`` plugin when it builds a pipeline; Veil's
    pipeline needs none, so none is imported (one such plugin cost 3.5 s of start-up)."""
    import sys

    from veil.detectors.spacy_runtime import load_for_inference

    (tmp_path / "veil_probe_plugin.py").write_text("raise RuntimeError('a spaCy plugin was imported')\n")
    info = tmp_path / "veil_probe_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: veil-probe-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[spacy_factories]\nveil_probe = veil_probe_plugin:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib.metadata

    import catalogue
    import spacy

    # As if installed before start-up (catalogue reads the entry points once, when imported).
    monkeypatch.setattr(catalogue, "AVAILABLE_ENTRY_POINTS", importlib.metadata.entry_points())

    with pytest.raises(RuntimeError, match="plugin was imported"):  # the probe works: spaCy's own load imports it
        spacy.load(ner_model, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"])
    nlp = load_for_inference(ner_model)
    assert [e.label_ for e in nlp("Priya Tanaka joined Globex Corporation in Berlin.").ents]
    assert "veil_probe_plugin" not in sys.modules
    assert spacy.util.registry._entry_point_factories.entry_points  # restored for everyone else


def test_spacy_is_imported_without_its_command_line_package_which_still_loads_later(ner_model):
    """A fresh process that loads the NER model has not imported spacy.cli (jinja2, requests,
    weasel: a quarter second of start-up), and can still import it afterwards."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from veil.detectors.ner import NerDetector\n"
        f"ner = NerDetector(__import__('pathlib').Path({str(ner_model)!r}))\n"
        "assert ner.detect('Priya Tanaka joined Globex Corporation.'), 'no entity'\n"
        "assert 'spacy.cli' not in sys.modules and 'jinja2' not in sys.modules, 'spacy.cli was imported'\n"
        "import spacy, spacy.cli\n"
        "assert callable(spacy.cli.download) and callable(spacy.info)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_saved_tokenizer_is_loaded_once_and_equals_spacys_own_load(ner_model):
    """The pipeline's tokenizer is built empty and filled from its saved state (not built from the
    language defaults first): its state is byte for byte the one ``spacy.load`` gives, and it
    splits text the same way."""
    import spacy

    from veil.detectors.spacy_runtime import _saved_tokenizer_config, load_for_inference

    assert _saved_tokenizer_config(spacy, ner_model)  # the shortcut applies to this model
    ours = load_for_inference(ner_model).tokenizer
    theirs = spacy.load(ner_model, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]).tokenizer
    assert ours.to_bytes(exclude=["vocab"]) == theirs.to_bytes(exclude=["vocab"])
    text = "Dr. O'Neil can't reach api-gw.corp:8443 at 3:30 p.m., e.g. via https://x.example/a?b=c :) #ops"
    assert [t.text for t in ours(text)] == [t.text for t in theirs(text)]


def test_a_model_without_spacys_own_saved_tokenizer_is_loaded_unchanged(tmp_path):
    import spacy

    from veil.detectors.spacy_runtime import _saved_tokenizer_config

    assert _saved_tokenizer_config(spacy, tmp_path) == {}  # no config at all
    spacy.blank("en").to_disk(tmp_path / "blank")
    (tmp_path / "blank" / "config.cfg").write_text(
        (tmp_path / "blank" / "config.cfg").read_text().replace("spacy.Tokenizer.v1", "custom.Tokenizer.v1"))
    assert _saved_tokenizer_config(spacy, tmp_path / "blank") == {}  # another tokenizer


@pytest.mark.parametrize("text, name", [
    ("Thanks for calling support. My name is Dragana and I will help you with the order today.", "Dragana"),
    ("Paula said: do you remember Tomás from the old office?", "Tomás"),
    ("And your surname? Lindqvist, with a q.", "Lindqvist"),
    ("I spoke to Gergő yesterday about the invoice and he agreed.", "Gergő"),
    ("We read the Halvorsen report before the meeting and then went home.", "Halvorsen"),
])
def test_when_a_document_names_someone_without_a_name_shape_then_reading_it_whole_finds_them(ner, text, name):
    [windowed] = ner.detect_many([text])
    [whole] = ner.detect_many([text], documents=[True])
    start = text.index(name)
    assert not any(f.start <= start < f.end and f.entity == "PERSON" for f in windowed)  # no window opened there
    assert any(f.start <= start < f.end for f in whole), whole


def test_when_a_document_is_in_another_language_then_it_is_read_in_windows_only(ner):
    spanish = ("Paciente de 45 años que acude a Urgencias por dolor abdominal. Se realiza Ecografía y "
               "Analítica con Hemograma normal. Fue valorado por Cirugía General y se decide el ingreso.")
    assert ner.detect_many([spanish], documents=[True]) == ner.detect_many([spanish])


def test_when_a_document_is_longer_than_a_piece_then_every_piece_is_read(ner):
    from veil.detectors.ner import chunks

    filler = "The committee met again and discussed the budget for the next year in some detail. " * 80
    text = filler + "The report was written by Margaret Okonkwo after the meeting. " + filler
    assert len(text) > 2 * ner.max_chars
    pieces = chunks(text, ner.max_chars)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))  # contiguous, nothing skipped
    assert all(text[end - 1].isspace() for _, end in pieces[:-1])  # cut between words
    [found] = ner.detect_many([text], documents=[True])
    start = text.index("Margaret")
    assert any(f.entity == "PERSON" and f.start <= start < f.end for f in found)


def test_documents_are_read_around_capitalised_words_and_listed_names(ner):
    prose = "the weather was dull and nothing at all happened during the whole of the slow afternoon"
    text = f"{prose}. Then Ingrid Bergqvist called from Oslo. {prose}; {prose}, and sam's coming."
    parts = [text[a:b] for a, b in ner._capitalised_windows(text)]
    assert len(parts) == 2
    assert "Ingrid Bergqvist called from Oslo" in parts[0] and "whole of the slow afternoon" in parts[0]
    assert parts[1].endswith("sam's coming.")
    assert not ner._capitalised_windows(f"The end. {prose}. We left.")  # function words open nothing
    found = ner.detect_many([text], documents=[True])[0]
    assert {text[f.start:f.end] for f in found if f.entity == "PERSON"} >= {"Ingrid Bergqvist"}


def test_a_finding_in_a_documents_part_needs_a_word_that_opened_the_part(ner):
    """Near a part's edge the model sees a cut context; what it tags there without a capitalised
    word or a listed name (code's "str" as an organisation) is dropped."""
    code = "Usage:\n\ndef connect(host: str, port: int = 5432, password: str | None = None) -> Connection: ...\n"
    found = ner.detect_many([code * 3], documents=[True])[0]
    assert not [f for f in found if (code * 3)[f.start:f.end] == "str"]


def test_words_of_the_texts_read_are_forgotten_so_a_stream_does_not_grow_the_process(ner):
    strings = len(ner._nlp.vocab.strings)
    for n in range(3):
        lines = [f"Anna Berg logged in from host-{n}{k:07d} with token zq{k * 7919 + n:x}q" for k in range(100)]
        found = ner.detect_many(lines, documents=[True] * len(lines))
        assert all(any(line[f.start:f.end] == "Anna Berg" for f in fs) for line, fs in zip(lines, found))
    assert len(ner._nlp.vocab.strings) == strings


def test_on_a_log_line_only_people_with_a_listed_name_are_kept(ner):
    lines = ["Jul  4 23:22:09 host-b Microsoft Word[14463]: Cocoa scripting error for 0x0012",
             "IOPMPowerSource Information: onSleep,  SleepType: Normal Sleep,  'ExternalConnected': No",
             "Node card status: no ALERTs are active. Clock Mode is Low. Clock Select is Midplane.",
             "sshd[4411]: session opened for Ingrid Halvorsen from 10.0.0.7 by admin"]
    found = ner.detect_many(lines, documents=[False] * len(lines))
    assert [[(f.entity, line[f.start:f.end]) for f in fs] for line, fs in zip(lines, found)] == \
        [[], [], [], [("PERSON", "Ingrid Halvorsen")]]


def test_a_log_lines_windows_without_a_listed_name_or_title_are_not_read_and_nothing_is_lost(ner, monkeypatch):
    """Windows that could yield nothing on a log line (no listed name, no title) are skipped: the
    findings are the same as reading every window, and the model reads fewer pieces."""
    import veil.detectors.ner as ner_module
    from veil.evaluation import dataset
    from veil.evaluation.logs import typical_lines

    lines = typical_lines(3000, seed=21) + [r.text for r in dataset.build()] + [
        "Component State Change: Component SCSI-WWID is in the unavailable state (HWID=1234)",
        "sshd[4411]: session opened for Ingrid Halvorsen from 10.0.0.7 by admin",
        "ticket 4411 reassigned to O'Brien-Smith Logistics Desk by Mr Tanaka",
        "Fan Speeds ( 3552 3534 ) Node Card Status Warning, escalated by Dr. Vasquez Ortega"]
    read: list[int] = []
    original = ner._read
    monkeypatch.setattr(ner, "_read", lambda pieces, **k: read.append(len(pieces)) or original(pieces, **k))
    key = lambda fs: [(f.start, f.end, f.entity) for f in fs]  # noqa: E731
    skipped = [key(fs) for fs in ner.detect_many(lines, documents=[False] * len(lines))]
    monkeypatch.setattr(ner_module, "may_name", lambda *a: True)
    every = [key(fs) for fs in ner.detect_many(lines, documents=[False] * len(lines))]
    assert skipped == every
    assert ("PERSON" in {e for fs in skipped for *_, e in fs})  # the lines do hold people
    assert read[0] < read[1]  # windows that name no one were skipped
