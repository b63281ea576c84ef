"""Benchmark of cohort simulation and training.

Run ``python3 benchmarks/bench_learning.py`` (add ``--skip-pymc`` to leave out
the PyMC fit). Measures: simulation throughput (patients per second, with the
true P(neuropathic | findings) computed for each) and CSV writing; the
conjugate fit of 100,000 complete patients (counting plus 1000 posterior
draws); the PyMC complete-data fit of 10,000 patients with 20 % of findings
missing (compile plus sampling, 4 chains x 1000 draws on 2 cores, diagnostics). Writes
``benchmarks/results/learning.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-pymc", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "learning.json")
    args = parser.parse_args(argv)

    from npprob.cohorts import SimulationOptions, load_settings, simulate, write_cohort
    from npprob.io.resources import clinical_spec_path
    from npprob.learning import SamplerConfig, family_counts, fit_conjugate, fit_pymc_complete
    from npprob.network.spec import load_spec

    spec = load_spec(clinical_spec_path())
    setting = load_settings(spec.network)["consecutive_pain_clinic"]
    simulate(spec, setting, 1000, 0)  # warm the kernels
    result: dict[str, object] = {}

    t0 = time.perf_counter()
    cohort = simulate(spec, setting, 100_000, 1, SimulationOptions(mcar=0.2, mar=True))
    seconds = time.perf_counter() - t0
    result["simulate_100k_seconds"] = seconds
    result["simulate_patients_per_second"] = 100_000 / seconds
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_cohort(cohort, tmp, parquet=False)
        result["write_csv_100k_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    counts = family_counts(spec.network, cohort.truth)
    fit = fit_conjugate(spec, counts, 1000, 1)
    result["conjugate_fit_100k_seconds"] = time.perf_counter() - t0
    result["conjugate_draws"] = int(next(iter(fit.draws.values())).shape[0])

    if not args.skip_pymc:
        small = simulate(spec, setting, 10_000, 2, SimulationOptions(mcar=0.2))
        codes = small.truth.copy()
        observable = small.recorded.codes >= 0
        # Complete latent truth, recorded findings with their gaps: missing leaves marginalised.
        roles = [v.role for v in spec.network.variables]
        for j, role in enumerate(roles):
            if role in ("history", "lesion_evidence", "sign", "symptom"):
                codes[~observable[:, j], j] = -1
        counts = family_counts(spec.network, codes)
        t0 = time.perf_counter()
        fit = fit_pymc_complete(
            spec, counts, SamplerConfig(draws=1000, tune=1000, chains=4, cores=2)
        )
        result["pymc_complete_10k_missing_seconds"] = time.perf_counter() - t0
        result["pymc_diagnostics"] = fit.diagnostics.to_dict()
    result["latent_class_fit_seconds"] = None
    result["latent_class_note"] = (
        "the no-gold-standard (latent-class) likelihood is not implemented yet"
    )

    for k, v in result.items():
        if not isinstance(v, dict):
            print(f"  {k:38s} {v}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
