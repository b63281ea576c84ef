"""Evaluate a model on held-out cohorts, next to the bedside tools and fitted baselines.

Every method sees the same recorded findings. npprob's probability is the
posterior predictive (draws weighted by P(findings | draw)); the bedside tools' scores become probabilities by
the same 5-fold cross-validated logistic recalibration against the recorded
label (what a study would have), so calibration is compared fairly; AUC is
reported on the raw scores too. Logistic regression and naive Bayes are fitted
on the training cohort's recorded findings and label (left out without one).
Metrics are computed against the latent truth and against the recorded (noisy)
label. A cohort with a recorded label and no latent truth (real patients) is
scored against the label only, every metric with a stratified bootstrap 95 %
interval (:mod:`npprob.evaluation.bootstrap`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npprob._checks import Interval, check_parameters
from npprob.diagnosis.predictive import weighted_mean, weighted_quantiles
from npprob.errors import EvidenceError, ParameterError
from npprob.evaluation.baselines import SCREEN_FALSE_POSITIVES, ScreeningTool, score_all
from npprob.evaluation.metrics import net_benefit, probability_metrics
from npprob.io.cohort import CohortData
from npprob.network.evidence import EvidenceBatch
from npprob.network.network import Network

__all__ = [
    "COVERAGE_LEVELS",
    "Evaluation",
    "evaluate",
    "evaluate_cohort",
    "evidence_checks",
    "findings_matrix",
    "fit_baselines",
    "read_evaluation_cohort",
]

#: Central credible-interval levels whose coverage of the true P(neuropathic | findings) is reported.
COVERAGE_LEVELS = (0.5, 0.8, 0.9, 0.95)
#: Decision-curve thresholds.
DECISION_THRESHOLDS = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))
#: Smallest aetiology subgroup reported.
MIN_SUBGROUP = 100


def read_evaluation_cohort(
    path: str | os.PathLike[str], network: Network, *, require_truth: bool = True
) -> CohortData:
    """Read a cohort to evaluate on: a recorded label always, the latent truth if required.

    Parameters
    ----------
    path : path
        ``cohort.csv`` (or its folder): written by ``npprob simulate``, or real
        patients' findings with the recorded label column.
    network : Network
    require_truth : bool, default=True
        Refuse a cohort without the target's ``true_`` column.

    Raises
    ------
    EvidenceError
        When the file lacks the recorded label (or, if required, the truth), or
        no patient has a recorded label of both classes.
    """
    from npprob.io.cohort import TRUTH_PREFIX, label_column, read_cohort_data

    data = read_cohort_data(path, network)
    if data.label is None or (require_truth and data.truth is None):
        needs = (
            f"the latent truth ({TRUTH_PREFIX}{network.target.name}) and " if require_truth else ""
        )
        raise EvidenceError(f"{data.path}: evaluation needs {needs}{label_column(network)}.")
    if data.truth is None:
        labels = set(np.unique(data.label[data.label >= 0]).tolist())
        if labels != {0, 1}:
            raise EvidenceError(
                f"{data.path}: {label_column(network)} must record patients of both classes "
                f"(0 and 1) to evaluate against it; found {sorted(labels) or 'none'}."
            )
    return data


def findings_matrix(network: Network, codes: np.ndarray):
    """One-hot recorded findings (a "not recorded" level per finding) for the fitted baselines."""
    from sklearn.preprocessing import OneHotEncoder

    observable = [j for j, v in enumerate(network.variables) if v.is_finding]
    categories = [list(range(-1, len(network.variables[j].states))) for j in observable]
    encoder = OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False)
    return encoder.fit_transform(np.asarray(codes)[:, observable])


def fit_baselines(network: Network, codes: np.ndarray, label: np.ndarray, seed: int = 0) -> dict:
    """Logistic regression and naive Bayes on the training cohort's findings and label."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB

    x = findings_matrix(network, codes)
    keep = np.asarray(label) >= 0
    y = np.asarray(label)[keep]
    return {
        "logistic_regression": LogisticRegression(max_iter=2000, random_state=seed).fit(x[keep], y),
        "naive_bayes": BernoulliNB().fit(x[keep], y),
    }


