"""Which patients get a plan of their own: every evidence pattern decided at once, as defined.

A pattern (the variables a patient observes, plus the leaves anyone observes) gets its
own plan when it has at least ``EXACT_PLAN_MIN_LANES`` patient-draws or its plan is
already cached; the other patients share plans. Checked against that definition,
computed row by row with a dictionary.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from npprob.inference import Engine
from npprob.inference.engine import EXACT_PLAN_MIN_LANES
from strategies import random_cpts, random_network


def by_definition(engine: Engine, codes: np.ndarray, targets: tuple[int, ...]) -> set:
    """The patterns that get their own plan, from the rule applied to each pattern."""
    observed = codes >= 0
    key = observed | (engine.layout.has_ones_column & observed.any(axis=0))[None, :]
    key[:, list(targets)] = observed[:, list(targets)]
    rows = defaultdict(list)
    for i, row in enumerate(key):
        rows[frozenset(np.flatnonzero(row).tolist())].append(i)
    return {
        (pattern, tuple(members))
        for pattern, members in rows.items()
        if len(members) * engine.n_draws >= EXACT_PLAN_MIN_LANES
        or (pattern, targets, frozenset(), False) in engine._plans
    }


def repeated_patterns(rng, network, n_patients: int) -> np.ndarray:
    """Evidence with a dozen observation patterns, from common to rare, random states."""
    n_vars = len(network)
    masks = rng.random((12, n_vars)) < 0.4
    weights = 1.0 / np.arange(1, 13) ** 1.5
    which = rng.choice(12, size=n_patients, p=weights / weights.sum())
    states = rng.integers(0, network.cardinalities[None, :], size=(n_patients, n_vars))
    return np.where(masks[which], states, -1)


# 70 variables: pattern keys wider than 64 bits take the other branch of the grouping.
@pytest.mark.parametrize("n_vars", [8, 70])
def test_own_plans_follow_the_rule(rng, n_vars):
    network = random_network(rng, n_vars, 2, 2, parent_window=3)  # two states each
    codes = repeated_patterns(rng, network, 300)
    targets = (0,)
    many = Engine(network, random_cpts(rng, network, 300))
    few = many.with_parameters(random_cpts(rng, network, 20))  # shares the plan cache
    expected_many = by_definition(many, codes, targets)
    many.query(codes, [network.names[0]], on_zero="nan")  # caches the common patterns' plans
    # With 20 draws no pattern is large enough, but the cached plans are used.
    expected_few = by_definition(few, codes, targets)
    assert expected_few == by_definition(many, codes, targets)
    assert 1 < len(expected_many) < 12
    for engine, expected in ((many, expected_many), (few, expected_few)):
        groups = engine._group(codes, targets)
        rows = np.concatenate([g[2] for g in groups])
        np.testing.assert_array_equal(np.sort(rows), np.arange(len(codes)))  # each row once
        found = {(hard, tuple(members.tolist())) for hard, _, members in groups}
        assert expected <= found
        # Two-state variables only (none wide): the other patients share a single plan.
        shared = len(codes) - sum(len(members) for _, members in expected)
        assert len(groups) == len(expected) + (shared > 0)
