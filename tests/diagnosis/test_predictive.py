"""The posterior predictive of a diagnosis, against brute-force enumeration.

A diagnosis weighs each parameter draw by how well it explains the patient's
findings: P(target | e) = sum_s P(target, e | s) / sum_s P(e | s). The oracle
enumerates the joint distribution of a small network under every draw
(tests/_oracles.py), independently of the engine and of the weighting code.
"""

from __future__ import annotations

import numpy as np
import pytest

from _oracles import brute_force, joint_table, spec_of
from npprob.diagnosis.model import DiagnosticModel
from npprob.diagnosis.predictive import (
    draw_weights,
    effective_draws,
    resample_indices,
    weighted_mean,
    weighted_quantiles,
)
from npprob.network.spec import parse_spec

#: A small clinical network: a condition (the case-mix root), the target, the
#: context every patient is in, a sign and a sign whose two rows (with and without
#: the target) are loose, independent parameters with the same prior mean.
TOY = """
[network]
name = "toy-predictive"
version = "0.0.1"

[variables.aetiology]
role = "history"
states = ["a", "b", "c"]

[variables.neuropathic]
role = "target"
positive = "present"
states = ["absent", "present"]

[variables.chronic_pain]
role = "context"
positive = "present"
states = ["absent", "present"]

[variables.sign]
role = "sign"
states = ["absent", "present"]

[variables.loose_sign]
role = "sign"
states = ["absent", "present"]

[cpts.aetiology]
ess = 6
rows = [{ when = {}, p = [0.5, 0.3, 0.2], source = "X 2000", tag = "F" }]

[cpts.neuropathic]
parents = ["aetiology"]
ess = 4
rows = [
  { when = { aetiology = "a" }, p = 0.2, source = "X 2000", tag = "F" },
  { when = { aetiology = "b" }, p = 0.5, source = "X 2000", tag = "F" },
  { when = { aetiology = "c" }, p = 0.8, source = "X 2000", tag = "F" },
]

[cpts.chronic_pain]
parents = ["neuropathic"]
ess = 10
rows = [
  { when = { neuropathic = "absent" }, p = 0.4, source = "X 2000", tag = "F" },
  { when = { neuropathic = "present" }, p = 0.9, source = "X 2000", tag = "F" },
]

[cpts.sign]
parents = ["neuropathic"]
ess = 5
rows = [
  { when = { neuropathic = "absent" }, p = 0.2, source = "X 2000", tag = "F" },
  { when = { neuropathic = "present" }, p = 0.6, source = "X 2000", tag = "F" },
]

[cpts.loose_sign]
parents = ["neuropathic"]
ess = 1
rows = [{ when = "default", p = 0.1, source = "X 2000", tag = "F" }]
"""

SPEC = parse_spec(TOY)
NAMES = SPEC.network.names


def model(n_draws: int, seed: int) -> DiagnosticModel:
    return DiagnosticModel.from_draws(
        SPEC, SPEC.prior_draws(n_draws, seed=seed), name="toy", kind="prior"
    )


FEW_DRAWS, FEW_SEED = 40, 3


def oracle(findings: dict[str, str], *, drop_case_mix: bool) -> float:
    """sum_s w_s P(NP | e, s) / sum_s w_s, w_s = P(e | context, aetiology if recorded, s).

    The model is trained on patients selected for the context, so a draw's weight
    is conditional on it; with ``drop_case_mix=False`` the recorded aetiology is
    not conditioned on (the alternative the model rejects)."""
    codes = np.full((1, len(NAMES)), -1)
    for name, state in {**findings, "chronic_pain": "present"}.items():
        codes[0, NAMES.index(name)] = SPEC.network.variable(name).states.index(state)
    draws = SPEC.prior_draws(FEW_DRAWS, seed=FEW_SEED)
    numerator = denominator = 0.0
    for s in range(FEW_DRAWS):
        spec = spec_of(SPEC.network, {k: v[s] for k, v in draws.items()})
        result = brute_force(spec, codes, ["neuropathic"])
        joint = joint_table(spec)
        axis = NAMES.index("chronic_pain")
        p_context = joint.take(1, axis=axis).sum()
        weight = result.p_evidence[0] / p_context
        if drop_case_mix and "aetiology" in findings:
            # P(aetiology | context, s), from the joint as well.
            a = SPEC.network.variable("aetiology").states.index(findings["aetiology"])
            in_context = joint.take(1, axis=axis)
            a_axis = NAMES.index("aetiology") - (NAMES.index("aetiology") > axis)
            weight /= in_context.take(a, axis=a_axis).sum() / p_context
        numerator += weight * result.marginals["neuropathic"][0, 1]
        denominator += weight
    return numerator / denominator


