"""``veil demo``: the main job on the embedded stack, end to end, with a summary from Elasticsearch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from veil.composition import KafkaConnection, client_config
from veil.errors import VeilError
from veil.ops.produce import produce
from veil.settings import Settings


def corpus_dir() -> Path:
    return Path(str(resources.files("veil.ops").joinpath("resources/corpus")))


def sensitive_values() -> list[str]:
    lines = (corpus_dir() / "sensitive.txt").read_text().splitlines()
    return [v for v in (line.strip() for line in lines) if v and not v.startswith("#")]


@dataclass
class Progress:
    records_in: int
    redacted: int = 0
    audit_events: int = 0
    dead_letters: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    decided_by: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.redacted + self.dead_letters >= self.records_in


def count_dead_letters(bootstrap: KafkaConnection, topic: str, batch: str, idle: float = 1.0) -> int:
    """Dead letters of ``batch``, counted by reading the whole topic.

    Partitions are assigned directly (no group join, which costs seconds on a fresh group), and
    reading stops after ``idle`` seconds without a message: watermarks are not trusted for "done".
    """
    c = Consumer(client_config(bootstrap, {"group.id": "veil-demo-reader", "auto.offset.reset": "earliest",
                                           "enable.auto.commit": False}))
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        n, idle_until = 0, time.monotonic() + idle
        while time.monotonic() < idle_until:
            msg = c.poll(0.1)
            if msg is None or msg.error() or (value := msg.value()) is None:
                continue
            idle_until = time.monotonic() + idle
            if orjson.loads(value).get("batch") == batch:
                n += 1
    finally:
        c.close()
    return n


def es_progress(es, settings: Settings, batch: str, progress: Progress) -> None:
    e = settings.elasticsearch
    es.indices.refresh(index=f"{e.redacted_index},{e.audit_index}")
    progress.redacted = es.count(index=e.redacted_index, query={"term": {"batch": batch}})["count"]
    res = es.search(index=e.audit_index, size=0, query={"term": {"veil.batch": batch}},
                    aggs={"entity": {"terms": {"field": "veil.entity", "size": 50}},
                          "by": {"terms": {"field": "veil.decided_by", "size": 10}}})
    progress.audit_events = res["hits"]["total"]["value"]
    progress.entities = {b["key"]: b["doc_count"] for b in res["aggregations"]["entity"]["buckets"]}
    progress.decided_by = {b["key"]: b["doc_count"] for b in res["aggregations"]["by"]["buckets"]}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_worker(settings: Settings, log_path: Path, config: Path | None, web_port: int | None = None,
                 env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, **(env or {})}
    env["VEIL_KAFKA__BOOTSTRAP_SERVERS"] = settings.kafka.bootstrap_servers or ""
    env["VEIL_ELASTICSEARCH__URL"] = settings.elasticsearch.url or ""
    if settings.dev is not None:
        env["VEIL_DEV"] = "true" if settings.dev else "false"
    if web_port is not None:
        env["VEIL_STREAM__WEB_PORT"] = str(web_port)
    cmd = [sys.executable, "-m", "veil.ops.cli", *(["--config", str(config)] if config else []), "run"]
    with log_path.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop_worker(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def produce_corpus(settings: Settings, batch: str) -> int:
    d = corpus_dir()
    docs = [line for line in (d / "docs.jsonl").read_bytes().splitlines() if line.strip()]
    logs = [line for line in (d / "logs.txt").read_bytes().splitlines() if line.strip()]
    boot = settings.kafka
    return (produce(boot, settings.topic("docs.in"), docs, batch=batch)
            + produce(boot, settings.topic("logs.in"), logs, batch=batch))


def wait_for(settings: Settings, es, batch: str, records_in: int, worker: subprocess.Popen, timeout: float,
             on_tick=None) -> Progress:
    progress = Progress(records_in=records_in)
    deadline = time.monotonic() + timeout
    while True:
        if worker.poll() is not None:
            raise VeilError(f"the worker exited with code {worker.returncode}; see its log")
        es_progress(es, settings, batch, progress)
        progress.dead_letters = count_dead_letters(settings.kafka,
                                                   settings.topic("deadletter"), batch)
        if on_tick:
            on_tick(progress)
        if progress.done:
            return progress
        if time.monotonic() > deadline:
            raise VeilError(f"timed out after {timeout:.0f}s with {progress.redacted + progress.dead_letters}"
                            f" of {records_in} records accounted for")
        time.sleep(1.0)


SAMPLE = {"id": "api-check", "text": "Please reset the password for ana.berg@example.org (card 4111 1111 1111 1111)."}


def check_http(port: int, timeout: float = 30.0, token: str | None = None) -> dict:
    """Call the worker's HTTP API once each: health, a synchronous redaction, the metrics."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base, timeout=timeout, headers=auth) as http:
        health = http.get("/health").json()
        redacted = http.post("/v1/redact", content=orjson.dumps(SAMPLE),
                             headers={"Content-Type": "application/json"}).json()
        text = http.get("/metrics").text
    counters: dict[str, float] = {}
    for line in text.splitlines():
        for name in ("veil_records_consumed_total", "veil_documents_indexed_total", "veil_dead_letters_total"):
            if line.startswith(name + "{"):
                counters[name] = counters.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return {"health": health, "redacted": redacted, "metrics": counters}


def sample_documents(es, settings: Settings, batch: str, n: int = 4) -> list[dict]:
    res = es.search(index=settings.elasticsearch.redacted_index, size=n, query={"term": {"batch": batch}},
                    sort=[{"id": "asc"}])
    return [h["_source"] for h in res["hits"]["hits"]]
