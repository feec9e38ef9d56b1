"""Replay recorded API exchanges with pytest-httpserver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug import Request, Response

RECORDED = Path(__file__).parent / "recorded"


def recorded(backend: str, case: str) -> dict:
    return json.loads((RECORDED / backend / f"{case}.json").read_text())


class Replay:
    """Serves recorded responses and keeps the JSON bodies Veil sent, for assertions."""

    def __init__(self, httpserver, prefix: str = "") -> None:
        self.server, self.prefix = httpserver, prefix
        self.sent: list[dict | None] = []

    def serve(self, backend: str, case: str, *, times: int = 1) -> dict:
        rec = recorded(backend, case)

        def handler(request: Request) -> Response:
            self.sent.append(json.loads(request.data) if request.data else None)
            return Response(rec["body"], status=rec["status"], content_type=rec["content_type"])

        for _ in range(times):
            self.server.expect_ordered_request(self.prefix + rec["path"], method=rec["method"]).respond_with_handler(handler)
        return rec

    @property
    def url(self) -> str:
        return self.server.url_for(self.prefix).rstrip("/")


@pytest.fixture
def replay(httpserver):
    return Replay(httpserver)
