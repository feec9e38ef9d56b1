"""Quality on the built-in set and on public labelled data, Veil beside Presidio, in one table.

    .venv/bin/pip install presidio-analyzer        # the comparison only; not a Veil dependency
    .venv/bin/python -m veil.ops.bench.quality [--datasets ../shared/datasets] [--out quality] [--llm-sample 30] [--profile anonymize]

Sets: the built-in evaluation set (written next to the detectors: a regression suite, not
evidence) and every ``*.dev.jsonl`` in ``--datasets`` (public, human-labelled text nobody on the
team wrote; see that folder's README for sources and licences). Modes:

- ``veil``: detectors (NER included), every uncertain candidate redacted: what ``veil redact
  --no-llm`` does. On every record.
- ``veil+llm``: both LLM roles (the configured analyst and judge, llama.cpp on the CPU). CPU
  inference takes seconds per record, so on a fixed, seeded sample per set (``--llm-sample``
  records; ``--seed``), sized so this mode takes about 15 minutes on 2 cores (the whole run, with
  Presidio on every record, about 25). ``veil`` is scored on the same sample too
  (``veil@sample``), so the two compare like for like.
- ``presidio``: Presidio's default analyzer with the same spaCy model, everything it returns
  redacted. On every record (skipped when presidio-analyzer is not installed).

Figures per set and mode: recall and precision (direct identifiers, and all labels), the leak
rate, the share of characters marked and of those the share labelled, records/s (one process,
detection and redaction; models loaded beforehand). Per label type: support, recall, leaked, and
the precision of the redactions typed as that label. Scoring as ``veil eval`` does
(``veil.evaluation.scoring``). Writes ``quality.md`` and ``quality.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import orjson

from veil.composition import build_redactor
from veil.evaluation import dataset, scoring
from veil.evaluation.dataset import LabeledRecord
from veil.ops.cli_batch import predict
from veil.settings import Settings

#: predicted entity (Veil's or Presidio's) -> the label type its redactions claim
CLAIMS = {
    "POSTAL_ADDRESS": "ADDRESS", "UK_POSTCODE": "ADDRESS", "DATE_OF_BIRTH": "DATE", "DATE_TIME": "DATE",
    "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "NRP": "ORGANIZATION",
}
DEFAULT_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def load_sets(folder: Path | None) -> dict[str, list[LabeledRecord]]:
    sets = {"builtin": dataset.build()}
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.dev.jsonl")):
            sets[path.name.removesuffix(".dev.jsonl")] = list(dataset.iter_jsonl(path))
    return sets


def sample(records: list[LabeledRecord], n: int, seed: int) -> list[LabeledRecord]:
    """A fixed random sample in file order (the same records for the same seed and set)."""
    if n >= len(records):
        return records
    keep = sorted(random.Random(f"{seed}:{len(records)}").sample(range(len(records)), n))
    return [records[i] for i in keep]


def run_veil(engine, records: list[LabeledRecord]) -> tuple[list[scoring.Prediction], float]:
    preds, failed, seconds = predict(engine, records)
    # cannot happen for text (verification always ends); a failed record counts as nothing redacted
    preds += [scoring.Prediction(id=r.id, redacted_text=r.text, findings=[]) for r in records if r.id in failed]
    return preds, seconds


def run_presidio(analyzer, records: list[LabeledRecord]) -> tuple[list[scoring.Prediction], float]:
    from veil.ops.bench.vs_presidio import presidio_predictions

    started = time.perf_counter()
    preds = presidio_predictions(analyzer, records)
    return preds, time.perf_counter() - started


def figures(records: list[LabeledRecord], preds: list[scoring.Prediction], seconds: float) -> dict:
    report = scoring.score(records, preds)
    claimed_tp: dict[str, int] = {}
    claimed_fp: dict[str, int] = {}
    for entity, n in report.tp_by_entity.items():
        claimed_tp[CLAIMS.get(entity, entity)] = claimed_tp.get(CLAIMS.get(entity, entity), 0) + n
    for entity, n in report.fp_by_entity.items():
        claimed_fp[CLAIMS.get(entity, entity)] = claimed_fp.get(CLAIMS.get(entity, entity), 0) + n
    by_type = {}
    for name in sorted(set(report.by_label) | set(claimed_tp) | set(claimed_fp)):
        s = report.by_label.get(name)
        tp, fp = claimed_tp.get(name, 0), claimed_fp.get(name, 0)
        by_type[name] = {"support": s.support if s else 0, "recall": round(s.recall, 4) if s else None,
                         "leaked": s.leaked if s else 0, "redactions": tp + fp,
                         "precision": round(tp / (tp + fp), 4) if tp + fp else None}
    g = report.groups
    return {
        "records": report.records, "labels": report.labels,
        "direct": {k: round(v, 4) for k, v in g["direct_identifiers"].items()},
        "all": {k: round(v, 4) for k, v in g["all"].items()},
        "leak_rate": round(report.leak_rate, 4), "marked_share": round(report.marked_share, 4),
        "marked_precision": round(report.marked_precision, 4),
        "seconds": round(seconds, 2), "records_per_s": round(len(records) / seconds, 1) if seconds else None,
        "by_type": by_type,
    }


def _f(v, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _rate(v: float | None) -> str:
    return "-" if v is None else format(v, ",.0f") if v >= 10 else format(v, ".2f")


def markdown(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"Measured {meta['date']} on {meta['machine']}; `python -m veil.ops.bench.quality --llm-sample "
        f"{meta['llm_sample']} --seed {meta['seed']} --profile {meta.get('profile', 'pii')}`. Models: NER {meta['ner']}; LLM roles "
        f"{meta['general']} (analyst) and {meta['security']} (judge). `builtin` is Veil's own set; the others "
        "are the shared public sets. `veil+llm` and `veil@sample` are scored on the same seeded sample.",
        "",
        "| set | mode | records | direct P | direct R | all P | all R | leak rate | marked | marked labelled | records/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, modes in results["sets"].items():
        for mode, m in modes.items():
            d, a = m["direct"], m["all"]
            direct_p = _f(d["precision"]) if d["support"] or d["precision"] < 1 else "-"
            direct_r = _f(d["recall"]) if d["support"] else "-"
            lines.append(f"| {name} | {mode} | {m['records']} | {direct_p} | {direct_r} | {_f(a['precision'])} | "
                         f"{_f(a['recall'])} | {_f(m['leak_rate'])} | {m['marked_share']:.1%} | "
                         f"{m['marked_precision']:.1%} | {_rate(m['records_per_s'])} |")
    lines += ["", "Per label type (recall / precision of the redactions typed so; support in brackets):", ""]
    for name, modes in results["sets"].items():
        names = list(modes)
        types = sorted({t for m in modes.values() for t, s in m["by_type"].items() if s["support"]})
        if not types:
            continue
        lines += [f"**{name}**", "", "| type | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for t in types:
            cells = []
            for mode in names:
                s = modes[mode]["by_type"].get(t)
                cells.append("-" if s is None else f"{_f(s['recall'])} / {_f(s['precision'])}")
            support = next(m["by_type"][t]["support"] for m in modes.values() if t in m["by_type"])
            lines.append(f"| {t} ({support}) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help="folder of *.dev.jsonl sets")
    parser.add_argument("--out", type=Path, default=Path("quality"), help="folder for quality.md and quality.json")
    parser.add_argument("--llm-sample", type=int, default=30, help="records per set for the LLM mode (0: skip it)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument("--sets", help="comma-separated subset of the set names")
    parser.add_argument("--profile", choices=("pii", "anonymize"), help="policy profile (default: the policy's)")
    args = parser.parse_args()

    import datetime
    import platform

    from veil.models import registry

    settings = Settings.load()
    sets = load_sets(args.datasets)
    if args.sets:
        sets = {k: v for k, v in sets.items() if k in args.sets.split(",")}
    if len(sets) == 1 and "builtin" in sets:
        print(f"no shared sets in {args.datasets}: the built-in set only")
    policy = settings.policy if args.profile is None else settings.policy.model_copy(update={"profile": args.profile})
    redactor = build_redactor(settings, policy)
    from veil.batch import BatchEngine
    from veil.cache import Caching

    secret = settings.hmac_key.get_secret_value().encode()
    analyzer = None
    if not args.no_presidio:
        try:
            from veil.ops.bench.vs_presidio import presidio_analyzer

            analyzer = presidio_analyzer(str(registry.fetch("en-core-web-sm", settings.models.cache_dir)))
        except ImportError:
            print("presidio-analyzer is not installed: no Presidio column (pip install presidio-analyzer)")
    llm_engine = None
    if args.llm_sample:
        from veil.ops.cli_batch import _engine

        llm_engine = _engine(settings, no_llm=False, policy_file=None, profile=args.profile)
    results: dict = {"meta": {
        "date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {_cores()} cores",
        "llm_sample": args.llm_sample, "seed": args.seed, "ner": settings.models.ner or "off", "profile": policy.profile,
        "general": settings.models.general if settings.models.general_enabled else "off",
        "security": settings.models.security if settings.models.security_enabled else "off"}, "sets": {}}
    for name, records in sets.items():
        modes = results["sets"][name] = {}
        engine = BatchEngine(redactor, caching=Caching.build(settings.cache, secret))
        preds, seconds = run_veil(engine, records)
        modes["veil"] = figures(records, preds, seconds)
        _say(name, "veil", modes["veil"])
        if analyzer is not None:
            preds, seconds = run_presidio(analyzer, records)
            modes["presidio"] = figures(records, preds, seconds)
            _say(name, "presidio", modes["presidio"])
        if llm_engine is not None:
            part = sample(records, args.llm_sample, args.seed)
            engine = BatchEngine(redactor, caching=Caching.build(settings.cache, secret))
            preds, seconds = run_veil(engine, part)
            modes["veil@sample"] = figures(part, preds, seconds)
            preds, seconds = run_veil(llm_engine, part)
            modes["veil+llm"] = figures(part, preds, seconds)
            _say(name, "veil@sample", modes["veil@sample"])
            _say(name, "veil+llm", modes["veil+llm"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    (args.out / "quality.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    print(f"wrote {args.out / 'quality.md'} and {args.out / 'quality.json'}")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _say(name: str, mode: str, m: dict) -> None:
    print(f"{name:8} {mode:12} records {m['records']:>6}  all P {m['all']['precision']:.3f} R {m['all']['recall']:.3f}"
          f"  direct P {m['direct']['precision']:.3f} R {m['direct']['recall']:.3f}  leak {m['leak_rate']:.3f}"
          f"  marked {m['marked_share']:.1%}  {m['records_per_s']} rec/s", flush=True)


if __name__ == "__main__":
    main()
