"""The marginal likelihood's pruning and elimination against independent definitions.

* ``ancestral_set`` (shared by the exact engine's plans and the PyTensor
  compiler) against reachability in the DAG's transitive closure, and against
  the repeated barren-variable pruning the compiler used to run;
* ``log_evidence_graph`` with a conditioned root and a noisy label on random
  networks against brute-force enumeration of an augmented network;
* rows that record a variable with children and rows that do not, eliminated as
  separate groups, against brute force.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests._oracles import brute_force, spec_of
from tests.strategies import random_network

from npprob.inference.pruning import ancestral_set
from npprob.learning import elimination
from npprob.learning.elimination import log_evidence_graph
from npprob.network.network import Network
from npprob.network.sampling import forward_sample
from npprob.network.variable import Variable


def reachability(net: Network) -> np.ndarray:
    """``reach[a, b]``: a directed path (possibly empty) leads from ``a`` to ``b``."""
    index = {n: i for i, n in enumerate(net.names)}
    reach = np.eye(len(index), dtype=bool)
    for n in net.names:
        for p in net.parents(n):
            reach[index[p], index[n]] = True
    for k in range(len(index)):  # Warshall
        reach |= reach[:, [k]] & reach[[k], :]
    return reach


def barren_pruning(net: Network, needed: set[str]) -> set[str]:
    """Drop variables outside ``needed`` without a remaining child until none is left."""
    children = {n: set(net.children(n)) for n in net.names}
    active = set(net.names)
    changed = True
    while changed:
        changed = False
        for n in sorted(active):
            if n not in needed and not children[n] & active:
                active.discard(n)
                changed = True
    return active


@pytest.mark.parametrize("seed", range(20))
def test_ancestral_set_is_the_ancestors_and_what_barren_pruning_leaves(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    net = random_network(rng, n_vars=int(rng.integers(1, 12)), max_card=2, max_parents=3)
    names = list(net.names)
    reach = reachability(net)
    for _ in range(5):
        seeds = {n for n in names if rng.random() < 0.3}
        by_name = ancestral_set({n: net.parents(n) for n in names}, seeds)
        expected = {a for i, a in enumerate(names) if any(reach[i, names.index(s)] for s in seeds)}
        assert by_name == expected
        assert by_name == barren_pruning(net, seeds)
        index = {n: i for i, n in enumerate(names)}
        parents = [[index[p] for p in net.parents(n)] for n in names]
        assert ancestral_set(parents, (index[s] for s in seeds)) == {index[n] for n in expected}


def evaluate(graph) -> np.ndarray:
    import pytensor

    return pytensor.function([], graph, mode="NUMBA")()


@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
@pytest.mark.parametrize("large", [False, True], ids=["small-batch", "large-batch-forms"])
@pytest.mark.parametrize("seed", range(6))
def test_skip_and_label_on_random_networks_match_brute_force(
    seed: int, large: bool, monkeypatch
) -> None:
    if large:  # the gathered scope sums and the split, used from LARGE_BATCH rows on
        monkeypatch.setattr(elimination, "LARGE_BATCH", 1)
    rng = np.random.default_rng(400 + seed)
    net = random_network(rng, n_vars=7, max_card=3, max_parents=3)
    while not any(len(v.states) == 2 for v in net.variables):
        net = random_network(rng, n_vars=7, max_card=3, max_parents=3)
    names = list(net.names)
    full = np.asarray(forward_sample(net, 40, rng), dtype=np.int16)
    codes = np.where(rng.random(full.shape) < 0.5, full, -1).astype(np.int16)
    root = names[0]  # topological order: the first variable has no parents
    codes[:, 0] = full[:, 0]
    parent = next(v.name for v in net.variables if len(v.states) == 2)
    table = np.array([[0.8, 0.2], [0.3, 0.7]])
    label = np.where(rng.random(len(codes)) < 0.2, -1, rng.integers(0, 2, len(codes)))
    label = label.astype(np.int16)
    theta = {n: np.asarray(net.cpt(n), dtype=np.float64) for n in names}
    mine = evaluate(
        log_evidence_graph(net, theta, codes, skip=[root], label=(parent, table, label))
    )
    augmented = Network(
        [*net.variables, Variable("label", ("0", "1"))],
        {**{n: list(net.parents(n)) for n in names}, "label": [parent]},
        {**theta, "label": table},
    )
    assert list(augmented.names) == [*names, "label"]  # the codes' column order
    joint = brute_force(spec_of(augmented), np.column_stack([codes, label]), []).p_evidence
    expected = np.log(joint) - np.log(theta[root][codes[:, 0]])
    np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-10)


@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
@pytest.mark.parametrize("seed", range(4))
def test_rows_split_by_what_they_record_match_brute_force(seed: int, monkeypatch) -> None:
    monkeypatch.setattr(elimination, "LARGE_BATCH", 1)  # gathered sums and the split
    rng = np.random.default_rng(700 + seed)
    net = random_network(rng, n_vars=7, max_card=3, max_parents=3)
    names = list(net.names)
    inner = [n for n in names if net.children(n)]
    while len(inner) < 2:
        net = random_network(rng, n_vars=7, max_card=3, max_parents=3)
        names = list(net.names)
        inner = [n for n in names if net.children(n)]
    codes = np.asarray(forward_sample(net, 60, rng), dtype=np.int16)
    hidden = inner[: 1 + seed % 2]  # one or two variables with children, partly recorded
    for n in hidden:
        codes[rng.random(len(codes)) < 0.4, names.index(n)] = -1
    leaves = [j for j, n in enumerate(names) if not net.children(n)]
    codes[:, leaves] = np.where(rng.random((len(codes), len(leaves))) < 0.2, -1, codes[:, leaves])
    seen = [codes[:, names.index(n)] >= 0 for n in hidden]
    groups = elimination._split_rows(seen)
    assert len(codes) < 2000  # split only because the threshold was lowered
    assert groups is not None
    assert len(groups) == 2 ** len(hidden)
    theta = {n: np.asarray(net.cpt(n), dtype=np.float64) for n in names}
    mine = evaluate(log_evidence_graph(net, theta, codes))
    expected = np.log(brute_force(spec_of(net), codes, []).p_evidence)
    np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-10)
