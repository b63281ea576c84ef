"""Bootstrap intervals of the label metrics, against DeLong's variance of the AUC."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.errors import ParameterError
from npprob.evaluation.bootstrap import BOOTSTRAP_METRICS, bootstrap_metrics
from npprob.evaluation.metrics import probability_metrics


def calibrated_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 2.0, n)
    return (rng.random(n) < p).astype(np.int64), p


def delong_se(y: np.ndarray, p: np.ndarray) -> float:
    """DeLong et al. 1988: the AUC's standard error from the placement values."""
    pos, neg = p[y == 1], p[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)))


def test_estimates_are_the_sample_metrics() -> None:
    y, p = calibrated_sample(600, 1)
    out = bootstrap_metrics(y, p, replicates=50, seed=0)
    plain = probability_metrics(y, p)
    for name in BOOTSTRAP_METRICS:
        assert out[name]["estimate"] == pytest.approx(plain[name], abs=1e-9), name
        assert out[name]["low"] <= out[name]["high"]
    assert (out["n"], out["n_positive"]) == (600, int(y.sum()))


def test_auc_interval_matches_delong() -> None:
    y, p = calibrated_sample(1500, 2)
    out = bootstrap_metrics(y, p, replicates=1000, seed=3)
    se = delong_se(y, p)
    width = out["auc"]["high"] - out["auc"]["low"]
    # A normal 95 % interval is 3.92 standard errors wide; 1000 replicates pin the
    # percentile width to within a few per cent of it.
    assert width == pytest.approx(3.92 * se, rel=0.15), (width, 3.92 * se)
    assert out["auc"]["low"] < out["auc"]["estimate"] < out["auc"]["high"]


def test_calibrated_probabilities_have_intercept_zero_and_slope_one_inside() -> None:
    y, p = calibrated_sample(3000, 4)
    out = bootstrap_metrics(y, p, replicates=300, seed=5)
    assert out["calibration_intercept"]["low"] < 0 < out["calibration_intercept"]["high"]
    assert out["calibration_slope"]["low"] < 1 < out["calibration_slope"]["high"]
    # Probabilities pushed towards the extremes are overconfident: slope well below 1.
    logit = np.log(p) - np.log1p(-p)
    sharp = 1 / (1 + np.exp(-2.5 * logit))
    bad = bootstrap_metrics(y, sharp, replicates=300, seed=5)
    assert bad["calibration_slope"]["high"] < 0.6


def test_intervals_narrow_with_more_patients() -> None:
    small = bootstrap_metrics(*calibrated_sample(300, 6), replicates=300, seed=1)
    large = bootstrap_metrics(*calibrated_sample(3000, 6), replicates=300, seed=1)
    for name in ("auc", "brier"):
        small_width = small[name]["high"] - small[name]["low"]
        large_width = large[name]["high"] - large[name]["low"]
        assert large_width * 2 < small_width, name  # sqrt(10) expected


def test_net_benefit_interval_per_threshold() -> None:
    y, p = calibrated_sample(800, 7)
    out = bootstrap_metrics(y, p, thresholds=(0.2, 0.5), replicates=200, seed=0)
    nb = out["net_benefit"]
    assert nb["thresholds"] == [0.2, 0.5]
    call = p >= 0.2
    by_hand = (call & (y == 1)).mean() - (call & (y == 0)).mean() * 0.2 / 0.8
    assert nb["estimate"][0] == pytest.approx(by_hand)
    assert all(
        lo <= e <= hi for lo, e, hi in zip(nb["low"], nb["estimate"], nb["high"], strict=True)
    )


def test_same_seed_same_intervals_other_seed_other() -> None:
    y, p = calibrated_sample(400, 8)
    a = bootstrap_metrics(y, p, replicates=100, seed=11)
    b = bootstrap_metrics(y, p, replicates=100, seed=11)
    c = bootstrap_metrics(y, p, replicates=100, seed=12)
    assert a == b
    assert a["auc"]["low"] != c["auc"]["low"]


def test_refusals() -> None:
    y, p = calibrated_sample(100, 9)
    with pytest.raises(ValueError, match="both classes"):
        bootstrap_metrics(np.ones(10, dtype=int), np.full(10, 0.5), replicates=20)
    with pytest.raises(ParameterError, match="replicates"):
        bootstrap_metrics(y, p, replicates=5)
    with pytest.raises(ParameterError, match="level"):
        bootstrap_metrics(y, p, replicates=20, level=1.0)
