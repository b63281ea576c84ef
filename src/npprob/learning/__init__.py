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
    fit_evidence,
    fit_pymc_complete,
    fit_pymc_marginal,
    fix_selection,
)
from npprob.learning.label import LabelModel, clinician_accuracy, load_reference_standard
from npprob.learning.train import LIKELIHOODS, TrainConfig, TrainedModel, train, train_evidence

__all__ = [
    "LIKELIHOODS",
    "THRESHOLDS",
    "DiagnosticsReport",
    "FitResult",
    "LabelModel",
    "SamplerConfig",
    "TrainConfig",
    "TrainedModel",
    "check",
    "clinician_accuracy",
    "family_counts",
    "fit_conjugate",
    "fit_evidence",
    "fit_pymc_complete",
    "fit_pymc_marginal",
    "fix_selection",
    "load_reference_standard",
    "posterior_concentration",
    "posterior_draws",
    "train",
    "train_evidence",
]
