"""The heap-based min-fill order equals a full scan per step (the definition)."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.inference.ordering import interaction_graph, weighted_min_fill_order


def _full_scan(graph, cardinalities, eliminate):
    g = {v: set(nb) for v, nb in graph.items()}
    todo = set(eliminate)
    order = []
    while todo:

        def key(v):
            nbrs = sorted(g[v])
            fill = sum(cardinalities[a] * cardinalities[b]
                       for i, a in enumerate(nbrs) for b in nbrs[i + 1:] if b not in g[a])  # fmt: skip
            return (fill, cardinalities[v] * int(np.prod([cardinalities[a] for a in nbrs])), v)

        best = min(todo, key=key)
        nbrs = g.pop(best)
        for a in nbrs:
            g[a].discard(best)
            g[a].update(b for b in nbrs if b != a)
        todo.discard(best)
        order.append(best)
    return order


@pytest.mark.parametrize("seed", range(30))
def test_order_equals_the_full_scan(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    cards = [int(c) for c in rng.integers(2, 5, size=n)]
    scopes = []
    for v in range(n):
        k = int(rng.integers(0, min(v, 3) + 1))
        parents = rng.choice(v, size=k, replace=False).tolist() if k else []
        scopes.append([v, *parents])
    graph = interaction_graph(scopes, range(n))
    eliminate = [v for v in range(n) if rng.random() < 0.8]
    assert weighted_min_fill_order(graph, cards, eliminate) == _full_scan(graph, cards, eliminate)


def test_a_long_chain_is_ordered_from_its_ends():
    n = 5000
    graph = interaction_graph(([v, v + 1] for v in range(n - 1)), range(n))
    order = weighted_min_fill_order(graph, [2] * n, range(1, n))
    assert sorted(order) == list(range(1, n))
    assert order[0] == n - 1  # an end: no fill, smallest clique, then the larger index first
