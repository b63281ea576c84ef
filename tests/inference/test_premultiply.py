"""Inputs of a large op are multiplied in pairs first when their joint scope is small.

A wide unrecorded variable (the clinical condition) with many children joins every
child's other parent in one op. Multiplying the inputs pairwise over their (small)
unions first must give the same answer as enumeration over the joint, and must lower
the per-patient work of such a plan.
"""

from __future__ import annotations

import numpy as np
import pytest

from _oracles import brute_force, spec_of
from npprob.inference import Engine
from npprob.inference import plan as plan_module
from npprob.inference.layout import ParameterLayout
from npprob.inference.plan import compile_plan
from npprob.network import EvidenceBatch, Network, Variable
from strategies import random_table

pytestmark = pytest.mark.compat


def hub_network(rng: np.random.Generator, n_mechanisms: int = 5, wide: int = 9) -> Network:
    """A wide root, binary mechanisms under it, findings under (root, mechanism).

    A finding ``pain`` under every mechanism (observed, as chronic pain is) links the
    mechanisms, so that summing out an unrecorded root joins all of them.
    """
    variables = [Variable("condition", tuple(f"c{i}" for i in range(wide)))]
    parents: dict[str, list[str]] = {"condition": []}
    cpts = {"condition": random_table(rng, (wide,))}
    for i in range(n_mechanisms):
        m, f, g = f"m{i}", f"f{i}", f"g{i}"
        variables += [Variable(m, ("no", "yes")), Variable(f, ("no", "yes")), Variable(g, ("no", "yes"))]  # fmt: skip
        parents[m] = ["condition"]
        parents[f] = ["condition", m]
        parents[g] = [m]
        cpts[m] = random_table(rng, (wide, 2))
        cpts[f] = random_table(rng, (wide, 2, 2))
        cpts[g] = random_table(rng, (2, 2))
    mechanisms = [f"m{i}" for i in range(n_mechanisms)]
    variables.append(Variable("pain", ("no", "yes")))
    parents["pain"] = mechanisms
    cpts["pain"] = random_table(rng, (2,) * (n_mechanisms + 1))
    return Network(variables, parents, cpts, name="hub")


def work_gathers(plan) -> int:
    """Per-lane gathers of a plan's per-patient ops."""
    inputs = np.diff(plan.w_in_start)
    return int((plan.w_out_size * plan.w_sum_size * inputs).sum())


def without_pair_merging(monkeypatch) -> None:
    monkeypatch.setattr(plan_module._Builder, "merge_pairs", lambda self, f, size: f)


@pytest.mark.parametrize("seed", range(6))
def test_merged_plans_agree_with_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    network = hub_network(rng)
    spec = spec_of(network)
    n = 30
    codes = np.full((n, len(network)), -1, dtype=np.int64)
    condition = network.index("condition")
    for i in range(5):
        for name in (f"f{i}", f"g{i}"):
            column = network.index(name)
            codes[:, column] = np.where(rng.random(n) < 0.7, rng.integers(0, 2, n), -1)
    codes[: n // 2, condition] = rng.integers(0, 9, n // 2)
    codes[:, network.index("pain")] = 1
    engine = Engine(network)
    targets = ["m0", "condition"]
    result = engine.query(EvidenceBatch(network, codes), targets)
    expected = brute_force(spec, codes, targets)
    np.testing.assert_allclose(result.probabilities[0], expected.stacked(targets), atol=1e-12)
    np.testing.assert_allclose(result.log_evidence[0], np.log(expected.p_evidence), atol=1e-10)


def test_pair_merging_lowers_the_work_of_an_unrecorded_wide_variable(monkeypatch) -> None:
    network = hub_network(np.random.default_rng(3))
    layout = ParameterLayout(network)
    evidence = frozenset(network.index(f"f{i}") for i in range(5)) | {network.index("pain")}
    target = (network.index("m0"),)
    merged = compile_plan(layout, evidence, target)
    without_pair_merging(monkeypatch)
    plain = compile_plan(layout, evidence, target)
    # Summing out the condition multiplies its prior and five factors over (condition, one
    # mechanism) into a table over all mechanisms; multiplied pairwise over their unions
    # first, fewer inputs reach that table: the per-lane work falls by a third or more.
    assert 3 * work_gathers(merged) <= 2 * work_gathers(plain), (
        work_gathers(merged),
        work_gathers(plain),
    )
