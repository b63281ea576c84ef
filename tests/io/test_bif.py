"""Tests of the BIF reader and writer (:mod:`npprob.io.bif`).

pgmpy's ``BIFReader`` is the independent oracle: it must read the fixtures to
the same CPTs as we do, and must read the files we write. (pgmpy 1.x keeps it
in ``pgmpy.readwrite``.) The fixtures in ``tests/fixtures/networks`` are
gunzipped copies of the example networks pgmpy ships.
"""

from __future__ import annotations

import functools
import gzip
import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npprob.errors import BIFSyntaxError, NetworkError, NpprobError
from npprob.io import bif_string, read_bif, read_bif_string, write_bif
from npprob.io.bif import DEFAULT_RENORMALIZE_TOLERANCE
from npprob.network import ROW_SUM_TOLERANCE, Network, Variable

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "networks"

#: Fixture name -> number of variables (checked, so a truncated copy fails).
FIXTURE_SIZES = {
    "asia": 8,
    "cancer": 5,
    "earthquake": 5,
    "survey": 6,
    "sachs": 11,
    "child": 20,
    "alarm": 37,
    "insurance": 27,
    "hepar2": 70,
}
FIXTURE_NAMES = list(FIXTURE_SIZES)


def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.bif"


# -- helpers ---------------------------------------------------------------------


def assert_same_network(a: Network, b: Network, *, check_name: bool = True) -> None:
    """Names, states, roles, parents and CPTs identical, CPTs bit for bit."""
    assert a.names == b.names
    if check_name:
        assert a.name == b.name
    for v in a.names:
        assert a.variable(v) == b.variable(v)
        assert a.parents(v) == b.parents(v)
        ca, cb = a.cpt(v), b.cpt(v)
        assert ca.shape == cb.shape
        # tobytes() also distinguishes 0.0 from -0.0, which == does not.
        assert ca.tobytes() == cb.tobytes(), v


def pgmpy_columns(values: np.ndarray) -> np.ndarray:
    """pgmpy's CPD values with the same row-sum rule as the reader applies.

    Columns (one per parent configuration) off 1 by more than
    ROW_SUM_TOLERANCE are divided by their sum; the others are left alone.
    """
    values = np.array(values, dtype=np.float64)
    sums = values.sum(axis=0)
    off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    values[:, off] = values[:, off] / sums[off]
    return values


@functools.cache
def _pgmpy_reader_class() -> type:
    """pgmpy's BIFReader, building its pyparsing grammar once instead of per file.

    Building the grammar costs about a second per reader (pyparsing expands
    Unicode character classes); the parsing itself is pgmpy's, unchanged.
    """
    from pgmpy.readwrite import BIFReader

    grammars: dict[str, tuple] = {}

    class CachedGrammarBIFReader(BIFReader):
        def get_variable_grammar(self) -> tuple:
            if "variable" not in grammars:
                grammars["variable"] = super().get_variable_grammar()
            return grammars["variable"]

        def get_probability_grammar(self) -> tuple:
            if "probability" not in grammars:
                grammars["probability"] = super().get_probability_grammar()
            return grammars["probability"]

    return CachedGrammarBIFReader


def pgmpy_model(*, path: Path | None = None, string: str | None = None):
    """pgmpy's reading of a BIF file or string (a DiscreteBayesianNetwork)."""
    reader_class = _pgmpy_reader_class()
    if path is not None:
        return reader_class(path=str(path)).get_model()
    return reader_class(string=string).get_model()


def assert_matches_pgmpy(net: Network, model, *, atol: float) -> None:
    """``model`` (a pgmpy DiscreteBayesianNetwork) describes the same network."""
    assert set(model.nodes()) == set(net.names)
    assert set(model.edges()) == {(p, v) for v in net.names for p in net.parents(v)}
    for v in net.names:
        cpd = model.get_cpds(v)
        evidence = list(cpd.variables[1:])
        assert sorted(evidence) == sorted(net.parents(v))
        for var in [v, *evidence]:
            assert tuple(cpd.state_names[var]) == net.variable(var).states
        # Our axes: parents in our order, child last. pgmpy's: child first,
        # then its evidence order flattened with the last evidence fastest.
        perm = [net.parents(v).index(e) for e in evidence]
        ours = np.transpose(net.cpt(v), [*perm, len(perm)])
        ours = np.moveaxis(ours, -1, 0).reshape(net.variable(v).cardinality, -1)
        theirs = pgmpy_columns(cpd.get_values())
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol, err_msg=v)


def network_from_rows(
    states: Mapping[str, tuple[str, ...]],
    parents: Mapping[str, tuple[str, ...]],
    cpts: Mapping[str, list],
    name: str = "handmade",
    roles: Mapping[str, str] | None = None,
) -> Network:
    roles = roles or {}
    variables = [Variable(v, s, role=roles.get(v, "unspecified")) for v, s in states.items()]
    return Network(variables, parents, {v: np.array(c) for v, c in cpts.items()}, name=name)


