"""The LLM roles with a canned provider: validation, retries, hallucinated spans."""

from schemas import GenerationRequest, GenerationResponse, Category, Finding
from models.roles import AnalystSpan, GeneralAnalyst, SecurityJudge


class Canned:
    name, version = "canned", "0"

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> GenerationResponse:
        self.requests.append(request)
        return GenerationResponse(text=self.answers.pop(0), model=self.name, model_version=self.version,
                                  prompt_tokens=1, completion_tokens=1, seconds=0.0)


def test_when_analyst_returns_spans_then_real_ones_located_and_invented_ones_counted():
    text = "Ana Souza met Ana Souza at Globex."
    p = Canned('{"kind": "chat", "language": "EN", "spans": [{"text": "Ana Souza", "type": "PERSON"},'
               ' {"text": "Initech", "type": "ORGANIZATION"}, {"text": "at", "type": "LOCATION"}]}')
    res = GeneralAnalyst(p).analyze(text)
    assert [(f.start, f.end) for f in res.findings] == [(0, 9), (14, 23)]
    assert res.analysis.hallucinated_spans == 1  # Initech is not in the text; "at" is too short to count
    assert res.analysis.language == "en"
    assert p.requests[0].json_schema["required"] == ["kind", "language", "spans"]


def test_when_analyst_output_invalid_twice_then_no_candidates_and_error_recorded():
    res = GeneralAnalyst(Canned("not json", '{"kind": "poem"}')).analyze("text")
    assert res.findings == [] and res.analysis.error


def test_when_judge_first_answer_invalid_then_retried_with_new_seed():
    f = Finding(start=5, end=13, entity="IP_ADDRESS", category=Category.INFRA, detector="ip", score=0.8)
    p = Canned('{"redact": "maybe"}',
               '{"redact": true, "category": "infra", "confidence": 0.9, "rationale": "internal"}')
    d = SecurityJudge(p).judge("host 10.0.0.5 down", f)
    assert d is not None and d.redact and d.model == "canned"
    assert p.requests[0].sampling.seed != p.requests[1].sampling.seed
    assert "[[10.0.0.5]]" in p.requests[0].messages[-1].content


def test_when_judge_never_valid_then_none():
    f = Finding(start=0, end=1, entity="X", category=Category.PII, detector="d", score=0.5)
    assert SecurityJudge(Canned("{}", "[]")).judge("x", f) is None


def test_locate_skips_blank_spans():
    findings, hallucinated = GeneralAnalyst(Canned()).locate("abc", [AnalystSpan(text="   ", type="PERSON")])
    assert findings == [] and hallucinated == 0


def test_analyst_spans_that_cannot_be_their_type_are_dropped_and_counted():
    from models.roles import plausible

    text = "2026-11-20T10:01:05Z GET / Mozilla/5.0 from Maria Gonzalez at svc-billing-02, Calle Mayor 5"
    spans = [AnalystSpan(text="2026-11-20T10:01:05Z", type="PERSON"), AnalystSpan(text="Mozilla/5.0", type="LOCATION"),
             AnalystSpan(text="Maria Gonzalez", type="PERSON"), AnalystSpan(text="svc-billing-02", type="INTERNAL_SYSTEM"),
             AnalystSpan(text="Calle Mayor 5", type="ADDRESS"), AnalystSpan(text="2026-11-20T10:01:05Z", type="ADDRESS")]
    findings, dropped = GeneralAnalyst(Canned()).locate(text, spans)
    assert sorted(text[f.start:f.end] for f in findings) == ["Calle Mayor 5", "Maria Gonzalez", "svc-billing-02"]
    assert dropped == 3
    assert plausible("O'Brien-Smith", "PERSON") and not plausible("user@example.org", "PERSON")
