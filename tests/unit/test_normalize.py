"""Detectors read a folded view: invisible, fullwidth and combining characters cannot hide a value."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_detectors import POSITIVE
from veil import Policy, Redactor
from veil.detectors import default_detectors
from veil.normalize import normalized

REDACTOR = Redactor(policy=Policy(), hmac_key=b"k", detectors=default_detectors(internal_domains=("acme-corp.net",)))
# default-ignorable code points of every kind: format characters, a mark of class 0 (CGJ), Hangul
# fillers (letters), variation selectors, tag characters, Mongolian selectors
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u034f", "\u3164", "\uffa0",
             "\u115f", "\ufe0f", "\U000e0041", "\U000e0100", "\u180e", "\u061c", "\U0001d173"]
COMBINING = ["\u0301", "\u0308", "\u0327", "\u20e3", "\u20dd"]  # the last two enclose: a keycap on a digit
FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def perturb(value: str, how: str, where: int, mark: str) -> str:
    """The value with one hiding trick applied (the view folds each one back to the value)."""
    if how == "invisible":
        i = 1 + where % max(1, len(value) - 1)
        return value[:i] + mark + value[i:]
    if how == "combining":
        letters = [i for i, ch in enumerate(value) if ch.isalnum()]  # marks on digits too: they never split a number
        if not letters:
            return value
        i = letters[where % len(letters)] + 1
        return value[:i] + mark + value[i:]
    return "".join(FULLWIDTH.get(ch, ch) if ch.isdigit() else ch for ch in value)  # fullwidth digits


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(POSITIVE), st.sampled_from(["invisible", "combining", "fullwidth"]), st.integers(0, 1000),
       st.sampled_from(INVISIBLE + COMBINING))
def test_property_a_hidden_character_does_not_hide_a_value(case, how, where, mark):
    entity, text, value = case
    if how == "combining":
        mark = COMBINING[where % len(COMBINING)]
    elif how == "invisible":
        mark = INVISIBLE[where % len(INVISIBLE)]
    hidden = perturb(value, how, where, mark)
    text = text.replace(value, hidden, 1)
    at = text.index(hidden)
    covering = [f for f in REDACTOR.scan(text) if f.start <= at and at + len(hidden) <= f.end + 0]
    assert any(f.entity == entity for f in covering), (entity, how)


@pytest.mark.parametrize("text, hidden, entity", [
    ("write to ana@exa\u200bmple.org now", "ana@exa\u200bmple.org", "EMAIL"),
    ("key AKIA\u2060IOSFODNN7EXAMPLE", "AKIA\u2060IOSFODNN7EXAMPLE", "AWS_ACCESS_KEY"),
    ("card \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 ok",
     "\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11", "CREDIT_CARD"),
    ("mail bo\u0301b@example.org", "bo\u0301b@example.org", "EMAIL"),
    ("mail bob@example.org\u0301 ok", "bob@example.org\u0301", "EMAIL"),
])
def test_when_a_value_is_hidden_then_redaction_covers_every_original_character(text, hidden, entity):
    found = REDACTOR.scan(text)
    out = REDACTOR.redact_text(text, REDACTOR.conclude(REDACTOR.triage(text, found), {}))
    at = text.index(hidden)
    assert out.text == text[:at] + f"<{entity}_1>" + text[at + len(hidden):]


def test_plain_text_needs_no_view():
    assert normalized("plain ascii line 10.0.0.1") is None
    assert normalized("Grüße aus Köln") is None  # precomposed letters are left alone
    view = normalized("ﬁle \uff11\uff12")
    assert view.text == "file 12" and view.span(0, 4) == (0, 3) and view.span(5, 7) == (4, 6)


@pytest.mark.parametrize("phone", ["+44 20 7946 0958", "+49 30 901820", "(415) 555-0132", "+91 98765 43210",
                                   "+81 3-1234-5678", "+234 803 123 4567", "+90 212 555 12 34"])
@pytest.mark.parametrize("mark", INVISIBLE + COMBINING)
def test_a_mark_or_an_ignorable_character_between_digits_never_splits_a_phone_number(phone, mark):
    digits = [i for i, ch in enumerate(phone) if ch.isdigit()]
    for i in digits[1::3]:
        hidden = phone[:i + 1] + mark + phone[i + 1:]
        text = f"please call {hidden} today"
        at = text.index(hidden)
        assert any(f.entity == "PHONE" and f.start <= at and f.end >= at + len(hidden) for f in REDACTOR.scan(text)), \
            (hidden, mark)
