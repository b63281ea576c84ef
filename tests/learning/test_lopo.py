"""Leave-one-publication-out by PSIS against the exact refit on a grid posterior."""

import numpy as np
import pytest
from scipy.stats import beta, betabinom

from npprob.learning.lopo import (
    PARETO_K_RELIABLE,
    leave_one_publication_out,
    study_log_likelihood,
    weighted_quantiles,
)

pytestmark = pytest.mark.pymc  # ArviZ's PSIS

GRID = np.linspace(0.001, 0.999, 999)
RHO = 0.02
K = np.array([30, 36, 25, 33, 52, 47])
N = np.array([100, 100, 100, 100, 120, 110])
PUBLICATIONS = ["A", "A", "B", "C", "D", "D"]


def _grid_posterior(keep: np.ndarray) -> np.ndarray:
    """Posterior over GRID of one shared probability with a Beta(2, 2) prior."""
    c = 1.0 / RHO - 1.0
    log_post = beta.logpdf(GRID, 2, 2)
    for k, n in zip(K[keep], N[keep], strict=True):
        log_post = log_post + betabinom.logpmf(k, n, GRID * c, (1 - GRID) * c)
    w = np.exp(log_post - log_post.max())
    return w / w.sum()


def _exact_interval(post: np.ndarray, n: int, level: float = 0.9) -> tuple[float, float]:
    c = 1.0 / RHO - 1.0
    support = np.arange(n + 1)
    pmf = (
        post[:, None]
        * betabinom.pmf(support[None, :], n, GRID[:, None] * c, (1 - GRID[:, None]) * c)
    ).sum(0)
    cdf = np.cumsum(pmf)
    tail = (1 - level) / 2
    return support[np.searchsorted(cdf, tail)] / n, support[np.searchsorted(cdf, 1 - tail)] / n


def test_psis_intervals_match_the_exact_refit_without_each_publication():
    rng = np.random.default_rng(3)
    full = _grid_posterior(np.ones(len(K), dtype=bool))
    theta = rng.choice(GRID, size=8000, p=full)
    implied = np.repeat(theta[:, None], len(K), axis=1)
    rho = np.full((len(theta), 1), RHO)
    out = leave_one_publication_out(
        implied, rho, np.zeros(len(K), dtype=int), K, N, PUBLICATIONS, seed=1
    )
    assert set(out["publications"]) == {"A", "B", "C", "D"}
    assert max(out["publications"].values()) < PARETO_K_RELIABLE
    for i, pub in enumerate(PUBLICATIONS):
        keep = np.array([p != pub for p in PUBLICATIONS])
        low, high = _exact_interval(_grid_posterior(keep), int(N[i]))
        assert out["intervals"][i][0] == pytest.approx(low, abs=0.021)
        assert out["intervals"][i][1] == pytest.approx(high, abs=0.021)
    # D reports the highest proportions: without it the prediction for D's statistics
    # drops, which is what the reweighting had to reproduce (checked above).
    d = PUBLICATIONS.index("D")
    without_d = _grid_posterior(np.array([p != "D" for p in PUBLICATIONS]))
    assert _exact_interval(without_d, int(N[d]))[1] < _exact_interval(full, int(N[d]))[1]
    assert out["coverage"] == pytest.approx(out["covered"].mean())


def test_an_outlying_publication_is_not_covered_once_left_out():
    rng = np.random.default_rng(0)
    k = np.array([30, 31, 29, 28, 32, 30, 80])
    n = np.full(7, 100)
    c = 1.0 / RHO - 1.0
    log_post = beta.logpdf(GRID, 2, 2) + sum(
        betabinom.logpmf(a, b, GRID * c, (1 - GRID) * c) for a, b in zip(k, n, strict=True)
    )
    post = np.exp(log_post - log_post.max())
    theta = rng.choice(GRID, size=8000, p=post / post.sum())
    implied = np.repeat(theta[:, None], 7, axis=1)
    out = leave_one_publication_out(
        implied, np.full((8000, 1), RHO), np.zeros(7, dtype=int), k, n, [*"abcdef", "x"]
    )
    assert out["covered"][:6].all()
    assert not out["covered"][6]
    # Dropping the outlier is a large change of the posterior: PSIS says so.
    assert out["publications"]["x"] > out["publications"]["a"]


def test_log_likelihood_is_the_beta_binomial():
    implied = np.array([[0.2, 0.5]])
    rho = np.array([[0.1, 0.3]])
    got = study_log_likelihood(implied, rho, np.array([0, 1]), np.array([3, 5]), np.array([10, 10]))
    c = 1 / np.array([0.1, 0.3]) - 1
    want = betabinom.logpmf([3, 5], 10, np.array([0.2, 0.5]) * c, np.array([0.8, 0.5]) * c)
    np.testing.assert_allclose(got[0], want)


def test_weighted_quantiles_equal_plain_quantiles_under_equal_weights():
    values = np.arange(10.0)
    got = weighted_quantiles(values, np.full(10, 0.1), [0.05, 0.5, 0.95])
    np.testing.assert_array_equal(got, [0.0, 4.0, 9.0])
    # All the weight on one value: every quantile is that value.
    w = np.zeros(10)
    w[7] = 1.0
    np.testing.assert_array_equal(weighted_quantiles(values, w, [0.05, 0.95]), [7.0, 7.0])
