"""Bad input to the cohort layer: a NetworkError with a message that says what is wrong."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, get_setting, load_settings, simulate
from npprob.errors import DataFileError, NetworkError, NpprobError, ParameterError

VALID_GROUPS = """
[settings.custom]
description = "test"
expected_prevalence = [0.2, 0.6]
groups = [
  { name = "a", fraction = 0.5, aetiology = { stroke = 1.0 }, require = { lesion = "present" } },
  { name = "b", fraction = 0.5, aetiology = { osteoarthritis = 2.0, unknown = 2.0 } },
]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- simulate and options ------------------------------------------------------------------


def test_network_error_is_an_npprob_error():
    assert issubclass(NetworkError, NpprobError)
    # Errors say what failed: a bad argument or a bad data file, each also a ValueError.
    for error in (ParameterError, DataFileError):
        assert issubclass(error, NpprobError)
        assert issubclass(error, ValueError)
        assert not issubclass(error, NetworkError)


def test_unknown_setting_suggests_the_close_name(settings):
    with pytest.raises(ParameterError, match=r"Unknown setting 'case_contrl'") as info:
        get_setting(settings, "case_contrl")
    assert "Did you mean 'case_control'" in str(info.value)
    # The valid names are listed.
    for name in settings:
        assert name in str(info.value)


def test_unknown_setting_without_a_close_name_lists_the_settings(settings):
    with pytest.raises(ParameterError, match="Unknown setting 'zzz'") as info:
        get_setting(settings, "zzz")
    assert "Did you mean" not in str(info.value)
    assert "general_population" in str(info.value)


@pytest.mark.parametrize("n", [0, -1, -100])
def test_n_below_one_is_rejected(spec, settings, n):
    with pytest.raises(ParameterError, match="n must be at least 1"):
        simulate(spec, settings["general_population"], n, 0)


@pytest.mark.parametrize("mcar", [-0.1, 1.0, 1.5, math.nan])
def test_mcar_outside_zero_one_is_rejected(mcar):
    with pytest.raises(ParameterError, match=r"mcar must be in \[0, 1\)"):
        SimulationOptions(mcar=mcar)


@pytest.mark.parametrize("mcar", [0.0, 0.999])
def test_mcar_edges_inside_the_range_are_accepted(mcar):
    assert SimulationOptions(mcar=mcar).mcar == mcar


@pytest.mark.parametrize("agreement", [0.49, 1.01, -1.0, math.nan])
def test_agreement_outside_half_to_one_is_rejected(agreement):
    with pytest.raises(ParameterError, match=r"agreement must be in \[0.5, 1\]"):
        SimulationOptions(agreement=agreement)


@pytest.mark.parametrize("strength", [-0.1, 1.1, math.nan])
def test_reporting_trait_outside_zero_one_is_rejected(strength):
    with pytest.raises(ParameterError, match=r"reporting_trait must be in \[0, 1\]"):
        SimulationOptions(reporting_trait=strength)


@pytest.mark.parametrize("label", ["doctor", "Truth", ""])
def test_bad_label_is_rejected(label):
    with pytest.raises(ParameterError, match="label must be one of truth, clinician or neupsig"):
        SimulationOptions(label=label)


@pytest.mark.parametrize("truth", ["posterior_draw", "Literature", ""])
def test_bad_truth_is_rejected(truth):
    with pytest.raises(ParameterError, match="truth must be one of literature, prior or posterior"):
        SimulationOptions(truth=truth)


@pytest.mark.parametrize("seed", [-1, -(2**40)])
def test_negative_seed_is_rejected_as_bad_input(spec, settings, seed):
    # A seed is user input (``--seed``); it must not end in a bare numpy ValueError.
    with pytest.raises(ParameterError, match="seed must be a non-negative integer"):
        simulate(spec, settings["general_population"], 10, seed)


def test_seed_zero_and_huge_seeds_are_accepted(spec, settings):
    for seed in (0, 2**63 + 5):
        cohort = simulate(spec, settings["general_population"], 10, seed)
        assert cohort.seed == seed
        assert cohort.card()["seed"] == seed


# -- settings files ------------------------------------------------------------------------


def test_a_valid_custom_settings_file_loads_and_simulates(tmp_path, spec):
    settings = load_settings(spec.network, write(tmp_path, VALID_GROUPS))
    custom = settings["custom"]
    assert [g.name for g in custom.groups] == ["a", "b"]
    assert custom.groups[0].require == {"lesion": "present"}
    cohort = simulate(spec, custom, 400, 1)
    net = spec.network
    states = net.variable("aetiology").states
    a = cohort.group == "a"
    assert a.sum() == 200
    assert np.all(cohort.column("aetiology")[a] == states.index("stroke"))
    assert np.all(cohort.column("lesion")[a] == 1)
    assert set(cohort.column("aetiology")[~a].tolist()) <= {
        states.index("osteoarthritis"),
        states.index("unknown"),
    }


def test_unknown_aetiology_state_is_rejected_with_a_hint(tmp_path, network):
    path = write(tmp_path, VALID_GROUPS.replace("stroke = 1.0", "stroek = 1.0"))
    with pytest.raises(DataFileError, match="unknown aetiology 'stroek'") as info:
        load_settings(network, path)
    message = str(info.value)
    assert "Did you mean 'stroke'" in message
    assert "custom" in message
    assert "'a'" in message


