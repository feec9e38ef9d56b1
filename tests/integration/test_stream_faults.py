"""At-least-once under faults, on the embedded stack with a real worker process.

Each test streams a mixed corpus (documents, log lines, invalid inputs) through `veil run` and ends
with exact counts read back from Elasticsearch and the dead-letter topic.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from tests.conftest import running_stack
from tests.integration.stream_harness import (
    audit_count,
    dead_letters,
    doc_count,
    es_docs,
    mixed_corpus,
    operator_events,
    send,
    start_worker,
    stop_worker,
    wait_until,
)
from veil.ops.demo import free_port as _port
from veil.ops.stack import dev, elastic
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]
#: Every finding redacted by policy: these tests are about delivery, not about the model.
FAST = {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY": "smollm2-135m",
        "VEIL_POLICY__AUTO_REDACT_SCORE": "0.3"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, small_model, ner_model):
    """A stack of its own: these tests count everything that comes out of it."""
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("faults"), app_id="veil-faults"))


def complete(settings, corpus):
    def check():
        docs = es_docs(settings, corpus.batch)
        return docs if len(docs) >= corpus.valid else None
    return check


def assert_exact(settings, corpus, docs):
    assert len(docs) == corpus.valid and len({d["id"] for d in docs}) == corpus.valid  # one per record, no duplicates
    total, distinct = wait_until(lambda: (n := dead_letters(settings, corpus.batch))[1] >= corpus.invalid and n,
                                 60, "dead letters")
    assert distinct == corpus.invalid and total >= distinct
    redactions = sum(len(d["redactions"]) for d in docs)
    wait_until(lambda: audit_count(settings, corpus.batch) >= redactions, 60, "audit events")
    assert audit_count(settings, corpus.batch) == redactions  # one audit event per redaction, none twice
    leaked = {v for d in docs for v in corpus.sensitive if v in d["redacted_text"]}
    assert not leaked, f"{len(leaked)} known sensitive values in the redacted index"
    return total, distinct


def fail_closed_events(settings, batch: str) -> list[dict]:
    """Audit events of ``batch`` decided by the fail-closed rule."""
    es = elastic.client(settings.elasticsearch)
    es.indices.refresh(index=settings.elasticsearch.audit_index)
    query = {"bool": {"filter": [{"term": {"veil.batch": batch}}, {"term": {"veil.decided_by": "fail_closed"}}]}}
    return [h["_source"] for h in es.search(index=settings.elasticsearch.audit_index, query=query, size=10_000)["hits"]["hits"]]


def test_2000_mixed_records_end_to_end(stack, tmp_path):
    corpus = mixed_corpus(2000, seed=1)
    worker = start_worker(stack, tmp_path / "worker.log", _port(), **FAST)
    try:
        send(stack, corpus)
        docs = wait_until(complete(stack, corpus), 900, "2000 records in Elasticsearch", worker)
        assert_exact(stack, corpus, docs)
        assert len(corpus.sensitive) > 200
    finally:
        stop_worker(worker)


def test_worker_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(stack, tmp_path):
    corpus = mixed_corpus(1200, seed=2)
    log = tmp_path / "worker.log"
    worker = start_worker(stack, log, _port(), **FAST)
    try:
        send(stack, corpus, 0, 4)
        wait_until(lambda: len(es_docs(stack, corpus.batch)) >= 100, 300, "the first 100 documents", worker, every=0.5)
        before = doc_count(stack, corpus.batch)
        for part in (1, 2, 3):
            send(stack, corpus, part, 4)
        # Kill as soon as the backlog is moving, however fast this machine is: records are in flight.
        wait_until(lambda: doc_count(stack, corpus.batch) >= before + 30, 300, "the backlog to move", worker,
                   every=0.05)
        stop_worker(worker, kill=True)  # SIGKILL: no shutdown, offsets of in-flight records not committed
        assert doc_count(stack, corpus.batch) < corpus.valid  # killed mid-stream
        worker = start_worker(stack, log, _port(), **FAST)
        docs = wait_until(complete(stack, corpus), 600, "every record after the restart", worker)
        assert_exact(stack, corpus, docs)
    finally:
        stop_worker(worker)


def test_elasticsearch_down_for_30s_mid_stream_backs_off_and_drops_nothing(stack, tmp_path):
    corpus = mixed_corpus(600, seed=3)
    worker = start_worker(stack, tmp_path / "worker.log", _port(), **FAST)
    try:
        send(stack, corpus, 0, 2)
        wait_until(lambda: len(es_docs(stack, corpus.batch)) >= 50, 300, "the first 50 documents", worker, every=0.5)
        dev.stop_elasticsearch(stack)
        send(stack, corpus, 1, 2)  # arrives while Elasticsearch is down
        time.sleep(30)
        assert worker.poll() is None  # the worker waits it out
        dev.start_elasticsearch(stack)
        docs = wait_until(complete(stack, corpus), 600, "every record after ES came back", worker)
        assert_exact(stack, corpus, docs)
        assert "sink flush incomplete, retrying" in (tmp_path / "worker.log").read_text()
    finally:
        stop_worker(worker)


def test_security_provider_down_fails_closed(stack, tmp_path):
    corpus = mixed_corpus(120, seed=4)
    dead = '[{"backend": "openai", "model": "m", "url": "http://127.0.0.1:9/v1", "timeout_s": 2}]'
    env = {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY_CHAIN": dead,
           "VEIL_MODELS__RETRIES": "1", "VEIL_STREAM__ON_MODEL_FAILURE": "redact"}
    worker = start_worker(stack, tmp_path / "worker.log", _port(), **env)
    try:
        send(stack, corpus)
        docs = wait_until(complete(stack, corpus), 600, "every record with the provider down", worker)
        assert_exact(stack, corpus, docs)
        closed = [d for d in docs if "fail_closed" in d["decision_modes"]]
        assert closed and not any("model" in d["decision_modes"] for d in docs)
    finally:
        stop_worker(worker)


def test_security_provider_down_for_a_while_holds_records_until_it_is_back(stack, tmp_path, small_model):
    corpus = mixed_corpus(60, seed=5)
    port = _port()
    chain = f'[{{"backend": "openai", "model": "smollm2-135m", "url": "http://127.0.0.1:{port}/v1", "schema_mode": "json_object", "timeout_s": 30}}]'
    env = {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY_CHAIN": chain, "VEIL_MODELS__RETRIES": "1",
           "VEIL_MODELS__BREAKER_RESET_S": "2", "VEIL_STREAM__ON_MODEL_FAILURE": "hold",
           "VEIL_STREAM__HOLD_BACKOFF_MAX_S": "2"}
    log = tmp_path / "worker.log"
    worker = start_worker(stack, log, _port(), **env)
    server = None
    try:
        send(stack, corpus)
        wait_until(lambda: "holding record=" in log.read_text(), 300, "the worker to hold a record", worker)
        held_docs = len(es_docs(stack, corpus.batch))
        assert held_docs < corpus.valid  # records that need the model are not written meanwhile
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(small_model), "--model_alias", "smollm2-135m",
             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"OMP_WAIT_POLICY": "PASSIVE", "PATH": ""})
        docs = wait_until(complete(stack, corpus), 900, "every record once the provider is back", worker)
        assert_exact(stack, corpus, docs)
        # held, never redacted blind: no decision fell back for want of the model (a question the
        # small model answered with no valid decision is redacted too, and says so)
        blind = [e for e in fail_closed_events(stack, corpus.batch) if "unavailable" in e["veil"]["rationale"]]
        assert not blind, f"{len(blind)} decisions redacted because the security model was unavailable"
        assert any("model" in d["decision_modes"] for d in docs)
    finally:
        stop_worker(worker)
        if server is not None:
            server.terminate()
            server.wait(10)


def test_promote_hot_swaps_the_security_model_of_a_running_worker(stack, tmp_path):
    import os

    corpus = mixed_corpus(100, seed=6)
    since = datetime.now(UTC).isoformat()
    log = tmp_path / "worker.log"
    env = {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY": "smollm2-135m"}
    worker = start_worker(stack, log, _port(), **env)
    try:
        send(stack, corpus, 0, 2)
        wait_until(lambda: len(es_docs(stack, corpus.batch)) >= 10, 300, "the first documents", worker, every=0.5)
        cli_env = dict(os.environ, VEIL_KAFKA__BOOTSTRAP_SERVERS=stack.kafka.bootstrap_servers,
                       VEIL_ELASTICSEARCH__URL=stack.elasticsearch.url, VEIL_STATE_DIR=str(stack.state_dir))
        out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "models", "promote", "smollm2-135m"], env=cli_env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        send(stack, corpus, 1, 2)
        docs = wait_until(complete(stack, corpus), 600, "every record across the swap", worker)
        assert_exact(stack, corpus, docs)
        wait_until(lambda: "control: security model now smollm2-135m@2025.02" in log.read_text(), 120, "the swap", worker)
        assert "swap to" not in log.read_text()  # no failed swap
        promoted = wait_until(lambda: operator_events(stack, "model-promote", since), 60, "the promote audit event")
        swapped = wait_until(lambda: operator_events(stack, "model-swap", since), 60, "the swap audit event")
        assert [(e["veil"]["operation"]["model"], e["event"]["category"]) for e in promoted] == [("smollm2-135m", ["configuration"])]
        assert [(e["event"]["outcome"], e["veil"]["operation"]["model"]) for e in swapped] == [("success", "smollm2-135m@2025.02")]
    finally:
        stop_worker(worker)
