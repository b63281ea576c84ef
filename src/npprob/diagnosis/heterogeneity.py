"""Prediction intervals: the answer in a population the evidence did not study.

An evidence-synthesis fit (``npprob train --likelihood evidence``) learns the
network's parameters from many studies whose populations differ beyond sampling
error. Its likelihood says how: a study's own share of neuropathic pain is
Beta-distributed around the share the network implies, with intra-study
correlation rho (the fit's between-study spread of neuropathic shares). The
credible interval of P(neuropathic | findings) describes the pooled parameters;
a clinic whose case mix, referral and raters differ is one more "study", so a
patient there has a wider prediction interval, as a random-effects meta-analysis
has a prediction interval beside the confidence interval of its mean (Riley,
Higgins and Deeks, BMJ 2011;342:d549).

Per draw s and patient i, with mu_s the draw's P(neuropathic | the patient's
condition, chronic pain) (the care setting's case mix when the condition is not
recorded) and q_s a share of a new population drawn from
Beta(mu_s (1 - rho) / rho, (1 - mu_s)(1 - rho) / rho), the patient's
probability in that population moves by the change in prior odds:

    logit p'_si = logit p_si + logit q_s - logit mu_s.

The findings' likelihood ratios are kept: the spread of the findings' own
frequencies between studies (rho of the finding statistics) is not
propagated, so the interval is still a lower bound on the uncertainty. The
shares are drawn once per model, for every condition and draw, from a seeded
generator (numpy's Beta sampler, so answering needs no scipy), so a patient's
interval does not depend on the other patients of a batch and the same seed
gives the same numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["population_draws", "population_rng", "population_shift"]


def population_rng(seed: int = 0) -> np.random.Generator:
    """The generator of the new populations' shares (one stream per ``seed``)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0x4E50]))


def population_shift(mu_draws: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """The change of log-odds that takes each draw's share into a new population.

    Parameters
    ----------
    mu_draws : ndarray, shape (n_draws, n_groups)
        P(neuropathic | condition, context) per draw, for each group of patients
        weighed against the same share (one recorded condition, or none).
    rho : float
        Intra-study correlation of neuropathic shares, in (0, 1).
    rng : numpy.random.Generator
        Draws the shares (:func:`population_rng`).

    Returns
    -------
    ndarray, shape (n_draws, n_groups)
        logit q - logit mu, q the new population's share (see the module notes).

    Raises
    ------
    ValueError
        When rho is not in (0, 1).
    """
    if not 0.0 < rho < 1.0:
        raise ValueError(f"rho must be in (0, 1), got {rho!r}")
    tiny = 1e-12
    mu = np.clip(np.asarray(mu_draws, dtype=np.float64), tiny, 1.0 - tiny)
    concentration = (1.0 - rho) / rho
    share = np.clip(rng.beta(mu * concentration, (1.0 - mu) * concentration), tiny, 1.0 - tiny)
    return np.log(share) - np.log1p(-share) - (np.log(mu) - np.log1p(-mu))


def population_draws(p_draws: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Per-draw probabilities moved by a change of prior log-odds.

    Parameters
    ----------
    p_draws : ndarray, shape (n_draws, n_patients)
        P(neuropathic | findings, context) per parameter draw.
    shift : ndarray, shape (n_draws, n_patients)
        Each patient's column of :func:`population_shift`.

    Returns
    -------
    ndarray, shape (n_draws, n_patients)
        NaN where ``p_draws`` is NaN; 0 and 1 stay 0 and 1.
    """
    p = np.asarray(p_draws, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        moved = np.log(p) - np.log1p(-p) + shift
        return 1.0 / (1.0 + np.exp(-moved))
