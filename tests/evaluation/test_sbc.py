"""Simulation-based calibration of the conjugate path: uniform ranks, and power to see a bug."""

from __future__ import annotations

import numpy as np
import pytest

import npprob.learning.conjugate as conjugate
from npprob.evaluation.sbc import sbc_conjugate
from npprob.io.resources import clinical_spec_path
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())


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
