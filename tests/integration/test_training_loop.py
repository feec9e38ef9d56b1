"""The whole training loop on the small model, against the embedded stack and a running worker:
replayed topics -> dataset -> 2 LoRA steps on CPU through Ray -> GGUF export -> evaluation ->
promotion on veil.control -> the worker hot-swaps and its next decisions come from the new version
(seen in the audit events in Elasticsearch)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import yaml

from tests.integration.stream_harness import es_docs, mixed_corpus, send, start_worker, stop_worker, wait_until
from veil.ops.demo import free_port as _port
from veil.ops.stack import elastic

pytest.importorskip("peft", reason="the train extra is not installed")
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]


def decisions_by(settings, model: str, batch: str) -> list[dict]:
    es = elastic.client(settings.elasticsearch)
    es.indices.refresh(index=settings.elasticsearch.audit_index)
    query = {"bool": {"filter": [{"term": {"veil.model": model}}, {"term": {"veil.batch": batch}}]}}
    return [h["_source"] for h in es.search(index=settings.elasticsearch.audit_index, query=query, size=200)["hits"]["hits"]]


def test_replay_train_export_gate_promote_and_the_worker_serves_the_new_version(stack_settings, tmp_path, small_model,
                                                                                 ner_model):
    since = datetime.now(UTC).isoformat()
    catalog, store = tmp_path / "catalog.yaml", tmp_path / "store"
    env = {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY": "smollm2-135m",
           "VEIL_MODELS__CATALOG_FILE": str(catalog), "VEIL_TRAINING__STORE_DIR": str(store)}
    log = tmp_path / "worker.log"
    worker = start_worker(stack_settings, log, _port(), **env)
    try:
        first = mixed_corpus(24, seed=21, invalid_share=0.0)
        send(stack_settings, first)
        wait_until(lambda: len(es_docs(stack_settings, first.batch)) >= first.valid, 600, "the first corpus", worker)
        assert decisions_by(stack_settings, "smollm2-135m", first.batch)  # the base model decided some candidates

        train_env = dict(os.environ, VEIL_KAFKA__BOOTSTRAP_SERVERS=stack_settings.kafka.bootstrap_servers,
                         VEIL_ELASTICSEARCH__URL=stack_settings.elasticsearch.url,
                         VEIL_STATE_DIR=str(stack_settings.state_dir), VEIL_TRAINING__SINCE=since,
                         VEIL_TRAINING__STEPS="2", VEIL_TRAINING__BATCH_SIZE="2", VEIL_TRAINING__EVAL_LIMIT="3",
                         VEIL_TRAINING__CHECKPOINT_EVERY="1", RAY_AUTH_MODE="disabled", **env)
        out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "train", "run", "--force"], env=train_env,
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        [run_dir] = (store / "runs").iterdir()
        run = yaml.safe_load((run_dir / "run.json").read_text())  # JSON is YAML
        assert run["status"] == "promoted" and run["train"]["steps"] == 2 and run["train"]["device"] == "cpu"
        assert run["dataset"]["read"]["decisions"] > 0 and run["dataset"]["skipped"].get("evaluation record", 0) > 0
        assert run["dataset"]["by_source"].get("bootstrap", 0) > 0
        for name in ("adapter.gguf", "Modelfile", "loss.png", "metrics.json", "loss.jsonl"):
            assert (run_dir / name).is_file(), name
        assert (run_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"
        assert "ADAPTER" in (run_dir / "Modelfile").read_text()
        assert {"held_out", "eval_set"} <= set(run["candidate"]) and run["candidate"]["eval_set"]["records"] == 3

        name = run["catalog_name"]
        entry = yaml.safe_load(catalog.read_text())[name]
        assert entry["adapter"]["version"] == run["id"] and entry["lineage"]["dataset"] == run["dataset"]["version"]
        assert entry["adapter"]["prompt"] == "zero-shot" and entry["lineage"]["base"] == "smollm2-135m"

        version = f"2025.02+{run['id']}"
        wait_until(lambda: f"control: security model now {name}@{version}" in log.read_text(), 180, "the swap", worker)
        after = mixed_corpus(16, seed=22, invalid_share=0.0)
        send(stack_settings, after)
        wait_until(lambda: len(es_docs(stack_settings, after.batch)) >= after.valid, 600, "the second corpus", worker)
        new = decisions_by(stack_settings, name, after.batch)
        assert new and {d["veil"]["model_version"] for d in new} == {version}
        assert not decisions_by(stack_settings, "smollm2-135m", after.batch)  # nothing from the old version
        history = subprocess.run([sys.executable, "-m", "veil.ops.cli", "train", "history", "--json"], env=train_env,
                                 capture_output=True, text=True, timeout=120)
        listed = [yaml.safe_load(line) for line in history.stdout.splitlines()]
        assert [(r["id"], r["status"]) for r in listed] == [(run["id"], "promoted")]
    finally:
        stop_worker(worker)
