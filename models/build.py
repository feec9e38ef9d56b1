"""Providers and roles built from settings: one place for the stream worker and the batch CLI."""

from __future__ import annotations

from models import registry
from models.llamacpp import LlamaCppProvider
from models.roles import GeneralAnalyst
from veil.settings import ModelSettings, Settings


def provider(name: str, models: ModelSettings) -> LlamaCppProvider:
    """Load model ``name`` (a configured path or the verified cache) in llama.cpp."""
    return LlamaCppProvider(model_path=registry.resolve(name, models.cache_dir, models.paths), name=name,
                            version=registry.spec(name).version, n_threads=models.n_threads, n_ctx=models.n_ctx)


def analyst(settings: Settings) -> GeneralAnalyst | None:
    """The general analyst, or None when it is disabled."""
    m = settings.models
    if not m.general_enabled:
        return None
    return GeneralAnalyst(provider(m.general, m), max_chars=m.general_max_chars,
                          min_span_chars=settings.policy.min_llm_span_chars)
