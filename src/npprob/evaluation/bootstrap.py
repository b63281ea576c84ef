"""Bootstrap confidence intervals of accuracy and calibration metrics against a recorded label.

A real cohort has a recorded diagnosis and no latent truth, so its metrics are
estimates from a finite sample; their uncertainty is what a reader needs next to
them. Patients are resampled with replacement *within each class* (the stratified
bootstrap, as pROC does for the AUC), so that every replicate has both classes and
the prevalence stays that of the sample; intervals are percentile intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from npprob._checks import Interval, check_parameters
from npprob.evaluation.metrics import (
    calibration_intercept_slope,
    expected_calibration_error,
    net_benefit,
)

__all__ = ["BOOTSTRAP_METRICS", "DEFAULT_REPLICATES", "bootstrap_metrics"]

#: Metrics given with a bootstrap interval (each a function of outcomes and probabilities).
BOOTSTRAP_METRICS = ("auc", "brier", "ece", "calibration_intercept", "calibration_slope")
#: Replicates when none are asked for.
DEFAULT_REPLICATES = 1000


def _point(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    intercept, slope = calibration_intercept_slope(y, p)
    values = np.array([
        roc_auc_score(y, p),
        brier_score_loss(y, p),
        expected_calibration_error(y, p),
        intercept,
        slope,
    ])  # fmt: skip
    return values, net_benefit(y, p, thresholds)


def bootstrap_metrics(
    y: np.ndarray,
    p: np.ndarray,
    *,
    thresholds: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5),
    replicates: int = DEFAULT_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, object]:
    """Metrics of ``p`` against the 0/1 outcomes ``y`` with stratified bootstrap intervals.

    Parameters
    ----------
    y : ndarray of 0/1
        Recorded outcomes; both classes must occur.
    p : ndarray of float
        Predicted probabilities in [0, 1].
    thresholds : sequence of float, default=(0.1, 0.2, 0.3, 0.4, 0.5)
        Threshold probabilities of the decision-curve net benefit, each in (0, 1).
    replicates : int, default=1000
        Bootstrap replicates.
    level : float, default=0.95
        Level of the central percentile intervals.
    seed : int, default=0
        Seed of the resampling (the same seed gives the same intervals).

    Returns
    -------
    dict
        Per metric of :data:`BOOTSTRAP_METRICS`: ``{"estimate", "low", "high"}``;
        ``net_benefit``: ``{"thresholds", "estimate", "low", "high"}`` (lists);
        ``replicates``, ``level``, ``seed``, ``n``, ``n_positive``.

    Raises
    ------
    ParameterError
        On a bad ``replicates``, ``level`` or ``seed``.
    ValueError
        When only one class occurs, or on invalid outcomes or probabilities.
    """
    check_parameters(
        {
            "replicates": Interval(int, 20, None),
            "level": Interval(float, 0.0, 1.0, closed="neither"),
            "seed": Interval(int, 0, None),
        },
        {"replicates": replicates, "level": level, "seed": seed},
    )
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError("Bootstrap intervals need patients of both classes.")
    estimate, curve = _point(y, p, t)
    rng = np.random.default_rng(seed)
    values = np.empty((replicates, len(estimate)))
    curves = np.empty((replicates, len(t)))
    for r in range(replicates):
        rows = np.concatenate([
            rng.choice(positives, len(positives)),
            rng.choice(negatives, len(negatives)),
        ])  # fmt: skip
        values[r], curves[r] = _point(y[rows], p[rows], t)
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail], axis=0)
    curve_low, curve_high = np.quantile(curves, [tail, 1 - tail], axis=0)
    out: dict[str, object] = {
        name: {"estimate": float(e), "low": float(lo), "high": float(hi)}
        for name, e, lo, hi in zip(BOOTSTRAP_METRICS, estimate, low, high, strict=True)
    }
    out["net_benefit"] = {
        "thresholds": t.tolist(),
        "estimate": curve.tolist(),
        "low": curve_low.tolist(),
        "high": curve_high.tolist(),
    }
    out.update(replicates=replicates, level=level, seed=seed, n=len(y), n_positive=len(positives))
    return out
