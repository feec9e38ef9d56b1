"""The one contract every LLM backend implements."""

from __future__ import annotations

from typing import Protocol

from schemas import GenerationRequest, GenerationResponse


class Provider(Protocol):
    """Generate one answer for a typed request. Implementations are thread-safe."""

    name: str
    version: str

    def generate(self, request: GenerationRequest) -> GenerationResponse: ...
