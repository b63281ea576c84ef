"""Batch scoring: ``npprob diagnose COHORT.csv --no-explain --out RESULTS.csv`` against the raw engine.

Simulates a clinic cohort (10 % of findings missing) in blocks, so the file can hold a
million patients without the simulator holding them, then times the command in a
child process (wall time; peak resident memory from the operating system) and, in this
process, the engine answering the same patients:

* ``engine_same_query``: one engine pass per 4,096 patients for every probability the
  results file carries (the target, mixed, nociplastic, nociceptive, three mechanisms)
  with every parameter draw: the work the command cannot avoid;
* ``engine_target_only``: the target alone, the engine's fastest query.

``cli_vs_engine_same_query`` and ``cli_vs_engine_target_only`` are the command's
throughput over each (1.0: the command adds nothing). Peak memory is reported for two
cohort sizes (``--n`` and ``--n-small``): a streaming command keeps them close.

Usage::

    python3 benchmarks/bench_batch.py --n 1000000          # the full run (about an hour)
    python3 benchmarks/bench_batch.py --n 40000 --n-small 10000 --out results/batch.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _meta import environment

ROOT = Path(__file__).resolve().parents[1]
SIM_BLOCK = 50_000


def simulate_csv(path: Path, n: int, seed: int) -> None:
    """A findings-only clinic cohort of ``n`` patients, written block by block."""
    from npprob.cohorts.simulate import SimulationOptions, simulate
    from npprob.io.resources import clinical_spec
    from npprob.io.settings import get_setting, load_settings

    spec = clinical_spec()
    net = spec.network
    setting = get_setting(load_settings(net), "consecutive_pain_clinic")
    names = [v.name for v in net.findings]
    columns = [net.index(name) for name in names]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", *names])
        done = 0
        for block, start in enumerate(range(0, n, SIM_BLOCK)):
            size = min(SIM_BLOCK, n - start)
            cohort = simulate(spec, setting, size, seed + block, SimulationOptions(mcar=0.1))
            states = [net.variables[j].states for j in columns]
            for i, row in enumerate(cohort.recorded.codes[:, columns]):
                writer.writerow([done + i + 1, *(s[c] if c >= 0 else "" for s, c in
                                                 zip(states, row, strict=True))])  # fmt: skip
            done += size


def run_command(cohort: Path, out: Path) -> dict[str, float]:
    """Wall time and peak RSS of ``npprob diagnose --no-explain`` in a child process."""
    command = [sys.executable, "-m", "npprob", "diagnose", str(cohort), "--no-explain",
               "--no-progress", "--out", str(out)]  # fmt: skip
    # A wrapper process per run: its children's peak RSS is this command's alone.
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "seconds = time.perf_counter() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([done.returncode, seconds, peak, done.stderr[-2000:]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True,
                          text=True, check=True)  # fmt: skip
    code, seconds, peak_kib, stderr = json.loads(done.stdout)
    if code != 0:
        raise SystemExit(f"bench_batch: the command failed: {stderr.strip()}")
    return {"seconds": seconds, "peak_rss_mib": peak_kib / 1024.0}


def engine_throughput(cohort: Path, repeats: int) -> dict[str, float]:
    """Patients per second of the engine on the cohort's first 4,096 patients."""
    from npprob.diagnosis import load_model
    from npprob.diagnosis.columns import PROBABILITY_COLUMNS
    from npprob.io.patients import open_patients_csv

    model = load_model().in_setting(None)
    with open_patients_csv(cohort, model.network) as blocks:
        table = next(iter(blocks))
    batch = model.with_context(table.batch)
    target = model.spec.target.name
    every = [target, *(v for v in PROBABILITY_COLUMNS.values() if v and v in model.network)]
    out = {}
    for key, variables in (("engine_same_query", every), ("engine_target_only", [target])):
        model.engine.query(batch, variables, on_zero="nan")  # compiled and warm
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            model.engine.query(batch, variables, on_zero="nan")
            best = min(best, time.perf_counter() - start)
        out[key] = batch.n_patients / best
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="patients (default 1,000,000)")
    parser.add_argument("--n-small", type=int, default=None,
                        help="a second, smaller cohort for the memory comparison (default n/10)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    args = parser.parse_args(argv)
    n_small = args.n_small or max(args.n // 10, 4096)
    with tempfile.TemporaryDirectory(prefix="npprob-bench-batch-") as tmp:
        tmp = Path(tmp)
        runs = {}
        for label, n in (("small", n_small), ("large", args.n)):
            cohort = tmp / f"cohort-{n}.csv"
            start = time.perf_counter()
            simulate_csv(cohort, n, args.seed)
            simulated = time.perf_counter() - start
            run = run_command(cohort, tmp / f"results-{n}.csv")
            run |= {"n": n, "patients_per_second": n / run["seconds"],
                    "simulate_seconds": simulated}  # fmt: skip
            runs[label] = run
            print(f"{label}: {n:,} patients in {run['seconds']:.1f} s "
                  f"({run['patients_per_second']:.0f}/s), peak RSS {run['peak_rss_mib']:.0f} MiB",
                  flush=True)  # fmt: skip
        engine = engine_throughput(tmp / f"cohort-{args.n}.csv", args.repeats)
    cli = runs["large"]["patients_per_second"]
    result = {
        "benchmark": "bench_batch",
        "environment": environment(),
        "threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "runs": runs,
        "engine_patients_per_second": engine,
        "cli_vs_engine_same_query": cli / engine["engine_same_query"],
        "cli_vs_engine_target_only": cli / engine["engine_target_only"],
        "peak_rss_ratio_large_vs_small": runs["large"]["peak_rss_mib"]
        / runs["small"]["peak_rss_mib"],
    }
    print(
        f"engine: {engine['engine_same_query']:.0f}/s for every reported probability, "
        f"{engine['engine_target_only']:.0f}/s for the target alone; the command reaches "
        f"{result['cli_vs_engine_same_query']:.2f} and {result['cli_vs_engine_target_only']:.2f} "
        f"of them; peak RSS large/small {result['peak_rss_ratio_large_vs_small']:.2f}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
