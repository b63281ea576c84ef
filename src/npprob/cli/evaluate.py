"""``npprob evaluate``: npprob against the bedside tools and fitted baselines on held-out cohorts."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``evaluate`` subcommand."""
    p = sub.add_parser(
        "evaluate",
        help="evaluate a model on held-out cohorts against bedside tools and baselines",
        description=(
            "Score held-out cohorts (CSV files written by npprob simulate, with the latent "
            "truth) with npprob, DN4, DN4 interview, a LANSS-style score, ID Pain, the NeuPSIG "
            "grade, and logistic regression and naive Bayes fitted on --train-cohort. Writes "
            "evaluation.json, report.md and PNG figures to --out-dir."
        ),
    )
    p.add_argument(
        "--cohort", type=Path, action="append", required=True, metavar="COHORT.csv",
        help="held-out cohort (repeat for several)",
    )  # fmt: skip
    p.add_argument(
        "--train-cohort", type=Path, required=True, metavar="TRAIN.csv",
        help="cohort the fitted baselines learn from (the model's training cohort)",
    )  # fmt: skip
    p.add_argument("--model", default=None, help="model name or folder (default: default)")
    p.add_argument(
        "--out-dir", type=Path, default=Path("reports/evaluation"),
        help="output folder (default reports/evaluation)",
    )  # fmt: skip
    p.add_argument(
        "--threshold", type=float, action="append", default=None,
        help="probability threshold for sensitivity/specificity (repeat; default 0.3 and 0.5)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the cross-validation folds")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob evaluate``."""
    from npprob.cli._output import ProgressBar
    from npprob.diagnosis import load_model
    from npprob.errors import EvidenceError
    from npprob.evaluation.baselines import load_hard_cases, load_tools
    from npprob.evaluation.evaluate import evaluate_cohort, fit_baselines, read_evaluation_cohort
    from npprob.evaluation.report import (
        check_targets,
        misspecification,
        targets_apply,
        write_report,
    )

    thresholds = tuple(args.threshold or (0.3, 0.5))
    if any(not 0.0 < t < 1.0 for t in thresholds):
        raise EvidenceError("--threshold values must lie strictly between 0 and 1.")
    model = load_model(args.model)
    net = model.network
    tools = load_tools(net)
    hard_cases = load_hard_cases(net)
    train = read_evaluation_cohort(args.train_cohort, net)
    fitted = fit_baselines(net, train.codes, train.label, seed=args.seed)
    cohorts = [read_evaluation_cohort(path, net) for path in args.cohort]
    names = [c.name for c in cohorts]
    if len(set(names)) != len(names):
        raise EvidenceError(f"Cohort names (their folders) must differ; got {names}.")
    results, probabilities, truths = [], {}, {}
    bar = ProgressBar(len(cohorts), unit="cohorts", disable=args.no_progress)
    for cohort in cohorts:
        result, probs = evaluate_cohort(
            model, cohort, tools, fitted, thresholds=thresholds, seed=args.seed,
            hard_cases=hard_cases,
        )  # fmt: skip
        result["card"] = cohort.card
        if targets_apply(cohort.card):
            result["targets"] = check_targets(result)
        results.append(result)
        probabilities[cohort.name], truths[cohort.name] = probs, cohort.truth
        bar(len(results))
    bar.close()
    summary = {
        "model": model.info(),
        "train_cohort": str(args.train_cohort),
        "thresholds": list(thresholds),
        "cohorts": results,
        "misspecification": misspecification(results),
    }
    written = write_report(summary, probabilities, truths, args.out_dir, plots=not args.no_plots)
    for result in results:
        m = result["methods"]
        line = (
            f"{result['cohort']}: npprob AUC {m['npprob']['truth']['auc']:.3f}, "
            f"ECE {m['npprob']['truth']['ece']:.3f}; DN4 AUC {m['dn4']['auc_raw']:.3f}; "
            f"logistic regression AUC {m['logistic_regression']['truth']['auc']:.3f}"
        )
        if "coverage" in result:
            line += f"; 90% interval coverage {result['coverage']['0.9']:.3f}"
        print(line)
        missed = [k for k, c in result.get("targets", {}).items() if not c["met"]]
        if "targets" in result:
            print(f"  targets missed: {', '.join(missed)}" if missed else "  all targets met")
    print(f"wrote {', '.join(str(p) for p in written[:1] + written[-1:])}")
    return 0
