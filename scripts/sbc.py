"""Simulation-based calibration of a training path (conjugate, pymc-complete, pymc-marginal).

Writes ``reports/sbc/sbc_<path>.json`` (summary, uniformity tests, settings and,
for the PyMC paths, every replication's sampler diagnostics) and
``reports/sbc/sbc_<path>_ecdf.png`` (ECDF of the ranks minus the uniform ECDF
for every parameter, with a 99 % simultaneous band for one parameter). The
conjugate path also writes them as ``sbc.json`` and ``sbc_ecdf.png``.

The conjugate path runs on the clinical specification; the PyMC paths, whose
every replication runs NUTS, on the small latent-class network of
``npprob.evaluation.sbc.small_spec`` (``--spec`` chooses another TOML file).

``--scheduler local|ADDRESS`` runs the replications as tasks of a Dask cluster (a
local one of ``--workers`` processes, or a running one; docs/distributed.md) with the
same per-replication seeds: the ranks and the report are those of the run without it
(all but the seconds taken). On a cluster each PyMC fit samples its chains one after the
other (``--cores 1``: Dask's worker processes start none of their own).

Examples:
  python3 scripts/sbc.py --replications 500 --patients 300 --seed 1
  python3 scripts/sbc.py --path pymc-marginal --replications 200 --jobs 2 --cores 1
  python3 scripts/sbc.py --path pymc-marginal --replications 200 --scheduler tcp://host:8786
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from npprob.cli._dask import add_scheduler_arguments, check_scheduler_arguments
from npprob.errors import NpprobError

PATHS = ("conjugate", "pymc-complete", "pymc-marginal")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("Examples:") :],
    )  # fmt: skip
    parser.add_argument("--path", choices=PATHS, default="conjugate")
    parser.add_argument(
        "--replications", type=int, default=None, help="default: 500 (conjugate), 200 (PyMC)"
    )
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--draws", type=int, default=99, help="posterior draws ranked (thinned)")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spec", type=Path, default=None, help="a specification TOML file")
    parser.add_argument("--out-dir", type=Path, default=Path("reports/sbc"))
    pymc = parser.add_argument_group("PyMC paths")
    pymc.add_argument("--missing", type=float, default=0.2, help="MCAR share of findings")
    pymc.add_argument("--chains", type=int, default=2)
    pymc.add_argument("--tune", type=int, default=500)
    pymc.add_argument("--sampler-draws", type=int, default=1000, help="NUTS draws per chain")
    pymc.add_argument(
        "--cores", type=int, default=None, help="processes per fit (chains; default 2, 1 with "
        "--scheduler)",
    )  # fmt: skip
    pymc.add_argument("--target-accept", type=float, default=0.9)
    pymc.add_argument("--jobs", type=int, default=1, help="replications fitted at once")
    add_scheduler_arguments(parser, "the replications")
    args = parser.parse_args(argv)
    if args.replications is None:
        args.replications = 500 if args.path == "conjugate" else 200
    if args.scheduler is not None and (args.jobs != 1 or (args.cores or 1) != 1):
        parser.error("--scheduler runs the replications on the cluster's workers, one fit "
                     "per task: leave out --jobs and --cores (or give 1)")  # fmt: skip
    if args.cores is None:
        args.cores = 1 if args.scheduler is not None else 2
    try:
        check_scheduler_arguments(args, "scripts/sbc.py")
    except NpprobError as exc:
        return _fail(exc)

    import matplotlib

    matplotlib.use("Agg")

    t0 = time.perf_counter()

    def progress(done: int) -> None:
        if done % 10 == 0 or done == args.replications:
            elapsed = time.perf_counter() - t0
            print(f"  {done}/{args.replications} replications, {elapsed:.0f} s", flush=True)

    settings: dict[str, object] = {
        "path": args.path,
        "n_patients": args.patients,
        "seed": args.seed,
    }
    with ExitStack() as stack:
        mapper = None
        if args.scheduler is not None:
            from npprob.cli._dask import connect
            from npprob.cli._dask import mapper as dask_mapper

            try:
                client = stack.enter_context(connect(args.scheduler, args.workers))
            except NpprobError as exc:
                return _fail(exc)
            mapper = dask_mapper(client)
        spec, result = run(args, settings, progress, mapper)
    seconds = time.perf_counter() - t0
    settings.update(spec=str(spec.meta.get("name", "")), seconds=round(seconds, 1))
    write(args, settings, result, seconds)
    return 0


def run(args, settings, progress, mapper):
    """The specification and the SBC result (``settings`` gets the sampler's)."""
    from npprob.evaluation.sbc import sbc_conjugate, sbc_pymc, small_spec
    from npprob.io.resources import clinical_spec_path
    from npprob.network.spec import load_spec

    if args.path == "conjugate":
        spec = load_spec(args.spec or clinical_spec_path())
        result = sbc_conjugate(
            spec, n_replications=args.replications, n_patients=args.patients,
            n_draws=args.draws, n_bins=args.bins, seed=args.seed, progress=progress,
            mapper=mapper,
        )  # fmt: skip
    else:
        import logging

        logging.getLogger("pymc").setLevel(logging.WARNING)
        spec = load_spec(args.spec) if args.spec else small_spec()
        sampler = {
            "chains": args.chains, "tune": args.tune, "draws": args.sampler_draws,
            "cores": args.cores, "target_accept": args.target_accept,
        }  # fmt: skip
        result = sbc_pymc(
            spec, likelihood=args.path, n_replications=args.replications,
            n_patients=args.patients, n_draws=args.draws, n_bins=args.bins,
            missing=args.missing, seed=args.seed, jobs=args.jobs, progress=progress,
            mapper=mapper, **sampler,
        )  # fmt: skip
        settings.update(sampler=sampler, jobs=args.jobs)
        if args.path == "pymc-marginal":
            settings["missing"] = args.missing
    return spec, result


def write(args, settings, result, seconds: float) -> None:
    """The JSON report and the ECDF figure; the summary on standard output."""
    import matplotlib.pyplot as plt

    summary = result.summary()
    report: dict[str, object] = {**summary, "settings": settings}
    if result.diagnostics:
        report["replications"] = list(result.diagnostics)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2) + "\n"
    stems = [f"sbc_{args.path}"] + (["sbc"] if args.path == "conjugate" else [])
    for stem in stems:
        (args.out_dir / f"{stem}.json").write_text(text)
    grid = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(6, 4))
    scaled = (result.ranks + 0.5) / (result.n_draws + 1)
    alpha = 0.15 if scaled.shape[1] > 50 else 0.6  # many faint lines, or a few visible ones
    for k in range(scaled.shape[1]):
        ecdf = np.searchsorted(np.sort(scaled[:, k]), grid, side="right") / len(scaled)
        ax.plot(grid, ecdf - grid, color="tab:blue", alpha=alpha, lw=0.7)
    band = 1.63 / np.sqrt(len(scaled))  # Kolmogorov 99 % critical value, one parameter
    ax.axhline(band, color="black", ls="--", lw=0.8)
    ax.axhline(-band, color="black", ls="--", lw=0.8)
    ax.set(xlabel="fractional rank", ylabel="ECDF - uniform",
           title=f"SBC, {args.path} path ({len(scaled)} replications)")  # fmt: skip
    fig.tight_layout()
    for stem in stems:
        fig.savefig(args.out_dir / f"{stem}_ecdf.png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    for key, value in summary.items():
        print(f"  {key:24s} {value}")
    print(f"  {'seconds':24s} {seconds:.0f}")


def _fail(error: Exception) -> int:
    """One line on standard error, exit status 2 (as npprob's commands report bad input)."""
    print(f"sbc.py: error: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