@pytest.fixture(scope="module")
def few() -> DiagnosticModel:
    return model(FEW_DRAWS, FEW_SEED)


@pytest.mark.parametrize(
    "findings",
    [{}, {"sign": "present"}, {"sign": "absent", "loose_sign": "present"},
     {"aetiology": "b"}, {"aetiology": "c", "sign": "present", "loose_sign": "absent"}],
)  # fmt: skip
def test_the_answer_is_the_evidence_weighted_mixture_of_the_draws(few, findings) -> None:
    d = few.diagnose(findings, explain=False)
    assert d.p_neuropathic == pytest.approx(oracle(findings, drop_case_mix=True), abs=1e-12)
    # The draws and weights travel with the diagnosis and give the same answer.
    assert np.dot(d.draw_weights, d.p_neuropathic_draws) == pytest.approx(d.p_neuropathic)
    assert d.draw_weights.sum() == pytest.approx(1.0)
    assert 1.0 <= d.effective_draws <= few.n_draws
    low, high = d.credible_interval
    assert d.p_neuropathic_draws.min() <= low <= d.p_neuropathic <= high
    assert high <= d.p_neuropathic_draws.max()


def test_an_empty_record_weighs_every_draw_equally(few) -> None:
    # Every draw explains "a patient in chronic pain" equally well once the model
    # conditions on the context it was trained on.
    d = few.diagnose({}, explain=False)
    np.testing.assert_allclose(d.draw_weights, 1.0 / few.n_draws, rtol=1e-9)
    assert d.effective_draws == pytest.approx(few.n_draws)


def test_a_recorded_condition_leaves_the_case_mix_out_of_the_weights(few) -> None:
    findings = {"aetiology": "a", "sign": "present"}
    answer = few.diagnose(findings, explain=False).p_neuropathic
    assert answer == pytest.approx(oracle(findings, drop_case_mix=True), abs=1e-12)
    # With the case mix in the weights the answer differs: the check can fail.
    assert abs(answer - oracle(findings, drop_case_mix=False)) > 1e-6


def test_the_explanation_uses_the_same_predictive(few) -> None:
    findings = {"aetiology": "c", "sign": "present"}
    effect = {e.finding: e for e in few.diagnose(findings).explanation}["sign"]
    assert effect.p_without == pytest.approx(
        oracle({"aetiology": "c"}, drop_case_mix=True), abs=1e-12
    )


def test_loose_rows_with_equal_means_are_uninformative_under_the_predictive() -> None:
    # The sign's rows with and without the target are independent Beta(0.1, 0.9)
    # parameters: for one patient the prior predictive likelihood ratio is exactly 1,
    # so observing it must not move P(target) beyond Monte Carlo error. (Averaging
    # the per-draw posteriors with equal weights moves it.)
    m = model(20_000, seed=11)
    base = m.diagnose({}, explain=False).p_neuropathic
    for state in ("absent", "present"):
        p = m.diagnose({"loose_sign": state}, explain=False).p_neuropathic
        assert p == pytest.approx(base, abs=0.025), state
    values, _ = m.weighted_draws(m.evidence({"loose_sign": "present"}))
    assert abs(values.mean() - base) > 0.03  # what the equal-weight average would say


# -- the arithmetic ---------------------------------------------------------------------------


