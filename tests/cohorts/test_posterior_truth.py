"""``--truth posterior``: the truth is one draw of a trained model's posterior."""

from __future__ import annotations

import json

import numpy as np
import pytest

from npprob.cli import main
from npprob.cohorts import SimulationOptions, simulate
from npprob.errors import ParameterError
from npprob.io.artifacts import ModelFolder


def test_posterior_truth_equal_to_the_literature_gives_the_literature_cohort(spec, settings):
    setting = settings["consecutive_pain_clinic"]
    literature = simulate(spec, setting, 300, 7)
    cpts = {k: np.array(spec.network.cpt(k)) for k in spec.network.names}
    posterior = simulate(
        spec, setting, 300, 7, SimulationOptions(truth="posterior"), truth_cpts=cpts
    )
    np.testing.assert_array_equal(literature.truth, posterior.truth)
    np.testing.assert_array_equal(literature.p_true, posterior.p_true)
    assert literature.truth_hash() == posterior.truth_hash()


def test_posterior_truth_needs_its_parameters_and_nothing_else_takes_them(spec, settings):
    setting = settings["consecutive_pain_clinic"]
    cpts = {k: np.array(spec.network.cpt(k)) for k in spec.network.names}
    with pytest.raises(ParameterError, match="truth_cpts"):
        simulate(spec, setting, 10, 1, SimulationOptions(truth="posterior"))
    with pytest.raises(ParameterError, match="truth_cpts"):
        simulate(spec, setting, 10, 1, truth_cpts=cpts)
    broken = dict(cpts)
    broken["aetiology"] = broken["aetiology"] * 2.0
    with pytest.raises(Exception, match="aetiology"):
        simulate(spec, setting, 10, 1, SimulationOptions(truth="posterior"), truth_cpts=broken)


def test_the_cli_draws_the_truth_from_the_shipped_model(tmp_path, spec):
    out = tmp_path / "c"
    code = main(["simulate", "--truth", "posterior", "--n", "40", "--seed", "3",
                 "--out-dir", str(out), "--no-parquet", "--no-progress"])  # fmt: skip
    assert code == 0
    card = json.loads((out / "card.json").read_text())
    draws, _ = ModelFolder.find("default").load(spec)
    n_draws = next(iter(draws.values())).shape[0]
    assert card["truth_model"] == {"name": "default", "draw": 3 % n_draws, "n_draws": n_draws}
    assert card["truth"] == "posterior"
    # The card's hash is the hash of that draw, not of the literature values.
    cpts = {k: v[3 % n_draws] for k, v in draws.items()}
    setting = card["setting"]["name"]
    from npprob.cohorts import load_settings

    again = simulate(spec, load_settings(spec.network)[setting], 40, 3,
                     SimulationOptions(truth="posterior"), truth_cpts=cpts)  # fmt: skip
    assert card["truth_parameters_sha256"] == again.truth_hash()
    assert (
        card["truth_parameters_sha256"]
        != simulate(spec, load_settings(spec.network)[setting], 40, 3).truth_hash()
    )


def test_truth_model_without_posterior_truth_is_refused(tmp_path, capsys):
    code = main(["simulate", "--truth-model", "default", "--n", "5",
                 "--out-dir", str(tmp_path / "x"), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "--truth posterior" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


DN4_RECORD = ("aetiology", "burning", "painful_cold", "electric_shocks", "tingling",
              "pins_and_needles", "numbness", "itching", "hypoaesthesia_touch",
              "hypoaesthesia_pinprick", "brush_allodynia")  # fmt: skip


def test_record_keeps_only_the_named_findings_and_their_true_probability(spec, settings):
    from npprob.inference.engine import Engine

    setting = settings["consecutive_pain_clinic"]
    cohort = simulate(spec, setting, 400, 5, SimulationOptions(record=DN4_RECORD))
    net = spec.network
    recorded = cohort.recorded.codes
    for v in net.variables:
        column = recorded[:, net.index(v.name)]
        if v.name in DN4_RECORD:
            assert (column >= 0).all(), v.name
        elif v.is_finding:
            assert (column < 0).all(), v.name
    # The truth is P(neuropathic | what was recorded): the exact engine, given each
    # patient's recorded findings by name.
    engine = Engine(net, cohort.truth_cpts)
    target = net.target
    for i in range(10):
        named = {v.name: v.states[recorded[i, net.index(v.name)]] for v in net.variables
                 if recorded[i, net.index(v.name)] >= 0}  # fmt: skip
        p = engine.query(named, [target.name]).mean(target.name)[0, target.positive_index]
        assert cohort.p_true[i] == pytest.approx(p, rel=1e-9)
    assert cohort.card()["options"]["record"] == DN4_RECORD


def test_record_refuses_unknown_findings(spec, settings):
    with pytest.raises(ParameterError, match="unknown finding"):
        simulate(spec, settings["consecutive_pain_clinic"], 10, 1,
                 SimulationOptions(record=("aetiology", "lesion_size")))  # fmt: skip
    with pytest.raises(ParameterError, match="record"):
        SimulationOptions(record="aetiology")
