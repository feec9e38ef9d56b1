"""`veil redact` and `veil eval` on text that once made verification abort, with the real NER model.

The NER model reads configuration keys as names ("RootPassword" as an organisation, "wp" as a
person); a redacted key then stood inside its own value or recurred as a short word, and the
record used to be refused, taking the whole run with it.
"""

import os
import subprocess
import sys

import orjson
import pytest

pytestmark = [pytest.mark.integration]

CONFIG = "Name=Relay\nDuplicates=1\nRootPassword=RootPassword999"
WORDPRESS = ("$table_prefix = 'wp_';\n/* Authentication Unique Keys and Salts. */\n"
             "require_once(ABSPATH . 'wp-settings.php');")


def veil(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_MODELS__NER")}
    return subprocess.run([sys.executable, "-m", "veil.ops.cli", *args], input=stdin, capture_output=True, env=env,
                          timeout=300)


def test_when_config_files_are_redacted_then_every_record_is_written_and_no_password_is_left(ner_model, tmp_path):
    src = tmp_path / "configs.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps({"id": i, "text": t}) for i, t in
                               (("relay", CONFIG), ("wp", WORDPRESS), ("after", "mail ana@example.org"))) + b"\n")
    proc = veil("redact", "--no-llm", str(src))
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in map(orjson.loads, proc.stdout.splitlines())}
    assert set(rows) == {"relay", "wp", "after"}
    relay = rows["relay"]["redacted_text"]
    assert "RootPassword999" not in relay and "999" not in relay and relay.startswith("Name=Relay\nDuplicates=1\n")
    assert rows["after"]["redacted_text"] == "mail <EMAIL_1>"
    # a value NER took for a name is redacted wherever it stands as a word, not left in one place
    wp = rows["wp"]
    redacted = {WORDPRESS[f["start"]:f["end"]] for f in wp["findings"] if f["action"] == "redact"}
    for value in redacted:
        assert not [w for w in wp["redacted_text"].replace("_", " ").replace("-", " ").replace("'", " ").split()
                    if w == value]


def test_when_eval_reads_odd_text_then_it_reports_and_saves_its_errors(ner_model, tmp_path):
    records = [
        {"id": "cfg-1", "text": CONFIG, "spans": [{"start": 37, "end": 52, "type": "PASSWORD"}], "group": "document"},
        {"id": "wp-1", "text": WORDPRESS, "spans": [], "group": "document"},
        {"id": "one", "text": "x", "spans": [], "group": "document"},
        {"id": "dup", "text": "Ana Ana Ana Lima met Ana Lima", "spans": [{"start": 21, "end": 29, "type": "PERSON"}],
         "group": "document"},
    ]
    labels = tmp_path / "odd.jsonl"
    labels.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    errors, report = tmp_path / "errors.jsonl", tmp_path / "report.json"
    proc = veil("eval", "--no-llm", "--labels", str(labels), "--errors", str(errors), "--json", str(report))
    assert proc.returncode == 0, proc.stderr
    figures = orjson.loads(report.read_bytes())
    assert figures["records"] == 4 and figures["by_label"]["PASSWORD"]["caught"] == 1
    entries = [orjson.loads(line) for line in errors.read_bytes().splitlines()]
    assert {e["kind"] for e in entries} <= {"miss", "false_positive"}
    for e in entries:
        text = next(r["text"] for r in records if r["id"] == e["record_id"])
        assert text[e["start"]:e["end"]] == e["value"] and f"[[{e['value']}]]" in e["context"].replace("\u23ce", "\n")
