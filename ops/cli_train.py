"""``veil train``: build the dataset, run the fine-tuning loop once or on a schedule, list runs."""

from __future__ import annotations

import getpass
import time
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from veil.ops.cli_common import console, err_console, kafka_ready

commands = typer.Typer()

train_app = typer.Typer(help="Fine-tune the security model on replayed decisions and feedback.", no_args_is_help=True)
commands.add_typer(train_app, name="train")


def _settings():
    return kafka_ready()


@train_app.command("dataset")
def train_dataset() -> None:
    """Replay the topics (training.since to now) into a new dataset version; prints its statistics."""
    from veil.training import pipeline

    settings = _settings()
    info = pipeline.build_dataset(settings, pipeline.topic_sources(settings))
    console.print(f"dataset {info.version}: {info.train} train, {info.validation} validation, at {info.path}",
                  markup=False, highlight=False)
    console.print(f"sources {info.by_source}; buckets {info.by_bucket}; skipped {info.skipped}", markup=False,
                  highlight=False)


def _run(force: bool, resume: str | None, eval_set: bool) -> None:
    from veil.training import pipeline

    run = pipeline.run_once(_settings(), user=getpass.getuser(), force=force, resume=resume, eval_set=eval_set)
    if run.candidate is None or run.served is None or run.train is None or run.verdict is None:
        console.print(f"run {run.id}: {run.status}", markup=False, highlight=False)  # stopped before it was scored
        return
    c, s = run.candidate.held_out, run.served.held_out
    console.print(f"run {run.id}: {run.status}; held-out F1 {s.f1:.3f} -> {c.f1:.3f}, leak rate "
                  f"{s.leak_rate:.3f} -> {c.leak_rate:.3f}; {run.train.steps} steps in {run.train.seconds:.0f}s",
                  markup=False, highlight=False)
    for reason in run.verdict.reasons:
        console.print(f"  {reason}", markup=False, highlight=False)


@train_app.command("run")
def train_run(
    force: Annotated[bool, typer.Option(help="Promote even if the gate says no (recorded as forced).")] = False,
    resume: Annotated[str | None, typer.Option(help="Finish an interrupted run (its id) from its last checkpoint.")] = None,
    eval_set: Annotated[bool, typer.Option(help="Also score both models on the project's evaluation set.")] = True,
) -> None:
    """One run: dataset, LoRA on Ray, GGUF export, evaluation gate, registry entry, promotion."""
    _run(force, resume, eval_set)


@train_app.command("schedule")
def train_schedule(
    every: Annotated[str | None, typer.Option(help="Interval between runs, e.g. 24h, 90m, 7d.")] = None,
    cron: Annotated[str | None, typer.Option(help="Five-field cron expression (local time), e.g. '0 3 * * *'.")] = None,
    now: Annotated[bool, typer.Option(help="Run once right away, then follow the schedule.")] = False,
) -> None:
    """Run the loop periodically, in the foreground (a failed run is logged; the schedule goes on)."""
    from veil.training.schedule import next_run

    try:
        next_run(datetime.now().astimezone(), every=every, cron=cron)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    if now:
        _attempt()
    while True:
        due = next_run(datetime.now().astimezone(), every=every, cron=cron)
        err_console.print(f"next training run at {due:%Y-%m-%d %H:%M %Z}", markup=False, highlight=False)
        time.sleep(max(0.0, (due - datetime.now().astimezone()).total_seconds()))
        _attempt()


def _attempt() -> None:
    try:
        _run(False, None, True)
    except Exception as err:  # noqa: BLE001 - the schedule outlives one failed run
        err_console.print(f"training run failed: {type(err).__name__}: {err}", markup=False, highlight=False)


@train_app.command("history")
def train_history(
    limit: Annotated[int, typer.Option(help="Most recent runs to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON run record per line.")] = False,
) -> None:
    """Runs with their dataset, base model, scores and outcome."""
    from veil.training import pipeline

    runs = pipeline.history(_settings())[-limit:]
    if as_json:
        for run in runs:
            typer.echo(run.model_dump_json())
        return
    table = Table("run", "status", "base", "dataset", "steps", "F1 served -> new", "leak served -> new", "catalog name")
    for run in runs:
        s = run.served.held_out if run.served else None
        c = run.candidate.held_out if run.candidate else None
        table.add_row(run.id, run.status, run.base_model, run.dataset.version if run.dataset else "-",
                      str(run.train.steps) if run.train else "-",
                      f"{s.f1:.3f} -> {c.f1:.3f}" if s and c else "-",
                      f"{s.leak_rate:.3f} -> {c.leak_rate:.3f}" if s and c else "-", run.catalog_name or "-")
    console.print(table)
