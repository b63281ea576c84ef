"""Benchmark of npprob's exact-inference engine against pgmpy, in one process.

Run ``python3 benchmarks/bench_engine.py`` (full) or ``--quick`` (CI). Prints a
table and writes JSON (default ``benchmarks/results/latest.json``). With
``--check-floors`` the exit status is 1 when a speed ratio against pgmpy falls
below its floor in ``benchmarks/floors.json``; ratios, not seconds, are
compared because shared machines are noisy. The floors were set against the pgmpy
pinned in ``benchmarks/requirements.txt``; another installed version is refused unless
``--allow-peer-version`` is given.

Measured per network (a 24-node diagnostic network and alarm):
- patient-draws per second, one thread and all threads, with many patients
  x 1000 draws and with many patients x 1 draw, and their ratio (the threads'
  speed-up, reported, not checked: the machines are shared);
- latency of one patient with 1000 draws (median, 95th percentile);
- plan compile time per evidence pattern;
- pgmpy VariableElimination time per query (one patient, one parameter set)
  on the same evidence, and the agreement of the two;
- peak memory of 1 million patients x 1 draw (diagnostic network, full run).
The numba kernels' compile and cache-load times are measured in fresh
subprocesses (full run only).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _meta import add_peer_option, environment, peer_version_problem  # noqa: E402
from networks import diagnostic_network, diagnostic_patients, forward_sample  # noqa: E402
from npprob.inference import Engine  # noqa: E402
from npprob.io.bif import read_bif  # noqa: E402
from npprob.io.interop import to_pgmpy  # noqa: E402

#: The libraries the floors compare npprob with (pinned in requirements.txt).
PEERS = ("pgmpy",)


def best_of(fn, repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls (the least disturbed run)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def best_by_threads(fn, thread_counts, repeats: int) -> dict[int, float]:
    """Shortest wall time of ``fn`` under each thread count (``numba.set_num_threads``).

    The counts take turns within each repeat, so a disturbance on the shared machine
    hits all of them alike; their ratio is the threads' speed-up in this process.
    """
    previous = numba.get_num_threads()
    times: dict[int, list[float]] = {t: [] for t in thread_counts}
    try:
        for _ in range(repeats):
            for t in thread_counts:
                numba.set_num_threads(t)
                t0 = time.perf_counter()
                fn()
                times[t].append(time.perf_counter() - t0)
    finally:
        numba.set_num_threads(previous)
    return {t: min(v) for t, v in times.items()}


def dirichlet_draws(network, n_draws: int, seed: int, concentration: float = 200.0) -> dict:
    """Parameter draws scattered around the network's CPTs (like a posterior)."""
    rng = np.random.default_rng(seed)
    draws = {}
    for name in network.names:
        cpt = network.cpt(name)
        alpha = concentration * cpt + 0.5
        g = rng.standard_gamma(np.broadcast_to(alpha, (n_draws, *cpt.shape)))
        draws[name] = g / g.sum(axis=-1, keepdims=True)
    return draws


def alarm_patients(network, n: int, seed: int, p_observed: float = 0.3) -> np.ndarray:
    """Forward-sampled alarm cases with a random ~30 % of variables observed."""
    codes = forward_sample(network, n, seed)
    rng = np.random.default_rng(seed + 1)
    codes[rng.random(codes.shape) >= p_observed] = -1
    return codes


def pgmpy_per_query(
    network, codes: np.ndarray, targets: list[str], n_queries: int
) -> tuple[float, np.ndarray]:
    """Seconds per pgmpy VariableElimination query, and its answers."""
    from pgmpy.inference import VariableElimination

    infer = VariableElimination(to_pgmpy(network))
    names = network.names
    answers = []
    evidences = []
    for row in codes[:n_queries]:
        ev = {
            names[j]: network.variables[j].states[c]
            for j, c in enumerate(row)
            if c >= 0 and names[j] not in targets
        }
        evidences.append(ev)
    infer.query(variables=targets[:1], evidence=evidences[0], show_progress=False)  # warm-up
    t0 = time.perf_counter()
    for ev in evidences:
        factor = infer.query(variables=targets[:1], evidence=ev, show_progress=False)
        answers.append(factor.values)
    per_query = (time.perf_counter() - t0) / len(evidences)
    return per_query, np.array(answers)


