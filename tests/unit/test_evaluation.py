from veil.evaluation import dataset, scoring
from veil.evaluation.logs import typical_lines


def test_built_set_has_valid_offsets_and_covers_groups():
    records = dataset.build()
    assert len({r.id for r in records}) == len(records) > 200
    assert {r.group for r in records} == {"log", "document", "benign", "hard"}
    for r in records:
        for s in r.spans:
            assert 0 <= s.start < s.end <= len(r.text) and r.text[s.start:s.end].strip()
    assert all(not r.spans for r in records if r.group == "benign")
    assert all(r.id.startswith("eval-") for r in records)  # the training loop refuses these ids


def test_build_is_deterministic():
    assert [r.text for r in dataset.build(seed=3)] == [r.text for r in dataset.build(seed=3)]
    assert [r.text for r in dataset.build(seed=3)] != [r.text for r in dataset.build(seed=4)]


def test_marked_cases_parse_offsets():
    text, spans = dataset.parse_marked("mail [[EMAIL:a@b.co]] now [[PHONE:+1 212 555 0100]].")
    assert text == "mail a@b.co now +1 212 555 0100."
    assert [text[s.start:s.end] for s in spans] == ["a@b.co", "+1 212 555 0100"]


REC = dataset.LabeledRecord(id="r", text="mail a@b.co and 10.0.0.1 today", group="hard", spans=[
    dataset.LabeledSpan(start=5, end=11, type="EMAIL"), dataset.LabeledSpan(start=16, end=24, type="IP_ADDRESS")])


def pred(text: str, *spans) -> scoring.Prediction:
    return scoring.Prediction(id="r", redacted_text=text,
                              findings=[scoring.PredictedSpan(start=s, end=e, entity=n) for s, e, n in spans])


def test_when_everything_redacted_then_perfect_scores():
    rep = scoring.score([REC], [pred("mail <E> and <I> today", (5, 11, "EMAIL"), (16, 24, "IP_ADDRESS"))])
    assert (rep.precision, rep.recall, rep.leak_rate) == (1.0, 1.0, 0.0)


def test_when_a_value_is_missed_then_recall_and_leak_rate_show_it():
    rep = scoring.score([REC], [pred("mail <E> and 10.0.0.1 today", (5, 11, "EMAIL"))])
    assert rep.recall == 0.5 and rep.leak_rate == 0.5
    assert rep.by_label["IP_ADDRESS"].caught == 0 and rep.by_label["IP_ADDRESS"].leaked == 1


def test_when_an_ordinary_word_is_redacted_then_precision_drops():
    rep = scoring.score([REC], [pred("<X> <E> and <I> today", (0, 4, "PERSON"), (5, 11, "EMAIL"),
                                     (16, 24, "IP_ADDRESS"))])
    assert rep.fp_by_entity == {"PERSON": 1} and abs(rep.precision - 2 / 3) < 1e-9


def test_when_prediction_missing_then_error():
    import pytest

    with pytest.raises(ValueError, match="no prediction"):
        scoring.score([REC], [])


def test_typical_lines_are_mostly_routine():
    lines = typical_lines(1000, seed=1, sensitive_share=0.1)
    assert len(lines) == 1000 and 20 < sum("@" in line for line in lines) < 100


def test_when_a_short_value_shows_only_inside_placeholders_or_words_then_it_has_not_leaked():
    rec = dataset.LabeledRecord(id="r", text="age 12, room 1234", group="document",
                                spans=[dataset.LabeledSpan(start=4, end=6, type="AGE")])
    caught = scoring.score([rec], [pred("age <AGE_12>, room 1234", (4, 6, "AGE"))])
    assert caught.leak_rate == 0.0 and caught.recall == 1.0
    missed = scoring.score([rec], [pred("age 12, room 1234")])
    assert missed.leak_rate == 1.0


def test_marked_share_and_errors_are_reported():
    errors: list[scoring.ErrorEntry] = []
    rep = scoring.score([REC], [pred("<X> <E> and 10.0.0.1 today", (0, 4, "PERSON"), (5, 11, "EMAIL"))], errors=errors)
    assert rep.chars == len(REC.text) and rep.chars_marked == 10 and rep.chars_marked_sensitive == 6
    assert abs(rep.marked_precision - 0.6) < 1e-9
    kinds = {(e.kind, e.type, e.value) for e in errors}
    assert kinds == {("miss", "IP_ADDRESS", "10.0.0.1"), ("false_positive", "PERSON", "mail")}
    miss = next(e for e in errors if e.kind == "miss")
    assert miss.context == "mail a@b.co and [[10.0.0.1]] today" and miss.leaked is True
