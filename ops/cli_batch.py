"""Batch commands: ``veil redact``, ``veil eval``, ``veil reveal``. No broker needed."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from veil.batch import BatchEngine, BatchResult
from veil.composition import build_engine
from veil.errors import ConfigError, VeilError, safe_reason
from veil.ops.cli_common import ExitCode, console, err_console, state
from veil.policy import Policy
from veil.settings import Settings

commands = typer.Typer()

CHUNK = 4096  # records scanned together (NER batches its model calls; few log lines need it)


PROFILE_HELP = ("pii (direct identifiers, secrets, infrastructure; organisations and places next to a person) or "
                "anonymize (also dates, ages, every organisation and place); default: the policy's")


def _engine(settings: Settings, *, no_llm: bool, policy_file: Path | None, reuse: bool = True,
            profile: str | None = None) -> BatchEngine:
    policy = Policy.from_yaml(policy_file) if policy_file else None
    return build_engine(settings, llm=not no_llm, policy=policy, reuse=reuse, profile=profile)


ENCODINGS = ("auto", "utf-8", "latin-1")
#: what text output holds in place of a line that could not be redacted (fail closed, lines stay aligned)
WITHHELD = b"<WITHHELD>\n"


def _records(paths: list[Path], fmt: str, max_bytes: int, encoding: str = "auto",
             latin1_lines: list[int] | None = None) -> Iterator[tuple[int, str | None, str | None, str | None]]:
    """(line number, id, text, error) for every non-empty input line.

    Text lines (``fmt == "text"``) are decoded as ``encoding``: ``utf-8`` refuses a line that is not
    valid UTF-8; ``latin-1`` reads every byte as one character; ``auto`` reads UTF-8 and a line
    that is not valid UTF-8 as Latin-1 (a configuration file from an older system), so no line is
    refused for its bytes; such lines' numbers go to ``latin1_lines``. JSONL is UTF-8 always."""
    sources = paths or [Path("-")]
    n = 0
    for path in sources:
        fh = sys.stdin.buffer if str(path) == "-" else path.open("rb")
        try:
            for raw in fh:
                n += 1
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                if len(line) > max_bytes:
                    yield n, None, None, f"record of {len(line)} bytes exceeds the {max_bytes}-byte limit"
                    continue
                if fmt == "text":
                    if 0 in line:
                        yield n, None, None, f"binary data: a NUL byte at byte {line.index(0)}"
                        continue
                    if encoding == "latin-1":
                        yield n, str(n), line.decode("latin-1"), None
                        continue
                    try:
                        yield n, str(n), line.decode("utf-8"), None
                    except UnicodeDecodeError as err:
                        if encoding == "auto":
                            if latin1_lines is not None:
                                latin1_lines.append(n)
                            yield n, str(n), line.decode("latin-1"), None
                        else:
                            yield n, None, None, f"not valid UTF-8 at byte {err.start}"
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as err:
                    yield n, None, None, _json_error(line, err)
                    continue
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    yield n, None, None, 'expected an object with a string "text"'
                    continue
                yield n, str(obj.get("id", n)), obj["text"], None
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()


