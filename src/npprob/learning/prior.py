"""A trained model as the prior of the next fit: fine-tuning on a clinic's own cohort.

A model's posterior draws become a Dirichlet prior per CPT row by moment matching
(the mean of the draws, and the precision that gives their spread), so that a
clinic can start from the shipped model and adapt it with a few hundred of its
own patients. How much of what the model learned the new fit borrows is a
*power prior* weight w in [0, 1] (Ibrahim and Chen 2000, Stat Sci 15:46): the
information the model gained over the specification's prior is discounted by w,

    alpha = alpha_spec + w * (alpha_model - alpha_spec)   (each row's concentration),

so w = 1 starts from the model's posterior and w = 0 from the specification. A
Dirichlet posterior of a conjugate fit is recovered exactly in expectation, so
fitting cohort B with the posterior of cohort A as prior (w = 1) gives the
posterior of A and B together.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from npprob._checks import Interval, check_parameters
from npprob.errors import ParameterError
from npprob.network.spec import ClinicalSpec

__all__ = ["MAX_PRECISION", "fine_tuning_spec", "moment_matched_concentration", "prior_from_draws"]

#: Largest precision (sum of a row's concentrations) a matched row gets: draws that
#: barely vary (a row pinned by a huge cohort) would otherwise give a prior no new
#: cohort can move.
MAX_PRECISION = 1e5


def moment_matched_concentration(draws: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Dirichlet concentrations whose mean and total variance match the draws of each row.

    Parameters
    ----------
    draws : ndarray, shape (n_draws, *row_shape, n_states)
        Draws of a CPT; the last axis sums to 1.
    support : ndarray of bool, shape (*row_shape, n_states)
        Entries that may be non-zero (False: structural zero, concentration 0).

    Returns
    -------
    ndarray, shape (*row_shape, n_states)
        ``precision * mean`` per row, the precision from the total variance:
        ``sum_k m_k (1 - m_k) / sum_k var_k - 1`` (for a Dirichlet, exact), capped at
        :data:`MAX_PRECISION`.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if draws.shape[0] < 2:
        raise ParameterError("Moment matching needs at least two draws.", parameter="draws")
    mean = draws.mean(axis=0)
    variance = draws.var(axis=0, ddof=1)
    spread = np.where(support, mean * (1.0 - mean), 0.0).sum(axis=-1)
    total = np.where(support, variance, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(total > 0, spread / total - 1.0, MAX_PRECISION)
    precision = np.clip(precision, 1e-3, MAX_PRECISION)
    return np.where(support, precision[..., None] * mean, 0.0)


def prior_from_draws(
    spec: ClinicalSpec, draws: Mapping[str, np.ndarray], weight: float = 1.0
) -> dict[str, np.ndarray]:
    """The concentration of every learnable CPT for a fit that starts from ``draws``.

    Parameters
    ----------
    spec : ClinicalSpec
        The specification both the model and the new fit use.
    draws : mapping of str to ndarray
        A trained model's draws, ``(n_draws, *cpt_shape)`` per variable.
    weight : float, default=1.0
        Power-prior weight in [0, 1]: the share of what the model learned over the
        specification's prior that the new fit starts from.

    Returns
    -------
    dict of str to ndarray
        A replacement for ``spec.concentration`` (structural zeros kept).
    """
    check_parameters({"weight": Interval(float, 0.0, 1.0)}, {"weight": float(weight)})
    out: dict[str, np.ndarray] = {}
    for name, alpha_spec in spec.concentration.items():
        alpha_spec = np.asarray(alpha_spec, dtype=np.float64)
        if name not in draws:
            raise ParameterError(f"The model has no draws of '{name}'.", parameter="prior")
        table = np.asarray(draws[name], dtype=np.float64)
        if table.shape[1:] != alpha_spec.shape:
            raise ParameterError(
                f"The model's '{name}' table is shaped {table.shape[1:]}, the specification's "
                f"{alpha_spec.shape}.",
                parameter="prior",
            )
        support = alpha_spec > 0
        alpha_model = moment_matched_concentration(table, support)
        # A row with one possible state is deterministic: no spread to match.
        single = (support.sum(axis=-1) < 2)[..., None]
        alpha_model = np.where(single, alpha_spec, alpha_model)
        out[name] = np.where(support, alpha_spec + weight * (alpha_model - alpha_spec), 0.0)
    return out


def fine_tuning_spec(
    spec: ClinicalSpec, model: str, weight: float = 1.0
) -> tuple[ClinicalSpec, dict[str, object]]:
    """``spec`` with a trained model's posterior as its prior, and the card's note on it.

    Parameters
    ----------
    spec : ClinicalSpec
    model : str
        A model name or folder (as for :func:`~npprob.diagnosis.load_model`), trained
        on ``spec``.
    weight : float, default=1.0
        Power-prior weight in [0, 1] (see :func:`prior_from_draws`).

    Returns
    -------
    spec : ClinicalSpec
        The same specification (and content digest) with the new concentrations.
    note : dict
        ``model``, ``path``, ``likelihood``, ``n_draws``, ``weight``, ``method``:
        what :func:`~npprob.learning.train.train` records as the card's ``prior``.

    Raises
    ------
    ParameterError
        On a weight outside [0, 1].
    ModelFileError
        When the model folder is missing, corrupted or trained on another specification.
    """
    import dataclasses

    from npprob.io.artifacts import ModelFolder

    check_parameters({"prior_weight": Interval(float, 0.0, 1.0)}, {"prior_weight": float(weight)})
    folder = ModelFolder.find(model)
    draws, card = folder.load(spec)
    concentration = prior_from_draws(spec, draws, weight)
    note = {
        "model": card.get("name", folder.name),
        "path": str(folder.path),
        "likelihood": card.get("likelihood"),
        "n_draws": int(next(iter(draws.values())).shape[0]),
        "weight": float(weight),
        "method": "moment-matched Dirichlet per CPT row; power prior (Ibrahim and Chen 2000)",
    }
    return dataclasses.replace(spec, concentration=concentration), note
