"""Evaluation layer: metrics of probabilities, bedside-tool baselines, evaluation reports."""

from npprob.evaluation.metrics import (
    calibration_intercept_slope,
    expected_calibration_error,
    net_benefit,
    probability_metrics,
    sensitivity_specificity,
)

__all__ = [
    "calibration_intercept_slope",
    "expected_calibration_error",
    "net_benefit",
    "probability_metrics",
    "sensitivity_specificity",
]
