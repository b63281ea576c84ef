"""Treatment ranking: safety gates, guideline lines, then expected net benefit.

Data flows one way: posterior draws of P(neuropathic) and P(nociplastic | not
neuropathic) (from a diagnostic model) and the treatments, contraindications
and condition-rules files go in; a ranked, explained list comes out
(:mod:`npprob.decision.result`). See :mod:`npprob.decision.ranking` for the rule.
"""

from npprob.decision.conditions import ConditionRules, condition_rules, load_condition_rules
from npprob.decision.factors import (
    OVERRIDES_KEY,
    RECORD_KEY,
    factor_from_text,
    factors_schema,
    parse_overrides,
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
    "OVERRIDES_KEY",
    "RECORD_KEY",
    "ConditionRules",
    "Contraindications",
    "Flag",
    "RankedTreatment",
    "TreatmentEvidence",
    "TreatmentRanking",
    "UnrankedTreatment",
    "condition_rules",
    "factor_from_text",
    "factors_schema",
    "load_condition_rules",
    "load_contraindications",
    "load_treatments",
    "parse_overrides",
    "parse_patient_factors",
    "patient_contexts",
    "rank_treatments",
    "recommend",
    "recommend_treatments",
    "treatment_files",
]
