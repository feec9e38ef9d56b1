"""`veil redact` with its default pipeline: detectors, NER and both LLM roles on the small model."""

import os
import subprocess
import sys

import orjson
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_when_llms_configured_then_uncertain_spans_are_judged_by_the_model(small_model, ner_model):
    env = dict(os.environ, VEIL_MODELS__GENERAL="smollm2-135m", VEIL_MODELS__SECURITY="smollm2-135m")
    lines = b"login failed for tom@example.org from 10.8.2.14\nGET /healthz 200 2ms\n"
    proc = subprocess.run([sys.executable, "-m", "veil.ops.cli", "redact", "--format", "text", "--output-format", "jsonl"],
                          input=lines,
                          capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = (orjson.loads(x) for x in proc.stdout.splitlines())
    assert "tom@example.org" not in first["redacted_text"]
    by_entity = {f["entity"]: f for f in first["findings"]}
    assert by_entity["EMAIL"]["decided_by"] == "policy"
    assert by_entity["IP_ADDRESS"]["decided_by"] == "model"  # 0.8 < auto threshold: the judge decided
    assert second["redacted_text"] == "GET /healthz 200 2ms"
    stderr = proc.stderr.decode()
    assert "model smollm2-135m@2025.02: " in stderr and "tok/s" in stderr  # per-model figures of the run