def awkward_network() -> Network:
    """Names that need quoting or look like keywords/numbers, awkward floats."""
    third = 1.0 / 3.0
    return network_from_rows(
        states={
            "table": ("default", "property"),
            'odd "name" \\ here': ("with space", "1e-3", "-1"),
            "single": ("only",),
            "a-b.c_1": ("0", "1"),
            "ünïcødé": ("\u03b1", "\u03b2"),
            "x/y": ("//not a comment", "/*nor this*/"),
        },
        parents={
            'odd "name" \\ here': ("table",),
            "a-b.c_1": ("table", 'odd "name" \\ here', "single"),
            "ünïcødé": ("a-b.c_1",),
            "x/y": ("ünïcødé",),
        },
        cpts={
            "table": [0.1, 0.9],
            'odd "name" \\ here': [[third, third, 1.0 - 2 * third], [1e-300, 0.5, 0.5 - 1e-300]],
            "single": [1.0],
            "a-b.c_1": [
                [[[0.7, 0.30000000000000004]], [[5e-324, 1.0]], [[0.0, 1.0]]],
                [[[0.25, 0.75]], [[0.123456789012345678, 1 - 0.123456789012345678]], [[1.0, 0.0]]],
            ],
            "ünïcødé": [[0.2, 0.8], [0.6, 0.4]],
            "x/y": [[1e-17, 1.0 - 1e-17], [0.5, 0.5]],
        },
        name="awkward net",
        roles={"table": "aetiology", "single": "a role; with {braces}"},
    )


def plain_network() -> Network:
    """Plain names (so pgmpy can read it), three parents of mixed cardinality."""
    rng = np.random.default_rng(7)
    states = {
        "A": ("a0", "a1"),
        "B": ("b0", "b1", "b2"),
        "C": ("c0",),
        "D": ("d0", "d1", "d2", "d3"),
    }
    parents = {"B": ("A",), "D": ("B", "A", "C")}
    cpts = {
        "A": rng.dirichlet(np.ones(2)),
        "B": rng.dirichlet(np.ones(3), size=2),
        "C": [1.0],
        "D": rng.dirichlet(np.ones(4), size=(3, 2, 1)),
    }
    return network_from_rows(states, parents, cpts, name="plain")


SMALL = """\
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 3 ] { b0, b1, b2 }; }
probability ( A ) { table 0.25, 0.75; }
probability ( B | A ) {
  (a0) 0.1, 0.2, 0.7;
  (a1) 0.5, 0.25, 0.25;
}
"""


def small_expected() -> Network:
    return network_from_rows(
        {"A": ("a0", "a1"), "B": ("b0", "b1", "b2")},
        {"B": ("A",)},
        {"A": [0.25, 0.75], "B": [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]},
        name="network",
    )


# -- fixtures: round trip and pgmpy agreement -------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_round_trip_is_bit_exact(name: str) -> None:
    net = read_bif(fixture_path(name))
    assert len(net) == FIXTURE_SIZES[name]
    text = bif_string(net)
    again = read_bif_string(text)
    assert_same_network(net, again)
    # The written form is canonical: writing the re-read network changes nothing.
    assert bif_string(again) == text


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_matches_pgmpy_reader(name: str) -> None:
    net = read_bif(fixture_path(name))
    model = pgmpy_model(path=fixture_path(name))
    assert_matches_pgmpy(net, model, atol=1e-12)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_written_fixture_is_read_by_pgmpy(name: str, tmp_path: Path) -> None:
    net = read_bif(fixture_path(name))
    out = tmp_path / f"{name}.bif"
    write_bif(net, out)
    model = pgmpy_model(path=out)
    assert model.name == net.name
    # repr() floats parse back exactly, so pgmpy sees exactly our numbers.
    assert_matches_pgmpy(net, model, atol=0.0)


def test_written_handmade_network_is_read_by_pgmpy(tmp_path: Path) -> None:
    net = plain_network()
    out = tmp_path / "plain.bif"
    write_bif(net, out)
    assert_matches_pgmpy(net, pgmpy_model(path=out), atol=0.0)


def test_fixture_renormalisation_is_only_rounding() -> None:
    # sachs has rows summing to 1 - 1e-7; they are rescaled, not rejected.
    text = fixture_path("sachs").read_text()
    assert "(HIGH, LOW) 7.682262e-05, 1.183068e-01, 8.816163e-01;" in text
    net = read_bif(fixture_path("sachs"))
    row = net.cpt("Akt")[2, 0]
    raw = np.array([7.682262e-05, 1.183068e-01, 8.816163e-01])
    assert abs(raw.sum() - 1.0) > 1e-8
    np.testing.assert_array_equal(row, raw / raw.sum())
    for v in net.names:
        assert np.all(np.abs(net.cpt(v).sum(axis=-1) - 1.0) <= ROW_SUM_TOLERANCE)


# -- hand-made round trips ---------------------------------------------------------


@pytest.mark.parametrize("make", [awkward_network, plain_network, small_expected])
def test_handmade_round_trip(make, tmp_path: Path) -> None:
    net = make()
    assert_same_network(net, read_bif_string(bif_string(net)))
    out = tmp_path / "net.bif"
    write_bif(net, out)
    assert_same_network(net, read_bif(out))


def test_awkward_names_are_quoted_and_roles_kept() -> None:
    net = awkward_network()
    text = bif_string(net)
    assert 'variable "odd \\"name\\" \\\\ here" {' in text
    assert "variable table {" in text
    assert "variable a-b.c_1 {" in text
    assert '{ "//not a comment", "/*nor this*/" }' in text
    assert "variable x/y {" in text
    again = read_bif_string(text)
    assert again.variable("table").role == "aetiology"
    assert again.variable("single").role == "a role; with {braces}"
    assert again.variable("x/y").role == "unspecified"
    assert again.name == "awkward net"


