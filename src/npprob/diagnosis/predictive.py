"""The posterior predictive for one new patient, from parameter draws.

A model's draws come from p(theta | training data). A new patient's own
findings e are data about theta too, so the predictive answer is

    P(target | e) = sum_s P(e | theta_s) P(target | e, theta_s) / sum_s P(e | theta_s),

the draws weighted by how well each explains the patient's findings (exact Bayes
with the draws as the posterior sample; importance weights P(e | theta_s)).
Averaging the per-draw posteriors with equal weights ignores that: a finding
whose rows with and without the target are two loose, equal-mean parameters
then moves the answer, although its predictive likelihood ratio is 1. With a
trained model the weights are nearly equal; with the prior model they matter.

This module holds the arithmetic: weights from log evidence, weighted means and
quantiles, the effective number of draws, and deterministic systematic
resampling, which turns weighted draws into equally weighted ones (the
scikit-learn estimator's ``p_neuropathic_draws``). Treatment ranking samples
draws with these weights itself.
"""

from __future__ import annotations

import numpy as np

from npprob.inference import _summaries
from npprob.inference.compiled import before_first_call
from npprob.inference.threads import chunk_bounds, default_threads, spread

__all__ = [
    "draw_weights",
    "effective_draws",
    "resample_indices",
    "weighted_mean",
    "weighted_mean_columns",
    "weighted_quantiles",
]


def draw_weights(log_evidence: np.ndarray) -> np.ndarray:
    """Normalised weights P(e | theta_s) / sum_s P(e | theta_s) per patient.

    Parameters
    ----------
    log_evidence : ndarray, shape (n_draws, n_patients)
        Natural log of P(findings, context | draw); ``-inf`` where zero.

    Returns
    -------
    ndarray, shape (n_draws, n_patients)
        Columns sum to 1; NaN for a patient whose findings have probability
        zero under every draw.
    """
    log_evidence = np.asarray(log_evidence, dtype=np.float64)
    top = log_evidence.max(axis=0, keepdims=True)
    with np.errstate(invalid="ignore"):
        w = np.exp(log_evidence - top)
        return w / w.sum(axis=0, keepdims=True)


#: Fewest patients whose summaries are spread over threads.
PARALLEL_MIN_PATIENTS = 256


def _by_patient(kernel, args: tuple, n_patients: int) -> None:
    """Run a summary kernel of :mod:`npprob.inference._summaries` over ranges of patients."""
    before_first_call(kernel)
    threads = default_threads() if n_patients >= PARALLEL_MIN_PATIENTS else 1
    spread(kernel, args, chunk_bounds(n_patients, threads), threads)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum over draws of ``weights * values`` per patient.

    Parameters
    ----------
    values, weights : ndarray, shape (n_draws, n_patients)
        Draws of weight zero are skipped, so a NaN value under a draw that
        makes the findings impossible does not spoil the mean.

    Returns
    -------
    ndarray, shape (n_patients,)
        NaN where the weights are NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be (n_draws, n_patients), not {values.shape}")
    # One implementation for one patient and for a batch: the sum over draws runs in
    # draw order however the arrays lie in memory (NumPy's sum would switch to
    # pairwise summation when the draws are contiguous), so both give the same bits.
    return weighted_mean_columns(values[..., None], weights, [0])[0]


