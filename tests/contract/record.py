"""Record real responses from a live OpenAI-compatible server for the contract tests.

    python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf --model_alias smollm2-135m --port 8099 &
    python tests/contract/record.py http://127.0.0.1:8099/v1 "llama-cpp-python 0.3.36 server" [CASE ...]

Each case is written to recorded/openai/<case>.json with the request sent, the status and the raw
body (server-sent events kept as text), so the tests replay exactly what the server said.
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


def main(base_url: str, server: str, cases: list[str]) -> None:
    out = Path(__file__).parent / "recorded" / "openai"
    out.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for case, (method, path, body) in CASES.items():
            if cases and case not in cases:
                continue
            r = http.request(method, path, json=body)
            (out / f"{case}.json").write_bytes(orjson.dumps({
                "server": server, "method": method, "path": path, "request": body, "status": r.status_code,
                "content_type": r.headers.get("content-type", ""), "body": r.text,
            }, option=orjson.OPT_INDENT_2))
            print(case, r.status_code)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
