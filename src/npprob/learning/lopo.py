"""Leave-one-publication-out checks of an evidence-synthesis fit, by importance sampling.

Refitting the network once per publication would cost one NUTS run each. The
posterior without publication j is the full posterior reweighted by
1 / p(publication j's counts | draw), which Pareto-smoothed importance sampling
(PSIS; Vehtari, Gelman and Gabry 2017, Stat Comput 27:1413) estimates from the
draws at hand, with a diagnostic: where the smoothed tail's shape k-hat exceeds
0.7 the estimate is unreliable and is reported as such, not trusted silently.

Each statistic of the left-out publication is then predicted as a new study
would report it: its own probability drawn around the implied one with the
family's heterogeneity, then k of its n counted (the same predictive as the
model card's in-sample check).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "PARETO_K_RELIABLE",
    "leave_one_publication_out",
    "study_log_likelihood",
    "study_predictive",
]

#: Above this k-hat the importance-sampling estimate is unreliable (Vehtari et al. 2024,
#: "Pareto smoothed importance sampling", JMLR 25:72, for a few thousand draws).
PARETO_K_RELIABLE = 0.7


def study_log_likelihood(
    implied: np.ndarray,
    heterogeneity: np.ndarray,
    family_of: np.ndarray,
    k: np.ndarray,
    n: np.ndarray,
) -> np.ndarray:
    """Beta-binomial log-likelihood of each statistic's counts under each draw.

    Parameters
    ----------
    implied : ndarray, shape (n_draws, n_statistics)
        The network's probability of each statistic.
    heterogeneity : ndarray, shape (n_draws, n_families)
        Each family's intra-study correlation rho.
    family_of : ndarray of int, shape (n_statistics,)
    k, n : ndarray of int, shape (n_statistics,)

    Returns
    -------
    ndarray, shape (n_draws, n_statistics)
    """
    from scipy.stats import betabinom

    concentration = 1.0 / heterogeneity[:, family_of] - 1.0
    return betabinom.logpmf(k, n, implied * concentration, (1.0 - implied) * concentration)


def study_predictive(
    implied: np.ndarray,
    heterogeneity: np.ndarray,
    family_of: np.ndarray,
    n: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """A new study's observed proportion k / n per draw: shape (n_draws, n_statistics)."""
    concentration = 1.0 / heterogeneity[:, family_of] - 1.0
    fresh = rng.beta(implied * concentration, (1.0 - implied) * concentration)
    return rng.binomial(n, fresh) / n


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles ``q`` of ``values`` (1-D) under normalised ``weights`` (inverse of the weighted CDF)."""
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order])
    cdf /= cdf[-1]
    at = np.searchsorted(cdf, np.asarray(q, dtype=np.float64), side="left")
    return values[order][np.minimum(at, len(values) - 1)]


def leave_one_publication_out(
    implied: np.ndarray,
    heterogeneity: np.ndarray,
    family_of: np.ndarray,
    k: np.ndarray,
    n: np.ndarray,
    publications: Sequence[str],
    *,
    seed: int = 0,
    level: float = 0.9,
) -> dict:
    """Each statistic's predictive interval from the posterior without its publication.

    Parameters
    ----------
    implied, heterogeneity, family_of, k, n
        As for :func:`study_log_likelihood`.
    publications : sequence of str, length n_statistics
        The publication of each statistic; all of one publication leave together.
    seed : int, default=0
        Seeds the predictive draws.
    level : float, default=0.9
        Central probability of the intervals.

    Returns
    -------
    dict
        ``coverage`` (share of statistics whose observed proportion lies in its
        interval), ``coverage_reliable`` (the same over publications with k-hat
        <= :data:`PARETO_K_RELIABLE`), ``level``, ``intervals`` (n_statistics x 2),
        ``covered`` (bool per statistic), ``pareto_k`` (per statistic, its
        publication's) and ``publications`` (name -> k-hat).
    """
    implied = np.asarray(implied, dtype=np.float64)
    k, n = np.asarray(k), np.asarray(n)
    log_lik = study_log_likelihood(implied, heterogeneity, family_of, k, n)
    names = sorted(set(publications))
    member = np.array([names.index(p) for p in publications])
    by_publication = np.stack([log_lik[:, member == j].sum(axis=1) for j in range(len(names))])
    # Draws are thinned and close to independent; r_eff = 1 is the usual choice then.
    log_weights, pareto_k = _psis(-by_publication)
    predictive = study_predictive(implied, heterogeneity, family_of, n, np.random.default_rng(seed))
    tail = (1.0 - level) / 2.0
    intervals = np.empty((len(n), 2))
    for i in range(len(n)):
        weights = np.exp(log_weights[member[i]])
        intervals[i] = weighted_quantiles(predictive[:, i], weights, [tail, 1.0 - tail])
    observed = k / n
    covered = (intervals[:, 0] <= observed) & (observed <= intervals[:, 1])
    k_of_statistic = pareto_k[member]
    reliable = k_of_statistic <= PARETO_K_RELIABLE
    return {
        "level": level,
        "coverage": float(covered.mean()),
        "coverage_reliable": float(covered[reliable].mean()) if reliable.any() else float("nan"),
        "n_unreliable_publications": int((pareto_k > PARETO_K_RELIABLE).sum()),
        "intervals": intervals,
        "covered": covered,
        "pareto_k": k_of_statistic,
        "publications": {p: float(pareto_k[j]) for j, p in enumerate(names)},
    }


def _psis(log_ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from npprob.learning import _arviz_compat as compat

    return compat.psis_log_weights(log_ratios, r_eff=1.0)
