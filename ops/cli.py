"""The ``veil`` command line.

    veil dev up                 # start the embedded broker + Elasticsearch API, fetch models
    veil run                    # run the stream workers in the foreground (Ctrl-C stops)
    veil produce docs.jsonl --topic veil.docs.in
    veil demo                   # the whole thing end to end on the sample corpus
"""

from __future__ import annotations

import os

# Before NumPy loads: its BLAS multiplies NER's small matrices fastest on one thread, and its
# spinning worker threads starve llama.cpp's (measured: 18 ms instead of 0.1 ms per product).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
import time
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from veil.errors import ConfigError, VeilError
from veil.ops import cli_batch, cli_bench, cli_models, cli_stack, cli_stream, cli_train
from veil.ops.cli_common import ExitCode, console, err_console, kafka_ready, prepare_stack, setup_logging, state

app = typer.Typer(help="Veil: streaming redaction of personal data, secrets and infrastructure details.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
for group in (cli_stack.commands, cli_models.commands, cli_batch.commands, cli_stream.commands, cli_train.commands,
              cli_bench.commands):
    app.add_typer(group)


def _version(value: bool) -> None:
    if value:
        console.print(f"veil {version('veil')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="YAML settings file (environment VEIL_* overrides it).",
        exists=True, dir_okay=False)] = None,
        _show_version: Annotated[bool, typer.Option("--version", help="Print Veil's version and exit.",
                                                    callback=_version, is_eager=True)] = False) -> None:
    state.config = config


# --- stream --------------------------------------------------------------------------------------

@app.command("run")
def run() -> None:
    """Run the stream workers (analyze, decide on Ray, Elasticsearch sink) until Ctrl-C."""
    from veil.ops.stack import dev
    from veil.streams.worker import run_worker

    settings = dev.with_stack(state.settings)
    setup_logging(settings)
    run_worker(settings)


@app.command("sink")
def sink() -> None:
    """Only the Elasticsearch sink (the output topics into their indices) until Ctrl-C; run workers
    with VEIL_STREAM__SINK=false to keep it apart."""
    from veil.ops.stack import dev
    from veil.streams.worker import run_sink

    settings = dev.with_stack(state.settings)
    setup_logging(settings)
    run_sink(settings)


@app.command("produce")
def produce_cmd(
    file: Annotated[Path, typer.Argument(help="JSONL or text file, one record per line.", exists=True, dir_okay=False)],
    topic: Annotated[str, typer.Option("--topic", "-t", help="Target topic, e.g. veil.docs.in or veil.logs.in.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or text.")] = "jsonl",
    batch: Annotated[str | None, typer.Option(help="Tag records with this batch id (header veil-batch).")] = None,
) -> None:
    """Send every line of FILE to a topic."""
    from veil.ops.produce import produce, read_records

    settings = kafka_ready()
    n = produce(settings.kafka, topic, read_records(file, fmt), batch=batch,
                max_message_bytes=settings.kafka.max_message_bytes)
    console.print(f"produced {n} records to {topic}")


@app.command("demo")
def demo(
    keep_up: Annotated[bool, typer.Option("--keep-up/--down", help="Leave the dev stack running afterwards.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the pipeline.", min=10)] = 900,
) -> None:
    """Start the stack and workers, stream the sample corpus through, and show the result from Elasticsearch."""
    from veil.ops import demo as d
    from veil.ops.stack import dev, elastic

    settings = prepare_stack(state.settings, fetch_models=True)
    started = time.monotonic()
    log_path = settings.state_dir.resolve() / "worker.log"
    port = d.free_port()
    worker = d.start_worker(settings, log_path, state.config, web_port=port)
    es = elastic.client(settings.elasticsearch)
    batch = uuid.uuid4().hex[:12]
    try:
        n = d.produce_corpus(settings, batch)
        console.print(f"produced {n} records (batch {batch}); worker log: {log_path}")
        with console.status("waiting for every record to reach Elasticsearch or the dead-letter topic") as status:
            def tick(p):
                status.update(f"redacted {p.redacted} + dead letters {p.dead_letters} of {p.records_in}")
            progress = d.wait_for(settings, es, batch, n, worker, timeout, on_tick=tick)
        elapsed = time.monotonic() - started
        _summary(progress, elapsed)
        token = settings.stream.api_token
        api = d.check_http(port, token=token.get_secret_value() if token is not None else None)
        m = api["metrics"]
        console.print(f"worker HTTP API on port {port}: /health {api['health']['status']}; "
                      f"/v1/redact -> {api['redacted']['redacted_text']!r}; /metrics: "
                      f"{m.get('veil_records_consumed_total', 0):.0f} records consumed, "
                      f"{m.get('veil_documents_indexed_total', 0):.0f} documents indexed, "
                      f"{m.get('veil_dead_letters_total', 0):.0f} dead letters", markup=False, highlight=False,
                      soft_wrap=True)
        _show_samples(d.sample_documents(es, settings, batch, n=20))
    finally:
        d.stop_worker(worker)
        if not keep_up:
            dev.down(settings)
            console.print("dev stack stopped (use --keep-up to leave it running)")


def _summary(p, elapsed: float) -> None:
    table = Table(title="Veil demo", show_header=False)
    for label, value in [("records in", p.records_in), ("redacted documents in Elasticsearch", p.redacted),
                         ("audit events", p.audit_events), ("dead letters", p.dead_letters),
                         ("decisions by", ", ".join(f"{k}={v}" for k, v in sorted(p.decided_by.items()))),
                         ("elapsed", f"{elapsed:.1f} s")]:
        table.add_row(label, str(value))
    console.print(table)
    cats = Table("entity", "audit events", title="per entity")
    for entity, count in sorted(p.entities.items(), key=lambda kv: -kv[1]):
        cats.add_row(entity, str(count))
    console.print(cats)


def _show_samples(docs: list[dict], n: int = 4) -> None:
    shown = [doc for doc in docs if doc.get("redactions")][:n]
    console.rule("redacted documents, as stored in Elasticsearch")
    for doc in shown:
        console.print(f"[bold]{doc['id']}[/] ({doc['kind']}, {doc.get('text_kind')}, {doc.get('language')})")
        console.print(doc["redacted_text"], markup=False, highlight=False)
        console.print()


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors for bad arguments and expected failures, no tracebacks."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # Typer vendors click

    try:
        rv = app(args=argv, standalone_mode=False)
    except NoArgsIsHelpError as err:
        console.print(err.format_message(), markup=False, highlight=False)
        sys.exit(0)
    except ClickException as err:
        ctx = getattr(err, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err_console.print(f"error: {err.format_message()}{hint}", markup=False, highlight=False)
        sys.exit(err.exit_code)
    except ConfigError as err:
        err_console.print(f"error: {err}", markup=False, highlight=False)
        sys.exit(ExitCode.CONFIG)
    except VeilError as err:
        err_console.print(f"error: {err}", markup=False, highlight=False)
        sys.exit(ExitCode.FAILED)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        err_console.print(f"error: invalid setting {where}: {first['msg']}", markup=False, highlight=False)
        sys.exit(ExitCode.CONFIG)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(rv if isinstance(rv, int) else ExitCode.OK)

if __name__ == "__main__":
    main()
