"""Patient factors in the record: checked, with clear errors."""

from __future__ import annotations

import pytest

from npprob.decision import load_contraindications, load_treatments, parse_patient_factors
from npprob.errors import EvidenceError

FACTORS = load_contraindications(load_treatments().drugs).factors


def test_values_are_kept_and_nulls_dropped() -> None:
    raw = {"age": 70, "pregnancy": False, "heart_block": None, "maoi_use": True}
    assert parse_patient_factors(raw, FACTORS) == {"age": 70, "pregnancy": False, "maoi_use": True}
    assert parse_patient_factors(None, FACTORS) == {}


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"heart_blok": True}, r"unknown patient factor 'heart_blok'.*heart_block"),
        ({"pregnancy": "yes"}, "'pregnancy' must be true, false or null"),
        ({"age": 70.5}, "'age' must be a whole number"),
        ({"age": True}, "'age' must be a whole number"),
        ({"age": 130}, "outside 0-120 years"),
        ({"age": -1}, "outside 0-120 years"),
        (["age"], "must be an object"),
    ],
)
def test_bad_factors_are_refused(raw, match) -> None:
    with pytest.raises(EvidenceError, match=match):
        parse_patient_factors(raw, FACTORS)


def test_all_problems_are_listed() -> None:
    with pytest.raises(EvidenceError) as info:
        parse_patient_factors({"a1": True, "pregnancy": 3}, FACTORS)
    assert "'a1'" in str(info.value)
    assert "'pregnancy'" in str(info.value)
