"""The configuration-file corpus of ``ops.bench.secrets_corpus``: spans point at the secrets."""

from veil.ops.bench.secrets_corpus import _score, corpus


def test_every_file_kind_is_written_with_its_secrets_marked_and_the_markers_removed():
    files = corpus(copies=2, seed=3)
    kinds = {kind for kind, _, _ in files}
    assert len(kinds) >= 20 and len(files) == 2 * len(kinds)
    for kind, text, spans in files:
        assert "[[" not in text and "]]" not in text, kind
        assert spans and all(0 <= a < b <= len(text) and text[a:b].strip() == text[a:b] for a, b in spans), kind
    assert corpus(copies=1, seed=3) == files[: len(kinds)]  # seeded: the same files again


def test_scoring_counts_covered_secrets_and_findings_outside_them():
    files = [("ini", "password = hunter22x and more", [(11, 20)])]
    figures = _score(files, [[(11, 20), (25, 29)]])
    assert figures["ini"]["recall"] == 1.0 and figures["ini"]["precision"] == 0.5
    assert _score(files, [[]])["all"]["recall"] == 0.0
