"""Prediction intervals: the between-population spread of an evidence fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from npprob.diagnosis.heterogeneity import population_draws, population_rng, population_shift
from npprob.diagnosis.model import load_model
from npprob.network.evidence import EvidenceBatch


def test_the_shares_follow_the_seed() -> None:
    mu = np.full((400, 3), 0.3)
    one = population_shift(mu, 0.087, population_rng(3))
    assert population_shift(mu, 0.087, population_rng(3)).tobytes() == one.tobytes()
    assert not np.array_equal(population_shift(mu, 0.087, population_rng(4)), one)


@pytest.mark.parametrize(("mu", "rho"), [(0.3, 0.087), (0.05, 0.12), (0.9, 0.05)])
def test_the_new_population_share_has_the_beta_moments_of_the_fit(mu, rho) -> None:
    # The evidence fit's likelihood: a study's share ~ Beta with mean mu and
    # intra-study correlation rho, so variance mu (1 - mu) rho.
    n = 400_000
    shift = population_shift(np.full((n, 1), mu), rho, population_rng(1))
    share = population_draws(np.full((n, 1), mu), shift)[:, 0]
    assert share.mean() == pytest.approx(mu, rel=0.01)
    assert share.var() == pytest.approx(mu * (1 - mu) * rho, rel=0.03)


def test_no_spread_leaves_the_draws_and_certainty_stays_certain() -> None:
    p = np.array([[0.0, 0.2, 1.0, np.nan], [0.5, 0.7, 1.0, np.nan]])
    tiny = population_shift(np.full((2, 4), 0.4), 1e-9, population_rng())
    assert np.abs(tiny).max() < 1e-3
    moved = population_draws(p, np.full((2, 4), 1.5))
    assert moved[0, 0] == 0.0
    assert moved[0, 2] == moved[1, 2] == 1.0
    assert np.isnan(moved[:, 3]).all()
    assert moved[0, 1] == pytest.approx(1 / (1 + np.exp(-(np.log(0.2 / 0.8) + 1.5))))


@pytest.mark.parametrize("rho", [0.0, 1.0, -0.1])
def test_a_spread_outside_zero_one_is_refused(rho) -> None:
    with pytest.raises(ValueError, match="rho must be in"):
        population_shift(np.full((1, 1), 0.5), rho, population_rng())


@pytest.fixture(scope="module")
def default():
    return load_model()


def test_only_an_evidence_fit_has_a_spread(default) -> None:
    rho = default.card["likelihood_details"]["heterogeneity"]["target"]
    assert default.between_population_spread == rho
    assert load_model("prior").between_population_spread is None
    per_family = dataclasses.replace(
        default,
        card={**default.card, "likelihood_details": {
            **default.card["likelihood_details"], "heterogeneity_by": "family"}},
        _cache={},
    )  # fmt: skip
    assert per_family.between_population_spread is None
    assert per_family.diagnose({"aetiology": "stroke"}).prediction_interval is None


RECORDS = [
    {"aetiology": "herpes_zoster", "distribution_plausible": "yes"},
    {"aetiology": "stroke", "sensory_loss": "present"},
    {"aetiology": "osteoarthritis", "burning": "present"},
    {"burning": "present", "tingling": "present"},
    {"aetiology": "root_compression"},
]


def batch(model):
    return EvidenceBatch.from_records(model.network, RECORDS)


def test_a_patients_prediction_interval_does_not_depend_on_the_batch(default) -> None:
    together = default.diagnose_batch(batch(default))
    for record, d in zip(RECORDS, together, strict=True):
        alone = default.diagnose(record)
        # Equal up to rounding: the engine groups a batch differently from one patient.
        assert alone.prediction_interval == pytest.approx(d.prediction_interval, abs=1e-12)
        low, high = d.prediction_interval
        assert 0.0 <= low <= d.p_neuropathic <= high <= 1.0


def test_the_prediction_interval_is_wider_than_the_credible_interval(default) -> None:
    # The spread of neuropathic shares between studies adds to parameter uncertainty;
    # it matters most where the condition's share is uncertain, not at 0 or 1.
    width = []
    for d in default.diagnose_batch(batch(default)):
        width.append(
            (d.prediction_interval[1] - d.prediction_interval[0],
             d.credible_interval[1] - d.credible_interval[0])
        )  # fmt: skip
    width = np.array(width)
    assert (width[:, 0] >= width[:, 1] - 0.02).all()
    assert width[:, 0].mean() > width[:, 1].mean() + 0.02


def test_the_prediction_interval_equals_the_credible_one_without_spread(default) -> None:
    # The same quantiles from the model's draws when rho is (almost) zero: the
    # machinery adds the spread and nothing else.
    card = {**default.card, "likelihood_details": {**default.card["likelihood_details"],
            "heterogeneity": {"target": 1e-9}}}  # fmt: skip
    flat = dataclasses.replace(default, card=card, _cache={})
    for d in flat.diagnose_batch(batch(flat)):
        assert d.prediction_interval == pytest.approx(d.credible_interval, abs=1e-4)


def test_the_json_and_csv_carry_the_prediction_interval(default) -> None:
    from npprob.cli._output import diagnosis_csv_rows
    from npprob.diagnosis.model import TableDiagnosis
    from npprob.io.result_files import RESULT_COLUMNS

    d = default.diagnose(RECORDS[0])
    assert d.to_dict()["prediction_interval"] == list(d.prediction_interval)
    (row,) = diagnosis_csv_rows(TableDiagnosis(["x"], [d], {}))
    got = dict(zip(RESULT_COLUMNS, row, strict=True))
    assert float(got["pi_low"]) == pytest.approx(d.prediction_interval[0], abs=1e-6)
    assert float(got["pi_high"]) == pytest.approx(d.prediction_interval[1], abs=1e-6)
    prior = load_model("prior").diagnose(RECORDS[0])
    assert prior.to_dict()["prediction_interval"] is None
