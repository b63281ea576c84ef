"""Benchmark of cohort simulation and training.

Run ``python3 benchmarks/bench_learning.py`` (add ``--skip-pymc`` to leave out
the PyMC fit). Measures: simulation throughput (patients per second, with the
true P(neuropathic | findings) computed for each) and CSV writing; the
conjugate fit of 100,000 complete patients (counting plus 1000 posterior
draws); the PyMC complete-data fit of 10,000 patients with 20 % of findings
missing (compile plus sampling, 4 chains x 1000 draws on 2 cores, diagnostics); the
marginal likelihood's gradient (latent variables summed out by variable elimination)
against the obvious baseline in the same process (enumerating every latent
configuration); and the latent-class fit (no gold standard, clinician labels, 10 %
findings missing) of ``--latent-n`` patients; and the data-augmentation Gibbs
sampler of the same posterior at ``--gibbs-n`` patients (time per sweep, the
smallest bulk ESS, the slowest table, and the time ESS 400 would take at that
pace), which decides whether it can replace NUTS for the latent-class fit.
Writes ``benchmarks/results/learning.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _meta import environment

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-pymc", action="store_true")
    parser.add_argument("--latent-n", type=int, default=2000, help="latent-class fit size")
    parser.add_argument(
        "--latent-draws", type=int, default=1000, help="latent-class draws (and tuning) per chain"
    )
    parser.add_argument("--gibbs-n", type=int, default=10_000, help="Gibbs evaluation size")
    parser.add_argument(
        "--gibbs-sweeps", type=int, default=600, help="Gibbs sweeps kept per chain (2 chains)"
    )
    parser.add_argument("--skip-gibbs", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "learning.json")
    args = parser.parse_args(argv)

    from npprob.cohorts import SimulationOptions, load_settings, simulate, write_cohort
    from npprob.io.resources import clinical_spec_path
    from npprob.learning import SamplerConfig, family_counts, fit_conjugate, fit_pymc_complete
    from npprob.network.spec import load_spec

    spec = load_spec(clinical_spec_path())
    setting = load_settings(spec.network)["consecutive_pain_clinic"]
    simulate(spec, setting, 1000, 0)  # warm the kernels
    result: dict[str, object] = {
        "environment": environment(libraries=("pymc", "pytensor", "arviz", "pandas")),
    }

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
        for j, var in enumerate(spec.network.variables):
            if var.is_finding:
                codes[~observable[:, j], j] = -1
        counts = family_counts(spec.network, codes)
        t0 = time.perf_counter()
        fit = fit_pymc_complete(
            spec, counts, SamplerConfig(draws=1000, tune=1000, chains=4, cores=2)
        )
        result["pymc_complete_10k_missing_seconds"] = time.perf_counter() - t0
        result["pymc_diagnostics"] = fit.diagnostics.to_dict()
    if not args.skip_gibbs:
        result.update(gibbs_benchmark(spec, setting, args.gibbs_n, args.gibbs_sweeps))
    if not args.skip_pymc:
        result.update(gradient_benchmark(spec, setting))
        result.update(latent_class_benchmark(spec, setting, args.latent_n, args.latent_draws))

    for k, v in result.items():
        if not isinstance(v, dict):  # the environment and diagnostics are in the file
            print(f"  {k:38s} {v}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _marginal_problem(spec, setting, n: int, seed: int):
    from npprob.cohorts import SimulationOptions, simulate
    from npprob.learning.marginal import LabelModel, prepare_problem

    cohort = simulate(spec, setting, n, seed, SimulationOptions(label="clinician", mcar=0.1))
    problem = prepare_problem(
        spec.network, cohort.recorded.codes, label=cohort.label,
        selection=spec.context,
    )  # fmt: skip
    return cohort, problem, LabelModel.from_accuracy(spec.target.name, 0.877, 20)


def _flat_point(spec, layout):
    """Every CPT at its prior mean (the label at 85 % accuracy), laid out flat."""
    import numpy as np

    from npprob.learning.marginal import LABEL

    flat = np.zeros(layout.size)
    for name in spec.network.names:
        table = np.asarray(spec.network.cpt(name), dtype=np.float64)  # the prior mean
        flat[layout.offset[name] : layout.offset[name] + table.size] = table.ravel()
    flat[layout.offset[LABEL] : layout.offset[LABEL] + 4] = [0.85, 0.15, 0.15, 0.85]
    return flat


def _enumeration_graph(spec, log_flat, layout, problem):
    """Baseline: the same log-likelihood by enumerating every latent configuration per row."""
    import itertools

    import numpy as np
    import pytensor.tensor as pt

    from npprob.learning.marginal import LABEL

    net = spec.network
    codes = np.column_stack([problem.codes, problem.label]).astype(np.int64)
    col = {n: i for i, n in enumerate(net.names)} | {LABEL: len(net.names)}
    card = {v.name: len(v.states) for v in net.variables} | {LABEL: 2}
    has_children = {p for n in net.names for p in net.parents(n)} | {spec.target.name}
    latent = [
        n for n in net.names
        if n in has_children and n != "aetiology" and (codes[:, col[n]] < 0).any()
    ]  # fmt: skip
    configs = np.array(list(itertools.product(*[range(card[n]) for n in latent])))
    total = pt.zeros((len(codes), len(configs)))
    for n in latent:
        seen = codes[:, col[n]] >= 0
        clash = seen[:, None] & (codes[:, col[n]][:, None] != configs[None, :, latent.index(n)])
        total = total + np.where(clash, -np.inf, 0.0)
    families = [
        (n, [*net.parents(n), n]) for n in net.names if n not in ("aetiology", "mixed_pain")
    ]
    for name, family in [*families, (LABEL, [spec.target.name, LABEL])]:
        strides = np.cumprod([1, *[card[m] for m in family][::-1]])[:-1][::-1]
        index = np.full((len(codes), len(configs)), layout.offset[name], dtype=np.int64)
        missing = np.zeros(len(codes), dtype=bool)
        for m, stride in zip(family, strides, strict=True):
            if m in latent:
                index += configs[:, latent.index(m)][None, :] * stride
            else:
                missing |= codes[:, col[m]] < 0  # only a leaf finding can be missing here
                index += np.maximum(codes[:, col[m]], 0)[:, None] * stride
        total = total + pt.switch(missing[:, None], 0.0, log_flat[index])
    return pt.logsumexp(total, axis=1)


def gradient_benchmark(spec, setting) -> dict[str, object]:
    """Log-likelihood plus gradient: variable elimination vs enumeration, same values."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    from npprob.learning.marginal import FlatLayout, flat_log_evidence

    net = spec.network
    layout = FlatLayout(net, with_label=True)
    point = _flat_point(spec, layout)
    out: dict[str, object] = {}

    def compiled(graph_of):
        flat = pt.vector("flat")
        total = graph_of(pt.log(pt.maximum(flat, 1e-300)))
        t0 = time.perf_counter()
        fn = pytensor.function([flat], [total, pytensor.grad(total, flat)], mode="NUMBA")
        return fn, time.perf_counter() - t0

    def per_call_ms(fn, repeats: int) -> float:
        fn(point)
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn(point)
        return (time.perf_counter() - t0) / repeats * 1000

    for n in (2000, 10_000):
        _, problem, _ = _marginal_problem(spec, setting, n, 3)
        weights = problem.weights

        def elimination(log_flat, problem=problem, weights=weights):
            rows = flat_log_evidence(
                net, log_flat, layout, problem.codes, skip=["aetiology"],
                label=(spec.target.name, problem.label),
            )  # fmt: skip
            return pt.dot(weights, rows)

        fn, seconds = compiled(elimination)
        out[f"marginal_gradient_{n}_ms"] = per_call_ms(fn, 30)
        out[f"marginal_compile_{n}_seconds"] = seconds
        if n == 2000:
            base, _ = compiled(
                lambda lf, p=problem, w=weights: pt.dot(w, _enumeration_graph(spec, lf, layout, p))
            )
            mine, theirs = fn(point)[0], base(point)[0]
            if not np.isclose(mine, theirs, rtol=1e-10, atol=1e-8):
                raise AssertionError(f"elimination {mine} != enumeration {theirs}")
            out["enumeration_gradient_2000_ms"] = per_call_ms(base, 5)
            out["elimination_speedup_vs_enumeration"] = (
                out["enumeration_gradient_2000_ms"] / out["marginal_gradient_2000_ms"]
            )
    return out


