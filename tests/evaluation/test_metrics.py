"""Metrics against hand computations and known miscalibration."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.evaluation import (
    calibration_intercept_slope,
    expected_calibration_error,
    net_benefit,
    probability_metrics,
    sensitivity_specificity,
)


def logit(p):
    return np.log(p) - np.log1p(-p)


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_ece_by_hand() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1])
    # Two equal-mass bins: {0.1, 0.2, 0.3} and {0.4, 0.6, 0.9}.
    expected = 0.5 * abs(0.2 - 1 / 3) + 0.5 * abs(np.mean([0.4, 0.6, 0.9]) - 2 / 3)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(expected)


def test_perfect_calibration_is_recovered(rng) -> None:
    p = rng.uniform(0.02, 0.98, 40_000)
    y = (rng.random(p.size) < p).astype(int)
    a, b = calibration_intercept_slope(y, p)
    assert abs(a) < 0.05
    assert abs(b - 1) < 0.05
    assert expected_calibration_error(y, p) < 0.01


def test_known_miscalibration_is_recovered(rng) -> None:
    true_p = rng.uniform(0.02, 0.98, 40_000)
    y = (rng.random(true_p.size) < true_p).astype(int)
    # Overconfident predictions: logit(reported) = 2 * logit(true) => slope 0.5.
    reported = expit(2 * logit(true_p))
    _, slope = calibration_intercept_slope(y, reported)
    assert slope == pytest.approx(0.5, abs=0.03)
    # Predictions shifted up by 1 on the logit scale => intercept -1.
    shifted = expit(logit(true_p) + 1)
    intercept, _ = calibration_intercept_slope(y, shifted)
    assert intercept == pytest.approx(-1.0, abs=0.05)


def test_sensitivity_specificity_and_net_benefit_by_hand() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.1, 0.05])
    assert sensitivity_specificity(y, p, 0.5) == (pytest.approx(2 / 3), pytest.approx(4 / 5))
    # t = 0.5: TP = 2, FP = 1 -> 2/8 - 1/8 * 1; t = 0.25: TP = 2, FP = 2 -> 2/8 - 2/8 / 3.
    np.testing.assert_allclose(net_benefit(y, p, [0.5, 0.25]), [1 / 8, 2 / 8 - 2 / 24])


def test_probability_metrics_bundle(rng) -> None:
    from sklearn.metrics import roc_auc_score

    p = rng.uniform(0, 1, 500)
    y = (rng.random(500) < p).astype(int)
    m = probability_metrics(y, p, thresholds=(0.3, 0.5))
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert set(m["at_threshold"]) == {"0.3", "0.5"}
    assert m["n"] == 500


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], "0 or 1"),
        ([0, 1], [0.1, 1.2], "within"),
        ([0, 1], [0.1], "equal length"),
        ([0, 1], [0.1, np.nan], "finite"),
    ],
)
def test_bad_input_is_refused(y, p, message) -> None:
    with pytest.raises(ValueError, match=message):
        probability_metrics(np.array(y), np.array(p))


def test_net_benefit_refuses_thresholds_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="strictly between"):
        net_benefit(np.array([0, 1]), np.array([0.2, 0.8]), [0.0, 0.5])
