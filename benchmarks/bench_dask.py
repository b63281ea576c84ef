"""``npprob diagnose COHORT --scheduler``: throughput on a Dask LocalCluster of 1 and 2 workers.

Simulates a clinic cohort (``--n`` patients, default 24,576: six blocks of the 4,096
patients the command reads at a time, so that two workers get the same share), then, in
this process, starts a ``distributed.LocalCluster`` as ``--scheduler local`` does
(worker processes with one thread each, numba's kernels on one thread per task) with
one worker and another with two, and times ``npprob diagnose COHORT --no-explain --out
RESULTS.csv --scheduler ADDRESS`` on each in turn (``--repeats`` times, the best kept).
Before the timing every worker loads the model and answers a warm-up block of another
cohort (model loaded, kernels and plans compiled), so the timed runs measure scoring,
not start-up.

``speedup_2_vs_1_workers`` is the ratio of the two throughputs (goal: at least 1.6 on a
machine with two free cores; not a CI floor, as CI machines are shared). The results
files of the runs must be the same bytes, and those of the in-process path (no Dask,
numba's own threads) too, whose throughput is reported for reading.

Usage::

    python3 benchmarks/bench_dask.py --out benchmarks/results/dask.json
    python3 benchmarks/bench_dask.py --n 8192 --no-local       # a quick look (two blocks)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from _meta import environment
from npprob.io.patients import BLOCK_SIZE

SETTING = "consecutive_pain_clinic"


def simulate(folder: Path, n: int, seed: int) -> Path:
    """A clinic cohort written by ``npprob simulate`` (10 % of findings missing)."""
    from npprob.cli import main

    status = main(["simulate", "--setting", SETTING, "--n", str(n), "--seed", str(seed),
                   "--mcar", "0.1", "--out-dir", str(folder), "--no-parquet",
                   "--no-progress"])  # fmt: skip
    assert status == 0
    return folder / "cohort.csv"


def diagnose(cohort: Path, out: Path, scheduler: list[str]) -> float:
    """Seconds taken by ``npprob diagnose COHORT --no-explain`` (the exit status checked)."""
    from npprob.cli import main

    start = time.perf_counter()
    status = main(["diagnose", str(cohort), "--no-explain", "--no-progress", "--out", str(out),
                   *scheduler])  # fmt: skip
    seconds = time.perf_counter() - start
    assert status == 0, status
    return seconds


def _warm(ref, codes: np.ndarray) -> int:
    """On a worker: load the model and answer a block (the kernels compile, plans are built)."""
    from npprob.cli._dask import diagnose_block

    answer = diagnose_block(ref, codes, [str(i) for i in range(len(codes))],
                            np.ones(len(codes), dtype=bool), [], 1, False, 8)  # fmt: skip
    return answer.n_answered


def warm_up(client, warm_cohort: Path) -> list[int]:
    """Every worker of the cluster loads the model and answers the warm-up cohort."""
    from npprob.cli._dask import ModelRef
    from npprob.diagnosis import load_model
    from npprob.io.patients import open_patients

    model = load_model()
    with open_patients(str(warm_cohort), model.network) as blocks:
        codes = next(iter(blocks)).batch.codes
    ref = ModelRef.of(model, None, None, False)
    return list(client.run(_warm, ref, codes).values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6 * BLOCK_SIZE,
                        help=f"patients (default {6 * BLOCK_SIZE:,}: six blocks)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per cluster (best)")
    parser.add_argument("--seed", type=int, default=20261212)
    parser.add_argument("--no-local", action="store_true",
                        help="leave out the in-process path (no Dask)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    args = parser.parse_args(argv)

    from npprob.cli._dask import connect

    runs: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="npprob-bench-dask-") as tmp, ExitStack() as stack:
        tmp = Path(tmp)
        cohort = simulate(tmp / "cohort", args.n, args.seed)
        warm_cohort = simulate(tmp / "warm", BLOCK_SIZE, args.seed + 1)
        # Both clusters up at once and timed in turn (1, 2, 1, 2...): load from other work
        # on a shared machine then weighs on both alike.
        clusters = {}
        for workers in (1, 2):
            client = stack.enter_context(connect("local", workers))
            answered = warm_up(client, warm_cohort)
            clusters[f"workers_{workers}"] = (workers, client.scheduler.address, answered)
        times: dict[str, list[float]] = {label: [] for label in clusters}
        outputs = {}
        for _ in range(args.repeats):
            for label, (_, address, _) in clusters.items():
                out = tmp / f"{label}.csv"
                times[label].append(diagnose(cohort, out, ["--scheduler", address]))
                outputs[label] = out.read_bytes()
                print(f"{label}: {args.n:,} patients in {times[label][-1]:.1f} s", flush=True)
        for label, (workers, _, answered) in clusters.items():
            best = min(times[label])
            runs[label] = {"workers": workers, "warm_up_answered": answered, "seconds": best,
                           "all_seconds": times[label], "patients_per_second": args.n / best}  # fmt: skip
        stack.close()  # the clusters stop before the in-process run
        if not args.no_local:
            diagnose(warm_cohort, tmp / "warm.csv", [])  # this process's kernels and plans
            seconds = min(diagnose(cohort, tmp / "local.csv", []) for _ in range(args.repeats))
            outputs["local"] = (tmp / "local.csv").read_bytes()
            runs["local"] = {"numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
                             "seconds": seconds, "patients_per_second": args.n / seconds}  # fmt: skip
            print(f"in-process (no Dask): {args.n:,} patients in {seconds:.1f} s "
                  f"({args.n / seconds:,.0f}/s)", flush=True)  # fmt: skip
    same = len(set(outputs.values())) == 1
    ratio = runs["workers_2"]["patients_per_second"] / runs["workers_1"]["patients_per_second"]
    result = {
        "benchmark": "bench_dask",
        "environment": environment(libraries=["dask", "distributed"]),
        "n": args.n,
        "setting": SETTING,
        "repeats": args.repeats,
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "runs": runs,
        "speedup_2_vs_1_workers": ratio,
        # Each round's own ratio (the two runs back to back): how much the load moved.
        "speedup_by_round": [
            one / two
            for one, two in zip(
                runs["workers_1"]["all_seconds"], runs["workers_2"]["all_seconds"], strict=True
            )
        ],
        "goal_speedup_2_vs_1_workers": 1.6,
        "results_identical": same,
    }
    print(f"2 workers / 1 worker: {ratio:.2f}x (goal 1.6); results files identical: {same}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
