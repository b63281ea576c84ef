"""Simulation-based calibration (Talts et al. 2018) of the conjugate training path.

Each replication draws every CPT from the specification's prior, simulates a
complete-data cohort from that network, draws from the conjugate posterior
and records the rank of the true value of every free parameter among the
posterior draws. If simulation, counting and the posterior agree, every
parameter's ranks are uniform on 0..n_draws. Cohorts here are forward samples
without the chronic-pain selection: the complete-data conjugate posterior is
exact only for unselected samples (selected cohorts are what the marginal
likelihood models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npprob.network.sampling import forward_sample
from npprob.network.spec import ClinicalSpec

__all__ = ["SBCResult", "sbc_conjugate"]


@dataclass(frozen=True)
class SBCResult:
    """Ranks and uniformity tests.

    Attributes
    ----------
    ranks : ndarray of int, shape (n_replications, n_parameters)
        Rank of the truth among ``n_draws`` posterior draws (0..n_draws).
    names : tuple of str
        ``"variable[row, state]"`` of each parameter.
    p_values : ndarray, shape (n_parameters,)
        Chi-square test of uniform ranks per parameter (``n_bins`` bins).
    """

    ranks: np.ndarray
    names: tuple[str, ...]
    n_draws: int
    n_bins: int
    p_values: np.ndarray

    def summary(self) -> dict[str, object]:
        """Plain data: the smallest p-value, Bonferroni-adjusted, and the pooled test."""
        from scipy import stats

        n_params = len(self.names)
        pooled = _binned(self.ranks.ravel(), self.n_draws, self.n_bins)
        worst = int(np.argmin(self.p_values))
        return {
            "n_replications": int(self.ranks.shape[0]),
            "n_parameters": n_params,
            "n_draws": self.n_draws,
            "n_bins": self.n_bins,
            "min_p_value": float(self.p_values[worst]),
            "min_p_parameter": self.names[worst],
            "bonferroni_min_p": float(min(1.0, self.p_values[worst] * n_params)),
            "share_rejected_at_1pct": float(np.mean(self.p_values < 0.01)),
            "pooled_chi2_p": float(stats.chisquare(pooled).pvalue),
            "p_values_ks_p": float(stats.kstest(self.p_values, "uniform").pvalue),
        }


def _binned(ranks: np.ndarray, n_draws: int, n_bins: int) -> np.ndarray:
    # Ranks take n_draws + 1 values; equal-width bins over them.
    edges = np.linspace(0, n_draws + 1, n_bins + 1)
    return np.histogram(ranks, bins=edges)[0]


def sbc_conjugate(
    spec: ClinicalSpec,
    *,
    n_replications: int = 200,
    n_patients: int = 300,
    n_draws: int = 99,
    n_bins: int = 10,
    seed: int = 0,
    progress=None,
) -> SBCResult:
    """Run SBC of prior -> complete-data cohort -> conjugate posterior.

    Parameters
    ----------
    spec : ClinicalSpec
    n_replications, n_patients, n_draws, n_bins : int
        Replications, cohort size, posterior draws per replication (ranks lie
        in 0..n_draws), and histogram bins of the uniformity tests.
    seed : int
        Every replication's randomness derives from it.
    progress : callable, optional
        Called with the number of finished replications.

    Returns
    -------
    SBCResult
    """
    from scipy import stats

    from npprob.learning.conjugate import posterior_draws
    from npprob.learning.counts import family_counts

    if min(n_replications, n_patients, n_draws, n_bins) < 1:
        raise ValueError("Replications, patients, draws and bins must all be at least 1.")
    net = spec.network
    names: list[str] = []
    selectors: list[tuple[str, np.ndarray]] = []
    for name, alpha in spec.concentration.items():
        rows = alpha.reshape(-1, alpha.shape[-1])
        free = (rows > 0) & ((rows > 0).sum(axis=1, keepdims=True) >= 2)
        if len(rows[0]) == 2:
            free[:, 0] = False  # one number per two-state row
        flat = np.flatnonzero(free.ravel())
        selectors.append((name, flat))
        names += [f"{name}[{i // rows.shape[1]}, {i % rows.shape[1]}]" for i in flat]
    root = np.random.SeedSequence(seed)
    ranks = np.empty((n_replications, len(names)), dtype=np.int64)
    for r, child in enumerate(root.spawn(n_replications)):
        rng = np.random.default_rng(child)
        truth = {k: v[0] for k, v in spec.prior_draws(1, int(rng.integers(2**31))).items()}
        codes = forward_sample(net, n_patients, rng, truth)
        draws = posterior_draws(spec, family_counts(net, codes), n_draws, int(rng.integers(2**31)))
        column = 0
        for name, flat in selectors:
            true = truth[name].ravel()[flat]
            post = draws[name].reshape(n_draws, -1)[:, flat]
            below = (post < true).sum(axis=0)
            ties = (post == true).sum(axis=0)
            # Ties (a truth drawn as an exact 0) are broken at random.
            ranks[r, column : column + len(flat)] = below + rng.integers(0, ties + 1)
            column += len(flat)
        if progress is not None:
            progress(r + 1)
    p_values = np.array(
        [stats.chisquare(_binned(ranks[:, k], n_draws, n_bins)).pvalue for k in range(len(names))]
    )
    return SBCResult(ranks, tuple(names), n_draws, n_bins, p_values)
