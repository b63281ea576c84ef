"""The vectorised :func:`neupsig_grade_codes` agrees with the scalar :func:`neupsig_grade`."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from npprob.diagnosis import GRADES, neupsig_grade
from npprob.diagnosis.neupsig import neupsig_grade_codes
from npprob.io.resources import clinical_spec_path
from npprob.network import Network, Variable
from npprob.network.spec import load_spec

NETWORK = load_spec(clinical_spec_path()).network
#: The variables the grade reads.
CRITERIA = (
    "aetiology", "distribution_plausible", "sensory_loss", "hypoaesthesia_touch",
    "hypoaesthesia_pinprick", "brush_allodynia", "cold_allodynia", "trigger_zone",
    "qst_sensory_loss", "confirmatory_test", "nerve_conduction", "skin_biopsy", "imaging",
)  # fmt: skip


def findings_of(network, codes: np.ndarray) -> dict[str, str]:
    return {
        v.name: v.states[int(c)] for v, c in zip(network.variables, codes, strict=True) if c >= 0
    }


def scalar_grades(network, codes: np.ndarray) -> np.ndarray:
    return np.array(
        [GRADES.index(neupsig_grade(findings_of(network, row)).grade) for row in codes],
        dtype=np.int8,
    )


def random_patients(rng, network, n: int) -> np.ndarray:
    cards = network.cardinalities
    codes = (rng.random((n, len(network))) * cards).astype(np.int16)
    # Each row its own missingness rate, from nothing missing to everything missing.
    rate = rng.random(n)[:, None]
    rate[: n // 20] = 1.0
    rate[n // 20 : n // 10] = 0.0
    codes[rng.random(codes.shape) < rate] = -1
    return codes


def test_agrees_with_scalar_grade_on_random_patients(rng):
    codes = random_patients(rng, NETWORK, 2000)
    grades = neupsig_grade_codes(NETWORK, codes)
    assert grades.shape == (2000,)
    assert grades.dtype == np.int8
    np.testing.assert_array_equal(grades, scalar_grades(NETWORK, codes))
    assert np.all(codes[:100] == -1)
    assert np.all(grades[:100] == 0)
    # Every grade occurs, so each branch was compared.
    assert set(np.unique(grades).tolist()) == {0, 1, 2, 3}


def test_agrees_with_scalar_grade_on_a_neural_rich_sample(rng):
    # Uniform codes make 'possible' rare; bias towards neural aetiology and findings present.
    # 4,000 rows: with seven sign and four test findings, 'possible' (none of them) is the
    # rarest grade.
    n = 4000
    codes = random_patients(rng, NETWORK, n)
    cols = [NETWORK.index(name) for name in CRITERIA[1:]]
    present = rng.random((n, len(cols))) < 0.15
    codes[:, cols] = np.where(present, 1, codes[:, cols])
    codes[:, NETWORK.index("aetiology")] = rng.integers(-1, 16, size=n)
    grades = neupsig_grade_codes(NETWORK, codes)
    np.testing.assert_array_equal(grades, scalar_grades(NETWORK, codes))
    assert np.min(np.bincount(grades, minlength=4)) > 20


def test_agrees_with_scalar_grade_on_every_combination_of_the_criteria():
    # Every aetiology and distribution, with up to two of the sign and test findings
    # recorded in any of their states (the full grid over all of them is too large).
    head, rest = CRITERIA[:2], CRITERIA[2:]
    heads = list(itertools.product(*(range(-1, NETWORK.variable(n).cardinality) for n in head)))
    tails = [dict()]
    for k in (1, 2):
        for names in itertools.combinations(rest, k):
            cards = [range(NETWORK.variable(n).cardinality) for n in names]
            tails += [dict(zip(names, states, strict=True)) for states in itertools.product(*cards)]
    codes = np.full((len(heads) * len(tails), len(NETWORK)), -1, dtype=np.int16)
    row = 0
    for h in heads:
        for tail in tails:
            codes[row, [NETWORK.index(n) for n in head]] = h
            for name, state in tail.items():
                codes[row, NETWORK.index(name)] = state
            row += 1
    np.testing.assert_array_equal(
        neupsig_grade_codes(NETWORK, codes), scalar_grades(NETWORK, codes)
    )


def test_all_missing_rows_are_unlikely():
    codes = np.full((3, len(NETWORK)), -1, dtype=np.int16)
    assert neupsig_grade_codes(NETWORK, codes).tolist() == [0, 0, 0]
    assert neupsig_grade({}).grade == "unlikely"


def test_other_variables_do_not_change_the_grade(rng):
    codes = random_patients(rng, NETWORK, 500)
    others = [i for i, n in enumerate(NETWORK.names) if n not in CRITERIA]
    shuffled = codes.copy()
    shuffled[:, others] = rng.permutation(codes[:, others])
    np.testing.assert_array_equal(
        neupsig_grade_codes(NETWORK, codes), neupsig_grade_codes(NETWORK, shuffled)
    )


def small_network(names: tuple[str, ...]) -> Network:
    variables = [
        NETWORK.variable(n) if n == "aetiology" else Variable(n, NETWORK.variable(n).states)
        for n in names
    ]
    cpts = {v.name: np.full(v.cardinality, 1 / v.cardinality) for v in variables}
    return Network(variables, {}, cpts)


@pytest.mark.parametrize(
    "names",
    [
        ("aetiology", "distribution_plausible"),
        ("aetiology", "distribution_plausible", "confirmatory_test"),
        ("brush_allodynia", "aetiology", "distribution_plausible", "sensory_loss"),
    ],
)
def test_networks_without_some_criteria_grade_them_as_not_met(names):
    net = small_network(names)
    grid = np.array(
        list(itertools.product(*(range(-1, v.cardinality) for v in net.variables))),
        dtype=np.int16,
    )
    np.testing.assert_array_equal(neupsig_grade_codes(net, grid), scalar_grades(net, grid))
