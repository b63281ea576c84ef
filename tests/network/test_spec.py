"""The TOML specification loader (``npprob.network.spec``) on small inline specs.

Every expected CPT below is worked out by hand from the TOML text of the test,
not read back from the loader. Error tests change one thing in a valid spec
(:func:`mutate` insists the change applies exactly once) and check the
:class:`~npprob.errors.NetworkError` message for its key phrase.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npprob.errors import NetworkError
from npprob.network.spec import TAGS, ClinicalSpec, Source, load_spec, parse_spec
from strategies import hypothesis_settings

# A valid spec using every kind of CPT:
#   cause  root, table with a scalar p (binary child)
#   grade  table with list p, a per-row ess and a structural zero
#   effect noisy-OR with causes on two parents (one of them three-state)
#   late   table with one explicit row and a default row
#   both   deterministic "all"
VALID = """
[network]
name = "toy"
version = "0.0.1"

[variables.cause]
role = "history"
states = ["no", "yes"]

[variables.grade]
states = ["low", "mid", "high"]

[variables.effect]
states = ["absent", "present"]

[variables.late]
states = ["absent", "present"]

[variables.both]
role = "derived"
states = ["absent", "present"]

[cpts.cause]
kind = "table"
ess = 10
rows = [
  { when = {}, p = 0.3, source = "Smith 2001", tag = "F" },
]

[cpts.grade]
parents = ["cause"]
ess = 20
rows = [
  { when = { cause = "no" }, p = [0.6, 0.3, 0.1], source = "Smith 2001", tag = "F" },
  { when = { cause = "yes" }, p = [0.0, 0.25, 0.75], ess = 40, source = "Jones 2002", tag = "F2" },
]

[cpts.effect]
kind = "noisy_or"
parents = ["cause", "grade"]
ess = 15
leak = { p = 0.05, source = "default", tag = "S", reason = "rare without a cause" }
causes = [
  { parent = "cause", state = "yes", p = 0.6, source = "Smith 2001", tag = "R" },
  { parent = "grade", state = "mid", p = 0.2, source = "Jones 2002", tag = "D" },
  { parent = "grade", state = "high", p = 0.5, source = "Jones 2002", tag = "D" },
]

[cpts.late]
parents = ["cause", "grade"]
ess = 8
rows = [
  { when = { cause = "yes", grade = "high" }, p = 0.9, source = "Smith 2001", tag = "F" },
  { when = "default", p = [0.8, 0.2], ess = 4, source = "default", tag = "S", reason = "no data" },
]