def bench_network(label, network, codes, target, sizes, quick: bool) -> dict:
    """Every measurement for one network."""
    n_draws = 1000
    engine1 = Engine(network)
    engine_s = Engine(network, dirichlet_draws(network, n_draws, seed=3))
    out: dict = {"network": label, "n_variables": len(network), "target": target}

    # Plan compile time: fresh engines, one pattern each.
    patterns = {tuple(np.flatnonzero(r >= 0)) for r in codes[: sizes["compile_patterns"] * 4]}
    compile_times = []
    for pat in list(patterns)[: sizes["compile_patterns"]]:
        eng = Engine(network)
        observed = [network.names[i] for i in pat if network.names[i] != target]
        plan = eng.plan(observed, [target])
        compile_times.append(plan.compile_seconds)
    out["plan_compile_ms_median"] = 1e3 * float(np.median(compile_times))
    out["plan_compile_ms_max"] = 1e3 * float(np.max(compile_times))

    # Warm every kernel and the plans used below.
    engine1.query(codes[:64], [target])
    engine_s.query(codes[:4], [target])

    query_codes = codes.copy()
    query_codes[:, network.index(target)] = -1
    n_many, n_single = sizes["patients_x1000"], sizes["patients_x1"]
    most = numba.config.NUMBA_NUM_THREADS
    for label, fn, patient_draws in (
        ("draws1000", functools.partial(engine_s.query, query_codes[:n_many], [target]),
         n_many * n_draws),
        ("draws1", functools.partial(engine1.query, query_codes[:n_single], [target]), n_single),
    ):  # fmt: skip
        best = best_by_threads(fn, sorted({1, most}), sizes["repeats"])
        for threads, t in best.items():
            out[f"patient_draws_per_s_{threads}t_{label}"] = patient_draws / t
        if most > 1:
            out[f"thread_speedup_{most}t_{label}"] = best[1] / best[most]

    # Latency of a clinician's query: a pattern seen before (plan cached).
    latency_rows = [query_codes[i : i + 1] for i in range(8)]
    for row in latency_rows:
        engine_s.query(row, [target], n_threads=1)
    latencies = []
    for i in range(sizes["latency_repeats"]):
        row = latency_rows[i % len(latency_rows)]
        t0 = time.perf_counter()
        engine_s.query(row, [target], n_threads=1)
        latencies.append(time.perf_counter() - t0)
    out["latency_1patient_1000draws_ms_median"] = 1e3 * float(np.median(latencies))
    out["latency_1patient_1000draws_ms_p95"] = 1e3 * float(np.percentile(latencies, 95))
    # The same with a pattern never seen: includes compiling its plan.
    fresh = Engine(network, dirichlet_draws(network, n_draws, seed=3))
    cold = []
    for i in range(8, 8 + min(20, sizes["latency_repeats"])):
        t0 = time.perf_counter()
        fresh.query(query_codes[i : i + 1], [target], n_threads=1)
        cold.append(time.perf_counter() - t0)
    out["latency_1patient_1000draws_new_pattern_ms_median"] = 1e3 * float(np.median(cold))

    per_query, pg_answers = pgmpy_per_query(network, query_codes, [target], sizes["pgmpy_queries"])
    ours = engine1.query(query_codes[: sizes["pgmpy_queries"]], [target]).marginal(target)[0]
    out["pgmpy_us_per_query"] = 1e6 * per_query
    out["max_abs_diff_vs_pgmpy"] = float(np.max(np.abs(ours - pg_answers)))
    best_1t = max(out["patient_draws_per_s_1t_draws1000"], out["patient_draws_per_s_1t_draws1"])
    out["speedup_vs_pgmpy_1t"] = best_1t * per_query
    out["speedup_vs_pgmpy_1t_draws1"] = out["patient_draws_per_s_1t_draws1"] * per_query
    out["speedup_vs_pgmpy_1t_draws1000"] = out["patient_draws_per_s_1t_draws1000"] * per_query
    return out