def weighted_mean_columns(
    probabilities: np.ndarray, weights: np.ndarray, columns: np.ndarray
) -> np.ndarray:
    """:func:`weighted_mean` of several columns of a query's answers at once.

    Parameters
    ----------
    probabilities : ndarray, shape (n_draws, n_patients, n_columns)
        :attr:`npprob.inference.QueryResult.probabilities`.
    weights : ndarray, shape (n_draws, n_patients)
    columns : sequence of int
        The columns wanted.

    Returns
    -------
    ndarray, shape (len(columns), n_patients)
        The same numbers :func:`weighted_mean` gives column by column (it calls this),
        without copying a column per call.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    columns = np.ascontiguousarray(columns, dtype=np.int64)
    if probabilities.ndim != 3 or weights.shape != probabilities.shape[:2]:
        raise ValueError(
            f"probabilities must be (n_draws, n_patients, n_columns) and weights "
            f"(n_draws, n_patients), not {probabilities.shape} and {weights.shape}"
        )
    if columns.ndim != 1 or ((columns < 0) | (columns >= probabilities.shape[2])).any():
        raise ValueError(f"columns must be indices below {probabilities.shape[2]}")
    # A query's answers are patient-major underneath: this is a view, not a copy.
    rows = np.ascontiguousarray(probabilities.transpose(1, 0, 2))
    rows_w = np.ascontiguousarray(weights.T)
    n_patients = rows.shape[0]
    out = np.empty((len(columns), n_patients))
    _by_patient(_summaries.weighted_mean_rows, (rows, rows_w, columns, out), n_patients)
    return out


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles of each patient's weighted draws.

    The weighted empirical distribution is interpolated linearly between the
    midpoints of each draw's probability mass (Hazen's rule, which for equal
    weights is ``np.percentile(..., method="hazen")``).

    Parameters
    ----------
    values, weights : ndarray, shape (n_draws, n_patients)
    q : array_like
        Probabilities in [0, 1].

    Returns
    -------
    ndarray, shape (len(q), n_patients)
        Draws of weight zero are never used; NaN for a patient whose weights
        are NaN (findings of probability zero).
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    q = np.ascontiguousarray(np.atleast_1d(np.asarray(q, dtype=np.float64)))
    if values.ndim != 2 or weights.shape != values.shape:
        raise ValueError(
            f"values and weights must both be (n_draws, n_patients), not {values.shape} "
            f"and {weights.shape}"
        )
    if q.ndim != 1 or not ((q >= 0) & (q <= 1)).all():
        raise ValueError(f"quantile levels must be probabilities in [0, 1], not {q.tolist()}")
    n_patients = values.shape[1]
    out = np.empty((len(q), n_patients))
    if values.shape[0] == 0:
        out[:] = np.nan
        return out
    # A patient's draws contiguous: the kernel sorts one row at a time.
    rows_v = np.ascontiguousarray(values.T)
    rows_w = np.ascontiguousarray(weights.T)
    _by_patient(_summaries.weighted_quantile_rows, (rows_v, rows_w, q, out), n_patients)
    return out


def effective_draws(weights: np.ndarray) -> np.ndarray:
    """Kish's effective number of draws per patient.

    Parameters
    ----------
    weights : ndarray, shape (n_draws, n_patients)
        Normalised weights (:func:`draw_weights`).

    Returns
    -------
    ndarray, shape (n_patients,)
        ``1 / sum w^2``: ``n_draws`` for equal weights, 1 when one draw carries
        everything; NaN where the weights are NaN.
    """
    weights = np.asarray(weights, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return 1.0 / np.square(weights).sum(axis=0)


def resample_indices(weights: np.ndarray) -> np.ndarray:
    """Systematic resampling: equally weighted draw indices per patient.

    Deterministic (the offsets are the midpoints ``(k + 0.5) / n``), so the same
    weights always give the same indices; equal weights give ``0, 1, ..., n-1``.
    The indices are non-decreasing, and each draw is repeated about
    ``n * weight`` times.

    Parameters
    ----------
    weights : ndarray, shape (n_draws, n_patients)

    Returns
    -------
    ndarray of int, shape (n_draws, n_patients)
        Index into the draws; a patient whose weights are NaN keeps ``0..n-1``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n, n_patients = weights.shape
    positions = (np.arange(n) + 0.5) / n
    out = np.empty((n, n_patients), dtype=np.intp)
    for i in range(n_patients):
        w = weights[:, i]
        if not np.isfinite(w).all():
            out[:, i] = np.arange(n)
            continue
        cumulative = np.cumsum(w)
        cumulative /= cumulative[-1]
        out[:, i] = np.minimum(np.searchsorted(cumulative, positions, side="right"), n - 1)
    return out
