"""``veil bench``: the whole pipeline (produce -> Kafka -> stages -> Elasticsearch), three ways, on
the same input in one run:

- ``veil``: Veil as configured (log templates, reused model answers, settled records skipping the
  security topic), measured with the caches warm;
- ``llm-every``: the same models asked about every message (no templates, no reuse);
- ``detectors``: the deterministic detectors alone (no model; undecided candidates redacted).

Each mode gets its own topics, indices and worker process. Throughput counts from the first
record produced to the last one indexed; latency is the redacted document's ``processed_at``
minus the Kafka time of its input record; CPU and peak memory are the worker's process tree
(with the Ray actors) and, apart, the broker and the Elasticsearch server.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
from pydantic import BaseModel

from veil.composition import KafkaConnection, client_config
from veil.errors import VeilError
from veil.ops import demo
from veil.ops.produce import produce
from veil.settings import Settings

MODES: dict[str, tuple[str, dict[str, str]]] = {
    "veil": ("Veil (templates + caches, warm)", {}),
    "llm-every": ("LLM on every message", {"VEIL_CACHE__TEMPLATES": "false", "VEIL_CACHE__REUSE": "false"}),
    "detectors": ("detectors only", {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY_ENABLED": "false",
                                     "VEIL_CACHE__TEMPLATES": "false", "VEIL_CACHE__REUSE": "false"}),
}
_TICK = os.sysconf("SC_CLK_TCK")


class ModeResult(BaseModel):
    mode: str
    description: str
    records: int
    warmup_records: int
    seconds: float
    records_per_s: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None
    llm_calls_per_1000: float
    cache_hit_rate: float | None
    worker_cpu_s: float
    worker_cpu_percent: float
    worker_process_cpu_s: float  # the Faust process alone (the rest: Ray and its actors)
    broker_cpu_s: float | None
    elasticsearch_cpu_s: float | None
    peak_rss_mb: float
    stage_rates: dict[str, float]
    slowest_stage: str | None
    dead_letters: int


class BenchReport(BaseModel):
    input: dict
    machine: dict
    modes: list[ModeResult]
    speedup_vs_llm_every: float | None


# --- processes ---------------------------------------------------------------------------------

def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, cpu seconds, rss MiB) of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _cpu(pids: list[int]) -> float:
    return sum(st[1] for p in pids if (st := _stat(p)) is not None)


def _rss(pids: list[int]) -> float:
    return sum(st[2] for p in pids if (st := _stat(p)) is not None)


# --- the worker's own figures -------------------------------------------------------------------

def scrape(port: int) -> dict[str, float]:
    """The worker's Prometheus samples, summed over labels not kept: ``name{label=value}`` -> value."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = out.get(name, 0.0) + float(value)
    return out


def _sum(samples: dict[str, float], prefix: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in samples.items() if k.startswith(prefix) and all(w in k for w in want))


def stage_rates(before: dict[str, float], after: dict[str, float], index_redacted: str) -> dict[str, float]:
    """Records per busy second of each stage over the window (its own speed, not the pipeline's)."""
    rates: dict[str, float] = {}
    for stage in ("analyze", "settle", "emit", "decide"):
        n = _sum(after, "veil_stage_records_total", stage=stage) - _sum(before, "veil_stage_records_total", stage=stage)
        s = _sum(after, "veil_stage_busy_seconds_total", stage=stage) - _sum(before, "veil_stage_busy_seconds_total", stage=stage)
        if n > 0 and s > 0:
            rates[stage] = round(n / s, 2)
    # the sink writes a record's document and its audit events in one bulk: records per second of all its time
    n = _sum(after, "veil_documents_indexed_total", index=index_redacted) - _sum(before, "veil_documents_indexed_total", index=index_redacted)
    s = _sum(after, "veil_sink_seconds_total") - _sum(before, "veil_sink_seconds_total")
    if n > 0 and s > 0:
        rates["sink"] = round(n / s, 1)
    return rates


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def latencies(bootstrap: KafkaConnection, topic: str, batch: str, expected: int, timeout: float = 60.0) -> list[float]:
    """processed_at - @timestamp of the batch's redacted documents, read back from their topic."""
    from datetime import datetime

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(client_config(bootstrap, {"group.id": f"veil-bench-{uuid.uuid4().hex[:6]}",
                                           "enable.auto.commit": False}))
    out: list[float] = []
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        deadline, idle_until = time.monotonic() + timeout, time.monotonic() + 5
        while len(out) < expected and time.monotonic() < min(deadline, idle_until):
            for msg in c.consume(1000, timeout=0.5):
                if msg.error() or (value := msg.value()) is None:
                    continue
                idle_until = time.monotonic() + 5
                doc = orjson.loads(value)
                if doc.get("batch") == batch:
                    took = datetime.fromisoformat(doc["processed_at"]) - datetime.fromisoformat(doc["@timestamp"])
                    out.append(took.total_seconds())
    finally:
        c.close()
    return out


