"""Throughput of ``veil redact --no-llm`` on typical log lines, end to end, on one core.

    .venv/bin/python -m veil.ops.bench.redact_throughput [--lines 300000] [--runs 3] [--no-ner] [--json out.json]
    .venv/bin/python -m veil.ops.bench.redact_throughput --labels ../shared/datasets/logs.dev.jsonl --lines 160000 --runs 5

Generates the lines with ``veil.evaluation.logs.typical_lines`` (10% carry sensitive values), or
takes the texts of a labelled JSONL set (``--labels``: real service logs), repeated in order to
``--lines`` (a text of several lines is written as its lines), then
times the real command (process start-up and model load included) pinned to one core with
``taskset`` where it exists, after compiling the project's bytecode as a wheel install does.
Reports the best and median run by wall-clock time, and the same by
CPU time (user + system of the command): on a shared VM the wall clock also counts time the
hypervisor gave to other guests, which is what makes this machine's timings vary by 10-15%.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from veil.evaluation import dataset
from veil.evaluation.logs import typical_lines
from veil.ops.bench import write_figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-ner", action="store_true", help="disable the NER detector (VEIL_MODELS__NER=)")
    parser.add_argument("--labels", type=Path, help="take the lines of this labelled JSONL set instead, repeated")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    env = dict(os.environ, **({"VEIL_MODELS__NER": ""} if args.no_ner else {}))
    _compile_bytecode()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as tmp:
        src, out = Path(tmp) / "lines.txt", Path(tmp) / "out.jsonl"
        lines = labelled_lines(args.labels, args.lines) if args.labels else typical_lines(args.lines)
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        seconds, cpu_seconds = [], []
        for _ in range(args.runs):
            before, started = _children_cpu(), time.perf_counter()
            subprocess.run([*pin, sys.executable, "-m", "veil.ops.cli", "redact", "--no-llm", "--format", "text",
                            str(src), "-o", str(out)], env=env, check=True, capture_output=True)
            seconds.append(time.perf_counter() - started)
            cpu_seconds.append(_children_cpu() - before)
        written = sum(1 for _ in out.open("rb"))
    if written != args.lines:
        raise SystemExit(f"expected {args.lines} output lines, got {written}")
    figures = {
        "lines": args.lines, "source": str(args.labels or "typical_lines"), "ner": not args.no_ner, "one_core": bool(pin), "seconds": seconds,
        "best_lines_per_s": args.lines / min(seconds), "median_lines_per_s": args.lines / statistics.median(seconds),
        "cpu_seconds": cpu_seconds, "best_lines_per_cpu_s": args.lines / min(cpu_seconds),
        "median_lines_per_cpu_s": args.lines / statistics.median(cpu_seconds),
    }
    print(f"{args.lines} lines ({args.labels or 'typical_lines'}), NER {'off' if args.no_ner else 'on'}, one core: {bool(pin)}")
    print(f"best {figures['best_lines_per_s']:,.0f} lines/s, median {figures['median_lines_per_s']:,.0f} lines/s "
          f"(runs: {', '.join(f'{s:.2f}s' for s in seconds)})")
    print(f"CPU time: best {figures['best_lines_per_cpu_s']:,.0f} lines/s, median {figures['median_lines_per_cpu_s']:,.0f} "
          f"lines/s (runs: {', '.join(f'{s:.2f}s' for s in cpu_seconds)})")
    write_figures(args.json, figures)


def labelled_lines(path: Path, n: int) -> list[str]:
    """The lines of a labelled set's texts, in order, repeated to ``n``."""
    base = [line for r in dataset.iter_jsonl(path) for line in r.text.splitlines() if line.strip()]
    if not base:
        raise SystemExit(f"no lines in {path}")
    return [base[i % len(base)] for i in range(n)]


def _compile_bytecode() -> None:
    """Compile the project's modules as installing a wheel does: an editable install (or a
    checkout) run with PYTHONDONTWRITEBYTECODE set compiles them again at every start."""
    root = Path(__file__).resolve().parents[2]
    for package in ("veil", "models", "schemas", "streams", "training", "ops"):
        if (root / package).is_dir():
            compileall.compile_dir(root / package, quiet=1)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
