"""Schema helpers that the hot path relies on."""

import pytest
from pydantic import ValidationError

from veil.schemas import AppliedRedaction, Category, Decision, DecisionSource, Finding, trusted

FINDING = {"start": 3, "end": 9, "entity": "EMAIL", "category": Category.PII, "detector": "pii", "score": 0.95, "reason": "format"}


@pytest.mark.parametrize(("cls", "values"), [
    (Finding, FINDING),
    (Decision, {"finding": Finding(**FINDING), "redact": True, "confidence": 0.9, "source": DecisionSource.POLICY,
                    "rationale": "r", "model": None, "model_version": None, "cached": False}),
    (AppliedRedaction, {"start": 3, "end": 9, "entity": "EMAIL", "category": Category.PII, "operator": "placeholder",
                            "replacement": "<EMAIL_1>", "value_hash": "ab12"}),
])
def test_trusted_model_equals_the_validated_one(cls, values):
    fast, checked = trusted(cls, **values), cls(**values)
    assert fast == checked and hash(fast) == hash(checked)
    assert fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_fields_set == checked.model_fields_set
    field = next(iter(values))
    assert fast.model_copy() == checked
    with pytest.raises(ValidationError, match="frozen"):  # frozen like the validated one
        setattr(fast, field, None)


def test_trusted_refuses_missing_fields():
    values = {k: v for k, v in FINDING.items() if k != "reason"}
    with pytest.raises(TypeError, match="every field"):
        trusted(Finding, **values)
