"""Bad input to the engine fails early, with the error class and message the docs promise."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.errors import EvidenceError, NetworkError, ZeroProbabilityEvidenceError
from npprob.inference import Engine
from npprob.network import EvidenceBatch, Network, Variable


@pytest.fixture
def net() -> Network:
    return Network(
        [
            Variable("rain", ("no", "yes")),
            Variable("sprinkler", ("off", "on")),
            Variable("wet", ("dry", "damp", "soaked")),
        ],
        {"wet": ["rain", "sprinkler"]},
        {
            "rain": [0.8, 0.2],
            "sprinkler": [0.6, 0.4],
            "wet": [
                [[0.9, 0.08, 0.02], [0.2, 0.5, 0.3]],
                [[0.1, 0.6, 0.3], [0.01, 0.19, 0.8]],
            ],
        },
    )


@pytest.fixture
def engine(net) -> Engine:
    return Engine(net)


# -- targets --------------------------------------------------------------------------


def test_unknown_target_suggests_close_name(engine):
    with pytest.raises(NetworkError, match="rian") as info:
        engine.query({"wet": "damp"}, ["rian"])
    assert "Did you mean 'rain'" in str(info.value)
    assert info.value.variable == "rian"


def test_unknown_target_without_close_name(engine):
    with pytest.raises(NetworkError, match="zzzzzz") as info:
        engine.query({"wet": "damp"}, ["zzzzzz"])
    assert "Did you mean" not in str(info.value)


def test_unknown_target_as_plain_string(engine):
    with pytest.raises(NetworkError, match="Did you mean 'sprinkler'"):
        engine.query({"wet": "damp"}, "sprinkle")


def test_duplicate_target(engine):
    with pytest.raises(NetworkError, match="twice") as info:
        engine.query({"wet": "damp"}, ["rain", "wet", "rain"])
    assert "rain" in str(info.value)


def test_marginal_of_target_not_queried(engine):
    result = engine.query({"wet": "damp"}, ["rain"])
    with pytest.raises(EvidenceError, match="sprinkler"):
        result.marginal("sprinkler")


# -- evidence codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "col", "code"),
    [(0, 2, 3), (1, 0, 2), (2, 1, -2), (0, 0, 127), (1, 2, 40_000)],
)
def test_out_of_range_code(engine, net, row, col, code):
    codes = np.full((3, 3), -1, dtype=np.int64)
    codes[row, col] = code
    name = net.names[col]
    with pytest.raises(EvidenceError, match=f"'{name}'") as info:
        engine.query(codes, ["rain"])
    assert info.value.row == row
    assert info.value.variable == name
    assert f"row {row}" in str(info.value)
    assert str(code) in str(info.value)
    assert not isinstance(info.value, ZeroProbabilityEvidenceError)


def test_out_of_range_code_in_log_evidence(engine):
    with pytest.raises(EvidenceError):
        engine.log_evidence(np.array([[0, 0, 5]]))


def test_codes_with_wrong_shape(engine):
    with pytest.raises(EvidenceError, match=r"\(n_patients, 3\)"):
        engine.query(np.zeros((2, 4), dtype=np.int64), ["rain"])
    with pytest.raises(EvidenceError, match=r"\(n_patients, 3\)"):
        engine.query(np.zeros(3, dtype=np.int64), ["rain"])


def test_codes_must_be_integers(engine):
    with pytest.raises(EvidenceError, match="integers"):
        engine.query(np.zeros((2, 3), dtype=np.float64), ["rain"])


# -- evidence records -----------------------------------------------------------------


def test_unknown_state_names_row_and_allowed_states(engine):
    records = [{"wet": "dry"}, {"rain": "yes", "wet": "drenched"}]
    with pytest.raises(EvidenceError, match="drenched") as info:
        engine.query(records, ["rain"])
    msg = str(info.value)
    assert "row 1" in msg
    assert "'wet'" in msg
    for state in ("dry", "damp", "soaked"):
        assert state in msg
    assert info.value.row == 1
    assert info.value.variable == "wet"


def test_unknown_state_in_single_mapping(engine):
    # One patient: the message names no row (there is only one), the attribute does.
    with pytest.raises(EvidenceError, match="Unknown state 'maybe' for 'rain';") as info:
        engine.query({"rain": "maybe"}, ["wet"])
    assert "no, yes" in str(info.value)
    assert "row" not in str(info.value)
    assert info.value.row == 0


def test_state_given_as_index_is_rejected(engine):
    with pytest.raises(EvidenceError, match="Unknown state 1 for 'rain'"):
        engine.query({"rain": 1}, ["wet"])


def test_unknown_variable_in_records(engine):
    with pytest.raises(EvidenceError, match="Did you mean 'wet'") as info:
        engine.query([{"rain": "no"}, {}, {"wett": "dry"}], ["rain"])
    assert info.value.row == 2
    assert "row 2" in str(info.value)


def test_record_that_is_not_a_mapping(engine):
    with pytest.raises(EvidenceError, match="record 1"):
        engine.query([{"rain": "no"}, ["rain", "no"]], ["wet"])


def test_evidence_batch_of_another_network(engine):
    other = Network([Variable("a", ("x", "y"))], {}, {"a": [0.5, 0.5]})
    with pytest.raises(EvidenceError, match="different network"):
        engine.query(EvidenceBatch.empty(other, 2), ["rain"])


# -- parameter draws ------------------------------------------------------------------


def test_draws_with_wrong_shape(net):
    with pytest.raises(NetworkError, match="wet") as info:
        Engine(net, cpts={"wet": np.full((4, 2, 3, 2), 0.5)})  # child axis not last
    assert info.value.variable == "wet"
    with pytest.raises(NetworkError, match="rain"):
        Engine(net, cpts={"rain": np.full((3,), 1 / 3)})
    with pytest.raises(NetworkError, match="rain"):
        Engine(net, cpts={"rain": np.full((2, 2, 2), 0.5)})  # two leading axes


def test_draws_transposed_parent_axes(net):
    wet = np.asarray(net.cpt("wet"))
    with pytest.raises(NetworkError, match="wet"):
        Engine(net, cpts={"wet": np.stack([np.moveaxis(wet, -1, 0)] * 2)})


def test_draws_with_inconsistent_counts(net):
    rain = np.tile([0.5, 0.5], (3, 1))
    sprinkler = np.tile([0.5, 0.5], (2, 1))
    with pytest.raises(NetworkError, match="draws"):
        Engine(net, cpts={"rain": rain, "sprinkler": sprinkler})


def test_draw_rows_not_summing_to_one(net):
    rain = np.array([[0.5, 0.5], [0.7, 0.2], [0.1, 0.9]])
    with pytest.raises(NetworkError, match="rain") as info:
        Engine(net, cpts={"rain": rain})
    assert "sum" in str(info.value)
    wet = np.stack([np.asarray(net.cpt("wet"))] * 2)
    wet[1, 1, 0] = [0.3, 0.3, 0.3]
    with pytest.raises(NetworkError, match="wet"):
        Engine(net, cpts={"wet": wet})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.1])
def test_draws_with_invalid_numbers(net, bad):
    rain = np.array([[0.5, 0.5], [1.0 - bad if np.isfinite(bad) else 0.5, bad]])
    with pytest.raises(NetworkError, match="rain"):
        Engine(net, cpts={"rain": rain})


def test_draws_for_unknown_variable(net):
    with pytest.raises(NetworkError, match="Did you mean 'rain'"):
        Engine(net, cpts={"rainn": [0.5, 0.5]})


def test_with_parameters_validates(engine):
    with pytest.raises(NetworkError, match="sprinkler"):
        engine.with_parameters({"sprinkler": [[0.5, 0.6]]})


# -- options --------------------------------------------------------------------------


@pytest.mark.parametrize("on_zero", ["ignore", "NaN", None, "zero"])
def test_invalid_on_zero(engine, on_zero):
    with pytest.raises(ValueError, match="on_zero"):
        engine.query({"wet": "damp"}, ["rain"], on_zero=on_zero)


def test_invalid_on_zero_checked_even_without_zero_rows(engine):
    with pytest.raises(ValueError, match="on_zero must be raise or nan"):
        engine.query(np.full((0, 3), -1, dtype=np.int64), ["rain"], on_zero="warn")
