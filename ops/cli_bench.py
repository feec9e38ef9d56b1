"""``veil bench``: Veil, an LLM-on-every-message baseline and detectors only, end to end, side by side."""

from __future__ import annotations

import os
import platform
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.errors import ConfigError
from veil.ops.cli_common import console, prepare_stack, state

commands = typer.Typer()


def _read_lines(paths: list[Path]) -> list[bytes]:
    out: list[bytes] = []
    for path in paths:
        if not path.is_file():
            raise typer.BadParameter(f"file '{path}' does not exist", param_hint="FILES")
        out.extend(line.rstrip(b"\r\n") for line in path.open("rb") if line.strip())
    return out


@commands.command("bench")
def bench(
    files: Annotated[list[Path] | None, typer.Argument(help="Log files to use instead of the synthetic generator.")] = None,
    lines: Annotated[int, typer.Option(help="Lines per measured run (Veil and detectors).", min=100)] = 20_000,
    warmup: Annotated[int, typer.Option(help="Lines sent first, not measured (fills Veil's caches).", min=0)] = 5_000,
    baseline_lines: Annotated[int, typer.Option(help="Lines for the LLM-on-every-message baseline.", min=1)] = 60,
    modes: Annotated[str, typer.Option(help="Comma-separated: veil, llm-every, detectors.")] = "veil,llm-every,detectors",
    rate: Annotated[float, typer.Option(help="Lines/s to offer (0: as fast as the producer goes).", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic generator.")] = 7,
    warm_on_input: Annotated[bool, typer.Option(
        "--warm-on-input", help="Warm up on the measured lines themselves (every template seen), "
                                "not on other lines of the same generator.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for one run.", min=10)] = 1800,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
) -> None:
    """Run the pipeline end to end (produce -> Kafka -> stages -> Elasticsearch) on the same log lines
    three ways and compare records/s, latency, LLM calls, cache hits, CPU and memory."""
    from veil.evaluation.logs import typical_lines
    from veil.ops.bench import pipeline

    wanted = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in pipeline.MODES]
    if unknown or not wanted:
        raise typer.BadParameter(f"unknown mode(s) {unknown}; use {', '.join(pipeline.MODES)}", param_hint="--modes")
    if files:
        given = _read_lines(files)
        if not given:
            raise ConfigError("the given files hold no lines")
        measured, warm = given[:lines], given[:warmup]
        source = {"files": [str(f) for f in files], "lines": len(given)}
    else:
        measured = [line.encode() for line in typical_lines(lines, seed=seed)]
        warm = measured[:warmup] if warm_on_input else [line.encode() for line in typical_lines(warmup, seed=seed + 1)]
        source = {"generator": "veil.evaluation.logs.typical_lines", "seed": seed}
    settings = prepare_stack(state.settings, fetch_models=any(m != "detectors" for m in wanted))
    from veil.ops.stack import dev

    stack = dev.load_state(settings)
    run_id = uuid.uuid4().hex[:6]
    log_dir = settings.state_dir.resolve() / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for mode in wanted:
        sent = measured[:baseline_lines] if mode == "llm-every" else measured
        warm_up = warm[:5] if mode == "llm-every" else warm  # the baseline has nothing to warm up
        results.append(pipeline.run_mode(settings, mode, sent, warm_up or measured[:5], run_id=run_id, rate=rate or None,
                                         timeout=timeout, log_dir=log_dir, config=state.config,
                                         stack_pids=stack.pids if stack else None,
                                         echo=lambda msg: console.print(msg, markup=False, highlight=False)))
    by = {r.mode: r for r in results}
    speedup = (round(by["veil"].records_per_s / by["llm-every"].records_per_s, 1)
               if "veil" in by and "llm-every" in by else None)
    m = settings.models
    report = pipeline.BenchReport(
        input={**source, "measured": len(measured), "warmup": len(warm), "warm_on_input": warm_on_input or bool(files),
               "baseline": min(baseline_lines, len(measured)),
               "rate": rate or None},
        machine={"cpus": os.cpu_count(), "python": platform.python_version(), "general_model": m.general,
                 "security_model": m.security, "pool_size": settings.ray.pool_size},
        modes=results, speedup_vs_llm_every=speedup)
    _print(report)
    if json_out:
        json_out.write_text(report.model_dump_json(indent=2))
        console.print(f"wrote {json_out}")


def _fmt(v, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def _print(report) -> None:
    t = Table("", *(r.mode for r in report.modes), title="veil bench (end to end)")
    rows = [
        ("records", lambda r: str(r.records)),
        ("records/s", lambda r: _fmt(r.records_per_s, ".1f")),
        ("latency p50 / p95 / p99 s", lambda r: f"{_fmt(r.latency_p50_s)} / {_fmt(r.latency_p95_s)} / {_fmt(r.latency_p99_s)}"),
        ("LLM calls per 1,000", lambda r: _fmt(r.llm_calls_per_1000, ".1f")),
        ("cache hit rate", lambda r: _fmt(r.cache_hit_rate, ".3f")),
        ("worker CPU s (% of one core)", lambda r: f"{r.worker_cpu_s:.1f} ({r.worker_cpu_percent:.0f}%)"),
        ("  of which the Faust process", lambda r: f"{r.worker_process_cpu_s:.1f}"),
        ("broker / Elasticsearch CPU s", lambda r: f"{_fmt(r.broker_cpu_s, '.1f')} / {_fmt(r.elasticsearch_cpu_s, '.1f')}"),
        ("peak RSS MiB (worker + actors)", lambda r: _fmt(r.peak_rss_mb, ".0f")),
        ("stage rates (records/busy s)", lambda r: ", ".join(f"{k} {v:,.0f}" for k, v in r.stage_rates.items()) or "-"),
        ("slowest stage", lambda r: r.slowest_stage or "-"),
        ("dead letters", lambda r: str(r.dead_letters)),
    ]
    for label, cell in rows:
        t.add_row(label, *(cell(r) for r in report.modes))
    console.print(t)
    if report.speedup_vs_llm_every is not None:
        console.print(f"Veil is {report.speedup_vs_llm_every:,.1f}x the LLM-on-every-message baseline", markup=False)