def gibbs_benchmark(spec, setting, n: int, sweeps: int) -> dict[str, object]:
    """Data-augmentation Gibbs on the latent-class posterior: cost per sweep and mixing."""
    import warnings

    import arviz as az
    import numpy as np

    from npprob.learning.gibbs import prepare_gibbs, sample_gibbs

    _, problem, label_model = _marginal_problem(spec, setting, n, 4)
    gibbs = prepare_gibbs(spec, problem, label_model)
    sample_gibbs(gibbs, draws=1, tune=0, chains=1, seed=0)  # compile the kernels
    tune = max(sweeps // 5, 1)
    t0 = time.perf_counter()
    flat = sample_gibbs(gibbs, draws=sweeps, tune=tune, chains=2, seed=1)
    seconds = time.perf_counter() - t0
    varying = flat.std(axis=(0, 1)) > 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ess = np.asarray(az.ess({"x": flat[:, :, varying]}, method="bulk")["x"].values)
        r_hat = np.asarray(az.rhat({"x": flat[:, :, varying]})["x"].values)
    worst = int(np.argmin(ess))
    entry = int(np.flatnonzero(varying)[worst])
    table = max(
        (k for k, at in gibbs.flat.offset.items() if at <= entry), key=gibbs.flat.offset.get
    )
    per_sweep = seconds / (2 * (sweeps + tune))
    # ESS grows in proportion to the sweeps kept: the pace at which the slowest table
    # would reach 400, the gate of every fit (2 chains share the 2 cores here).
    seconds_to_400 = 400 / float(ess[worst]) * (2 * sweeps) * per_sweep
    return {
        "gibbs_n": n,
        "gibbs_sweep_ms": per_sweep * 1000,
        "gibbs_chains": f"2 chains x {sweeps} sweeps after {tune}",
        "gibbs_ess_bulk_min": float(ess[worst]),
        "gibbs_r_hat_max": float(np.nanmax(r_hat)),
        "gibbs_slowest_table": table,
        "gibbs_ess_bulk_median": float(np.median(ess)),
        "gibbs_seconds_to_ess_400": seconds_to_400,
    }


def latent_class_benchmark(spec, setting, n: int, draws: int) -> dict[str, object]:
    """The no-gold-standard fit: time, diagnostics, and the label model it learned."""
    import numpy as np

    from npprob.learning import SamplerConfig, fit_pymc_marginal

    cohort, _, label_model = _marginal_problem(spec, setting, n, 4)
    config = SamplerConfig(draws=draws, tune=draws, chains=4, cores=2, seed=1)
    fit = fit_pymc_marginal(
        spec, cohort.recorded.codes, label=cohort.label, label_model=label_model,
        selection=spec.context, config=config,
    )  # fmt: skip
    truth = cohort.truth[:, spec.network.index(spec.target.name)]
    return {
        "latent_class_n": n,
        "latent_class_fit_seconds": fit.seconds,
        "latent_class_sampler": f"4 chains x {draws} draws after {draws} tuning steps, 2 cores",
        "latent_class_diagnostics": fit.diagnostics.to_dict(),
        "latent_class_label_model": fit.summary.get("label_model"),
        "latent_class_true_label_sensitivity": float(np.mean(cohort.label[truth == 1])),
        "latent_class_true_label_false_positive_rate": float(np.mean(cohort.label[truth == 0])),
    }


if __name__ == "__main__":
    sys.exit(main())
