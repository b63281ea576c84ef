"""The conjugate Dirichlet posterior of the clinical network's CPTs."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.io.resources import clinical_spec_path
from npprob.learning import fit_conjugate, posterior_concentration, posterior_draws
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())


def random_counts(rng: np.random.Generator, *, with_fixed: bool = True) -> dict[str, np.ndarray]:
    """Counts for every CPT, zero in structural-zero cells (some rows left empty)."""
    counts = {}
    for name in SPEC.network.names:
        shape = SPEC.network.cpt_shape(name)
        c = rng.integers(0, 60, size=shape).astype(np.float64)
        c *= rng.random((*shape[:-1], 1)) < 0.8  # some rows without data
        if name in SPEC.concentration:
            c[SPEC.concentration[name] == 0] = 0
        elif not with_fixed:
            continue
        counts[name] = c
    return counts


def test_the_spec_has_structural_zeros_and_a_fixed_cpt():
    # The tests below would be vacuous otherwise.
    assert SPEC.fixed
    assert all(name not in SPEC.concentration for name in SPEC.fixed)
    assert any((alpha == 0).any() for alpha in SPEC.concentration.values())


def test_posterior_concentration_is_prior_plus_counts(rng):
    counts = random_counts(rng)
    post = posterior_concentration(SPEC, counts)
    assert set(post) == set(SPEC.concentration)
    for name, alpha in SPEC.concentration.items():
        np.testing.assert_array_equal(post[name], alpha + counts[name], err_msg=name)
        assert (post[name][alpha == 0] == 0).all(), name


def test_counts_are_not_modified(rng):
    counts = random_counts(rng)
    before = {k: v.copy() for k, v in counts.items()}
    posterior_draws(SPEC, counts, 5, 0)
    for name in counts:
        np.testing.assert_array_equal(counts[name], before[name])


@pytest.mark.parametrize("count", [1, 0.5])
def test_a_count_in_a_structural_zero_raises(rng, count):
    counts = random_counts(rng)
    name = next(n for n, a in SPEC.concentration.items() if (a == 0).any())
    cell = tuple(int(i) for i in np.argwhere(SPEC.concentration[name] == 0)[0])
    counts[name][cell] = count
    with pytest.raises(ValueError, match=rf"structural zero of '{name}'"):
        posterior_concentration(SPEC, counts)
    with pytest.raises(ValueError, match="structural zero"):
        posterior_draws(SPEC, counts, 3, 0)


def test_draws_are_reproducible_by_seed(rng):
    counts = random_counts(rng)
    a = posterior_draws(SPEC, counts, 50, seed=123)
    b = posterior_draws(SPEC, counts, 50, seed=123)
    c = posterior_draws(SPEC, counts, 50, seed=124)
    assert set(a) == set(SPEC.network.names)
    for name in SPEC.network.names:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    learnable = [n for n in SPEC.network.names if n not in SPEC.fixed]
    assert all(not np.array_equal(a[n], c[n]) for n in learnable)


def test_draws_are_distributions_with_exact_structural_zeros_and_fixed_cpts(rng):
    counts = random_counts(rng)
    n_draws = 200
    draws = posterior_draws(SPEC, counts, n_draws, seed=7)
    for name in SPEC.network.names:
        d = draws[name]
        assert d.shape == (n_draws, *SPEC.network.cpt_shape(name)), name
        assert np.isfinite(d).all(), name
        assert (d >= 0).all(), name
        np.testing.assert_allclose(d.sum(axis=-1), 1.0, atol=1e-12, err_msg=name)
        if name in SPEC.fixed:
            cpt = SPEC.network.cpt(name)
            for k in range(n_draws):
                np.testing.assert_array_equal(d[k], cpt, err_msg=name)
        else:
            zero = SPEC.concentration[name] == 0
            assert (d[:, zero] == 0.0).all(), name
            assert (d[:, ~zero] > 0.0).all(), name


def test_fixed_cpts_ignore_their_counts(rng):
    counts = random_counts(rng)
    fixed = next(iter(SPEC.fixed))
    counts[fixed] = np.full(SPEC.network.cpt_shape(fixed), 1000.0)
    draws = posterior_draws(SPEC, counts, 10, seed=1)
    np.testing.assert_array_equal(draws[fixed][3], SPEC.network.cpt(fixed))


def test_posterior_mean_and_spread_match_the_dirichlet(rng):
    counts = random_counts(rng)
    n_draws = 4000
    draws = posterior_draws(SPEC, counts, n_draws, seed=2026)
    checked = 0
    for name, alpha in SPEC.concentration.items():
        post = alpha + counts[name]
        total = post.sum(axis=-1, keepdims=True)
        mean = post / total
        var = mean * (1 - mean) / (total + 1)  # Dirichlet marginal variance
        se = np.sqrt(var / n_draws)
        free = (post > 0) & (mean < 1)  # a row's only possible state is fixed at 1
        got = draws[name].mean(axis=0)
        z = np.abs(got - mean)[free] / se[free]
        assert z.max() <= 5, (name, float(z.max()))
        # Spread too, where the marginals are not extremely skewed (every entry >= 1): the
        # sample sd of such a Beta marginal is within 10 % of its sd at 4000 draws.
        tame = free & (np.where(post > 0, post, np.inf).min(axis=-1, keepdims=True) >= 1)
        sd = draws[name].std(axis=0)
        np.testing.assert_allclose(sd[tame], np.sqrt(var[tame]), rtol=0.1, err_msg=name)
        checked += int(free.sum())
    assert checked > 300


def test_rows_without_data_keep_the_prior(rng):
    counts = {k: np.zeros_like(v) for k, v in random_counts(rng).items()}
    post = posterior_concentration(SPEC, counts)
    for name, alpha in SPEC.concentration.items():
        np.testing.assert_array_equal(post[name], alpha)
    # Same seed, zero counts: the posterior draws are the prior draws.
    prior = SPEC.prior_draws(20, seed=5)
    draws = posterior_draws(SPEC, counts, 20, seed=5)
    for name in SPEC.network.names:
        np.testing.assert_array_equal(draws[name], prior[name], err_msg=name)


def test_fit_conjugate_wraps_posterior_draws(rng):
    counts = random_counts(rng)
    fit = fit_conjugate(SPEC, counts, 30, seed=9)
    direct = posterior_draws(SPEC, counts, 30, seed=9)
    assert fit.likelihood == "conjugate"
    assert fit.diagnostics is None
    assert fit.seconds >= 0
    for name in SPEC.network.names:
        np.testing.assert_array_equal(fit.draws[name], direct[name])
