"""docker-compose.yml, checked without Docker: the compose-spec schema, its variables, pinned image
tags, an acyclic start order, nothing published beyond loopback, SASL_SSL for Kafka, least-privilege
Elasticsearch users. `docker compose up` runs it where an engine exists (tests marked docker)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "resources" / "compose_spec" / "compose_spec.json"
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return dict(pairs)


def validate(document: dict) -> list[str]:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def deps(service: dict) -> dict:
    d = service.get("depends_on", {})
    return d if isinstance(d, dict) else {name: {"condition": "service_started"} for name in d}


def test_the_vendored_schema_is_the_recorded_copy():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert (SCHEMA.parent / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_the_compose_file_follows_the_compose_spec(compose):
    assert validate(compose) == []


@pytest.mark.parametrize("break_it, where", [
    (lambda d: d["services"]["kafka"].__setitem__("ports", "9092:9092"), "services/kafka/ports"),
    (lambda d: d["services"]["veil-worker"].__setitem__("restart_policy", "always"), "services/veil-worker"),
    (lambda d: d["services"]["kibana"]["depends_on"]["elasticsearch"].__setitem__("condition", "when_ready"),
     "services/kibana/depends_on"),
    (lambda d: d.__setitem__("servcies", d.pop("services")), ""),
])
def test_a_broken_compose_file_fails_the_schema(compose, break_it, where):
    broken = copy.deepcopy(compose)
    break_it(broken)
    errors = validate(broken)
    assert errors and any(e.startswith(where) for e in errors), errors


def test_every_variable_the_file_uses_is_in_env_example(compose, example):
    used = set(VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert used and used <= set(example), sorted(used - set(example))


def test_every_image_tag_is_pinned(compose, example):
    for name, svc in compose["services"].items():
        image = svc.get("image")
        if image is None:
            assert "build" in svc, f"{name} has neither an image nor a build"
            continue
        resolved = VARIABLE.sub(lambda m: example.get(m.group(1), "MISSING"), image)
        tag = resolved.rsplit(":", 1)[1] if ":" in resolved.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest" and "MISSING" not in tag, f"{name}: {image} -> {resolved}"


def test_start_order_has_no_cycle_and_waits_on_health_or_completion(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep, cond in deps(svc).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} health, which has no check"
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"dependency cycle: {' -> '.join([*path, name])}"
        state[name] = "open"
        for dep in deps(services[name]):
            visit(dep, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_a_cycle_is_caught(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["veil-setup"]["depends_on"]["veil-worker"] = {"condition": "service_started"}
    with pytest.raises(AssertionError, match="dependency cycle"):
        test_start_order_has_no_cycle_and_waits_on_health_or_completion(broken)


def test_nothing_is_published_beyond_loopback_and_internal_services_only_with_the_expose_profile(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
        if svc.get("ports") and name != "kibana":
            assert svc.get("profiles") == ["expose"], f"{name} publishes a port outside the expose profile"
    assert "ports" not in compose["services"]["ray-head"] and "ports" not in compose["services"]["ollama"]
    assert "ports" not in compose["services"]["kafka"] and "ports" not in compose["services"]["elasticsearch"]


def test_kafka_offers_sasl_ssl_and_the_workers_use_it(compose):
    kafka = compose["services"]["kafka"]["environment"]
    assert "SASL_SSL://:9094" in kafka["KAFKA_LISTENERS"]
    assert "SASL_SSL:SASL_SSL" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    for listener in kafka["KAFKA_LISTENERS"].split(","):  # any plaintext listener is on loopback
        if not listener.startswith("SASL_SSL"):
            assert "//localhost:" in listener, listener
    env = compose["services"]["veil-worker"]["environment"]
    assert env["VEIL_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9094" and env["VEIL_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["VEIL_KAFKA__SSL_CA_FILE"] and env["VEIL_KAFKA__SASL_PASSWORD"].startswith("${KAFKA_VEIL_PASSWORD")


def test_workers_use_a_least_privilege_elasticsearch_user_and_setup_creates_it(compose):
    worker = compose["services"]["veil-worker"]["environment"]
    assert worker["VEIL_ELASTICSEARCH__USERNAME"] == "veil_worker"
    setup = compose["services"]["veil-setup"]["environment"]
    assert setup["VEIL_SETUP_WORKER_USER"] == "veil_worker" and setup["VEIL_ELASTICSEARCH__USERNAME"] == "elastic"
    assert compose["services"]["veil-setup"]["command"] == ["setup"]
    from veil.ops.stack.elastic import WRITER_ROLE, role_bodies

    writer = role_bodies("veil")[WRITER_ROLE]
    assert writer["indices"] == [{"names": ["veil-*"], "privileges": ["create_doc", "index", "view_index_metadata"]}]
    assert not {"all", "manage", "manage_security"} & set(writer["cluster"])


def test_secrets_come_from_env_and_the_worker_api_has_a_token(compose, example):
    es = compose["services"]["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true" and es["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD")
    env = compose["services"]["veil-worker"]["environment"]
    for key in ("VEIL_HMAC_KEY", "VEIL_PAYLOAD_KEY", "VEIL_DECISIONS_KEY", "VEIL_STREAM__API_TOKEN"):
        assert env[key].startswith("${") and ":?" in env[key], key
    assert env["VEIL_STREAM__WEB_HOST"] == "0.0.0.0"


def test_veil_env_keys_are_real_settings(compose):
    from veil.settings import Settings

    env = compose["services"]["veil-worker"]["environment"]
    for key in env:
        parts = key.removeprefix("VEIL_").lower().split("__")
        model = Settings
        for part in parts:
            assert part in model.model_fields, f"{key} is not a Veil setting"
            model = model.model_fields[part].annotation
            model = next((a for a in getattr(model, "__args__", ()) if hasattr(a, "model_fields")), model)


def test_worker_model_chains_are_valid_settings_and_ollama_pulls_what_they_ask_for(compose):
    from veil.models import registry
    from veil.settings import ProviderSettings

    env = compose["services"]["veil-worker"]["environment"]
    pull = " ".join(compose["services"]["ollama-pull"]["command"])
    pulled = {m.group(2) for m in re.finditer(r"\$\{(\w+):-([^}]+)\}", pull)}
    for key in ("VEIL_MODELS__GENERAL_CHAIN", "VEIL_MODELS__SECURITY_CHAIN"):
        chain = [ProviderSettings(**c) for c in json.loads(env[key])]
        assert [c.backend for c in chain] == ["ollama", "llamacpp"]
        assert registry.spec(chain[0].model).ollama in pulled  # the tag the worker asks Ollama for is pulled


def test_veil_setup_refuses_the_placeholders_of_env_example(example, tmp_path):
    """`veil setup` with .env.example's values as they are: exit 4 (configuration), one line naming the variables."""
    import os
    import subprocess
    import sys

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VEIL_DEV": "false",
           "VEIL_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9", "VEIL_ELASTICSEARCH__URL": "http://127.0.0.1:9",
           "VEIL_ELASTICSEARCH__USERNAME": "elastic", "VEIL_ELASTICSEARCH__PASSWORD": example["ELASTIC_PASSWORD"],
           "VEIL_HMAC_KEY": example["VEIL_HMAC_KEY"], "VEIL_PAYLOAD_KEY": example["VEIL_PAYLOAD_KEY"],
           "VEIL_STREAM__API_TOKEN": example["VEIL_API_TOKEN"], "KIBANA_PASSWORD": example["KIBANA_PASSWORD"]}
    out = subprocess.run([sys.executable, "-m", "veil.ops.cli", "setup", "--no-models"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 4
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: placeholder values in "), out.stderr
    for name in ("KIBANA_PASSWORD", "VEIL_ELASTICSEARCH__PASSWORD", "VEIL_HMAC_KEY", "VEIL_STREAM__API_TOKEN"):
        assert name in lines[0]
    assert "change-me" not in out.stderr