[cpts.both]
kind = "deterministic"
parents = ["cause", "effect"]
function = "all"
inputs = [{ parent = "cause", state = "yes" }, { parent = "effect", state = "present" }]
source = "definition"
tag = "D"
reason = "both hold"
"""

# P(effect = present | cause, grade) = 1 - (1 - leak) * prod(1 - p_i), by hand:
#   leak 0.05; cause=yes 0.6; grade=mid 0.2; grade=high 0.5
EFFECT_PRESENT = np.array(
    [
        [0.05, 1 - 0.95 * 0.8, 1 - 0.95 * 0.5],  # cause = no:  low, mid, high
        [1 - 0.95 * 0.4, 1 - 0.95 * 0.4 * 0.8, 1 - 0.95 * 0.4 * 0.5],  # cause = yes
    ]
)
# Same numbers, written out: 0.05, 0.24, 0.525 / 0.62, 0.696, 0.81.
EFFECT_PRESENT_LITERAL = np.array([[0.05, 0.24, 0.525], [0.62, 0.696, 0.81]])


def mutate(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def raises(phrase: str):
    return pytest.raises(NetworkError, match=re.escape(phrase))


@pytest.fixture(scope="module")
def spec() -> ClinicalSpec:
    return parse_spec(VALID, name="toy.toml")


# -- parsing each kind -----------------------------------------------------------------


def test_valid_spec_structure(spec):
    net = spec.network
    assert set(net.names) == {"cause", "grade", "effect", "late", "both"}
    assert net.name == "toy"
    assert spec.meta == {"name": "toy", "version": "0.0.1"}
    assert net.parents("grade") == ("cause",)
    assert net.parents("effect") == ("cause", "grade")
    assert net.variable("grade").states == ("low", "mid", "high")
    assert net.variable("cause").role == "history"
    assert net.variable("effect").role == "unspecified"
    assert spec.fixed == frozenset({"both"})
    assert set(spec.concentration) == {"cause", "grade", "effect", "late"}


def test_table_root_scalar_p_is_second_state(spec):
    np.testing.assert_allclose(spec.network.cpt("cause"), [0.7, 0.3], rtol=0, atol=1e-15)


def test_table_list_p(spec):
    np.testing.assert_allclose(
        spec.network.cpt("grade"), [[0.6, 0.3, 0.1], [0.0, 0.25, 0.75]], rtol=0, atol=1e-15
    )


def test_noisy_or_expansion_matches_hand_computation(spec):
    np.testing.assert_allclose(EFFECT_PRESENT, EFFECT_PRESENT_LITERAL, rtol=0, atol=1e-12)
    cpt = spec.network.cpt("effect")
    assert cpt.shape == (2, 3, 2)
    np.testing.assert_allclose(cpt[..., 1], EFFECT_PRESENT_LITERAL, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cpt[..., 0], 1 - EFFECT_PRESENT_LITERAL, rtol=0, atol=1e-12)


def test_table_default_row_fills_missing_configurations(spec):
    cpt = spec.network.cpt("late")
    assert cpt.shape == (2, 3, 2)
    expected = np.empty((2, 3, 2))
    expected[...] = [0.8, 0.2]
    expected[1, 2] = [0.1, 0.9]  # the one explicit row: cause=yes, grade=high
    np.testing.assert_allclose(cpt, expected, rtol=0, atol=1e-15)
    conc = spec.concentration["late"]
    expected_conc = 4 * expected
    expected_conc[1, 2] = 8 * np.array([0.1, 0.9])  # spec-level ess for the explicit row
    np.testing.assert_allclose(conc, expected_conc, rtol=0, atol=1e-12)


def test_deterministic_all(spec):
    cpt = spec.network.cpt("both")
    assert cpt.shape == (2, 2, 2)
    for c in range(2):
        for e in range(2):
            holds = c == 1 and e == 1
            assert cpt[c, e].tolist() == ([0.0, 1.0] if holds else [1.0, 0.0]), (c, e)
    assert "both" not in spec.concentration


def test_deterministic_all_on_a_first_state():
    text = mutate(
        VALID, '{ parent = "cause", state = "yes" }', '{ parent = "cause", state = "no" }'
    )
    cpt = parse_spec(text).network.cpt("both")
    assert cpt[0, 1].tolist() == [0.0, 1.0]
    assert cpt[0, 0].tolist() == cpt[1, 0].tolist() == cpt[1, 1].tolist() == [1.0, 0.0]


def test_sources_of_every_row_cause_and_definition(spec):
    got = {(s.variable, s.entry): s for s in spec.sources}
    assert set(got) == {
        ("cause", "root"),
        ("grade", "cause=no"),
        ("grade", "cause=yes"),
        ("effect", "leak"),
        ("effect", "cause=yes"),
        ("effect", "grade=mid"),
        ("effect", "grade=high"),
        ("late", "cause=yes, grade=high"),
        ("late", "default row"),
        ("both", "definition"),
    }
    assert len(spec.sources) == len(got)
    assert got["grade", "cause=yes"] == Source("grade", "cause=yes", "Jones 2002", "F2")
    assert got["effect", "leak"] == Source("effect", "leak", "default", "S", "rare without a cause")
    assert got["effect", "cause=yes"].tag == "R"
    assert got["both", "definition"].tag == "D"
    assert all(s.tag in TAGS for s in spec.sources)


def test_digest_is_sha256_of_text(spec):
    assert spec.digest == hashlib.sha256(VALID.encode("utf-8")).hexdigest()
    assert parse_spec(VALID + "\n# comment\n").digest != spec.digest


def test_load_spec_reads_a_file(tmp_path, spec):
    path = tmp_path / "net.toml"
    path.write_text(VALID, encoding="utf-8")
    loaded = load_spec(path)
    for name in spec.network.names:
        np.testing.assert_array_equal(loaded.network.cpt(name), spec.network.cpt(name))
    assert loaded.digest == spec.digest


def test_load_spec_missing_file(tmp_path):
    with raises("Cannot read network specification"):
        load_spec(tmp_path / "absent.toml")


# -- Dirichlet prior -------------------------------------------------------------------


def test_concentration_is_ess_times_mean(spec):
    np.testing.assert_allclose(spec.concentration["cause"], [7.0, 3.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        spec.concentration["grade"], [[12.0, 6.0, 2.0], [0.0, 10.0, 30.0]], rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        spec.concentration["effect"],
        15 * np.stack([1 - EFFECT_PRESENT_LITERAL, EFFECT_PRESENT_LITERAL], axis=-1),
        rtol=0,
        atol=1e-12,
    )
    for name, alpha in spec.concentration.items():
        assert alpha.shape == spec.network.cpt_shape(name), name
    # the structural zero is an exact zero of the concentration
    assert spec.concentration["grade"][1, 0] == 0.0


def test_prior_draws_shapes_and_rows(spec):
    draws = spec.prior_draws(50, seed=3)
    assert set(draws) == set(spec.network.names)
    for name, d in draws.items():
        assert d.shape == (50, *spec.network.cpt_shape(name)), name
        assert np.all(d >= 0), name
        np.testing.assert_allclose(d.sum(axis=-1), 1.0, rtol=0, atol=1e-12, err_msg=name)


def test_prior_draws_keep_structural_zeros(spec):
    draws = spec.prior_draws(500, seed=11)
    # grade=low given cause=yes has mean 0: it is exactly 0 in every draw
    assert np.all(draws["grade"][:, 1, 0] == 0.0)
    # and nowhere else is a zero forced
    assert np.all(draws["grade"][:, 0, :] > 0)
    for name, alpha in spec.concentration.items():
        zero = alpha == 0
        assert np.all(draws[name][:, zero] == 0.0), name


def test_prior_draws_reproducible(spec):
    a = spec.prior_draws(20, seed=123)
    b = spec.prior_draws(20, seed=123)
    c = spec.prior_draws(20, seed=124)
    for name in spec.network.names:
        np.testing.assert_array_equal(a[name], b[name])
    for name in spec.concentration:
        assert not np.array_equal(a[name], c[name]), name


def test_prior_draws_deterministic_variable_identical(spec):
    draws = spec.prior_draws(30, seed=5)
    for d in draws["both"]:
        np.testing.assert_array_equal(d, spec.network.cpt("both"))


def test_prior_draws_means_match_spec_means(spec):
    """Draw means within 5 standard errors of the spec means.

    For a Dirichlet row with concentration ``alpha`` (total ``a0``) the
    marginal of entry ``i`` has mean ``m = alpha_i / a0`` and variance
    ``m (1 - m) / (a0 + 1)``; the mean of ``n`` draws has standard error
    ``sqrt(m (1 - m) / ((a0 + 1) n))``.
    """
    n = 4000
    draws = spec.prior_draws(n, seed=2024)
    for name, alpha in spec.concentration.items():
        mean = spec.network.cpt(name)
        a0 = alpha.sum(axis=-1, keepdims=True)
        se = np.sqrt(mean * (1 - mean) / ((a0 + 1) * n))
        err = np.abs(draws[name].mean(axis=0) - mean)
        assert np.all(err <= 5 * se), (name, err, se)
        # and the spread of the draws is the Dirichlet spread (within 20%)
        sd = draws[name].std(axis=0)
        expected_sd = np.sqrt(mean * (1 - mean) / (a0 + 1))
        ok = expected_sd > 0
        np.testing.assert_allclose(sd[ok], expected_sd[ok], rtol=0.2, err_msg=name)


def test_prior_draws_rejects_zero_draws(spec):
    with pytest.raises(ValueError, match="n_draws"):
        spec.prior_draws(0, seed=1)


def _three_state_table(rows: np.ndarray, ess: float) -> str:
    body = ",\n".join(
        f'  {{ when = {{ a = "{s}" }}, p = [{", ".join(repr(float(x)) for x in row)}], '
        f'source = "X 2000", tag = "F" }}'
        for s, row in zip(("f", "t"), rows, strict=True)
    )
    return f"""
