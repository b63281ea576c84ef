"""One patient's whole answer: the diagnosis and, when asked, the ranked treatments.

The single code path behind ``npprob diagnose --json``, ``npprob treat --json`` and
the web app's page and API, so that every interface gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from npprob.decision.factors import parse_overrides, parse_patient_factors
from npprob.decision.ranking import TreatmentRanking
from npprob.decision.recommend import recommend
from npprob.decision.treatments import treatment_files
from npprob.diagnosis.model import DiagnosticModel, diagnose, setting_of
from npprob.diagnosis.result import Diagnosis
from npprob.io.patient_record import PatientRecord

__all__ = ["PatientAnswer", "answer_patient"]


@dataclass(frozen=True)
class PatientAnswer:
    """What npprob says about one patient.

    Attributes
    ----------
    diagnosis : Diagnosis
        P(neuropathic) with its interval, the grade and the reasons.
    ranking : TreatmentRanking or None
        The treatment list; None when treatments were not asked for.
    model : DiagnosticModel
        The model in the setting used.
    """

    diagnosis: Diagnosis
    ranking: TreatmentRanking | None
    model: DiagnosticModel

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``npprob diagnose --json``: the diagnosis, then ``treatments``."""
        out = self.diagnosis.to_dict()
        if self.ranking is not None:
            out["treatments"] = self.ranking.to_dict()
        return out

    def treatments_dict(self) -> dict[str, Any]:
        """The JSON of ``npprob treat --json``."""
        if self.ranking is None:
            raise ValueError("this answer was computed without treatments")
        return {"treatments": self.ranking.to_dict()}


def answer_patient(
    record: PatientRecord,
    model: DiagnosticModel,
    *,
    setting: str | None = None,
    treatments: bool = True,
    explain: bool = True,
    **options: object,
) -> PatientAnswer:
    """Diagnose one patient and, unless ``treatments`` is False, rank the treatments.

    Parameters
    ----------
    record : PatientRecord
        The patient (findings, setting, patient factors, overrides).
    model : DiagnosticModel
        The diagnostic model, in no setting or in the one to use.
    setting : str, optional
        Care setting; default: the record's, else the model's.
    treatments : bool, default=True
        Rank the treatments. Without them the record's patient factors and
        overrides are still checked, so a misspelt factor never passes silently.
    explain : bool, default=True
        Compute the findings that moved P(neuropathic) (leave one out).
    **options
        Treatment options of :func:`~npprob.decision.recommend` (``evidence``,
        ``harm_weight``, ...).

    Returns
    -------
    PatientAnswer
    """
    model = model.in_setting(setting or setting_of(record))
    diagnosis = diagnose(record, model, explain=explain)
    ranking = None
    if treatments:
        ranking = recommend(
            diagnosis, record.patient_factors, model=model,
            overrides=record.treatment_overrides, **options,
        )  # fmt: skip
    else:
        evidence, contraindications = treatment_files()
        parse_patient_factors(record.patient_factors, contraindications.factors)
        parse_overrides(record.treatment_overrides, evidence.drugs)
    return PatientAnswer(diagnosis, ranking, model)
