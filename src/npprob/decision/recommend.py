"""From a diagnosis (or a model and a record) to a ranked treatment list."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from npprob.decision.factors import parse_patient_factors
from npprob.decision.ranking import DEFAULT_SAMPLES, TreatmentRanking, rank_treatments
from npprob.decision.treatments import treatment_files
from npprob.diagnosis.result import Diagnosis
from npprob.errors import EvidenceError
from npprob.io.findings import decode_codes
from npprob.io.patient_record import PatientRecord

__all__ = ["recommend", "recommend_treatments"]


def recommend(
    diagnosis: Diagnosis,
    patient_factors: Mapping[str, object] | None = None,
    *,
    harm_weight: float = 1.0,
    benefit_shrinkage: float = 0.0,
    evidence_set: str | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    treatments_path: str | os.PathLike[str] | None = None,
    contraindications_path: str | os.PathLike[str] | None = None,
) -> TreatmentRanking:
    """Rank treatments for a diagnosed patient, from the diagnosis's posterior draws.

    Parameters
    ----------
    diagnosis : Diagnosis
        From :func:`npprob.diagnose`; its ``p_neuropathic_draws`` and
        ``findings`` are used (no further inference).
    patient_factors : mapping, optional
        Factor name to true/false/null or an integer (see
        ``models/contraindications.toml``), as a record carries them.
    harm_weight, benefit_shrinkage, evidence_set, n_samples, seed
        See :func:`~npprob.decision.ranking.rank_treatments`.
    treatments_path, contraindications_path : path, optional
        Files other than the shipped ones.

    Returns
    -------
    TreatmentRanking

    Examples
    --------
    >>> import npprob
    >>> from npprob.decision import recommend
    >>> d = npprob.diagnose({"aetiology": "trigeminal_neuralgia", "paroxysmal_pain": "present",
    ...                      "electric_shocks": "present"}, explain=False)
    >>> recommend(d).ranked[0].id in ("carbamazepine", "oxcarbazepine")
    True
    """
    if diagnosis.p_neuropathic_draws is None:
        raise EvidenceError("The diagnosis carries no posterior draws; diagnose the patient again.")
    return _ranking(
        diagnosis.p_neuropathic_draws, diagnosis.findings, patient_factors, diagnosis.model,
        harm_weight=harm_weight, benefit_shrinkage=benefit_shrinkage, evidence_set=evidence_set,
        n_samples=n_samples, seed=seed, treatments_path=treatments_path,
        contraindications_path=contraindications_path,
    )  # fmt: skip


def recommend_treatments(
    model,
    record: Mapping[str, object] | PatientRecord,
    *,
    patient_factors: Mapping[str, object] | None = None,
    **options,
) -> TreatmentRanking:
    """Rank treatments for one patient record with a model (one engine pass, no explanation).

    Parameters
    ----------
    model : DiagnosticModel
        From :func:`npprob.load_model`; supplies the draws of P(neuropathic).
    record : PatientRecord or mapping
        Findings (state names); its ``"patient_factors"`` are used when
        ``patient_factors`` is not given; ``"id"``, ``"comment"``, ``"notes"``
        are ignored.
    patient_factors : mapping, optional
        Overrides the record's.
    **options
        See :func:`recommend`.

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
    rec = record if isinstance(record, PatientRecord) else PatientRecord.from_mapping(
        model.network, record
    )  # fmt: skip
    factors = patient_factors if patient_factors is not None else rec.patient_factors
    batch = model.evidence(rec)
    draws = model.p_neuropathic_draws(batch)[:, 0]
    if not np.isfinite(draws).all():
        raise EvidenceError(
            "The findings have probability zero under the model (they contradict each "
            "other); no treatment can be ranked."
        )
    return _ranking(draws, decode_codes(model.network, batch.codes[0]), factors, None, model=model,
                    **options)  # fmt: skip


def _ranking(
    draws: np.ndarray,
    findings: Mapping[str, str],
    patient_factors: Mapping[str, object] | None,
    info: dict | None,
    *,
    model=None,
    treatments_path: str | os.PathLike[str] | None = None,
    contraindications_path: str | os.PathLike[str] | None = None,
    **options,
) -> TreatmentRanking:
    evidence, contraindications = treatment_files(
        None if treatments_path is None else str(treatments_path),
        None if contraindications_path is None else str(contraindications_path),
    )
    factors = parse_patient_factors(patient_factors, contraindications.factors)
    ranking = rank_treatments(draws, findings, factors, evidence, contraindications, **options)
    return dataclasses.replace(ranking, model=info if model is None else model.info())