def test_writer_output_is_canonical_text() -> None:
    assert bif_string(small_expected()) == (
        "network network {\n"
        "}\n"
        "variable A {\n"
        "  type discrete [ 2 ] { a0, a1 };\n"
        "}\n"
        "variable B {\n"
        "  type discrete [ 3 ] { b0, b1, b2 };\n"
        "}\n"
        "probability ( A ) {\n"
        "  table 0.25, 0.75;\n"
        "}\n"
        "probability ( B | A ) {\n"
        "  (a0) 0.1, 0.2, 0.7;\n"
        "  (a1) 0.5, 0.25, 0.25;\n"
        "}\n"
    )


def test_writer_rows_follow_parent_order_last_fastest() -> None:
    text = bif_string(plain_network())
    rows = [line.split(")")[0] + ")" for line in text.splitlines() if line.startswith("  (b")]
    assert rows == [
        "  (b0, a0, c0)",
        "  (b0, a1, c0)",
        "  (b1, a0, c0)",
        "  (b1, a1, c0)",
        "  (b2, a0, c0)",
        "  (b2, a1, c0)",
    ]


def test_writer_rejects_names_with_line_breaks() -> None:
    net = network_from_rows({"a\nb": ("x",)}, {}, {"a\nb": [1.0]})
    with pytest.raises(NetworkError, match="line break"):
        bif_string(net)


_NAME_CHARS = st.characters(blacklist_categories=("Cs", "Cc"))
_NAMES = st.text(_NAME_CHARS, min_size=1, max_size=5)


@st.composite
def random_networks(draw) -> Network:
    n = draw(st.integers(1, 5))
    names = draw(st.lists(_NAMES, min_size=n, max_size=n, unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    variables, parents, cpts = [], {}, {}
    for i, name in enumerate(names):
        states = draw(st.lists(_NAMES, min_size=1, max_size=3, unique=True))
        role = draw(st.sampled_from(["unspecified", "finding", "latent var"]))
        variables.append(Variable(name, tuple(states), role=role))
        pa = draw(st.lists(st.sampled_from(names[:i]), max_size=3, unique=True)) if i else []
        parents[name] = tuple(pa)
        shape = tuple(variables[names.index(p)].cardinality for p in pa)
        table = rng.dirichlet(np.full(len(states), 0.5), size=shape)
        if draw(st.booleans()):
            # Exact zeros and ones are common in real networks.
            table = np.round(table)
            table[table.sum(axis=-1) == 0, 0] = 1.0
            table = table / table.sum(axis=-1, keepdims=True)
        cpts[name] = table
    return Network(variables, parents, cpts, name=draw(_NAMES))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks())
def test_random_networks_round_trip(net: Network) -> None:
    assert_same_network(net, read_bif_string(bif_string(net)))


# -- dialect -----------------------------------------------------------------------


def test_small_reference_reads_as_expected() -> None:
    assert_same_network(read_bif_string(SMALL), small_expected())


def test_comments_are_ignored() -> None:
    text = """\
// leading comment
/* a block
   comment over lines */ variable A { type discrete [ 2 ] { a0, /* inline */ a1 }; }
variable B { // trailing
  type discrete [ 3 ] { b0, b1, b2 }; }
probability ( A ) { table 0.25, // between numbers
  0.75; }
probability ( B | A ) {
  (a0) 0.1, 0.2, 0.7; /* after a row */
  (a1) 0.5, 0.25, /**/ 0.25;
}
// final comment without newline"""
    assert_same_network(read_bif_string(text), small_expected())


def test_property_lines_are_ignored_everywhere() -> None:
    text = """\
network "Dog Problem" {
  property "credal-set constant-density-bounded 1.1" ;
  property author = someone ;
}
variable A {
  property "position = (73, 165)" ;
  type discrete [ 2 ] { a0, a1 };
  property note = "contains ; and } inside quotes" ;
}
variable B { type discrete [ 3 ] { b0, b1, b2 }; property x = (1, 2); property y = {1; {2}}; }
probability ( A ) { property p = 1; table 0.25, 0.75; }
probability ( B | A ) {
  property a = b;
  (a0) 0.1, 0.2, 0.7;
  property c = d;
  (a1) 0.5, 0.25, 0.25;
}
"""
    net = read_bif_string(text)
    assert net.name == "Dog Problem"
    assert_same_network(net, small_expected(), check_name=False)


def test_role_property_sets_variable_role() -> None:
    text = SMALL.replace("variable A {", 'variable A { property role = "aetiology";').replace(
        "variable B {", "variable B { property role=finding;"
    )
    net = read_bif_string(text)
    assert net.variable("A").role == "aetiology"
    assert net.variable("B").role == "finding"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("network unknown {\n}\n", "unknown"),
        ('network "two words" { }\n', "two words"),
        ("network Dog-Problem.v2 {}", "Dog-Problem.v2"),
        ("network two words {}", "two words"),
        ("network {}", "network"),
        ("", "network"),
    ],
)
def test_network_block_optional_with_any_name(header: str, expected: str) -> None:
    net = read_bif_string(header + SMALL)
    assert net.name == expected
    assert_same_network(net, small_expected(), check_name=False)


