"""Provider wire types: a typed request in, a typed response out, whatever the backend."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Sampling(BaseModel):
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_k: int = Field(default=40, ge=0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=128, ge=1, le=4096)
    seed: int = 7


class GenerationRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    json_schema: dict[str, Any] | None = Field(default=None, description="Constrain the answer to this schema.")
    sampling: Sampling = Field(default_factory=Sampling)
    timeout_s: float | None = Field(default=None, gt=0, description="Deadline for the whole call; None: the provider's own.")
    top_logprobs: int = Field(default=0, ge=0, le=20, description=(
        "Report this many most likely tokens per generated step (backends that cannot ignore it)."))


class TokenStep(BaseModel):
    """One generated step: the token chosen and its probability, when the backend says, and the most
    likely tokens at that step with theirs, under the model (before any grammar constraint)."""

    token: str | None = None
    p: float | None = Field(default=None, ge=0.0, le=1.0)
    top: dict[str, float] = Field(default_factory=dict)


class GenerationResponse(BaseModel):
    text: str
    model: str
    model_version: str
    backend: str = Field(default="", description="llama.cpp, ollama, openai, transformers")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    seconds: float = Field(ge=0, description="Wall time of the call, queueing included.")
    prompt_seconds: float | None = Field(default=None, ge=0, description="Prompt processing, when the backend reports it.")
    steps: list[TokenStep] | None = Field(default=None, description="Per-step probabilities, when asked for and supported.")

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of generation (the whole call when the backend has no split)."""
        gen = self.seconds - (self.prompt_seconds or 0.0)
        return self.completion_tokens / gen if gen > 0 else 0.0
