"""Shared fixtures: real local services (Tansu, noida-db), a real small model, real Ray."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from veil.settings import Settings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# The tests run Veil against their own embedded stacks, often with its addresses set explicitly (which
# outside development mode requires a real HMAC key): development mode for every process they start.
# tests/unit/test_key_hygiene.py checks the refusal outside it.
os.environ.setdefault("VEIL_DEV", "true")
SMALL_MODEL = "smollm2-135m"


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def pytest_collection_modifyitems(config, items):
    if _docker_available():
        return
    skip = pytest.mark.skip(reason="needs a Docker engine (none running here)")
    for item in items:
        if "docker" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The user's model cache, so a fetched model is reused across runs and CI steps."""
    return Settings().models.cache_dir.expanduser()


@pytest.fixture(scope="session")
def small_model(model_cache: Path) -> Path:
    from veil.models import registry

    return registry.fetch(SMALL_MODEL, model_cache)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory) -> Settings:
    """A running embedded stack (real Tansu broker + noida-db ES API) with topics and templates."""
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("stack"), app_id="veil-test",
                                      models={"general": SMALL_MODEL, "security": SMALL_MODEL}))


def running_stack(base: Settings):
    """Start a stack for ``base`` (its own state dir), yield its settings, stop and wipe it."""
    from veil.ops.stack import dev, elastic, topics

    state, _ = dev.up(base)
    settings = dev.with_stack(base)
    try:
        topics.ensure_topics(settings, state.kafka_bootstrap)
        elastic.install(elastic.client(settings.elasticsearch), settings.elasticsearch)
        yield settings
    finally:
        dev.down(base)


@pytest.fixture(scope="session")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=96 << 20, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def ner_model(model_cache: Path) -> Path:
    from veil.models import registry

    return registry.fetch("en-core-web-sm", model_cache)
