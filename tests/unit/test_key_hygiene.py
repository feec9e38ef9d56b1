"""Outside development mode Veil refuses keys that protect nothing; in dev mode it warns once."""

import logging
import subprocess
import sys

import pytest

from veil.errors import ConfigError
from veil.policy import Policy
from veil.settings import DEV_HMAC_KEY, Settings, check_keys, is_placeholder, warn_dev_key

REAL = "k3J9x2Qm7Lw0Zp5Rt8Yv1Nb4Hc6Gd0Fs2Ae"  # 36 characters, no placeholder word
PROD = {"dev": False}
BROKER = {"kafka": {"bootstrap_servers": "kafka.internal:9093"}, "elasticsearch": {"url": "https://es.internal:9200"}}


def test_dev_mode_follows_the_setting_and_else_whether_a_broker_or_index_is_configured(monkeypatch):
    monkeypatch.delenv("VEIL_DEV", raising=False)
    assert Settings().is_dev  # nothing configured: the embedded stack, or no stack at all
    assert not Settings(**BROKER).is_dev
    assert not Settings(kafka={"bootstrap_servers": "kafka:9092"}).is_dev
    assert Settings(dev=True, **BROKER).is_dev and not Settings(dev=False).is_dev


def test_outside_dev_mode_the_built_in_key_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.delenv("VEIL_DEV", raising=False)
    with pytest.raises(ConfigError, match="VEIL_HMAC_KEY is not set") as err:
        check_keys(Settings(**BROKER))
    assert DEV_HMAC_KEY not in str(err.value) and "\n" not in str(err.value)
    check_keys(Settings(hmac_key=REAL, **BROKER))  # a real key passes


@pytest.mark.parametrize("key", ["change-me", "changeme-please-0123456789abcdefghij", "<your-hmac-key>", "short-key-123",
                                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "REPLACE_ME_WITH_A_REAL_SECRET_0123456789"])
def test_outside_dev_mode_a_placeholder_or_short_key_is_refused(key):
    with pytest.raises(ConfigError, match="VEIL_HMAC_KEY is a placeholder or shorter"):
        check_keys(Settings(hmac_key=key, **PROD))


def test_an_encrypting_policy_needs_a_real_encryption_key_outside_dev_mode():
    policy = Policy(entity_operators={"EMAIL": "encrypt"})
    with pytest.raises(ConfigError, match="VEIL_ENCRYPTION_KEY is not set"):
        check_keys(Settings(hmac_key=REAL, **PROD), policy)
    with pytest.raises(ConfigError, match="VEIL_ENCRYPTION_KEY is a placeholder"):
        check_keys(Settings(hmac_key=REAL, encryption_key="change-me", **PROD), policy)
    check_keys(Settings(hmac_key=REAL, encryption_key=REAL[::-1], **PROD), policy)
    check_keys(Settings(hmac_key=REAL, **PROD))  # a policy without encrypt needs none


def test_in_dev_mode_the_built_in_key_is_used_with_one_warning(caplog, monkeypatch):
    import veil.settings

    monkeypatch.setattr(veil.settings, "_warned_dev_key", False)
    with caplog.at_level(logging.WARNING, logger="veil.settings"):
        check_keys(Settings(dev=True))  # allowed
        warn_dev_key(Settings(dev=True))
        warn_dev_key(Settings(dev=True))
        warn_dev_key(Settings(dev=True, hmac_key=REAL))
    warnings = [r for r in caplog.records if "built-in HMAC key" in r.getMessage()]
    assert len(warnings) == 1
    assert DEV_HMAC_KEY not in caplog.text  # keys are never logged


@pytest.mark.parametrize("value, placeholder", [
    ("change-me", True), ("CHANGE_ME", True), ("<your-password>", True), ("your_token_here", True), ("secret", True),
    ("", True), ("********", True), (REAL, False), ("correct-horse-battery-staple-9131", False),
])
def test_placeholders_are_recognised(value, placeholder):
    assert is_placeholder(value) is placeholder


def test_the_command_line_exits_with_one_line_naming_the_variable(tmp_path):
    """``veil redact`` pointed at real infrastructure without VEIL_HMAC_KEY: exit 1, one line on stderr."""
    src = tmp_path / "in.txt"
    src.write_text("login from 203.0.113.9\n")
    env = {"PATH": "/usr/bin:/bin", "VEIL_DEV": "false", "VEIL_MODELS__NER": ""}
    out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "redact", "--no-llm", "--format", "text", str(src)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 4
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: VEIL_HMAC_KEY is not set"), out.stderr
    ok = subprocess.run([sys.executable, "-m", "veil.ops.cli", "redact", "--no-llm", "--format", "text", str(src)],
                        env={**env, "VEIL_HMAC_KEY": REAL}, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "<IP_ADDRESS_1>" in ok.stdout, ok.stderr