def _recalibrated(score: np.ndarray, label: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return cross_val_predict(
        LogisticRegression(), score[:, None], label, cv=folds, method="predict_proba"
    )[:, 1]


def evaluate_cohort(
    model,
    cohort: CohortData,
    tools: Mapping[str, ScreeningTool],
    fitted: Mapping[str, object],
    *,
    thresholds: Sequence[float] = (0.3, 0.5),
    seed: int = 0,
    hard_cases: Mapping[str, Sequence[str]] | None = None,
    bootstrap: int | None = None,
) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """Every number for one cohort, and the probabilities behind them.

    A cohort without the latent truth (``cohort.truth`` None) is scored against its
    recorded label only, over the patients who have one: ``methods`` then hold
    ``label`` metrics and ``label_ci`` (bootstrap intervals, see
    :func:`~npprob.evaluation.bootstrap.bootstrap_metrics`), and there are no
    coverage, subgroups or hard cases. ``bootstrap`` is the number of replicates
    (default: 1000 without the truth, none with it; 0 for none).

    Returns
    -------
    result : dict
        ``methods`` (per method: ``truth`` and ``label`` metrics, raw-score
        ``auc_raw`` for tools), ``coverage`` (per level: share of patients
        whose true P(neuropathic | findings) lies in npprob's central
        interval), ``coverage_prediction`` (the same for the prediction
        interval, for models with a between-population spread), ``subgroups`` (by aetiology: n, prevalence, AUC and ECE of
        npprob and DN4 against the truth), ``hard_cases`` (per group named in
        ``hard_cases``, plus the non-neuropathic patients the DN4 calls
        positive: sensitivity and false-positive rate of npprob at 0.5 and of
        DN4 at its cut-off), ``decision_curve``.
    probabilities : dict of str to ndarray
        Each method's probabilities (for plots).
    """
    from sklearn.metrics import roc_auc_score

    from npprob.evaluation.bootstrap import DEFAULT_REPLICATES, bootstrap_metrics

    has_truth = cohort.truth is not None
    if bootstrap is None:
        bootstrap = 0 if has_truth else DEFAULT_REPLICATES
    net = model.network
    codes = cohort.codes
    draws, weights = model.weighted_draws(EvidenceBatch(net, codes))
    p_npprob = weighted_mean(draws, weights)
    usable = np.isfinite(p_npprob)
    if not has_truth:
        usable &= cohort.label >= 0  # unlabelled patients cannot be scored
    reference = cohort.truth if has_truth else cohort.label
    probabilities: dict[str, np.ndarray] = {"npprob": p_npprob}
    x = findings_matrix(net, codes)
    for key, estimator in fitted.items():
        probabilities[key] = estimator.predict_proba(x)[:, 1]
    raw_auc = {}
    raw = score_all(net, codes, tools)
    labelled = cohort.label >= 0
    for key, (score, _) in raw.items():
        recalibrated = np.full(len(codes), np.nan)
        recalibrated[labelled] = _recalibrated(score[labelled], cohort.label[labelled], seed)
        probabilities[key] = recalibrated
        raw_auc[key] = float(roc_auc_score(reference[usable], score[usable]))
    methods: dict[str, object] = {}
    for key, p in probabilities.items():
        ok = usable & np.isfinite(p)
        entry: dict[str, object] = {}
        if has_truth:
            entry["truth"] = probability_metrics(cohort.truth[ok], p[ok], thresholds=thresholds)
        entry["label"] = probability_metrics(cohort.label[ok], p[ok], thresholds=thresholds)
        if bootstrap:
            entry["label_ci"] = bootstrap_metrics(
                cohort.label[ok], p[ok], replicates=bootstrap, seed=seed
            )
        if key in raw_auc:
            entry["auc_raw"] = raw_auc[key]
        methods[key] = entry
    result: dict[str, object] = {
        "cohort": cohort.name,
        "n": len(codes),
        "reference": "truth" if has_truth else "label",
        "n_zero_probability": int((~np.isfinite(p_npprob)).sum()),
        "n_unlabelled": int((~labelled).sum()),
        "prevalence_label": float(cohort.label[labelled].mean()),
        "methods": methods,
    }
    if has_truth:
        result["prevalence_truth"] = float(cohort.truth.mean())
    if cohort.p_true is not None:
        truth, w = cohort.p_true[usable], weights[:, usable]
        result["coverage"] = _coverage(draws[:, usable], w, truth)
        moved = model.prediction_draws(draws[:, usable], codes[usable])
        if moved is not None:
            # The same patients with the prediction interval: a population unlike
            # the studies (the between-study spread of the evidence fit).
            result["coverage_prediction"] = _coverage(moved, w, truth)
        result["mean_abs_error_vs_p_true"] = float(
            np.mean(np.abs(p_npprob[usable] - cohort.p_true[usable]))
        )
    if has_truth:
        result["subgroups"] = _subgroups(net, cohort, probabilities, usable)
        if hard_cases is not None:
            result["hard_cases"] = _hard_cases(net, cohort, p_npprob, usable, raw, hard_cases)
    y = reference[usable]
    result["decision_curve"] = {
        "reference": result["reference"],
        "thresholds": list(DECISION_THRESHOLDS),
        "treat_all": net_benefit(y, np.ones(len(y)), DECISION_THRESHOLDS).tolist(),
        **{
            key: net_benefit(y, p[usable], DECISION_THRESHOLDS).tolist()
            for key, p in probabilities.items()
            if np.isfinite(p[usable]).all()
        },
    }
    return result, probabilities


def _coverage(draws: np.ndarray, weights: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Share of patients whose central interval at each of COVERAGE_LEVELS holds the truth."""
    coverage = {}
    for level in COVERAGE_LEVELS:
        low, high = weighted_quantiles(draws, weights, [(1 - level) / 2, (1 + level) / 2])
        coverage[f"{level:g}"] = float(((truth >= low) & (truth <= high)).mean())
    return coverage


def _hard_cases(net, cohort, p_npprob, usable, raw, groups) -> dict[str, object]:
    """Screening errors where tools are known to fail, npprob at 0.5 against DN4 at its cut-off."""
    from sklearn.metrics import roc_auc_score

    states = net.variable("aetiology").states
    aetiology = cohort.codes[:, net.index("aetiology")]
    dn4_score, dn4_cutoff = raw.get("dn4", (None, None))
    rows_of = {
        name: np.isin(aetiology, [states.index(s) for s in causes]) & usable
        for name, causes in groups.items()
    }
    if dn4_score is not None:
        # Non-neuropathic patients the DN4 calls neuropathic: the screening false positives.
        rows_of[SCREEN_FALSE_POSITIVES] = (dn4_score >= dn4_cutoff) & (cohort.truth == 0) & usable
    out: dict[str, object] = {}
    for name, rows in rows_of.items():
        y = cohort.truth[rows]
        entry: dict[str, object] = {"n": int(rows.sum()), "n_neuropathic": int(y.sum())}
        calls = {"npprob": p_npprob[rows] >= 0.5}
        if dn4_score is not None:
            calls["dn4"] = dn4_score[rows] >= dn4_cutoff
        for key, called in calls.items():
            entry[key] = {
                "sensitivity": float(called[y == 1].mean()) if y.sum() else None,
                "false_positive_rate": float(called[y == 0].mean()) if (y == 0).any() else None,
                "true_positives": int(called[y == 1].sum()),
                "false_positives": int(called[y == 0].sum()),
            }
        both = 0 < y.sum() < len(y) and len(y) >= 20
        entry["npprob"]["auc"] = float(roc_auc_score(y, p_npprob[rows])) if both else None
        entry["npprob"]["mean_p_not_neuropathic"] = (
            float(p_npprob[rows][y == 0].mean()) if (y == 0).any() else None
        )
        out[name] = entry
    return out


def _subgroups(net, cohort, probabilities, usable) -> dict[str, object]:
    from sklearn.metrics import roc_auc_score

    from npprob.evaluation.metrics import expected_calibration_error

    states = net.variable("aetiology").states
    aetiology = cohort.codes[:, net.index("aetiology")]
    out = {}
    for k, state in enumerate(states):
        rows = (aetiology == k) & usable
        if rows.sum() < MIN_SUBGROUP:
            continue
        y = cohort.truth[rows]
        entry: dict[str, object] = {"n": int(rows.sum()), "prevalence": float(y.mean())}
        for key in ("npprob", "dn4"):
            p = probabilities[key][rows]
            both = 0 < y.sum() < len(y)
            entry[key] = {
                "auc": float(roc_auc_score(y, p)) if both else None,
                "ece": expected_calibration_error(y, p),
            }
        out[state] = entry
    return out


@dataclass(frozen=True)
class Evaluation:
    """Every number of an evaluation, and the probabilities behind the figures.

    Attributes
    ----------
    summary : dict
        ``model``, ``train_cohort``, ``thresholds``, ``cohorts`` (one result of
        :func:`evaluate_cohort` per cohort, with its card and, where they apply,
        the acceptance ``targets``) and ``misspecification``.
    probabilities, truths : dict
        Per cohort name, each method's probabilities and the outcome they are
        scored against: the latent truth, or the recorded label (-1 unlabelled)
        for a cohort without it (``summary`` says which, as ``reference``).
    """

    summary: dict
    probabilities: dict[str, dict[str, np.ndarray]]
    truths: dict[str, np.ndarray]

    def write(self, out_dir: str | os.PathLike[str], *, plots: bool = True) -> list[Path]:
        """``evaluation.json``, ``report.md`` and the figures (see :func:`write_report`)."""
        from npprob.evaluation.report import write_report

        return write_report(self.summary, self.probabilities, self.truths, out_dir, plots=plots)


def evaluate(
    model,
    cohorts: Sequence[str | os.PathLike[str]],
    train_cohort: str | os.PathLike[str] | None = None,
    *,
    thresholds: Sequence[float] = (0.3, 0.5),
    seed: int = 0,
    bootstrap: int | None = None,
    progress: Callable[[int], object] | None = None,
    mapper: Callable[[Callable[..., object], Sequence[tuple]], Iterable[object]] | None = None,
) -> Evaluation:
    """npprob against the bedside tools and baselines fitted on ``train_cohort``.

    Parameters
    ----------
    model : DiagnosticModel
    cohorts : sequence of path
        Held-out cohorts (their folders' names must differ: they name the
        results): written by ``npprob simulate`` (with the latent truth), or real
        patients' findings with the recorded label and no truth, which are scored
        against the label with bootstrap intervals.
    train_cohort : path, optional
        The cohort the logistic-regression and naive-Bayes baselines learn from
        (its recorded label); without it they are left out.
    thresholds : sequence of float, default=(0.3, 0.5)
        Probability thresholds for sensitivity and specificity, each in (0, 1).
    seed : int, default=0
        Seed of the cross-validated recalibration folds and of the bootstrap.
    bootstrap : int, optional
        Bootstrap replicates of the label metrics (default: 1000 for cohorts
        without the truth, none for the others; 0 for none).
    progress : callable, optional
        Called with the number of cohorts done.
    mapper : callable, optional
        How the cohorts are scored: ``mapper(function, arguments)`` yields
        ``function(*a)`` for each tuple ``a``, in order; each tuple's first item is
        ``model`` (default: one cohort after the other, here; ``npprob evaluate
        --scheduler`` scores them on a Dask cluster's workers, each loading the model
        itself). The numbers are the same either way.

    Returns
    -------
    Evaluation
    """
    from npprob.evaluation.baselines import load_hard_cases, load_tools
    from npprob.evaluation.report import check_targets, misspecification, targets_apply

    thresholds = tuple(thresholds)
    rule = Interval(float, 0.0, 1.0, closed="neither")
    for value in thresholds:
        check_parameters({"threshold": rule}, {"threshold": value})
    check_parameters({"seed": Interval(int, 0)}, {"seed": seed})
    if bootstrap is not None and bootstrap != 0:
        check_parameters({"bootstrap": Interval(int, 20)}, {"bootstrap": bootstrap})
    net = model.network
    tools, hard_cases = load_tools(net), load_hard_cases(net)
    fitted: dict = {}
    if train_cohort is not None:
        train = read_evaluation_cohort(train_cohort, net, require_truth=False)
        fitted = fit_baselines(net, train.codes, train.label, seed=seed)
    held_out = [read_evaluation_cohort(path, net, require_truth=False) for path in cohorts]
    names = [c.name for c in held_out]
    if len(set(names)) != len(names):
        raise ParameterError(
            f"Cohort names (their folders) must differ; got {names}.", parameter="cohort"
        )
    results, probabilities, outcomes = [], {}, {}
    options = {"thresholds": thresholds, "seed": seed, "hard_cases": hard_cases,
               "bootstrap": bootstrap}  # fmt: skip
    arguments = [(model, cohort, tools, fitted, options) for cohort in held_out]
    answers = (mapper or _local_map)(_evaluate_job, arguments)
    for cohort, (result, probs) in zip(held_out, answers, strict=True):
        result["card"] = cohort.card
        if cohort.truth is not None and targets_apply(cohort.card):
            result["targets"] = check_targets(result)
        results.append(result)
        probabilities[cohort.name] = probs
        outcomes[cohort.name] = cohort.truth if cohort.truth is not None else cohort.label
        if progress is not None:
            progress(len(results))
    summary = {
        "model": model.info(),
        "train_cohort": None if train_cohort is None else str(train_cohort),
        "thresholds": list(thresholds),
        "cohorts": results,
        "misspecification": misspecification(results),
    }
    evidence = evidence_checks(model.card)
    if evidence is not None:
        summary["evidence"] = evidence
    return Evaluation(summary, probabilities, outcomes)


def _evaluate_job(model, cohort, tools, fitted, options) -> tuple[dict, dict]:
    """:func:`evaluate_cohort` with its keyword options in one mapping (one task)."""
    return evaluate_cohort(model, cohort, tools, fitted, **options)


def _local_map(function: Callable[..., object], arguments: Sequence[tuple]) -> Iterable[object]:
    return (function(*a) for a in arguments)


def evidence_checks(card: Mapping[str, object] | None) -> dict[str, object] | None:
    """How well an evidence-synthesis model reproduces its published statistics.

    Read from the model card (the fit computed them from every posterior draw):
    each statistic's observed proportion against its posterior predictive 90 %
    interval (the model fitted with it) and its leave-one-publication-out
    interval (the model without its publication, by PSIS).

    Parameters
    ----------
    card : mapping or None
        A model card.

    Returns
    -------
    dict or None
        None unless the model was fitted with ``--likelihood evidence``; else
        ``coverage_90``, ``leave_one_publication_out`` and ``statistics``.
    """
    card = card or {}
    details = card.get("likelihood_details") or {}
    if card.get("likelihood") != "evidence" or not isinstance(details.get("statistics"), list):
        return None
    return {
        "n_statistics": details.get("n_statistics"),
        "n_publications": details.get("n_publications"),
        "coverage_90": details.get("coverage_90"),
        "leave_one_publication_out": details.get("leave_one_publication_out"),
        "statistics": details["statistics"],
    }