def test_weights_normalise_per_patient_and_mark_impossible_patients() -> None:
    log_evidence = np.array([[np.log(0.2), -np.inf], [np.log(0.6), -np.inf]])
    w = draw_weights(log_evidence)
    np.testing.assert_allclose(w[:, 0], [0.25, 0.75])
    assert np.isnan(w[:, 1]).all()
    np.testing.assert_allclose(effective_draws(w)[:1], [1 / (0.25**2 + 0.75**2)])
    mean = weighted_mean(np.array([[0.0, np.nan], [1.0, np.nan]]), w)
    assert mean[0] == pytest.approx(0.75)
    assert np.isnan(mean[1])


def test_weighted_quantiles_match_hazen_percentiles_for_equal_weights(rng) -> None:
    values = rng.random((200, 3))
    weights = np.full((200, 3), 1 / 200)
    q = np.array([0.025, 0.5, 0.975])
    expected = np.percentile(values, 100 * q, axis=0, method="hazen")
    np.testing.assert_allclose(weighted_quantiles(values, weights, q), expected, atol=1e-12)


def test_weighted_quantiles_follow_the_weights() -> None:
    values = np.array([[0.1], [0.9]])
    weights = np.array([[0.9], [0.1]])
    low, mid, high = weighted_quantiles(values, weights, [0.05, 0.4, 0.99])[:, 0]
    assert low == pytest.approx(0.1)
    assert mid == pytest.approx(0.1)
    assert high == pytest.approx(0.9)


def test_resampling_is_deterministic_and_proportional(rng) -> None:
    n = 400
    equal = np.full((n, 1), 1 / n)
    np.testing.assert_array_equal(resample_indices(equal)[:, 0], np.arange(n))
    w = rng.random((n, 2))
    w /= w.sum(axis=0)
    idx = resample_indices(w)
    np.testing.assert_array_equal(idx, resample_indices(w))
    assert (np.diff(idx, axis=0) >= 0).all()
    for j in range(2):
        counts = np.bincount(idx[:, j], minlength=n)
        # Systematic resampling: each draw appears floor or ceil of n * w times.
        assert (np.abs(counts - n * w[:, j]) < 1 + 1e-9).all()


def test_weighted_quantiles_against_a_per_patient_interpolation(rng) -> None:
    values = rng.random((50, 20))
    weights = rng.random((50, 20)) * (rng.random((50, 20)) > 0.3)  # some draws weigh nothing
    weights[:, 0] = 0.0
    weights[7, 0] = 1.0  # one draw carries all
    weights /= weights.sum(axis=0)
    q = np.array([0.0, 0.025, 0.3, 0.5, 0.975, 1.0])
    got = weighted_quantiles(values, weights, q)
    for j in range(values.shape[1]):
        keep = weights[:, j] > 0
        v, w = values[keep, j], weights[keep, j]
        order = np.argsort(v)
        v, w = v[order], w[order]
        expected = np.interp(q, np.cumsum(w) - w / 2, v)
        np.testing.assert_allclose(got[:, j], expected, atol=1e-12)


def test_the_text_output_says_when_few_draws_carry_the_answer(few) -> None:
    import dataclasses

    from npprob.cli._output import diagnosis_csv_rows, format_diagnosis
    from npprob.diagnosis.model import TableDiagnosis

    d = few.diagnose({"sign": "present"})
    assert "carry this answer" not in format_diagnosis(d)
    rough = dataclasses.replace(d, effective_draws=0.05 * few.n_draws)
    assert f"Only about 2 of the {few.n_draws} parameter draws" in format_diagnosis(rough)
    # The toy network has no mechanisms: their CSV columns stay, blank.
    (row,) = diagnosis_csv_rows(TableDiagnosis(["x"], [d], {}))
    assert len(row) == 15
    assert row[4:6] == ["", ""]  # no prediction interval without a between-study spread
    assert row[9:12] == ["", "", ""]


