"""p_true is P(neuropathic | recorded findings) under the truth network.

Checked three ways: the engine on single rows; an independent enumeration
over the hidden non-leaf variables (no npprob inference code); and
statistically against the latent truth (calibration by deciles, and exact
recorded-findings patterns), which must hold without the reporting trait.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from _oracles import brute_force, spec_of
from npprob.inference import Engine
from npprob.network.evidence import EvidenceBatch
from strategies import random_network


def enumerate_posterior(spec, codes: np.ndarray, target: str) -> np.ndarray:
    """P(target | evidence) by summing over every hidden variable that has children.

    Unobserved leaves sum to 1 and are left out, which keeps the enumeration
    small (the clinical network's latent core is 8 binary variables).
    Uses only the network's data (:func:`_oracles.spec_of`).
    """
    names = spec.names
    has_children = {n: any(n in spec.parents[c] for c in names) for n in names}
    hidden = [n for i, n in enumerate(names) if codes[i] < 0 and (has_children[n] or n == target)]
    grid = np.array(
        list(itertools.product(*(range(len(spec.states[h])) for h in hidden))), dtype=np.int64
    ).reshape(-1, len(hidden))
    value = {n: np.full(len(grid), int(codes[i])) for i, n in enumerate(names) if codes[i] >= 0}
    value.update({h: grid[:, k] for k, h in enumerate(hidden)})
    weight = np.ones(len(grid))
    for n in names:
        if n in value:
            index = (*(value[p] for p in spec.parents[n]), value[n])
            weight = weight * np.asarray(spec.cpts[n])[index]
    card = len(spec.states[target])
    out = np.array([weight[value[target] == s].sum() for s in range(card)])
    return out / out.sum()


def test_enumeration_oracle_agrees_with_brute_force_on_small_networks(rng):
    for _ in range(5):
        net = random_network(rng, n_vars=7, max_card=3, max_parents=2)
        plain = spec_of(net)
        codes = rng.integers(0, 3, size=(6, len(net))) % np.array(plain.cards)
        codes[rng.random(codes.shape) < 0.5] = -1
        target = plain.names[int(rng.integers(len(plain.names)))]
        codes[:, plain.names.index(target)] = -1
        reference = brute_force(plain, codes, [target])
        for r in range(len(codes)):
            if reference.p_evidence[r] > 0:
                np.testing.assert_allclose(
                    enumerate_posterior(plain, codes[r], target),
                    reference.marginals[target][r],
                    atol=1e-12,
                )


@pytest.mark.parametrize(
    ("setting", "options"),
    [
        ("consecutive_pain_clinic", {}),
        ("consecutive_pain_clinic", {"mcar": 0.3, "mar": True}),
        ("general_population", {"mcar": 0.6, "reporting_trait": 0.5}),
        ("case_control", {"mcar": 0.1}),
        ("diabetes", {"mcar": 0.3, "truth": "prior"}),
    ],
)
def test_p_true_equals_single_row_engine_and_enumeration(make_cohort, network, setting, options):
    cohort = make_cohort(setting, 3000, 17, **options)
    rows = np.random.default_rng(0).choice(cohort.n, size=40, replace=False)
    engine = Engine(network, cohort.truth_cpts)
    plain = spec_of(network, cohort.truth_cpts)
    for r in rows:
        codes = cohort.recorded.codes[r]
        single = engine.query(EvidenceBatch(network, codes[None, :]), ["neuropathic"])
        assert single.mean("neuropathic")[0, 1] == pytest.approx(cohort.p_true[r], abs=1e-12)
        exact = enumerate_posterior(plain, codes, "neuropathic")[1]
        assert exact == pytest.approx(cohort.p_true[r], abs=1e-9), (r, codes.tolist())


def test_p_true_uses_the_prior_truth_not_the_literature(make_cohort, network):
    cohort = make_cohort("diabetes", 3000, 17, mcar=0.3, truth="prior")
    literature = Engine(network).query(cohort.recorded, ["neuropathic"]).mean("neuropathic")[:, 1]
    truth = Engine(network, cohort.truth_cpts).query(cohort.recorded, ["neuropathic"])
    np.testing.assert_allclose(cohort.p_true, truth.mean("neuropathic")[:, 1], atol=1e-12)
    assert np.max(np.abs(cohort.p_true - literature)) > 0.01


def test_p_true_is_a_probability(make_cohort):
    cohort = make_cohort("consecutive_pain_clinic", 3000, 17, mcar=0.3, mar=True)
    assert cohort.p_true.shape == (cohort.n,)
    assert cohort.p_true.dtype == np.float64
    assert np.all((cohort.p_true >= 0) & (cohort.p_true <= 1))
    assert cohort.card()["mean_p_true"] == pytest.approx(cohort.p_true.mean())


def decile_z_scores(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """z of mean(y) - mean(p) in each decile of p, with SE sqrt(sum p(1-p)) / n_bin.

    The variance is floored at one event: in a decile whose expected count is far
    below one (p near 0 under truth drawn from the prior), a single event is not a
    calibration failure, although the normal approximation would call it z = 7."""
    order = np.argsort(p, kind="stable")
    z = []
    for part in np.array_split(order, 10):
        pb, yb = p[part], y[part]
        se = math.sqrt(max(np.sum(pb * (1 - pb)), 1.0)) / len(part)
        z.append((yb.mean() - pb.mean()) / se)
    return np.array(z)


@pytest.mark.parametrize(
    "options",
    [
        {"mcar": 0.3},
        {"mcar": 0.3, "mar": True},
        {"mcar": 0.3, "truth": "prior"},
    ],
    ids=["mcar", "mcar+mar", "mcar+prior"],
)
def test_p_true_is_calibrated_against_the_latent_truth(make_cohort, options):
    cohort = make_cohort("consecutive_pain_clinic", 100_000, 42, label="truth", **options)
    y = (cohort.column("neuropathic") == 1).astype(float)
    np.testing.assert_array_equal(cohort.label, y)
    z = decile_z_scores(cohort.p_true, y)
    assert np.all(np.abs(z) < 4), z.round(2)
    # Overall: mean p_true estimates the prevalence.
    se = math.sqrt(np.sum(cohort.p_true * (1 - cohort.p_true))) / cohort.n
    assert abs(y.mean() - cohort.p_true.mean()) < 4 * se


def test_reporting_trait_breaks_calibration(make_cohort):
    # The network does not model the trait, so p_true ignores it: a negative control
    # showing that the calibration test above can fail.
    cohort = make_cohort("consecutive_pain_clinic", 100_000, 42, mcar=0.3, reporting_trait=1.0)
    y = (cohort.column("neuropathic") == 1).astype(float)
    z = decile_z_scores(cohort.p_true, y)
    assert np.max(np.abs(z)) > 6, z.round(2)


@pytest.mark.parametrize(
    ("setting", "mcar", "min_patterns", "n_recorded"),
    [
        # Only the aetiology recorded: one pattern per aetiology.
        ("general_population", 0.95, 12, 2),
        # One aetiology, so patterns with one or two findings are common (with 0.93
        # missing, for a network of about 40 findings).
        ("herpes_zoster", 0.93, 30, 3),
    ],
)
def test_p_true_matches_truth_frequency_within_exact_findings_patterns(
    make_cohort, setting, mcar, min_patterns, n_recorded
):
    # With most findings missing, many patients share their recorded findings exactly;
    # among them the neuropathic frequency must be p_true (one value per pattern).
    cohort = make_cohort(setting, 100_000, 8, mcar=mcar)
    codes = cohort.recorded.codes
    patterns, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    y = cohort.column("neuropathic") == 1
    frequent = np.flatnonzero(counts >= 200)
    for k in frequent:
        rows = inverse == k
        p = cohort.p_true[rows]
        assert np.ptp(p) < 1e-12, patterns[k]
        p0 = float(p[0])
        se = math.sqrt(max(p0 * (1 - p0), 1e-12) / rows.sum())
        assert abs(y[rows].mean() - p0) <= 5 * se + 1e-12, (patterns[k], y[rows].mean(), p0)
    # Enough patterns were checked, with findings beyond aetiology and chronic_pain.
    n_observed = (patterns[frequent] >= 0).sum(axis=1)
    assert np.sum(n_observed >= n_recorded) >= min_patterns, np.bincount(n_observed)
