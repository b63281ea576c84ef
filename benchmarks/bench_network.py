"""Inference cost of the shipped clinical network against its first version, in one process.

Run ``python3 benchmarks/bench_network.py``. ``benchmarks/networks_frozen/clinical_v1.toml``
is the clinical network as first shipped, kept frozen. Both networks answer the same
patients (sampled from version 1; only findings both networks have are kept, the context
observed, about 60 % of the findings recorded) for P(target) over the same number of
prior draws, interleaved so that machine load hits both alike. The ratio of times per
patient-draw is the cost of the network's growth, in two cases:

* ``recorded``: the condition (``aetiology``, whose version-1 states keep their names)
  is recorded for every patient, as a clinic record has it ("unknown" is a state);
* ``unrecorded``: the condition is left out. The condition is then summed over inside
  the largest clique, which since version 0.3.0 (condition-specific signs) holds most
  mechanisms: this case costs far more, and is reported with its own ceiling.

It also reports the fewest clique entries per patient that any elimination order
needs on each network (``least_clique_entries_per_patient``, exhaustive search over
orders) and their ratio (``least_work_ratio_vs_v1``): a floor on the arithmetic that
no kernel can go below.

With ``--check-floors`` the exit status is 1 when a ratio is above its ceiling
(``benchmarks/floors.json``: ``network.max_slowdown_vs_v1`` for ``recorded``, 2;
``network.max_slowdown_vs_v1_unrecorded``). Writes ``benchmarks/results/network.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _meta import environment  # noqa: E402
from networks import forward_sample  # noqa: E402

FROZEN = HERE / "networks_frozen" / "clinical_v1.toml"


def patient_rows(
    spec, names: list[str], sampled: np.ndarray, source_names, source=None
) -> np.ndarray:
    """The sampled patients' findings in ``spec``'s variable order (others unobserved).

    A finding of ``names`` whose states differ from ``source``'s (the condition,
    which gained states) is mapped state by state name.
    """
    network = spec.network
    codes = np.full((len(sampled), len(network)), -1, dtype=np.int16)
    for name in names:
        column = sampled[:, source_names.index(name)]
        if source is not None:
            old_states = source.network.variable(name).states
            new_states = network.variable(name).states
            mapping = np.array([new_states.index(s) for s in old_states], dtype=np.int16)
            column = np.where(column >= 0, mapping[np.maximum(column, 0)], -1)
        codes[:, network.index(name)] = column
    for var in network.context:
        codes[:, network.index(var.name)] = var.positive_index
    return codes


def least_clique_entries(engine, batch, target: str) -> float:
    """Fewest table entries any elimination order needs per patient, averaged over patients.

    Each evidence group the engine forms is solved with the order of least total
    clique size (exhaustive search); every entry of a clique is at least one
    multiply-add, whatever the kernels, so the ratio of these between two networks
    bounds from below how much slower exact inference on one must be.
    """
    from npprob.inference.ordering import optimal_elimination_cost
    from npprob.inference.plan import elimination_problem

    index = engine.network.index(target)
    cards = [int(c) for c in engine.layout.cardinalities]
    total = 0
    groups = engine._group(batch.codes, (index,))
    for hard, soft, rows in groups:
        graph, free = elimination_problem(engine.layout, hard, (index,), soft)
        total += optimal_elimination_cost(graph, cards, free)[0] * len(rows)
    return total / sum(len(rows) for _, _, rows in groups)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "network.json")
    parser.add_argument("--check-floors", action="store_true", help="exit 1 above the ceiling")
    parser.add_argument("--floors", type=Path, default=HERE / "floors.json")
    args = parser.parse_args(argv)

    from npprob.inference.engine import Engine
    from npprob.io.resources import clinical_spec_path
    from npprob.network.evidence import EvidenceBatch
    from npprob.network.spec import load_spec

    old, new = load_spec(FROZEN), load_spec(clinical_spec_path())
    sampled = forward_sample(old.network, args.patients, seed=3)
    rng = np.random.default_rng(4)
    shared = [
        v.name
        for v in old.network.findings
        if v.name in new.network and v.states == new.network.variable(v.name).states
    ]
    # About 60 % of the findings recorded per patient, as in a clinic.
    old_names = list(old.network.names)
    mask = rng.random((args.patients, len(old_names))) < 0.6
    condition = old_names.index("aetiology")
    cases = {"recorded": mask.copy(), "unrecorded": mask.copy()}
    cases["recorded"][:, condition] = True
    cases["unrecorded"][:, condition] = False
    targets = {"v1": old.target.name, "shipped": new.target.name}
    engines = {
        key: Engine(spec.network, spec.prior_draws(args.draws, seed=5))
        for key, spec in (("v1", old), ("shipped", new))
    }
    per: dict[str, dict[str, float]] = {}
    least_work: dict[str, dict[str, float]] = {}
    for case, kept_mask in cases.items():
        rows_of = np.where(kept_mask, sampled, -1).astype(np.int16)
        batches = {
            key: EvidenceBatch(
                spec.network,
                patient_rows(spec, [*shared, "aetiology"], rows_of, old_names, source=old),
            )
            for key, spec in (("v1", old), ("shipped", new))
        }
        for key in engines:  # warm: plans compiled
            engines[key].query(batches[key], [targets[key]])
        least_work[case] = {
            key: least_clique_entries(engines[key], batches[key], targets[key]) for key in engines
        }
        times: dict[str, list[float]] = {"v1": [], "shipped": []}
        for _ in range(args.repeats):
            for key in ("v1", "shipped"):
                t0 = time.perf_counter()
                engines[key].query(batches[key], [targets[key]])
                times[key].append(time.perf_counter() - t0)
        lanes = args.patients * args.draws
        per[case] = {k: statistics.median(v) / lanes * 1e9 for k, v in times.items()}
    results = {
        "environment": environment(),
        "patients": args.patients,
        "draws": args.draws,
        "variables": {"v1": len(old.network), "shipped": len(new.network)},
        "findings_shared": len(shared) + 1,
        "ns_per_patient_draw": per,
        "slowdown_vs_v1": per["recorded"]["shipped"] / per["recorded"]["v1"],
        "slowdown_vs_v1_unrecorded": per["unrecorded"]["shipped"] / per["unrecorded"]["v1"],
        "least_clique_entries_per_patient": least_work,
        "least_work_ratio_vs_v1": {
            case: work["shipped"] / work["v1"] for case, work in least_work.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        if key != "environment":
            print(f"  {key:24s} {value}")
    if args.check_floors:
        floors = json.loads(args.floors.read_text())["network"]
        failed = False
        for key, ceiling_key in (("slowdown_vs_v1", "max_slowdown_vs_v1"),
                                 ("slowdown_vs_v1_unrecorded", "max_slowdown_vs_v1_unrecorded")):  # fmt: skip
            ceiling = floors[ceiling_key]
            if results[key] > ceiling:
                print(f"bench_network: {key} {results[key]:.2f}x version 1, above {ceiling}",
                      file=sys.stderr)  # fmt: skip
                failed = True
            else:
                print(f"  ok   {key} = {results[key]:.2f} (ceiling {ceiling})")
        if failed:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
