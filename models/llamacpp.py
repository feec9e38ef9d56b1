"""In-process llama.cpp backend (llama-cpp-python)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from schemas import GenerationRequest, GenerationResponse
from veil.errors import ProviderError


class LlamaCppProvider:
    """One loaded GGUF model. Calls are serialized: a llama.cpp context is not re-entrant."""

    def __init__(self, *, model_path: Path, name: str, version: str, n_threads: int = 1, n_ctx: int = 2048) -> None:
        from llama_cpp import Llama

        self.name = name
        self.version = version
        self._lock = threading.Lock()
        try:
            self._llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads,
                              n_threads_batch=n_threads, verbose=False)
        except (ValueError, RuntimeError) as err:
            raise ProviderError(f"llama.cpp could not load {model_path.name}: {err}") from err

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        s = request.sampling
        kwargs = {}
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        started = time.perf_counter()
        with self._lock:
            try:
                out = self._llm.create_chat_completion(
                    messages=[m.model_dump() for m in request.messages], temperature=s.temperature,
                    top_k=s.top_k, top_p=s.top_p, max_tokens=s.max_tokens, seed=s.seed, **kwargs,
                )
            except (ValueError, RuntimeError) as err:
                raise ProviderError(f"{self.name}: generation failed: {err}") from err
        usage = out.get("usage", {})
        return GenerationResponse(
            text=out["choices"][0]["message"]["content"] or "", model=self.name, model_version=self.version,
            prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0),
            seconds=time.perf_counter() - started,
        )