def test_name_defaults_to_file_stem_and_can_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "my-net.bif"
    path.write_text(SMALL)
    assert read_bif(path).name == "my-net"
    assert read_bif(path, name="override").name == "override"
    gz = tmp_path / "zipped.bif.gz"
    gz.write_bytes(gzip.compress(SMALL.encode()))
    assert read_bif(gz).name == "zipped"
    # The network block's name wins over the file name.
    path.write_text("network inside {}\n" + SMALL)
    assert read_bif(path).name == "inside"


@pytest.mark.parametrize(
    "declaration",
    [
        "type discrete [ 3 ] { b0, b1, b2 };",
        "type discrete[3]{b0,b1,b2};",
        "type discrete [3] { b0 b1 b2 };",
        "type discrete [ 3 ] { b0, b1 b2, };",
        "type discrete\n[\n3\n]\n{\nb0\n,\nb1\n,\nb2\n}\n;",
        'type discrete [ 3 ] { "b0", b1, "b2" };',
        "TYPE Discrete [ 3 ] { b0, b1, b2 };",
    ],
)
def test_type_declaration_spacing_variants(declaration: str) -> None:
    text = SMALL.replace("type discrete [ 3 ] { b0, b1, b2 };", declaration)
    assert declaration in text
    assert_same_network(read_bif_string(text), small_expected())


def test_names_with_punctuation_digits_and_quotes() -> None:
    text = """\
variable a-b.c_1 { type discrete [ 2 ] { 0, 1.5e-3 }; }
variable "with space" { type discrete [ 2 ] { "state one", s-2 }; }
variable 42 { type discrete [ 1 ] { x/y }; }
probability ( a-b.c_1 ) { table 0.5, 0.5; }
probability ( "with space" | a-b.c_1, 42 ) {
  (0, x/y) 0.1, 0.9;
  ("1.5e-3", "x/y") 0.2, 0.8;
}
probability ( 42 ) { table 1; }
"""
    net = read_bif_string(text)
    assert net.names == ("a-b.c_1", "42", "with space")
    assert net.variable("a-b.c_1").states == ("0", "1.5e-3")
    assert net.variable("with space").states == ("state one", "s-2")
    assert net.parents("with space") == ("a-b.c_1", "42")
    np.testing.assert_array_equal(net.cpt("with space"), [[[0.1, 0.9]], [[0.2, 0.8]]])


def test_conditional_table_lists_child_state_slowest() -> None:
    # The BIF/pgmpy convention: child state slowest, then parents in header
    # order with the last parent fastest.
    table = """\
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 3 ] { b0, b1, b2 }; }
variable C { type discrete [ 2 ] { c0, c1 }; }
probability ( A ) { table 0.5, 0.5; }
probability ( B ) { table 0.2, 0.3, 0.5; }
probability ( C | A, B ) {
  table 0.1, 0.2, 0.3, 0.4, 0.5, 0.6,
        0.9, 0.8, 0.7, 0.6, 0.5, 0.4;
}
"""
    rows = """\
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 3 ] { b0, b1, b2 }; }
variable C { type discrete [ 2 ] { c0, c1 }; }
probability ( A ) { table 0.5, 0.5; }
probability ( B ) { table 0.2, 0.3, 0.5; }
probability ( C | A, B ) {
  (a0, b0) 0.1, 0.9;
  (a0, b1) 0.2, 0.8;
  (a0, b2) 0.3, 0.7;
  (a1, b0) 0.4, 0.6;
  (a1, b1) 0.5, 0.5;
  (a1, b2) 0.6, 0.4;
}
"""
    net = read_bif_string(table)
    assert net.parents("C") == ("A", "B")
    np.testing.assert_array_equal(net.cpt("C")[1, 2], [0.6, 0.4])
    np.testing.assert_array_equal(net.cpt("C")[0, 1], [0.2, 0.8])
    assert_same_network(net, read_bif_string(rows))


def test_conditional_table_agrees_with_pgmpy() -> None:
    text = """\
network t {
}
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 3 ] { b0, b1, b2 }; }
variable C { type discrete [ 3 ] { c0, c1, c2 }; }
probability ( A ) {
  table 0.5, 0.5;
}
probability ( B ) {
  table 0.2, 0.3, 0.5;
}
probability ( C | B, A ) {
  table 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1;
}
"""
    net = read_bif_string(text)
    assert_matches_pgmpy(net, pgmpy_model(string=text), atol=0.0)


def test_default_row_fills_unlisted_configurations() -> None:
    text = """\
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 3 ] { b0, b1, b2 }; }
variable C { type discrete [ 2 ] { c0, c1 }; }
probability ( A ) { table 0.5, 0.5; }
probability ( B ) { default 0.2, 0.3, 0.5; }
probability ( C | A, B ) {
  default 0.5, 0.5;
  (a1, b2) 0.1, 0.9;
  (a0, b0) 0.3, 0.7;
}
"""
    net = read_bif_string(text)
    np.testing.assert_array_equal(net.cpt("B"), [0.2, 0.3, 0.5])
    expected = np.full((2, 3, 2), 0.5)
    expected[1, 2] = [0.1, 0.9]
    expected[0, 0] = [0.3, 0.7]
    np.testing.assert_array_equal(net.cpt("C"), expected)


