"""The contracts every LLM backend implements: generate, optionally stream, and report health."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from veil.schemas import GenerationRequest, GenerationResponse, TokenStep


class Provider(Protocol):
    """Generate one answer for a typed request. Implementations are thread-safe.

    Errors are :class:`veil.errors.ProviderError` subclasses; ``retryable`` ones (unreachable,
    overloaded, timed out) may succeed on another try.
    """

    @property
    def name(self) -> str:
        """The model, as the registry and the audit trail know it."""
        ...

    @property
    def version(self) -> str: ...

    @property
    def backend(self) -> str:
        """"llama.cpp", "ollama", "openai", "transformers", "chain" or "managed"."""
        ...

    def generate(self, request: GenerationRequest) -> GenerationResponse: ...

    def health(self) -> None:
        """Return when the backend can serve this model; raise ``ProviderError`` otherwise."""
        ...

    def close(self) -> None:
        """Release the model or connection. Calls after ``close`` fail."""
        ...


@runtime_checkable
class Streaming(Protocol):
    """A provider that can hand out the answer as it is generated."""

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Text pieces in order; their concatenation is what ``generate`` would return."""
        ...


def steps_from_logprobs(content: Sequence[Mapping] | None) -> list[TokenStep] | None:
    """Per-token log probabilities as OpenAI-compatible servers and Ollama report them
    (``[{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]``) as steps; None for none."""
    if not content:
        return None
    steps = []
    for item in content:
        top: dict[str, float] = {}
        for alt in item.get("top_logprobs") or []:
            top[alt["token"]] = top.get(alt["token"], 0.0) + math.exp(alt["logprob"])
        steps.append(TokenStep(token=item["token"], p=min(1.0, math.exp(item["logprob"])), top=top))
    return steps
