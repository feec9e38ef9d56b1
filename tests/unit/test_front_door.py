"""The doors a user opens first: ``veil.redact`` and ``veil.Engine`` in Python (the package
docstring and the README example run as written), the example configuration files, ``--version``."""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import veil
import veil.api
from veil.policy import Policy
from veil.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
#: a fresh process in an empty folder, without the test session's VEIL_* settings
CLEAN = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")} | {"VEIL_MODELS__NER": ""}


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=CLEAN, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module", [veil, veil.api], ids=lambda m: m.__name__)
def test_the_docstring_recipes_run_as_written(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1 and result.failed == 0


def test_the_one_liner_leaves_no_address_in_the_clear(tmp_path):
    out = _python("import veil; print(veil.redact('mail ana@example.org from 10.0.0.7'))", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ana@example.org" not in out.stdout and "10.0.0.7" not in out.stdout
    assert out.stdout.strip() == "mail <EMAIL_1> from <IP_ADDRESS_1>"


def test_the_readme_python_example_runs_and_prints_no_value(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python"):]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)[:1]
    out = _python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    printed = out.stdout
    for value in ("ana.lima@example.org", "10.0.0.7", "db01.corp.internal", "+44 20 7946 0958"):
        assert value not in printed
    assert "<EMAIL_1>" in printed


def test_an_engine_numbers_placeholders_per_text_and_takes_a_policy_file(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("entity_operators:\n  EMAIL: mask\n")
    plain, masked = veil.Engine(), veil.Engine(policy=policy)
    assert plain.redact_many(["a@b.co and c@d.io", "c@d.io"]) == ["<EMAIL_1> and <EMAIL_2>", "<EMAIL_1>"]
    assert "c@d.io" not in masked.redact("write to c@d.io") and "<EMAIL" not in masked.redact("write to c@d.io")
    result = plain.run("password=hunter22x")
    assert result.redacted_text == "password=<PASSWORD_1>" and [f.entity for f in result.findings] == ["PASSWORD"]


def test_the_example_settings_and_policy_load(monkeypatch):
    monkeypatch.setenv("VEIL_KAFKA__SASL_PASSWORD", "from-the-environment")
    settings = Settings.load(ROOT / "ops" / "examples" / "veil.yaml")
    assert settings.kafka.security_protocol == "SASL_SSL" and settings.internal_domains
    policy = Policy.from_yaml(ROOT / "ops" / "examples" / "policy.yaml")
    assert policy.operators() >= {"placeholder", "hmac", "drop", "mask"}
    engine = veil.Engine(policy=ROOT / "ops" / "examples" / "policy.yaml")
    assert engine.redact("key AKIAIOSFODNN7EXAMPLE") == "key "  # secrets: drop


def test_version_prints_the_installed_version():
    out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and re.fullmatch(r"veil \d+\.\d+\.\d+\S*\n", out.stdout), out.stdout


@pytest.mark.parametrize(("make", "says"), [
    (lambda d: d, "is a directory"),
    (lambda d: d / "missing.jsonl", "does not exist"),
    (lambda d: (d / "x.bin").write_bytes(b"\x7fELF\x02\x01\x00\x00") and d / "x.bin", "is binary (a NUL byte at offset 6)"),
], ids=["directory", "missing", "binary"])
def test_an_input_that_is_not_records_is_one_line_and_a_usage_error(tmp_path, make, says):
    out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "redact", "--no-llm", str(make(tmp_path))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], out.stderr


def test_invalid_utf8_in_jsonl_is_named_as_such():
    out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "redact", "--no-llm"],
                         input=b'{"text": "caf\xe9 a@b.co"}\n{"text": "ok a@b.co"}\n', capture_output=True, timeout=60)
    assert out.returncode == 3 and len(out.stdout.splitlines()) == 1
    [error] = [orjson.loads(line) for line in out.stderr.splitlines() if line.startswith(b"{")]
    assert error["line"] == 1 and error["error"].startswith("not valid UTF-8 at byte 13")