def test_unused_default_is_harmless() -> None:
    text = SMALL.replace(
        "(a1) 0.5, 0.25, 0.25;", "(a1) 0.5, 0.25, 0.25;\n  default 0.9, 0.05, 0.05;"
    )
    assert "default" in text
    assert_same_network(read_bif_string(text), small_expected())


def test_root_variable_given_as_row_with_no_parents() -> None:
    text = SMALL.replace("table 0.25, 0.75;", "() 0.25, 0.75;")
    assert_same_network(read_bif_string(text), small_expected())


def test_old_header_without_bar() -> None:
    text = SMALL.replace("( B | A )", "( B A )")
    assert_same_network(read_bif_string(text), small_expected())


@pytest.mark.parametrize(
    ("row", "values"),
    [
        ("(a0) 1e-1, 2E-1, 7.0e-1;", [0.1, 0.2, 0.7]),
        ("(a0) .1 .2 .7;", [0.1, 0.2, 0.7]),
        ("(a0) +0.1, 0.2, 0.7,;", [0.1, 0.2, 0.7]),
        ("(a0) 1., 0, 0;", [1.0, 0.0, 0.0]),
        ("(a0)0.1,0.2,0.7;", [0.1, 0.2, 0.7]),
        ("( a0, ) 0.1 , 0.2 , 0.7 ;", [0.1, 0.2, 0.7]),
        ("(a0) 0.1,\n 0.2,\n 0.7\n;", [0.1, 0.2, 0.7]),
    ],
)
def test_number_and_separator_variants(row: str, values: list[float]) -> None:
    text = SMALL.replace("(a0) 0.1, 0.2, 0.7;", row)
    assert row in text
    np.testing.assert_array_equal(read_bif_string(text).cpt("B")[0], values)


def test_trailing_commas_in_header_and_table() -> None:
    text = SMALL.replace("( B | A )", "( B | A, )").replace(
        "table 0.25, 0.75;", "table 0.25, 0.75,;"
    )
    assert_same_network(read_bif_string(text), small_expected())


def test_blocks_in_any_order() -> None:
    blocks = SMALL.split("\n")
    # Probability blocks first, then the variables.
    reordered = "\n".join(blocks[2:] + blocks[:2])
    assert reordered.startswith("probability")
    assert_same_network(read_bif_string(reordered), small_expected())


def test_keywords_are_case_insensitive() -> None:
    text = (
        SMALL.replace("variable", "VARIABLE")
        .replace("probability", "Probability")
        .replace("table", "TABLE")
    )
    assert_same_network(read_bif_string("NETWORK network {}\n" + text), small_expected())


def test_windows_and_old_mac_line_endings() -> None:
    assert_same_network(read_bif_string(SMALL.replace("\n", "\r\n")), small_expected())
    assert_same_network(read_bif_string(SMALL.replace("\n", "\r")), small_expected())
    # Line numbers count CRLF as one line break.
    broken = SMALL.replace("(a1) 0.5", "(a9) 0.5").replace("\n", "\r\n")
    with pytest.raises(BIFSyntaxError) as info:
        read_bif_string(broken)
    assert info.value.line == 6


def test_missing_final_newline_and_bom() -> None:
    assert_same_network(read_bif_string(SMALL.rstrip("\n")), small_expected())
    assert_same_network(read_bif_string("\ufeff" + SMALL), small_expected())


def test_fixture_with_crlf_and_no_final_newline(tmp_path: Path) -> None:
    text = fixture_path("alarm").read_text()
    path = tmp_path / "alarm-dos.bif"
    path.write_bytes(text.rstrip("\n").replace("\n", "\r\n").encode())
    assert_same_network(read_bif(path, name="unknown"), read_bif(fixture_path("alarm")))


def test_latin1_file_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "latin.bif"
    path.write_bytes(SMALL.replace("b2", "b\xe9").encode("latin-1"))
    assert read_bif(path).variable("B").states == ("b0", "b1", "b\xe9")


# -- row sums ------------------------------------------------------------------------


def test_row_within_strict_tolerance_is_kept_exactly() -> None:
    assert ROW_SUM_TOLERANCE == 1e-9
    # Off 1 by 5e-10: Network accepts it as it is, so it must not be rescaled.
    text = SMALL.replace("(a1) 0.5, 0.25, 0.25;", "(a1) 0.5, 0.25, 0.2499999995;")
    row = read_bif_string(text).cpt("B")[1]
    assert row.tolist() == [0.5, 0.25, 0.2499999995]
    assert row.sum() != 1.0


def test_rounded_row_is_renormalised() -> None:
    text = SMALL.replace("(a1) 0.5, 0.25, 0.25;", "(a1) 0.5, 0.25, 0.2499995;")
    got = read_bif_string(text).cpt("B")[1]
    raw = np.array([0.5, 0.25, 0.2499995])
    np.testing.assert_array_equal(got, raw / raw.sum())
    assert abs(got.sum() - 1.0) < 1e-15


def test_row_far_from_one_is_rejected_with_its_line() -> None:
    text = SMALL.replace("(a1) 0.5, 0.25, 0.25;", "(a1) 0.5, 0.25, 0.2;")
    with pytest.raises(BIFSyntaxError, match=r"sum to 0\.95, not 1") as info:
        read_bif_string(text)
    assert info.value.line == 6
    assert "A=a1" in str(info.value)