def test_unknown_aetiology_in_a_single_mix_setting_is_rejected(tmp_path, network):
    text = "[settings.x]\naetiology = { osteoarthritis = 0.5, martian_flu = 0.5 }\n"
    with pytest.raises(DataFileError, match="unknown aetiology 'martian_flu'"):
        load_settings(network, write(tmp_path, text))


@pytest.mark.parametrize("fractions", [(0.5, 0.4), (0.6, 0.6), (0.556, 0.445)])
def test_fractions_not_summing_to_one_are_rejected(tmp_path, network, fractions):
    text = VALID_GROUPS.replace(
        "fraction = 0.5, aetiology = { stroke", f"fraction = {fractions[0]}, aetiology = {{ stroke"
    )
    text = text.replace(
        "fraction = 0.5, aetiology = { osteo", f"fraction = {fractions[1]}, aetiology = {{ osteo"
    )
    with pytest.raises(DataFileError, match=r"fractions sum to .*, not 1"):
        load_settings(network, write(tmp_path, text))


def test_fraction_outside_zero_one_is_rejected(tmp_path, network):
    text = VALID_GROUPS.replace(
        "fraction = 0.5, aetiology = { stroke", "fraction = 0.0, aetiology = { stroke"
    )
    with pytest.raises(DataFileError, match=r"fraction 0.0 outside \(0, 1\]"):
        load_settings(network, write(tmp_path, text))


def test_negative_weight_is_rejected(tmp_path, network):
    text = VALID_GROUPS.replace("unknown = 2.0", "unknown = -2.0")
    with pytest.raises(DataFileError, match="negative weight for 'unknown'"):
        load_settings(network, write(tmp_path, text))


def test_zero_weights_are_rejected(tmp_path, network):
    text = VALID_GROUPS.replace("stroke = 1.0", "stroke = 0.0")
    with pytest.raises(DataFileError, match="weights sum to 0"):
        load_settings(network, write(tmp_path, text))


@pytest.mark.parametrize(
    "require", ['{ lesion = "maybe" }', '{ lesoin = "present" }', '{ neuropathic = "yes" }']
)
def test_bad_require_is_rejected(tmp_path, network, require):
    text = VALID_GROUPS.replace('{ lesion = "present" }', require)
    with pytest.raises(DataFileError, match="cannot require"):
        load_settings(network, write(tmp_path, text))


def test_invalid_toml_missing_file_and_empty_file_are_rejected(tmp_path, network):
    with pytest.raises(DataFileError, match="invalid TOML"):
        load_settings(network, write(tmp_path, "[settings.x\n"))
    with pytest.raises(DataFileError, match="Cannot read settings file"):
        load_settings(network, tmp_path / "nope.toml")
    with pytest.raises(DataFileError, match=r"no \[settings\.\*\] tables"):
        load_settings(network, write(tmp_path, "# nothing\n"))


def test_shipped_settings_load_with_sound_groups(settings, network):
    states = set(network.variable("aetiology").states)
    assert "general_population" in settings
    for name, setting in settings.items():
        assert setting.name == name
        assert sum(g.fraction for g in setting.groups) == pytest.approx(1.0)
        assert setting.source
        assert setting.tag in {"F", "F2", "R", "D", "S"}
        for group in setting.groups:
            if group.aetiology is not None:
                assert set(group.aetiology) <= states
        assert setting.to_dict()["name"] == name


# -- rejection sampling --------------------------------------------------------------------

IMPOSSIBLE = """
[settings.impossible]
groups = [
  { name = "all", fraction = 1.0, require = { lesion = "absent", neuropathic = "present" } },
]
"""

RARE = """
[settings.oa_neuropathic]
groups = [
  { name = "all", fraction = 1.0, aetiology = { osteoarthritis = 1.0 }, require = { neuropathic = "present" } },
]
"""


@pytest.fixture
def small_batches(monkeypatch):
    """Draw 100 patients per rejection-sampling batch instead of 65,536 (fast tests)."""
    module = importlib.import_module("npprob.cohorts.simulate")
    monkeypatch.setattr(module, "_BATCH", 100)


@pytest.mark.usefixtures("small_batches")
def test_impossible_requirement_is_reported(tmp_path, spec):
    # Neuropathic pain without a lesion is a structural zero: refused before sampling.
    setting = load_settings(spec.network, write(tmp_path, IMPOSSIBLE))["impossible"]
    with pytest.raises(DataFileError, match="have probability 0 under the network"):
        simulate(spec, setting, 10, 0)


@pytest.mark.usefixtures("small_batches")
def test_common_patients_are_not_reported_as_too_rare(spec, settings):
    # 77 % of draws have chronic pain, far above the 0.1 % the error message names;
    # the give-up rule must depend on the acceptance rate, not on the cohort size.
    cohort = simulate(spec, settings["general_population"], 100_000, 1)
    assert cohort.n == 100_000


@pytest.mark.slow
def test_a_one_percent_requirement_is_not_reported_as_below_a_tenth_of_a_percent(tmp_path, spec):
    # About 1.5 % of draws are osteoarthritis patients in pain with neuropathic pain.
    setting = load_settings(spec.network, write(tmp_path, RARE))["oa_neuropathic"]
    cohort = simulate(spec, setting, 1_000_000, 0)
    assert np.all(cohort.column("neuropathic") == 1)
