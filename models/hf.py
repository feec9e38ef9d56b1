"""Hugging Face transformers in-process: CPU here, the GPU where there is one.

Install the extra: ``pip install 'veil[hf]'`` (torch and transformers). ``source`` is a model folder,
a ``.gguf`` file (transformers de-quantizes it) or, where the machine has internet, a hub id.
Transformers has no grammar-constrained decoding, so the JSON schema goes into the system prompt
and the roles' validation and retry do the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from veil.errors import ProviderError, ProviderTimeout
from veil.schemas import ChatMessage, GenerationRequest, GenerationResponse, TokenStep


class TransformersProvider:
    backend = "transformers"

    def __init__(self, *, source: str, name: str, version: str, timeout_s: float | None = None,
                 device: str | None = None) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise ProviderError("the transformers backend needs `pip install 'veil[hf]'` (torch, transformers)") from err
        self.name, self.version, self.timeout_s = name, version, timeout_s
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        path = Path(source).expanduser()
        kwargs: dict = {}
        if path.suffix == ".gguf":
            kwargs["gguf_file"] = path.name
            source = str(path.parent)
        try:
            self._tok = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=torch.float16 if self.device == "cuda" else torch.float32, **kwargs)
            self._model = model.to(self.device)  # type: ignore[arg-type]  # transformers' decorated .to() reads as unbound
        except (OSError, ValueError) as err:
            raise ProviderError(f"transformers could not load {name}: {str(err).splitlines()[0][:160]}") from err
        self._model.eval()
        self._torch = torch
        self._lock = threading.Lock()

    def _inputs(self, request: GenerationRequest):
        messages = list(request.messages)
        if request.json_schema is not None:
            note = f"Answer with one JSON object matching this JSON schema: {orjson.dumps(request.json_schema).decode()}"
            if messages[0].role == "system":
                messages[0] = ChatMessage(role="system", content=f"{messages[0].content}\n{note}")
            else:
                messages.insert(0, ChatMessage(role="system", content=note))
        ids = self._tok.apply_chat_template([m.model_dump() for m in messages], add_generation_prompt=True,
                                            return_tensors="pt")
        return ids.to(self.device)

    def _kwargs(self, request: GenerationRequest, timeout: float | None) -> dict:
        s = request.sampling
        kw = {"max_new_tokens": s.max_tokens, "do_sample": s.temperature > 0, "pad_token_id": self._tok.eos_token_id}
        if s.temperature > 0:
            kw.update(temperature=s.temperature, top_k=s.top_k or None, top_p=s.top_p)
        if timeout is not None:
            kw["max_time"] = timeout  # transformers stops generating at this many seconds
        return kw

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        timeout = request.timeout_s or self.timeout_s
        started = time.perf_counter()
        with self._lock, self._torch.inference_mode():
            self._torch.manual_seed(request.sampling.seed)
            ids = self._inputs(request)
            out = self._model.generate(ids, **self._kwargs(request, timeout), return_dict_in_generate=True,
                                       output_logits=bool(request.top_logprobs))
        seconds = time.perf_counter() - started
        new = out.sequences[0, ids.shape[1]:]
        if timeout is not None and seconds >= timeout and len(new) < request.sampling.max_tokens \
                and int(new[-1]) != self._tok.eos_token_id:
            raise ProviderTimeout(f"{self.name}: no answer within {timeout:.1f}s")
        return GenerationResponse(
            text=self._tok.decode(new, skip_special_tokens=True), model=self.name, model_version=self.version,
            backend=self.backend, prompt_tokens=int(ids.shape[1]), completion_tokens=len(new), seconds=seconds,
            steps=self._steps(out.logits, new, request.top_logprobs) if request.top_logprobs else None)

    def _steps(self, logits, chosen, k: int) -> list[TokenStep]:
        """The model's raw distribution at each generated step (before sampling settings)."""
        steps = []
        for row, token in zip(logits, chosen, strict=False):
            p = self._torch.softmax(row[0].float(), dim=-1)
            values, ids = self._torch.topk(p, k)
            top: dict[str, float] = {}
            for v, t in zip(values.tolist(), ids.tolist(), strict=True):
                text = self._tok.decode([t])
                top[text] = top.get(text, 0.0) + v
            steps.append(TokenStep(token=self._tok.decode([int(token)]), p=float(p[int(token)]), top=top))
        return steps

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        with self._lock:
            ids = self._inputs(request)
            streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)
            worker = threading.Thread(target=self._model.generate, args=(ids,), daemon=True,
                                      kwargs={**self._kwargs(request, request.timeout_s or self.timeout_s), "streamer": streamer})
            worker.start()
            for piece in streamer:
                if piece:
                    yield piece
            worker.join()

    def health(self) -> None:
        if self._model is None:
            raise ProviderError(f"{self.name}: provider is closed")

    def close(self) -> None:
        with self._lock:
            self._model = None
            if self.device == "cuda":
                self._torch.cuda.empty_cache()
