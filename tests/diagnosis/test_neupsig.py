"""NeuPSIG 2016 grading (:func:`npprob.diagnosis.neupsig_grade`) from its stated rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npprob.diagnosis import GRADES, neupsig_grade
from npprob.diagnosis.neupsig import NEURAL_AETIOLOGIES
from npprob.io.resources import clinical_spec_path
from npprob.network.spec import load_spec
from strategies import hypothesis_settings

NETWORK = load_spec(clinical_spec_path()).network
AETIOLOGIES = NETWORK.variable("aetiology").states
NON_NEURAL = tuple(a for a in AETIOLOGIES if a not in NEURAL_AETIOLOGIES)

SENSORY_LOSS = ("sensory_loss", "hypoaesthesia_touch", "hypoaesthesia_pinprick")
ALLODYNIA = ("brush_allodynia", "cold_allodynia")
SIGNS = SENSORY_LOSS + ALLODYNIA
#: Findings of sensitisation that are neither sensory loss nor touch-evoked/thermal allodynia.
OTHER_SIGNS = ("pinprick_hyperalgesia", "temporal_summation", "after_sensation")

POSSIBLE = {"aetiology": "herpes_zoster", "distribution_plausible": "yes"}


def rank(grade: str) -> int:
    return GRADES.index(grade)


def test_grades_and_aetiologies_match_the_network():
    assert GRADES == ("unlikely", "possible", "probable", "definite")
    assert set(NEURAL_AETIOLOGIES) < set(AETIOLOGIES)
    assert set(NON_NEURAL) == {
        "osteoarthritis",
        "inflammatory_arthritis",
        "axial_low_back_pain",
        "post_surgical_no_nerve_injury",
        "widespread_pain",
        "unknown",
        # CRPS type I has no nerve lesion by definition (Harden 2010).
        "crps_type_1",
    }
    for name in (*SIGNS, "distribution_plausible", "confirmatory_test", *OTHER_SIGNS):
        assert name in NETWORK.names


# -- unlikely -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "findings",
    [
        {},
        {"aetiology": "herpes_zoster"},
        {"distribution_plausible": "yes"},
        {"aetiology": "herpes_zoster", "distribution_plausible": "no"},
        {"aetiology": "stroke", "sensory_loss": "present", "confirmatory_test": "positive"},
        {"distribution_plausible": "yes", "sensory_loss": "present", "brush_allodynia": "present",
         "confirmatory_test": "positive"},
    ],
)  # fmt: skip
def test_unlikely_without_history_or_distribution(findings):
    g = neupsig_grade(findings)
    assert g.grade == "unlikely"
    assert not (g.history and g.distribution)


@pytest.mark.parametrize("aetiology", NON_NEURAL)
def test_non_neural_aetiology_never_exceeds_unlikely(aetiology):
    everything = {
        "aetiology": aetiology,
        "distribution_plausible": "yes",
        "confirmatory_test": "positive",
        **dict.fromkeys(SIGNS + OTHER_SIGNS, "present"),
    }
    g = neupsig_grade(everything)
    assert g.grade == "unlikely"
    assert g.history is False
    assert g.distribution is True
    assert g.sensory_signs is True
    assert g.confirmatory_test is True


# -- possible -----------------------------------------------------------------------------


@pytest.mark.parametrize("aetiology", sorted(NEURAL_AETIOLOGIES))
def test_possible_with_history_and_distribution(aetiology):
    g = neupsig_grade({"aetiology": aetiology, "distribution_plausible": "yes"})
    assert g.grade == "possible"
    assert (g.history, g.distribution, g.sensory_signs, g.confirmatory_test) == (
        True,
        True,
        False,
        False,
    )


@pytest.mark.parametrize("name", OTHER_SIGNS)
def test_other_sensitisation_signs_do_not_make_it_probable(name):
    # Hyperalgesia, wind-up and after-sensation are neither sensory loss nor allodynia.
    assert neupsig_grade({**POSSIBLE, name: "present"}).grade == "possible"


def test_negative_test_and_absent_signs_stay_possible():
    findings = {**POSSIBLE, "confirmatory_test": "negative", **dict.fromkeys(SIGNS, "absent")}
    assert neupsig_grade(findings).grade == "possible"


# -- probable -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SENSORY_LOSS)
def test_probable_via_sensory_loss_or_hypoaesthesia(name):
    g = neupsig_grade({**POSSIBLE, name: "present"})
    assert g.grade == "probable"
    assert g.sensory_signs is True
    assert g.confirmatory_test is False


@pytest.mark.parametrize("name", ALLODYNIA)
def test_probable_via_allodynia_as_the_only_sign(name):
    findings = {**POSSIBLE, **dict.fromkeys(SENSORY_LOSS, "absent"), name: "present"}
    g = neupsig_grade(findings)
    assert g.grade == "probable"
    assert g.sensory_signs is True


def test_probable_via_a_positive_test_without_signs():
    g = neupsig_grade({**POSSIBLE, "confirmatory_test": "positive"})
    assert g.grade == "probable"
    assert g.sensory_signs is False
    assert g.confirmatory_test is True


# -- definite -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNS)
def test_definite_needs_a_sign_and_a_positive_test(name):
    g = neupsig_grade({**POSSIBLE, name: "present", "confirmatory_test": "positive"})
    assert g.grade == "definite"
    assert (g.history, g.distribution, g.sensory_signs, g.confirmatory_test) == (
        True,
        True,
        True,
        True,
    )
    assert neupsig_grade({**POSSIBLE, name: "present"}).grade == "probable"
    assert neupsig_grade({**POSSIBLE, "confirmatory_test": "positive"}).grade == "probable"


# -- unobserved counts as not met ---------------------------------------------------------


def test_unobserved_counts_as_not_met():
    full = {**POSSIBLE, "sensory_loss": "present", "confirmatory_test": "positive"}
    assert neupsig_grade(full).grade == "definite"
    assert neupsig_grade({**full, "confirmatory_test": None}).grade == "probable"
    assert neupsig_grade({**full, "sensory_loss": None}).grade == "probable"
    assert neupsig_grade({**full, "distribution_plausible": None}).grade == "unlikely"
    assert neupsig_grade({**full, "aetiology": None}).grade == "unlikely"
    missing = {k: v for k, v in full.items() if k != "aetiology"}
    assert neupsig_grade(missing).grade == "unlikely"
    nothing = dict.fromkeys(["aetiology", "distribution_plausible", *SIGNS, "confirmatory_test"])
    g = neupsig_grade(nothing)
    assert g.grade == "unlikely"
    assert not any((g.history, g.distribution, g.sensory_signs, g.confirmatory_test))


def test_to_dict_reports_grade_and_criteria():
    d = neupsig_grade({**POSSIBLE, "cold_allodynia": "present"}).to_dict()
    assert d == {
        "grade": "probable",
        "criteria": {
            "history": True,
            "distribution": True,
            "sensory_signs": True,
            "confirmatory_test": False,
        },
    }


# -- monotonicity ---------------------------------------------------------------------------


def states_or_none(name: str):
    return st.sampled_from((None, *NETWORK.variable(name).states))


GRADED = ("aetiology", "distribution_plausible", "confirmatory_test", *SIGNS, *OTHER_SIGNS)


@st.composite
def findings(draw):
    """Random findings over every variable the grade reads; some left out, some None."""
    out = {}
    for name in GRADED:
        if draw(st.booleans()):
            out[name] = draw(states_or_none(name))
    return out


@hypothesis_settings(max_examples=300)
@given(f=findings())
def test_a_positive_test_never_lowers_the_grade(f):
    before = neupsig_grade(f).grade
    after = neupsig_grade({**f, "confirmatory_test": "positive"}).grade
    assert rank(after) >= rank(before)


@hypothesis_settings(max_examples=300)
@given(f=findings(), sign=st.sampled_from(SIGNS + OTHER_SIGNS))
def test_a_sign_never_lowers_the_grade(f, sign):
    before = neupsig_grade(f).grade
    after = neupsig_grade({**f, sign: "present"}).grade
    assert rank(after) >= rank(before)