[variables.a]
states = ["f", "t"]
[variables.b]
states = ["x", "y", "z"]
[cpts.a]
ess = {ess!r}
rows = [{{ when = {{}}, p = 0.5, source = "X 2000", tag = "F" }}]
[cpts.b]
parents = ["a"]
ess = {ess!r}
rows = [
{body}
]
"""


@hypothesis_settings(max_examples=60)
@given(
    ess=st.floats(min_value=1e-3, max_value=1e4),
    seed=st.integers(0, 2**32 - 1),
    zeros=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_prior_draws_property(ess, seed, zeros):
    """Any positive ess: rows of every draw are distributions and zeros stay zero."""
    rng = np.random.default_rng(seed)
    rows = rng.dirichlet(np.ones(3), size=2)
    mask = np.array(zeros).reshape(2, 3)
    mask[mask.all(axis=1), 0] = False
    rows[mask] = 0.0
    rows = rows / rows.sum(axis=1, keepdims=True)  # repr(float) round-trips through TOML
    s = parse_spec(_three_state_table(rows, ess))
    draws = s.prior_draws(40, seed=seed)
    d = draws["b"]
    assert np.all(np.isfinite(d))
    assert np.all(d >= 0)
    np.testing.assert_allclose(d.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(d[:, mask] == 0.0)


# -- errors ----------------------------------------------------------------------------


def test_error_invalid_toml():
    with raises("invalid TOML"):
        parse_spec(VALID + "\n[variables\n")


def test_error_unknown_top_level_key():
    with raises("unknown key 'extras'"):
        parse_spec(VALID + "\n[extras]\nx = 1\n")


def test_error_cpt_for_unknown_variable_suggests_name():
    with raises("CPT for unknown variable 'efect'. Did you mean 'effect'?") as info:
        parse_spec(mutate(VALID, "[cpts.effect]", "[cpts.efect]"))
    assert info.value.variable == "efect"


def test_error_variable_without_cpt():
    text = mutate(
        VALID, "[variables.both]", '[variables.orphan]\nstates = ["a", "b"]\n\n[variables.both]'
    )
    with raises("variable 'orphan' has no CPT") as info:
        parse_spec(text)
    assert info.value.variable == "orphan"


def test_error_unknown_parent():
    text = mutate(VALID, 'parents = ["cause"]', 'parents = ["cuase"]')
    with raises("unknown parent 'cuase'. Did you mean 'cause'?") as info:
        parse_spec(text)
    assert info.value.variable == "grade"


def test_error_unknown_kind():
    with raises("unknown kind 'noisy_and'"):
        parse_spec(mutate(VALID, 'kind = "noisy_or"', 'kind = "noisy_and"'))


def test_error_missing_source():
    text = mutate(VALID, 'p = 0.3, source = "Smith 2001", tag = "F"', 'p = 0.3, tag = "F"')
    with raises("missing 'source'"):
        parse_spec(text)


def test_error_bad_tag():
    text = mutate(VALID, 'source = "Smith 2001", tag = "R"', 'source = "Smith 2001", tag = "X"')
    with raises("tag 'X' is not one of"):
        parse_spec(text)


def test_error_tag_s_without_reason():
    text = mutate(VALID, ', reason = "rare without a cause"', "")
    with raises("needs a 'reason'") as info:
        parse_spec(text)
    assert info.value.variable == "effect"


def test_error_probability_above_one():
    with raises("probability 1.3 is outside [0, 1]"):
        parse_spec(mutate(VALID, "p = 0.3,", "p = 1.3,"))


def test_error_row_not_summing_to_one():
    with raises("sum to"):
        parse_spec(mutate(VALID, "p = [0.6, 0.3, 0.1]", "p = [0.6, 0.3, 0.2]"))


def test_error_wrong_number_of_probabilities():
    with raises("2 probabilities for 3 states"):
        parse_spec(mutate(VALID, "p = [0.6, 0.3, 0.1]", "p = [0.6, 0.4]"))


def test_error_missing_configuration_without_default():
    text = mutate(
        VALID,
        '  { when = { cause = "yes" }, p = [0.0, 0.25, 0.75], ess = 40, source = "Jones 2002", tag = "F2" },\n',
        "",
    )
    with raises("no row for {'cause': 'yes'} and no default row"):
        parse_spec(text)


def test_error_configuration_given_twice():
    row = '  { when = { cause = "no" }, p = [0.6, 0.3, 0.1], source = "Smith 2001", tag = "F" },\n'
    with raises("given twice"):
        parse_spec(mutate(VALID, row, row + row))


def test_error_noisy_or_on_three_state_child():
    text = mutate(
        VALID,
        '[variables.effect]\nstates = ["absent", "present"]',
        '[variables.effect]\nstates = ["absent", "mild", "present"]',
    )
    with raises("a noisy-OR child needs exactly 2 states") as info:
        parse_spec(text)
    assert info.value.variable == "effect"


def test_error_unknown_state_in_when():
    text = mutate(VALID, '{ when = { cause = "no" }', '{ when = { cause = "maybe" }')
    with raises("unknown state 'maybe' of 'cause'"):
        parse_spec(text)


@pytest.mark.parametrize("ess", ["0", "-1", "-0.5"])
def test_error_ess_not_positive(ess):
    with raises("'ess' must be a positive finite number"):
        parse_spec(mutate(VALID, "ess = 10", f"ess = {ess}"))


@pytest.mark.parametrize("ess", ["0", "-2"])
def test_error_row_ess_not_positive(ess):
    with raises("'ess' must be a positive finite number"):
        parse_spec(mutate(VALID, "ess = 40", f"ess = {ess}"))


def test_error_ess_infinite():
    """An infinite ess is no Dirichlet concentration: its draws are NaN.

    Not in the loader's explicit error list, but ``ess = inf`` is valid TOML
    and the prior draws it gives are NaN (rows do not sum to 1).
    """
    with raises("'ess' must be a positive finite number"):
        parse_spec(mutate(VALID, "ess = 10", "ess = inf"))


def test_error_cycle():
    text = """
