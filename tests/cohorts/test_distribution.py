"""The simulator draws from the right distribution: case mix, prevalence, groups.

Expected frequencies come from the exact engine (P(. | chronic_pain = present)
under the setting's aetiology mix); the simulated counts are compared with
chi-square goodness-of-fit tests (p > 1e-3) and z-tests (5 SE), at fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from npprob.inference import Engine

N = 20_000
SEED = 2024
PAIN = {"chronic_pain": "present"}


def mix_cpts(network, group) -> dict[str, np.ndarray]:
    """The group's aetiology distribution as a CPT override (none: the network's own)."""
    if group.aetiology is None:
        return {}
    states = network.variable("aetiology").states
    weights = np.array([group.aetiology.get(s, 0.0) for s in states])
    return {"aetiology": weights / weights.sum()}


def assert_counts_fit(counts: np.ndarray, probs: np.ndarray) -> None:
    """Multinomial goodness of fit over the states with positive probability.

    States expected fewer than 5 times are pooled (with the next-rarest state
    when the pool itself is still below 5).
    """
    counts = np.asarray(counts, dtype=float)
    assert counts[probs == 0].sum() == 0, "a state of probability 0 was drawn"
    keep = probs > 0
    counts, expected = counts[keep], probs[keep] * counts.sum()
    order = np.argsort(expected)
    counts, expected = counts[order], expected[order]
    k = int(np.searchsorted(np.cumsum(expected), 5.0, side="left")) + 1 if expected[0] < 5 else 0
    if k:
        counts = np.append(counts[:k].sum(), counts[k:])
        expected = np.append(expected[:k].sum(), expected[k:])
    if len(expected) == 1:
        return
    p = stats.chisquare(counts, expected).pvalue
    assert p > 1e-3, (p, counts, expected)


def assert_proportion(k: int, n: int, p: float, z: float = 5.0) -> None:
    se = math.sqrt(p * (1 - p) / n)
    assert abs(k / n - p) <= z * se, (k / n, p, se)


def single_group_settings(settings):
    return [name for name, s in settings.items() if len(s.groups) == 1]


def test_general_population_uses_the_networks_own_aetiology_mix(settings):
    (group,) = settings["general_population"].groups
    assert group.aetiology is None
    assert group.require == {}


def test_general_population_aetiology_matches_engine_given_pain(make_cohort, network):
    cohort = make_cohort("general_population", N, SEED)
    expected = Engine(network).query(PAIN, ["aetiology"]).mean("aetiology")[0]
    # Conditioning on pain must matter, or this test would not check it.
    assert not np.allclose(expected, network.cpt("aetiology"), atol=0.005)
    counts = np.bincount(cohort.column("aetiology"), minlength=len(expected))
    assert_counts_fit(counts, expected)
    # Every patient has chronic pain.
    assert np.all(cohort.column("chronic_pain") == 1)


def test_general_population_prevalence_matches_engine_given_pain(make_cohort, network):
    cohort = make_cohort("general_population", N, SEED)
    p = Engine(network).query(PAIN, ["neuropathic"]).mean("neuropathic")[0, 1]
    k = int(np.sum(cohort.column("neuropathic") == 1))
    assert_proportion(k, N, p)
    assert stats.binomtest(k, N, p).pvalue > 1e-3


@pytest.mark.parametrize(
    "setting", ["consecutive_pain_clinic", "diabetes", "low_back_pain", "herpes_zoster"]
)
def test_setting_aetiology_mix_and_prevalence_match_engine(make_cohort, network, settings, setting):
    (group,) = settings[setting].groups
    cohort = make_cohort(setting, N, SEED)
    result = Engine(network, mix_cpts(network, group)).query(PAIN, ["aetiology", "neuropathic"])
    counts = np.bincount(
        cohort.column("aetiology"), minlength=network.variable("aetiology").cardinality
    )
    assert_counts_fit(counts, result.mean("aetiology")[0])
    k = int(np.sum(cohort.column("neuropathic") == 1))
    assert_proportion(k, N, result.mean("neuropathic")[0, 1])


@pytest.mark.parametrize("setting", ["post_stroke", "spinal_cord_injury", "herpes_zoster"])
def test_single_aetiology_settings_have_only_that_aetiology(
    make_cohort, network, settings, setting
):
    (group,) = settings[setting].groups
    (state,) = group.aetiology
    code = network.variable("aetiology").states.index(state)
    cohort = make_cohort(setting, N, SEED)
    assert np.all(cohort.column("aetiology") == code)
    # Recorded too: the aetiology is never missing.
    assert np.all(cohort.recorded.codes[:, network.index("aetiology")] == code)


def test_post_stroke_every_patient_has_stroke_even_with_missing_findings(make_cohort, network):
    cohort = make_cohort("post_stroke", 5000, 3, mcar=0.5)
    stroke = network.variable("aetiology").states.index("stroke")
    assert np.all(cohort.column("aetiology") == stroke)
    assert np.all(cohort.recorded.codes[:, network.index("aetiology")] == stroke)


def test_case_control_group_sizes_follow_the_fractions(make_cohort, settings):
    setting = settings["case_control"]
    cohort = make_cohort("case_control", N, SEED)
    names = [g.name for g in setting.groups]
    assert names == ["neurological", "somatic"]
    assert set(cohort.group.tolist()) == set(names)
    sizes = [int(np.sum(cohort.group == g.name)) for g in setting.groups]
    assert sum(sizes) == N
    for size, group in zip(sizes, setting.groups, strict=True):
        assert abs(size - group.fraction * N) <= 1
    assert sizes[0] == round(0.556 * N)
    assert cohort.card()["groups"] == dict(zip(names, sizes, strict=True))
    # Groups are shuffled, not stacked: both appear in the first and last hundred rows.
    assert set(cohort.group[:100]) == set(names)
    assert set(cohort.group[-100:]) == set(names)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 999])
def test_case_control_group_sizes_for_small_cohorts(spec, settings, n):
    from npprob.cohorts import simulate

    cohort = simulate(spec, settings["case_control"], n, 0)
    assert cohort.n == n
    neurological = int(np.sum(cohort.group == "neurological"))
    assert neurological == round(0.556 * n)
    assert n - neurological == int(np.sum(cohort.group == "somatic"))


def test_case_control_requirements_hold_in_every_row(make_cohort, network, settings):
    cohort = make_cohort("case_control", N, SEED)
    for group in settings["case_control"].groups:
        rows = cohort.group == group.name
        assert group.require
        for var, state in group.require.items():
            code = network.variable(var).states.index(state)
            assert np.all(cohort.column(var)[rows] == code), (group.name, var)
        aetiology = network.variable("aetiology").states
        allowed = {aetiology.index(s) for s in group.aetiology}
        assert set(np.unique(cohort.column("aetiology")[rows]).tolist()) == allowed
    assert np.all(cohort.column("chronic_pain") == 1)


def test_case_control_aetiology_within_groups_matches_engine(make_cohort, network, settings):
    cohort = make_cohort("case_control", N, SEED)
    for group in settings["case_control"].groups:
        rows = cohort.group == group.name
        evidence = {**PAIN, **group.require}
        expected = Engine(network, mix_cpts(network, group)).query(evidence, ["aetiology"])
        counts = np.bincount(
            cohort.column("aetiology")[rows], minlength=network.variable("aetiology").cardinality
        )
        assert_counts_fit(counts, expected.mean("aetiology")[0])


def test_every_setting_has_its_prevalence_in_the_expected_range(make_cohort, network, settings):
    # Exact prevalence under the setting (mixture over groups) and the simulated one.
    for name, setting in settings.items():
        low, high = setting.expected_prevalence
        assert 0 <= low < high <= 1
        exact = 0.0
        for group in setting.groups:
            evidence = {**PAIN, **group.require}
            result = Engine(network, mix_cpts(network, group)).query(evidence, ["neuropathic"])
            exact += group.fraction * result.mean("neuropathic")[0, 1]
        assert low <= exact <= high, (name, exact)
        cohort = make_cohort(name, N, SEED)
        simulated = float(np.mean(cohort.column("neuropathic") == 1))
        assert low <= simulated <= high, (name, simulated, setting.expected_prevalence)
        assert cohort.card()["prevalence_true"] == simulated
        assert_proportion(int(simulated * N), N, exact)


def test_prior_truth_samples_from_the_drawn_parameters(make_cohort, network):
    cohort = make_cohort("general_population", N, SEED, truth="prior")
    result = Engine(network, cohort.truth_cpts).query(PAIN, ["aetiology", "neuropathic"])
    counts = np.bincount(
        cohort.column("aetiology"), minlength=network.variable("aetiology").cardinality
    )
    probs = result.mean("aetiology")[0]
    assert_counts_fit(counts, probs)
    k = int(np.sum(cohort.column("neuropathic") == 1))
    assert_proportion(k, N, result.mean("neuropathic")[0, 1])


def test_deterministic_mixed_pain_is_neuropathic_and_nociceptive(make_cohort):
    cohort = make_cohort("consecutive_pain_clinic", N, SEED)
    both = (cohort.column("neuropathic") == 1) & (cohort.column("nociceptive") == 1)
    np.testing.assert_array_equal(cohort.column("mixed_pain") == 1, both)
    # No neuropathic pain without a lesion (a structural zero).
    assert not np.any((cohort.column("neuropathic") == 1) & (cohort.column("lesion") == 0))
