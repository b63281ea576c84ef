"""``evaluate_cohort`` and ``npprob evaluate`` end to end on small cohorts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from npprob.cli import main
from npprob.diagnosis import load_model
from npprob.evaluation.baselines import load_hard_cases, load_tools
from npprob.evaluation.evaluate import (
    COVERAGE_LEVELS,
    evaluate_cohort,
    fit_baselines,
    read_evaluation_cohort,
)
from npprob.evaluation.report import check_targets
from npprob.network.evidence import EvidenceBatch


def simulate(tmp: Path, name: str, *flags: str) -> Path:
    out = tmp / name
    assert main(["simulate", "--no-parquet", "--no-progress", "--out-dir", str(out), *flags]) == 0
    return out / "cohort.csv"


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    train = simulate(tmp, "train", "--n", "1500", "--seed", "41", "--label", "clinician")
    clinic = simulate(tmp, "clinic", "--n", "1500", "--seed", "42", "--label", "clinician")
    trait = simulate(tmp, "trait", "--n", "1500", "--seed", "43", "--label", "clinician",
                     "--reporting-trait", "0.5")  # fmt: skip
    return train, clinic, trait


@pytest.fixture(scope="module")
def clinic(cohorts):
    """The prior model, the clinic cohort, and baselines fitted on the training cohort."""
    train, clinic, _ = cohorts
    model = load_model("prior")
    net = model.network
    train_cohort = read_evaluation_cohort(train, net)
    fitted = fit_baselines(net, train_cohort.codes, train_cohort.label)
    return model, net, read_evaluation_cohort(clinic, net), fitted


def test_evaluate_cohort_numbers_are_consistent(clinic) -> None:
    from sklearn.metrics import roc_auc_score

    model, net, cohort, fitted = clinic
    result, probs = evaluate_cohort(model, cohort, load_tools(net), fitted)
    assert set(probs) == {"npprob", "logistic_regression", "naive_bayes", "dn4",
                          "dn4_interview", "lanss", "id_pain", "neupsig"}  # fmt: skip
    npprob = result["methods"]["npprob"]
    assert npprob["truth"]["auc"] == pytest.approx(roc_auc_score(cohort.truth, probs["npprob"]))
    assert npprob["label"]["auc"] == pytest.approx(roc_auc_score(cohort.label, probs["npprob"]))
    # The prior model is the truth network's structure with its literature means: it must
    # beat DN4 clearly and match the true probability closely.
    assert npprob["truth"]["auc"] > result["methods"]["dn4"]["auc_raw"] + 0.05
    assert result["mean_abs_error_vs_p_true"] < 0.05
    coverage = [result["coverage"][f"{level:g}"] for level in COVERAGE_LEVELS]
    assert coverage == sorted(coverage)  # wider intervals cover more
    assert all(0 <= c <= 1 for c in coverage)
    assert len(result["decision_curve"]["npprob"]) == len(result["decision_curve"]["thresholds"])
    checks = check_targets(result)
    assert set(checks) >= {"auc_vs_dn4", "ece", "calibration_slope", "coverage_90"}
    assert checks["auc_vs_dn4"]["met"]


def test_the_prediction_interval_is_wider_and_counted_by_hand(clinic) -> None:
    # The evidence default has a between-population spread: its prediction intervals
    # are the credible ones' draws moved by it.
    from npprob.diagnosis.predictive import weighted_quantiles

    _, net, cohort, _ = clinic
    model = load_model()
    tools = load_tools(net)
    assert "coverage_prediction" not in evaluate_cohort(load_model("prior"), cohort, tools, {})[0]
    result, _ = evaluate_cohort(model, cohort, tools, {})
    draws, weights = model.weighted_draws(EvidenceBatch(net, cohort.codes))
    moved = model.prediction_draws(draws, cohort.codes)
    low, high = weighted_quantiles(moved, weights, [0.05, 0.95])
    by_hand = float(((cohort.p_true >= low) & (cohort.p_true <= high)).mean())
    assert result["coverage_prediction"]["0.9"] == pytest.approx(by_hand)
    # Wider on average; not nested patient by patient: a skewed Beta moves a rare
    # condition's share down more often than up (its median is below its mean).
    credible = weighted_quantiles(draws, weights, [0.05, 0.95])
    assert np.mean(high - low) > np.mean(credible[1] - credible[0]) + 0.01


def test_hard_cases_are_counted_by_hand(clinic) -> None:
    from npprob.evaluation.baselines import score_all

    model, net, cohort, fitted = clinic
    groups = load_hard_cases(net)
    assert set(groups) == {"trigeminal_neuralgia", "mimics"}
    result, probs = evaluate_cohort(model, cohort, load_tools(net), fitted, hard_cases=groups)
    hard = result["hard_cases"]
    states = net.variable("aetiology").states
    aetiology = cohort.codes[:, net.index("aetiology")]
    mimic = np.isin(aetiology, [states.index(s) for s in groups["mimics"]])
    assert hard["mimics"]["n"] == mimic.sum() > 0
    assert hard["mimics"]["n_neuropathic"] == cohort.truth[mimic].sum()
    negatives = mimic & (cohort.truth == 0)
    expected_fpr = np.mean(probs["npprob"][negatives] >= 0.5)
    assert hard["mimics"]["npprob"]["false_positive_rate"] == pytest.approx(expected_fpr)
    assert hard["mimics"]["npprob"]["false_positives"] == (probs["npprob"][negatives] >= 0.5).sum()
    dn4, cutoff = score_all(net, cohort.codes, load_tools(net))["dn4"]
    flagged = (dn4 >= cutoff) & (cohort.truth == 0)
    screen = hard["dn4_positive_not_neuropathic"]
    assert screen["n"] == flagged.sum() > 0
    assert screen["dn4"]["false_positive_rate"] == 1.0  # by construction of the group
    assert screen["npprob"]["false_positive_rate"] < 0.5  # npprob rejects most of them


def test_hard_case_aetiologies_are_checked(tmp_path) -> None:
    from npprob.errors import DataFileError

    path = tmp_path / "tools.toml"
    net = load_model("prior").network
    path.write_text('[hard_cases.x]\naetiology = ["gout"]\n')
    with pytest.raises(DataFileError, match="unknown or no aetiology"):
        load_hard_cases(net, path)
    path.write_text('[hard_cases.x]\naetiology = "osteoarthritis"\n')
    with pytest.raises(DataFileError, match="list of states"):
        load_hard_cases(net, path)
    path.write_text('[hard_cases.dn4_positive_not_neuropathic]\naetiology = ["osteoarthritis"]\n')
    with pytest.raises(DataFileError, match="reserved"):
        load_hard_cases(net, path)


def test_npprob_evaluate_writes_json_report_and_figures(cohorts, tmp_path, capsys) -> None:
    train, clinic, trait = cohorts
    out = tmp_path / "report"
    status = main(["evaluate", "--train-cohort", str(train), "--cohort", str(clinic),
                   "--cohort", str(trait), "--model", "prior", "--out-dir", str(out),
                   "--no-progress"])  # fmt: skip
    stdout = capsys.readouterr().out
    assert status == 0
    assert "npprob AUC" in stdout
    summary = json.loads((out / "evaluation.json").read_text())
    assert [c["cohort"] for c in summary["cohorts"]] == ["clinic", "trait"]
    assert "targets" in summary["cohorts"][0]
    assert "targets" not in summary["cohorts"][1]  # the trait cohort is misspecified on purpose
    assert {k: c["target"] for k, c in summary["cohorts"][0]["targets"].items()} == {
        "auc_vs_dn4": ">= 0.05",
        "auc_vs_logistic_regression": ">= 0",
        "ece": "<= 0.02",
        "calibration_slope": "0.9-1.1",
        "coverage_90": "0.88-0.92",
    }
    (entry,) = summary["misspecification"]
    assert (entry["cohort"], entry["reference"]) == ("trait", "clinic")
    assert set(entry["methods"]) >= {"npprob", "dn4"}
    report = (out / "report.md").read_text()
    assert "## clinic" in report
    assert "Misspecification" in report
    assert report.count("Targets (consecutive clinic):") == 1
    assert "| mimics |" in report
    assert summary["cohorts"][0]["hard_cases"]["mimics"]["n"] > 0
    for name in ("clinic_curves.png", "clinic_coverage.png", "trait_curves.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def real_cohort(clinic: Path, tmp: Path, *, drop_label: bool = False, label_value=None) -> Path:
    """The clinic cohort as a study of real patients has it: findings and label, no truth."""
    import pandas as pd

    frame = pd.read_csv(clinic, dtype=str, keep_default_na=False)
    frame = frame.drop(columns=[c for c in frame if c.startswith(("true_", "p_true_"))])
    if drop_label:
        frame = frame.drop(columns=["label_neuropathic"])
    if label_value is not None:
        frame["label_neuropathic"] = label_value
    frame.loc[:9, "label_neuropathic"] = "" if label_value is None else label_value
    folder = tmp / "real"
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / "cohort.csv", index=False)
    return folder / "cohort.csv"


def test_evaluate_scores_a_real_cohort_against_its_label(cohorts, tmp_path, capsys) -> None:
    from sklearn.metrics import roc_auc_score

    _, clinic, _ = cohorts
    real = real_cohort(clinic, tmp_path)
    runs = []
    for k in range(2):
        out = tmp_path / f"report{k}"
        status = main(["evaluate", "--cohort", str(real), "--model", "prior", "--out-dir",
                       str(out), "--bootstrap", "100", "--no-progress"])  # fmt: skip
        assert status == 0
        runs.append(out)
    stdout = capsys.readouterr().out
    assert "against the recorded label: npprob AUC" in stdout
    summary = json.loads((runs[0] / "evaluation.json").read_text())
    (result,) = summary["cohorts"]
    assert result["reference"] == "label"
    assert result["n_unlabelled"] == 10
    assert "coverage" not in result
    assert "targets" not in result
    assert summary["train_cohort"] is None
    assert "logistic_regression" not in result["methods"]  # no --train-cohort
    npprob = result["methods"]["npprob"]
    assert "truth" not in npprob
    ci = npprob["label_ci"]
    assert ci["replicates"] == 100
    assert ci["n"] == result["n"] - 10
    for name in ("auc", "brier", "calibration_intercept", "calibration_slope"):
        assert ci[name]["low"] < ci[name]["estimate"] < ci[name]["high"], name
    # The label AUC is npprob's probabilities against the recorded label, recomputed here
    # from the model on the labelled patients.
    model = load_model("prior")
    data = read_evaluation_cohort(real, model.network, require_truth=False)
    labelled = data.label >= 0
    draws, weights = model.weighted_draws(EvidenceBatch(model.network, data.codes))
    p = (draws * weights).sum(axis=0) / weights.sum(axis=0)
    assert npprob["label"]["auc"] == pytest.approx(roc_auc_score(data.label[labelled], p[labelled]))
    report = (runs[0] / "report.md").read_text()
    assert "No latent truth" in report
    assert "bootstrap 95 % intervals" in report
    for name in ("real_reliability", "real_curves"):
        assert (runs[0] / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        svg = (runs[0] / f"{name}.svg").read_bytes()
        assert b"<svg" in svg[:500]
        assert svg == (runs[1] / f"{name}.svg").read_bytes()  # same seed, same bytes
    assert (runs[0] / "evaluation.json").read_bytes() == (runs[1] / "evaluation.json").read_bytes()


def test_evaluate_refuses_a_cohort_without_label_or_with_one_class(
    cohorts, tmp_path, capsys
) -> None:
    train, clinic, _ = cohorts
    for kwargs, message in (({"drop_label": True}, "label_neuropathic"),
                            ({"label_value": "1"}, "both classes")):  # fmt: skip
        bare = real_cohort(clinic, tmp_path, **kwargs)
        out = tmp_path / "r"
        status = main(["evaluate", "--train-cohort", str(train), "--cohort", str(bare),
                       "--model", "prior", "--out-dir", str(out), "--no-progress"])  # fmt: skip
        err = capsys.readouterr().err
        assert status == 2
        assert message in err
        assert not out.exists()


@pytest.mark.parametrize("threshold", ["0", "1.5"])
def test_evaluate_refuses_bad_thresholds(cohorts, tmp_path, capsys, threshold) -> None:
    train, clinic, _ = cohorts
    status = main(["evaluate", "--train-cohort", str(train), "--cohort", str(clinic),
                   "--threshold", threshold, "--out-dir", str(tmp_path / "r")])  # fmt: skip
    assert status == 2
    assert "--threshold" in capsys.readouterr().err
    assert not np.any([p.exists() for p in (tmp_path / "r",)])
