"""``npprob evaluate``: npprob against the bedside tools and fitted baselines on held-out cohorts."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

from npprob.cli._dask import add_scheduler_arguments, check_scheduler_arguments
from npprob.cli._patient import add_unconverged_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``evaluate`` subcommand."""
    p = sub.add_parser(
        "evaluate",
        help="evaluate a model on held-out cohorts against bedside tools and baselines",
        description=(
            "Score held-out cohorts with npprob, DN4, DN4 interview, a LANSS-style score, ID "
            "Pain, the NeuPSIG grade, and (with --train-cohort) logistic regression and naive "
            "Bayes fitted on it. A cohort written by npprob simulate is scored against its "
            "latent truth and its recorded label; a cohort of real patients (findings and the "
            "recorded label, no truth) against the label, every metric with a stratified "
            "bootstrap 95%% interval. Writes evaluation.json, report.md and figures (PNG and "
            "SVG) to --out-dir."
        ),
    )
    p.add_argument(
        "--cohort", type=Path, action="append", required=True, metavar="COHORT.csv",
        help="held-out cohort (repeat for several)",
    )  # fmt: skip
    p.add_argument(
        "--train-cohort", type=Path, default=None, metavar="TRAIN.csv",
        help="cohort the fitted baselines learn from, by its recorded label (the model's "
        "training cohort); without it logistic regression and naive Bayes are left out",
    )  # fmt: skip
    p.add_argument("--model", default=None, help="model name or folder (default: default)")
    add_unconverged_option(p)
    p.add_argument(
        "--out-dir", type=Path, default=Path("reports/evaluation"),
        help="output folder (default reports/evaluation)",
    )  # fmt: skip
    p.add_argument(
        "--threshold", type=float, action="append", default=None,
        help="probability threshold for sensitivity/specificity (repeat; default 0.3 and 0.5)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the cross-validation folds and the bootstrap"
    )
    p.add_argument(
        "--bootstrap", type=int, default=None, metavar="N",
        help="bootstrap replicates of the metrics against the recorded label (default 1000 "
        "for cohorts without the latent truth, none for the others; 0 for none)",
    )  # fmt: skip
    add_scheduler_arguments(p, "the cohorts (one task each: a misspecification sweep)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob evaluate``."""
    from npprob._extras import require

    # Before the model is loaded and the cohorts answered; matplotlib draws the figures only.
    require(
        "evaluate", "npprob evaluate", modules=["sklearn"] + ["matplotlib"] * (not args.no_plots)
    )
    check_scheduler_arguments(args, "npprob evaluate")
    from npprob.cli._output import ProgressBar, format_evaluation
    from npprob.diagnosis import load_model
    from npprob.evaluation.evaluate import evaluate

    model = load_model(args.model, allow_unconverged=args.allow_unconverged)
    bar = ProgressBar(len(args.cohort), unit="cohorts", disable=args.no_progress)
    with ExitStack() as stack:
        mapper = None
        if args.scheduler is not None:
            from npprob.cli._dask import ModelRef, connect, model_mapper

            client = stack.enter_context(connect(args.scheduler, args.workers))
            ref = ModelRef.of(model, args.model, None, args.allow_unconverged)
            mapper = model_mapper(client, model, ref)
        evaluation = evaluate(
            model, args.cohort, args.train_cohort, thresholds=args.threshold or (0.3, 0.5),
            seed=args.seed, bootstrap=args.bootstrap, progress=bar, mapper=mapper,
        )  # fmt: skip
    bar.close()
    written = evaluation.write(args.out_dir, plots=not args.no_plots)
    print(format_evaluation(evaluation.summary), end="")
    print(f"wrote {', '.join(str(p) for p in written[:1] + written[-1:])}")
    return 0
