"""Realism options: MCAR, MAR, the reporting trait, the three labels; roles of recorded columns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions
from npprob.cohorts.settings import load_realism
from npprob.cohorts.simulate import PUBLISHED_AGREEMENT
from npprob.diagnosis import GRADES, neupsig_grade

N = 20_000


def assert_rate(observed: float, p: float, n: int, z: float = 5.0) -> None:
    se = math.sqrt(p * (1 - p) / n)
    assert abs(observed - p) <= z * se, (observed, p, se)


#: Roles of the variables a clinician records (every other role is hidden or the context).
OBSERVABLE_ROLES = ("history", "lesion_evidence", "sign", "symptom")


def columns(network, roles) -> list[int]:
    """Variables of these roles that a simulated record can hold (not the never-recorded)."""
    never = set(load_realism(network).never_recorded)
    return [i for i, v in enumerate(network.variables) if v.role in roles and v.name not in never]


def findings_of(network, codes: np.ndarray) -> dict[str, str]:
    return {
        v.name: v.states[int(c)] for v, c in zip(network.variables, codes, strict=True) if c >= 0
    }


# -- recorded columns --------------------------------------------------------------------


def test_observable_roles_cover_the_clinicians_findings(network):
    roles = {v.role for v in network.variables}
    assert set(OBSERVABLE_ROLES) <= roles
    assert roles - set(OBSERVABLE_ROLES) == {"latent", "target", "derived", "context"}
    # The network's own definition of a finding agrees with these roles.
    assert [v.name for v in network.findings] == [
        v.name for v in network.variables if v.role in OBSERVABLE_ROLES
    ]


@pytest.mark.parametrize(
    "options",
    [{}, {"mcar": 0.3, "mar": True, "reporting_trait": 0.5}, {"label": "neupsig"}],
    ids=["plain", "all-options", "neupsig"],
)
def test_latent_columns_are_never_recorded(make_cohort, network, options):
    cohort = make_cohort("consecutive_pain_clinic", 5000, 4, **options)
    codes = cohort.recorded.codes
    assert codes.shape == cohort.truth.shape == (5000, len(network))
    pain = network.index("chronic_pain")
    for i, var in enumerate(network.variables):
        if var.role in ("latent", "target", "derived"):
            assert np.all(codes[:, i] == -1), var.name
        elif var.role == "context":
            assert var.name == "chronic_pain"
    assert np.all(codes[:, pain] == network.variable("chronic_pain").states.index("present"))


def test_without_options_every_finding_is_recorded_as_true(make_cohort, network):
    cohort = make_cohort("consecutive_pain_clinic", 5000, 4)
    observable = columns(network, OBSERVABLE_ROLES)
    np.testing.assert_array_equal(cohort.recorded.codes[:, observable], cohort.truth[:, observable])
    never = set(load_realism(network).never_recorded)
    missing = cohort.card()["missing_fraction"]
    assert all(v == 0.0 for k, v in missing.items() if k not in never)
    assert all(missing[k] == 1.0 for k in never)


# -- MCAR ----------------------------------------------------------------------------------


def test_mcar_removes_the_given_share_of_each_finding_but_not_aetiology(make_cohort, network):
    cohort = make_cohort("consecutive_pain_clinic", N, 6, mcar=0.3)
    codes = cohort.recorded.codes
    aetiology = network.index("aetiology")
    assert np.all(codes[:, aetiology] >= 0)
    observable = columns(network, OBSERVABLE_ROLES)
    card = cohort.card()["missing_fraction"]
    never = set(load_realism(network).never_recorded)
    assert set(card) == {network.names[i] for i in observable} | never
    assert card["aetiology"] == 0.0
    for i in observable:
        if i == aetiology:
            continue
        missing = float(np.mean(codes[:, i] < 0))
        assert_rate(missing, 0.3, N)
        assert card[network.names[i]] == missing
    # Recorded values are the true ones wherever recorded.
    kept = codes[:, observable] >= 0
    np.testing.assert_array_equal(codes[:, observable][kept], cohort.truth[:, observable][kept])


def test_mcar_is_independent_across_columns(make_cohort, network):
    cohort = make_cohort("consecutive_pain_clinic", N, 6, mcar=0.3)
    missing = cohort.recorded.codes[:, columns(network, OBSERVABLE_ROLES)[1:]] < 0
    # Number of missing findings per patient is Binomial(26, 0.3).
    k = missing.shape[1]
    counts = missing.sum(axis=1)
    assert_rate(counts.mean() / k, 0.3, N * k)
    assert counts.var() == pytest.approx(k * 0.3 * 0.7, rel=0.05)
    # Missingness does not depend on the value: same rate among true positives.
    test = network.index("confirmatory_test")
    positive = cohort.truth[:, test] == 1
    assert_rate(np.mean(cohort.recorded.codes[positive, test] < 0), 0.3, int(positive.sum()))


# -- MAR -----------------------------------------------------------------------------------


def test_mar_records_the_test_more_often_under_suspicion(make_cohort, network):
    cohort = make_cohort("consecutive_pain_clinic", N, 7, mar=True)
    codes = cohort.recorded.codes
    plausible = codes[:, network.index("distribution_plausible")] == 1
    loss = codes[:, network.index("sensory_loss")] == 1
    suspicion = plausible | loss
    recorded = codes[:, network.index("confirmatory_test")] >= 0
    assert 0.1 * N < suspicion.sum() < 0.9 * N
    assert_rate(recorded[suspicion].mean(), 0.80, int(suspicion.sum()))
    assert_rate(recorded[~suspicion].mean(), 0.15, int((~suspicion).sum()))
    # Each arm of the suspicion counts.
    only_loss = loss & ~plausible
    only_plausible = plausible & ~loss
    assert_rate(recorded[only_loss].mean(), 0.80, int(only_loss.sum()))
    assert_rate(recorded[only_plausible].mean(), 0.80, int(only_plausible.sum()))
    # Nothing else goes missing.
    others = [
        i for i in columns(network, OBSERVABLE_ROLES) if i != network.index("confirmatory_test")
    ]
    assert np.all(codes[:, others] >= 0)


def test_mar_off_records_the_test_always(make_cohort, network):
    cohort = make_cohort("consecutive_pain_clinic", N, 7)
    assert np.all(cohort.recorded.codes[:, network.index("confirmatory_test")] >= 0)


# -- reporting trait -----------------------------------------------------------------------


def symptom_stats(cohort, network) -> tuple[float, float]:
    symptoms = cohort.recorded.codes[:, columns(network, ("symptom",))].astype(float)
    corr = np.corrcoef(symptoms, rowvar=False)
    off = corr[~np.eye(len(corr), dtype=bool)]
    return float(symptoms.sum(axis=1).mean()), float(off.mean())


def test_reporting_trait_raises_symptom_count_and_correlation(make_cohort, network):
    plain = make_cohort("consecutive_pain_clinic", N, 9)
    trait = make_cohort("consecutive_pain_clinic", N, 9, reporting_trait=0.5)
    # Same seed, same patients: the trait only changes what is reported.
    np.testing.assert_array_equal(plain.truth, trait.truth)
    mean0, corr0 = symptom_stats(plain, network)
    mean1, corr1 = symptom_stats(trait, network)
    assert mean1 > mean0 + 0.5
    assert corr1 > corr0 + 0.05, (corr0, corr1)


def test_reporting_trait_only_adds_symptoms_for_about_30_percent(make_cohort, network):
    trait = make_cohort("consecutive_pain_clinic", N, 9, reporting_trait=1.0)
    symptoms = columns(network, ("symptom",))
    reported, true = trait.recorded.codes[:, symptoms], trait.truth[:, symptoms]
    # Only absent -> present; never present -> absent.
    assert np.all(reported >= true)
    # At strength 1 every carrier reports every symptom: about 30 % of patients.
    all_present = np.all(reported == 1, axis=1)
    carriers = np.any(reported != true, axis=1)
    assert np.all(all_present[carriers])
    assert_rate(all_present.mean(), 0.3, N, z=5)
    # Signs and lesion evidence are examined, not reported: untouched.
    other = columns(network, ("history", "lesion_evidence", "sign"))
    np.testing.assert_array_equal(trait.recorded.codes[:, other], trait.truth[:, other])


def test_reporting_trait_strength_sets_the_flip_rate(make_cohort, network):
    trait = make_cohort("consecutive_pain_clinic", N, 9, reporting_trait=0.4)
    symptoms = columns(network, ("symptom",))
    reported, true = trait.recorded.codes[:, symptoms], trait.truth[:, symptoms]
    absent = true == 0
    flipped = (reported == 1) & absent
    # P(flip | absent) = 0.3 * 0.4 for every symptom. The trait is a patient's (30 % carry
    # it), so a patient's symptoms flip together: the standard error of the ratio is
    # taken over patients, not over symptom entries.
    rate = flipped.sum() / absent.sum()
    per_patient = flipped.sum(axis=1) - rate * absent.sum(axis=1)
    se = math.sqrt(float((per_patient**2).sum())) / absent.sum()
    assert abs(rate - 0.12) <= 5 * se, (rate, se)
    # A rate of 0.1 (a trait strength a sixth lower) is far outside.
    assert abs(rate - 0.10) > 5 * se


# -- labels --------------------------------------------------------------------------------


def test_truth_label_is_the_latent_truth(make_cohort):
    cohort = make_cohort("consecutive_pain_clinic", 5000, 4)
    np.testing.assert_array_equal(cohort.label, cohort.column("neuropathic") == 1)
    assert cohort.label.dtype == np.int8
    assert cohort.card()["label_agreement_with_truth"] == 1.0


@pytest.mark.parametrize(
    ("agreement", "accuracy"),
    [(0.785, 0.5 * (1 + math.sqrt(0.57))), (1.0, 1.0), (0.5, 0.5), (0.82, 0.9)],
)
def test_clinician_accuracy_formula(agreement, accuracy):
    q = SimulationOptions(agreement=agreement).clinician_accuracy
    assert q == pytest.approx(accuracy)
    # Two independent clinicians right with probability q agree with probability a.
    assert q**2 + (1 - q) ** 2 == pytest.approx(agreement)
    assert 0.5 <= q <= 1


def test_default_agreement_is_the_published_one():
    options = SimulationOptions()
    assert options.agreement == PUBLISHED_AGREEMENT == 0.785
    assert options.clinician_accuracy == pytest.approx(0.8774917, abs=1e-6)


def test_clinician_label_agrees_with_truth_at_the_clinician_accuracy(make_cohort):
    cohort = make_cohort("consecutive_pain_clinic", N, 10, label="clinician")
    q = cohort.options.clinician_accuracy
    truth = cohort.column("neuropathic") == 1
    right = cohort.label == truth
    assert_rate(right.mean(), q, N)
    assert cohort.card()["label_agreement_with_truth"] == pytest.approx(right.mean())
    assert cohort.card()["clinician_accuracy"] == q
    # Errors are symmetric: the same accuracy among cases and non-cases.
    assert_rate(right[truth].mean(), q, int(truth.sum()))
    assert_rate(right[~truth].mean(), q, int((~truth).sum()))


def test_two_clinicians_agree_at_the_given_agreement(make_cohort):
    # Same seed and patients; different MCAR draws shift the random stream, so the
    # two clinicians' errors are independent.
    a = make_cohort("consecutive_pain_clinic", N, 10, label="clinician")
    b = make_cohort("consecutive_pain_clinic", N, 10, label="clinician", mcar=0.1)
    np.testing.assert_array_equal(a.truth, b.truth)
    assert_rate(np.mean(a.label == b.label), 0.785, N)


@pytest.mark.parametrize("agreement", [0.6, 1.0])
def test_clinician_label_follows_the_agreement_option(make_cohort, agreement):
    cohort = make_cohort(
        "consecutive_pain_clinic", 5000, 10, label="clinician", agreement=agreement
    )
    q = 0.5 * (1 + math.sqrt(2 * agreement - 1))
    right = cohort.label == (cohort.column("neuropathic") == 1)
    if agreement == 1.0:
        assert np.all(right)
    else:
        assert_rate(right.mean(), q, cohort.n)


def test_neupsig_label_is_the_scalar_grade_row_by_row(make_cohort, network):
    cohort = make_cohort("consecutive_pain_clinic", 5000, 12, label="neupsig", mcar=0.3, mar=True)
    rows = np.random.default_rng(1).choice(cohort.n, size=500, replace=False)
    expected = [
        neupsig_grade(findings_of(network, cohort.recorded.codes[r])).grade
        in ("probable", "definite")
        for r in rows
    ]
    np.testing.assert_array_equal(cohort.label[rows], np.array(expected, dtype=np.int8))
    # Both labels occur among the checked rows, so the comparison has content.
    assert 0 < np.mean(expected) < 1
    assert GRADES.index("probable") == 2


def test_neupsig_label_uses_recorded_not_true_findings(make_cohort, network):
    cohort = make_cohort("consecutive_pain_clinic", 5000, 12, label="neupsig", mcar=0.6)
    truthful = np.array(
        [
            neupsig_grade(findings_of(network, cohort.truth[r])).grade in ("probable", "definite")
            for r in range(cohort.n)
        ]
    )
    # MCAR loses criteria (missing counts as not met), so fewer patients qualify.
    assert cohort.label.mean() < truthful.mean()
    assert np.all(cohort.label <= truthful)


def test_the_named_tests_are_never_recorded(make_cohort, network):
    # The cohorts record the work-up once, as the summary confirmatory test.
    cohort = make_cohort("consecutive_pain_clinic", 2000, 5)
    codes = cohort.recorded.codes
    for name in ("nerve_conduction", "skin_biopsy", "imaging", "qst_sensory_loss",
                 "qst_sensory_gain"):  # fmt: skip
        assert (codes[:, network.index(name)] == -1).all(), name
        assert (cohort.truth[:, network.index(name)] >= 0).all()
    assert (codes[:, network.index("confirmatory_test")] >= 0).all()
