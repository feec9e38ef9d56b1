"""The Ollama provider against a real Ollama server in a container (needs Docker and internet for
the model pull; skipped where there is no Docker engine)."""

import pytest

from veil.models.chain import ProviderChain, RetryPolicy
from veil.models.ollama import OllamaProvider
from veil.models.roles import SecurityJudge
from veil.schemas import Category, ChatMessage, Finding, GenerationRequest, Sampling

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]
TAG = "smollm2:135m"


@pytest.fixture(scope="module")
def ollama():
    try:
        from testcontainers.community.ollama import OllamaContainer
    except ImportError:
        from testcontainers.ollama import OllamaContainer

    with OllamaContainer() as container:
        container.pull_model(TAG)
        yield OllamaProvider(host=container.get_endpoint(), tag=TAG, timeout_s=120)


def test_real_ollama_answers_to_the_schema_with_counts(ollama):
    ollama.health()
    schema = {"type": "object", "properties": {"redact": {"type": "boolean"}}, "required": ["redact"]}
    res = ollama.generate(GenerationRequest(messages=[ChatMessage(role="user", content="Redact 10.0.0.5? JSON.")],
                                            json_schema=schema, sampling=Sampling(max_tokens=32)))
    import json

    assert isinstance(json.loads(res.text)["redact"], bool)
    assert res.prompt_tokens > 0 and res.completion_tokens > 0 and res.backend == "ollama"
    measured = ollama.generate(GenerationRequest(messages=[ChatMessage(role="user", content="Redact 10.0.0.5? JSON.")],
                                                 json_schema=schema, sampling=Sampling(max_tokens=32), top_logprobs=3))
    assert measured.steps and all(0 < s.p <= 1 and s.top for s in measured.steps)  # a server with logprobs support
    assert "".join(ollama.stream(GenerationRequest(messages=[ChatMessage(role="user", content="Say hi")],
                                                   sampling=Sampling(max_tokens=8)))).strip()


def test_real_ollama_serves_the_judge_behind_a_chain(ollama):
    text = "connect timeout to 10.20.4.17:5432"
    f = Finding(start=19, end=29, entity="IP_ADDRESS", category=Category.INFRA, detector="ip", score=0.6)
    judge = SecurityJudge(ProviderChain([ollama], retry=RetryPolicy(attempts=1, timeout_s=120)))
    d = judge.judge(text, f)
    assert d is None or (d.model == TAG and 0 <= d.confidence <= 1)  # a tiny model may not decide; never raises


def test_missing_tag_is_a_clear_non_retryable_error(ollama):
    from veil.errors import ProviderError

    missing = OllamaProvider(host=ollama.host, tag="no-such-model:1b")
    with pytest.raises(ProviderError, match="HTTP 404") as err:
        missing.health()
    assert not err.value.retryable
