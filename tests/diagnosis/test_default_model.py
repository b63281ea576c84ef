"""The shipped models: the evidence-synthesis default, and the latent-class workflow fit.

The default model is the posterior given the published statistics of
``models/evidence/statistics.toml``: its card must show a fit that passed its
diagnostics and reproduces the statistics (the issue's coverage targets), for
the statistics file that ships.

``latent_class_synthetic`` is a latent-class fit to a synthetic clinic cohort: it
never saw the cohort's latent truth. Its cohort was simulated from the
specification's literature values, so the truth is known: P(neuropathic |
aetiology, chronic pain) under the specification's own network. The model's 95 %
intervals must contain it for most aetiologies of the clinic's case mix, and the
intervals must be honest (neither all huge nor all tiny).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from npprob.cohorts import load_settings
from npprob.diagnosis import load_model
from npprob.inference.engine import Engine
from npprob.io.resources import clinical_spec_path, models_dir
from npprob.network.spec import load_spec

WORKFLOW_MODEL = "latent_class_synthetic"


def _card(name: str) -> dict:
    return json.loads((models_dir() / name / "card.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def card() -> dict:
    return _card(WORKFLOW_MODEL)


@pytest.fixture(scope="module")
def default_card() -> dict:
    return _card("default")


def test_default_model_is_the_evidence_fit_that_passed(default_card) -> None:
    card = default_card
    assert card["likelihood"] == "evidence"
    assert card["name"] == "default"
    diagnostics = card["diagnostics"]
    assert diagnostics["passed"]
    assert diagnostics["divergences"] == 0
    assert diagnostics["r_hat_max"] <= 1.01
    assert min(diagnostics["ess_bulk_min"], diagnostics["ess_tail_min"]) >= 400


def test_default_model_was_fitted_to_the_shipped_statistics(default_card) -> None:
    from npprob.io.evidence import read_statistics
    from npprob.io.resources import evidence_path

    path = evidence_path()
    assert default_card["evidence"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    statistics = read_statistics(load_spec(clinical_spec_path()).network, path, counts=True)
    details = default_card["likelihood_details"]
    assert [r["id"] for r in details["statistics"]] == [s.id for s in statistics]
    assert len(statistics) >= 60
    assert len({s.publication for s in statistics}) >= 20
    for row, s in zip(details["statistics"], statistics, strict=True):
        assert (row["k"], row["n"]) == (s.k, s.n)
        low, high = row["implied_90"]
        assert 0.0 <= low <= row["implied_mean"] <= high <= 1.0


def test_default_model_reproduces_its_statistics_and_predicts_held_out_ones(default_card):
    # The targets: the 90 % posterior predictive intervals cover at least 85 % of
    # the fitted statistics; leaving each publication out, at least 80 %.
    details = default_card["likelihood_details"]
    rows = details["statistics"]
    inside = [r["predictive_90"][0] <= r["observed"] <= r["predictive_90"][1] for r in rows]
    assert [not i for i in inside] == [r["outside"] for r in rows]
    assert details["coverage_90"] == pytest.approx(np.mean(inside), abs=1e-4)
    assert details["coverage_90"] >= 0.85
    held_out = [r["lopo_90"][0] <= r["observed"] <= r["lopo_90"][1] for r in rows]
    assert details["leave_one_publication_out"]["coverage_90"] == pytest.approx(
        np.mean(held_out), abs=1e-4
    )
    assert details["leave_one_publication_out"]["coverage_90"] >= 0.80


def test_workflow_model_is_the_latent_class_fit_that_passed(card) -> None:
    assert card["likelihood"] == "latent-class"
    assert card["label"] == "noisy"
    assert card["diagnostics"]["passed"]
    assert card["diagnostics"]["divergences"] == 0
    assert card["diagnostics"]["r_hat_max"] <= 1.01
    assert card["selection"]["handled_by"] == "conditioned on in the likelihood"
    details = card["likelihood_details"]
    assert "neuropathic" in details["latent"]
    label = details["label_model"]
    assert label["label_sensitivity"]["mean"] > label["label_false_positive_rate"]["mean"]


def test_default_model_covers_the_generating_truth_by_aetiology() -> None:
    spec = load_spec(clinical_spec_path())
    net = spec.network
    model = load_model(WORKFLOW_MODEL)
    mix = load_settings(net)["consecutive_pain_clinic"].groups[0].aetiology
    common = [a for a, w in mix.items() if w >= 0.03]
    assert len(common) >= 10
    truth_engine = Engine(net)
    inside, widths = [], []
    for aetiology in common:
        record = {"aetiology": aetiology}
        truth = truth_engine.query(
            {"aetiology": aetiology, "chronic_pain": "present"}, ["neuropathic"]
        ).mean("neuropathic")[0, 1]
        low, high = model.diagnose(record, explain=False).credible_interval
        inside.append(low <= truth <= high)
        widths.append(high - low)
    assert np.mean(inside) >= 0.8, list(zip(common, inside, strict=True))
    # Informative but not certain: 3,000 patients leave real uncertainty per aetiology.
    assert 0.01 < np.median(widths) < 0.5
