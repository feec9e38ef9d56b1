"""`veil redact`, `veil eval`, `veil reveal` end to end as commands (detectors only, NER off: no model)."""

import os
import subprocess
import sys

import orjson

ENV = dict(os.environ, VEIL_MODELS__NER="")


def veil(*args: str, stdin: bytes = b"", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], input=stdin, capture_output=True,
                          env=env or ENV, timeout=120)


def test_when_jsonl_redacted_then_offsets_refer_to_the_original(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": "a", "text": "mail bob@example.com key AKIAIOSFODNN7EXAMPLE"}\n{"id": "b", "text": "nothing here"}\n')
    out = tmp_path / "out.jsonl"
    proc = veil("redact", "--no-llm", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["redacted_text"] == "mail <EMAIL_1> key <AWS_ACCESS_KEY_1>"
    text = "mail bob@example.com key AKIAIOSFODNN7EXAMPLE"
    assert [text[f["start"]:f["end"]] for f in rows[0]["findings"]] == ["bob@example.com", "AKIAIOSFODNN7EXAMPLE"]
    assert {f["action"] for f in rows[0]["findings"]} == {"redact"} and rows[1]["findings"] == []


def test_when_text_from_stdin_then_one_record_per_line():
    proc = veil("redact", "--no-llm", "--format", "text", stdin=b"a@b.co\n\nline two password=hunter22x\n")
    assert proc.returncode == 0
    rows = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert [r["redacted_text"] for r in rows] == ["<EMAIL_1>", "line two password=<PASSWORD_1>"]


def test_when_input_lines_are_bad_then_reported_and_the_rest_processed():
    proc = veil("redact", "--no-llm", stdin=b'{"id": 1, "text": "a@b.co"}\nnot json\n{"text": 5}\n')
    assert proc.returncode == 3
    assert len(proc.stdout.splitlines()) == 1
    errors = [orjson.loads(line) for line in proc.stderr.splitlines() if line.startswith(b"{")]
    assert [e["line"] for e in errors] == [2, 3]


def test_when_encrypted_then_reveal_restores_only_with_the_key(tmp_path):
    env = dict(ENV, VEIL_ENCRYPTION_KEY="cli-test-key", VEIL_POLICY__DEFAULT_OPERATOR="encrypt")
    red = veil("redact", "--no-llm", "--format", "text", stdin=b"write to ana@example.com\n", env=env)
    redacted = orjson.loads(red.stdout)["redacted_text"]
    assert "ana@example.com" not in redacted
    shown = veil("reveal", redacted, env=env)
    assert shown.stdout.decode().strip() == "write to ana@example.com"
    wrong = veil("reveal", redacted, env=dict(env, VEIL_ENCRYPTION_KEY="other"))
    assert wrong.returncode == 1 and b"wrong key" in wrong.stderr


def test_when_eval_runs_on_exported_set_then_reports_groups(tmp_path):
    labels = tmp_path / "eval.jsonl"
    assert veil("eval", "--export-set", str(labels)).returncode == 0
    report = tmp_path / "report.json"
    proc = veil("eval", "--labels", str(labels), "--no-llm", "--json", str(report))
    assert proc.returncode == 0, proc.stderr
    data = orjson.loads(report.read_bytes())
    assert data["groups"]["secrets"]["recall"] == 1.0  # every secret in the set is caught by a detector
    assert data["by_label"]["PERSON"]["caught"] == 0  # names need the NER model, disabled here
