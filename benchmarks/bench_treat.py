"""Benchmark of the treatment ranking, against a per-draw Python loop in the same process.

Run ``python3 benchmarks/bench_treat.py``. Measures, for the example patients:
- latency of ``rank_treatments`` (14 drugs, 400 posterior draws, 4,000 evidence
  draws, condition rules and the nociplastic split; median of repeats), and of the
  ranking's numerical work as it was before the safety gates and guideline lines
  (``previous_ranking``), interleaved in the same process: their ratio;
- latency of ``recommend_treatments`` end to end (file loading, P(neuropathic)
  draws from the shipped model, ranking);
- the same ranking summaries (P(best), SUCRA, interval) computed by a plain
  Python loop over draws, the way a first implementation would, on the same
  random numbers; its agreement with the vectorised result and the speed ratio.
With ``--check-floors`` the exit status is 1 when the loop ratio falls below
``treat.speedup_vs_loop`` or the latency ratio rises above
``treat.max_latency_ratio_vs_previous`` in ``benchmarks/floors.json`` (ratios, not seconds).
Writes ``benchmarks/results/treat.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _meta import environment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def loop_summaries(net_samples: np.ndarray) -> dict[str, np.ndarray]:
    """P(best), SUCRA and 95 % intervals with Python loops over draws (the baseline)."""
    n_draws, n_drugs = net_samples.shape
    best = [0] * n_drugs
    rank_sum = [0.0] * n_drugs
    for s in range(n_draws):
        row = [float(v) for v in net_samples[s]]
        order = sorted(range(n_drugs), key=lambda j: -row[j])
        best[order[0]] += 1
        for position, j in enumerate(order):
            rank_sum[j] += position + 1
    intervals = []
    for j in range(n_drugs):
        column = sorted(float(v) for v in net_samples[:, j])
        intervals.append((column[int(0.025 * (n_draws - 1))], column[int(0.975 * (n_draws - 1))]))
    mean_rank = np.array(rank_sum) / n_draws
    return {
        "p_best": np.array(best) / n_draws,
        "sucra": (n_drugs - mean_rank) / (n_drugs - 1),
        "intervals": np.array(intervals),
    }


def vector_summaries(net_samples: np.ndarray) -> dict[str, np.ndarray]:
    """The ranking module's own summaries on the same draws."""
    from npprob.decision.ranking import rank_summaries

    p_best, sucra = rank_summaries(net_samples)
    return {
        "p_best": p_best,
        "sucra": sucra,
        "intervals": np.quantile(net_samples, [0.025, 0.975], axis=0).T,
    }


