"""Joint posteriors of several variables, checked against brute-force enumeration."""

from __future__ import annotations

import numpy as np
import pytest

from _oracles import joint_table, spec_of
from npprob.errors import NetworkError, ZeroProbabilityEvidenceError
from npprob.inference import Engine
from npprob.network import Network, Variable
from strategies import base_seed, draw_cpts, random_cpts, random_network, sample_evidence

pytestmark = pytest.mark.compat


def brute_joint(spec, codes_row, variables) -> np.ndarray:
    """P(variables | evidence) from the full joint; axes in the order of ``variables``."""
    joint = joint_table(spec)
    index = tuple(slice(int(c), int(c) + 1) if c >= 0 else slice(None) for c in codes_row)
    conditioned = joint[index]
    keep = [spec.names.index(v) for v in variables]
    other = tuple(i for i in range(len(spec.names)) if i not in keep)
    table = conditioned.sum(axis=other, keepdims=True)
    table = np.squeeze(table, axis=other) if other else table
    # The kept axes are in network-name order; reorder to the order asked for.
    order = np.argsort(np.argsort(keep))
    table = np.transpose(table, order)
    total = table.sum()
    # Observed variables among the kept ones were sliced to length 1: re-embed them.
    full = np.zeros([len(spec.states[v]) for v in variables])
    where = tuple(
        slice(int(codes_row[spec.names.index(v)]), int(codes_row[spec.names.index(v)]) + 1)
        if codes_row[spec.names.index(v)] >= 0
        else slice(None)
        for v in variables
    )
    full[where] = table / total
    return full


@pytest.mark.parametrize("seed", range(60))
def test_joint_matches_brute_force(seed):
    rng = np.random.default_rng([base_seed(), 77_000 + seed])
    network = random_network(rng, int(rng.integers(3, 8)), 4, 3)
    n_draws = int(rng.choice([1, 3]))
    cpts = random_cpts(rng, network, n_draws)
    engine = Engine(network, cpts)
    spec_any = spec_of(network, draw_cpts(cpts, network, 0))
    codes = sample_evidence(rng, spec_any, int(rng.integers(1, 12)), observe=0.4)
    k = int(rng.integers(1, min(4, len(network)) + 1))
    variables = list(rng.choice(network.names, size=k, replace=False))
    result = engine.joint(codes, variables)
    assert result.shape == (
        n_draws,
        len(codes),
        *[network.variable(v).cardinality for v in variables],
    )
    for d in range(n_draws):
        spec = spec_of(network, draw_cpts(cpts, network, d))
        for r, row in enumerate(codes):
            expected = brute_joint(spec, row, variables)
            np.testing.assert_allclose(
                result[d, r], expected, atol=1e-10, rtol=0, err_msg=f"{d=} {r=}"
            )


def test_family_joint_marginalises_to_the_single_marginals():
    rng = np.random.default_rng([base_seed(), 78_000])
    network = random_network(rng, 7, 3, 3)
    engine = Engine(network)
    codes = sample_evidence(rng, spec_of(network), 30, observe=0.3)
    for name in network.names:
        family = [*network.parents(name), name]
        table = engine.joint(codes, family)
        single = engine.query(codes, [name]).marginal(name)
        np.testing.assert_allclose(
            table.sum(axis=tuple(range(2, 1 + len(family)))), single, atol=1e-12
        )


def test_joint_errors():
    net = Network(
        [Variable("a", ("0", "1")), Variable("b", ("0", "1"))],
        {"b": ["a"]},
        {"a": [0.5, 0.5], "b": [[1.0, 0.0], [0.5, 0.5]]},
    )
    engine = Engine(net)
    with pytest.raises(NetworkError, match="at least one variable"):
        engine.joint({}, [])
    with pytest.raises(NetworkError, match="listed twice"):
        engine.joint({}, ["a", "a"])
    with pytest.raises(ZeroProbabilityEvidenceError):
        engine.joint({"a": "0", "b": "1"}, ["a", "b"])
    nan = engine.joint([{"a": "0", "b": "1"}, {"b": "1"}], ["a", "b"], on_zero="nan")
    assert np.isnan(nan[0, 0]).all()
    np.testing.assert_allclose(nan[0, 1], [[0.0, 0.0], [0.0, 1.0]])
