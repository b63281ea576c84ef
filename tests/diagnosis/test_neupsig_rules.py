"""The NeuPSIG rules file (``models/neupsig.toml``) and the grade computed from it.

The grade moved from code literals to a data file. :func:`oracle_grade` and
:func:`oracle_grade_codes` below are the rules as the code wrote them before the
move, copied here as an independent oracle: the file-driven grade must agree with
them on every finding set.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npprob.io.resources as resources
from npprob.diagnosis import neupsig as neupsig_module
from npprob.diagnosis import neupsig_grade
from npprob.diagnosis.neupsig import (
    CRITERIA,
    NEURAL_AETIOLOGIES,
    load_neupsig_rules,
    neupsig_grade_codes,
)
from npprob.errors import DataFileError
from npprob.io.resources import clinical_spec_path, neupsig_path
from npprob.network import Network, Variable
from npprob.network.spec import load_spec
from strategies import hypothesis_settings

NETWORK = load_spec(clinical_spec_path()).network
AETIOLOGY_ORDER = NETWORK.variable("aetiology").states

# -- the oracle: the rules as written in code before models/neupsig.toml ----------------------

ORACLE_NEURAL = frozenset(
    {
        "polyneuropathy_diabetic", "polyneuropathy_other", "herpes_zoster",
        "nerve_injury_surgery", "amputation", "plexus_injury", "root_compression",
        "root_avulsion", "neoplasm_peripheral", "trigeminal_neuralgia", "stroke",
        "multiple_sclerosis", "spinal_cord_injury", "arachnoiditis", "neoplasm_central",
        "syringomyelia",
        # Network 0.3.0: a nerve lesion by definition (CRPS II, entrapment), a
        # polyneuropathy (chemotherapy-induced), a trigeminal nerve injury (ICHD-3 13.1.2.3).
        "crps_type_2", "entrapment_neuropathy", "chemotherapy_polyneuropathy",
        "post_traumatic_trigeminal",
    }
)  # fmt: skip
ORACLE_SENSORY_LOSS = ("sensory_loss", "hypoaesthesia_touch", "hypoaesthesia_pinprick")
ORACLE_ALLODYNIA = ("brush_allodynia", "cold_allodynia")
#: Triggered paroxysms from a trigger zone count as the sign in trigeminal neuralgia (Cruccu 2016).
ORACLE_TRIGGER = ("trigger_zone",)
#: Network 0.3.2: loss on quantitative sensory testing is a sensory sign measured with a device.
ORACLE_QST = ("qst_sensory_loss",)
ORACLE_SIGNS = ORACLE_SENSORY_LOSS + ORACLE_ALLODYNIA + ORACLE_TRIGGER + ORACLE_QST
#: Network 0.3.2: the tests one by one, each confirming a lesion when abnormal.
ORACLE_TESTS = (("confirmatory_test", "positive"), ("nerve_conduction", "abnormal"),
                ("skin_biopsy", "reduced_ienfd"), ("imaging", "lesion_shown"))  # fmt: skip
GRADED = (
    "aetiology", "distribution_plausible", *(name for name, _ in ORACLE_TESTS),
    *ORACLE_SIGNS,
)  # fmt: skip


def oracle_grade(findings) -> tuple[str, bool, bool, bool, bool]:
    history = findings.get("aetiology") in ORACLE_NEURAL
    distribution = findings.get("distribution_plausible") == "yes"
    signs = any(findings.get(name) == "present" for name in ORACLE_SIGNS)
    test = any(findings.get(name) == state for name, state in ORACLE_TESTS)
    if not (history and distribution):
        grade = "unlikely"
    elif test:
        grade = "definite" if signs else "probable"
    elif signs:
        grade = "probable"
    else:
        grade = "possible"
    return grade, history, distribution, signs, test


def oracle_grade_codes(network, codes: np.ndarray) -> np.ndarray:
    def is_state(name: str, state: str) -> np.ndarray:
        if name not in network:
            return np.zeros(len(codes), dtype=bool)
        return codes[:, network.index(name)] == network.variable(name).states.index(state)

    aetiology = network.variable("aetiology")
    neural = [aetiology.states.index(s) for s in aetiology.states if s in ORACLE_NEURAL]
    history = np.isin(codes[:, network.index("aetiology")], neural)
    distribution = is_state("distribution_plausible", "yes")
    signs = np.zeros(len(codes), dtype=bool)
    for name in ORACLE_SIGNS:
        signs |= is_state(name, "present")
    test = np.zeros(len(codes), dtype=bool)
    for name, state in ORACLE_TESTS:
        test |= is_state(name, state)
    possible = history & distribution
    grade = np.where(possible, 1, 0)
    grade = np.where(possible & (signs | test), 2, grade)
    grade = np.where(possible & signs & test, 3, grade)
    return grade.astype(np.int8)


# -- random finding sets ----------------------------------------------------------------------

#: Values no variable has: a misspelt state, another variable's state, a boolean.
STRAY_VALUES = ("Present", "yes ", "positive", "present", "yes", "herpes zoster", "", True, 1)
OTHERS = tuple(n for n in NETWORK.names if n not in GRADED)


@st.composite
def finding_sets(draw):
    """Findings over the graded variables (often), other variables and an unknown name;
    each value a state, None, or a stray value."""
    out = {}
    for name in (*GRADED, *OTHERS, "not_a_variable"):
        if draw(st.integers(0, 3)) == 0:
            continue
        states = NETWORK.variable(name).states if name in NETWORK else ("present",)
        out[name] = draw(
            st.one_of(
                st.sampled_from(states),
                st.none(),
                st.sampled_from(STRAY_VALUES),
            )
        )
    return out


@hypothesis_settings(max_examples=500)
@given(findings=finding_sets())
def test_grade_and_criteria_match_the_oracle(findings):
    g = neupsig_grade(findings)
    assert (g.grade, g.history, g.distribution, g.sensory_signs, g.confirmatory_test) == (
        oracle_grade(findings)
    )
    assert g.to_dict()["criteria"] == dict(zip(CRITERIA, oracle_grade(findings)[1:], strict=True))


@hypothesis_settings(max_examples=300)
@given(
    aetiology=st.sampled_from(NETWORK.variable("aetiology").states),
    present=st.sets(st.sampled_from(GRADED[1:])),
)
def test_every_grade_is_reached_as_the_oracle_reaches_it(aetiology, present):
    # Affirmative findings only, so 'possible', 'probable' and 'definite' are common.
    findings = {"aetiology": aetiology}
    for name in present:
        findings[name] = {"distribution_plausible": "yes", "confirmatory_test": "positive"}.get(
            name, "present"
        )
    assert neupsig_grade(findings).grade == oracle_grade(findings)[0]


def random_codes(network: Network, seed: int, n: int) -> np.ndarray:
    """Codes biased towards neural aetiologies and affirmative findings, some missing."""
    rng = np.random.default_rng(seed)
    cards = np.array(network.cardinalities)
    codes = (rng.random((n, len(network))) * cards).astype(np.int16)
    affirmative = rng.random(codes.shape) < 0.4
    codes = np.where(affirmative & (cards == 2), 1, codes).astype(np.int16)
    codes[rng.random(codes.shape) < rng.random()] = -1
    return codes


@hypothesis_settings(max_examples=200)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400))
def test_batch_grade_matches_the_oracle(seed, n):
    codes = random_codes(NETWORK, seed, n)
    grades = neupsig_grade_codes(NETWORK, codes)
    assert grades.dtype == np.int8
    np.testing.assert_array_equal(grades, oracle_grade_codes(NETWORK, codes))


def sub_network(names) -> Network:
    variables = [Variable(n, NETWORK.variable(n).states) for n in names]
    cpts = {v.name: np.full(v.cardinality, 1 / v.cardinality) for v in variables}
    return Network(variables, {}, cpts)


@hypothesis_settings(max_examples=200)
@given(
    names=st.lists(
        st.sampled_from((*GRADED[1:], "punctate_allodynia", "burning")), unique=True
    ).flatmap(lambda rest: st.permutations(["aetiology", *rest])),
    seed=st.integers(0, 2**32 - 1),
)
def test_batch_grade_matches_the_oracle_on_networks_lacking_criteria(names, seed):
    net = sub_network(names)
    codes = random_codes(net, seed, 300)
    np.testing.assert_array_equal(neupsig_grade_codes(net, codes), oracle_grade_codes(net, codes))


def test_a_network_without_the_history_variable_grades_everyone_unlikely():
    # Every criterion's variable may be absent; absent means not met (the code before
    # the rules file raised for this one variable only).
    net = sub_network(GRADED[1:])
    codes = np.ones((5, len(net)), dtype=np.int16)
    assert neupsig_grade_codes(net, codes).tolist() == [0] * 5


# -- the shipped file -------------------------------------------------------------------------


def test_shipped_rules_are_the_oracle_rules():
    rules = load_neupsig_rules()
    assert tuple(rules.criteria) == CRITERIA
    conditions = {name: dict(c.conditions) for name, c in rules.criteria.items()}
    assert conditions == {
        "history": {"aetiology": tuple(sorted(ORACLE_NEURAL, key=AETIOLOGY_ORDER.index))},
        "distribution": {"distribution_plausible": ("yes",)},
        "sensory_signs": dict.fromkeys(ORACLE_SIGNS, ("present",)),
        "confirmatory_test": {name: (state,) for name, state in ORACLE_TESTS},
    }
    assert NEURAL_AETIOLOGIES == ORACLE_NEURAL
    assert isinstance(NEURAL_AETIOLOGIES, frozenset)
    for c in rules.criteria.values():
        assert (c.source, c.tag) == ("Finnerup 2016", "F")
        assert c.description


def test_the_aetiology_mapping_is_tagged_derived_from_the_seed_review():
    data = tomllib.loads(neupsig_path().read_text(encoding="utf-8"))
    (entry,) = data["criteria"]["history"]["any"]
    assert entry["tag"] == "D"
    assert "Table 1" in entry["source"]
    assert entry["reason"]


def test_shipped_rules_are_read_once_per_process():
    assert load_neupsig_rules() is load_neupsig_rules()
    # An explicit path reads the file again.
    again = load_neupsig_rules(neupsig_path())
    assert again is not load_neupsig_rules()
    assert again == load_neupsig_rules()


def test_unknown_attribute_of_the_module_raises():
    with pytest.raises(AttributeError, match="no attribute 'NEURAL'"):
        neupsig_module.NEURAL  # noqa: B018


@pytest.fixture
def shipped_cache():
    """Clear the per-process cache before and after a test that swaps the rules file."""
    neupsig_module._shipped_rules.cache_clear()
    yield
    neupsig_module._shipped_rules.cache_clear()


def test_the_grade_follows_the_file(tmp_path, monkeypatch, shipped_cache):
    findings = {"aetiology": "herpes_zoster", "distribution_plausible": "yes"}
    assert neupsig_grade(findings).grade == "possible"
    text = neupsig_path().read_text(encoding="utf-8")
    edited = tmp_path / "neupsig.toml"
    edited.write_text(text.replace('"herpes_zoster",', ""), encoding="utf-8")
    monkeypatch.setattr(resources, "neupsig_path", lambda: edited)
    neupsig_module._shipped_rules.cache_clear()
    assert neupsig_grade(findings).grade == "unlikely"
    assert "herpes_zoster" not in neupsig_module.NEURAL_AETIOLOGIES
    codes = np.full((1, len(NETWORK)), -1, dtype=np.int16)
    codes[0, NETWORK.index("aetiology")] = AETIOLOGY_ORDER.index("herpes_zoster")
    codes[0, NETWORK.index("distribution_plausible")] = 1
    assert neupsig_grade_codes(NETWORK, codes).tolist() == [0]


# -- malformed files --------------------------------------------------------------------------

SHIPPED = neupsig_path().read_text(encoding="utf-8")
DISTRIBUTION = SHIPPED[
    SHIPPED.index("[criteria.distribution]") : SHIPPED.index("[criteria.sensory")
]


def edit(old: str, new: str, *, within: str = SHIPPED) -> str:
    assert old in within, old
    edited_part = within.replace(old, new, 1)
    return SHIPPED.replace(within, edited_part, 1)


BAD_FILES = {
    "unknown variable": (edit('"distribution_plausible"', '"distribution_plausibel"'),
                         "unknown variable 'distribution_plausibel'"),
    "unknown aetiology": (edit('"syringomyelia",', '"syringomyelia", "gout",'),
                          r"unknown state\(s\) \['gout'\]"),
    "unknown state": (edit('states = ["positive"]', 'states = ["Positive"]'), "unknown state"),
    "no states": (edit('states = ["yes"]', "states = []"), "non-empty list"),
    "misspelt key": (edit('states = ["yes"]', 'state = ["yes"]'),
                     r"unknown key\(s\) \['state'\]"),
    "no source": (edit('source = "Finnerup 2016"\n', "", within=DISTRIBUTION),
                  "missing 'source'"),
    "no tag": (edit('tag = "F"\n', "", within=DISTRIBUTION), "tag None is not one of"),
    "bad tag": (edit('tag = "F"\n', 'tag = "X"\n', within=DISTRIBUTION), "tag 'X' is not one of"),
    "S without reason": (edit('tag = "F"\n', 'tag = "S"\n', within=DISTRIBUTION),
                         "needs a 'reason'"),
    "bad entry tag": (edit('tag = "D", reason = "Cold', 'tag = "Q", reason = "Cold'),
                      "entry 5: tag 'Q'"),
    "renamed criterion": (edit("[criteria.distribution]", "[criteria.distributions]"),
                          r"missing \['distribution'\], unknown \['distributions'\]"),
    "extra criterion": (SHIPPED + '\n[criteria.temporal]\nsource = "x"\ntag = "F"\nany = []\n',
                        r"unknown \['temporal'\]"),
    "invalid TOML": ("[criteria.history\n", "invalid TOML"),
    "no criteria": ("title = 'no criteria'\n", r"no \[criteria"),
    "misspelt any": (edit("any = [", "all = [", within=DISTRIBUTION),
                     r"unknown key\(s\) \['all'\]"),
}  # fmt: skip


@pytest.mark.parametrize(("text", "match"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_malformed_files_raise_data_file_error(tmp_path, text, match):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=match) as info:
        load_neupsig_rules(path)
    assert info.value.path == str(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message


def test_a_missing_file_raises_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="Cannot read NeuPSIG rules file"):
        load_neupsig_rules(tmp_path / "absent.toml")


def test_rules_are_checked_against_the_given_network():
    net = sub_network(("aetiology", "distribution_plausible"))
    with pytest.raises(DataFileError, match="unknown variable 'sensory_loss'"):
        load_neupsig_rules(neupsig_path(), net)
    # The shipped network accepts them.
    assert load_neupsig_rules(neupsig_path(), NETWORK) == load_neupsig_rules()