def memory_million(network) -> dict:
    """Peak traced memory of 1 million patients x 1 draw."""
    codes = diagnostic_patients(network, 1_000_000, seed=11)
    codes[:, network.index("neuropathic")] = -1
    engine = Engine(network)
    engine.query(codes[:10], ["neuropathic"])
    tracemalloc.start()
    t0 = time.perf_counter()
    result = engine.query(codes, ["neuropathic"])
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return {
        "million_patients_seconds": seconds,
        "million_patients_peak_traced_MiB": peak / 2**20,
        "evidence_codes_MiB": codes.nbytes / 2**20,
    }


_PROBE = """
import time, numpy as np
t0 = time.perf_counter()
from npprob.network import Network, Variable
from npprob.inference import Engine
net = Network([Variable('a', ('0', '1')), Variable('b', ('0', '1'))], {'b': ['a']},
              {'a': [0.3, 0.7], 'b': [[0.9, 0.1], [0.2, 0.8]]})
Engine(net).query({'b': '1'}, ['a'])
Engine(net, {'a': np.full((300, 2), 0.5)}).query({'b': '1'}, ['a'])
print(time.perf_counter() - t0)
"""


def kernel_cache_times() -> dict:
    """First-query time in a fresh process: cold (empty numba cache), then warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = []
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
            )
            runs.append(float(done.stdout.strip().splitlines()[-1]))
    return {"first_query_s_cold_cache": runs[0], "first_query_s_warm_cache": runs[1]}


def check_floors(results: dict, floors_path: Path) -> list[str]:
    """Messages for every ratio below its floor."""
    floors = json.loads(floors_path.read_text())["floors"]
    failures = []
    for key, floor in floors.items():
        label, metric = key.split(":")
        row = next(r for r in results["networks"] if r["network"] == label)
        if row[metric] < floor:
            failures.append(f"{key} = {row[metric]:.0f} is below the floor {floor}")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run for CI")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--check-floors", action="store_true", help="exit 1 below the floors")
    parser.add_argument("--floors", type=Path, default=HERE / "floors.json")
    add_peer_option(parser)
    args = parser.parse_args(argv)
    if args.check_floors and not args.allow_peer_version:
        problem = peer_version_problem(PEERS, "bench_engine")
        if problem:
            print(problem, file=sys.stderr)
            return 1

    if args.quick:
        sizes = dict(patients_x1000=200, patients_x1=50_000, repeats=3, latency_repeats=50,
                     pgmpy_queries=30, compile_patterns=5)  # fmt: skip
    else:
        sizes = dict(patients_x1000=2000, patients_x1=500_000, repeats=5, latency_repeats=300,
                     pgmpy_queries=200, compile_patterns=20)  # fmt: skip

    diag = diagnostic_network(seed=0)
    alarm = read_bif(ROOT / "tests" / "fixtures" / "networks" / "alarm.bif")
    n_rows = max(sizes["patients_x1000"], sizes["patients_x1"])
    rows = [
        bench_network("diagnostic24", diag, diagnostic_patients(diag, n_rows, seed=1), "neuropathic", sizes, args.quick),
        bench_network("alarm", alarm, alarm_patients(alarm, n_rows, seed=1), "HYPOVOLEMIA", sizes, args.quick),
    ]  # fmt: skip
    results = {
        "mode": "quick" if args.quick else "full",
        "environment": environment(peers=PEERS),
        "allow_peer_version": args.allow_peer_version,
        "threads_available": numba.config.NUMBA_NUM_THREADS,
        "networks": rows,
    }
    if not args.quick:
        results["memory"] = memory_million(diag)
        results["kernel_cache"] = kernel_cache_times()

    for r in rows:
        print(f"\n== {r['network']} ({r['n_variables']} variables, target {r['target']})")
        for k, v in r.items():
            if isinstance(v, float):
                print(f"  {k:45s} {v:,.4g}")
    for section in ("memory", "kernel_cache"):
        for k, v in results.get(section, {}).items():
            print(f"  {k:45s} {v:,.4g}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    if args.check_floors:
        failures = check_floors(results, args.floors)
        for f in failures:
            print(f"FLOOR FAILED: {f}", file=sys.stderr)
        if failures:
            return 1
        print("all speed ratios are above their floors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
