"""`veil eval` with both LLM roles on the small model: the same figures with and without the caches,
with fewer questions to the models when they are on."""

import os
import subprocess
import sys

import orjson
import pytest

from veil.evaluation import dataset

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _eval(labels, out, *flags):
    env = dict(os.environ, VEIL_MODELS__GENERAL="smollm2-135m", VEIL_MODELS__SECURITY="smollm2-135m")
    proc = subprocess.run([sys.executable, "-m", "ops.cli", "eval", "--labels", str(labels), "--json", str(out), *flags],
                          capture_output=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = orjson.loads(out.read_bytes())
    return report.pop("run"), report


def test_eval_figures_are_the_same_with_and_without_the_cache(tmp_path, small_model, ner_model):
    # Log records of a dozen templates (four lines each, where reuse pays) and a few documents.
    records = dataset.build()
    logs = [r for r in records if r.group == "log"][:48]
    docs = [r for r in records if r.group == "document"][:6]
    labels = tmp_path / "subset.jsonl"
    labels.write_bytes(b"".join(orjson.dumps(r.model_dump()) + b"\n" for r in logs + docs))
    run_on, on = _eval(labels, tmp_path / "on.json")
    run_off, off = _eval(labels, tmp_path / "off.json", "--no-cache")
    assert on == off  # every figure: per label, per entity, leaks
    assert on["records"] == len(logs) + len(docs)
    asked_on, asked_off = run_on["questions"], run_off["questions"]
    assert asked_off["general"] == len(logs) + len(docs)  # once per record without the cache
    assert asked_on["general"] < asked_off["general"]
    assert asked_on["security"] <= asked_off["security"]
    assert run_on["cache"]["analysis"]["hits"] > 0