def test_renormalize_tolerance_is_configurable() -> None:
    assert DEFAULT_RENORMALIZE_TOLERANCE == 1e-6
    text = SMALL.replace("(a1) 0.5, 0.25, 0.25;", "(a1) 0.5, 0.25, 0.2499;")
    with pytest.raises(BIFSyntaxError, match="renormalised"):
        read_bif_string(text)
    got = read_bif_string(text, renormalize_tolerance=1e-3).cpt("B")[1]
    np.testing.assert_allclose(got, np.array([0.5, 0.25, 0.2499]) / 0.9999, rtol=0, atol=1e-16)
    with pytest.raises(ValueError, match="renormalize_tolerance"):
        read_bif_string(SMALL, renormalize_tolerance=math.nan)


def test_table_row_sum_error_points_at_the_configuration_line() -> None:
    text = """\
variable A { type discrete [ 2 ] { a0, a1 }; }
variable C { type discrete [ 2 ] { c0, c1 }; }
probability ( A ) { table 0.5, 0.5; }
probability ( C | A ) {
  table 0.1,
        0.2,
        0.9,
        0.7;
}
"""
    with pytest.raises(BIFSyntaxError, match=r"given \(A=a1\) sum to 0\.9") as info:
        read_bif_string(text)
    assert info.value.line == 6


# -- malformed files -----------------------------------------------------------------

V_A = "variable A { type discrete [ 2 ] { a0, a1 }; }\n"
V_B = "variable B { type discrete [ 2 ] { b0, b1 }; }\n"
P_A = "probability ( A ) { table 0.5, 0.5; }\n"

