"""The transformers backend on the small model (GGUF de-quantized by transformers), CPU here."""

import pytest

pytest.importorskip("torch", reason="the hf extra is not installed")
pytest.importorskip("transformers", reason="the hf extra is not installed")

from veil.errors import ProviderTimeout
from veil.models.hf import TransformersProvider
from veil.schemas import ChatMessage, GenerationRequest, Sampling

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def hf(small_model):
    p = TransformersProvider(source=str(small_model), name="smollm2-135m", version="test")
    yield p
    p.close()


def test_generates_with_counts_and_streams_the_same_greedy_text(hf):
    req = GenerationRequest(messages=[ChatMessage(role="user", content="Name a colour.")], sampling=Sampling(max_tokens=8))
    res = hf.generate(req)
    assert res.backend == "transformers" and res.prompt_tokens > 5 and 0 < res.completion_tokens <= 8
    assert "".join(hf.stream(req)).strip() == res.text.strip()


def test_reports_token_probabilities_when_asked(hf):
    req = GenerationRequest(messages=[ChatMessage(role="user", content="Name a colour.")], sampling=Sampling(max_tokens=8))
    assert hf.generate(req).steps is None
    res = hf.generate(req.model_copy(update={"top_logprobs": 3}))
    assert len(res.steps) == res.completion_tokens
    # greedy decoding: each chosen token is the step's most likely one
    assert all(len(s.top) <= 3 and s.p == pytest.approx(max(s.top.values()), rel=1e-5) for s in res.steps)


def test_deadline_is_enforced(hf):
    with pytest.raises(ProviderTimeout):
        hf.generate(GenerationRequest(messages=[ChatMessage(role="user", content="Write a long story.")],
                                      sampling=Sampling(max_tokens=400), timeout_s=0.2))
