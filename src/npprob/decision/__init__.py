"""Treatment ranking: expected benefit from NNT minus contraindication-weighted harm.

Data flows one way: posterior draws of P(neuropathic) (from a diagnostic model)
and the treatments and contraindications files go in; a ranked, explained list
comes out. See :mod:`npprob.decision.ranking` for the formula.
"""

from npprob.decision.factors import (
    RECORD_KEY,
    factor_from_text,
    factors_schema,
    parse_patient_factors,
)
from npprob.decision.ranking import (
    Flag,
    RankedTreatment,
    TreatmentRanking,
    UnrankedTreatment,
    patient_contexts,
    rank_treatments,
)
from npprob.decision.recommend import recommend, recommend_treatments
from npprob.decision.treatments import (
    Contraindications,
    TreatmentEvidence,
    load_contraindications,
    load_treatments,
    treatment_files,
)

__all__ = [
    "RECORD_KEY",
    "Contraindications",
    "Flag",
    "RankedTreatment",
    "TreatmentEvidence",
    "TreatmentRanking",
    "UnrankedTreatment",
    "factor_from_text",
    "factors_schema",
    "load_contraindications",
    "load_treatments",
    "parse_patient_factors",
    "patient_contexts",
    "rank_treatments",
    "recommend",
    "recommend_treatments",
    "treatment_files",
]
