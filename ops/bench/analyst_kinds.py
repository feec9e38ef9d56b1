"""Does the general analyst tell what a record is? Kind and language on the demo corpus, per model.

    .venv/bin/python -m veil.ops.bench.analyst_kinds [--general qwen2.5-coder-0.5b] [--json out.json]

Runs the configured (or ``--general``) analyst over the demo corpus (``ops/resources/corpus``: the
valid documents and the first log lines) and compares the kind and language it reports with the
ones a reader gives them. Records whose kind a reader could argue either way (a team message that
is also a ticket, an HR form) are reported but not scored. Also reports seconds per record and the
spans the analyst added (values are the corpus's invented ones).
"""

from __future__ import annotations

import argparse
import time

import orjson

from veil.models import build
from veil.ops.bench import write_figures
from veil.ops.demo import corpus_dir
from veil.settings import Settings

#: id -> (kind, language) a reader gives the record; None: not scored
EXPECTED = {
    "ticket-1001": ("ticket", "en"), "ticket-1002": (None, "en"), "wiki-7": ("document", "en"), "chat-55": ("chat", "en"),
    "email-300": ("email", "en"), "config-12": ("config", None), "config-13": ("config", None),
    "incident-9": (None, "en"), "hr-4": (None, "en"), "notes-2": ("document", "en"), "keys-1": ("config", None),
    "support-77": ("ticket", "de"), "log-1": ("log", None), "log-2": ("log", None), "log-3": ("log", None),
}


def records() -> list[tuple[str, str]]:
    out = []
    for line in (corpus_dir() / "docs.jsonl").read_bytes().splitlines():
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("text"), str) and obj.get("id") in EXPECTED:
            out.append((obj["id"], obj["text"]))
    logs = (corpus_dir() / "logs.txt").read_text(encoding="utf-8").splitlines()[:3]
    return out + [(f"log-{i}", line) for i, line in enumerate(logs, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--general", help="analyst model (default: configured)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    base = Settings.load()
    settings = base.model_copy(update={"models": base.models.model_copy(update={"general": args.general})}) \
        if args.general else base
    analyst = build.analyst(settings)
    if analyst is None:
        raise SystemExit("the general analyst is disabled (models.general_enabled)")
    rows, kinds_right, kinds_scored, langs_right, langs_scored = [], 0, 0, 0, 0
    started = time.perf_counter()
    for rid, text in records():
        result = analyst.analyze(text)
        kind, lang = EXPECTED[rid]
        got = result.analysis
        if kind is not None:
            kinds_scored += 1
            kinds_right += got.text_kind == kind
        if lang is not None:
            langs_scored += 1
            langs_right += got.language == lang
        rows.append({"id": rid, "kind": got.text_kind, "expected_kind": kind, "language": got.language,
                     "expected_language": lang, "error": got.error,
                     "spans": [(text[f.start:f.end], f.entity) for f in result.findings]})
        print(f"{rid:12} kind {got.text_kind:9} ({kind or '-'})  language {got.language:7} ({lang or '-'})  "
              f"spans {rows[-1]['spans']}")
    seconds = (time.perf_counter() - started) / len(rows)
    figures = {"model": settings.models.general, "records": len(rows), "kinds_right": kinds_right,
               "kinds_scored": kinds_scored, "languages_right": langs_right, "languages_scored": langs_scored,
               "seconds_per_record": round(seconds, 2), "rows": rows}
    print(f"{settings.models.general}: kind right {kinds_right}/{kinds_scored}, language right "
          f"{langs_right}/{langs_scored}, {seconds:.2f} s per record")
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
