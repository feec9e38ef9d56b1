"""The LLM roles with a canned provider: validation, retries, hallucinated spans."""

import pytest

from veil import Policy, Redactor
from veil.models.roles import AnalystSpan, GeneralAnalyst, SecurityJudge, plausible, verdict_probability
from veil.schemas import Category, Finding, GenerationRequest, GenerationResponse, TokenStep


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
    text = "2026-11-20T10:01:05Z GET / Mozilla/5.0 from Maria Gonzalez at svc-billing-02, Calle Mayor 5"
    spans = [AnalystSpan(text="2026-11-20T10:01:05Z", type="PERSON"), AnalystSpan(text="Mozilla/5.0", type="LOCATION"),
             AnalystSpan(text="Maria Gonzalez", type="PERSON"), AnalystSpan(text="svc-billing-02", type="INTERNAL_SYSTEM"),
             AnalystSpan(text="Calle Mayor 5", type="ADDRESS"), AnalystSpan(text="2026-11-20T10:01:05Z", type="ADDRESS")]
    findings, dropped = GeneralAnalyst(Canned()).locate(text, spans)
    assert sorted(text[f.start:f.end] for f in findings) == ["Calle Mayor 5", "Maria Gonzalez", "svc-billing-02"]
    assert dropped == 3
    assert plausible("O'Brien-Smith", "PERSON") and not plausible("user@example.org", "PERSON")


def _steps(*steps: tuple[str, dict[str, float]]) -> list[TokenStep]:
    return [TokenStep(token=token, top=top) for token, top in steps]


def test_verdict_probability_is_measured_where_the_answer_first_wrote_a_verdict_word():
    # a tuned judge: "credit card: not sensitive here" decides at " not"; the " sensitive" after it
    # (nearly certain once "not" is written) must not count
    steps = _steps(("credit", {"credit": 0.9}), (":", {":": 0.99}),
                   (" not", {" sensitive": 0.6, " not": 0.3, " conf": 0.1}), (" sensitive", {" sensitive": 0.98}))
    assert verdict_probability(steps, redact=False) == pytest.approx(1 / 3, abs=1e-3)
    assert verdict_probability(steps, redact=True) == pytest.approx(2 / 3, abs=1e-3)
    # a few-shot judge answers verdict first, {"redact": true ...; before the grammar, the model may
    # prefer other tokens: only the verdict words' share counts
    few_shot = _steps(('{"', {"The": 0.5}), ("red", {"red": 0.9}), (" true", {' "': 0.6, " true": 0.3, " false": 0.1}))
    assert verdict_probability(few_shot, redact=True) == pytest.approx(0.75)
    # the other side is not among the top tokens: it counts as likely as the least of them
    unseen = _steps((" false", {" false": 0.7, " {": 0.2, " null": 0.1}))
    assert verdict_probability(unseen, redact=False) == pytest.approx(0.7 / 0.8)
    assert verdict_probability(_steps(("x", {"x": 0.9}), ("y", {"NOT": 0.2, "y": 0.8})), redact=False) is None


def test_judge_confidence_is_the_measured_verdict_probability_when_the_backend_reports_steps():
    f = Finding(start=5, end=13, entity="IP_ADDRESS", category=Category.INFRA, detector="ip", score=0.6)
    said = '{"redact": false, "category": "none", "confidence": 0.95, "rationale": "a version"}'

    class WithSteps(Canned):
        def generate(self, request):
            return super().generate(request).model_copy(update={"steps": _steps((" false", {" false": 0.55, " true": 0.45}))})

    p = WithSteps(said)
    d = SecurityJudge(p).judge("ver 10.0.0.5 out", f)
    assert p.requests[0].top_logprobs > 0
    assert not d.redact and d.confidence == pytest.approx(0.55)
    # the policy's rule then overrules this keep (0.55 < 0.8), which the written 0.95 would have let through
    assert Redactor(policy=Policy(), hmac_key=b"k" * 32).settle(f, d).redact
    assert SecurityJudge(Canned(said)).judge("ver 10.0.0.5 out", f).confidence == 0.95  # no steps: as written


@pytest.mark.parametrize("value, kind, ok", [
    ("Maria Gonzalez", "PERSON", True), ("Łukasz Wróbel", "PERSON", True), ("Alberto Miján de la Torre", "PERSON", True),
    ("Getting Started", "PERSON", False),  # a heading: no listed name among its words
    ("Mr President", "PERSON", False), ("maria gonzalez", "PERSON", False),
    ("Calle Mayor 5", "ADDRESS", True), ("Calle Mayor", "ADDRESS", False),  # an address has a number
    ("AKIAIOSFODNN7EXAMPLE", "ADDRESS", False),
    ("zeta-prod", "INTERNAL_SYSTEM", True), ("billing_v2", "PROJECT", True), ("Proyecto Halcon", "PROJECT", True),
    ("Stardust", "PROJECT", False), ("Customer Success", "INTERNAL_SYSTEM", False),
    ("call me on +44 20 7946 0958", "INTERNAL_SYSTEM", False), ("2026-11-20T10:01:05Z", "INTERNAL_SYSTEM", False),
    ("Acme GmbH", "ORGANIZATION", True), ("to move the search cluster", "ORGANIZATION", False),
])
def test_an_analyst_span_must_have_the_shape_of_its_type(value, kind, ok):
    assert plausible(value, kind) is ok


def test_organisations_and_places_from_the_analyst_are_left_to_ner_and_the_profile():
    text = "Ana Lindqvist from Acme GmbH in Uppsala called"
    spans = [AnalystSpan(text="Ana Lindqvist", type="PERSON"), AnalystSpan(text="Acme GmbH", type="ORGANIZATION"),
             AnalystSpan(text="Uppsala", type="LOCATION")]
    findings, dropped = GeneralAnalyst(Canned()).locate(text, spans)
    assert [text[f.start:f.end] for f in findings] == ["Ana Lindqvist"] and dropped == 0


def test_projects_and_systems_from_the_analyst_are_taken_in_logs_and_configs_not_in_prose_or_posts():
    answer = ('{"kind": "%s", "language": "en", "summary": "", "topics": [], "spans": ['
              '{"text": "zeta-prod", "type": "INTERNAL_SYSTEM"}, {"text": "Ana Lindqvist", "type": "PERSON"}]}')
    prose = "Ana Lindqvist wrote that the zeta-prod outage was long, and the team was sorry for it."
    log = "2026-11-20T10:01:05Z WARN deploy to zeta-prod by Ana Lindqvist failed"
    in_prose = GeneralAnalyst(Canned(answer % "document")).analyze(prose).findings
    in_log = GeneralAnalyst(Canned(answer % "log")).analyze(log).findings
    assert [f.entity for f in in_prose] == ["PERSON"]
    assert sorted(f.entity for f in in_log) == ["INTERNAL_SYSTEM", "PERSON"]
