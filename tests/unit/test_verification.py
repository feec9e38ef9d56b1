"""Verification never loses a record: redaction widens until no redacted value survives.

The properties run over arbitrary text with decisions made up by hypothesis (values inside other
values, values equal to their key, one- and two-character values, repeated values), checked by a
plain, independent search rather than by the redactor's own index.
"""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil import Policy, Redactor
from veil.occurrences import Spans, ValueIndex, is_word
from veil.operators import OPERATORS, derive_siv_key
from veil.redactor import FALLBACK_LEVELS, RECORD_ENTITY
from veil.schemas import Analysis, AnalyzedRecord, Category, Decision, DecisionSource, Finding, InboundRecord, RecordKind, SourceRef

KEY = b"verification-key"


def redactor(**policy) -> Redactor:
    return Redactor(policy=Policy(**policy), hmac_key=KEY, encryption_key=derive_siv_key("s"), detectors=[])


def decide(start: int, end: int, entity: str = "PERSON", redact: bool = True) -> Decision:
    category = Category.SECRET if entity == "PASSWORD" else Category.PII
    return Decision(finding=Finding(start=start, end=end, entity=entity, category=category, detector="test", score=0.9),
                    redact=redact, confidence=0.9, source=DecisionSource.POLICY)


def naive_leaks(original: str, out, decisions) -> list[str]:
    """Redacted values standing in the output outside Veil's replacements, found value by value."""
    ours = out.output_spans
    leaks = []
    for d in out.decisions:
        if not d.redact:
            continue
        value = original[d.finding.start:d.finding.end]
        at = out.text.find(value)
        while at >= 0:
            end = at + len(value)
            glued = (at > 0 and out.text[at - 1].isalnum()) or (end < len(out.text) and out.text[end].isalnum())
            inside = any(s <= at and end <= e for s, e in ours)
            if (len(value) >= 8 or not glued) and not inside:
                leaks.append(value)
            at = out.text.find(value, at + 1)
    return leaks


def test_when_a_key_shares_a_value_with_its_password_then_the_password_goes_too():
    text = "Name=Relay\nDuplicates=1\nRootPassword=RootPassword999"
    r = redactor()
    key = text.index("RootPassword")
    out = r.redact_text(text, [decide(key, key + len("RootPassword"), "ORGANIZATION")])
    assert "RootPassword999" not in out.text and "999" not in out.text
    assert out.text == "Name=Relay\nDuplicates=1\n<ORGANIZATION_1>=<ORGANIZATION_2>"
    assert out.fallback == "occurrences"
    assert set(out.fallback_spans.values()) == {"occurrences"}


def test_when_a_two_letter_value_recurs_as_a_word_then_every_occurrence_is_redacted():
    text = "$table_prefix = 'wp_';\n/* Authentication Unique Keys and Salts. */\nrequire_once(ABSPATH . 'wp-settings.php');"
    at = text.index("wp_")
    out = redactor().redact_text(text, [decide(at, at + 2)])
    assert out.text.count("<PERSON_1>") == 2 and "'wp" not in out.text
    assert out.fallback == "occurrences"


def test_when_decisions_verify_then_no_fallback_is_recorded():
    text = "call Ana Lima today"
    out = redactor().redact_text(text, [decide(5, 13)])
    assert out.text == "call <PERSON_1> today" and out.fallback is None and out.fallback_spans == {}


def test_when_a_dropped_span_rejoins_a_value_then_the_joined_text_is_redacted():
    text = "secretQQQvalue and secretvalue"
    decisions = [decide(6, 9, "X"), decide(19, 30, "PASSWORD")]
    out = redactor(default_operator="drop").redact_text(text, decisions)
    assert "secretvalue" not in out.text and naive_leaks(text, out, decisions) == []
    assert out.fallback == "occurrences"


def test_when_a_redacted_value_overlaps_a_kept_span_then_redaction_wins():
    text = "Dr Jane Doe; Jane Doe Clinic"
    decisions = [decide(3, 11), decide(13, 28, "ORGANIZATION", redact=False)]
    out = redactor().redact_text(text, decisions)
    assert "Jane Doe" not in out.text


class Stubborn(Redactor):
    """Reports the first value as surviving ``times`` times, whatever was redacted: the ladder must climb."""

    def __init__(self, times: int) -> None:
        super().__init__(policy=Policy(), hmac_key=KEY, detectors=[])
        self.times = times

    def survivors(self, original, redaction):
        if self.times > 0:
            self.times -= 1
            d = next(d for d in redaction.decisions if d.redact)
            return [(d.finding.start, d.finding.end, d)]
        return super().survivors(original, redaction)


