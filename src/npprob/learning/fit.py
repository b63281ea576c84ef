"""Fitting: the conjugate fast path and PyMC sampling, both returning CPT draws."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from npprob.learning.conjugate import posterior_draws
from npprob.learning.diagnostics import DiagnosticsReport, check
from npprob.network.spec import ClinicalSpec

__all__ = ["FitResult", "SamplerConfig", "fit_conjugate", "fit_pymc_complete", "fix_selection"]


@dataclass(frozen=True)
class SamplerConfig:
    """NUTS settings. ``draws`` per chain; total draws = chains * draws."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 2
    target_accept: float = 0.9
    seed: int = 0


@dataclass
class FitResult:
    """CPT draws ``(n_draws, *cpt_shape)`` and how they were obtained."""

    draws: dict[str, np.ndarray]
    likelihood: str
    seconds: float
    diagnostics: DiagnosticsReport | None = None
    idata: object = field(default=None, repr=False)
    layout: object = field(default=None, repr=False)


def fit_conjugate(
    spec: ClinicalSpec, counts: Mapping[str, np.ndarray], n_draws: int, seed: int
) -> FitResult:
    """The exact Dirichlet posterior (labelled, complete data)."""
    t0 = time.perf_counter()
    draws = posterior_draws(spec, counts, n_draws, seed)
    return FitResult(draws, "conjugate", time.perf_counter() - t0)


def fit_pymc_complete(
    spec: ClinicalSpec, counts: Mapping[str, np.ndarray], config: SamplerConfig | None = None
) -> FitResult:
    """NUTS on the complete-data count-table model; diagnostics checked, not enforced here."""
    import pymc as pm

    from npprob.learning import _arviz_compat as compat
    from npprob.learning.pymc_model import build_complete_model

    config = config or SamplerConfig()
    t0 = time.perf_counter()
    model, layout = build_complete_model(spec, counts)
    with model:
        idata = pm.sample(
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            cores=config.cores,
            target_accept=config.target_accept,
            random_seed=config.seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
    n_total = config.draws * config.chains
    exact = posterior_draws(spec, counts, n_total, config.seed)
    draws = layout.assemble(exact, compat.posterior_arrays(idata))
    report = check(compat.diagnostics(idata))
    result = FitResult(draws, "pymc-complete", time.perf_counter() - t0, report, idata)
    result.layout = layout
    return result


def fix_selection(
    spec: ClinicalSpec, draws: Mapping[str, np.ndarray], selected: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Make selection variables certain in trained draws.

    A training cohort holds only patients selected on ``selected`` (every
    simulated patient has chronic pain), so the CPTs learned from it already
    describe the selected population. Conditioning on the selection again at
    diagnosis would count it twice; setting ``P(variable = state | parents) = 1``
    in every draw makes that conditioning a no-op.
    """
    out = dict(draws)
    for name, state in selected.items():
        var = spec.network.variable(name)
        fixed = np.zeros_like(np.asarray(out[name]))
        fixed[..., var.states.index(state)] = 1.0
        out[name] = fixed
    return out