def test_weighted_quantiles_on_many_patients_with_ties_and_strided_draws(rng) -> None:
    """The threaded path (hundreds of patients), tied values, draws of weight zero with
    NaN values, a patient whose weights are NaN, and values as a strided view."""
    n_draws, n_patients = 60, 700
    block = np.round(rng.random((n_patients, n_draws, 3)), 1)  # many ties
    values = block.transpose(1, 0, 2)[..., 1]  # (draws, patients), not contiguous
    weights = rng.random((n_draws, n_patients)) * (rng.random((n_draws, n_patients)) > 0.2)
    weights[0] = 0.0
    values[0, :] = np.nan  # never used: the draw weighs nothing
    weights /= weights.sum(axis=0)
    weights[:, 11] = np.nan
    q = np.array([0.025, 0.5, 0.975])
    got = weighted_quantiles(values, weights, q)
    assert np.isnan(got[:, 11]).all()
    for j in range(n_patients):
        if j == 11:
            continue
        keep = weights[:, j] > 0
        v, w = values[keep, j], weights[keep, j]
        order = np.argsort(v, kind="stable")
        v, w = v[order], w[order]
        np.testing.assert_allclose(got[:, j], np.interp(q, np.cumsum(w) - w / 2, v), atol=1e-12)


def test_weighted_quantiles_refuse_mismatched_shapes_and_levels() -> None:
    values = np.zeros((4, 2))
    with pytest.raises(ValueError, match="both be"):
        weighted_quantiles(values, np.zeros((4, 3)), [0.5])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        weighted_quantiles(values, np.full((4, 2), 0.25), [1.5])


def test_the_quantile_kernel_and_its_python_original_agree(rng) -> None:
    from npprob.inference._summaries import weighted_quantile_rows

    values = np.round(rng.random((30, 25)), 1)
    weights = rng.random((30, 25)) * (rng.random((30, 25)) > 0.3)
    weights[4] = 0.0
    weights[5, 3] = np.nan
    q = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    compiled, python = np.empty((5, 30)), np.empty((5, 30))
    weighted_quantile_rows(values, weights, q, compiled, 0, 30)
    weighted_quantile_rows.py_func(values, weights, q, python, 0, 30)
    np.testing.assert_array_equal(compiled, python)
    np.testing.assert_array_equal(compiled[:, 4], values[4, 0])  # no positive weight
    assert np.isnan(compiled[:, 5]).all()


def test_weighted_mean_columns_are_weighted_mean_to_the_last_bit(rng) -> None:
    """The batch path's one-pass means equal the per-patient path's, column by column,
    and a plain loop over draws; NaN answers under draws of weight zero are skipped,
    NaN weights give NaN."""
    from npprob.diagnosis.predictive import weighted_mean_columns

    n_draws, n_patients = 50, 600  # the threaded path
    base = rng.random((n_patients, n_draws, 5))
    base[rng.random(base.shape) < 0.05] = np.nan
    answers = base.transpose(1, 0, 2)  # the layout of QueryResult.probabilities
    weights = rng.random((n_draws, n_patients)) * (rng.random((n_draws, n_patients)) > 0.2)
    weights[np.isnan(answers).any(axis=2)] = 0.0
    weights /= weights.sum(axis=0)
    weights[:, 3] = np.nan
    got = weighted_mean_columns(answers, weights, [4, 0, 2])
    for row, column in zip(got, [4, 0, 2], strict=True):
        np.testing.assert_array_equal(row, weighted_mean(answers[..., column], weights))
    assert np.isnan(got[:, 3]).all()
    assert np.isfinite(np.delete(got, 3, axis=1)).all()
    # Weights laid out draws-contiguous (a transposed view, as QueryResult.log_evidence
    # gives them) and a single patient: the sum still runs in draw order, the same bits
    # as an explicit loop.
    for w in (np.asfortranarray(weights), weights[:, :1]):
        got = weighted_mean(answers[:, : w.shape[1], 1], w)
        for j in range(w.shape[1]):
            total = 0.0
            for s in range(n_draws):
                total += w[s, j] * answers[s, j, 1] if w[s, j] > 0 else 0.0
            assert got[j] == total or (np.isnan(got[j]) and np.isnan(w[:, j]).any())
    with pytest.raises(ValueError, match="indices below 5"):
        weighted_mean_columns(answers, weights, [5])
    with pytest.raises(ValueError, match="must be"):
        weighted_mean_columns(answers[..., 0], weights, [0])
