"""learning.train: the pipeline behind npprob train and NpprobClassifier, on small cohorts."""

from __future__ import annotations

import numpy as np
import pytest

import npprob.learning as learning
from npprob.cohorts import load_settings, simulate
from npprob.errors import ParameterError
from npprob.io.artifacts import read_model_dir
from npprob.io.resources import clinical_spec_path
from npprob.learning import TrainConfig, check, train
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())


@pytest.fixture(scope="module")
def cohort():
    setting = load_settings(SPEC.network)["consecutive_pain_clinic"]
    return simulate(SPEC, setting, 500, 3).data()


def test_conjugate_training_fixes_the_selection_and_thins(cohort, tmp_path):
    trained = train(SPEC, cohort, config=TrainConfig(name="t", draws=20))
    assert trained.likelihood == "conjugate"
    assert trained.ok
    assert trained.n_draws == 20
    (context,) = SPEC.network.context
    np.testing.assert_array_equal(trained.draws[context.name][..., context.positive_index], 1.0)
    assert trained.card["spec_content_sha256"] == SPEC.content_digest
    assert trained.card["selection"]["handled_by"] == "fixed in the trained CPTs"
    trained.save(tmp_path / "m", netcdf=False)
    arrays, card = read_model_dir(tmp_path / "m")
    np.testing.assert_array_equal(arrays[SPEC.target.name], trained.draws[SPEC.target.name])
    assert card == trained.card


def test_a_failed_fit_is_processed_but_not_saved_unless_asked(cohort, tmp_path, monkeypatch):
    def failing_fit(spec, counts, config):
        draws = learning.posterior_draws(spec, counts, config.draws * config.chains, config.seed)
        report = check({"r_hat_max": 1.2, "ess_bulk_min": 50.0, "ess_tail_min": 30.0,
                        "divergences": 3})  # fmt: skip
        return learning.FitResult(draws, "pymc-complete", 0.0, report)

    monkeypatch.setattr(learning, "fit_pymc_complete", failing_fit)
    config = TrainConfig(draws=10, chain_draws=20, chains=2)
    trained = train(SPEC, cohort, likelihood="pymc-complete", config=config)
    assert not trained.ok
    assert len(trained.problems) == 4
    # The card describes the draws it holds: thinned, selection fixed.
    assert trained.n_draws == trained.card["n_draws"] == 10
    (context,) = SPEC.network.context
    np.testing.assert_array_equal(trained.draws[context.name][..., context.positive_index], 1.0)
    with pytest.raises(ParameterError, match="failed its diagnostics"):
        trained.save(tmp_path / "bad", netcdf=False)
    assert not (tmp_path / "bad").exists()
    trained.save(tmp_path / "bad", netcdf=False, failed=True)
    assert read_model_dir(tmp_path / "bad")[1]["diagnostics"]["passed"] is False


@pytest.mark.parametrize(
    ("field", "value", "phrase"),
    [("draws", 0, "draws must be at least 1"), ("target_accept", 1.0, "target_accept must be in"),
     ("label", "maybe", "label must be one of"),
     ("nuts_sampler", "stan", "nuts_sampler must be one of pymc, nutpie or nutpie-jax")],
)  # fmt: skip
def test_config_is_checked_on_construction(field, value, phrase):
    with pytest.raises(ParameterError, match=phrase):
        TrainConfig(**{field: value})


def test_the_chosen_sampler_reaches_the_fit():
    assert TrainConfig().sampler().sampler == "pymc"
    assert TrainConfig(nuts_sampler="nutpie").sampler().sampler == "nutpie"
