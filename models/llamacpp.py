"""In-process llama.cpp backend (llama-cpp-python)."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from veil.errors import ProviderError, ProviderTimeout
from veil.schemas import GenerationRequest, GenerationResponse, TokenStep


class LlamaCppProvider:
    """One loaded GGUF model (optionally with a LoRA adapter).

    Calls are serialized: a llama.cpp context is not re-entrant. Generation is always streamed
    internally, so a deadline really stops it between two tokens instead of leaving it running.
    """

    backend = "llama.cpp"

    def __init__(self, *, model_path: Path, name: str, version: str, n_threads: int = 1, n_ctx: int = 2048,
                 lora_path: Path | None = None, timeout_s: float | None = None) -> None:
        from llama_cpp import Llama

        self.name = name
        self.version = version
        self.model_path = model_path
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        try:
            self._llm: Llama | None = Llama(
                model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                lora_path=str(lora_path) if lora_path else None, verbose=False)
        except (ValueError, RuntimeError) as err:
            raise ProviderError(f"llama.cpp could not load {model_path.name}: {err}") from err

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        started = time.perf_counter()
        pieces: list[str] = []
        first: float | None = None
        recorder = _StepRecorder(self._llm, request.top_logprobs) if request.top_logprobs and self._llm else None
        with self._lock:  # the wait for the lock counts against the deadline too
            for piece in self._pieces(request, started, recorder):
                first = first or time.perf_counter()
                pieces.append(piece)
            context = self._llm.n_tokens if self._llm else 0
        return GenerationResponse(
            text="".join(pieces), model=self.name, model_version=self.version, backend=self.backend,
            # the stream reports no usage: one piece per token, and the context holds prompt + answer
            prompt_tokens=max(0, context - len(pieces)), completion_tokens=len(pieces),
            seconds=time.perf_counter() - started, prompt_seconds=(first or time.perf_counter()) - started,
            steps=recorder.finish() if recorder else None,
        )

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        started = time.perf_counter()
        with self._lock:
            yield from self._pieces(request, started)

    def _pieces(self, request: GenerationRequest, started: float, recorder: _StepRecorder | None = None) -> Iterator[str]:
        if self._llm is None:
            raise ProviderError(f"{self.name}: provider is closed")
        s = request.sampling
        timeout = request.timeout_s or self.timeout_s
        kwargs: dict[str, Any] = {}
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        if recorder is not None:
            from llama_cpp import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList([recorder])
        try:
            messages: list[Any] = [m.model_dump() for m in request.messages]
            # stream=True: llama-cpp-python answers with a generator of chunk dicts
            chunks = cast("Generator[dict[str, Any], None, None]", self._llm.create_chat_completion(
                messages=messages, temperature=s.temperature, top_k=s.top_k,
                top_p=s.top_p, max_tokens=s.max_tokens, seed=s.seed, stream=True, **kwargs))
            for chunk in chunks:
                if timeout is not None and time.perf_counter() - started > timeout:
                    chunks.close()  # stops generation between two tokens
                    raise ProviderTimeout(f"{self.name}: no answer within {timeout:.1f}s")
                if piece := chunk["choices"][0]["delta"].get("content"):
                    yield piece
        except (ValueError, RuntimeError) as err:
            raise ProviderError(f"{self.name}: generation failed: {err}") from err

    def health(self) -> None:
        if self._llm is None:
            raise ProviderError(f"{self.name}: provider is closed")

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


class _StepRecorder:
    """A logits processor that changes nothing and writes down, per generated step, the ``k`` most
    likely tokens and their probabilities. llama.cpp calls it before the grammar masks the logits,
    so these are the model's own preferences. The token chosen at a step is the last input id the
    next step sees; the final step's choice is never evaluated, so it stays unknown."""

    def __init__(self, llm, k: int) -> None:
        self._llm = llm
        self._k = k
        self._prompt: int | None = None
        self._steps: list[TokenStep] = []
        self._last: np.ndarray | None = None  # the previous step's probabilities

    def __call__(self, input_ids, logits):
        if self._prompt is None:
            self._prompt = len(input_ids)
        elif self._last is not None and len(input_ids) > self._prompt:
            chosen = int(input_ids[-1])
            self._steps[-1].token = self._text(chosen)
            self._steps[-1].p = float(self._last[chosen])
        x = logits.astype(np.float64)
        x -= x.max()
        p = np.exp(x)
        p /= p.sum()
        top = np.argpartition(-p, self._k)[: self._k]
        probs: dict[str, float] = {}
        for t in top[np.argsort(-p[top])]:
            text = self._text(int(t))
            probs[text] = probs.get(text, 0.0) + float(p[t])
        self._steps.append(TokenStep(top=probs))
        self._last = p
        return logits

    def _text(self, token: int) -> str:
        return self._llm.detokenize([token]).decode("utf-8", errors="replace")

    def finish(self) -> list[TokenStep]:
        return self._steps
