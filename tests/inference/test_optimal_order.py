"""The exhaustive elimination-order search against every permutation, and the greedy order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from npprob.inference.ordering import (
    elimination_cost,
    interaction_graph,
    optimal_elimination_cost,
    weighted_min_fill_order,
)


def _random_problem(seed: int, n: int = 7):
    rng = np.random.default_rng(seed)
    cards = [int(c) for c in rng.integers(2, 6, size=n)]
    scopes = [tuple(rng.choice(n, size=int(rng.integers(1, 4)), replace=False)) for _ in range(n)]
    graph = interaction_graph(scopes, range(n))
    keep = int(rng.integers(0, n))
    eliminate = [v for v in range(n) if v != keep]
    return graph, cards, eliminate


def _clique_sizes_by_hand(graph, cards, order):
    """Elimination written out with explicit fill edges, independent of elimination_cost."""
    edges = {frozenset((a, b)) for a, nb in graph.items() for b in nb}
    alive = set(graph)
    sizes = []
    for v in order:
        nbrs = [u for u in alive if u != v and frozenset((u, v)) in edges]
        sizes.append(cards[v] * int(np.prod([cards[u] for u in nbrs])))
        edges |= {frozenset(p) for p in itertools.combinations(nbrs, 2)}
        alive.discard(v)
    return sizes


@pytest.mark.parametrize("seed", range(25))
def test_optimal_cost_is_the_least_over_every_permutation(seed):
    graph, cards, eliminate = _random_problem(seed)
    costs = [sum(_clique_sizes_by_hand(graph, cards, p)) for p in itertools.permutations(eliminate)]
    cost, order = optimal_elimination_cost(graph, cards, eliminate)
    assert cost == min(costs)
    assert sorted(order) == sorted(eliminate)
    assert elimination_cost(graph, cards, order) == cost


@pytest.mark.parametrize("seed", range(25))
def test_greedy_order_costs_at_least_the_optimum(seed):
    graph, cards, eliminate = _random_problem(seed, n=9)
    greedy = weighted_min_fill_order(graph, cards, eliminate)
    assert elimination_cost(graph, cards, greedy) == sum(
        _clique_sizes_by_hand(graph, cards, greedy)
    )
    assert (
        elimination_cost(graph, cards, greedy)
        >= optimal_elimination_cost(graph, cards, eliminate)[0]
    )


def test_a_star_keeps_its_hub_for_last_but_one():
    # Hub 0 (10 states) with binary leaves: eliminating the hub first joins every leaf
    # (10 * 2**5, then 32 + 16 + 8 + 4 + 2); the best takes four leaves (4 * 20), then
    # the hub beside the last leaf (20), then that leaf (2).
    graph = interaction_graph([(0, k) for k in range(1, 6)], range(6))
    cards = [10, 2, 2, 2, 2, 2]
    cost, order = optimal_elimination_cost(graph, cards, range(6))
    assert 0 not in order[:4]
    assert cost == 4 * 20 + 20 + 2
    assert elimination_cost(graph, cards, [0, 1, 2, 3, 4, 5]) == 10 * 2**5 + 32 + 16 + 8 + 4 + 2


def test_too_many_variables_are_refused():
    graph = interaction_graph([(k, k + 1) for k in range(30)], range(31))
    with pytest.raises(ValueError, match="limited to"):
        optimal_elimination_cost(graph, [2] * 31, range(31))