[variables.a]
states = ["f", "t"]
[variables.b]
states = ["f", "t"]
[cpts.a]
parents = ["b"]
ess = 1
rows = [{ when = "default", p = 0.5, source = "X 2000", tag = "F" }]
[cpts.b]
parents = ["a"]
ess = 1
rows = [{ when = "default", p = 0.5, source = "X 2000", tag = "F" }]
"""
    with raises("cycle"):
        parse_spec(text)


# -- roles, positive states and the content digest -------------------------------------

#: VALID with a target (effect) and a context (late), each with its positive state.
ROLES = mutate(
    mutate(VALID, '[variables.effect]\nstates', '[variables.effect]\nrole = "target"\npositive = "present"\nstates'),
    '[variables.late]\nstates', '[variables.late]\nrole = "context"\npositive = "present"\nstates',
)  # fmt: skip


def test_target_context_and_positive_states_are_read_from_the_spec():
    spec = parse_spec(ROLES)
    assert spec.target.name == "effect"
    assert spec.target.positive_index == 1
    assert spec.context == {"late": "present"}
    assert [v.name for v in spec.network.findings] == ["cause", "grade"]
    assert {v.name for v in spec.network.observable} == {"cause", "grade", "late"}
    no_target = parse_spec(VALID)
    assert no_target.context == {}
    with pytest.raises(NetworkError, match="declares 0 target variables"):
        _ = no_target.target


@pytest.mark.parametrize(
    ("old", "new", "phrase"),
    [
        ('[variables.grade]\n', '[variables.grade]\nrole = "context"\n', "needs 'positive'"),
        ('role = "context"\npositive = "present"\n', 'role = "context"\npositive = "maybe"\n',
         "positive state 'maybe' is not one of"),
        ('role = "history"', 'role = "histroy"', "unknown role 'histroy'"),
        ('[variables.grade]\n', '[variables.grade]\nrole = "target"\npositive = "low"\n',
         "2 variables have role 'target'"),
    ],
)  # fmt: skip
def test_bad_roles_and_positive_states_are_refused(old, new, phrase):
    with pytest.raises(NetworkError, match=re.escape(phrase)):
        parse_spec(mutate(ROLES, old, new))


def test_absent_present_states_say_which_is_positive():
    spec = parse_spec(mutate(ROLES, 'role = "target"\npositive = "present"\n', 'role = "target"\n'))
    assert spec.target.positive is None
    assert spec.target.states[spec.target.positive_index] == "present"


def test_content_digest_follows_the_model_not_the_words():
    spec = parse_spec(ROLES)
    same = [
        ROLES + "\n# a comment\n",  # comments
        mutate(ROLES, 'name = "toy"', 'name = "toy, renamed"'),  # metadata
        mutate(ROLES, 'role = "history"', 'role = "sign"'),  # the kind of finding
        mutate(ROLES, 'reason = "both hold"', 'reason = "both components hold"'),  # a reason
    ]
    for text in same:
        other = parse_spec(text)
        assert other.digest != spec.digest
        assert other.content_digest == spec.content_digest
    different = [
        mutate(ROLES, "p = 0.3,", "p = 0.31,"),  # a probability
        mutate(ROLES, "ess = 10", "ess = 11"),  # the prior's weight
        mutate(ROLES, 'role = "target"\npositive = "present"', 'role = "target"\npositive = "absent"'),
        mutate(ROLES, 'role = "context"\npositive = "present"\n', ""),  # no context
        mutate(ROLES, 'role = "history"', 'role = "latent"'),  # a finding made hidden
    ]  # fmt: skip
    for text in different:
        assert parse_spec(text).content_digest != spec.content_digest


def test_earlier_text_digests_are_checked():
    earlier = "a" * 64
    text = mutate(
        ROLES, 'version = "0.0.1"', f'version = "0.0.1"\nearlier_text_sha256 = ["{earlier}"]'
    )
    assert parse_spec(text).earlier_digests == (earlier,)
    with pytest.raises(NetworkError, match="earlier_text_sha256"):
        parse_spec(mutate(text, earlier, "not a digest"))
