"""Does fine-tuning help? One training run on the bootstrap corpus (plus any replayed topics given
as JSONL corpora), the served base model against the tuned candidate on the held-out split and on
the project's evaluation set. Not a test: minutes on a CPU.

    python -m veil.ops.bench.train_gain --steps 150 --eval-limit 120 --out train_gain.json
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from veil.settings import Settings
from veil.training import pipeline
from veil.training.dataset import Sources, from_corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--learning-rate", type=float, default=3e-4)
    ap.add_argument("--eval-limit", type=int, default=None, help="Examples/records per evaluation, at most.")
    ap.add_argument("--no-eval-set", action="store_true")
    ap.add_argument("--corpus", type=Path, nargs="*", default=[], help="veil replay -o files: inputs, audit, feedback.")
    ap.add_argument("--num-cpus", type=float, default=2.0)
    ap.add_argument("--num-gpus", type=float, default=0.0)
    ap.add_argument("--out", type=Path, default=Path("train_gain.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    store = Path(tempfile.mkdtemp(prefix="veil-train-bench-"))
    settings = Settings(models={"security": args.base, "catalog_file": store / "catalog.yaml", "general_enabled": False},
                        training={"store_dir": store, "steps": args.steps, "batch_size": args.batch_size,
                                  "learning_rate": args.learning_rate, "eval_limit": args.eval_limit,
                                  "promote": False, "num_cpus": args.num_cpus, "num_gpus": args.num_gpus, "checkpoint_every": 50})
    messages = [m for path in args.corpus for m in from_corpus(path)]
    sources = Sources(inputs=[m for m in messages if m.topic.endswith(".in")],
                      audit=[m for m in messages if m.topic.endswith("audit")],
                      feedback=[m for m in messages if m.topic.endswith("feedback")])
    started = time.monotonic()
    run = pipeline.run_once(settings, sources, eval_set=not args.no_eval_set)
    parts = run.model_dump(mode="json", include={"dataset", "train", "served", "candidate", "verdict"})
    out = {"run": run.id, "status": run.status, "base": args.base, **parts, "total_seconds": round(time.monotonic() - started, 1),
           "run_dir": str(store / "runs" / run.id)}
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("status", "served", "candidate", "verdict", "total_seconds")}, indent=2))


if __name__ == "__main__":
    main()
