"""The PyMC complete-data fit reproduces the exact conjugate posterior.

One fit (3000 patients, 2 chains of 1000 draws after 1000 tuning steps) is
compared row by row with 4000 exact conjugate draws: means within 5 Monte
Carlo standard errors, 2.5 % and 97.5 % quantiles within 0.02 + 5 MCSE. The
MCSE uses ESS = 400, the smallest ESS the diagnostics accept (and they must
pass), so it is an upper bound. Everything is in one test so that pytest-xdist
never runs the fit twice.

Runs on Python 3.11 (PyMC 5 / ArviZ 0.x) and 3.12 (PyMC 6 / ArviZ 1.x).
"""

from __future__ import annotations

import numpy as np
import pytest

from npprob.cohorts import load_settings, simulate
from npprob.io.resources import clinical_spec_path
from npprob.learning import SamplerConfig, family_counts, fit_pymc_complete, posterior_draws
from npprob.network.spec import load_spec

pytestmark = [
    pytest.mark.pymc,
    # PyTensor's advice about BLAS from a pip install; it says nothing about the fit.
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning"),
]

N_PATIENTS = 3000
COHORT_SEED = 7
SAMPLER_SEED = 2
N_EXACT = 4000
ESS_FLOOR = 400.0


def row_values(draws: np.ndarray, row: int, state: int) -> np.ndarray:
    n, card = draws.shape[0], draws.shape[-1]
    return draws.reshape(n, -1, card)[:, row, state]


def test_pymc_complete_fit_matches_the_conjugate_posterior():
    spec = load_spec(clinical_spec_path())
    setting = load_settings(spec.network)["consecutive_pain_clinic"]
    cohort = simulate(spec, setting, N_PATIENTS, COHORT_SEED)
    counts = family_counts(spec.network, cohort.truth)
    # 2,000 draws per chain: the largest r-hat of some 300 parameters must stay under 1.01
    # (with 1,000, PyMC 6 on Python 3.12 gave 1.012 once unreachable rows left NUTS).
    config = SamplerConfig(draws=2000, tune=1000, chains=2, cores=2, seed=SAMPLER_SEED)

    fit = fit_pymc_complete(spec, counts, config)
    exact = posterior_draws(spec, counts, N_EXACT, seed=SAMPLER_SEED + 1)
    layout = fit.layout
    n_fit = config.draws * config.chains
    problems: list[str] = []

    # -- diagnostics ----------------------------------------------------------------
    report = fit.diagnostics
    assert fit.likelihood == "pymc-complete"
    assert report.ok, report.problems
    assert report.r_hat_max <= 1.01
    assert report.ess_bulk_min >= ESS_FLOOR
    assert report.ess_tail_min >= ESS_FLOOR
    assert report.divergences == 0

    # -- the layout covers every free row exactly once ---------------------------
    nuts = [(name, row, (second,)) for name, row, _, second in layout.binary_rows]
    nuts += [
        (name, row, tuple(int(s) for s in states)) for name, row, states, _ in layout.dirichlet_rows
    ]
    assert layout.binary_rows
    assert layout.dirichlet_rows
    assert layout.exact_rows
    placed = [(name, row) for name, row, _ in nuts] + list(layout.exact_rows)
    assert len(placed) == len(set(placed))
    free_rows = set()
    for name, alpha in spec.concentration.items():
        a = alpha.reshape(-1, alpha.shape[-1])
        free_rows |= {(name, r) for r in range(len(a)) if (a[r] > 0).sum() >= 2}
    assert set(placed) == free_rows

    # -- every assembled draw is a distribution with its structural zeros ---------
    for name in spec.network.names:
        d = fit.draws[name]
        assert d.shape == (n_fit, *spec.network.cpt_shape(name)), name
        np.testing.assert_allclose(d.sum(axis=-1), 1.0, atol=1e-9, err_msg=name)
        if name in spec.concentration:
            assert (d[:, spec.concentration[name] == 0] == 0).all(), name

    # -- NUTS rows agree with the exact posterior ---------------------------------
    checked = 0
    for name, row, states in nuts:
        for state in states:
            x_fit = row_values(fit.draws[name], row, state)
            x_exact = row_values(exact[name], row, state)
            sd = float(x_exact.std())
            mcse = sd / np.sqrt(ESS_FLOOR)
            # The exact draws' own Monte Carlo error is added to the fit's.
            tol_mean = 5 * np.hypot(mcse, sd / np.sqrt(N_EXACT))
            diff = abs(float(x_fit.mean() - x_exact.mean()))
            if diff > tol_mean:
                problems.append(
                    f"{name} row {row} state {state}: mean off by {diff:.4g} > {tol_mean:.4g}"
                )
            q_fit = np.quantile(x_fit, [0.025, 0.975])
            q_exact = np.quantile(x_exact, [0.025, 0.975])
            tol_q = 0.02 + 5 * mcse
            for level, qf, qe in zip((2.5, 97.5), q_fit, q_exact, strict=True):
                if abs(qf - qe) > tol_q:
                    problems.append(
                        f"{name} row {row} state {state}: {level} % quantile {qf:.4f} vs exact {qe:.4f}"
                    )
            checked += 1
    assert checked >= 150

    # -- exact rows are the conjugate draws -----------------------------------------
    same_seed = posterior_draws(spec, counts, n_fit, seed=config.seed)
    for name, row in layout.exact_rows:
        card = spec.concentration[name].shape[-1]
        got = fit.draws[name].reshape(n_fit, -1, card)[:, row]
        np.testing.assert_array_equal(got, same_seed[name].reshape(n_fit, -1, card)[:, row])
        for state in np.flatnonzero(spec.concentration[name].reshape(-1, card)[row] > 0):
            x_fit = got[:, state]
            x_exact = row_values(exact[name], row, int(state))
            se = float(x_exact.std()) * np.sqrt(1 / n_fit + 1 / N_EXACT)
            diff = abs(float(x_fit.mean() - x_exact.mean()))
            if diff > 5 * se:
                problems.append(f"exact row {name} {row} state {state}: mean off by {diff:.4g}")
    # Rows outside NUTS and the exact list (fixed CPTs, one possible state) too.
    for name in spec.network.names:
        card = spec.network.cpt_shape(name)[-1]
        rows = {r for n, r in placed if n == name}
        got = fit.draws[name].reshape(n_fit, -1, card)
        want = same_seed[name].reshape(n_fit, -1, card)
        for r in range(got.shape[1]):
            if r not in rows:
                np.testing.assert_array_equal(got[:, r], want[:, r], err_msg=f"{name} row {r}")

    assert not problems, f"{len(problems)} disagreements:\n" + "\n".join(problems[:30])
