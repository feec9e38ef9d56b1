"""An Ollama server over HTTP, through the official ``ollama`` client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama

from veil.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from veil.models.provider import steps_from_logprobs
from veil.schemas import GenerationRequest, GenerationResponse

_NS = 1e-9


class OllamaProvider:
    """One model tag on one Ollama server. The JSON schema goes in ``format`` (Ollama >= 0.5)."""

    backend = "ollama"

    def __init__(self, *, host: str, tag: str, name: str | None = None, version: str | None = None,
                 timeout_s: float = 60.0, keep_alive: str = "30m") -> None:
        self.host, self.tag = host, tag
        self.name = name or tag
        self.version = version or tag.partition(":")[2] or "latest"
        self.timeout_s, self.keep_alive = timeout_s, keep_alive
        self._clients: dict[float, ollama.Client] = {}

    def _client(self, timeout: float | None) -> ollama.Client:
        """One client per deadline: the ollama client takes its timeout at construction."""
        t = timeout or self.timeout_s
        if t not in self._clients:
            self._clients[t] = ollama.Client(host=self.host, timeout=t)
        return self._clients[t]

    def _call(self, request: GenerationRequest, *, stream: bool):
        s = request.sampling
        probs = {"logprobs": True, "top_logprobs": request.top_logprobs} if request.top_logprobs and not stream else {}
        args: dict[str, Any] = {
            "model": self.tag, "messages": [m.model_dump() for m in request.messages], "format": request.json_schema,
            "keep_alive": self.keep_alive, **probs,
            "options": {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p,
                        "num_predict": s.max_tokens, "seed": s.seed},
        }
        client = self._client(request.timeout_s)
        return client.chat(**args, stream=True) if stream else client.chat(**args, stream=False)

    def _translate(self, err: Exception) -> ProviderError:
        if isinstance(err, ollama.ResponseError):
            code = err.status_code
            cls = ProviderUnavailable if code == 429 or code >= 500 else ProviderError
            return cls(f"{self.name}: HTTP {code}: {str(err.error)[:160]}")
        if isinstance(err, httpx.TimeoutException):
            return ProviderTimeout(f"{self.name}: timed out ({type(err).__name__})")
        if isinstance(err, (ConnectionError, httpx.TransportError)):
            return ProviderUnavailable(f"{self.name}: cannot reach Ollama at {self.host}")
        return ProviderError(f"{self.name}: {type(err).__name__}")

    _ERRORS = (ollama.ResponseError, httpx.HTTPError, ConnectionError)

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        started = time.perf_counter()
        try:
            r = self._call(request, stream=False)
        except self._ERRORS as err:
            raise self._translate(err) from err
        except ValueError as err:  # the client could not parse the body
            raise ProviderError(f"{self.name}: malformed response") from err
        return GenerationResponse(
            text=r.message.content or "", model=self.name, model_version=self.version, backend=self.backend,
            prompt_tokens=r.prompt_eval_count or 0, completion_tokens=r.eval_count or 0,
            seconds=time.perf_counter() - started,
            prompt_seconds=(r.load_duration or 0) * _NS + (r.prompt_eval_duration or 0) * _NS or None,
            steps=steps_from_logprobs([lp.model_dump() for lp in r.logprobs] if r.logprobs else None),
        )

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        try:
            for part in self._call(request, stream=True):
                if part.message.content:
                    yield part.message.content
        except self._ERRORS as err:
            raise self._translate(err) from err

    def health(self) -> None:
        """The server answers and has this tag pulled."""
        try:
            self._client(5.0).show(self.tag)
        except self._ERRORS as err:
            raise self._translate(err) from err

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()
