"""Stream operations: ``veil replay``, ``veil deadletter list|redrive``, ``veil review``."""

from __future__ import annotations

import base64
import getpass
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from veil.composition import client_config, payload_sealer
from veil.ops.cli_common import console, err_console, kafka_ready
from veil.ops.control import audit
from veil.ops.kafka_range import Headers, Position, Writer, read_range
from veil.schemas import DeadLetter, Feedback, ReviewItem, dumps, loads, operator_event
from veil.settings import Settings

commands = typer.Typer()

deadletter_app = typer.Typer(help="List and re-drive dead letters.", no_args_is_help=True)
commands.add_typer(deadletter_app, name="deadletter")
REPLAY_HEADER = "veil-replay"


def _stack() -> Settings:
    return kafka_ready()


def _topic(settings: Settings, name: str) -> str:
    """A full topic name, or a short one (``logs.in``) prefixed."""
    return name if name.startswith(settings.kafka.topic_prefix + ".") else settings.topic(name)


def _progress(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console)


@commands.command("replay")
def replay(
    topic: Annotated[str, typer.Option("--topic", "-t", help="Topic to read, e.g. veil.logs.in (or logs.in).")],
    start: Annotated[str, typer.Option("--from", help="earliest, an offset, an ISO time or -2h.")] = "earliest",
    stop: Annotated[str, typer.Option("--to", help="latest, an offset (inclusive), an ISO time or -5m.")] = "latest",
    into: Annotated[str | None, typer.Option("--into", help="Topic to write to (default: the same topic).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write a JSONL corpus here instead.")] = None,
) -> None:
    """Re-feed a range of a topic, to reprocess it after a model change or to build a training corpus."""
    settings = _stack()
    bootstrap = settings.kafka
    source = _topic(settings, topic)
    first, last = Position.parse(start), Position.parse(stop)
    target = _topic(settings, into) if into else source
    writer = Writer(bootstrap, max_message_bytes=settings.kafka.max_message_bytes)
    sealer = payload_sealer(settings) if output is not None else None
    done = 0
    with _progress(f"replaying {source}") as progress, (output.open("wb") if output else nullcontext()) as fh:
        task = progress.add_task("replay", total=None)
        for msg in read_range(bootstrap, source, first, last):
            if output is None:
                headers = [h for h in msg.headers if h[0] != REPLAY_HEADER]
                writer.send(target, msg.value, msg.key, [*headers, (REPLAY_HEADER, f"{msg.partition}:{msg.offset}".encode())])
            elif fh is not None:
                fh.write(orjson.dumps({"topic": msg.topic, "partition": msg.partition, "offset": msg.offset,
                                       "timestamp_ms": msg.timestamp_ms,
                                       "value": _as_json(_opened(settings, sealer, msg.topic, msg.value))}) + b"\n")
            done += 1
            progress.advance(task)
    audit(writer, settings, operator_event("replay", getpass.getuser(), target=str(output) if output else target,
                                           count=done, range=f"{source} {start}..{stop}"))
    writer.close()
    err_console.print(f"replayed {done} messages from {source} into {output or target}", markup=False, highlight=False)


def _as_json(value: bytes | None):
    """A message value for a JSONL corpus: parsed when it is JSON, else text."""
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value.decode("utf-8", "replace")


#: Topics whose messages are sealed whole (veil.sealing), by short name.
SEALED_TOPICS = ("analyzed", "review", "feedback")


def _opened(settings: Settings, sealer, topic: str, value: bytes | None) -> bytes | None:
    """A message value as JSON: opened when the topic's messages are sealed."""
    for name in SEALED_TOPICS:
        if topic == settings.topic(name) and value is not None:
            return sealer.open(value, name)
    return value


def open_dead_letter(dl: DeadLetter, sealer) -> bytes:
    """The record bytes a dead letter keeps (a prefix when it is ``truncated``)."""
    kept = base64.b64decode(dl.payload)
    return sealer.open(kept, "deadletter") if dl.sealed else kept


def _dead_letters(settings: Settings, start: str, stop: str):
    topic = settings.topic("deadletter")
    for msg in read_range(settings.kafka, topic, Position.parse(start), Position.parse(stop)):
        yield msg, loads(DeadLetter, msg.value or b"")  # an empty value is no dead letter: refused as invalid


