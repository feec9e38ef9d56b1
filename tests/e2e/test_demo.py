"""The README's main job, run for real, then checked by querying Elasticsearch directly."""

import os
import re
import subprocess
import sys

import orjson
import pytest

from veil.ops.demo import corpus_dir, count_dead_letters, sensitive_values
from veil.ops.stack import dev, elastic
from veil.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


def corpus_counts() -> tuple[int, int]:
    """(valid, invalid) records in the bundled corpus, judged independently of the pipeline."""
    valid = invalid = 0
    for line in (corpus_dir() / "docs.jsonl").read_bytes().splitlines():
        try:
            ok = isinstance(orjson.loads(line).get("text"), str)
        except orjson.JSONDecodeError:
            ok = False
        valid, invalid = (valid + 1, invalid) if ok else (valid, invalid + 1)
    logs = [line for line in (corpus_dir() / "logs.txt").read_bytes().splitlines() if line.strip()]
    return valid + len(logs), invalid


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, VEIL_STATE_DIR=str(state_dir))
    settings = Settings(state_dir=state_dir)
    try:
        proc = subprocess.run([sys.executable, "-m", "veil.ops.cli", "demo", "--keep-up"], env=env,
                              capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        yield proc.stdout, dev.with_stack(settings)
    finally:
        dev.down(settings)


def all_docs(es, index: str) -> list[dict]:
    es.indices.refresh(index=index)
    return [h["_source"] for h in es.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]]


def test_when_demo_runs_then_each_valid_record_has_exactly_one_document(demo_run):
    _, settings = demo_run
    valid, _ = corpus_counts()
    docs = all_docs(elastic.client(settings.elasticsearch), settings.elasticsearch.redacted_index)
    assert len(docs) == valid
    assert len({d["id"] for d in docs}) == valid


def test_when_demo_runs_then_no_sensitive_value_is_in_the_redacted_index(demo_run):
    _, settings = demo_run
    es = elastic.client(settings.elasticsearch)
    docs = all_docs(es, settings.elasticsearch.redacted_index)
    audits = all_docs(es, settings.elasticsearch.audit_index)
    values = sensitive_values()
    assert len(values) >= 30
    for doc in docs + audits:
        blob = orjson.dumps(doc).decode()
        leaked = [v for v in values if v in blob or orjson.dumps(v).decode()[1:-1] in blob]
        assert not leaked, f"{doc.get('id')} leaks {len(leaked)} value(s)"


def test_when_demo_runs_then_an_audit_event_exists_for_every_redaction(demo_run):
    _, settings = demo_run
    es = elastic.client(settings.elasticsearch)
    docs = all_docs(es, settings.elasticsearch.redacted_index)
    audits = all_docs(es, settings.elasticsearch.audit_index)
    redactions = {(d["id"], r["start"], r["end"]) for d in docs for r in d["redactions"]}
    redact_events = {(a["veil"]["record_id"], a["veil"]["start"], a["veil"]["end"])
                     for a in audits if a["event"]["action"] == "redact"}
    assert redactions and redactions == redact_events
    assert all(a["veil"]["value_hash"] and len(a["veil"]["value_hash"]) == 64 for a in audits)


def test_when_demo_runs_then_invalid_records_are_dead_lettered_and_summary_printed(demo_run):
    out, settings = demo_run
    valid, invalid = corpus_counts()
    assert invalid == 3
    # every batch the demo produced: count all dead letters on the topic
    batch = out.split("(batch ", 1)[1].split(")", 1)[0]
    assert count_dead_letters(settings.kafka.bootstrap_servers, settings.topic("deadletter"), batch) == invalid
    summary = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"│ ([A-Za-z ]+?)\s+│ (\d+)\s+│", out)}
    assert summary["records in"] == valid + invalid
    assert summary["redacted documents in Elasticsearch"] == valid
    assert summary["dead letters"] == invalid
    assert "redacted documents, as stored in Elasticsearch" in out


def test_when_demo_runs_then_the_worker_http_api_answered_with_the_same_counts(demo_run):
    out, _ = demo_run
    valid, invalid = corpus_counts()
    line = next(x for x in out.splitlines() if x.startswith("worker HTTP API on port"))
    assert "/health ok" in line
    assert "ana.berg@example.org" not in line and "4111 1111 1111 1111" not in line and "<EMAIL_1>" in line
    counts = {name: int(n) for n, name in re.findall(r"(\d+) (records consumed|documents indexed|dead letters)", line)}
    assert counts["records consumed"] == valid + invalid and counts["dead letters"] == invalid
    assert counts["documents indexed"] >= valid  # redacted documents plus audit events
