"""``npprob train``: posterior draws of every CPT from a cohort, saved as a model folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npprob.learning.fit import SAMPLERS
from npprob.learning.train import LABELS, LIKELIHOODS


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``train`` subcommand."""
    p = sub.add_parser(
        "train",
        help="train the clinical network's parameters on a cohort or on published evidence",
        description=(
            "Posterior draws of every CPT from a cohort CSV (as written by npprob simulate), "
            "or with --likelihood evidence from published aggregate statistics (--evidence). "
            "Likelihoods: conjugate (latent truth present: exact posterior), pymc-complete (the "
            "same model by NUTS), pymc-marginal (recorded findings and a true label: lesion, "
            "mechanisms and missing findings summed out), latent-class (no gold standard: the "
            "class is summed out too; a noisy label enters with its error rates). PyMC fits "
            "must pass ArviZ diagnostics (r-hat <= 1.01, ESS >= 400, no divergences, no label "
            "switching) or nothing is written. Writes the model folder (--out, default "
            "./models/NAME under the working directory): draws.npz, posterior.nc, card.json "
            "and SHA256SUMS."
        ),
    )
    p.add_argument(
        "--cohort", type=Path, metavar="COHORT.csv",
        help="the training cohort (required except with --likelihood evidence)",
    )  # fmt: skip
    p.add_argument(
        "--evidence", type=Path, default=None, metavar="STATISTICS.toml",
        help="published statistics for --likelihood evidence (default: the shipped "
        "models/evidence/statistics.toml)",
    )  # fmt: skip
    p.add_argument("--name", required=True, help="model name (recorded in its card)")
    p.add_argument(
        "--out", type=Path, default=None, metavar="DIR",
        help="the model folder to write (default ./models/NAME under the working directory)",
    )  # fmt: skip
    p.add_argument(
        "--likelihood",
        choices=(*LIKELIHOODS, "evidence"),
        default="auto",
        help=(
            "auto (default): conjugate when the latent truth is in the file, else pymc-marginal "
            "for a true label and latent-class otherwise; evidence: published statistics "
            "instead of a cohort"
        ),
    )
    p.add_argument(
        "--label",
        choices=LABELS,
        default="auto",
        help=(
            "what the recorded label is, for pymc-marginal and latent-class: the truth, a noisy "
            "clinician call, or unused; auto (default) reads the cohort card (a NeuPSIG-grade "
            "label is a function of the findings and is not used)"
        ),
    )
    p.add_argument(
        "--chain-draws",
        type=int,
        default=1000,
        help="NUTS draws per chain before thinning to --draws (default 1000)",
    )
    p.add_argument("--draws", type=int, default=400, help="posterior draws kept (default 400)")
    p.add_argument("--tune", type=int, default=1000, help="NUTS tuning steps per chain")
    p.add_argument("--chains", type=int, default=4, help="NUTS chains (default 4)")
    p.add_argument("--target-accept", type=float, default=0.9, help="NUTS target acceptance")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--sampler", choices=SAMPLERS, default="pymc",
        help="NUTS for the PyMC model: PyMC's own (default), nutpie, or nutpie with the model "
        "compiled by JAX (nutpie-jax; fastest for --likelihood evidence); nutpie needs "
        "pip install 'npprob[fast]'",
    )  # fmt: skip
    p.add_argument(
        "--models-dir", type=Path, default=None,
        help="write DIR/NAME instead of ./models/NAME (ignored with --out)",
    )  # fmt: skip
    p.add_argument(
        "--prior", default=None, metavar="MODEL",
        help="start from a trained model instead of the specification's prior (fine-tuning): "
        "its draws become a Dirichlet prior per CPT row by moment matching; a model name or "
        "folder, as for diagnose (default: the specification's prior)",
    )  # fmt: skip
    p.add_argument(
        "--prior-weight", type=float, default=1.0, metavar="W",
        help="with --prior: share in [0, 1] of what the model learned over the specification "
        "that the fit starts from (a power prior; default 1)",
    )  # fmt: skip
    p.add_argument("--no-netcdf", action="store_true", help="skip the ArviZ netCDF file")
    p.add_argument(
        "--no-progress", action="store_true",
        help="no time estimate and no progress bar (the bar is shown only on a terminal)",
    )  # fmt: skip
    p.add_argument(
        "--exploratory", action="store_true",
        help="write the model even when the diagnostics fail; its card says "
        "\"passed\": false and npprob diagnose refuses it unless --allow-unconverged",
    )  # fmt: skip
    p.add_argument(
        "--min-ess", type=float, default=None, metavar="N",
        help="write the model when bulk and tail ESS reach N (and r-hat and divergences "
        "pass) although below 400; written as an exploratory model, like --exploratory",
    )  # fmt: skip
    p.add_argument(
        "--replace-shipped", action="store_true",
        help="allow replacing a model shipped with npprob (models/default in a checkout)",
    )  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob train``."""
    from npprob._extras import EXTRAS, require

    # Before anything is read or sampled; h5netcdf writes only the netCDF file.
    needed = [m for m in EXTRAS["train"] if not (args.no_netcdf and m == "h5netcdf")]
    require("train", "npprob train", modules=needed)
    from npprob.errors import ParameterError
    from npprob.io.artifacts import ModelFolder
    from npprob.io.cohort import read_cohort_data
    from npprob.io.resources import clinical_spec
    from npprob.learning import TrainConfig, train

    if args.min_ess is not None and not 1 <= args.min_ess <= 400:
        raise ParameterError(f"--min-ess must be in [1, 400]; got {args.min_ess:g}.")
    config = TrainConfig(
        name=ModelFolder.check_name(args.name), label=args.label, draws=args.draws,
        chain_draws=args.chain_draws, tune=args.tune, chains=args.chains,
        target_accept=args.target_accept, seed=args.seed, nuts_sampler=args.sampler,
        progress=False if args.no_progress else None,
    )  # fmt: skip
    out = args.out or (args.models_dir or Path("models")) / args.name
    ModelFolder(out).check_replaceable(replace_shipped=args.replace_shipped)
    from npprob.io.outputs import check_output_folder

    check_output_folder(out.parent, parameter="out")  # before a fit of many minutes
    spec = clinical_spec()
    prior = None
    if args.prior is not None:
        from npprob.learning.prior import fine_tuning_spec

        spec, prior = fine_tuning_spec(spec, args.prior, args.prior_weight)
    elif args.prior_weight != 1.0:
        raise ParameterError("--prior-weight needs --prior MODEL.", parameter="prior_weight")
    if args.likelihood == "evidence":
        if args.cohort is not None:
            raise ParameterError(
                "--likelihood evidence learns from published statistics (--evidence), not "
                "from a cohort: leave out --cohort.",
                parameter="cohort",
            )
        trained = _train_evidence(spec, args.evidence, config, prior)
    else:
        if args.cohort is None:
            raise ParameterError(
                f"--likelihood {args.likelihood} needs --cohort.", parameter="cohort"
            )
        if args.evidence is not None:
            raise ParameterError(
                "--evidence is read by --likelihood evidence only.", parameter="evidence"
            )
        cohort = read_cohort_data(args.cohort, spec.network)
        trained = train(spec, cohort, likelihood=args.likelihood, config=config, prior=prior)
    exploratory = False
    if not trained.ok:
        for problem in trained.problems:
            print(f"npprob train: diagnostics failed: {problem}", file=sys.stderr)
        report = trained.fit.diagnostics
        gate = args.exploratory or (
            args.min_ess is not None and report.passes(min_ess=args.min_ess)
        )
        if not gate:
            hint = "" if args.min_ess is not None else " (--exploratory writes it anyway)"
            print(f"npprob train: no model written{hint}.", file=sys.stderr)
            return 1
        trained.mark_exploratory(min_ess=args.min_ess)
        exploratory = True
    trained.save(out, netcdf=not args.no_netcdf, replace_shipped=args.replace_shipped,
                 failed=exploratory)  # fmt: skip
    kind = " (exploratory: npprob diagnose needs --allow-unconverged)" if exploratory else ""
    print(f"wrote {out}: {trained.n_draws} draws, likelihood {trained.likelihood}{kind}")
    return 0


def _train_evidence(spec, path: Path | None, config, prior=None):
    from npprob.io.evidence import read_statistics
    from npprob.io.resources import evidence_path
    from npprob.io.screening import load_tools
    from npprob.learning import train_evidence

    path = path if path is not None else evidence_path()
    statistics = read_statistics(spec.network, path, counts=True)
    return train_evidence(
        spec, statistics, load_tools(spec.network), config, evidence_path=path, prior=prior
    )
