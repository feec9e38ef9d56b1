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
    messages: list[ChatMessage]
    json_schema: dict[str, Any] | None = Field(default=None, description="Constrain the answer to this schema.")
    sampling: Sampling = Field(default_factory=Sampling)


class GenerationResponse(BaseModel):
    text: str
    model: str
    model_version: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
