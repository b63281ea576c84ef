"""A care setting puts its case mix in place of the model's distribution of the condition.

The oracle is the law of total probability, computed through other engine queries: with the
condition recorded, P(neuropathic | condition, context) and P(context | condition) per draw;
the setting's answer for a record without the condition must be their mixture under the
setting's weights. A recorded condition makes the setting irrelevant (its prior cancels).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from npprob.cli import main
from npprob.diagnosis import load_model
from npprob.errors import NetworkError, ParameterError
from npprob.io.settings import CASE_MIX_VARIABLE, SETTING_FLOOR, care_setting_names, care_settings
from npprob.network.evidence import EvidenceBatch

MODEL = load_model()
NAMES = care_setting_names(MODEL.network)


def setting_weights(name: str) -> np.ndarray:
    """The setting's case mix as the file gives it, with the documented floor."""
    var = MODEL.network.variable(CASE_MIX_VARIABLE)
    mix = care_settings(MODEL.network)[name].groups[0].aetiology
    if mix is None:
        w = np.asarray(MODEL.network.cpt(var.name), dtype=float)
    else:
        w = np.array([mix.get(s, 0.0) for s in var.states])
        w = w / w.sum()
    return (1 - SETTING_FLOOR) * w + SETTING_FLOOR / len(w)


def by_total_probability(weights: np.ndarray, findings: dict[str, str]) -> float:
    """P(NP | findings) in a setting whose case mix is ``weights``, over the draws s.

    Per draw, by total probability over the condition a:
    num_s = sum_a w_a P(ctx, findings | a, s) P(NP | a, ctx, findings, s) and
    den_s = sum_a w_a P(ctx, findings | a, s). The draws are weighted by
    P(findings | ctx, s) = den_s / C_s with C_s = sum_a w_a P(ctx | a, s), so the
    answer is sum_s num_s / C_s over sum_s den_s / C_s."""
    var = MODEL.network.variable(CASE_MIX_VARIABLE)

    def likelihood(record: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
        rows = [MODEL.evidence({**record, var.name: state}).codes[0] for state in var.states]
        batch = EvidenceBatch(MODEL.network, np.array(rows))
        # P(ctx, record | a) = P(ctx, record, a) / P(a) under the model's own case mix.
        return np.exp(MODEL.engine.log_evidence(batch)) / own, batch

    nothing = EvidenceBatch(MODEL.network, np.full((1, len(MODEL.network)), -1, dtype=np.int16))
    own = MODEL.engine.query(nothing, [var.name]).marginal(var.name)[:, 0, :]  # (draws, states)
    seen, batch = likelihood(findings)
    p_np = MODEL.p_neuropathic_draws(batch)  # (draws, states)
    context, _ = likelihood({})
    c = (weights[None, :] * context).sum(axis=1)
    num = (weights[None, :] * seen * p_np).sum(axis=1)
    den = (weights[None, :] * seen).sum(axis=1)
    return float((num / c).sum() / (den / c).sum())


def test_every_care_setting_is_listed_and_study_designs_are_not() -> None:
    assert {"general_population", "consecutive_pain_clinic", "diabetes", "post_stroke",
            "spinal_cord_injury"} <= set(NAMES)  # fmt: skip
    assert "case_control" not in NAMES
    with pytest.raises(ParameterError, match="study design"):
        MODEL.in_setting("case_control")
    with pytest.raises(ParameterError, match=r"Did you mean 'diabetes'"):
        MODEL.in_setting("diabetis")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("findings", [{}, {"burning": "present", "sensory_loss": "present"}])
def test_the_setting_answer_is_the_mixture_over_its_case_mix(name, findings) -> None:
    answer = MODEL.in_setting(name).diagnose(findings, explain=False).p_neuropathic
    assert answer == pytest.approx(by_total_probability(setting_weights(name), findings), abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_a_recorded_condition_gives_the_same_answer_in_every_setting(name) -> None:
    record = {"aetiology": "stroke", "distribution_plausible": "yes", "burning": "present"}
    own = MODEL.diagnose(record, explain=False)
    there = MODEL.in_setting(name).diagnose(record, explain=False)
    np.testing.assert_allclose(there.p_neuropathic_draws, own.p_neuropathic_draws, atol=1e-12)
    np.testing.assert_allclose(there.draw_weights, own.draw_weights, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_the_base_rate_lies_in_the_settings_published_prevalence(name) -> None:
    low, high = care_settings(MODEL.network)[name].expected_prevalence
    p = MODEL.in_setting(name).diagnose({}, explain=False).p_neuropathic
    assert low <= p <= high, (name, p, (low, high))


def test_settings_change_the_base_rate_in_the_expected_direction() -> None:
    p = {n: MODEL.in_setting(n).diagnose({}, explain=False).p_neuropathic for n in NAMES}
    # Spinal cord injury (53 % neuropathic, Burke 2017) above a pain clinic above the community.
    assert p["spinal_cord_injury"] > p["consecutive_pain_clinic"] > p["general_population"]


def test_only_a_root_distribution_can_be_replaced() -> None:
    with pytest.raises(NetworkError, match="has parents"):
        MODEL.engine.with_root_distribution("lesion", [0.5, 0.5])
    states = MODEL.network.variable(CASE_MIX_VARIABLE).states
    with pytest.raises(NetworkError):
        MODEL.engine.with_root_distribution(CASE_MIX_VARIABLE, np.full(len(states), 0.5))


def run_json(capsys, *args: str) -> dict:
    assert main(["diagnose", *args, "--json", "--no-treatments"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_command_line_names_the_setting_and_the_record_can_carry_it(capsys, tmp_path) -> None:
    out = run_json(capsys, "--finding", "burning=present", "--setting", "diabetes")
    assert out["model"]["setting"]["name"] == "diabetes"
    assert out["model"]["setting"]["source"]
    plain = run_json(capsys, "--finding", "burning=present")
    assert plain["model"]["setting"]["name"] is None
    # The evidence-synthesis default learns each statistic in its own setting, so without
    # one the condition keeps the specification's community mix.
    assert "community" in plain["model"]["setting"]["description"]
    assert plain["p_neuropathic"] != out["p_neuropathic"]
    record = tmp_path / "p.json"
    record.write_text(json.dumps({"burning": "present", "setting": "diabetes"}))
    assert run_json(capsys, str(record))["p_neuropathic"] == out["p_neuropathic"]
    # The flag wins over the record.
    flagged = run_json(capsys, str(record), "--setting", "post_stroke")
    assert flagged["model"]["setting"]["name"] == "post_stroke"


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--setting", "diabetis"], "Did you mean 'diabetes'"),
        (["--setting", "case_control"], "study design"),
    ],
)
def test_a_bad_setting_is_one_line(capsys, args, phrase) -> None:
    assert main(["diagnose", "--finding", "burning=present", *args]) == 2
    err = capsys.readouterr().err
    assert phrase in err
    assert err.count("\n") == 1


def test_a_setting_in_the_record_must_be_text(capsys, tmp_path) -> None:
    record = tmp_path / "p.json"
    record.write_text(json.dumps({"burning": "present", "setting": 3}))
    assert main(["diagnose", str(record)]) == 2
    assert "'setting' must be the name of a care setting" in capsys.readouterr().err
