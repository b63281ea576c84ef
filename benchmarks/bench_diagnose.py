"""Benchmark of ``npprob diagnose`` for one patient with 1000 parameter draws.

Run ``python3 benchmarks/bench_diagnose.py``. Measures the wall time of the
command in a fresh process (after one run has filled the numba cache), the
in-process inference time of a warm model (probabilities, interval and the
leave-one-out explanation), and checks that PyMC, PyTensor, ArviZ and
matplotlib stay unimported on this path. Writes
``benchmarks/results/diagnose.json``. Absolute times are reported, not
compared in CI (shared machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PATIENT = ROOT / "examples" / "postherpetic_neuralgia.json"

_PROBE = """
import sys, time
t0 = time.perf_counter()
from npprob.cli import main
status = main(["diagnose", sys.argv[1], "--json"])
heavy = [m for m in ("pymc", "pytensor", "arviz", "matplotlib") if m in sys.modules]
print("PROBE", time.perf_counter() - t0, ",".join(heavy), status, file=sys.stderr)
"""


def fresh_process(repeats: int) -> tuple[list[float], list[float], list[str]]:
    """Wall times of the whole process and of main() inside it; heavy modules seen."""
    walls, inner, heavy = [], [], set()
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(PATIENT)], capture_output=True, text=True, check=True
        )
        walls.append(time.perf_counter() - t0)
        line = next(x for x in done.stderr.splitlines() if x.startswith("PROBE"))
        _, seconds, modules, status = line.split(" ")
        assert status == "0", done.stderr
        inner.append(float(seconds))
        heavy.update(m for m in modules.split(",") if m)
    return walls, inner, sorted(heavy)


def warm_inference(repeats: int) -> list[float]:
    """Seconds per diagnose() call of a loaded model (1000 draws, with explanation)."""
    from npprob.diagnosis import load_model

    model = load_model()
    record = json.loads(PATIENT.read_text())
    record.pop("comment", None)
    model.diagnose(record)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.diagnose(record)
        times.append(time.perf_counter() - t0)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "diagnose.json")
    args = parser.parse_args(argv)
    fresh_process(1)  # fills the numba cache if it is empty
    walls, inner, heavy = fresh_process(args.repeats)
    warm = warm_inference(50)
    result = {
        "patient": PATIENT.name,
        "n_draws": 1000,
        "fresh_process_wall_s_median": statistics.median(walls),
        "fresh_process_wall_s_max": max(walls),
        "fresh_process_main_s_median": statistics.median(inner),
        "warm_diagnose_ms_median": 1e3 * statistics.median(warm),
        "warm_diagnose_ms_p95": 1e3 * sorted(warm)[int(0.95 * len(warm)) - 1],
        "heavy_modules_imported": heavy,
    }
    for k, v in result.items():
        print(f"  {k:35s} {v if not isinstance(v, float) else round(v, 4)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
