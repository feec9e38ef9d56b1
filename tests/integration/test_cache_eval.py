"""`veil eval` with both LLM roles on the small model, with and without the caches: no drop in the
figures, and fewer questions to the models with them.

The caches are exact (the same question gets the answer the model gave), and with deterministic
models the figures are identical: tests/unit/test_cache.py holds them to that. llama.cpp at
temperature 0 is not quite deterministic across question orders (it reuses the key/value cache of
the previous prompt's prefix, and a different split of the same tokens can round differently), so
here the figures may differ by a few answers either way, never by a drop beyond that."""

import os
import subprocess
import sys

import orjson
import pytest

from veil.evaluation import dataset

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _eval(labels, out, *flags):
    env = dict(os.environ, VEIL_MODELS__GENERAL="smollm2-135m", VEIL_MODELS__SECURITY="smollm2-135m")
    proc = subprocess.run([sys.executable, "-m", "veil.ops.cli", "eval", "--labels", str(labels), "--json", str(out), *flags],
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
    assert on["records"] == off["records"] == len(logs) + len(docs)
    assert on["f1"] >= off["f1"] - 0.03
    assert on["leak_rate"] <= off["leak_rate"] + 0.02
    assert on["recall"] >= off["recall"] - 0.02
    asked_on, asked_off = run_on["questions"], run_off["questions"]
    assert asked_off["general"] == len(logs) + len(docs)  # once per record without the cache
    assert asked_on["general"] < asked_off["general"]
    assert asked_on["security"] <= asked_off["security"]
    assert run_on["cache"]["analysis"]["hits"] > 0
