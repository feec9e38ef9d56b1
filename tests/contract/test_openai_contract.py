"""The OpenAI-compatible provider against responses recorded from a real server."""

import json
import math

import pytest

from tests.contract.conftest import recorded
from veil.errors import ProviderError, ProviderUnavailable
from veil.models.openai_compat import OpenAICompatibleProvider
from veil.schemas import ChatMessage, GenerationRequest, Sampling


def request_like(case: str) -> GenerationRequest:
    """The request that produced a recording, rebuilt from Veil's own types."""
    sent = recorded("openai", case)["request"]
    fmt = sent.get("response_format") or {}
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    return GenerationRequest(
        messages=[ChatMessage(**m) for m in sent["messages"]], json_schema=schema,
        sampling=Sampling(temperature=sent["temperature"], top_p=sent["top_p"], top_k=sent["top_k"],
                          max_tokens=sent["max_tokens"], seed=sent["seed"]))


@pytest.fixture
def replay_v1(replay):
    replay.prefix = "/v1"
    return replay


def provider(replay, mode="json_object", **kw):
    return OpenAICompatibleProvider(base_url=replay.url, model="smollm2-135m", schema_mode=mode, timeout_s=5, **kw)


def test_generate_sends_the_recorded_request_and_reads_text_and_usage(replay_v1):
    rec = replay_v1.serve("openai", "chat_json_object")
    out = provider(replay_v1).generate(request_like("chat_json_object"))
    assert replay_v1.sent == [rec["request"]]  # byte for byte what the real server accepted
    assert out.text.strip().startswith("{") and "redact" in out.text
    usage = json.loads(rec["body"])["usage"]
    assert (out.prompt_tokens, out.completion_tokens) == (usage["prompt_tokens"], usage["completion_tokens"]) != (0, 0)
    assert out.backend == "openai" and out.model == "smollm2-135m"


def test_json_schema_mode_is_the_openai_shape_and_its_rejection_is_a_server_error(replay_v1):
    replay_v1.serve("openai", "chat_json_schema_unsupported")
    with pytest.raises(ProviderUnavailable, match="HTTP 500") as err:
        provider(replay_v1, mode="json_schema").generate(request_like("chat_json_schema_unsupported"))
    assert err.value.retryable
    fmt = replay_v1.sent[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"]["required"] == ["redact", "confidence"]


def test_stream_yields_the_recorded_pieces_in_order(replay_v1):
    rec = replay_v1.serve("openai", "chat_stream")
    pieces = list(provider(replay_v1).stream(request_like("chat_stream")))
    assert replay_v1.sent == [rec["request"]]
    events = [json.loads(line[6:]) for line in rec["body"].splitlines() if line.startswith("data: {")]
    expected = [e["choices"][0]["delta"]["content"] for e in events if e["choices"][0]["delta"].get("content")]
    assert pieces == expected and len(pieces) == 8


def test_health_checks_that_the_model_is_served(replay_v1):
    replay_v1.serve("openai", "models", times=2)
    provider(replay_v1).health()
    other = OpenAICompatibleProvider(base_url=replay_v1.url, model="not-served", timeout_s=5)
    with pytest.raises(ProviderError, match="does not serve"):
        other.health()


def test_api_key_is_sent_as_bearer_and_never_in_errors(httpserver):
    from pydantic import SecretStr

    httpserver.expect_request("/v1/models", headers={"Authorization": "Bearer s3cr3t-key"}).respond_with_json(
        {"error": {"message": "invalid api key"}}, status=401)
    p = OpenAICompatibleProvider(base_url=httpserver.url_for("/v1"), model="m", api_key=SecretStr("s3cr3t-key"))
    with pytest.raises(ProviderError, match="HTTP 401: invalid api key") as err:
        p.health()
    assert not err.value.retryable and "s3cr3t" not in str(err.value)


def test_unreachable_server_is_a_retryable_error():
    p = OpenAICompatibleProvider(base_url="http://127.0.0.1:9/v1", model="m", timeout_s=2)
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        p.generate(GenerationRequest(messages=[ChatMessage(role="user", content="hi")]))


def test_token_probabilities_are_asked_for_and_read_as_steps(replay_v1):
    rec = replay_v1.serve("openai", "chat_logprobs")
    req = request_like("chat_logprobs").model_copy(update={"top_logprobs": 3})
    out = provider(replay_v1).generate(req)
    assert replay_v1.sent == [rec["request"]]
    content = json.loads(rec["body"])["choices"][0]["logprobs"]["content"]
    assert "".join(s.token for s in out.steps) == out.text and len(out.steps) == len(content)
    first = content[0]
    assert out.steps[0].p == pytest.approx(math.exp(first["logprob"]))
    assert out.steps[0].top == pytest.approx({t["token"]: math.exp(t["logprob"]) for t in first["top_logprobs"]})


def test_token_probabilities_are_not_asked_for_when_turned_off(replay_v1):
    replay_v1.serve("openai", "chat_json_object")
    out = provider(replay_v1, logprobs=False).generate(
        request_like("chat_json_object").model_copy(update={"top_logprobs": 3}))
    assert "logprobs" not in replay_v1.sent[0] and out.steps is None
