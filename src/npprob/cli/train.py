"""``npprob train``: posterior draws of every CPT from a cohort, saved as a model folder."""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``train`` subcommand."""
    p = sub.add_parser(
        "train",
        help="train the clinical network's parameters on a cohort",
        description=(
            "Posterior draws of every CPT from a cohort CSV (as written by npprob simulate). "
            "Likelihoods: conjugate (latent truth present: exact posterior), pymc-complete (the "
            "same model by NUTS), pymc-marginal (recorded findings and a true label: lesion, "
            "mechanisms and missing findings summed out), latent-class (no gold standard: the "
            "class is summed out too; a noisy label enters with its error rates). PyMC fits "
            "must pass ArviZ diagnostics (r-hat <= 1.01, ESS >= 400, no divergences, no label "
            "switching) or nothing is written. Writes models/NAME/: draws.npz, posterior.nc, "
            "card.json and SHA256SUMS."
        ),
    )
    p.add_argument("--cohort", required=True, type=Path, metavar="COHORT.csv")
    p.add_argument("--name", required=True, help="model name (folder under --models-dir)")
    p.add_argument(
        "--likelihood",
        choices=("auto", "conjugate", "pymc-complete", "pymc-marginal", "latent-class"),
        default="auto",
        help=(
            "auto (default): conjugate when the latent truth is in the file, else pymc-marginal "
            "for a true label and latent-class otherwise"
        ),
    )
    p.add_argument(
        "--label",
        choices=("auto", "truth", "noisy", "none"),
        default="auto",
        help=(
            "what label_neuropathic is, for pymc-marginal and latent-class: the truth, a noisy "
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
    p.add_argument("--models-dir", type=Path, default=None, help="where model folders live")
    p.add_argument("--no-netcdf", action="store_true", help="skip the ArviZ netCDF file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob train``."""
    import numpy as np

    from npprob import __version__
    from npprob.cohorts import read_cohort
    from npprob.errors import EvidenceError
    from npprob.io.artifacts import write_model_dir
    from npprob.io.resources import clinical_spec_path, models_dir
    from npprob.learning import (
        SamplerConfig,
        family_counts,
        fit_conjugate,
        fit_pymc_complete,
        fix_selection,
    )
    from npprob.network.spec import load_spec

    if args.draws < 1 or args.chains < 1 or args.chain_draws < 1 or args.tune < 0:
        raise EvidenceError(
            "--draws, --chain-draws and --chains must be at least 1 and --tune at least 0."
        )
    if not args.name or "/" in args.name or args.name in ("prior", ".", ".."):
        raise EvidenceError(f"Invalid model name {args.name!r}.")
    root = args.models_dir or models_dir()
    out = root / args.name
    if out.exists() and not (out / "SHA256SUMS").is_file():
        raise EvidenceError(f"'{out}' exists and is not a model folder; choose another --name.")
    spec = load_spec(clinical_spec_path())
    t0 = time.perf_counter()
    codes, cohort_card = read_cohort(args.cohort, spec.network)
    latent = [i for i, v in enumerate(spec.network.variables) if v.role == "latent"]
    complete = bool((codes[:, latent] >= 0).all())
    likelihood = args.likelihood
    label_kind = _label_kind(args.label, cohort_card)
    if likelihood == "auto":
        if complete:
            likelihood = "conjugate"
        else:
            likelihood = "pymc-marginal" if label_kind == "truth" else "latent-class"
    if likelihood in ("conjugate", "pymc-complete") and not complete:
        raise EvidenceError(
            f"--likelihood {likelihood} needs the latent truth (true_* columns), which the "
            "cohort lacks; use pymc-marginal (true label) or latent-class."
        )
    config = SamplerConfig(
        draws=max(args.chain_draws, -(-args.draws // args.chains)), tune=args.tune,
        chains=args.chains, cores=min(args.chains, 2), target_accept=args.target_accept,
        seed=args.seed,
    )  # fmt: skip
    selection = {"chronic_pain": "present"}
    if likelihood == "conjugate":
        fit = fit_conjugate(spec, family_counts(spec.network, codes), args.draws, args.seed)
    elif likelihood == "pymc-complete":
        fit = fit_pymc_complete(spec, family_counts(spec.network, codes), config)
    else:
        _check_selection(cohort_card)
        fit = _fit_marginal(args, spec, likelihood, label_kind, selection, config)
    if fit.diagnostics is not None and not fit.diagnostics.ok:
        for problem in fit.diagnostics.problems:
            print(f"npprob train: diagnostics failed: {problem}", file=sys.stderr)
        print("npprob train: no model written.", file=sys.stderr)
        return 1
    total = next(iter(fit.draws.values())).shape[0]
    if total > args.draws:
        keep = np.unique(np.linspace(0, total - 1, args.draws).round().astype(int))
        fit.draws = {k: v[keep] for k, v in fit.draws.items()}
    if likelihood in ("conjugate", "pymc-complete"):
        # Every cohort patient has chronic pain: the learned CPTs describe people in pain.
        fit.draws = fix_selection(spec, fit.draws, selection)
        selection_note = {**selection, "handled_by": "fixed in the trained CPTs"}
    else:
        selection_note = {**selection, "handled_by": "conditioned on in the likelihood"}
    card = {
        "name": args.name,
        "kind": "posterior",
        "likelihood": fit.likelihood,
        "n_draws": int(next(iter(fit.draws.values())).shape[0]),
        "seed": args.seed,
        "training_cohort": {"path": str(args.cohort), "n": len(codes), "card": cohort_card},
        "label": label_kind if likelihood in ("pymc-marginal", "latent-class") else None,
        "diagnostics": fit.diagnostics.to_dict() if fit.diagnostics else None,
        "seconds": {"fit": fit.seconds, "total": time.perf_counter() - t0},
        "spec_sha256": spec.digest,
        "selection": selection_note,
        "likelihood_details": fit.summary or None,
        "versions": _versions(__version__),
    }
    root.mkdir(parents=True, exist_ok=True)
    # Build the folder under a temporary name and swap it in: a failure leaves nothing half-written.
    staging = Path(tempfile.mkdtemp(prefix=f".{args.name}.", dir=root))
    staging.chmod(0o755)
    try:
        extra = []
        if not args.no_netcdf:
            from npprob.learning import _arviz_compat as compat

            compat.write_netcdf(compat.to_inference_data(fit.draws), staging / "posterior.nc")
            extra.append("posterior.nc")
        write_model_dir(staging, {k: np.asarray(v) for k, v in fit.draws.items()}, card, extra)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"wrote {out}: {card['n_draws']} draws, likelihood {fit.likelihood}")
    return 0


def _label_kind(requested: str, cohort_card: dict | None) -> str:
    """What the recorded label is: truth, noisy or none."""
    if requested != "auto":
        return requested
    recorded = ((cohort_card or {}).get("options") or {}).get("label")
    return {"truth": "truth", "clinician": "noisy", "neupsig": "none"}.get(recorded, "noisy")


def _check_selection(cohort_card: dict | None) -> None:
    """Refuse cohorts sampled on latent variables (case-control): the likelihood cannot model it."""
    from npprob.errors import EvidenceError

    setting = (cohort_card or {}).get("setting") or {}
    for group in setting.get("groups", []):
        if group.get("require"):
            raise EvidenceError(
                f"The cohort's setting '{setting.get('name')}' samples its groups on "
                f"{sorted(group['require'])}: a case-control selection on latent variables, "
                "which the marginal likelihood does not model. Train with the latent truth "
                "(--likelihood conjugate) or on a consecutive or condition-specific cohort."
            )


def _fit_marginal(args, spec, likelihood, label_kind, selection, config):
    """pymc-marginal or latent-class on the recorded findings (the truth columns unused)."""
    from npprob.cohorts import read_cohort, read_label
    from npprob.cohorts.settings import clinician_accuracy, load_reference_standard
    from npprob.errors import EvidenceError
    from npprob.learning import fit_pymc_marginal
    from npprob.learning.marginal import LabelModel

    net = spec.network
    codes, _ = read_cohort(args.cohort, net, truth=False)
    label = read_label(args.cohort)
    label_model = None
    if likelihood == "pymc-marginal":
        if label is None or label_kind != "truth":
            raise EvidenceError(
                "--likelihood pymc-marginal needs a true label (label_neuropathic with --label "
                "truth); use latent-class for a noisy or missing label."
            )
        codes[:, net.index("neuropathic")] = label
        label = None
    elif label_kind == "truth":
        raise EvidenceError(
            "A true label makes the class observed: use --likelihood pymc-marginal."
        )
    elif label_kind == "noisy" and label is not None:
        reference = load_reference_standard()
        accuracy = clinician_accuracy(float(reference["agreement"]))
        label_model = LabelModel.from_accuracy(
            "neuropathic", accuracy, float(reference["label_prior_ess"]), str(reference["source"])
        )
    else:
        label = None
    return fit_pymc_marginal(
        spec, codes, label=label, label_model=label_model, selection=selection, config=config
    )


def _versions(npprob_version: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "npprob": npprob_version}
    for pkg in ("numpy", "numba", "pymc", "arviz", "pytensor", "xarray"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
