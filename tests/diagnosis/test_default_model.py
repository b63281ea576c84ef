"""The shipped default model against the truth that generated its training cohort.

The default model is a latent-class fit: it never saw the cohort's latent truth.
Its cohort was simulated from the specification's literature values, so the
truth is known: P(neuropathic | aetiology, chronic pain) under the
specification's own network. The model's 95 % intervals must contain it for
most aetiologies of the clinic's case mix, and the intervals must be honest
(neither all huge nor all tiny).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from npprob.cohorts import load_settings
from npprob.diagnosis import load_model
from npprob.inference.engine import Engine
from npprob.io.resources import clinical_spec_path, models_dir
from npprob.network.spec import load_spec


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((models_dir() / "default" / "card.json").read_text(encoding="utf-8"))


def test_default_model_is_the_latent_class_fit_that_passed(card) -> None:
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
    model = load_model()
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
