"""``npprob simulate``: a synthetic cohort with known truth, written with its data card."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from npprob.cli._dask import add_scheduler_arguments, check_scheduler_arguments

#: Patients per partition with --scheduler and no --partition-size.
DEFAULT_PARTITION_SIZE = 10_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``simulate`` subcommand."""
    p = sub.add_parser(
        "simulate",
        help="simulate a cohort with known truth from the clinical network",
        description=(
            "Draw patients with chronic pain from the clinical network in a clinical setting, "
            "with optional missing findings, a correlated reporting trait and a noisy label; "
            "store the latent truth and the true P(neuropathic | recorded findings). Writes "
            "cohort.csv (and cohort.parquet with pyarrow) and card.json."
        ),
    )
    p.add_argument("--setting", default="consecutive_pain_clinic", help="clinical setting name")
    p.add_argument("--n", type=int, default=10_000, help="number of patients (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="output folder (default data/synthetic/SETTING-nN-seedS)",
    )
    p.add_argument("--mcar", type=float, default=0.0, help="P(each finding missing) (default 0)")
    p.add_argument(
        "--mar",
        action="store_true",
        help="confirmatory test done mostly when suspicion is high (default off)",
    )
    p.add_argument(
        "--reporting-trait",
        type=float,
        default=0.0,
        metavar="STRENGTH",
        help="strength of a shared symptom-reporting trait, 0-1 (default 0: off)",
    )
    p.add_argument(
        "--label",
        choices=("truth", "clinician", "neupsig"),
        default="truth",
        help="recorded label: latent truth, noisy clinician call, or NeuPSIG grade (default truth)",
    )
    p.add_argument(
        "--agreement",
        type=float,
        default=0.785,
        help="inter-clinician agreement for --label clinician (default 0.785, published 78-79%%)",
    )
    p.add_argument(
        "--truth",
        choices=("literature", "prior", "posterior"),
        default="literature",
        help="truth parameters: literature values, one prior draw, or one posterior draw of "
        "--truth-model (default literature)",
    )
    p.add_argument(
        "--record", default=None, metavar="NAME[,NAME...]",
        help="record only these findings (comma-separated); e.g. the condition and the ten "
        "DN4 items, as --generator latent-trait records, for its matched cohort (default: "
        "every finding a clinic records)",
    )  # fmt: skip
    p.add_argument(
        "--truth-model", default=None, metavar="MODEL",
        help="with --truth posterior: the trained model whose draw (number SEED modulo its "
        "draws) is the truth (default: the shipped default model)",
    )  # fmt: skip
    p.add_argument(
        "--generator", choices=("network", "latent-trait"), default="network",
        help="network (default): the clinical network; latent-trait: a generator with another "
        "structure (a latent class and a reporting trait, models/latent_trait_generator.toml) "
        "that records the condition and the ten DN4 items, for evaluation under "
        "misspecification (with --setting, --n, --seed, --mcar, --label truth|clinician)",
    )  # fmt: skip
    p.add_argument("--parquet", action=argparse.BooleanOptionalAction, default=None,
                   help="also write Parquet (default: when pyarrow is installed)")  # fmt: skip
    p.add_argument(
        "--partition-size", type=_positive, default=None, metavar="N",
        help="draw the cohort in partitions of N patients, each from its own seed derived from "
        "--seed and its index, and join them in order: the same seed and N give the same "
        "cohort here or on a cluster (--scheduler); without it (and --scheduler) the cohort "
        "is drawn in one piece, as before (another cohort for the same seed)",
    )  # fmt: skip
    add_scheduler_arguments(
        p, f"the partitions (--partition-size, default {DEFAULT_PARTITION_SIZE:,} with it)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob simulate``."""
    from npprob.cli._output import ProgressBar
    from npprob.cohorts import SimulationOptions, get_setting, load_settings, simulate, write_cohort
    from npprob.io.outputs import check_output_folder
    from npprob.io.resources import clinical_spec

    if args.generator == "latent-trait" and (args.partition_size or args.scheduler):
        from npprob.errors import ParameterError

        flag = "--scheduler" if args.scheduler else "--partition-size"
        raise ParameterError(
            f"{flag}: the latent-trait generator draws its cohort in one piece (no engine "
            "pass; it is fast); partitions are for --generator network.",
            parameter="scheduler" if args.scheduler else "partition_size",
        )
    check_scheduler_arguments(args, "npprob simulate")
    spec = clinical_spec()
    setting = get_setting(load_settings(spec.network), args.setting)
    if args.generator == "latent-trait":
        return _run_latent_trait(args, spec.network, setting)
    options = SimulationOptions(
        mcar=args.mcar,
        mar=args.mar,
        reporting_trait=args.reporting_trait,
        label=args.label,
        agreement=args.agreement,
        truth=args.truth,
        record=None if args.record is None else tuple(args.record.split(",")),
    )
    truth_cpts, truth_model = _posterior_truth(args, spec)
    out_dir = args.out_dir or Path("data/synthetic") / f"{args.setting}-n{args.n}-seed{args.seed}"
    check_output_folder(out_dir)
    partition_size = args.partition_size
    if partition_size is None and args.scheduler is not None:
        partition_size = DEFAULT_PARTITION_SIZE
    bar = ProgressBar(args.n, unit="patients", disable=args.no_progress or args.n < 50_000)
    with ExitStack() as stack:
        mapper = None
        if args.scheduler is not None:
            from npprob.cli._dask import connect
            from npprob.cli._dask import mapper as dask_mapper

            mapper = dask_mapper(stack.enter_context(connect(args.scheduler, args.workers)))
        cohort = simulate(
            spec, setting, args.n, args.seed, options, truth_cpts=truth_cpts, progress=bar,
            partition_size=partition_size, mapper=mapper,
        )  # fmt: skip
    bar.close()
    card = write_cohort(cohort, out_dir, parquet=args.parquet, extra_card=truth_model)
    print(
        f"wrote {out_dir}/cohort.csv: {cohort.n} patients, setting {setting.name}, "
        f"P(neuropathic) {card['prevalence_true']:.3f} (expected {setting.expected_prevalence[0]:.2f}"
        f"-{setting.expected_prevalence[1]:.2f}), label {options.label}"
    )
    return 0


def _run_latent_trait(args: argparse.Namespace, network, setting) -> int:
    from npprob.cohorts import SimulationOptions
    from npprob.cohorts.latent_trait import simulate_latent_trait
    from npprob.errors import ParameterError
    from npprob.io.cohort import write_cohort_data

    default = SimulationOptions()
    unused = {
        "mar": args.mar != default.mar,
        "reporting_trait": args.reporting_trait != default.reporting_trait,
        "agreement": args.agreement != default.agreement,
        "truth": args.truth != default.truth,
        "record": args.record is not None,
        "truth_model": args.truth_model is not None,
        "label": args.label == "neupsig",
    }
    for name, given in unused.items():
        if given:
            flag = "--label neupsig" if name == "label" else "--" + name.replace("_", "-")
            raise ParameterError(
                f"{flag} has no meaning for --generator latent-trait (its trait and label "
                "error are in models/latent_trait_generator.toml; labels: truth or clinician).",
                parameter=name,
            )
    out_dir = args.out_dir or Path("data/synthetic") / (
        f"{args.setting}-latent-trait-n{args.n}-seed{args.seed}"
    )
    from npprob.io.outputs import check_output_folder

    check_output_folder(out_dir)
    data = simulate_latent_trait(
        network, setting, args.n, args.seed, mcar=args.mcar, label=args.label
    )
    card = write_cohort_data(data, out_dir, card=data.card, parquet=args.parquet)
    print(
        f"wrote {out_dir}/cohort.csv: {data.n} patients, latent-trait generator, setting "
        f"{setting.name}, P(neuropathic) {card['prevalence_true']:.3f}, label {args.label}"
    )
    return 0


def _posterior_truth(args: argparse.Namespace, spec):
    """The truth CPTs and their card entry for ``--truth posterior``; (None, None) otherwise."""
    from npprob.errors import ParameterError

    if args.truth != "posterior":
        if args.truth_model is not None:
            raise ParameterError("--truth-model needs --truth posterior.", parameter="truth_model")
        return None, None
    from npprob.diagnosis.model import DEFAULT_MODEL
    from npprob.io.artifacts import ModelFolder

    folder = ModelFolder.find(args.truth_model or DEFAULT_MODEL)
    draws, card = folder.load(spec)  # checksums verified; refuses another specification
    n_draws = next(iter(draws.values())).shape[0]
    index = args.seed % n_draws
    name = str(card.get("name", folder.name))
    entry = {"truth_model": {"name": name, "draw": index, "n_draws": n_draws}}
    return {k: np.asarray(v[index]) for k, v in draws.items()}, entry


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value
