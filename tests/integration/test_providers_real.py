"""The provider layer with real inference: llama.cpp in-process, llama.cpp behind a real
OpenAI-compatible HTTP server, failover between them, deadlines, and hot-swap under load."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from typing import Literal

import pytest
from pydantic import BaseModel

from veil import Policy, Redactor
from veil.errors import AllProvidersFailed, ProviderTimeout
from veil.models.chain import ProviderChain, RetryPolicy
from veil.models.llamacpp import LlamaCppProvider
from veil.models.manager import ModelManager, ModelSource, SlotProvider
from veil.models.metrics import Metered, Metrics
from veil.models.ollama import OllamaProvider
from veil.models.openai_compat import OpenAICompatibleProvider
from veil.models.roles import JudgeAnswer, SecurityJudge
from veil.schemas import ChatMessage, GenerationRequest, Sampling

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TEXT = "2026-11-20 WARN auth-svc login failed for tom@example.org from 10.8.2.14 (host db1.corp)"
ASK = GenerationRequest(
    messages=[ChatMessage(role="user", content=f"Must 10.8.2.14 be redacted? {TEXT}")],
    json_schema=JudgeAnswer.model_json_schema(), sampling=Sampling(max_tokens=96))


class Shape(BaseModel):
    """What a JSON-schema grammar guarantees: keys, types and enums. Ranges (confidence <= 1) are
    not enforced by llama.cpp's grammar; the roles' pydantic validation catches those and retries."""

    redact: bool
    category: Literal["pii", "secret", "infra", "none"]
    confidence: float
    rationale: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local(small_model):
    p = LlamaCppProvider(model_path=small_model, name="smollm2-135m", version="v1")
    yield p
    p.close()


@pytest.fixture(scope="module")
def server(small_model):
    """llama-cpp-python's OpenAI-compatible server on the small model, in a subprocess."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(small_model), "--model_alias", "smollm2-135m",
         "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "2048"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"OMP_WAIT_POLICY": "PASSIVE", "PATH": ""})
    url = f"http://127.0.0.1:{port}/v1"
    p = OpenAICompatibleProvider(base_url=url, model="smollm2-135m", schema_mode="json_object", timeout_s=60)
    deadline = time.monotonic() + 60
    while True:
        try:
            p.health()
            break
        except Exception:  # noqa: BLE001 - still starting
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("llama_cpp.server did not start")
            time.sleep(0.5)
    yield p
    p.close()
    proc.terminate()
    proc.wait(10)


def test_openai_compatible_server_gives_schema_valid_output_with_usage(server):
    res = server.generate(ASK)
    Shape.model_validate_json(res.text)
    assert res.backend == "openai" and res.prompt_tokens > 0 and res.completion_tokens > 0


def test_openai_compatible_server_reports_token_probabilities(server):
    res = server.generate(ASK.model_copy(update={"top_logprobs": 3}))
    Shape.model_validate_json(res.text)
    assert res.steps and "".join(s.token for s in res.steps) == res.text
    assert all(0 < s.p <= 1 and 1 <= len(s.top) <= 4 for s in res.steps)  # this server adds the chosen token
    assert server.generate(ASK).steps is None  # only when asked


def test_openai_compatible_server_streams(server):
    pieces = list(server.stream(GenerationRequest(messages=[ChatMessage(role="user", content="Say hello.")],
                                                  sampling=Sampling(max_tokens=8))))
    assert 1 <= len(pieces) <= 8 and "".join(pieces).strip()


def test_llamacpp_streams_the_same_text_it_generates(local):
    req = GenerationRequest(messages=[ChatMessage(role="user", content="Name a colour.")], sampling=Sampling(max_tokens=12))
    assert "".join(local.stream(req)) == local.generate(req).text


def test_llamacpp_reports_token_probabilities_aligned_with_the_tokens_it_chose(local):
    assert local.generate(ASK).steps is None  # only when asked
    res = local.generate(ASK.model_copy(update={"top_logprobs": 5}))
    assert res.completion_tokens <= len(res.steps) <= res.completion_tokens + 1  # + the step that ended it
    assert all(1 <= len(s.top) <= 5 and 0 < sum(s.top.values()) <= 1.0001 for s in res.steps)
    chosen = res.steps[:-1]  # the last step's choice is never evaluated
    assert "".join(s.token for s in chosen) == res.text[: len("".join(s.token for s in chosen))]
    assert all(0 < s.p <= 1 for s in chosen)
    # a chosen token among the step's top ones has the probability listed there: the step and its
    # choice line up (an off-by-one would pair a token with the next step's distribution)
    listed = [s for s in chosen if s.token in s.top]
    assert listed and all(abs(s.top[s.token] - s.p) < 1e-6 for s in listed)