@deadletter_app.command("list")
def deadletter_list(
    start: Annotated[str, typer.Option("--from", help="earliest, an offset, an ISO time or -2h.")] = "earliest",
    stop: Annotated[str, typer.Option("--to", help="latest, an offset, an ISO time or -5m.")] = "latest",
    limit: Annotated[int, typer.Option(help="Rows to show (the counts cover all).")] = 50,
) -> None:
    """Dead letters with their reason and where they came from (payloads are not shown)."""
    settings = _stack()
    table = Table("offset", "failed at", "stage", "origin", "reason")
    reasons: Counter[str] = Counter()
    for msg, dl in _dead_letters(settings, start, stop):
        reasons[dl.error_type] += 1
        if table.row_count < limit:
            table.add_row(f"{msg.partition}:{msg.offset}", dl.failed_at.strftime("%Y-%m-%d %H:%M:%S"), dl.stage,
                          f"{dl.origin.topic}[{dl.origin.partition}]@{dl.origin.offset}",
                          dl.reason[:80] + (f" (kept {settings.kafka.deadletter_payload_limit} of {dl.payload_bytes} "
                                            "bytes)" if dl.truncated else ""))
    console.print(table)
    console.print(", ".join(f"{n} {kind}" for kind, n in reasons.most_common()) or "no dead letters")


@deadletter_app.command("redrive")
def deadletter_redrive(
    start: Annotated[str, typer.Option("--from", help="earliest, an offset, an ISO time or -2h.")] = "earliest",
    stop: Annotated[str, typer.Option("--to", help="latest, an offset, an ISO time or -5m.")] = "latest",
    reason: Annotated[str | None, typer.Option(help="Only dead letters whose reason contains this.")] = None,
    into: Annotated[str | None, typer.Option(help="Send here instead of each letter's origin topic.")] = None,
) -> None:
    """Send dead-lettered payloads back to their origin topic (after fixing the producer or a limit)."""
    settings = _stack()
    writer = Writer(settings.kafka, max_message_bytes=settings.kafka.max_message_bytes)
    sealer = payload_sealer(settings)
    sent, partial, indexing, batches = 0, 0, 0, set()
    for msg, dl in _dead_letters(settings, start, stop):
        if reason and reason not in dl.reason:
            continue
        if dl.stage == "index":  # refused by Elasticsearch: the redacted document is at its origin, no payload here
            indexing += 1
            continue
        if dl.truncated:  # only a prefix was kept: the whole record is at its origin (veil replay)
            partial += 1
            continue
        batches.add(dl.batch)
        headers: Headers = [("veil-redrive", f"{msg.partition}:{msg.offset}".encode())]
        if dl.batch:
            headers.append(("veil-batch", dl.batch.encode()))
        writer.send(_topic(settings, into) if into else dl.origin.topic, open_dead_letter(dl, sealer), headers=headers)
        sent += 1
    event = operator_event("deadletter-redrive", getpass.getuser(), target=_topic(settings, into) if into else None,
                           count=sent, range=f"{start}..{stop}" + (f" reason~{reason}" if reason else ""))
    event.veil.batch = next(iter(batches)) if len(batches) == 1 else None
    audit(writer, settings, event)
    writer.close()
    err_console.print(f"re-drove {sent} dead letters", markup=False, highlight=False)
    if indexing:
        err_console.print(f"skipped {indexing} that Elasticsearch refused: their redacted documents are at their "
                          "origin on the redacted topic; fix the mapping, then re-index them from there",
                          markup=False, highlight=False)
    if partial:
        err_console.print(f"skipped {partial} that keep only a prefix of their record: re-feed those from their origin "
                          "with `veil replay` (see `veil deadletter list`)", markup=False, highlight=False)


