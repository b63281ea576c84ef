"""Simulation-based calibration of the conjugate training path.

Writes ``reports/sbc/sbc.json`` (ranks summary and uniformity tests) and
``reports/sbc/sbc_ecdf.png`` (ECDF of the ranks minus the uniform ECDF for every
parameter, with a 99 % simultaneous band for one parameter).

Example: python3 scripts/sbc.py --replications 500 --patients 300 --seed 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=500)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--draws", type=int, default=99)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=Path("reports/sbc"))
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from npprob.evaluation.sbc import sbc_conjugate
    from npprob.io.resources import clinical_spec_path
    from npprob.network.spec import load_spec

    spec = load_spec(clinical_spec_path())
    result = sbc_conjugate(
        spec, n_replications=args.replications, n_patients=args.patients,
        n_draws=args.draws, seed=args.seed,
    )  # fmt: skip
    summary = result.summary()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "sbc.json").write_text(json.dumps(summary, indent=2) + "\n")
    grid = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(6, 4))
    scaled = (result.ranks + 0.5) / (result.n_draws + 1)
    for k in range(scaled.shape[1]):
        ecdf = np.searchsorted(np.sort(scaled[:, k]), grid, side="right") / len(scaled)
        ax.plot(grid, ecdf - grid, color="tab:blue", alpha=0.15, lw=0.7)
    band = 1.63 / np.sqrt(len(scaled))  # Kolmogorov 99 % critical value, one parameter
    ax.axhline(band, color="black", ls="--", lw=0.8)
    ax.axhline(-band, color="black", ls="--", lw=0.8)
    ax.set(xlabel="fractional rank", ylabel="ECDF - uniform",
           title=f"SBC, conjugate path ({len(scaled)} replications)")  # fmt: skip
    fig.tight_layout()
    fig.savefig(args.out_dir / "sbc_ecdf.png", dpi=100, metadata={"Software": None})
    for key, value in summary.items():
        print(f"  {key:24s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
