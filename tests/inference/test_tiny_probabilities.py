"""The engine at the numerical edge: CPT entries down to subnormal numbers, P(e) far
below the double range. Oracle: exact rational enumeration of the joint (Fraction),
which nothing in npprob computes."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from npprob.inference.engine import Engine
from npprob.network.network import Network
from npprob.network.variable import Variable

TINY_ENTRIES = (1e-100, 1e-150, 1e-200, 1e-250, 1e-300, 1e-320, 1e-323, 5e-324)


def _network(cards, parents, cpts) -> Network:
    variables = [Variable(v, tuple(f"s{j}" for j in range(c))) for v, c in cards.items()]
    return Network(variables, parents, cpts)


def _exact(cards, parents, cpts, evidence, target):
    """Exact posterior of ``target`` and P(evidence), as Fractions of the float entries."""
    names = list(cards)
    weights = [Fraction(0)] * cards[target]
    for conf in itertools.product(*(range(cards[v]) for v in names)):
        a = dict(zip(names, conf, strict=True))
        if any(a[v] != s for v, s in evidence.items()):
            continue
        w = Fraction(1)
        for v in names:
            w *= Fraction(float(cpts[v][(*(a[p] for p in parents[v]), a[v])]))
            if not w:
                break
        weights[a[target]] += w
    total = sum(weights)
    return (None if total == 0 else [w / total for w in weights]), total


def _log_fraction(x: Fraction) -> float:
    return math.log(x.numerator) - math.log(x.denominator)


def test_entries_of_1e_150_beside_1e_300_keep_an_even_posterior():
    # A -> B, A -> C; the evidence weighs both states of A equally, through factors whose
    # products span far more than the double range.
    cards = {"A": 2, "B": 2, "C": 2}
    parents = {"A": [], "B": ["A"], "C": ["A"]}
    cpts = {
        "A": np.array([0.5, 0.5]),
        "B": np.array([[1e-150, 1 - 1e-150], [1e-300, 1 - 1e-300]]),
        "C": np.array([[1e-300, 1 - 1e-300], [1e-150, 1 - 1e-150]]),
    }
    result = Engine(_network(cards, parents, cpts)).query({"B": "s0", "C": "s0"}, ["A"])
    np.testing.assert_allclose(result.mean("A")[0], [0.5, 0.5], rtol=0, atol=1e-12)
    expected = math.log(0.5) + math.log(1e-150) + math.log(1e-300)
    assert result.log_evidence[0, 0] == pytest.approx(expected + math.log(2), rel=1e-12)


def test_subnormal_entries_keep_their_ratio():
    cards = {"A": 2, "B": 2}
    parents = {"A": [], "B": ["A"]}
    cpts = {"A": np.array([0.5, 0.5]), "B": np.array([[5e-324, 1.0], [1e-323, 1.0]])}
    result = Engine(_network(cards, parents, cpts)).query({"B": "s0"}, ["A"])
    np.testing.assert_allclose(result.mean("A")[0], [1 / 3, 2 / 3], rtol=0, atol=1e-12)


def test_evidence_of_probability_1e_minus_500_is_not_contradictory():
    # Five findings of probability 1e-100 each: P(e) = 1e-500 > 0.
    cards = {"H": 2, **{f"F{i}": 2 for i in range(5)}}
    parents = {"H": [], **{f"F{i}": ["H"] for i in range(5)}}
    cpts = {"H": np.array([0.3, 0.7])}
    for i in range(5):
        cpts[f"F{i}"] = np.array([[1e-100, 1 - 1e-100], [1e-100, 1 - 1e-100]])
    engine = Engine(_network(cards, parents, cpts))
    result = engine.query({f"F{i}": "s0" for i in range(5)}, ["H"], on_zero="raise")
    np.testing.assert_allclose(result.mean("H")[0], [0.3, 0.7], rtol=0, atol=1e-12)
    assert result.log_evidence[0, 0] == pytest.approx(-500 * math.log(10), rel=1e-12)


def _random_case(rng):
    n = int(rng.integers(2, 5))
    names = [f"v{i}" for i in range(n)]
    cards = {v: int(rng.integers(2, 4)) for v in names}
    parents = {}
    for i, v in enumerate(names):
        k = int(rng.integers(0, min(i, 2) + 1))
        parents[v] = [str(p) for p in rng.choice(names[:i], size=k, replace=False)] if k else []
    cpts = {}
    for v in names:
        shape = [cards[p] for p in parents[v]] + [cards[v]]
        table = rng.random(shape)
        tiny = rng.random(shape) < 0.5
        table = np.where(tiny, rng.choice(TINY_ENTRIES, size=shape), table)
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
    target = names[0]
    observed = [v for v in names[1:] if rng.random() < 0.7] or [names[-1]]
    evidence = {v: int(rng.integers(0, cards[v])) for v in observed}
    return cards, parents, cpts, evidence, target


@pytest.mark.parametrize("block", range(4))
def test_random_networks_with_tiny_entries_match_exact_enumeration(block):
    rng = np.random.default_rng([20261205, block])
    checked = impossible = 0
    for _ in range(75):
        cards, parents, cpts, evidence, target = _random_case(rng)
        want, p_evidence = _exact(cards, parents, cpts, evidence, target)
        engine = Engine(_network(cards, parents, cpts))
        result = engine.query({v: f"s{s}" for v, s in evidence.items()}, [target], on_zero="nan")
        got = result.mean(target)[0]
        if want is None:
            # Impossible exactly: and only then refused.
            assert np.isnan(got).all()
            impossible += 1
            continue
        np.testing.assert_allclose(got, [float(w) for w in want], rtol=0, atol=1e-9)
        assert result.log_evidence[0, 0] == pytest.approx(_log_fraction(p_evidence), rel=1e-9)
        checked += 1
    assert checked >= 60
