"""Accuracy and calibration metrics of probabilities against 0/1 outcomes.

Discrimination, scoring rules and classification rates come from
scikit-learn; calibration intercept and slope are fitted here by maximum
likelihood (logistic recalibration, Cox 1958), because scikit-learn's
logistic regression has no offset term for the intercept-only fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "calibration_intercept_slope",
    "expected_calibration_error",
    "net_benefit",
    "probability_metrics",
    "sensitivity_specificity",
]

#: Probabilities are clipped to [EPS, 1 - EPS] before taking logits or logs.
EPS = 1e-12


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError("Outcomes and probabilities must be non-empty 1-D arrays of equal length.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("Outcomes must be 0 or 1.")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("Probabilities must be finite and within [0, 1].")
    return y.astype(np.int64), p


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE with equal-mass bins: sum over bins of (bin share) x |mean p - mean y|.

    Patients are sorted by probability and split into ``n_bins`` groups of
    (nearly) equal size, so every bin carries the same weight of evidence.
    """
    y, p = _check(y, p)
    order = np.argsort(p, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, min(n_bins, len(p))):
        error += len(chunk) / len(p) * abs(p[chunk].mean() - y[chunk].mean())
    return float(error)


def calibration_intercept_slope(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration-in-the-large and calibration slope.

    The slope b comes from ``logit P(y) = a + b * logit(p)``; the intercept is
    fitted with the slope fixed at 1 (``logit P(y) = a + logit(p)``), the usual
    definition. Perfect calibration gives (0, 1).
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    y, p = _check(y, p)
    lp = np.log(np.clip(p, EPS, 1 - EPS)) - np.log1p(-np.clip(p, EPS, 1 - EPS))

    def nll(params: np.ndarray, slope_free: bool) -> tuple[float, np.ndarray]:
        a = params[0]
        b = params[1] if slope_free else 1.0
        eta = a + b * lp
        # log(1 + exp(eta)) without overflow
        loss = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
        resid = expit(eta) - y
        grad = (
            np.array([resid.sum(), (resid * lp).sum()]) if slope_free else np.array([resid.sum()])
        )
        return loss, grad

    intercept = minimize(nll, np.zeros(1), args=(False,), jac=True, method="BFGS").x[0]
    slope = minimize(nll, np.array([0.0, 1.0]), args=(True,), jac=True, method="BFGS").x[1]
    return float(intercept), float(slope)


def sensitivity_specificity(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity of calling ``p >= threshold`` positive (NaN if a class is empty)."""
    y, p = _check(y, p)
    call = p >= threshold
    pos, neg = y == 1, y == 0
    sens = float(call[pos].mean()) if pos.any() else float("nan")
    spec = float((~call[neg]).mean()) if neg.any() else float("nan")
    return sens, spec


def net_benefit(y: np.ndarray, p: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Decision-curve net benefit, TP/n - FP/n * t/(1 - t), at each threshold t in (0, 1)."""
    y, p = _check(y, p)
    t = np.asarray(thresholds, dtype=np.float64)
    if ((t <= 0) | (t >= 1)).any():
        raise ValueError("Thresholds must lie strictly between 0 and 1.")
    call = p[None, :] >= t[:, None]
    tp = (call & (y[None, :] == 1)).sum(axis=1) / len(y)
    fp = (call & (y[None, :] == 0)).sum(axis=1) / len(y)
    return tp - fp * t / (1 - t)


def probability_metrics(
    y: np.ndarray,
    p: np.ndarray,
    *,
    thresholds: Sequence[float] = (0.5,),
    n_bins: int = 10,
) -> dict[str, object]:
    """Every metric of one set of probabilities, as plain data.

    Returns
    -------
    dict
        ``n``, ``prevalence``, ``auc``, ``brier``, ``log_loss``, ``ece``,
        ``calibration_intercept``, ``calibration_slope`` and, per threshold,
        ``sensitivity``/``specificity``. AUC is NaN when only one class occurs.
    """
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    y, p = _check(y, p)
    both = 0 < y.sum() < len(y)
    out: dict[str, object] = {
        "n": len(y),
        "prevalence": float(y.mean()),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1])),
        "ece": expected_calibration_error(y, p, n_bins),
    }
    a, b = calibration_intercept_slope(y, p) if both else (float("nan"), float("nan"))
    out["calibration_intercept"], out["calibration_slope"] = a, b
    out["at_threshold"] = {
        f"{t:g}": dict(
            zip(("sensitivity", "specificity"), sensitivity_specificity(y, p, t), strict=True)
        )
        for t in thresholds
    }
    return out
