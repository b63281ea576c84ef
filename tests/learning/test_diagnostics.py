"""check(): each threshold just met and just missed, and what each problem says to try."""

from __future__ import annotations

import math
import re

import pytest

from npprob.learning import THRESHOLDS, DiagnosticsReport, check

GOOD = {"r_hat_max": 1.0, "ess_bulk_min": 5000.0, "ess_tail_min": 5000.0, "divergences": 0}


def with_(**changes) -> dict[str, float]:
    return {**GOOD, **changes}


def test_thresholds_are_the_documented_rules():
    assert THRESHOLDS == {
        "r_hat_max": 1.01,
        "ess_bulk_min": 400.0,
        "ess_tail_min": 400.0,
        "divergences": 0,
    }


@pytest.mark.parametrize(
    "values",
    [
        GOOD,
        with_(r_hat_max=1.01),
        with_(r_hat_max=1.0099),
        with_(r_hat_max=0.999),
        with_(ess_bulk_min=400.0),
        with_(ess_tail_min=400.0),
        with_(ess_bulk_min=400.0, ess_tail_min=400.0, r_hat_max=1.01, divergences=0),
    ],
)
def test_values_on_or_inside_every_threshold_pass(values):
    report = check(values)
    assert isinstance(report, DiagnosticsReport)
    assert report.ok
    assert report.problems == ()
    assert report.to_dict()["passed"] is True


@pytest.mark.parametrize(
    ("values", "topic", "advice"),
    [
        (with_(r_hat_max=1.0101), "r-hat", ("--tune", "--chain-draws", "chains")),
        (with_(r_hat_max=1.2), "r-hat", ("--tune", "--chain-draws", "chains")),
        (with_(r_hat_max=math.nan), "r-hat", ("--tune", "--chain-draws")),
        (with_(ess_bulk_min=399.9), "bulk ESS", ("--chain-draws",)),
        (with_(ess_bulk_min=math.nan), "bulk ESS", ("--chain-draws",)),
        (with_(ess_tail_min=399.0), "tail ESS", ("--chain-draws",)),
        (with_(ess_tail_min=12.0), "tail ESS", ("--chain-draws",)),
        (with_(divergences=1), "divergent", ("--target-accept",)),
        (with_(divergences=37), "divergent", ("--target-accept", "reparametri")),
    ],
)
def test_values_just_outside_a_threshold_fail_and_say_what_to_try(values, topic, advice):
    report = check(values)
    assert not report.ok
    assert len(report.problems) == 1, report.problems
    message = report.problems[0]
    assert topic in message
    for hint in advice:
        assert hint in message, (hint, message)
    d = report.to_dict()
    assert d["passed"] is False
    assert d["problems"] == [message]
    assert d["thresholds"] == THRESHOLDS


def test_every_failure_is_reported_at_once():
    report = check(
        {"r_hat_max": 1.05, "ess_bulk_min": 100.0, "ess_tail_min": 50.0, "divergences": 3}
    )
    assert not report.ok
    assert len(report.problems) == 4
    joined = " ".join(report.problems)
    for word in ("r-hat", "bulk ESS", "tail ESS", "divergent"):
        assert word in joined


def test_report_keeps_the_values():
    report = check(with_(r_hat_max=1.002, ess_bulk_min=812.5, ess_tail_min=640.25, divergences=0))
    d = report.to_dict()
    assert (d["r_hat_max"], d["ess_bulk_min"], d["ess_tail_min"], d["divergences"]) == (
        1.002,
        812.5,
        640.25,
        0,
    )
    assert isinstance(report.divergences, int)


@pytest.mark.parametrize(
    ("values", "pattern", "threshold", "failing_side"),
    [
        (with_(r_hat_max=1.0104), r"r-hat ([\d.]+) > ", 1.01, "above"),
        (with_(ess_bulk_min=399.6), r"bulk ESS ([\d.]+) < ", 400, "below"),
        (with_(ess_tail_min=399.5), r"tail ESS ([\d.]+) < ", 400, "below"),
    ],
)
def test_the_number_shown_is_on_the_failing_side_of_the_threshold(
    values, pattern, threshold, failing_side
):
    # A message reading "bulk ESS 400 < 400" or "r-hat 1.010 > 1.01" contradicts itself.
    (message,) = check(values).problems
    shown = float(re.search(pattern, message).group(1))
    if failing_side == "above":
        assert shown > threshold, message
    else:
        assert shown < threshold, message
