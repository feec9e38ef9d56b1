"""Throughput of ``veil redact --no-llm`` on documents of 200-2,000 characters, end to end, on one core.

    .venv/bin/python -m veil.ops.bench.docs_throughput [--docs 3000] [--runs 3] [--labels FILE] [--json out.json]

The documents: by default built from the built-in evaluation set's documents and benign texts,
joined in a seeded order until each reaches a length drawn between 200 and 2,000 characters (the
record sizes the speed target names). ``--labels FILE`` takes the texts of any labelled JSONL set
instead (for example ``../shared/datasets/docs.dev.jsonl``), those of 200-2,000 characters, cycled
to ``--docs``. Every record is a document: NER reads it whole, the name cues and the address
patterns run. The real command is timed, pinned to one core with ``taskset`` where it exists, the
same way as ``ops.bench.redact_throughput``: process start-up and model load included, wall clock
and CPU time, best and median of ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from veil.evaluation import dataset
from veil.ops.bench import write_figures
from veil.ops.bench.redact_throughput import _children_cpu

SHORTEST, LONGEST = 200, 2000


def built_in_documents(n: int, seed: int = 11) -> list[str]:
    """``n`` documents of 200-2,000 characters joined from the built-in set's documents and benign texts."""
    parts = [r.text for r in dataset.build() if r.group in ("document", "benign", "hard")]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        target, pieces, size = rng.randint(SHORTEST, LONGEST), [], 0
        while size < target:
            piece = rng.choice(parts)
            pieces.append(piece)
            size += len(piece) + 1
        out.append("\n".join(pieces)[:LONGEST])
    return out


def labelled_documents(path: Path, n: int) -> list[str]:
    texts = [r.text for r in dataset.iter_jsonl(path) if SHORTEST <= len(r.text) <= LONGEST]
    if not texts:
        raise SystemExit(f"no text of {SHORTEST}-{LONGEST} characters in {path}")
    return [texts[i % len(texts)] for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--labels", type=Path, help="take the texts of this labelled JSONL set instead")
    parser.add_argument("--profile", choices=("pii", "anonymize"), help="the policy profile (default: the policy's)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    texts = labelled_documents(args.labels, args.docs) if args.labels else built_in_documents(args.docs)
    chars = sum(len(t) for t in texts)
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    profile = ["--profile", args.profile] if args.profile else []
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as tmp:
        src, out = Path(tmp) / "docs.jsonl", Path(tmp) / "out.jsonl"
        src.write_bytes(b"".join(orjson.dumps({"id": str(i), "text": t}) + b"\n" for i, t in enumerate(texts)))
        seconds, cpu_seconds = [], []
        for _ in range(args.runs):
            before, started = _children_cpu(), time.perf_counter()
            subprocess.run([*pin, sys.executable, "-m", "veil.ops.cli", "redact", "--no-llm", *profile, str(src),
                            "-o", str(out)], env=dict(os.environ), check=True, capture_output=True)
            seconds.append(time.perf_counter() - started)
            cpu_seconds.append(_children_cpu() - before)
        written = sum(1 for _ in out.open("rb"))
    if written != len(texts):
        raise SystemExit(f"expected {len(texts)} output records, got {written}")
    figures = {
        "docs": len(texts), "source": str(args.labels) if args.labels else "built-in", "mean_chars": chars / len(texts),
        "one_core": bool(pin), "profile": args.profile or "policy", "seconds": seconds, "cpu_seconds": cpu_seconds,
        "best_docs_per_s": len(texts) / min(seconds), "median_docs_per_s": len(texts) / statistics.median(seconds),
        "best_docs_per_cpu_s": len(texts) / min(cpu_seconds),
        "median_docs_per_cpu_s": len(texts) / statistics.median(cpu_seconds),
        "median_chars_per_s": chars / statistics.median(seconds),
    }
    print(f"{len(texts)} documents ({figures['source']}), mean {figures['mean_chars']:.0f} characters, "
          f"one core: {bool(pin)}")
    print(f"best {figures['best_docs_per_s']:,.0f} docs/s, median {figures['median_docs_per_s']:,.0f} docs/s "
          f"(runs: {', '.join(f'{s:.2f}s' for s in seconds)})")
    print(f"CPU time: best {figures['best_docs_per_cpu_s']:,.0f} docs/s, median {figures['median_docs_per_cpu_s']:,.0f} "
          f"docs/s (runs: {', '.join(f'{s:.2f}s' for s in cpu_seconds)})")
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