MALFORMED = [
    # id, text, line, key phrase of the message
    (
        "empty file",
        "",
        1,
        "the file is empty: expected 'network', 'variable' or 'probability', found end of file",
    ),
    ("only comments", "// nothing\n/* here */\n", 2, "the file is empty"),
    ("network only", "network n {\n}\n", 2, "declares no variables"),
    (
        "unterminated variable block",
        "variable A {\n  type discrete [ 2 ] { a0, a1 };\n",
        2,
        "expected '}' to close the block of variable 'A' opened on line 1, found end of file",
    ),
    (
        "unterminated probability block",
        V_A + "probability ( A ) {\n  table 0.5, 0.5;\n\n",
        3,
        "expected '}' to close the probability block of 'A' opened on line 2",
    ),
    (
        "unterminated network block",
        "network n {\n" + V_A,
        2,
        "expected 'property' or '}' in the network block, found 'variable'",
    ),
    (
        "missing semicolon after type",
        "variable A {\n  type discrete [ 2 ] { a0, a1 }\n}\n" + P_A,
        3,
        "expected ';' after the list of states of variable 'A', found '}'",
    ),
    (
        "missing semicolon between rows",
        V_A + V_B + P_A + "probability ( B | A ) {\n  (a0) 0.5, 0.5\n  (a1) 0.5, 0.5;\n}\n",
        6,
        "expected a probability, ',' or ';' to end the row started on line 5, found '('",
    ),
    (
        "missing semicolon after table",
        V_A + "probability ( A ) {\n  table 0.5, 0.5\n}\n",
        4,
        "expected a probability, ',' or ';' to end the 'table' on line 3, found '}'",
    ),
    (
        "unknown variable in probability block",
        V_A + P_A + "probability ( Aa ) { table 0.5, 0.5; }\n",
        3,
        "probability block for unknown variable 'Aa'. Did you mean 'A'?",
    ),
    (
        "unknown parent",
        V_A + V_B + P_A + "probability ( B |\n A, Zed ) { default 0.5, 0.5; }\n",
        5,
        "unknown parent 'Zed' in the probability block of 'B'",
    ),
    (
        "too few probabilities in a row",
        V_A + V_B + P_A + "probability ( B | A ) {\n  (a0) 0.5, 0.5;\n  (a1) 1.0;\n}\n",
        6,
        "expected 2 probabilities (one per state of 'B'), found 1",
    ),
    (
        "too many probabilities in a table",
        V_A + V_B + P_A + "probability ( B | A ) {\n  table 0.5, 0.5, 0.5, 0.5, 0.0;\n}\n",
        5,
        "'table' of 'B' has 5 probabilities; expected 4 (2 states x 2 parent configurations)",
    ),
    (
        "wrong count in root table",
        V_A + "probability ( A ) { table 1.0; }\n",
        2,
        "expected 2 (2 states)",
    ),
    (
        "unknown state in a row",
        V_A + V_B + P_A + "probability ( B | A ) {\n  (a0) 0.5, 0.5;\n  (a2) 0.5, 0.5;\n}\n",
        6,
        "'a2' is not a state of parent 'A' (states: a0, a1)",
    ),
    (
        "row with too many parent states",
        V_A + V_B + P_A + "probability ( B | A ) {\n  (a0, b0) 0.5, 0.5;\n}\n",
        5,
        "row gives 2 parent states but 'B' has 1 parent (A)",
    ),
    (
        "duplicate variable",
        V_A + V_B + "variable A {\n  type discrete [ 2 ] { a0, a1 }; }\n",
        3,
        "variable 'A' is declared twice (first on line 1)",
    ),
    (
        "duplicate probability block",
        V_A + P_A + "\n" + P_A,
        4,
        "second probability block for 'A' (the first is on line 2)",
    ),
    (
        "duplicate configuration",
        V_A + V_B + P_A + "probability ( B | A ) {\n  (a0) 0.5, 0.5;\n  (a0) 0.5, 0.5;\n}\n",
        6,
        "parent configuration (a0) of 'B' is given twice (first on line 5)",
    ),
    (
        "missing configuration without default",
        V_A + V_B + P_A + "\nprobability ( B | A ) {\n  (a0) 0.5, 0.5;\n}\n",
        5,
        "no probabilities for 'B' given (A=a1) (and no 'default' entry)",
    ),
    (
        "duplicate state",
        "variable A {\n type discrete [ 3 ] { a0,\n a1, a0 }; }\n",
        3,
        "variable 'A' lists state 'a0' twice",
    ),
    (
        "state count mismatch",
        "variable A {\n type discrete [ 3 ] { a0, a1 }; }\n",
        2,
        "variable 'A' declares 3 states in '[ ]' but lists 2",
    ),
    ("bad number", V_A + "probability ( A ) {\n table 0.5, 0.x5; }\n", 3, "found '0.x5'"),
    ("nan is not a number", V_A + "probability ( A ) { table nan, 0.5; }\n", 2, "found 'nan'"),
    ("overflowing number", V_A + "probability ( A ) { table 1e999, 0; }\n", 2, "not a finite"),
    (
        "negative probability",
        V_A + "probability ( A ) {\n table\n -0.5,\n 1.5; }\n",
        4,
        "negative probability -0.5 for 'A'",
    ),
    (
        "unclosed comment",
        V_A + "/* this comment\n never ends\n" + P_A,
        2,
        "unclosed comment: '/*' has no matching '*/'",
    ),
    (
        "unterminated string",
        'variable "A {\n type discrete [ 2 ] { a0, a1 }; }\n',
        1,
        "unterminated string",
    ),
    (
        "variable without probability block",
        V_A + V_B + P_A,
        2,
        "variable 'B' (declared on line 2) has no probability block",
    ),
    (
        "cycle",
        V_A
        + V_B
        + "probability ( A | B ) { default 0.5, 0.5; }\nprobability ( B | A ) { default 0.5, 0.5; }\n",
        3,
        "The network has a cycle",
    ),
    ("own parent", V_A + "probability ( A | A ) { default 0.5, 0.5; }\n", 2, "its own parent"),
    (
        "continuous variable",
        "variable A {\n type continuous; }\n",
        2,
        "expected 'discrete' after 'type' (only discrete variables are supported), found 'continuous'",
    ),
    ("zero states", "variable A { type discrete [ 0 ] { }; }\n", 1, "positive integer), found '0'"),
    ("empty state list", "variable A { type discrete [ 1 ] {\n }; }\n", 2, "lists no states"),
    (
        "missing type declaration",
        "variable A {\n property x = 1; }\n",
        1,
        "variable 'A' has no 'type discrete [ N ] { ... };' declaration",
    ),
    (
        "table and rows together",
        V_A
        + V_B
        + P_A
        + "probability ( B | A ) {\n  table 0.5, 0.5, 0.5, 0.5;\n  (a0) 0.5, 0.5;\n}\n",
        6,
        "cannot also have a 'row' entry",
    ),
    ("garbage at top level", V_A + P_A + "\nvariables B {}\n", 4, "found 'variables'"),
    ("second network block", "network a {}\nnetwork b {}\n", 2, "second 'network' block"),
    (
        "property missing semicolon",
        "variable A {\n type discrete [ 2 ] { a0, a1 };\n property x = 1\n}\n",
        4,
        "expected ';' to end the property started on line 3, found '}'",
    ),
    ("empty header", V_A + "probability ( ) { table 1; }\n", 2, "expected a variable name"),
    ("double comma in states", "variable A { type discrete [ 2 ] { a0,, a1 }; }\n", 1, "found ','"),
    ("empty row", V_A + "probability ( A ) { table ; }\n", 2, "at least one probability"),
]


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_file_raises_with_line(text: str, line: int, phrase: str) -> None:
    with pytest.raises(BIFSyntaxError) as info:
        read_bif_string(text, "bad.bif")
    err = info.value
    assert isinstance(err, NetworkError)
    assert isinstance(err, NpprobError)
    assert isinstance(err, ValueError)
    assert err.line == line
    assert err.path == "bad.bif"
    assert phrase in str(err)
    assert str(err).startswith(f"bad.bif:{line}: ")


def test_malformed_cases_are_distinct() -> None:
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED) >= 8
    assert len({case[1] for case in MALFORMED}) == len(MALFORMED)


def test_error_names_variable() -> None:
    with pytest.raises(BIFSyntaxError) as info:
        read_bif_string(V_A + V_B + P_A)
    assert info.value.variable == "B"


def test_error_from_file_carries_its_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.bif"
    path.write_text(SMALL.replace("(a1) 0.5, 0.25, 0.25;", "(a1) 0.5, 0.25;"))
    with pytest.raises(BIFSyntaxError) as info:
        read_bif(path)
    assert info.value.path == str(path)
    assert info.value.line == 6
    assert str(info.value).startswith(f"{path}:6: ")


