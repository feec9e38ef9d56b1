import subprocess
import sys

import pytest

COMMANDS = [[], ["dev"], ["dev", "up"], ["dev", "status"], ["dev", "down"], ["models"], ["models", "list"],
            ["models", "fetch"], ["models", "bench"], ["models", "health"], ["models", "promote"], ["run"], ["status"],
            ["replay"], ["review"], ["deadletter"], ["kibana"], ["produce"], ["demo"], ["setup"]]


def veil(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veil.ops.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "veil")
def test_when_help_asked_then_every_command_explains_itself(cmd):
    out = veil(*cmd, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage:" in out.stdout and len(out.stdout.splitlines()) > 5


@pytest.mark.parametrize(("args", "needle"), [
    (["bogus"], "No such command 'bogus'"),
    (["produce"], "Missing argument"),
    (["produce", "/does/not/exist", "--topic", "x"], "does not exist"),
    (["demo", "--timeout", "1"], "--timeout"),
    (["models", "fetch", "no-such-model"], "unknown model 'no-such-model'"),
])
def test_when_arguments_are_bad_then_one_line_error_without_traceback(args, needle):
    out = veil(*args)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in out.stderr + out.stdout


def test_when_setting_invalid_then_one_line_error(monkeypatch):
    import os

    env = dict(os.environ, VEIL_KAFKA__PARTITIONS="zero")
    out = veil("models", "list", env=env)
    assert out.returncode == 4  # configuration, not usage (2)
    assert out.stderr.strip().startswith("error: invalid setting kafka.partitions")


def test_when_no_stack_and_no_config_then_run_says_what_to_do(tmp_path):
    import os

    env = dict(os.environ, VEIL_STATE_DIR=str(tmp_path))
    env.pop("VEIL_KAFKA__BOOTSTRAP_SERVERS", None)
    out = veil("run", env=env)
    assert out.returncode == 4
    assert "veil dev up" in out.stderr and "Traceback" not in out.stderr


def test_models_health_names_each_provider_and_fails_when_a_role_has_none(tmp_path):
    import os

    dead = '[{"backend": "openai", "model": "m", "url": "http://127.0.0.1:9/v1"}]'
    env = dict(os.environ, VEIL_MODELS__GENERAL_CHAIN=dead, VEIL_MODELS__SECURITY_CHAIN=dead, COLUMNS="200")
    out = veil("models", "health", env=env)
    assert out.returncode == 4
    assert out.stdout.count("openai:m") == 2 and "cannot reach the server" in out.stdout
    assert "error: no healthy provider for: general, security" in out.stderr and "Traceback" not in out.stderr


def test_when_the_policy_encrypts_without_a_key_then_run_stops_before_reading_with_one_line(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "VEIL_ENCRYPTION_KEY"}
    env.update(VEIL_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1", VEIL_ELASTICSEARCH__URL="http://127.0.0.1:1",
               VEIL_STATE_DIR=str(tmp_path), VEIL_MODELS__NER="", VEIL_POLICY__DEFAULT_OPERATOR="encrypt")
    out = veil("run", env=env)
    assert out.returncode == 4
    assert out.stderr.strip().splitlines()[-1] == (
        "error: the policy uses the encrypt operator but no key is set: set VEIL_ENCRYPTION_KEY")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [
    ["produce", "{file}", "--topic", "veil.docs.in"],
    ["deadletter", "list"],
    ["replay", "--topic", "veil.docs.in"],
    ["setup", "--no-models"],
], ids=lambda a: a[0])
def test_commands_that_talk_to_kafka_check_the_cluster_first_and_fail_in_one_line(args, tmp_path):
    """librdkafka would print a line per failed attempt for as long as it retries; the command asks
    the cluster once, with the same settings, and says what is wrong in one line."""
    import os

    records = tmp_path / "r.jsonl"
    records.write_text('{"text": "hello"}\n')
    env = dict(os.environ, VEIL_STATE_DIR=str(tmp_path), VEIL_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:9",
               VEIL_ELASTICSEARCH__URL="http://127.0.0.1:9", VEIL_KAFKA__PREFLIGHT_TIMEOUT_S="1.5")
    out = veil(*[a.format(file=records) for a in args], env=env)
    lines = [line for line in (out.stderr + out.stdout).splitlines() if line.strip()]
    assert out.returncode == 4, out.stderr
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Kafka at 127.0.0.1:9"), lines[:5]
