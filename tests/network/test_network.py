"""Validation of Network and Variable construction, and the topological order."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from npprob.errors import NetworkError
from npprob.network import ROW_SUM_TOLERANCE, Network, Variable
from strategies import base_seed, random_network


def binary(name: str) -> Variable:
    return Variable(name, ("f", "t"))


def chain_net(cpt_b=None) -> Network:
    return Network(
        [binary("a"), Variable("b", ("x", "y", "z"))],
        {"b": ["a"]},
        {"a": [0.4, 0.6], "b": cpt_b if cpt_b is not None else [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]},
    )


# -- cycles ---------------------------------------------------------------------------


def _reported_cycle(message: str) -> list[str]:
    found = re.search(r"cycle: (.+)\.$", message)
    assert found, message
    return found.group(1).split(" -> ")


@pytest.mark.parametrize(
    ("parents", "cycle_nodes"),
    [
        ({"a": ["b"], "b": ["a"]}, {"a", "b"}),
        ({"a": ["c"], "b": ["a"], "c": ["b"]}, {"a", "b", "c"}),
        # a tail into and out of the cycle must not be reported as part of it
        ({"a": ["e"], "b": ["a", "d"], "c": ["b"], "d": ["c"], "f": ["d"]}, {"b", "c", "d"}),
    ],
)
def test_cycle_is_named(parents, cycle_nodes):
    names = ["a", "b", "c", "d", "e", "f"]
    cpts = {}
    for n in names:
        k = len(parents.get(n, ()))
        cpts[n] = np.full((2,) * k + (2,), 0.5)
    with pytest.raises(NetworkError, match="cycle") as info:
        Network([binary(n) for n in names], parents, cpts)
    cycle = _reported_cycle(str(info.value))
    assert cycle[0] == cycle[-1]
    assert set(cycle) == cycle_nodes
    assert len(cycle) == len(cycle_nodes) + 1
    for parent, child in itertools.pairwise(cycle):
        assert parent in parents[child], (parent, child)
    assert info.value.variable in cycle_nodes


def test_self_parent():
    with pytest.raises(NetworkError, match="own parent"):
        Network([binary("a")], {"a": ["a"]}, {"a": np.full((2, 2), 0.5)})


# -- names and parents -----------------------------------------------------------------


def test_unknown_parent_with_suggestion():
    with pytest.raises(NetworkError, match="unknown parent 'raim'") as info:
        Network(
            [binary("rain"), binary("wet")],
            {"wet": ["raim"]},
            {"rain": [0.5, 0.5], "wet": np.full((2, 2), 0.5)},
        )
    assert "Did you mean 'rain'" in str(info.value)
    assert info.value.variable == "wet"


def test_parents_for_unknown_variable():
    with pytest.raises(NetworkError, match="unknown variable 'c'"):
        Network([binary("a")], {"c": ["a"]}, {"a": [0.5, 0.5]})


def test_parent_listed_twice():
    with pytest.raises(NetworkError, match="twice"):
        Network(
            [binary("a"), binary("b")],
            {"b": ["a", "a"]},
            {"a": [0.5, 0.5], "b": np.full((2, 2, 2), 0.5)},
        )


def test_duplicate_variable_names():
    with pytest.raises(NetworkError, match="Duplicate variable name 'a'") as info:
        Network([binary("a"), binary("b"), Variable("a", ("x", "y", "z"))], {}, {})
    assert info.value.variable == "a"


def test_non_variable_objects():
    with pytest.raises(NetworkError, match="Variable"):
        Network(["a"], {}, {"a": [1.0]})


def test_missing_cpt():
    with pytest.raises(NetworkError, match="'b' has no CPT"):
        Network([binary("a"), binary("b")], {}, {"a": [0.5, 0.5]})


def test_cpt_for_unknown_variable():
    with pytest.raises(NetworkError, match="unknown variable 'bb'"):
        Network([binary("b")], {}, {"b": [0.5, 0.5], "bb": [0.5, 0.5]})


# -- variables ------------------------------------------------------------------------


def test_duplicate_states():
    with pytest.raises(NetworkError, match="duplicate states: x") as info:
        Variable("v", ("x", "y", "x"))
    assert info.value.variable == "v"


@pytest.mark.parametrize("states", [(), ("a", ""), ("a", 3)])
def test_invalid_states(states):
    with pytest.raises(NetworkError, match="'v'"):
        Variable("v", states)


@pytest.mark.parametrize("name", ["", None, 7])
def test_invalid_variable_name(name):
    with pytest.raises(NetworkError, match="non-empty"):
        Variable(name, ("a", "b"))


def test_variable_state_lookup():
    v = Variable("v", ["lo", "mid", "hi"])
    assert v.states == ("lo", "mid", "hi")
    assert v.cardinality == 3
    assert v.state_index("hi") == 2
    with pytest.raises(KeyError):
        v.state_index("max")


# -- CPT values and shapes ------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(3, 2), (2,), (3,), (2, 3, 1), (1, 2, 3)],
)
def test_cpt_shape_mismatch(shape):
    with pytest.raises(NetworkError, match=r"expected \(2, 3\)") as info:
        chain_net(np.full(shape, 1.0 / shape[-1]))
    assert info.value.variable == "b"


def test_row_sum_tolerance():
    assert 1e-10 < ROW_SUM_TOLERANCE < 1e-8
    ok = np.array([[0.2, 0.3, 0.5 + 1e-10], [0.1, 0.1, 0.8 - 1e-10]])
    net = chain_net(ok)
    np.testing.assert_array_equal(net.cpt("b"), ok)
    for delta in (1e-8, -1e-8):
        bad = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8 + delta]])
        with pytest.raises(NetworkError, match=r"row \(1,\)") as info:
            chain_net(bad)
        assert info.value.variable == "b"


def test_root_row_sum_off():
    with pytest.raises(NetworkError, match="'a'"):
        Network([binary("a")], {}, {"a": [0.5, 0.5 + 1e-8]})


@pytest.mark.parametrize(
    ("value", "match"),
    [(-0.1, "negative"), (np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")],
)
def test_invalid_probabilities(value, match):
    cpt = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    cpt[1, 2] = value
    cpt[1, 0] = 0.9 - value if np.isfinite(value) else 0.1
    with pytest.raises(NetworkError, match=match):
        chain_net(cpt)


def test_non_numeric_cpt():
    with pytest.raises(NetworkError, match="not numeric"):
        chain_net([["a", "b", "c"], ["d", "e", "f"]])


def test_cpt_is_read_only_copy():
    table = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    net = chain_net(table)
    table[0] = [1.0, 0.0, 0.0]  # the caller's array is not aliased
    np.testing.assert_array_equal(net.cpt("b")[0], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="read-only"):
        net.cpt("b")[0, 0] = 0.0


def test_with_cpts_validates_and_replaces():
    net = chain_net()
    other = net.with_cpts({"a": [0.9, 0.1]})
    np.testing.assert_array_equal(other.cpt("a"), [0.9, 0.1])
    np.testing.assert_array_equal(net.cpt("a"), [0.4, 0.6])
    with pytest.raises(NetworkError, match="'a'"):
        net.with_cpts({"a": [0.9, 0.2]})


def test_add_variable():
    net = chain_net().add_variable(binary("c"), ["b"], np.full((3, 2), 0.5))
    assert net.names == ("a", "b", "c")
    assert net.parents("c") == ("b",)
    assert net.children("b") == ("c",)
    with pytest.raises(NetworkError, match="unknown parent"):
        chain_net().add_variable(binary("c"), ["q"], np.full((2, 2), 0.5))


def test_unknown_variable_lookup():
    net = chain_net()
    with pytest.raises(NetworkError, match="Did you mean 'a'"):
        net.index("A")
    with pytest.raises(NetworkError, match="Unknown variable"):
        net.cpt("zz")
    assert "a" in net
    assert "zz" not in net


# -- topological order ----------------------------------------------------------------


def test_topological_order_keeps_input_order_for_ties():
    names = ["c", "a", "d", "b"]
    net = Network([binary(n) for n in names], {}, {n: [0.5, 0.5] for n in names})
    assert net.names == tuple(names)


def test_topological_order_parents_first():
    # given children before parents
    net = Network(
        [binary("child"), binary("p2"), binary("p1"), binary("other")],
        {"child": ["p1", "p2"]},
        {
            "child": np.full((2, 2, 2), 0.5),
            "p1": [0.5, 0.5],
            "p2": [0.5, 0.5],
            "other": [0.5, 0.5],
        },
    )
    # Kahn's algorithm: whenever several variables are ready, the one given first goes first
    assert net.names == ("p2", "p1", "child", "other")
    assert net.parents("child") == ("p1", "p2")  # CPT axis order is kept
    assert net.cpt_shape("child") == (2, 2, 2)
    assert set(net.children("p1")) == {"child"}
    np.testing.assert_array_equal(net.cardinalities, [2, 2, 2, 2])


@pytest.mark.parametrize("seed", range(20))
def test_topological_order_random_networks(seed):
    rng = np.random.default_rng([base_seed(), 50_000 + seed])
    net = random_network(rng, int(rng.integers(2, 15)), 4, 3)
    position = {n: i for i, n in enumerate(net.names)}
    assert len(position) == len(net)
    for n in net.names:
        for p in net.parents(n):
            assert position[p] < position[n]
            assert n in net.children(p)
        assert [net.variable(n).cardinality for n in (*net.parents(n), n)] == list(net.cpt_shape(n))
        assert net.cpt(n).shape == net.cpt_shape(n)
        np.testing.assert_allclose(net.cpt(n).sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    for i, v in enumerate(net.variables):
        assert net.index(v.name) == i


def test_structure_digest_ignores_probabilities():
    a = chain_net()
    b = chain_net([[0.5, 0.25, 0.25], [0.3, 0.3, 0.4]])
    assert a.structure_digest() == b.structure_digest()
    c = Network(
        [binary("a"), Variable("b", ("x", "y", "w"))],
        {"b": ["a"]},
        {"a": [0.4, 0.6], "b": [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]},
    )
    assert a.structure_digest() != c.structure_digest()
