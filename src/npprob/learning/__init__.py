"""Learning layer: sufficient statistics, conjugate posteriors and PyMC fits.

PyMC and ArviZ are imported only inside the functions that need them.
"""

from npprob.learning.conjugate import posterior_concentration, posterior_draws
from npprob.learning.counts import family_counts
from npprob.learning.diagnostics import THRESHOLDS, DiagnosticsReport, check
from npprob.learning.fit import (
    FitResult,
    SamplerConfig,
    fit_conjugate,
    fit_pymc_complete,
    fit_pymc_marginal,
    fix_selection,
)

__all__ = [
    "THRESHOLDS",
    "DiagnosticsReport",
    "FitResult",
    "SamplerConfig",
    "check",
    "family_counts",
    "fit_conjugate",
    "fit_pymc_complete",
    "fit_pymc_marginal",
    "fix_selection",
    "posterior_concentration",
    "posterior_draws",
]