def test_llamacpp_deadline_stops_generation(local):
    long = GenerationRequest(messages=[ChatMessage(role="user", content="Write a long story about the sea.")],
                             sampling=Sampling(max_tokens=400), timeout_s=0.3)
    started = time.perf_counter()
    with pytest.raises(ProviderTimeout):
        local.generate(long)
    assert time.perf_counter() - started < 2.0  # stopped between tokens, not after 400 of them
    assert local.generate(ASK).text  # and the model is fine afterwards


def test_failover_from_unreachable_and_timed_out_providers_to_a_working_one(local, small_model):
    slow = LlamaCppProvider(model_path=small_model, name="smollm2-135m", version="slow", timeout_s=0.05)
    metrics = Metrics()
    chain = ProviderChain(
        [Metered(OllamaProvider(host="http://127.0.0.1:9", tag="qwen2.5-coder:0.5b", timeout_s=2), metrics),
         Metered(OpenAICompatibleProvider(base_url="http://127.0.0.1:9/v1", model="x", timeout_s=2), metrics),
         Metered(slow, metrics), Metered(local, metrics)],
        role="security", retry=RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=None))
    try:
        res = chain.generate(ASK)
        Shape.model_validate_json(res.text)
        assert res.model_version == "v1"
        stats = metrics.snapshot()
        assert stats["qwen2.5-coder:0.5b@0.5b"].errors == 2 and stats["smollm2-135m@slow"].timeouts == 2
        assert stats["smollm2-135m@v1"].calls == 1 and stats["smollm2-135m@v1"].errors == 0
        assert [s.healthy for s in chain.status()] == [False, False, True, True]
    finally:
        slow.close()


def test_every_provider_failing_reaches_the_caller_which_fails_closed(local):
    chain = ProviderChain([OpenAICompatibleProvider(base_url="http://127.0.0.1:9/v1", model="x", timeout_s=1)],
                          retry=RetryPolicy(attempts=1, timeout_s=None))
    with pytest.raises(AllProvidersFailed):
        chain.generate(ASK)
    r = Redactor(policy=Policy(), hmac_key=b"k")
    [ip] = [f for f in r.scan(TEXT) if f.entity == "IP_ADDRESS"]
    with pytest.raises(AllProvidersFailed):  # the caller chooses: redact (fail closed) or hold the record
        SecurityJudge(chain).judge(TEXT, ip)
    assert r.settle(ip, None).redact


def test_hot_swap_under_concurrent_judge_calls_fails_no_call(small_model):
    made: list[LlamaCppProvider] = []

    def loader(version):
        def load():
            made.append(LlamaCppProvider(model_path=small_model, name="smollm2-135m", version=version))
            return made[-1]
        return ModelSource(name="smollm2-135m", version=version, load=load, memory_mb=120)

    manager = ModelManager(budget_mb=400)
    manager.register("security", loader("v1"), load_now=True)
    judge = SecurityJudge(SlotProvider(manager, "security"), sampling=Sampling(max_tokens=48))
    r = Redactor(policy=Policy(), hmac_key=b"k")
    [ip] = [f for f in r.scan(TEXT) if f.entity == "IP_ADDRESS"]
    versions, failures, stop = [], [], threading.Event()

    def caller():
        while not stop.is_set():
            d = judge.judge(TEXT, ip)
            (versions if d is not None else failures).append(d.model_version if d else None)

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for t in threads:
        t.start()
    while len(versions) + len(failures) < 3:
        time.sleep(0.05)
    manager.swap("security", loader("v2"))
    settled = len(versions) + len(failures)
    while len(versions) + len(failures) < settled + 6:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    try:
        assert failures == []
        assert versions[0] == "v1" and versions[-1] == "v2"
        assert made[0]._llm is None and made[1]._llm is not None  # the old version was drained and closed
    finally:
        manager.close()
