"""Load time, prompt and generation speed, and memory of one model on this machine.

``veil models bench`` runs this once per model in a fresh process (``python -m veil.models.bench NAME``)
so that each model's memory is measured alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import orjson
from pydantic import BaseModel

from veil.schemas import ChatMessage, GenerationRequest, Sampling
from veil.settings import ModelSettings, Settings

_PROMPT = ("Summarise this incident report in one sentence. Report {n}: at 02:14 the payment gateway "
           "started returning errors for card payments; the on-call engineer rolled back the release, "
           "cleared the queue of 4,200 pending orders, and confirmed recovery at 02:51. Root cause: a "
           "configuration change that shortened a connection timeout. Follow-up: add a canary stage.")


class ModelBench(BaseModel):
    model: str
    backend: str
    load_s: float
    rss_mb: float  # resident memory the load added
    runs: int
    prompt_tokens: int
    prompt_tokens_per_s: float | None
    completion_tokens: int
    tokens_per_s: float  # generation only
    latency_p50_s: float


def rss_mb() -> float:
    """This process's resident set size (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(name: str, models: ModelSettings, runs: int = 3, max_tokens: int = 64) -> ModelBench:
    from veil.models import build

    before, started = rss_mb(), time.perf_counter()
    provider = build.provider(name, models)
    load_s, grown = time.perf_counter() - started, rss_mb() - before
    responses = []
    try:
        for n in range(runs):  # a different first line each run, so no prompt prefix is reused
            req = GenerationRequest(messages=[ChatMessage(role="user", content=_PROMPT.format(n=1000 + n))],
                                    sampling=Sampling(max_tokens=max_tokens, temperature=0.0))
            responses.append(provider.generate(req))
    finally:
        provider.close()
    prompt_s = [r.prompt_seconds for r in responses if r.prompt_seconds]
    gen_tokens = sum(r.completion_tokens for r in responses)
    gen_s = sum(r.seconds - (r.prompt_seconds or 0.0) for r in responses)
    return ModelBench(
        model=name, backend=provider.backend, load_s=round(load_s, 3), rss_mb=round(grown, 1), runs=runs,
        prompt_tokens=sum(r.prompt_tokens for r in responses),
        prompt_tokens_per_s=round(sum(r.prompt_tokens for r in responses) / sum(prompt_s), 1) if prompt_s else None,
        completion_tokens=gen_tokens, tokens_per_s=round(gen_tokens / gen_s, 1) if gen_s > 0 else 0.0,
        latency_p50_s=round(statistics.median(r.seconds for r in responses), 3),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--models", help="ModelSettings as JSON (the caller's configuration); default: from the environment")
    args = parser.parse_args()
    models = ModelSettings.model_validate_json(args.models) if args.models else Settings.load().models
    sys.stdout.buffer.write(orjson.dumps(bench(args.name, models, args.runs, args.max_tokens).model_dump()) + b"\n")


if __name__ == "__main__":
    main()
