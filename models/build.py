"""Providers, chains, the model manager and the roles, built from settings: one place for the
stream worker, the Ray actors and the batch CLI."""

from __future__ import annotations

from veil.errors import ConfigError
from veil.models import registry
from veil.models.chain import ProviderChain, RetryPolicy
from veil.models.manager import ModelManager, ModelSource, SlotProvider
from veil.models.metrics import Metered
from veil.models.provider import Provider
from veil.models.roles import GeneralAnalyst, SecurityJudge
from veil.settings import ModelSettings, ProviderSettings, Settings

ROLES = ("general", "security")


def _version(name: str, m: ModelSettings) -> str:
    s = registry.spec(name, m.catalog_file)
    return f"{s.version}+{s.adapter.version}" if s.adapter else s.version


def provider(name: str, models: ModelSettings) -> Provider:
    """Model ``name`` from the catalog, in-process in llama.cpp (with its LoRA adapter, if any)."""
    return provider_for(ProviderSettings(model=name), models)


def provider_for(cfg: ProviderSettings, m: ModelSettings) -> Provider:
    """One backend for one model, as configured."""
    if cfg.backend == "llamacpp":
        from veil.models.llamacpp import LlamaCppProvider

        spec = registry.spec(cfg.model, m.catalog_file)
        return LlamaCppProvider(model_path=registry.resolve(cfg.model, m.cache_dir, m.paths, m.catalog_file),
                                name=cfg.model, version=_version(cfg.model, m), n_threads=m.n_threads, n_ctx=m.n_ctx,
                                lora_path=registry.adapter_path(spec), timeout_s=cfg.timeout_s)
    if cfg.backend == "ollama":
        from veil.models.ollama import OllamaProvider

        tag, name, version = _remote_identity(cfg, m, "ollama")
        return OllamaProvider(host=cfg.url or "http://127.0.0.1:11434", tag=tag, name=name, version=version,
                              timeout_s=cfg.timeout_s)
    if cfg.backend == "openai":
        from veil.models.openai_compat import OpenAICompatibleProvider

        if not cfg.url:
            raise ConfigError(f"the openai backend for {cfg.model} needs `url` (the server's /v1 base URL)")
        _, name, version = _remote_identity(cfg, m, None)
        return OpenAICompatibleProvider(base_url=cfg.url, model=cfg.model, name=name, version=version,
                                        api_key=cfg.api_key, timeout_s=cfg.timeout_s, schema_mode=cfg.schema_mode,
                                        logprobs=cfg.logprobs)
    from veil.models.hf import TransformersProvider

    spec = registry.spec(cfg.model, m.catalog_file)
    return TransformersProvider(source=str(spec.path or spec.hf or cfg.model), name=cfg.model,
                                version=_version(cfg.model, m), timeout_s=cfg.timeout_s)


def _remote_identity(cfg: ProviderSettings, m: ModelSettings, field: str | None) -> tuple[str, str, str]:
    """(what the server calls it, our name, version): catalog names map to their server names."""
    if cfg.model in registry.catalog(m.catalog_file):
        spec = registry.spec(cfg.model, m.catalog_file)
        served = getattr(spec, field) if field else None
        return served or cfg.model, cfg.model, spec.version
    return cfg.model, cfg.model, "server"


def chain_settings(role: str, m: ModelSettings) -> list[ProviderSettings]:
    configured = m.general_chain if role == "general" else m.security_chain
    return configured or [ProviderSettings(model=m.general if role == "general" else m.security)]


def chain(role: str, m: ModelSettings) -> ProviderChain:
    """The role's providers in failover order, each metered, behind retries and circuit breakers."""
    providers = [Metered(provider_for(cfg, m)) for cfg in chain_settings(role, m)]
    return ProviderChain(providers, role=role, retry=RetryPolicy(attempts=m.retries, timeout_s=None),
                         breaker_failures=m.breaker_failures, breaker_reset_s=m.breaker_reset_s)


def source(role: str, m: ModelSettings) -> ModelSource:
    """How the manager loads a role: its whole chain, counted at the size of its local models."""
    configs = chain_settings(role, m)
    first = configs[0].model
    local = [c.model for c in configs if c.backend in ("llamacpp", "transformers")]
    memory = sum(registry.spec(name, m.catalog_file).memory_mb for name in local)
    version = _version(first, m) if first in registry.catalog(m.catalog_file) else "server"
    return ModelSource(name=first, version=version, load=lambda: chain(role, m), memory_mb=memory)


def manager(m: ModelSettings, roles: tuple[str, ...] = ROLES, *, load_now: bool = True) -> ModelManager:
    """A manager with a slot per role; loaded now by default, so a missing model fails at start-up."""
    mgr = ModelManager(budget_mb=m.memory_budget_mb)
    for role in roles:
        mgr.register(role, source(role, m), load_now=load_now)
    return mgr


def _family(role: str, m: ModelSettings) -> str | None:
    name = chain_settings(role, m)[0].model
    known = registry.catalog(m.catalog_file)
    return known[name].family if name in known else None


def analyst(settings: Settings, mgr: ModelManager | None = None) -> GeneralAnalyst | None:
    """The general analyst, or None when it is disabled."""
    m = settings.models
    if not m.general_enabled:
        return None
    mgr = mgr or manager(m, ("general",))
    name = chain_settings("general", m)[0].model
    return GeneralAnalyst(SlotProvider(mgr, "general"), max_chars=m.general_max_chars,
                          min_span_chars=settings.policy.min_llm_span_chars, sampling=m.sampling.get(name),
                          family=_family("general", m))


def judge(m: ModelSettings, mgr: ModelManager | None = None) -> SecurityJudge:
    """The security judge; a model tuned on the zero-shot prompt is asked without the examples."""
    mgr = mgr or manager(m, ("security",))
    name = chain_settings("security", m)[0].model
    known = registry.catalog(m.catalog_file)
    adapter = known[name].adapter if name in known else None
    return SecurityJudge(SlotProvider(mgr, "security"), sampling=m.sampling.get(name), family=_family("security", m),
                         examples=adapter is None or adapter.prompt == "few-shot")


__all__ = ["ROLES", "analyst", "chain", "judge", "manager", "provider", "provider_for", "source"]
