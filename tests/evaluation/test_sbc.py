"""Simulation-based calibration: uniform ranks, and power to see a bug.

The conjugate path runs on the clinical specification. The PyMC paths run on
the small latent-class network of :func:`small_spec`: a fast check of shapes,
ranges and reproducibility on two replications, and (slow) a calibration run
whose ranks must be uniform plus a power check with a wrong prior.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import npprob.learning.conjugate as conjugate
from npprob.evaluation.sbc import sbc_conjugate, sbc_pymc, small_spec
from npprob.io.resources import clinical_spec_path, sbc_spec_path
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())
SMALL = small_spec()

#: A short NUTS run: 2 chains of 100 draws thinned to 19, enough for shapes and seeds.
QUICK = {"n_patients": 200, "n_draws": 19, "chains": 2, "tune": 200, "draws": 100, "cores": 1}


def test_conjugate_path_is_calibrated() -> None:
    result = sbc_conjugate(SPEC, n_replications=200, n_patients=300, seed=1)
    summary = result.summary()
    assert summary["n_parameters"] >= 200
    assert result.ranks.min() >= 0
    assert result.ranks.max() <= result.n_draws
    # No parameter rejects after Bonferroni, the pooled ranks are uniform, and the
    # per-parameter p-values are themselves uniform.
    assert summary["bonferroni_min_p"] >= 0.01
    assert summary["pooled_chi2_p"] >= 0.01
    assert summary["p_values_ks_p"] >= 0.01
    # No sampler, no diagnostics.
    assert result.diagnostics == ()
    assert "diagnostics_failed" not in summary


def test_sbc_detects_an_overconfident_posterior(monkeypatch) -> None:
    real = conjugate.posterior_concentration

    def doubled(spec, counts):
        return real(spec, {k: 3 * np.asarray(v) for k, v in counts.items()})

    monkeypatch.setattr(conjugate, "posterior_concentration", doubled)
    summary = sbc_conjugate(SPEC, n_replications=200, n_patients=300, seed=1).summary()
    assert summary["pooled_chi2_p"] < 1e-6
    assert summary["bonferroni_min_p"] < 0.01


def test_same_seed_same_ranks() -> None:
    a = sbc_conjugate(SPEC, n_replications=5, n_patients=50, seed=3)
    b = sbc_conjugate(SPEC, n_replications=5, n_patients=50, seed=3)
    np.testing.assert_array_equal(a.ranks, b.ranks)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        sbc_conjugate(SPEC, n_replications=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"likelihood": "conjugate"}, "likelihood must be pymc-complete or pymc-marginal"),
        ({"n_replications": 0}, "at least 1"),
        ({"jobs": 0}, "at least 1"),
        ({"n_draws": 99, "chains": 2, "draws": 40}, "cannot be thinned"),
        ({"missing": 1.0}, r"missing must be in \[0, 1\)"),
        ({"latent": ("nope",)}, "Unknown latent"),
    ],
)
def test_pymc_settings_are_checked_before_sampling(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        sbc_pymc(SMALL, **kwargs)


def test_small_spec_prior_keeps_the_latent_class_oriented() -> None:
    # Label switching would break SBC of the latent-class fit: every finding must
    # be more often present given cls = present in (nearly) every prior draw.
    net = SMALL.network
    assert [v.name for v in net.variables if v.role == "latent"] == ["cls"]
    assert all("cls" in net.parents(f"f{k}") for k in range(5))
    draws = SMALL.prior_draws(4000, seed=0)
    for k in range(5):
        p = draws[f"f{k}"][..., 1]
        contrast = np.take(p, 1, axis=-1) - np.take(p, 0, axis=-1)  # cls is the last parent
        assert np.mean(contrast <= 0) < 0.005, f"f{k}"
    assert draws["cls"][:, 1].mean() == pytest.approx(0.35, abs=0.01)


def test_small_spec_is_the_shipped_network_stated_in_its_docstring() -> None:
    net = SMALL.network
    assert SMALL.digest == load_spec(sbc_spec_path()).digest
    assert net.names == ("context", "cls", "f0", "f1", "f2", "f3", "f4")
    assert [v.role for v in net.variables] == ["history", "latent", *["sign"] * 5]
    assert net.variable("context").states == ("a", "b")
    for name in net.names[1:]:
        assert net.variable(name).states == ("absent", "present")
    assert net.parents("context") == net.parents("cls") == ()
    assert [net.parents(f"f{k}") for k in range(4)] == [("cls",)] * 4
    assert net.parents("f4") == ("context", "cls")
    np.testing.assert_allclose(net.cpt("cls"), [0.65, 0.35])
    np.testing.assert_allclose(net.cpt("context"), [0.6, 0.4])
    for k, (absent, present) in enumerate([(0.1, 0.7), (0.2, 0.8), (0.15, 0.6), (0.05, 0.5)]):
        np.testing.assert_allclose(net.cpt(f"f{k}")[:, 1], [absent, present])
    # f4[context, cls, state]: rows a/absent, a/present, b/absent, b/present.
    np.testing.assert_allclose(net.cpt("f4")[..., 1].ravel(), [0.1, 0.6, 0.3, 0.9])
    # Dirichlet concentration = ess x the row's probabilities.
    for name, alpha in SMALL.concentration.items():
        ess = 10 if name == "context" else 20
        np.testing.assert_allclose(alpha, ess * net.cpt(name))
    assert SMALL.fixed == frozenset()
    assert {(s.source, s.tag, s.reason) for s in SMALL.sources} == {
        ("sbc", "S", "calibration network")
    }
    assert len(SMALL.sources) == 14


@pytest.fixture(scope="module")
def quick_marginal():
    return sbc_pymc(SMALL, likelihood="pymc-marginal", n_replications=2, seed=5, **QUICK)


def _check_quick(result) -> None:
    n_params = 2 + 4 * 2 + 4  # context, cls, f0..f3 (two rows each), f4 (four rows)
    assert result.ranks.shape == (2, n_params)
    assert result.p_values.shape == (n_params,)
    assert result.names[:3] == ("context[0, 1]", "cls[0, 1]", "f0[0, 1]")
    assert result.ranks.min() >= 0
    assert result.ranks.max() <= result.n_draws == 19
    assert len(result.diagnostics) == 2
    for d in result.diagnostics:
        assert {"r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences", "ok"} <= set(d)
    summary = result.summary()
    assert summary["n_replications"] == 2
    assert 0 <= summary["diagnostics_failed"] <= 2
    assert summary["divergences"] >= 0


@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_pymc_marginal_sbc_shapes_and_ranges(quick_marginal) -> None:
    _check_quick(quick_marginal)


@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_pymc_complete_sbc_shapes_and_ranges() -> None:
    _check_quick(sbc_pymc(SMALL, likelihood="pymc-complete", n_replications=2, seed=5, **QUICK))


@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_pymc_sbc_same_seed_same_ranks(quick_marginal) -> None:
    again = sbc_pymc(SMALL, likelihood="pymc-marginal", n_replications=2, seed=5, **QUICK)
    np.testing.assert_array_equal(quick_marginal.ranks, again.ranks)
    other = sbc_pymc(SMALL, likelihood="pymc-marginal", n_replications=1, seed=6, **QUICK)
    assert not np.array_equal(other.ranks[0], again.ranks[0])


@pytest.mark.slow
@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_pymc_marginal_path_is_calibrated() -> None:
    # 60 replications, two at a time (about 5 to 7 minutes on two cores).
    result = sbc_pymc(
        SMALL, likelihood="pymc-marginal", n_replications=60, n_bins=5, seed=2, jobs=2, cores=1
    )
    summary = result.summary()
    assert summary["n_parameters"] == 14
    assert summary["ess_below_n_draws"] == 0
    assert summary["divergences"] == 0
    assert summary["diagnostics_failed"] <= 6
    assert summary["bonferroni_min_p"] >= 0.01
    assert summary["pooled_chi2_p"] >= 0.01


@pytest.mark.slow
@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_pymc_sbc_detects_a_wrong_prior_scale() -> None:
    # Fitting with priors four times as concentrated as the truth's: too narrow
    # posteriors pulled towards the prior mean, so the truth ranks at the extremes.
    # The complete-data path keeps this cheap (60 replications in about 1.5 minutes).
    narrow = dataclasses.replace(
        SMALL, concentration={k: 4 * v for k, v in SMALL.concentration.items()}
    )
    result = sbc_pymc(
        SMALL, likelihood="pymc-complete", fit_spec=narrow, n_replications=60, n_bins=5,
        seed=3, jobs=2, cores=1,
    )  # fmt: skip
    summary = result.summary()
    assert summary["pooled_chi2_p"] < 1e-6
    assert summary["bonferroni_min_p"] < 0.01
