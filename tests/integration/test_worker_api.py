"""The worker's HTTP API on a real worker bound to every interface: the token is required on
/v1/redact and /metrics, /health stays open, bodies over the limit answer 413, and a worker
without a token refuses to open the API off loopback."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.conftest import running_stack
from tests.integration.stream_harness import start_worker, stop_worker, wait_until
from veil.ops.demo import free_port
from veil.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "api-token-for-the-worker-test-2718"
LIGHT = {"VEIL_MODELS__GENERAL_ENABLED": "false", "VEIL_MODELS__SECURITY_ENABLED": "false", "VEIL_MODELS__NER": ""}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack(Settings(state_dir=tmp_path_factory.mktemp("api"), app_id="veil-api"))


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("api-log") / "worker.log"
    proc = start_worker(stack, log, port, VEIL_STREAM__WEB_HOST="0.0.0.0", VEIL_STREAM__API_TOKEN=TOKEN,
                        VEIL_STREAM__MAX_REQUEST_BYTES="4096", **LIGHT)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{base}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 180, "the worker's /health", proc)
        yield base
    finally:
        stop_worker(proc)


def post(base: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/redact", content=body, headers={"Content-Type": "application/json", **headers},
                      timeout=30)


DOC = orjson.dumps({"id": "a1", "text": "write to ana.lima@example.org from 203.0.113.7"})
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_without_the_token_401_with_a_wrong_one_403_with_it_200(api):
    missing = post(api, DOC)
    assert missing.status_code == 401 and missing.json()["error"].startswith("a bearer token is required")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert post(api, DOC, Authorization="Bearer not-the-token-at-all").status_code == 403
    ok = post(api, DOC, **AUTH)
    assert ok.status_code == 200
    assert ok.json()["redacted_text"] == "write to <EMAIL_1> from <IP_ADDRESS_1>"


def test_a_body_over_the_limit_answers_413_and_a_wrong_type_415(api):
    big = orjson.dumps({"text": "x" * 5000})
    over = post(api, big, **AUTH)
    assert over.status_code == 413 and "limit" in over.json()["error"]
    chunked = httpx.post(f"{api}/v1/redact", content=iter([big[:3000], big[3000:]]),  # no Content-Length
                         headers={"Content-Type": "application/json", **AUTH}, timeout=30)
    assert chunked.status_code == 413
    plain = httpx.post(f"{api}/v1/redact", content=DOC, headers={"Content-Type": "text/plain", **AUTH}, timeout=30)
    assert plain.status_code == 415 and plain.json()["error"]


def test_metrics_need_the_token_and_health_does_not(api):
    assert httpx.get(f"{api}/metrics", timeout=10).status_code == 401
    assert b"veil_http_redact_seconds" in httpx.get(f"{api}/metrics", headers=AUTH, timeout=10).content
    health = httpx.get(f"{api}/health", timeout=10)  # open: its state, not a refusal (no security model here: down)
    assert health.status_code in (200, 503) and health.json()["parts"]["analyze"] == "ok", health.text


def test_a_worker_on_every_interface_without_a_token_refuses_to_start(stack, tmp_path):
    log = tmp_path / "worker.log"
    proc = start_worker(stack, log, free_port(), VEIL_STREAM__WEB_HOST="0.0.0.0", **LIGHT)
    try:
        assert proc.wait(120) == 4  # configuration: a token to set
    finally:
        stop_worker(proc)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines[-1].startswith("error: VEIL_STREAM__API_TOKEN is not set"), lines[-5:]