# --- one mode -----------------------------------------------------------------------------------

def _count(es, index: str, batch: str) -> int:
    try:
        return int(es.count(index=index, query={"term": {"batch": batch}})["count"])
    except Exception:  # noqa: BLE001 - the index may not be refreshed or created yet
        return 0


def _indexed(port: int, index: str) -> float:
    return _sum(scrape(port), "veil_documents_indexed_total", index=index)


def _wait_indexed(port: int, index: str, target: float, worker: subprocess.Popen, timeout: float,
                  sample: Callable[[], None] | None = None) -> float:
    """Until the worker has indexed ``target`` documents into ``index`` in all. Its own counter, not
    Elasticsearch count queries: polling those would cost the server more than the writes."""
    deadline = time.monotonic() + timeout
    while True:
        if worker.poll() is not None:
            raise VeilError(f"the bench worker exited with code {worker.returncode}; see its log")
        if sample is not None:
            sample()
        if _indexed(port, index) >= target:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise VeilError(f"timed out after {timeout:.0f}s waiting for {target} documents")
        time.sleep(0.2)


def _drop(s: Settings, es) -> None:
    """Remove a mode's indices and topics: the dev stack's stores keep everything in memory or
    one file, and what earlier runs left would slow the next."""
    from confluent_kafka.admin import AdminClient

    from veil.settings import TOPICS

    try:
        names = list(es.indices.get(index=f"{s.elasticsearch.index_prefix}-*"))  # by name: real clusters
        if names:                                                                 # refuse wildcard deletes
            es.indices.delete(index=",".join(names))
        AdminClient(client_config(s.kafka)).delete_topics([s.topic(t) for t in TOPICS])
    except Exception as err:  # noqa: BLE001 - cleanup must not hide the result
        print(f"could not clean up {s.app_id}: {type(err).__name__}: {err}")