@commands.command("review")
def review(
    limit: Annotated[int, typer.Option(help="Stop after this many items.")] = 20,
    reviewer: Annotated[str | None, typer.Option(help="Name recorded with each label (default: your login).")] = None,
    start: Annotated[str, typer.Option("--from", help="earliest, an offset, an ISO time or -2h.")] = "earliest",
) -> None:
    """Accept or correct unsure model decisions; each answer is written to veil.feedback.

    For each item: [r]edact, [k]eep, [a]ccept the model's decision, [s]kip, [q]uit. Items already
    labelled (by id, in veil.feedback) are not asked again.
    """
    settings = _stack()
    bootstrap = settings.kafka
    who = reviewer or getpass.getuser()
    sealer = payload_sealer(settings)
    done = {loads(Feedback, sealer.open(m.value, "feedback")).id
            for m in read_range(bootstrap, settings.topic("feedback"), Position(special="earliest"))}
    writer = Writer(bootstrap, max_message_bytes=settings.kafka.max_message_bytes)
    asked = labelled = 0
    try:
        for msg in read_range(bootstrap, settings.topic("review"), Position.parse(start)):
            item = loads(ReviewItem, sealer.open(msg.value, "review"))
            if item.id in done:
                continue
            if asked >= limit:
                break
            asked += 1
            d = item.decision
            console.print(f"\n[bold]{item.id}[/] {d.finding.entity} ({d.finding.category.value}) from {item.source or item.origin.topic}")
            console.print(item.context, markup=False, highlight=False)
            console.print(f"model {d.model}@{d.model_version}: {'redact' if d.redact else 'keep'} "
                          f"({d.confidence:.2f}) {d.rationale}", markup=False, highlight=False)
            answer = typer.prompt("[r]edact [k]eep [a]ccept [s]kip [q]uit", default="a").strip().lower()[:1]
            if answer == "q":
                break
            if answer not in ("r", "k", "a"):
                continue
            label = ("redact" if d.redact else "keep") if answer == "a" else ("redact" if answer == "r" else "keep")
            fb = Feedback(id=item.id, record_id=item.record_id, entity=d.finding.entity, category=d.finding.category.value,
                          context=item.context, label=label, corrected=label != ("redact" if d.redact else "keep"),
                          model=d.model, model_version=d.model_version, model_confidence=d.confidence, reviewer=who)
            writer.send(settings.topic("feedback"), sealer.seal(dumps(fb), "feedback"), key=item.record_id.encode())
            audit(writer, settings, operator_event(
                "review-label", who, id=f"label:{item.id}", target=settings.topic("feedback"), record_id=item.record_id,
                label=label, corrected=fb.corrected, model=f"{d.model}@{d.model_version}" if d.model else None))
            done.add(item.id)
            labelled += 1
    finally:
        writer.close()
    err_console.print(f"labelled {labelled} of {asked} items", markup=False, highlight=False)


@commands.command("status")
def status(
    worker: Annotated[str | None, typer.Option(help="A worker's web address, e.g. http://127.0.0.1:6066 (for its models).")] = None,
) -> None:
    """Topics, the worker group's progress, Elasticsearch counts, and model versions."""
    from confluent_kafka import Consumer, TopicPartition

    from veil.models import registry
    from veil.models.build import chain_settings
    from veil.ops.stack import elastic
    from veil.settings import TOPICS

    settings = _stack()
    k, e, m = settings.kafka, settings.elasticsearch, settings.models
    c = Consumer(client_config(k, {"group.id": settings.app_id, "enable.auto.commit": False}))
    table = Table("topic", "partitions", f"group {settings.app_id}: committed")
    try:
        listed = c.list_topics(timeout=10).topics
        for short in TOPICS:
            name = settings.topic(short)
            meta = listed.get(name)
            if meta is None or not meta.partitions:
                table.add_row(name, "missing", "-")
                continue
            committed = c.committed([TopicPartition(name, p) for p in meta.partitions], timeout=10)
            done = sum(tp.offset for tp in committed if tp.offset >= 0)
            table.add_row(name, str(len(meta.partitions)), str(done) if any(tp.offset >= 0 for tp in committed) else "-")
    finally:
        c.close()
    console.print(table)
    es = elastic.client(e)
    counts = Table("index", "documents")
    for index in (e.redacted_index, e.audit_index, e.deadletter_index):
        counts.add_row(index, str(es.count(index=index)["count"]) if es.indices.exists(index=index) else "missing")
    console.print(counts)
    models = Table("role", "model", "version", "chain")
    for role in ("general", "security"):
        chain = chain_settings(role, m)
        first = chain[0].model
        version = registry.spec(first, m.catalog_file).version if first in registry.catalog(m.catalog_file) else "server"
        models.add_row(role, first, version, " -> ".join(f"{c.backend}:{c.model}" for c in chain))
    console.print(models)
    if worker:
        import httpx

        health = httpx.get(f"{worker.rstrip('/')}/health", timeout=5).json()
        console.print(f"worker {worker}: {health.get('status')}, security model {health.get('security_model')}")