def previous_ranking(p_draws, findings, factors, evidence, rules, n_samples=4000, seed=0):
    """The ranking's numerical work as it was before the safety gates and guideline lines.

    The baseline of the latency ratio: per drug, the rules that fire, three effect
    distributions sampled with the drug's own seed, net benefit per draw, its interval; then
    P(best) and SUCRA by double argsort. Kept frozen here so that CI can check that the
    clinical rules added since cost at most ``treat.max_latency_ratio_vs_previous`` times it.
    """
    from npprob.decision.utility import RiskDifference, net_benefit

    rng = np.random.default_rng(np.random.SeedSequence(seed))
    p_samples = p_draws[rng.integers(0, p_draws.size, n_samples)]
    children = np.random.SeedSequence([seed, 1]).spawn(len(evidence.drugs))
    nets = []
    for child, (drug_id, drug) in zip(children, evidence.drugs.items(), strict=True):
        fired = [r for r in rules.rules if drug_id in r.drugs and r.fires(factors)]
        if any(r.severity == "absolute" for r in fired) or drug.scope != "all":
            continue
        m = float(np.prod([rules.severity[r.severity]["harm_multiplier"] for r in fired]))
        chosen = evidence.default_evidence
        effects = [RiskDifference.from_number_needed(e) for e in
                   (drug.nnt[chosen], drug.non_neuropathic_nnt, drug.nnh[chosen])]  # fmt: skip
        sub = np.random.default_rng(child)
        _ = [e.mean() for e in effects]
        _, _, net = net_benefit(p_samples, *(e.sample(n_samples, sub) for e in effects),
                                harm_multiplier=m, serious_harm_risk=0.0, harm_weight=1.0)  # fmt: skip
        np.quantile(net, [0.025, 0.975])
        nets.append(net)
    net_samples = np.stack(nets, axis=1)
    ranks = np.argsort(np.argsort(-net_samples, axis=1, kind="stable"), axis=1) + 1
    return (ranks == 1).mean(axis=0), (ranks.shape[1] - ranks.mean(axis=0)) / (ranks.shape[1] - 1)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "treat.json")
    parser.add_argument("--check-floors", action="store_true", help="exit 1 below the floor")
    parser.add_argument("--floors", type=Path, default=HERE / "floors.json")
    args = parser.parse_args(argv)

    from npprob.decision import (
        condition_rules,
        load_contraindications,
        load_treatments,
        rank_treatments,
        recommend_treatments,
    )
    from npprob.diagnosis import load_model

    model = load_model()
    evidence = load_treatments()
    rules = load_contraindications(evidence.drugs)
    patients = [json.loads(p.read_text()) for p in sorted((ROOT / "examples").glob("*.json"))]
    records = [{k: v for k, v in r.items() if k not in ("id", "comment")} for r in patients]
    recommend_treatments(model, records[0])  # warm caches (numba plans, files)

    conditions = condition_rules(
        tuple(evidence.drugs), tuple(model.network.variable(evidence.condition_variable).states)
    )
    rank_ms, previous_ms, recommend_ms = [], [], []
    for record in records:
        findings = {k: v for k, v in record.items() if k != "patient_factors"}
        batch = model.evidence(findings)
        draws = model.p_neuropathic_draws(batch)[:, 0]
        split = model.p_draws_if_not_target(batch, evidence.nociplastic_variable)[:, 0]
        factors = record.get("patient_factors") or {}
        factors = {k: v for k, v in factors.items() if v is not None}

        def new(d=draws, f=findings, x=factors, q=split):
            rank_treatments(d, f, x, evidence, rules, conditions=conditions, p_nociplastic_draws=q)

        def old(d=draws, f=findings, x=factors):
            previous_ranking(d, f, x, evidence, rules)

        # Interleaved, so that machine load hits both alike.
        for _ in range(args.repeats):
            rank_ms.append(timed(new, 1)[0] * 1e3)
            previous_ms.append(timed(old, 1)[0] * 1e3)
        recommend_ms += [t * 1e3 for t in timed(lambda r=record: recommend_treatments(model, r), 5)]

    rng = np.random.default_rng(0)
    net_samples = rng.normal(0.1, 0.1, size=(4000, 14))
    vector_s = min(timed(lambda: vector_summaries(net_samples), args.repeats))
    loop_s = min(timed(lambda: loop_summaries(net_samples), 3))
    a, b = vector_summaries(net_samples), loop_summaries(net_samples)
    agree = bool(
        np.allclose(a["p_best"], b["p_best"])
        and np.allclose(a["sucra"], b["sucra"])
        and np.allclose(a["intervals"], b["intervals"], atol=0.01)
    )
    results = {
        "environment": environment(),
        "patients": len(records),
        "rank_treatments_ms": {"median": statistics.median(rank_ms), "max": max(rank_ms)},
        "previous_ranking_ms": {
            "median": statistics.median(previous_ms),
            "max": max(previous_ms),
        },
        "latency_ratio_vs_previous": statistics.median(rank_ms) / statistics.median(previous_ms),
        "recommend_treatments_ms": {
            "median": statistics.median(recommend_ms),
            "max": max(recommend_ms),
        },
        "summaries_vectorised_ms": vector_s * 1e3,
        "summaries_python_loop_ms": loop_s * 1e3,
        "speedup_vs_loop": loop_s / vector_s,
        "loop_agrees": agree,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        if key != "environment":
            print(f"  {key:28s} {value}")
    if not agree:
        print("bench_treat: the loop and the vectorised summaries disagree", file=sys.stderr)
        return 1
    if args.check_floors:
        limits = json.loads(args.floors.read_text())["treat"]
        floor = limits["speedup_vs_loop"]
        if results["speedup_vs_loop"] < floor:
            print(f"bench_treat: speedup {results['speedup_vs_loop']:.1f} below {floor}",
                  file=sys.stderr)  # fmt: skip
            return 1
        ceiling = limits["max_latency_ratio_vs_previous"]
        if results["latency_ratio_vs_previous"] > ceiling:
            print(f"bench_treat: ranking takes {results['latency_ratio_vs_previous']:.2f}x the "
                  f"previous ranking, above {ceiling}", file=sys.stderr)  # fmt: skip
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
