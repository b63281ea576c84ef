"""What a treatment ranking returns: plain data, ready for text and JSON.

The drugs ranked (with why), the drugs left out (with why), the condition's
advice and the settings; :mod:`npprob.decision.ranking` computes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from npprob.decision.conditions import Statement

__all__ = [
    "DISCLAIMER",
    "INTERVAL_EXCLUDES",
    "Flag",
    "RankedTreatment",
    "TreatmentRanking",
    "UnrankedTreatment",
]

#: Printed with every treatment list.
DISCLAIMER = (
    "npprob is a research tool, not a medical device, and this list is not a prescription: "
    "it ranks published evidence for a clinician to weigh with the patient."
)

#: What the net-benefit interval, P(best) and SUCRA do not account for.
INTERVAL_EXCLUDES = (
    "The intervals cover the uncertainty of P(neuropathic) and of the published NNT/NNH; "
    "they exclude the model's structural uncertainty, indirect comparisons through placebo, "
    "trial populations unlike this patient, and harms not in the files."
)


@dataclass(frozen=True)
class Flag:
    """A contraindication that fired for this patient."""

    severity: str
    factor: str
    reason: str
    source: str
    tag: str
    benefit_multiplier: float | None = None


@dataclass(frozen=True)
class RankedTreatment:
    """One ranked drug: expected net benefit (probability scale), its uncertainty and why."""

    rank: int
    id: str
    name: str
    drug_class: str
    line: int
    recommendation: str
    expected_net_benefit: float
    net_benefit_interval: tuple[float, float]
    expected_benefit: float
    expected_harm: float
    p_best: float
    sucra: float
    nnt: float
    nnt_interval: tuple[float, float]
    nnh: float
    nnh_interval: tuple[float, float]
    efficacy_source: str
    break_even_p_neuropathic: float | None
    first_choice: str | None
    flags: tuple[Flag, ...] = ()
    price: str | None = None
    dosing_burden: str | None = None
    short_name: str = ""
    order_line: int = 0
    line_label: str = ""
    why: str = ""
    nnt_tag: str = ""
    nnh_tag: str = ""
    expected_long_term_harm: float = 0.0
    long_term_harms: tuple[str, ...] = ()
    needs_override: bool = False
    overridden: bool = False
    dosing: dict[str, str] = field(default_factory=dict)
    efficacy_used: list[dict[str, object]] = field(default_factory=list)
    harm_multiplier: float = 1.0


@dataclass(frozen=True)
class UnrankedTreatment:
    """A drug left out of the ranking, and why."""

    id: str
    name: str
    reasons: tuple[str, ...]
    flags: tuple[Flag, ...] = ()
    short_name: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreatmentRanking:
    """The ranked list, the drugs left out (with why), the condition's advice and the settings."""

    ranked: tuple[RankedTreatment, ...]
    excluded: tuple[UnrankedTreatment, ...]
    not_indicated: tuple[UnrankedTreatment, ...]
    p_neuropathic: float
    harm_weight: float
    evidence_set: str
    n_samples: int
    seed: int
    contexts: dict[str, bool] = field(default_factory=dict)
    benefit_shrinkage: float = 0.0
    patient_factors: dict[str, object] = field(default_factory=dict)
    model: dict[str, object] | None = None
    first_choice_min_p: float = 0.5
    not_recommended: tuple[UnrankedTreatment, ...] = ()
    insufficient_evidence: tuple[UnrankedTreatment, ...] = ()
    overrides: tuple[str, ...] = ()
    condition: dict[str, object] | None = None
    prompts: tuple[Statement, ...] = ()
    scope_notes: tuple[Statement, ...] = ()
    p_nociplastic_if_not_neuropathic: float | None = None
    tiered: bool = False
    nociplastic_split: str = "none"

    @property
    def most_likely_not_neuropathic(self) -> bool:
        """Whether the mean P(neuropathic) is below the first-choice threshold (0.5)."""
        return self.p_neuropathic < self.first_choice_min_p

    @property
    def order(self) -> str:
        """The ordering rule in words."""
        head = (
            "absolute contraindications, drugs outside their indication, drugs the condition's "
            "guideline advises against"
            + (" and drugs with inconclusive evidence" if self.tiered else "")
            + " are listed apart; drugs needing a specialist override come last"
        )
        if self.tiered:
            return (
                head + "; then by line of therapy (a first choice leads only with a positive "
                "expected net benefit); within a line, drugs with a positive expected net "
                "benefit first, then by expected net benefit"
            )
        return (
            head + "; then drugs with a positive expected net benefit first; guideline first "
            f"choices for the condition (when P(neuropathic) >= {self.first_choice_min_p}) "
            "before the others, then by expected net benefit"
        )

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON."""
        return {
            "ranked": [asdict(t) for t in self.ranked],
            "excluded": [asdict(t) for t in self.excluded],
            "not_indicated": [asdict(t) for t in self.not_indicated],
            "not_recommended": [asdict(t) for t in self.not_recommended],
            "insufficient_evidence": [asdict(t) for t in self.insufficient_evidence],
            "p_neuropathic": self.p_neuropathic,
            "p_nociplastic_if_not_neuropathic": self.p_nociplastic_if_not_neuropathic,
            "nociplastic_split": self.nociplastic_split,
            "most_likely_not_neuropathic": self.most_likely_not_neuropathic,
            "harm_weight": self.harm_weight,
            "benefit_shrinkage": self.benefit_shrinkage,
            "evidence_set": self.evidence_set,
            "n_samples": self.n_samples,
            "seed": self.seed,
            "contexts": dict(self.contexts),
            "patient_factors": dict(self.patient_factors),
            "overrides": list(self.overrides),
            "condition": self.condition,
            "prompts": [q.to_dict() for q in self.prompts],
            "scope_notes": [q.to_dict() for q in self.scope_notes],
            "model": self.model,
            "order": self.order,
            "units": "net benefit = extra patients with >= 50 % relief minus weighted harms, "
            "per patient treated (probability scale)",
            "interval_excludes": INTERVAL_EXCLUDES,
            "disclaimer": DISCLAIMER,
        }
