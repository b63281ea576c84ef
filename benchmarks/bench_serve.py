"""``npprob serve`` under load on loopback: errors, latency, and the HTTP layer's overhead.

Run ``python3 benchmarks/bench_serve.py [--clients 50] [--seconds 30]``. The app runs
in this process (uvicorn on a free loopback port); the clients are asyncio tasks,
each posting the shipped examples to ``/api/diagnose`` in turn for the whole time.
Reported:

* under load: requests, errors (anything but HTTP 200), throughput, and the p50, p95
  and p99 latency of ``/api/diagnose`` (queueing included: with more clients than
  cores, requests wait for one another);
* warm, one client at a time: p50 and p95 latency, against the same records answered
  directly by :func:`npprob.decision.answer.answer_patient` in the same process, and
  their ratio ``http_overhead`` (what parsing, routing and JSON add).

With ``--check`` the exit status is 1 on any error under load, or when
``http_overhead`` is above ``serve.max_http_overhead`` in ``benchmarks/floors.json``
(a ratio, so a shared, noisy machine does not fail it). Absolute times are reported,
never checked. Writes ``benchmarks/results/serve.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

from _meta import environment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _load(url: str, bodies: list[bytes], clients: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        async with httpx.AsyncClient(timeout=120) as http:
            i = k
            while time.perf_counter() < deadline:
                body = bodies[i % len(bodies)]
                i += 1
                t0 = time.perf_counter()
                try:
                    response = await http.post(url, content=body)
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    continue
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors.append(str(response.status_code))

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "requests_per_second": len(latencies) / elapsed,
        "latency_ms": {
            "p50": 1000 * _percentile(latencies, 0.50),
            "p95": 1000 * _percentile(latencies, 0.95),
            "p99": 1000 * _percentile(latencies, 0.99),
        },
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warm-requests", type=int, default=40)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "serve.json")
    parser.add_argument("--check", action="store_true", help="exit 1 on errors or overhead")
    parser.add_argument("--floors", type=Path, default=HERE / "floors.json")
    args = parser.parse_args(argv)

    import httpx
    import uvicorn

    from npprob.decision.answer import answer_patient
    from npprob.diagnosis import load_model
    from npprob.diagnosis.model import setting_of
    from npprob.io.patients import parse_patient_record
    from npprob.web.app import create_app

    examples = sorted((ROOT / "examples").glob("*.json"))
    bodies = [p.read_bytes() for p in examples]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(), host="127.0.0.1", port=0, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/diagnose"

    model = load_model()
    records = [parse_patient_record(b.decode(), model.network) for b in bodies]
    direct, http = [], []
    with httpx.Client(timeout=120) as client:
        for body, record in zip(bodies, records, strict=True):  # warm: plans compiled
            client.post(url, content=body)
            answer_patient(record, model, setting=setting_of(record))
        for k in range(args.warm_requests):
            j = k % len(bodies)
            t0 = time.perf_counter()
            answer_patient(records[j], model, setting=setting_of(records[j])).to_dict()
            direct.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            response = client.post(url, content=bodies[j])
            http.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.text
    warm = {
        "direct_ms": {"p50": 1000 * statistics.median(direct), "p95": 1000 * _percentile(direct, 0.95)},
        "http_ms": {"p50": 1000 * statistics.median(http), "p95": 1000 * _percentile(http, 0.95)},
    }  # fmt: skip
    warm["http_overhead"] = statistics.median(http) / statistics.median(direct)
    load = asyncio.run(_load(url, bodies, args.clients, args.seconds))
    server.should_exit = True
    thread.join(timeout=10)
    results = {
        "environment": environment(libraries=("starlette", "uvicorn", "httpx")),
        "draws": model.n_draws,
        "examples": len(bodies),
        "warm_one_client": warm,
        "under_load": load,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if args.check:
        ceiling = json.loads(args.floors.read_text())["serve"]["max_http_overhead"]
        failed = False
        if load["errors"]:
            print(f"bench_serve: {load['errors']} errors under load", file=sys.stderr)
            failed = True
        if warm["http_overhead"] > ceiling:
            print(f"bench_serve: http_overhead {warm['http_overhead']:.2f} above {ceiling}",
                  file=sys.stderr)  # fmt: skip
            failed = True
        if failed:
            return 1
        print(f"  ok   0 errors; http_overhead {warm['http_overhead']:.2f} (ceiling {ceiling})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
