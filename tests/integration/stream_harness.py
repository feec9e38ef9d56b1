"""Helpers for whole-stream tests: a mixed corpus, a worker process, and counting what came out."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from veil.evaluation import dataset
from veil.evaluation.logs import typical_lines
from veil.ops.kafka_range import Position, read_range
from veil.ops.produce import produce
from veil.ops.stack import elastic
from veil.schemas import DeadLetter, loads
from veil.settings import Settings

#: Labels the detectors catch by format or checksum; names come from NER, which can miss some.
STRUCTURED = {"EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
              "GITHUB_TOKEN", "GITLAB_TOKEN", "SLACK_TOKEN", "STRIPE_KEY", "SENDGRID_API_KEY", "NPM_TOKEN", "JWT",
              "PRIVATE_KEY", "PASSWORD", "API_KEY", "INTERNAL_HOSTNAME", "MAC_ADDRESS"}


@dataclass
class Corpus:
    batch: str
    docs: list[bytes]
    logs: list[bytes]
    invalid_docs: list[bytes]
    sensitive: set[str]

    @property
    def valid(self) -> int:
        return len(self.docs) + len(self.logs)

    @property
    def invalid(self) -> int:
        return len(self.invalid_docs)


def mixed_corpus(n: int, *, seed: int = 11, invalid_share: float = 0.03) -> Corpus:
    """About half documents from the labelled set (ids unique per batch), half typical log lines
    (10% with sensitive values), and a few invalid inputs of each kind."""
    rng = random.Random(seed)
    batch = uuid.uuid4().hex[:10]
    records = dataset.build()
    n_invalid = max(3, int(n * invalid_share))
    n_docs = (n - n_invalid) // 2
    docs, sensitive = [], set()
    for i in range(n_docs):
        rec = records[i % len(records)]
        docs.append(orjson.dumps({"id": f"{batch}-{i}", "text": rec.text, "source": rng.choice(["crm", "support", "hr"])}))
        sensitive |= {rec.text[s.start:s.end] for s in rec.spans if s.type in STRUCTURED and s.end - s.start >= 6}
    logs = [line.encode() for line in typical_lines(n - n_invalid - n_docs, seed=seed)]
    invalid = [b"{not json", b'{"id": "x"}', b'{"text": ""}', b'{"text": "ok", "bogus": 1}'] * (n_invalid // 4 + 1)
    return Corpus(batch, docs, logs, invalid[:n_invalid], sensitive)


def send(settings: Settings, corpus: Corpus, part: int = 0, parts: int = 1) -> None:
    """Produce the corpus, or its ``part``-th of ``parts`` slices (to put a fault between them)."""
    boot = settings.kafka.bootstrap_servers
    cut = lambda xs: xs[part::parts]  # noqa: E731
    produce(boot, settings.topic("docs.in"), cut(corpus.docs) + cut(corpus.invalid_docs), batch=corpus.batch)
    produce(boot, settings.topic("logs.in"), cut(corpus.logs), batch=corpus.batch)


def start_worker(settings: Settings, log: Path, port: int, **env: str) -> subprocess.Popen:
    full = {**os.environ, "VEIL_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "VEIL_ELASTICSEARCH__URL": settings.elasticsearch.url, "VEIL_STATE_DIR": str(settings.state_dir),
            "VEIL_APP_ID": settings.app_id, "VEIL_STREAM__WEB_PORT": str(port), **env}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "veil.ops.cli", "run"], stdout=out, stderr=subprocess.STDOUT,
                                env=full, start_new_session=True)


def stop_worker(proc: subprocess.Popen, *, kill: bool = False) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def es_docs(settings: Settings, batch: str) -> list[dict]:
    """Every redacted document of ``batch``, read back from Elasticsearch."""
    es = elastic.client(settings.elasticsearch)
    index = settings.elasticsearch.redacted_index
    es.indices.refresh(index=index)
    out, after = [], None
    while True:
        body = {"size": 500, "query": {"term": {"batch": batch}}, "sort": [{"id": "asc"}]}
        if after:
            body["search_after"] = after
        hits = es.search(index=index, **body)["hits"]["hits"]
        if not hits:
            return out
        out += [h["_source"] for h in hits]
        after = hits[-1]["sort"]


def doc_count(settings: Settings, batch: str) -> int:
    """How many redacted documents of ``batch`` Elasticsearch holds (duplicates included)."""
    es = elastic.client(settings.elasticsearch)
    es.indices.refresh(index=settings.elasticsearch.redacted_index)
    return es.count(index=settings.elasticsearch.redacted_index, query={"term": {"batch": batch}})["count"]


def audit_count(settings: Settings, batch: str, action: str = "redact") -> int:
    """Audit events of ``batch`` with ``action`` (redact or keep)."""
    es = elastic.client(settings.elasticsearch)
    es.indices.refresh(index=settings.elasticsearch.audit_index)
    query = {"bool": {"filter": [{"term": {"veil.batch": batch}}, {"term": {"event.action": action}}]}}
    return es.count(index=settings.elasticsearch.audit_index, query=query)["count"]


def operator_events(settings: Settings, action: str, since: str) -> list[dict]:
    """Operator actions ``action`` indexed in the audit index since ``since`` (an ISO time)."""
    es = elastic.client(settings.elasticsearch)
    es.indices.refresh(index=settings.elasticsearch.audit_index)
    query = {"bool": {"filter": [{"term": {"event.action": action}}, {"range": {"@timestamp": {"gte": since}}}]}}
    return [h["_source"] for h in es.search(index=settings.elasticsearch.audit_index, query=query, size=100)["hits"]["hits"]]


def dead_letters(settings: Settings, batch: str) -> tuple[int, int]:
    """(dead letters of ``batch``, distinct source positions among them): at-least-once may repeat one."""
    seen, total = set(), 0
    for msg in read_range(settings.kafka.bootstrap_servers, settings.topic("deadletter"), Position(special="earliest")):
        dl = loads(DeadLetter, msg.value)
        if dl.batch == batch:
            total += 1
            seen.add((dl.origin.topic, dl.origin.partition, dl.origin.offset))
    return total, len(seen)


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the worker exited with {proc.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def drain(sink) -> int:
    """Step a subscribed TopicSink until it has joined its group and three steps in a row found
    nothing; returns the documents it indexed."""
    indexed, idle, deadline = 0, 0, time.monotonic() + 60
    while not sink.assigned and time.monotonic() < deadline:  # joining the group
        indexed += sink.step()
    while idle < 3:
        n = sink.step()
        indexed, idle = indexed + n, (idle + 1 if n == 0 else 0)
    return indexed


def health(port: int) -> tuple[int, dict] | None:
    """A worker's GET /health: (status, body), or None while nothing answers."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())
    except OSError:
        return None
