"""Simulation-based calibration of a training path (conjugate, pymc-complete, pymc-marginal).

Writes ``reports/sbc/sbc_<path>.json`` (summary, uniformity tests, settings and,
for the PyMC paths, every replication's sampler diagnostics) and
``reports/sbc/sbc_<path>_ecdf.png`` (ECDF of the ranks minus the uniform ECDF
for every parameter, with a 99 % simultaneous band for one parameter). The
conjugate path also writes them as ``sbc.json`` and ``sbc_ecdf.png``.

The conjugate path runs on the clinical specification; the PyMC paths, whose
every replication runs NUTS, on the small latent-class network of
``npprob.evaluation.sbc.small_spec`` (``--spec`` chooses another TOML file).

Examples:
  python3 scripts/sbc.py --replications 500 --patients 300 --seed 1
  python3 scripts/sbc.py --path pymc-marginal --replications 200 --jobs 2 --cores 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

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
    pymc.add_argument("--cores", type=int, default=2, help="processes per fit (chains)")
    pymc.add_argument("--target-accept", type=float, default=0.9)
    pymc.add_argument("--jobs", type=int, default=1, help="replications fitted at once")
    args = parser.parse_args(argv)
    if args.replications is None:
        args.replications = 500 if args.path == "conjugate" else 200

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from npprob.evaluation.sbc import sbc_conjugate, sbc_pymc, small_spec
    from npprob.io.resources import clinical_spec_path
    from npprob.network.spec import load_spec

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
    if args.path == "conjugate":
        spec = load_spec(args.spec or clinical_spec_path())
        result = sbc_conjugate(
            spec, n_replications=args.replications, n_patients=args.patients,
            n_draws=args.draws, n_bins=args.bins, seed=args.seed, progress=progress,
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
            missing=args.missing, seed=args.seed, jobs=args.jobs, progress=progress, **sampler,
        )  # fmt: skip
        settings.update(sampler=sampler, jobs=args.jobs)
        if args.path == "pymc-marginal":
            settings["missing"] = args.missing
    seconds = time.perf_counter() - t0
    settings.update(spec=str(spec.meta.get("name", "")), seconds=round(seconds, 1))
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
    for key, value in summary.items():
        print(f"  {key:24s} {value}")
    print(f"  {'seconds':24s} {seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
