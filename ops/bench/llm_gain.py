"""What the two LLM roles add over the detectors alone, on Veil's labelled evaluation set.

    .venv/bin/python -m veil.ops.bench.llm_gain [--limit 60] [--general smollm2-135m] [--security qwen2.5-coder-0.5b] [--json out.json]

Runs the same records twice through the batch engine (what `veil redact` does): detectors only,
where every uncertain candidate fails closed (redacted), and detectors plus the general analyst and
the security judge. Reports the labelled values each run catches, the ones only the LLM run
catches (found by the analyst) or loses (kept by the judge), and the false positives each adds or
removes. ``--limit`` takes an evenly spaced sample (CPU inference is slow: a few seconds per call).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from veil.batch import BatchEngine, BatchResult
from veil.composition import build_redactor
from veil.evaluation import dataset
from veil.evaluation.dataset import LabeledRecord
from veil.models import build
from veil.ops.bench import write_figures
from veil.settings import Settings


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def caught_labels(rec: LabeledRecord, result: BatchResult) -> set[int]:
    """Indices of labels whose characters the redacted spans cover by at least 80%."""
    spans = [(f.start, f.end) for f in result.findings if f.action == "redact"]
    out = set()
    for i, label in enumerate(rec.spans):
        covered = sum(max(0, min(label.end, e) - max(label.start, s)) for s, e in spans)
        if covered >= 0.8 * (label.end - label.start):
            out.add(i)
    return out


def false_positives(rec: LabeledRecord, result: BatchResult) -> list[tuple[int, int, str, str]]:
    """Redacted spans that overlap no labelled value: (start, end, entity, detector)."""
    labels = [(s.start, s.end) for s in rec.spans]
    return [(f.start, f.end, f.entity, f.detector) for f in result.findings
            if f.action == "redact" and not any(_overlaps((f.start, f.end), lab) for lab in labels)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="evenly spaced sample of this many records (0: all)")
    parser.add_argument("--general", help="general analyst model (default: configured)")
    parser.add_argument("--security", help="security judge model (default: configured)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    base = Settings.load()
    models = base.models.model_copy(update={k: v for k, v in (("general", args.general), ("security", args.security)) if v})
    settings = base.model_copy(update={"models": models})
    records = dataset.build()
    if args.limit and args.limit < len(records):
        step = len(records) / args.limit
        records = [records[int(i * step)] for i in range(args.limit)]

    redactor = build_redactor(settings)
    detectors_only = BatchEngine(redactor)
    manager = build.manager(models)
    with_llm = BatchEngine(redactor, analyst=build.analyst(settings, manager), judge=build.judge(models, manager))

    started = time.perf_counter()
    base_results = [detectors_only.run(r.id, r.text) for r in records]
    base_s = time.perf_counter() - started
    started = time.perf_counter()
    llm_results = [with_llm.run(r.id, r.text) for r in records]
    llm_s = time.perf_counter() - started

    labels = sum(len(r.spans) for r in records)
    gained, lost = 0, 0
    by_type_gained: Counter[str] = Counter()
    by_type_lost: Counter[str] = Counter()
    base_caught = llm_caught = 0
    base_fp: Counter[str] = Counter()
    llm_fp: Counter[str] = Counter()
    for rec, b, llm in zip(records, base_results, llm_results):
        cb, cl = caught_labels(rec, b), caught_labels(rec, llm)
        base_caught, llm_caught = base_caught + len(cb), llm_caught + len(cl)
        for i in cl - cb:
            gained += 1
            by_type_gained[rec.spans[i].type] += 1
        for i in cb - cl:
            lost += 1
            by_type_lost[rec.spans[i].type] += 1
        base_fp.update(f"{e} ({d})" for *_, e, d in false_positives(rec, b))
        llm_fp.update(f"{e} ({'llm' if d.startswith('llm:') else d})" for *_, e, d in false_positives(rec, llm))
    llm_added_fp = sum(n for k, n in llm_fp.items() if k.endswith("(llm)"))
    d = {"caught": base_caught, "recall": base_caught / labels, "false_positives": sum(base_fp.values()),
         "seconds": round(base_s, 2)}
    w = {"caught": llm_caught, "recall": llm_caught / labels, "false_positives": sum(llm_fp.values()),
         "seconds": round(llm_s, 2)}
    figures = {
        "records": len(records), "labels": labels, "models": {"general": models.general, "security": models.security},
        "detectors_only": d,
        "with_llm": w,
        "llm_gained": gained, "llm_gained_by_type": dict(by_type_gained),
        "judge_lost": lost, "judge_lost_by_type": dict(by_type_lost),
        "fp_added_by_analyst": llm_added_fp,
        "fp_removed_by_judge": sum(base_fp.values()) - (sum(llm_fp.values()) - llm_added_fp),
        "fp_detectors_only": dict(base_fp), "fp_with_llm": dict(llm_fp),
    }
    print(f"{len(records)} records, {labels} labelled values; general={models.general} security={models.security}")
    print(f"detectors only : caught {d['caught']} (recall {d['recall']:.3f}), false positives {d['false_positives']}, {d['seconds']}s")
    print(f"with both LLMs : caught {w['caught']} (recall {w['recall']:.3f}), false positives {w['false_positives']}, {w['seconds']}s")
    print(f"LLMs found {gained} more {dict(by_type_gained)}; the judge let {lost} through {dict(by_type_lost)}")
    print(f"false positives: +{llm_added_fp} from the analyst, -{figures['fp_removed_by_judge']} kept by the judge")
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
