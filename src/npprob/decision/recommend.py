"""One call from a patient record to a ranked treatment list."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from npprob.decision.factors import RECORD_KEY, parse_patient_factors
from npprob.decision.ranking import DEFAULT_SAMPLES, TreatmentRanking, rank_treatments
from npprob.decision.treatments import treatment_files
from npprob.errors import EvidenceError
from npprob.io.patients import METADATA_KEYS

__all__ = ["recommend_treatments"]


def recommend_treatments(
    model,
    record: Mapping[str, object],
    *,
    patient_factors: Mapping[str, object] | None = None,
    harm_weight: float = 1.0,
    benefit_shrinkage: float = 0.0,
    evidence_set: str | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    treatments_path: str | os.PathLike[str] | None = None,
    contraindications_path: str | os.PathLike[str] | None = None,
) -> TreatmentRanking:
    """Rank treatments for one patient from a diagnostic model's posterior draws.

    Parameters
    ----------
    model : DiagnosticModel
        From :func:`npprob.load_model`; supplies the draws of P(neuropathic).
    record : mapping
        Findings (state names); a ``"patient_factors"`` key is used when
        ``patient_factors`` is not given; ``"id"``, ``"comment"``, ``"notes"``
        are ignored.
    patient_factors : mapping, optional
        Factor name to true/false/null or an integer (see
        ``models/contraindications.toml``).
    harm_weight, benefit_shrinkage, evidence_set, n_samples, seed
        See :func:`~npprob.decision.ranking.rank_treatments`.

    Returns
    -------
    TreatmentRanking

    Examples
    --------
    >>> from npprob import load_model
    >>> ranking = recommend_treatments(
    ...     load_model(), {"aetiology": "trigeminal_neuralgia", "paroxysmal_pain": "present",
    ...                    "electric_shocks": "present"})
    >>> ranking.ranked[0].id in ("carbamazepine", "oxcarbazepine")
    True
    """
    evidence, contraindications = treatment_files(
        None if treatments_path is None else str(treatments_path),
        None if contraindications_path is None else str(contraindications_path),
    )
    raw = patient_factors if patient_factors is not None else record.get(RECORD_KEY)
    factors = parse_patient_factors(raw, contraindications.factors)
    findings = {k: v for k, v in record.items() if k not in (RECORD_KEY, *METADATA_KEYS)}
    batch = model.evidence(findings)
    draws = model.p_neuropathic_draws(batch)[:, 0]
    if not np.isfinite(draws).all():
        raise EvidenceError(
            "The findings have probability zero under the model (they contradict each "
            "other); no treatment can be ranked."
        )
    clean = {model.network.names[j]: model.network.variables[j].states[c]
             for j, c in enumerate(batch.codes[0]) if c >= 0}  # fmt: skip
    ranking = rank_treatments(
        draws, clean, factors, evidence, contraindications, harm_weight=harm_weight,
        benefit_shrinkage=benefit_shrinkage,
        evidence_set=evidence_set, n_samples=n_samples, seed=seed,
    )  # fmt: skip
    return dataclasses.replace(ranking, model=model.info())
