"""family_counts against an independent loop over rows (missing values, weights)."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.learning import family_counts
from npprob.network import Network, Variable


def small_network() -> Network:
    """a -> b, (a, b) -> c, c -> d; cardinalities 3, 2, 2, 3; listed out of order."""
    variables = [
        Variable("d", ("d0", "d1", "d2")),
        Variable("c", ("c0", "c1")),
        Variable("a", ("a0", "a1", "a2")),
        Variable("b", ("b0", "b1")),
    ]
    parents = {"b": ["a"], "c": ["a", "b"], "d": ["c"]}
    cpts = {
        "a": [0.2, 0.3, 0.5],
        "b": [[0.5, 0.5], [0.1, 0.9], [0.7, 0.3]],
        "c": [[[0.5, 0.5], [0.4, 0.6]], [[0.3, 0.7], [0.2, 0.8]], [[0.9, 0.1], [0.6, 0.4]]],
        "d": [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]],
    }
    return Network(variables, parents, cpts)


def loop_counts(network: Network, codes: np.ndarray, weights) -> dict[str, np.ndarray]:
    """The oracle: one Python loop over rows per variable, no numpy indexing tricks."""
    out = {}
    for name in network.names:
        family = [*network.parents(name), name]
        columns = [network.names.index(v) for v in family]
        table = np.zeros(network.cpt_shape(name))
        for r in range(codes.shape[0]):
            cell = tuple(int(codes[r][j]) for j in columns)
            if any(c < 0 for c in cell):
                continue
            table[cell] += 1.0 if weights is None else float(weights[r])
        out[name] = table
    return out


def random_codes(network: Network, n: int, rng: np.random.Generator, p_missing: float):
    cards = network.cardinalities
    codes = rng.integers(0, cards, size=(n, len(cards))).astype(np.int16)
    codes[rng.random(codes.shape) < p_missing] = -1
    return codes


@pytest.mark.parametrize("p_missing", [0.0, 0.2, 0.6])
@pytest.mark.parametrize("weighted", [False, True])
def test_family_counts_match_a_loop_over_rows(rng, p_missing, weighted):
    net = small_network()
    codes = random_codes(net, 257, rng, p_missing)
    weights = rng.integers(1, 6, size=len(codes)).astype(float) if weighted else None
    got = family_counts(net, codes, weights)
    want = loop_counts(net, codes, weights)
    assert set(got) == set(net.names)
    for name in net.names:
        assert got[name].shape == net.cpt_shape(name), name
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_fractional_weights_match_the_loop(rng):
    net = small_network()
    codes = random_codes(net, 100, rng, 0.3)
    weights = rng.random(len(codes)) * 3
    got = family_counts(net, codes, weights)
    want = loop_counts(net, codes, weights)
    for name in net.names:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_integer_weights_equal_repeated_rows(rng):
    net = small_network()
    codes = random_codes(net, 60, rng, 0.25)
    weights = rng.integers(0, 4, size=len(codes))
    repeated = np.repeat(codes, weights, axis=0)
    got = family_counts(net, codes, weights)
    want = family_counts(net, repeated)
    for name in net.names:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_a_missing_value_drops_the_row_only_for_families_containing_it():
    net = small_network()
    col = {n: net.index(n) for n in net.names}
    row = np.full(len(net), -1, dtype=np.int16)
    row[col["a"]], row[col["b"]], row[col["c"]] = 2, 1, 0  # d missing
    counts = family_counts(net, row[None, :])
    assert counts["a"][2] == 1
    assert counts["b"][2, 1] == 1
    assert counts["c"][2, 1, 0] == 1
    assert counts["d"].sum() == 0  # d's family is (c, d): d is missing

    row = np.array(row)
    row[col["d"]] = 1
    row[col["a"]] = -1  # a missing: a, b and c lose the row, d (family c, d) keeps it
    counts = family_counts(net, row[None, :])
    assert counts["a"].sum() == counts["b"].sum() == counts["c"].sum() == 0
    assert counts["d"][0, 1] == 1
    assert counts["d"].sum() == 1


def test_no_rows_and_all_missing_give_zero_tables():
    net = small_network()
    empty = family_counts(net, np.zeros((0, len(net)), dtype=np.int16))
    missing = family_counts(net, np.full((5, len(net)), -1, dtype=np.int16))
    for name in net.names:
        assert empty[name].shape == missing[name].shape == net.cpt_shape(name)
        assert not empty[name].any()
        assert not missing[name].any()


def test_complete_rows_count_every_row_once_per_variable(rng):
    net = small_network()
    codes = random_codes(net, 500, rng, 0.0)
    counts = family_counts(net, codes)
    for name in net.names:
        assert counts[name].sum() == 500, name
    # The root's table is the histogram of its column.
    np.testing.assert_array_equal(counts["a"], np.bincount(codes[:, net.index("a")], minlength=3))