def _json_error(line: bytes, err: orjson.JSONDecodeError) -> str:
    """Why a JSONL line was refused, in the reader's terms: its bytes are not UTF-8 (JSONL is read as
    UTF-8; orjson would say "surrogates not allowed"), it holds a NUL byte (binary data), or it is not JSON."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 at byte {bad.start} (JSONL is read as UTF-8; --format text reads other encodings)"
    if b"\x00" in line:
        return f"binary data: a NUL byte at byte {line.index(0)}"
    return f"not valid JSON: {err}"


def check_input(path: Path) -> None:
    """One line about an input argument that cannot be read as records: missing, a directory, binary."""
    if path.is_dir():
        raise typer.BadParameter(f"'{path}' is a directory; give the files in it (e.g. {path}/*.jsonl)", param_hint="FILES")
    if not path.is_file():
        raise typer.BadParameter(f"file '{path}' does not exist", param_hint="FILES")
    with path.open("rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        raise typer.BadParameter(f"'{path}' is binary (a NUL byte at offset {head.index(0)}), not text or JSONL",
                                 param_hint="FILES")


def run_safely(engine: BatchEngine, chunk: list[tuple[str, str]], logs: list[bool]) -> list[BatchResult | str]:
    """``engine.run_many``; if the chunk raises, each record again alone, so one bad record costs
    only itself: its place holds the reason (a string) instead of a result."""
    try:
        return [*engine.run_many(chunk, logs=logs)]
    except Exception:  # noqa: BLE001 - any failure is reported per record below
        out: list[BatchResult | str] = []
        for record, log in zip(chunk, logs):
            try:
                out.append(engine.run_many([record], logs=[log])[0])
            except Exception as err:  # noqa: BLE001
                out.append(safe_reason(err, "while redacting"))
        return out


@commands.command("redact")
def redact(
    files: Annotated[list[Path] | None, typer.Argument(help="Input files; none or '-' reads stdin.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help='jsonl ({"id", "text"} per line) or text.')] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    output_format: Annotated[str | None, typer.Option(
        "--output-format", help="text (the redacted lines) or jsonl (a result object per record, with its findings). "
                                "Default: the input's format.")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Detectors only (uncertain findings are redacted).")] = False,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML (operators, allow/deny lists, sources).",
                                                   exists=True, dir_okay=False)] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse model answers (templates, decisions).")] = True,
    profile: Annotated[str | None, typer.Option(help=PROFILE_HELP)] = None,
    encoding: Annotated[str, typer.Option(help="Text input: auto (UTF-8; a line that is not is read as Latin-1), "
                                               "utf-8 (such a line is refused) or latin-1.")] = "auto",
) -> None:
    """Redact records from files or stdin, without a broker.

    JSONL in, JSONL out: one result object per record (id, redacted_text, findings). With --format
    text every line is a log line (mined into templates) and the output is the redacted lines, in
    order, so the command sits in a log pipe; a line that cannot be redacted is written as
    <WITHHELD> and reported on stderr."""
    if fmt not in ("jsonl", "text"):
        raise typer.BadParameter("use jsonl or text", param_hint="--format")
    output_format = output_format or fmt
    if output_format not in ("jsonl", "text"):
        raise typer.BadParameter("use jsonl or text", param_hint="--output-format")
    if encoding not in ENCODINGS:
        raise typer.BadParameter(f"use one of {', '.join(ENCODINGS)}", param_hint="--encoding")
    for f in files or []:
        if str(f) != "-":
            check_input(f)
    engine = _engine(state.settings, no_llm=no_llm, policy_file=policy, reuse=cache, profile=profile)
    # The models allocate hundreds of thousands of long-lived objects; keep the collector off them.
    gc.freeze()
    out = output.open("wb") if output else sys.stdout.buffer
    done = rejected = 0
    latin1_lines: list[int] = []

    def report(line: int, error: str, record_id: str | None = None) -> None:
        entry = {"line": line, "error": error} | ({"id": record_id} if record_id is not None else {})
        err_console.print(orjson.dumps(entry).decode(), markup=False, highlight=False, soft_wrap=True)

    progress = Progress(TextColumn("redacting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err_console, transient=True, disable=output is None and sys.stdout.isatty() is False)
    try:
        with progress:
            task = progress.add_task("redact", total=None)
            chunk: list[tuple[str, str]] = []

            def flush() -> None:
                # The collector is paused while a chunk is in flight: it would otherwise scan (and
                # promote) the chunk's short-lived objects again and again, ~5% of a run. Reference
                # counting frees them once written; a cycle among them is collected after the chunk.
                nonlocal done, rejected
                if not chunk:
                    return
                gc.disable()
                try:
                    results = run_safely(engine, chunk, [fmt == "text"] * len(chunk))
                finally:
                    gc.enable()
                written = []
                for (rid, _), n, result in zip(chunk, lines, results):
                    if isinstance(result, str):
                        rejected += 1
                        report(n, result, rid)
                        if output_format == "text":
                            written.append(WITHHELD)
                    else:
                        done += 1
                        written.append(result.redacted_text.encode() + b"\n" if output_format == "text"
                                       else result.to_json() + b"\n")
                out.write(b"".join(written))
                progress.update(task, advance=len(chunk))
                chunk.clear()
                lines.clear()

            lines: list[int] = []
            for n, rid, text, error in _records(files or [], fmt, state.settings.kafka.max_record_bytes, encoding,
                                                latin1_lines):
                if error is not None or rid is None or text is None:  # a record has an id and a text, or an error
                    rejected += 1
                    report(n, error or "no record")
                    if output_format == "text":
                        flush()  # the lines before it first: the output keeps the input's order
                        out.write(WITHHELD)
                    continue
                chunk.append((rid, text))
                lines.append(n)
                if len(chunk) >= CHUNK:
                    flush()
            flush()
    finally:
        if output:
            out.close()
        else:
            out.flush()
    if latin1_lines:
        shown = ", ".join(map(str, latin1_lines[:10])) + (", ..." if len(latin1_lines) > 10 else "")
        err_console.print(f"{len(latin1_lines)} lines were not valid UTF-8 and were read as Latin-1 (lines {shown})",
                          markup=False, highlight=False)
    err_console.print(f"redacted {done} records, rejected {rejected}", markup=False, highlight=False)
    if not no_llm:
        _print_model_stats()
    if rejected:
        raise typer.Exit(ExitCode.PARTIAL)


def _print_model_stats() -> None:
    """Per-model figures of this run (calls, errors, latency percentiles, tokens), a line each on stderr."""
    from veil.models.metrics import METRICS

    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for s in METRICS.snapshot().values():
        err_console.print(
            f"model {s.model}: {s.calls} calls, {s.errors} errors ({s.timeouts} timeouts), latency p50/p95/p99 "
            f"{fmt(s.latency_p50_s, '.2f')}/{fmt(s.latency_p95_s, '.2f')}/{fmt(s.latency_p99_s, '.2f')} s, "
            f"tokens in/out {s.prompt_tokens}/{s.completion_tokens}, {fmt(s.tokens_per_s, '.1f')} tok/s",
            markup=False, highlight=False, soft_wrap=True)


@commands.command("reveal")
def reveal_cmd(
    text: Annotated[str | None, typer.Argument(help="Text with <ENC:...> tokens; default: stdin.")] = None,
) -> None:
    """Decrypt <ENC:TYPE:...> tokens made by the encrypt operator. Needs VEIL_ENCRYPTION_KEY."""
    from veil.operators import derive_siv_key, reveal

    key = state.settings.encryption_key
    if key is None:
        raise ConfigError("reveal needs the encryption key: set VEIL_ENCRYPTION_KEY")
    data = text if text is not None else sys.stdin.read()
    sys.stdout.write(reveal(data, derive_siv_key(key.get_secret_value())) + ("\n" if text is not None else ""))


def predict(engine: BatchEngine, records: list) -> tuple[list, dict[str, str], float]:
    """Redact labelled records in chunks: (predictions, {record id: why it failed}, seconds)."""
    from veil.evaluation import scoring

    preds, failed = [], {}
    started = time.perf_counter()
    for i in range(0, len(records), CHUNK):
        part = records[i:i + CHUNK]
        results = run_safely(engine, [(r.id, r.text) for r in part], [r.group == "log" for r in part])
        for rec, res in zip(part, results):
            if isinstance(res, str):
                failed[rec.id] = res
            else:
                preds.append(scoring.Prediction.model_validate_json(res.to_json()))
    return preds, failed, time.perf_counter() - started


def source_of(record_id: str) -> str:
    """The part of a record id that names where it came from: ``loghub-Mac-17`` -> ``loghub-Mac``,
    ``gum-GUM_court_loan-03`` -> ``gum-GUM_court``, ``eval-log-003-1`` -> ``eval-log``."""
    parts = record_id.split("-")
    if len(parts) < 2:
        return parts[0]
    return f"{parts[0]}-{'_'.join(parts[1].split('_')[:2])}"


@commands.command("eval")
def eval_cmd(
    labels: Annotated[Path | None, typer.Option(help="Labelled JSONL; default: the built-in evaluation set.",
                                                   exists=True, dir_okay=False)] = None,
    predictions: Annotated[Path | None, typer.Option(help="Output of `veil redact`; default: run it now.",
                                                        exists=True, dir_okay=False)] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Detectors only when running redaction here.")] = False,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse model answers (templates, decisions).")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
    errors_out: Annotated[Path | None, typer.Option(
        "--errors", help="Write every miss and false positive (record id, type, position, value, context) as "
                         "JSONL here. The values are the labelled set's: use it on evaluation data only.")] = None,
    by_source: Annotated[bool, typer.Option("--by-source", help="Also a table per source (the record id's prefix).")] = False,
    limit: Annotated[int | None, typer.Option(help="Score only the first N records.", min=1)] = None,
    export_set: Annotated[Path | None, typer.Option(help="Write the built-in labelled set here and exit.")] = None,
    profile: Annotated[str | None, typer.Option(help=PROFILE_HELP)] = None,
) -> None:
    """Score redaction against labelled spans: per-type precision, recall, F1, the leak rate and the
    share of characters marked. Any text can be scored: a record that cannot be redacted is
    reported with its id and left out; a line that is not a labelled record is reported and skipped."""
    from veil.evaluation import dataset, scoring

    if export_set:
        with export_set.open("wb") as fh:
            for rec in dataset.build():
                fh.write(orjson.dumps(rec.model_dump()) + b"\n")
        console.print(f"wrote {export_set}")
        return
    rejected: list[dataset.LabelError] = []
    records = list(dataset.iter_jsonl(labels, rejected)) if labels else dataset.build()
    records = records[:limit] if limit else records
    for err in rejected:
        err_console.print(orjson.dumps({"line": err.line, "error": err.reason}).decode(), markup=False,
                          highlight=False, soft_wrap=True)
    failed: dict[str, str] = {}
    run: dict = {}
    if predictions:
        try:
            preds = [scoring.Prediction.model_validate_json(line)
                     for line in predictions.read_bytes().splitlines() if line.strip()]
        except ValidationError as err:
            raise VeilError(f"cannot score: {str(err).splitlines()[0]}") from None
        have = {p.id for p in preds}
        missing = [r.id for r in records if r.id not in have]
        if missing:
            raise VeilError(f"cannot score: no prediction for {len(missing)} records, e.g. {missing[0]}")
    else:
        engine = _engine(state.settings, no_llm=no_llm, policy_file=None, reuse=cache, profile=profile)
        preds, failed, elapsed = predict(engine, records)
        run = {"questions": engine.asked, "cache": engine.caching.stats if engine.caching else {},
               "seconds": round(elapsed, 3), "records_per_s": round(len(records) / elapsed, 1) if elapsed else None}
    for rid, why in failed.items():
        err_console.print(orjson.dumps({"id": rid, "error": why}).decode(), markup=False, highlight=False)
    scored = [r for r in records if r.id not in failed]
    errors: list[scoring.ErrorEntry] | None = [] if errors_out else None
    report = scoring.score(scored, preds, errors=errors)
    _print_report(report)
    sources: dict[str, scoring.Report] = {}
    if by_source:
        groups: dict[str, list] = {}
        for r in scored:
            groups.setdefault(source_of(r.id), []).append(r)
        sources = {name: scoring.score(rs, preds) for name, rs in sorted(groups.items())}
        _print_sources(sources)
    if run:
        err_console.print(f"{len(scored)} records scored in {run['seconds']} s ({run['records_per_s']} records/s); "
                          f"questions to the models: {run['questions']}; caches: {run['cache']}", markup=False,
                          highlight=False, soft_wrap=True)
    if errors_out and errors is not None:
        with errors_out.open("wb") as fh:
            for e in errors:
                fh.write(orjson.dumps(e.model_dump()) + b"\n")
        err_console.print(f"wrote {len(errors)} misses and false positives to {errors_out}", markup=False,
                          highlight=False)
    if json_out:
        json_out.write_bytes(orjson.dumps(summary(report) | {
            "run": run, "rejected_lines": len(rejected), "failed_records": len(failed),
            "by_source": {k: summary(v) for k, v in sources.items()}}, option=orjson.OPT_INDENT_2))
    if rejected or failed:
        raise typer.Exit(ExitCode.PARTIAL)


def summary(report) -> dict:
    """A report as JSON-ready figures, the derived ones included."""
    return report.model_dump() | {"precision": report.precision, "recall": report.recall, "f1": report.f1,
                                  "marked_share": report.marked_share, "marked_precision": report.marked_precision}


def _print_report(report) -> None:
    t = Table("label type", "support", "recall", "leaked", title=f"recall by label ({report.records} records)")
    for name, s in sorted(report.by_label.items()):
        t.add_row(name, str(s.support), f"{s.recall:.3f}", str(s.leaked))
    console.print(t)
    p = Table("detected entity", "tp", "fp", "precision", title="precision by detected entity")
    for name in sorted(set(report.tp_by_entity) | set(report.fp_by_entity)):
        tp, fp = report.tp_by_entity.get(name, 0), report.fp_by_entity.get(name, 0)
        p.add_row(name, str(tp), str(fp), f"{tp / (tp + fp):.3f}")
    console.print(p)
    g = Table("group", "precision", "recall", "f1", "support", title="summary")
    for name, m in report.groups.items():
        g.add_row(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(int(m["support"])))
    console.print(g)
    console.print(f"leak rate: {report.leak_rate:.3%} of {report.labels} labelled values remain in the output")
    console.print(f"marked: {report.marked_share:.2%} of {report.chars} characters; "
                  f"{report.marked_precision:.1%} of the marked characters are labelled")


def _print_sources(sources: dict) -> None:
    t = Table("source", "records", "labels", "precision", "recall", "leak rate", "marked", title="by source")
    for name, rep in sources.items():
        m = rep.groups["all"]
        t.add_row(name, str(rep.records), str(rep.labels), f"{m['precision']:.3f}", f"{m['recall']:.3f}",
                  f"{rep.leak_rate:.3f}", f"{rep.marked_share:.2%}")
    console.print(t)
