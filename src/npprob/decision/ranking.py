"""Rank treatments by expected net benefit under diagnostic and evidence uncertainty.

For drug d, posterior draw s of P(neuropathic) and evidence draw s::

    benefit = P_s(NP) * ARR_NP + (1 - P_s(NP)) * ARR_nonNP
    harm    = lambda * (ARI * m + r)
    net     = benefit - harm

ARR = 1/NNT (condition-specific where published, else the chosen evidence
set), ARR_nonNP the effect in non-neuropathic pain, ARI = 1/NNH, m the product
of the harm multipliers of the patient's caution and strong-relative
contraindications, r the sum of their rare-serious-harm risks, lambda the harm
weight. Absolute contraindications remove the drug (listed with the reason);
topical drugs are listed as not indicated outside localized peripheral
neuropathic pain with allodynia.

Order: guideline first choices for the patient's condition (trigeminal
neuralgia, post-stroke pain, localized peripheral pain with allodynia) come
first when P(neuropathic) >= 0.5 and their expected net benefit is positive, as the guidelines apply
them before any numeric comparison; then every other drug by expected net
benefit. Expected values are exact (quadrature), so the order does not depend
on the seed; the 95 % interval, P(best) and SUCRA come from seeded draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from npprob._checks import Interval, Options, check_parameters
from npprob.decision.treatments import (
    Contraindications,
    Drug,
    Rule,
    TreatmentEvidence,
)
from npprob.decision.utility import RiskDifference, net_benefit
from npprob.errors import EvidenceError

__all__ = [
    "Flag",
    "RankedTreatment",
    "TreatmentRanking",
    "UnrankedTreatment",
    "patient_contexts",
    "rank_summaries",
    "rank_treatments",
]

#: Evidence draws per ranking (P(best), SUCRA and intervals), and the allowed range.
DEFAULT_SAMPLES = 4000
SAMPLE_RANGE = (200, 100_000)

#: The rules of :func:`rank_treatments`' options (the evidence sets come from the file).
_RANK_CONSTRAINTS = {
    "harm_weight": Interval(float, 0.0),
    "benefit_shrinkage": Interval(float, 0.0, 1.0, closed="left"),
    "n_samples": Interval(int, *SAMPLE_RANGE),
    "seed": Interval(int, 0),
}

#: Line of therapy order for ties (NeuPSIG: 1st, 2nd, 3rd, then not recommended).
_LINE_ORDER = {1: 0, 2: 1, 3: 2, 0: 3}


@dataclass(frozen=True)
class Flag:
    """A contraindication that fired for this patient."""

    severity: str
    factor: str
    reason: str
    source: str
    tag: str


@dataclass(frozen=True)
class RankedTreatment:
    """One ranked drug: expected net benefit (probability scale) and its uncertainty."""

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


@dataclass(frozen=True)
class UnrankedTreatment:
    """A drug left out of the ranking, and why."""

    id: str
    name: str
    reasons: tuple[str, ...]
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class TreatmentRanking:
    """The ranked list, the excluded and the not-indicated drugs, and the settings."""

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

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON."""
        return {
            "ranked": [asdict(t) for t in self.ranked],
            "excluded": [asdict(t) for t in self.excluded],
            "not_indicated": [asdict(t) for t in self.not_indicated],
            "p_neuropathic": self.p_neuropathic,
            "harm_weight": self.harm_weight,
            "benefit_shrinkage": self.benefit_shrinkage,
            "evidence_set": self.evidence_set,
            "n_samples": self.n_samples,
            "seed": self.seed,
            "contexts": dict(self.contexts),
            "patient_factors": dict(self.patient_factors),
            "model": self.model,
            "order": "guideline first choices for the patient's condition (when P(neuropathic) "
            f">= {self.first_choice_min_p} and their expected net benefit > 0), then expected "
            "net benefit",
            "units": "net benefit = extra patients with >= 50 % relief minus weighted harms, "
            "per patient treated (probability scale)",
        }


def patient_contexts(
    evidence: TreatmentEvidence,
    findings: Mapping[str, str],
    factors: Mapping[str, object],
) -> dict[str, bool]:
    """Which clinical contexts of the treatments file hold for this patient."""
    out = {}
    for name, ctx in evidence.contexts.items():
        aetiology = findings.get("aetiology")
        localized = factors.get(str(ctx.get("localized_factor", "")))
        focal = aetiology in ctx.get("focal_aetiology", ()) and localized is not False
        other = aetiology in ctx.get("peripheral_aetiology", ()) and localized is True
        allodynia = any(findings.get(f) == "present" for f in ctx.get("allodynia", ()))
        out[name] = bool((focal or other) and allodynia)
    return out