def _wait_http(port: int, worker: subprocess.Popen, timeout: float = 180.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise VeilError(f"the bench worker exited with code {worker.returncode}; see its log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise VeilError("the bench worker did not come up")


def _send(bootstrap: KafkaConnection, topic: str, lines: list[bytes], batch: str, rate: float | None) -> None:
    if not rate:
        produce(bootstrap, topic, lines, batch=batch)
        return
    step = max(1, int(rate / 20))  # 20 bursts a second
    started = time.monotonic()
    for i in range(0, len(lines), step):
        produce(bootstrap, topic, lines[i:i + step], batch=batch)
        wait = started + (i + step) / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def run_mode(settings: Settings, mode: str, lines: list[bytes], warmup: list[bytes], *, run_id: str,
             rate: float | None, timeout: float, log_dir: Path, config: Path | None = None,
             stack_pids: dict[str, int] | None = None, echo: Callable[[str], None] = print) -> ModeResult:
    from veil.ops.stack import elastic, topics

    description, env = MODES[mode]
    prefix = f"bench-{run_id}-{mode}"
    s = settings.model_copy(update={
        "app_id": prefix,
        "kafka": settings.kafka.model_copy(update={"topic_prefix": prefix}),
        "elasticsearch": settings.elasticsearch.model_copy(update={"index_prefix": prefix}),
    })
    bootstrap = s.kafka
    topics.ensure_topics(s, bootstrap)
    es = elastic.client(s.elasticsearch)
    elastic.install(es, s.elasticsearch)
    port = demo.free_port()
    env = {**env, "VEIL_APP_ID": prefix, "VEIL_KAFKA__TOPIC_PREFIX": prefix, "VEIL_ELASTICSEARCH__INDEX_PREFIX": prefix}
    worker = demo.start_worker(s, log_dir / f"{prefix}.log", config, web_port=port, env=env)
    index = s.elasticsearch.redacted_index
    topic = s.topic("logs.in")
    try:
        _wait_http(port, worker)
        echo(f"{mode}: worker up; warming up with {len(warmup)} lines")
        warm_batch = f"{prefix}-warm"
        target = _indexed(port, index) + len(warmup)
        produce(bootstrap, topic, warmup, batch=warm_batch)
        _wait_indexed(port, index, target, worker, timeout)
        before, pids = scrape(port), _tree(worker.pid)
        cpu0, own0 = _cpu(pids), _cpu([worker.pid])
        stack_trees = {k: _tree(p) for k, p in (stack_pids or {}).items()}
        stack0 = {k: _cpu(t) for k, t in stack_trees.items()}
        peak = [_rss(pids)]
        batch = f"{prefix}-run"
        echo(f"{mode}: sending {len(lines)} lines" + (f" at {rate:.0f}/s" if rate else ""))
        baseline = _indexed(port, index)
        started = time.monotonic()
        sender = threading.Thread(target=_send, args=(bootstrap, topic, lines, batch, rate), daemon=True)
        sender.start()
        last = [0.0]

        def sample() -> None:
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                peak.append(_rss(_tree(worker.pid)))

        done = _wait_indexed(port, index, baseline + len(lines), worker, timeout, sample)
        es.indices.refresh(index=index)
        if _count(es, index, batch) != len(lines):  # the worker's count agrees with Elasticsearch's
            raise VeilError(f"Elasticsearch holds {_count(es, index, batch)} of {len(lines)} documents of {batch}")
        seconds = done - started
        pids = _tree(worker.pid)
        cpu, own = _cpu(pids) - cpu0, _cpu([worker.pid]) - own0
        stack = {k: round(_cpu(t) - stack0[k], 2) for k, t in stack_trees.items()}
        after = scrape(port)
        lat = latencies(bootstrap, s.topic("redacted"), batch, len(lines))
    finally:
        demo.stop_worker(worker)
        _drop(s, es)
    calls = _sum(after, "veil_model_questions_total") - _sum(before, "veil_model_questions_total")
    hits = _sum(after, "veil_cache_hits_total") - _sum(before, "veil_cache_hits_total")
    misses = _sum(after, "veil_cache_misses_total") - _sum(before, "veil_cache_misses_total")
    rates = stage_rates(before, after, index)
    return ModeResult(
        mode=mode, description=description, records=len(lines), warmup_records=len(warmup), seconds=round(seconds, 2),
        records_per_s=round(len(lines) / seconds, 1), latency_p50_s=_percentile(lat, 0.5),
        latency_p95_s=_percentile(lat, 0.95), latency_p99_s=_percentile(lat, 0.99),
        llm_calls_per_1000=round(1000 * calls / len(lines), 1),
        cache_hit_rate=round(hits / (hits + misses), 4) if hits + misses else None,
        worker_cpu_s=round(cpu, 2), worker_cpu_percent=round(100 * cpu / seconds, 1), worker_process_cpu_s=round(own, 2),
        broker_cpu_s=stack.get("tansu"), elasticsearch_cpu_s=stack.get("noida-db"),
        peak_rss_mb=round(max(peak), 1), stage_rates=rates,
        slowest_stage=min(rates, key=rates.__getitem__) if rates else None,
        dead_letters=int(_sum(after, "veil_dead_letters_total") - _sum(before, "veil_dead_letters_total")),
    )
