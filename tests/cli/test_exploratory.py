"""Exploratory fits: written only when asked, marked in the card, refused by diagnose unless allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npprob.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "postherpetic_neuralgia.json"


def _fit_with(diagnostics: dict):
    """Stands in for the NUTS fit: prior draws and the given sampler diagnostics."""
    from npprob.learning import FitResult, check

    def fit(spec, codes, *, config=None, **_):
        draws = spec.prior_draws(config.draws * config.chains, seed=0)
        return FitResult(draws, "latent-class", 0.0, check(diagnostics), summary={})

    return fit


LOW_ESS = {"r_hat_max": 1.005, "ess_bulk_min": 150.0, "ess_tail_min": 120.0, "divergences": 0}
BAD_RHAT = {"r_hat_max": 1.2, "ess_bulk_min": 150.0, "ess_tail_min": 120.0, "divergences": 0}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort") / "c"
    flags = ["--n", "200", "--seed", "8", "--no-parquet", "--no-progress", "--label", "clinician"]
    assert main(["simulate", *flags, "--out-dir", str(out)]) == 0
    return out / "cohort.csv"


def _train(cohort, models, name, *extra):
    return main(["train", "--cohort", str(cohort), "--likelihood", "latent-class", "--name", name,
                 "--models-dir", str(models), "--draws", "40", "--chain-draws", "20", *extra])  # fmt: skip


@pytest.mark.parametrize(
    ("diagnostics", "flags", "written", "min_ess"),
    [
        (LOW_ESS, [], False, None),
        (LOW_ESS, ["--exploratory"], True, None),
        (LOW_ESS, ["--min-ess", "100"], True, 100.0),
        (LOW_ESS, ["--min-ess", "130"], False, None),  # the tail ESS is 120
        (BAD_RHAT, ["--min-ess", "100"], False, None),  # r-hat is not an ESS matter
        (BAD_RHAT, ["--exploratory"], True, None),
    ],
)
def test_a_failed_fit_is_written_only_as_asked(
    cohort, tmp_path, capsys, monkeypatch, diagnostics, flags, written, min_ess
):
    import npprob.learning as learning

    monkeypatch.setattr(learning, "fit_pymc_marginal", _fit_with(diagnostics))
    status = _train(cohort, tmp_path, "m", *flags)
    err = capsys.readouterr().err
    assert "diagnostics failed" in err
    assert status == (0 if written else 1)
    assert (tmp_path / "m").exists() is written
    if written:
        card = json.loads((tmp_path / "m" / "card.json").read_text())
        assert card["diagnostics"]["passed"] is False
        assert card["diagnostics"]["exploratory"] is True
        assert card["diagnostics"].get("min_ess") == min_ess
        assert card["diagnostics"]["problems"]


def test_diagnose_refuses_an_exploratory_model_unless_allowed(
    cohort, tmp_path, capsys, monkeypatch
):
    import npprob.learning as learning

    monkeypatch.setattr(learning, "fit_pymc_marginal", _fit_with(LOW_ESS))
    assert _train(cohort, tmp_path, "m", "--exploratory") == 0
    capsys.readouterr()
    model = str(tmp_path / "m")
    assert main(["diagnose", str(EXAMPLE), "--model", model]) == 2
    err = capsys.readouterr().err
    assert "did not pass its sampler diagnostics" in err
    assert "bulk ESS 150.0 < 400" in err
    assert "--allow-unconverged" in err
    assert main(["treat", str(EXAMPLE), "--model", model]) == 2
    capsys.readouterr()
    assert main(["diagnose", str(EXAMPLE), "--model", model, "--allow-unconverged"]) == 0
    assert "WARNING: this model did not pass its sampler diagnostics" in capsys.readouterr().out
    assert main(["diagnose", str(EXAMPLE), "--model", model, "--allow-unconverged", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["diagnostics_passed"] is False


def test_a_converged_model_says_nothing_of_it(capsys):
    assert main(["diagnose", str(EXAMPLE), "--json", "--no-treatments"]) == 0
    assert "diagnostics_passed" not in json.loads(capsys.readouterr().out)["model"]


def test_serve_refuses_an_exploratory_model_unless_allowed(cohort, tmp_path, capsys, monkeypatch):
    import npprob.learning as learning
    from npprob.errors import ModelFileError
    from npprob.web.app import create_app

    monkeypatch.setattr(learning, "fit_pymc_marginal", _fit_with(LOW_ESS))
    assert _train(cohort, tmp_path, "m", "--exploratory") == 0
    with pytest.raises(ModelFileError, match="--allow-unconverged"):
        create_app(str(tmp_path / "m"))
    from starlette.testclient import TestClient

    client = TestClient(create_app(str(tmp_path / "m"), allow_unconverged=True))
    assert "did not pass its sampler diagnostics" in client.get("/").text


@pytest.mark.parametrize("value", ["0", "401", "-5"])
def test_min_ess_out_of_range_is_one_line(cohort, tmp_path, capsys, value):
    assert _train(cohort, tmp_path, "m", "--min-ess", value) == 2
    assert "--min-ess must be in [1, 400]" in capsys.readouterr().err
