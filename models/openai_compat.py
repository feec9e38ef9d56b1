"""Any OpenAI-compatible chat server over HTTP: vLLM, llama.cpp's server, llama-cpp-python's server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Literal

import httpx
import orjson
from pydantic import SecretStr

from veil.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from veil.models.provider import steps_from_logprobs
from veil.schemas import GenerationRequest, GenerationResponse

#: How the server takes a JSON schema. OpenAI and vLLM: ``json_schema``; llama-cpp-python's server
#: only knows ``json_object`` with a ``schema`` field (llama.cpp's own server takes both).
SchemaMode = Literal["json_schema", "json_object"]


def translate(err: Exception, name: str) -> ProviderError:
    """An httpx failure as a Veil provider error; retryable where another try may succeed."""
    if isinstance(err, httpx.TimeoutException):
        return ProviderTimeout(f"{name}: timed out ({type(err).__name__})")
    if isinstance(err, httpx.TransportError):
        return ProviderUnavailable(f"{name}: cannot reach the server ({type(err).__name__})")
    if isinstance(err, httpx.HTTPStatusError):
        code = err.response.status_code
        cls = ProviderUnavailable if code == 429 or code >= 500 else ProviderError
        return cls(f"{name}: HTTP {code}: {_error_message(err.response)}")
    return ProviderError(f"{name}: {type(err).__name__}")


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    err = body.get("error") if isinstance(body, dict) else None
    message = err.get("message") if isinstance(err, dict) else err
    return str(message or response.reason_phrase).splitlines()[0][:160]


class OpenAICompatibleProvider:
    """Chat completions at ``{base_url}/chat/completions`` (base_url ends in ``/v1``)."""

    backend = "openai"

    def __init__(self, *, base_url: str, model: str, name: str | None = None, version: str = "server",
                 api_key: SecretStr | None = None, timeout_s: float = 60.0, schema_mode: SchemaMode = "json_schema",
                 logprobs: bool = True, transport: httpx.BaseTransport | None = None) -> None:
        self.name = name or model
        self.version = version
        self.model = model
        self.schema_mode = schema_mode
        self.logprobs = logprobs
        headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport)

    def _body(self, request: GenerationRequest, *, stream: bool) -> dict:
        s = request.sampling
        body: dict = {
            "model": self.model, "messages": [m.model_dump() for m in request.messages], "stream": stream,
            "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens, "seed": s.seed,
        }
        if s.top_k:
            body["top_k"] = s.top_k  # an extension vLLM and llama.cpp accept; OpenAI ignores it
        if request.json_schema is not None:
            body["response_format"] = (
                {"type": "json_schema", "json_schema": {"name": "answer", "schema": request.json_schema, "strict": True}}
                if self.schema_mode == "json_schema" else {"type": "json_object", "schema": request.json_schema})
        if request.top_logprobs and self.logprobs and not stream:
            body["logprobs"], body["top_logprobs"] = True, request.top_logprobs
        return body

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        started = time.perf_counter()
        try:
            r = self._http.post("/chat/completions", content=orjson.dumps(self._body(request, stream=False)),
                                headers={"Content-Type": "application/json"}, timeout=request.timeout_s or httpx.USE_CLIENT_DEFAULT)
            r.raise_for_status()
            body = r.json()
            text = body["choices"][0]["message"]["content"] or ""
            steps = steps_from_logprobs((body["choices"][0].get("logprobs") or {}).get("content"))
        except httpx.HTTPError as err:
            raise translate(err, self.name) from err
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise ProviderError(f"{self.name}: malformed response ({type(err).__name__})") from err
        usage = body.get("usage") or {}
        return GenerationResponse(
            text=text, model=self.name, model_version=self.version, backend=self.backend,
            prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0),
            seconds=time.perf_counter() - started, steps=steps,
        )

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Server-sent events: ``data: {chunk}`` lines, ending with ``data: [DONE]``."""
        try:
            with self._http.stream("POST", "/chat/completions", content=orjson.dumps(self._body(request, stream=True)),
                                   headers={"Content-Type": "application/json"},
                                   timeout=request.timeout_s or httpx.USE_CLIENT_DEFAULT) as r:
                if r.is_error:
                    r.read()
                    r.raise_for_status()
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    choices = orjson.loads(data).get("choices") or [{}]
                    if piece := (choices[0].get("delta") or {}).get("content"):
                        yield piece
        except httpx.HTTPError as err:
            raise translate(err, self.name) from err
        except (orjson.JSONDecodeError, AttributeError) as err:
            raise ProviderError(f"{self.name}: malformed stream ({type(err).__name__})") from err

    def health(self) -> None:
        """The server answers ``/models`` and serves this model."""
        try:
            r = self._http.get("/models", timeout=5.0)
            r.raise_for_status()
            served = {m.get("id") for m in r.json().get("data", [])}
        except httpx.HTTPError as err:
            raise translate(err, self.name) from err
        except (ValueError, AttributeError) as err:
            raise ProviderError(f"{self.name}: malformed /models response") from err
        if self.model not in served:
            raise ProviderError(f"{self.name}: the server does not serve {self.model!r} (it has {len(served)} models)")

    def close(self) -> None:
        self._http.close()
