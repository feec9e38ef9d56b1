"""The Ollama provider against Ollama API exchanges (see recorded/ollama for their provenance)."""

import json

import pytest

from tests.contract.conftest import recorded
from veil.errors import ProviderError, ProviderUnavailable
from veil.models.ollama import OllamaProvider
from veil.schemas import ChatMessage, GenerationRequest, Sampling


def request_like(case: str) -> GenerationRequest:
    sent = recorded("ollama", case)["request"]
    o = sent["options"]
    return GenerationRequest(
        messages=[ChatMessage(**m) for m in sent["messages"]], json_schema=sent.get("format"),
        sampling=Sampling(temperature=o["temperature"], top_p=o["top_p"], top_k=o["top_k"],
                          max_tokens=o["num_predict"], seed=o["seed"]))


def provider(replay, tag="qwen2.5-coder:0.5b"):
    return OllamaProvider(host=replay.url, tag=tag, timeout_s=5)


def test_generate_sends_schema_in_format_and_reads_counts_and_timings(replay):
    rec = replay.serve("ollama", "chat_format_schema")
    out = provider(replay).generate(request_like("chat_format_schema"))
    sent = replay.sent[0]
    for key in ("model", "messages", "format", "options", "keep_alive"):
        assert sent[key] == rec["request"][key], key
    assert sent["stream"] is False
    # Expectations come from the exchange itself, so a file re-recorded from a live server
    # (tests/contract/record.py --ollama) is checked the same way.
    said = json.loads(rec["body"])
    assert out.text == said["message"]["content"]
    assert {"redact", "confidence"} <= set(json.loads(out.text))  # the format schema was followed
    assert (out.prompt_tokens, out.completion_tokens) == (said["prompt_eval_count"], said["eval_count"])
    assert out.prompt_seconds == pytest.approx((said["load_duration"] + said["prompt_eval_duration"]) / 1e9)
    assert (out.model, out.model_version, out.backend) == ("qwen2.5-coder:0.5b", "0.5b", "ollama")


def test_token_probabilities_are_asked_for_only_when_wanted(replay):
    replay.serve("ollama", "chat_format_schema", times=2)
    req = request_like("chat_format_schema")
    provider(replay).generate(req)
    out = provider(replay).generate(req.model_copy(update={"top_logprobs": 4}))
    assert "logprobs" not in replay.sent[0]
    assert (replay.sent[1]["logprobs"], replay.sent[1]["top_logprobs"]) == (True, 4)
    assert out.steps is None  # this recording (an older server) has none; the judge then uses the stated confidence


def test_stream_reads_ndjson_pieces(replay):
    rec = replay.serve("ollama", "chat_stream")
    pieces = [json.loads(line)["message"]["content"] for line in rec["body"].splitlines() if line.strip()]
    assert len(pieces) > 2 and pieces[-1] == ""  # pieces, then a closing line with the counts
    assert list(provider(replay).stream(request_like("chat_stream"))) == pieces[:-1]
    assert replay.sent[0]["stream"] is True and "format" not in replay.sent[0]


def test_missing_model_is_not_retryable_and_names_the_status(replay):
    replay.serve("ollama", "chat_model_missing")
    with pytest.raises(ProviderError, match="HTTP 404") as err:
        provider(replay, tag="llama9:1b").generate(request_like("chat_model_missing"))
    assert not err.value.retryable


def test_overloaded_server_is_retryable(replay):
    replay.serve("ollama", "chat_overloaded")
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        provider(replay).generate(request_like("chat_format_schema"))


def test_health_asks_for_the_tag(replay):
    replay.serve("ollama", "show")
    provider(replay).health()
    assert replay.sent == [{"model": "qwen2.5-coder:0.5b"}]


def test_unreachable_server_is_retryable():
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        OllamaProvider(host="http://127.0.0.1:9", tag="x", timeout_s=2).generate(
            GenerationRequest(messages=[ChatMessage(role="user", content="hi")]))


def test_the_recorder_sends_each_case_its_own_request_and_keeps_what_came_back(replay, tmp_path):
    """``record.py --ollama`` turns the files into recordings of a live server: here the "server"
    replays the files, so a faithful recorder writes each one back unchanged but for its source."""
    import shutil

    from tests.contract import record
    from tests.contract.conftest import RECORDED

    shutil.copytree(RECORDED / "ollama", tmp_path / "ollama")
    for case in record.OLLAMA_CASES:
        replay.serve("ollama", case)
    record.main(replay.url, "replayed", [], backend="ollama", root=tmp_path)
    assert replay.sent == [recorded("ollama", case)["request"] for case in record.OLLAMA_CASES]
    for case in record.OLLAMA_CASES:
        again = json.loads((tmp_path / "ollama" / f"{case}.json").read_text())
        assert again.pop("server") == "replayed"
        before = recorded("ollama", case)
        before.pop("server")
        assert again == before, case
    assert json.loads((tmp_path / "ollama" / "chat_overloaded.json").read_text()) == recorded("ollama", "chat_overloaded")