@pytest.mark.parametrize("times, level, expected", [
    (1, "occurrences", "first line\nkey=<PERSON_1> tail\nlast"),
    (2, "tokens", "first line\n<PERSON_1> tail\nlast"),
    (3, "lines", "first line\n<PERSON_1>\nlast"),
    (4, "record", f"<{RECORD_ENTITY}_1>"),
])
def test_when_verification_keeps_failing_then_redaction_widens_step_by_step(times, level, expected):
    text = "first line\nkey=abcdef tail\nlast"
    out = Stubborn(times).redact_text(text, [decide(15, 21)])
    assert out.fallback == level
    assert out.text == expected
    assert level in out.fallback_spans.values()


def test_when_the_whole_record_is_the_last_resort_then_the_audit_says_so():
    text = "key=abcdef"
    rec = InboundRecord(id="t:1", kind=RecordKind.DOCUMENT, text=text, source="s",
                        origin=SourceRef(topic="t", partition=0, offset=1))
    r = Stubborn(len(FALLBACK_LEVELS) + 1)
    doc, events = r.records.redact_record(AnalyzedRecord(record=rec, analysis=Analysis(), candidates=[]), [decide(4, 10)])
    assert doc.fallback == "record" and doc.redacted_text == f"<{RECORD_ENTITY}_1>"
    whole = [e for e in events if e.veil.fallback == "record"]
    assert len(whole) == 1 and (whole[0].veil.start, whole[0].veil.end) == (0, len(text))
    assert whole[0].veil.operator == "placeholder"


def test_when_an_operator_echoes_a_short_value_as_a_word_then_the_placeholder_is_used():
    from veil import operators

    operators.OPERATORS["echo"] = lambda value, finding, ctx: f"({value})"
    try:
        out = redactor(default_operator="echo").redact_text("id ab here", [decide(3, 5)])
    finally:
        del operators.OPERATORS["echo"]
    assert out.text == "id <PERSON_1> here"


# --- properties -------------------------------------------------------------------------------

alphabet = string.ascii_letters[:6] + string.digits[:3] + " =_-.:\n" + "\u00e9\u4e2d"
texts = st.text(alphabet=alphabet, min_size=1, max_size=80)


@st.composite
def texts_and_decisions(draw):
    text = draw(texts)
    n = len(text)
    spans = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 12)), max_size=8))
    decisions = []
    for start, size in spans:
        end = min(n, start + size)
        entity = draw(st.sampled_from(["PERSON", "PASSWORD", "EMAIL"]))
        decisions.append(decide(start, end, entity, redact=draw(st.booleans())))
    # a value repeated elsewhere, sometimes glued inside a longer word
    if decisions and draw(st.booleans()):
        d = decisions[0]
        value = text[d.finding.start:d.finding.end]
        text = text + draw(st.sampled_from(["", "x", " ", "="])) + value + draw(st.sampled_from(["", "9", " "]))
    return text, decisions


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts_and_decisions(), st.sampled_from(sorted(OPERATORS)))
def test_property_redaction_always_returns_and_no_redacted_value_survives(case, operator):
    text, decisions = case
    out = redactor(default_operator=operator).redact_text(text, decisions)
    assert naive_leaks(text, out, decisions) == []
    for a in out.applied:
        assert 0 <= a.start < a.end <= len(text)
    # every decision made redact is covered by a replacement
    covered = Spans((a.start, a.end) for a in out.applied)
    for d in decisions:
        if d.redact and d.finding.end > d.finding.start:
            assert covered.contains(d.finding.start, d.finding.end)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab c", min_size=1, max_size=4), min_size=1, max_size=6),
       st.text(alphabet="ab cd", max_size=60))
def test_property_the_index_finds_what_plain_search_finds(values, text):
    index = ValueIndex(values)
    plain = {(i, i + len(v), v) for v in set(values) for i in range(len(text)) if text.startswith(v, i)}
    assert set(index.find(text)) == plain


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 10)), max_size=20), st.integers(0, 60), st.integers(1, 10))
def test_property_spans_answer_as_a_plain_scan(raw, start, size):
    spans = Spans()
    held = []
    for s, n in raw:
        if not spans.overlaps(s, s + n):
            assert all(s + n <= hs or s >= he for hs, he in held)
            spans.add(s, s + n)
            held.append((s, s + n))
    end = start + size
    assert spans.overlaps(start, end) == any(hs < end and start < he for hs, he in held)
    assert spans.contains(start, end) == any(hs <= start and end <= he for hs, he in held)


def test_is_word():
    assert is_word("a ab b", 2, 4) and not is_word("xab", 1, 3) and is_word("ab", 0, 2)
