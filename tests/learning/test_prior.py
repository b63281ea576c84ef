"""A trained model as the prior of the next fit (``npprob train --prior``).

Oracles: Dirichlet draws with known concentrations, and conjugate updating: the
posterior of cohort A used as the prior of cohort B must give the posterior of A
and B pooled, computed exactly from the counts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from npprob.cli import main
from npprob.errors import ParameterError
from npprob.io.resources import clinical_spec
from npprob.learning.conjugate import posterior_concentration, posterior_draws
from npprob.learning.counts import family_counts
from npprob.learning.prior import moment_matched_concentration, prior_from_draws
from npprob.network.sampling import forward_sample

SPEC = clinical_spec()


def test_moment_matching_recovers_dirichlet_concentrations() -> None:
    rng = np.random.default_rng(0)
    alpha = np.array([[2.0, 5.0, 3.0], [40.0, 10.0, 50.0]])
    draws = np.stack([rng.dirichlet(a, 20000) for a in alpha], axis=1)  # (S, 2, 3)
    matched = moment_matched_concentration(draws, np.ones_like(alpha, dtype=bool))
    np.testing.assert_allclose(matched, alpha, rtol=0.05)


def test_structural_zeros_stay_zero_and_the_rest_is_matched() -> None:
    rng = np.random.default_rng(1)
    alpha = np.array([[0.0, 4.0, 6.0]])
    draws = np.zeros((20000, 1, 3))
    draws[:, 0, 1:] = rng.dirichlet(alpha[0, 1:], 20000)
    matched = moment_matched_concentration(draws, alpha > 0)
    assert matched[0, 0] == 0.0
    np.testing.assert_allclose(matched[0, 1:], alpha[0, 1:], rtol=0.05)


def complete_codes(n: int, seed: int) -> np.ndarray:
    return np.asarray(forward_sample(SPEC.network, n, np.random.default_rng(seed)))


def test_posterior_as_prior_then_more_data_equals_the_pooled_posterior() -> None:
    net = SPEC.network
    counts_a = family_counts(net, complete_codes(1500, 2))
    counts_b = family_counts(net, complete_codes(1500, 3))
    draws_a = posterior_draws(SPEC, counts_a, 20000, seed=4)
    tuned = dataclasses.replace(SPEC, concentration=prior_from_draws(SPEC, draws_a))
    sequential = posterior_concentration(tuned, counts_b)
    pooled = posterior_concentration(
        SPEC, {k: counts_a[k] + counts_b[k] for k in SPEC.concentration}
    )
    for name, exact in pooled.items():
        got = sequential[name]
        assert ((got == 0) == (exact == 0)).all(), name
        # Rows with one possible state are deterministic whatever their concentration.
        free = (exact > 0).sum(axis=-1) >= 2
        mean_exact = exact / exact.sum(axis=-1, keepdims=True)
        mean_got = got / got.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(mean_got[free], mean_exact[free], atol=0.01, err_msg=name)
        np.testing.assert_allclose(
            got.sum(axis=-1)[free], exact.sum(axis=-1)[free], rtol=0.1, err_msg=name
        )


def test_the_weight_interpolates_between_the_specification_and_the_model() -> None:
    counts = family_counts(SPEC.network, complete_codes(800, 5))
    draws = posterior_draws(SPEC, counts, 4000, seed=6)
    none, half, full = (prior_from_draws(SPEC, draws, w) for w in (0.0, 0.5, 1.0))
    for name, alpha in SPEC.concentration.items():
        np.testing.assert_array_equal(none[name], alpha)
        np.testing.assert_allclose(half[name], (alpha + full[name]) / 2)
    with pytest.raises(ParameterError, match="weight"):
        prior_from_draws(SPEC, draws, 1.5)
    with pytest.raises(ParameterError, match="aetiology"):
        prior_from_draws(SPEC, {k: v for k, v in draws.items() if k != "aetiology"})


@pytest.fixture(scope="module")
def complete_cohorts(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("finetune")
    paths = []
    for name, seed in (("a", "7"), ("b", "8")):
        out = tmp / name
        flags = ["--n", "1000", "--seed", seed, "--no-parquet", "--no-progress"]
        assert main(["simulate", *flags, "--out-dir", str(out)]) == 0
        paths.append(out / "cohort.csv")
    return paths[0], paths[1]


def test_npprob_train_prior_records_where_it_started(complete_cohorts, tmp_path, capsys) -> None:
    a, b = complete_cohorts
    models = tmp_path / "models"
    assert main(["train", "--cohort", str(a), "--name", "base", "--models-dir", str(models),
                 "--draws", "2000"]) == 0  # fmt: skip
    assert main(["train", "--cohort", str(b), "--name", "tuned", "--models-dir", str(models),
                 "--prior", str(models / "base"), "--prior-weight", "0.5"]) == 0  # fmt: skip
    card = json.loads((models / "tuned" / "card.json").read_text())
    assert card["prior"]["model"] == "base"
    assert card["prior"]["weight"] == 0.5
    assert card["prior"]["n_draws"] == 2000
    base = json.loads((models / "base" / "card.json").read_text())
    assert base["prior"]["model"] is None
    # The tuned model still loads against the shipped specification.
    assert card["spec_content_sha256"] == SPEC.content_digest
    capsys.readouterr()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--prior-weight", "0.5"], "--prior-weight needs --prior"),
        (["--prior", "no-such-model"], "no-such-model"),
        (["--prior", "prior", "--prior-weight", "1.5"], "--prior-weight"),
    ],
)
def test_npprob_train_prior_refusals(complete_cohorts, tmp_path, capsys, flags, message) -> None:
    a, _ = complete_cohorts
    status = main(["train", "--cohort", str(a), "--name", "x", "--models-dir",
                   str(tmp_path / "m"), *flags])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert not (tmp_path / "m" / "x").exists()
