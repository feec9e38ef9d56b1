"""Record real responses from a live server for the contract tests.

    python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf --model_alias smollm2-135m --port 8099 &
    python tests/contract/record.py http://127.0.0.1:8099/v1 "llama-cpp-python 0.3.36 server" [CASE ...]

    ollama pull qwen2.5-coder:0.5b
    python tests/contract/record.py --ollama http://127.0.0.1:11434 "Ollama 0.12.6" [CASE ...]

Each case is written to recorded/<backend>/<case>.json with the request sent, the status and the
raw body (server-sent events and NDJSON kept as text), so the tests replay exactly what the server
said. An Ollama case sends the request already in its file again (the tests check that Veil sends
that request), so the files written from the API reference become recordings in place;
``chat_overloaded`` (a 503 under load) cannot be provoked on demand and is left as written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import orjson

SCHEMA = {"type": "object", "properties": {"redact": {"type": "boolean"}, "confidence": {"type": "number"}},
          "required": ["redact", "confidence"]}
MESSAGES = [{"role": "system", "content": "Answer with JSON only."},
            {"role": "user", "content": "Should the e-mail address anna@example.org be redacted?"}]
BASE = {"model": "smollm2-135m", "messages": MESSAGES, "temperature": 0.0, "top_p": 0.95, "max_tokens": 32,
        "seed": 7, "top_k": 40}
CASES = {
    "chat_json_object": ("POST", "/chat/completions",
                         {**BASE, "stream": False, "response_format": {"type": "json_object", "schema": SCHEMA}}),
    "chat_stream": ("POST", "/chat/completions", {**BASE, "stream": True, "max_tokens": 8}),
    "chat_json_schema_unsupported": ("POST", "/chat/completions",
                                     {**BASE, "stream": False, "response_format": {
                                         "type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}}),
    "chat_logprobs": ("POST", "/chat/completions",
                      {**BASE, "stream": False, "response_format": {"type": "json_object", "schema": SCHEMA},
                       "logprobs": True, "top_logprobs": 3}),
    "models": ("GET", "/models", None),
}


OLLAMA_CASES = ("chat_format_schema", "chat_stream", "chat_model_missing", "show")


def main(base_url: str, server: str, cases: list[str], *, backend: str = "openai",
         root: Path = Path(__file__).parent / "recorded") -> None:
    out = root / backend
    out.mkdir(parents=True, exist_ok=True)
    exchanges = CASES
    if backend == "ollama":
        files = {case: orjson.loads((out / f"{case}.json").read_bytes()) for case in OLLAMA_CASES}
        exchanges = {case: (f["method"], f["path"], f["request"]) for case, f in files.items()}
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for case, (method, path, body) in exchanges.items():
            if cases and case not in cases:
                continue
            r = http.request(method, path, json=body)
            (out / f"{case}.json").write_bytes(orjson.dumps({
                "server": server, "method": method, "path": path, "request": body, "status": r.status_code,
                "content_type": r.headers.get("content-type", ""), "body": r.text,
            }, option=orjson.OPT_INDENT_2))
            print(case, r.status_code)


if __name__ == "__main__":
    if sys.argv[1] == "--ollama":
        main(sys.argv[2], sys.argv[3], sys.argv[4:], backend="ollama")
    else:
        main(sys.argv[1], sys.argv[2], sys.argv[3:])
