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
            "With the latent truth present (complete, labelled data) the exact conjugate "
            "posterior is used, or a PyMC fit of the same model with --likelihood pymc-complete "
            "(ArviZ diagnostics enforced). Writes models/NAME/: draws.npz, posterior.nc, "
            "card.json and SHA256SUMS."
        ),
    )
    p.add_argument("--cohort", required=True, type=Path, metavar="COHORT.csv")
    p.add_argument("--name", required=True, help="model name (folder under --models-dir)")
    p.add_argument(
        "--likelihood",
        choices=("auto", "conjugate", "pymc-complete"),
        default="auto",
        help="auto: conjugate when the data are complete (default)",
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

    if args.draws < 1 or args.chains < 1 or args.tune < 0:
        raise EvidenceError("--draws and --chains must be at least 1 and --tune at least 0.")
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
    if not complete:
        raise EvidenceError(
            "The cohort lacks the latent truth (true_* columns): complete-data training needs "
            "it, and the latent-class likelihood for unlabelled data is not available yet."
        )
    counts = family_counts(spec.network, codes)
    likelihood = "conjugate" if args.likelihood == "auto" else args.likelihood
    if likelihood == "conjugate":
        fit = fit_conjugate(spec, counts, args.draws, args.seed)
    else:
        # Enough draws per chain for the r-hat and ESS rules; thinned to --draws below.
        per_chain = max(1000, -(-args.draws // args.chains))
        config = SamplerConfig(
            draws=per_chain, tune=args.tune, chains=args.chains, cores=min(args.chains, 2),
            target_accept=args.target_accept, seed=args.seed,
        )  # fmt: skip
        fit = fit_pymc_complete(spec, counts, config)
        if not fit.diagnostics.ok:
            for problem in fit.diagnostics.problems:
                print(f"npprob train: diagnostics failed: {problem}", file=sys.stderr)
            print("npprob train: no model written.", file=sys.stderr)
            return 1
        total = next(iter(fit.draws.values())).shape[0]
        keep = np.unique(np.linspace(0, total - 1, min(args.draws, total)).round().astype(int))
        fit.draws = {k: v[keep] for k, v in fit.draws.items()}
    # Every cohort patient has chronic pain: the learned CPTs describe people in pain.
    selection = {"chronic_pain": "present"}
    fit.draws = fix_selection(spec, fit.draws, selection)
    card = {
        "name": args.name,
        "kind": "posterior",
        "likelihood": fit.likelihood,
        "n_draws": int(next(iter(fit.draws.values())).shape[0]),
        "seed": args.seed,
        "training_cohort": {"path": str(args.cohort), "n": len(codes), "card": cohort_card},
        "diagnostics": fit.diagnostics.to_dict() if fit.diagnostics else None,
        "seconds": {"fit": fit.seconds, "total": time.perf_counter() - t0},
        "spec_sha256": spec.digest,
        "selection": selection,
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


def _versions(npprob_version: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "npprob": npprob_version}
    for pkg in ("numpy", "numba", "pymc", "arviz", "pytensor", "xarray"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