def rank_treatments(
    p_neuropathic_draws: np.ndarray,
    findings: Mapping[str, str],
    factors: Mapping[str, object],
    evidence: TreatmentEvidence,
    contraindications: Contraindications,
    *,
    harm_weight: float = 1.0,
    benefit_shrinkage: float = 0.0,
    evidence_set: str | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> TreatmentRanking:
    """Rank every drug for one patient.

    Parameters
    ----------
    p_neuropathic_draws : ndarray, shape (n_draws,)
        Posterior draws of P(neuropathic | findings), probability scale.
    findings : mapping of str to str
        The patient's findings (state names); ``aetiology`` and the allodynia
        findings select condition-specific evidence and contexts.
    factors : mapping of str to bool or int
        Checked patient factors (:func:`~npprob.decision.factors.parse_patient_factors`).
    evidence, contraindications
        From :func:`~npprob.decision.treatments.load_treatments` and
        :func:`~npprob.decision.treatments.load_contraindications`.
    harm_weight : float, default=1.0
        lambda: how many extra responders one extra adverse-event dropout is worth.
    benefit_shrinkage : float, default=0.0
        Share by which every published benefit (ARR) is reduced before ranking,
        e.g. 0.1 for the about 10 % overstatement from publication bias that
        NeuPSIG 2015 estimated. In [0, 1).
    evidence_set : str, optional
        ``"neupsig_2015"`` (default) or ``"seed_era"``.
    n_samples : int, default=4000
        Evidence draws for intervals, P(best) and SUCRA.
    seed : int, default=0

    Returns
    -------
    TreatmentRanking

    Raises
    ------
    EvidenceError
        On draws that are not probabilities in [0, 1].
    ParameterError
        On a negative or non-finite harm weight, a shrinkage outside [0, 1), an
        unknown evidence set, a number of samples outside 200-100,000 or a
        negative seed.
    """
    p = np.asarray(p_neuropathic_draws, dtype=float).ravel()
    if p.size == 0 or not np.all(np.isfinite(p)) or p.min() < 0.0 or p.max() > 1.0:
        raise EvidenceError("P(neuropathic) draws must be finite probabilities in [0, 1].")
    chosen = evidence.default_evidence if evidence_set is None else evidence_set
    check_parameters(
        {**_RANK_CONSTRAINTS, "evidence_set": Options(tuple(evidence.evidence_sets))},
        {"harm_weight": harm_weight, "benefit_shrinkage": benefit_shrinkage,
         "evidence_set": chosen, "n_samples": n_samples, "seed": seed},
    )  # fmt: skip
    contexts = patient_contexts(evidence, findings, factors)
    aetiology = findings.get("aetiology")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    p_samples = p[rng.integers(0, p.size, n_samples)]
    p_mean = float(p.mean())
    # One child seed per drug in file order: a drug's draws do not depend on which others rank.
    children = np.random.SeedSequence([seed, 1]).spawn(len(evidence.drugs))

    candidates, excluded, not_indicated = [], [], []
    for child, (drug_id, drug) in zip(children, evidence.drugs.items(), strict=True):
        fired = [r for r in contraindications.rules if drug_id in r.drugs and r.fires(factors)]
        flags = tuple(_flag(r) for r in fired)
        absolute = [f for f in flags if f.severity == "absolute"]
        if absolute:
            excluded.append(
                UnrankedTreatment(drug_id, drug.name, tuple(f.reason for f in absolute), flags)
            )
            continue
        if drug.scope != "all" and not contexts.get(drug.scope, False):
            description = evidence.contexts.get(drug.scope, {}).get("description", drug.scope)
            not_indicated.append(
                UnrankedTreatment(drug_id, drug.name, (f"only for {description}",), flags)
            )
            continue
        candidates.append(
            _evaluate(drug, chosen, aetiology, contexts, evidence, contraindications, flags,
                      p_mean, p_samples, harm_weight, 1.0 - benefit_shrinkage,
                      np.random.default_rng(child))
        )  # fmt: skip

    leads = p_mean >= evidence.first_choice_min_p
    candidates.sort(key=lambda c: _order(c, leads))
    ranked = []
    if candidates:
        p_best, sucra = rank_summaries(np.stack([c["net_samples"] for c in candidates], axis=1))
        for k, c in enumerate(candidates):
            ranked.append(
                RankedTreatment(
                    rank=k + 1,
                    p_best=float(p_best[k]),
                    sucra=float(sucra[k]),
                    **{key: v for key, v in c.items() if key != "net_samples"},
                )
            )
    return TreatmentRanking(
        tuple(ranked), tuple(excluded), tuple(not_indicated), p_mean, float(harm_weight),
        chosen, int(n_samples), int(seed), contexts, float(benefit_shrinkage),
        dict(factors), None, evidence.first_choice_min_p,
    )  # fmt: skip


def rank_summaries(net_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(best) and SUCRA of each drug from joint draws of net benefit.

    Parameters
    ----------
    net_samples : ndarray, shape (n_draws, n_drugs)

    Returns
    -------
    p_best, sucra : ndarray, shape (n_drugs,)
        Share of draws in which the drug has the highest net benefit, and
        (T - mean rank) / (T - 1) (Salanti 2011; 1 = surely best).
    """
    n = net_samples.shape[1]
    # Rank 1 = highest net benefit in that draw.
    ranks = np.argsort(np.argsort(-net_samples, axis=1, kind="stable"), axis=1) + 1
    p_best = (ranks == 1).mean(axis=0)
    sucra = (n - ranks.mean(axis=0)) / (n - 1) if n > 1 else np.ones(1)
    return p_best, sucra


def _flag(rule: Rule) -> Flag:
    return Flag(rule.severity, rule.factor, rule.reason, rule.source, rule.tag)


def _evaluate(drug: Drug, chosen, aetiology, contexts, evidence, contraindications, flags,
              p_mean, p_samples, harm_weight, benefit_scale, rng) -> dict[str, object]:  # fmt: skip
    condition = drug.condition(aetiology, chosen)
    nnt = condition.nnt if condition is not None else drug.nnt[chosen]
    nnh = condition.nnh if condition is not None and condition.nnh is not None else drug.nnh[chosen]
    source = (
        f"condition-specific ({aetiology}): {nnt.source}"
        if condition is not None
        else f"{chosen}: {nnt.source}"
    )
    arr_np = RiskDifference.from_number_needed(nnt)
    arr_non = RiskDifference.from_number_needed(drug.non_neuropathic_nnt)
    ari = RiskDifference.from_number_needed(nnh)
    multiplier, serious = 1.0, 0.0
    for f in flags:
        multiplier *= float(contraindications.severity[f.severity]["harm_multiplier"])
        serious += float(contraindications.severity[f.severity]["serious_harm_risk"])
    kw = {"harm_multiplier": multiplier, "serious_harm_risk": serious, "harm_weight": harm_weight}
    e_np, e_non, e_ari = benefit_scale * arr_np.mean(), benefit_scale * arr_non.mean(), ari.mean()
    benefit, harm, net = net_benefit(p_mean, e_np, e_non, e_ari, **kw)
    n = len(p_samples)
    _, _, net_samples = net_benefit(
        p_samples,
        benefit_scale * arr_np.sample(n, rng),
        benefit_scale * arr_non.sample(n, rng),
        ari.sample(n, rng),
        **kw,
    )
    # P(neuropathic) above which the expected net benefit is positive; None when
    # no P in [0, 1] makes it positive.
    break_even = None
    if e_np > e_non:
        p_star = (harm - e_non) / (e_np - e_non)
        break_even = None if p_star >= 1.0 else float(max(p_star, 0.0))
    elif e_non > harm:
        break_even = 0.0
    first_choice = None
    if condition is not None and condition.first_choice:
        first_choice = f"guideline first choice for {aetiology}"
    for ctx, body in evidence.first_choice.items():
        if contexts.get(ctx) and drug.id in body.get("drugs", ()):
            first_choice = f"first choice for {body.get('description', ctx)}"
    low, high = np.quantile(net_samples, [0.025, 0.975])
    return {
        "id": drug.id,
        "name": drug.name,
        "drug_class": drug.drug_class,
        "line": drug.line,
        "recommendation": drug.recommendation,
        "expected_net_benefit": float(net),
        "net_benefit_interval": (float(low), float(high)),
        "expected_benefit": float(benefit),
        "expected_harm": float(harm),
        "nnt": nnt.point,
        "nnt_interval": nnt.interval,
        "nnh": nnh.point,
        "nnh_interval": nnh.interval,
        "efficacy_source": source,
        "break_even_p_neuropathic": break_even,
        "first_choice": first_choice,
        "flags": flags,
        "price": drug.price,
        "dosing_burden": drug.dosing_burden,
        "net_samples": net_samples,
    }


def _order(c: Mapping[str, object], leads: bool) -> tuple:
    leading = leads and c["first_choice"] is not None and c["expected_net_benefit"] > 0
    return (not leading, -c["expected_net_benefit"], _LINE_ORDER.get(c["line"], 9), c["id"])