def read_or_error(text: str) -> Network | NpprobError:
    """The network read from ``text``, or the NpprobError it raised.

    Any other exception propagates and fails the calling test.
    """
    try:
        return read_bif_string(text)
    except NpprobError as exc:
        return exc


def test_every_prefix_of_a_file_parses_or_raises_npprob_error() -> None:
    text = fixture_path("asia").read_text()
    n_ok = 0
    for end in range(len(text) + 1):
        outcome = read_or_error(text[:end])
        if isinstance(outcome, Network):
            n_ok += 1
            continue
        assert isinstance(outcome, BIFSyntaxError)
        assert outcome.line is not None
        assert 1 <= outcome.line <= text[:end].count("\n") + 1
    # Only prefixes that end after the last block's '}' are complete.
    assert n_ok == len(text) - text.rindex("}")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, len(SMALL)),
    st.integers(0, 3),
    st.text(alphabet='{}[]();,|"/*\n ab0.-e', max_size=3),
)
def test_mutated_files_only_raise_npprob_errors(start: int, cut: int, insert: str) -> None:
    outcome = read_or_error(SMALL[:start] + insert + SMALL[start + cut :])
    if isinstance(outcome, Network):
        # Whatever survived the mutation is a valid network that round-trips.
        assert len(outcome) == 2
        assert_same_network(outcome, read_bif_string(bif_string(outcome)))
    else:
        assert isinstance(outcome, BIFSyntaxError)
        assert outcome.line is not None


# -- files, gzip, file objects ---------------------------------------------------------


def test_reads_gzipped_fixture(tmp_path: Path) -> None:
    raw = fixture_path("insurance").read_bytes()
    path = tmp_path / "insurance.bif.gz"
    path.write_bytes(gzip.compress(raw))
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    net = read_bif(path)
    assert_same_network(net, read_bif(fixture_path("insurance")))
    assert net.name == "unknown"
    # Detection is by content: a gzip stream under another name still reads.
    other = tmp_path / "insurance.dat"
    other.write_bytes(gzip.compress(raw))
    assert_same_network(read_bif(str(other)), net)


def test_corrupted_gzip_raises_bif_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.bif.gz"
    path.write_bytes(gzip.compress(SMALL.encode())[:25])
    with pytest.raises(BIFSyntaxError, match="corrupted gzip") as info:
        read_bif(path)
    assert info.value.path == str(path)


def test_write_gz_path_is_compressed_and_reproducible(tmp_path: Path) -> None:
    net = read_bif(fixture_path("child"))
    a, b = tmp_path / "a.bif.gz", tmp_path / "b.bif.gz"
    write_bif(net, a)
    write_bif(net, str(b))
    assert a.read_bytes()[:2] == b"\x1f\x8b"
    assert a.read_bytes() == b.read_bytes()
    assert gzip.decompress(a.read_bytes()).decode() == bif_string(net)
    assert_same_network(read_bif(a), net)


def test_file_objects_text_and_binary(tmp_path: Path) -> None:
    net = awkward_network()
    text_buf = io.StringIO()
    write_bif(net, text_buf)
    assert text_buf.getvalue() == bif_string(net)
    bytes_buf = io.BytesIO()
    write_bif(net, bytes_buf)
    assert bytes_buf.getvalue() == bif_string(net).encode("utf-8")
    assert_same_network(read_bif(io.StringIO(text_buf.getvalue())), net)
    assert_same_network(read_bif(io.BytesIO(bytes_buf.getvalue())), net)
    path = tmp_path / "obj.bif"
    with open(path, "wb") as fh:
        write_bif(net, fh)
    with open(path, encoding="utf-8") as fh:
        assert_same_network(read_bif(fh), net)


def test_written_file_uses_unix_newlines(tmp_path: Path) -> None:
    path = tmp_path / "n.bif"
    write_bif(small_expected(), path)
    data = path.read_bytes()
    assert b"\r" not in data
    assert data.endswith(b"}\n")


def test_read_bif_refuses_bif_text_as_a_path() -> None:
    with pytest.raises(BIFSyntaxError, match="read_bif_string"):
        read_bif(SMALL)


def test_read_bif_string_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="expects str"):
        read_bif_string(SMALL.encode())  # type: ignore[arg-type]


def test_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bif(tmp_path / "absent.bif")


def test_positive_property_sets_and_keeps_the_positive_state() -> None:
    text = SMALL.replace("variable A {", "variable A { property positive = a1;")
    net = read_bif_string(text)
    assert net.variable("A").positive == "a1"
    assert read_bif_string(bif_string(net)).variable("A").positive == "a1"
    with pytest.raises(BIFSyntaxError, match="positive state 'maybe'"):
        read_bif_string(SMALL.replace("variable A {", "variable A { property positive = maybe;"))


def test_the_clinical_network_keeps_its_roles_through_bif() -> None:
    from npprob.io.resources import clinical_spec_path
    from npprob.network.spec import load_spec

    net = load_spec(clinical_spec_path()).network
    again = read_bif_string(bif_string(net))
    assert again.variables == net.variables  # names, states, roles, positive states
    assert again.target.name == net.target.name
    assert [v.name for v in again.context] == [v.name for v in net.context]
