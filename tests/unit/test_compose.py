"""docker-compose.yml is checked here by structure; `docker compose up` runs it where Docker exists."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def deps(service: dict) -> dict:
    d = service.get("depends_on", {})
    return d if isinstance(d, dict) else {name: {"condition": "service_started"} for name in d}


def test_every_required_service_is_defined(compose):
    assert {"kafka", "elasticsearch", "kibana", "ollama", "ollama-pull", "ray-head", "ray-worker",
            "veil-setup", "veil-worker"} <= set(compose["services"])


@pytest.mark.parametrize(("service", "port"), [("kafka", "9092:9092"), ("elasticsearch", "9200:9200"),
                                               ("kibana", "5601:5601"), ("ollama", "11434:11434"),
                                               ("ray-head", "10001:10001")])
def test_ports_are_published(compose, service, port):
    assert port in compose["services"][service]["ports"]


def test_every_dependency_exists_and_waits_on_health_or_completion(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep, cond in deps(svc).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = cond["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} health, which has no check"


def test_workers_start_after_setup_and_models(compose):
    worker = deps(compose["services"]["veil-worker"])
    assert worker["veil-setup"]["condition"] == "service_completed_successfully"
    assert worker["ollama-pull"]["condition"] == "service_completed_successfully"
    setup = deps(compose["services"]["veil-setup"])
    assert setup["kafka"]["condition"] == setup["elasticsearch"]["condition"] == "service_healthy"


def test_elasticsearch_security_is_on_and_passwords_come_from_env(compose):
    es = compose["services"]["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true"
    assert es["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD")
    kibana = compose["services"]["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_PASSWORD"].startswith("${KIBANA_PASSWORD")
    example = (ROOT / ".env.example").read_text()
    for var in ("ELASTIC_PASSWORD", "KIBANA_PASSWORD", "VEIL_HMAC_KEY", "VEIL_PAYLOAD_KEY"):
        assert f"{var}=" in example


def test_veil_services_point_at_compose_hosts(compose):
    env = compose["services"]["veil-worker"]["environment"]
    assert env["VEIL_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["VEIL_ELASTICSEARCH__URL"].startswith("https://elasticsearch:")
    assert env["VEIL_RAY__ADDRESS"].startswith("ray://ray-head:")
    assert compose["services"]["veil-setup"]["command"] == ["setup"]


def test_veil_env_keys_are_real_settings(compose):
    from veil.settings import Settings

    env = compose["services"]["veil-worker"]["environment"]
    for key in env:
        parts = key.removeprefix("VEIL_").lower().split("__")
        model = Settings
        for part in parts:
            assert part in model.model_fields, f"{key} is not a Veil setting"
            model = model.model_fields[part].annotation


def test_worker_model_chains_are_valid_settings_and_ollama_pulls_what_they_ask_for(compose):
    import json
    import re

    from veil.models import registry
    from veil.settings import ProviderSettings

    env = compose["services"]["veil-worker"]["environment"]
    pull = " ".join(compose["services"]["ollama-pull"]["command"])
    pulled = {m.group(2) for m in re.finditer(r"\$\{(\w+):-([^}]+)\}", pull)}
    for key in ("VEIL_MODELS__GENERAL_CHAIN", "VEIL_MODELS__SECURITY_CHAIN"):
        chain = [ProviderSettings(**c) for c in json.loads(env[key])]
        assert [c.backend for c in chain] == ["ollama", "llamacpp"]
        assert registry.spec(chain[0].model).ollama in pulled  # the tag the worker asks Ollama for is pulled
