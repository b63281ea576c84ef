"""Rank treatments: safety gates, then guideline line, then expected net benefit.

For drug d, posterior draw s of P(neuropathic) and evidence draw s::

    benefit = P_s(NP) * ARR_NP
              + (1 - P_s(NP)) * [Q_s * ARR_nociplastic + (1 - Q_s) * ARR_nociceptive]
    harm    = lambda * (ARI * m + r + sum_k w_k * ARI_k)
    net     = benefit - harm

ARR = 1/NNT (condition-specific where published, else the chosen evidence
set), Q = P(nociplastic | findings, not neuropathic) (0 when not given, so the
non-neuropathic effect is the nociceptive one), ARI = 1/NNH (adverse-event
dropout), m the product of the harm multipliers of the patient's caution and
strong-relative contraindications, r the sum of their rare-serious-harm risks,
ARI_k and w_k the risk and weight of each long-term harm (misuse, overdose,
falls) that applies, lambda the harm weight.

Before any number is compared:

1. an absolute contraindication removes the drug (*excluded*, with the reason);
2. a drug outside its indication is *not indicated* (topicals outside localized
   peripheral neuropathic pain, unless the condition's guideline indicates it);
3. a drug the condition's guideline advises against is *not recommended*
   (unless the clinician overrides it);
4. in a tiered evidence set (NeuPSIG 2015), a drug whose evidence in the
   condition is inconclusive is listed under *insufficient evidence*, not
   ranked by a derived NNT.

Order of the ranked drugs: drugs with a strong relative contraindication that
the clinician did not override come last (*needs specialist override*); then,
in a tiered set, by line of therapy (guideline first choice for the condition
when its expected net benefit is positive, first, second, third, fourth line,
and last a drug overridden against its condition's guideline), within a line
drugs with a positive expected net benefit first, then by expected net benefit;
in the other sets (the seed-era profile) drugs with a positive expected net
benefit first, guideline first choices before the others, then by expected net
benefit. Expected values are exact (quadrature), so the order does
not depend on the seed; the 95 % interval, P(best) and SUCRA come from seeded
draws, shared by drugs of one evidence group (a class) so that drugs with the
same evidence do not split P(best) by noise.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from npprob._checks import Interval, Options, check_parameters
from npprob._text import probability_text
from npprob.decision.conditions import ConditionRule, ConditionRules, Statement
from npprob.decision.result import (
    DISCLAIMER,
    INTERVAL_EXCLUDES,
    Flag,
    RankedTreatment,
    TreatmentRanking,
    UnrankedTreatment,
)
from npprob.decision.treatments import (
    SEVERITIES,
    Contraindications,
    Drug,
    Rule,
    TreatmentEvidence,
)
from npprob.decision.utility import RiskDifference, net_benefit
from npprob.errors import EvidenceError
from npprob.network.variable import AFFIRMATIVE_STATES

__all__ = [
    "DISCLAIMER",
    "INTERVAL_EXCLUDES",
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

#: Line of therapy order for ties in the legacy order (1st, 2nd, 3rd, then not graded).
_LINE_ORDER = {1: 0, 2: 1, 3: 2, 4: 3, 0: 4}
#: Line used for a drug ranked against its condition's guideline (a clinician's override).
_AGAINST_LINE = 5
#: How a drug's NeuPSIG recommendation reads where it is not graded.
_GRADES = {"condition_specific": "not graded outside its own condition"}
_DEFAULT_LINE_LABELS = {
    0: "not graded",
    1: "first line",
    2: "second line",
    3: "third line",
    4: "fourth line",
}


def _affirmative(state: object) -> bool:
    return isinstance(state, str) and state.lower() in AFFIRMATIVE_STATES


def patient_contexts(
    evidence: TreatmentEvidence,
    findings: Mapping[str, str],
    factors: Mapping[str, object],
) -> dict[str, bool]:
    """Which clinical contexts of the treatments file hold for this patient."""
    out = {}
    condition = findings.get(evidence.condition_variable)
    for name, ctx in evidence.contexts.items():
        localized = factors.get(str(ctx.get("localized_factor", "")))
        focal = condition in ctx.get("focal_aetiology", ()) and localized is not False
        other = condition in ctx.get("peripheral_aetiology", ()) and localized is True
        allodynia = any(_affirmative(findings.get(f)) for f in ctx.get("allodynia", ()))
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
    conditions: ConditionRules | None = None,
    overrides: Collection[str] = (),
    p_nociplastic_draws: np.ndarray | None = None,
    draw_weights: np.ndarray | None = None,
) -> TreatmentRanking:
    """Rank every drug for one patient.

    Parameters
    ----------
    p_neuropathic_draws : ndarray, shape (n_draws,)
        Posterior draws of P(neuropathic | findings), probability scale.
    findings : mapping of str to str
        The patient's findings (state names); the condition variable of the
        treatments file (``aetiology``) and the allodynia findings select
        condition-specific evidence, rules and contexts.
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
    conditions : ConditionRules, optional
        Guideline rules per condition (:mod:`npprob.decision.conditions`); none
        when not given.
    overrides : collection of str, default=()
        Drug ids the clinician chose to rank normally despite a strong relative
        contraindication or the condition's guideline; the output marks them.
        Absolute contraindications are never overridden.
    p_nociplastic_draws : ndarray, shape (n_draws,), optional
        P(nociplastic | findings, not neuropathic) under the same draws; it
        splits the non-neuropathic effect between the nociplastic and the
        nociceptive one (all nociceptive when not given).
    draw_weights : ndarray, shape (n_draws,), optional
        Each draw's weight (non-negative, summing to 1), as
        :attr:`npprob.diagnosis.Diagnosis.draw_weights` gives them; equal
        weights when not given.

    Returns
    -------
    TreatmentRanking

    Raises
    ------
    EvidenceError
        On draws that are not probabilities in [0, 1], or nociplastic draws of
        another length.
    ParameterError
        On a negative or non-finite harm weight, a shrinkage outside [0, 1), an
        unknown evidence set, a number of samples outside 200-100,000 or a
        negative seed.
    """
    p = _probabilities(p_neuropathic_draws, "P(neuropathic)")
    q = (
        None
        if p_nociplastic_draws is None
        else _probabilities(p_nociplastic_draws, "P(nociplastic)")
    )
    if q is not None and q.shape != p.shape:
        raise EvidenceError("P(nociplastic) draws must match the P(neuropathic) draws.")
    chosen = evidence.default_evidence if evidence_set is None else evidence_set
    check_parameters(
        {**_RANK_CONSTRAINTS, "evidence_set": Options(tuple(evidence.evidence_sets))},
        {"harm_weight": harm_weight, "benefit_shrinkage": benefit_shrinkage,
         "evidence_set": chosen, "n_samples": n_samples, "seed": seed},
    )  # fmt: skip
    overrides = tuple(dict.fromkeys(overrides))
    unknown = sorted(set(overrides) - set(evidence.drugs))
    if unknown:
        raise EvidenceError(f"Unknown drug(s) to override: {', '.join(unknown)}.")
    contexts = patient_contexts(evidence, findings, factors)
    state = findings.get(evidence.condition_variable)
    rule = conditions.for_state(state) if conditions is not None else None
    w = _weights(draw_weights, p.size)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    if w is None:
        index = rng.integers(0, p.size, n_samples)
        w = np.full(p.size, 1.0 / p.size)
    else:
        index = rng.choice(p.size, n_samples, p=w)
    p_samples = p[index]
    q_samples = np.zeros(n_samples) if q is None else q[index]
    p_mean = float(np.dot(w, p))
    # E[(1 - P) Q] and E[(1 - P)(1 - Q)]: exact weights of the two non-neuropathic effects.
    w_npl = float(np.dot(w, (1.0 - p) * (0.0 if q is None else q)))
    leads = p_mean >= evidence.first_choice_min_p
    setting = _Setting(
        chosen, state, rule, contexts, evidence, contraindications, p_mean, w_npl, p_samples,
        q_samples, float(harm_weight), 1.0 - float(benefit_shrinkage), chosen in evidence.tiered_sets,
        leads, factors,
    )  # fmt: skip
    groups = list(dict.fromkeys(d.evidence_group for d in evidence.drugs.values()))

    candidates, excluded, not_indicated, against, insufficient = [], [], [], [], []
    for drug_id, drug in evidence.drugs.items():
        fired = _fired(drug_id, contraindications, factors)
        flags = tuple(_flag(r) for r in fired)
        overridden = drug_id in overrides
        absolute = [f for f in flags if f.severity == "absolute"]
        if absolute:
            reasons = tuple(f.reason for f in absolute)
            if overridden:
                reasons += ("an override does not apply to an absolute contraindication",)
            excluded.append(_unranked(drug, reasons, flags, absolute))
            continue
        if not _indicated(drug, rule, contexts, factors):
            description = evidence.contexts.get(drug.scope, {}).get("description", drug.scope)
            reason = f"only for {description}"
            if rule is not None and drug_id in rule.indicated:
                reason = f"only for pain of limited extent ({rule.indicated_unless_false} is false)"
            not_indicated.append(_unranked(drug, (reason,), flags))
            continue
        advice = rule.against.get(drug_id) if rule is not None else None
        if advice is not None and not overridden:
            against.append(
                UnrankedTreatment(drug_id, drug.name, (f"{rule.guideline.text}: {advice.text}",),
                                  flags, drug.label, (f"{advice.source} [{advice.tag}]",))
            )  # fmt: skip
            continue
        line, first_choice, gap = _line(drug, setting)
        if advice is not None:
            # Overridden against the condition's guideline: ranked, but after every drug
            # the guideline offers, and never as a first choice.
            line, first_choice, gap = _AGAINST_LINE if setting.tiered else drug.line, None, None
        if gap is not None:
            reason, source = gap
            insufficient.append(
                UnrankedTreatment(drug_id, drug.name, (reason,), flags, drug.label, (source,))
            )
            continue
        child = np.random.SeedSequence([seed, 1, groups.index(drug.evidence_group)])
        candidates.append(
            _evaluate(drug, setting, flags, line, first_choice, overridden, advice,
                      np.random.default_rng(child))
        )  # fmt: skip

    candidates.sort(key=lambda c: _order(c, setting))
    ranked = []
    if candidates:
        p_best, sucra = rank_summaries(np.stack([c["net_samples"] for c in candidates], axis=1))
        for k, c in enumerate(candidates):
            why = _why(c, candidates[:k], candidates[k + 1 :], float(p_best[k]), setting)
            ranked.append(
                RankedTreatment(
                    rank=k + 1,
                    p_best=float(p_best[k]),
                    sucra=float(sucra[k]),
                    why=why,
                    **{
                        key: v
                        for key, v in c.items()
                        if not key.startswith("_") and key != "net_samples"
                    },
                )
            )
    condition = None
    prompts: tuple[Statement, ...] = ()
    if rule is not None:
        condition = {"id": rule.id, "description": rule.description,
                     "guideline": rule.guideline.to_dict()}  # fmt: skip
        prompts = rule.prompts
    scope_notes: tuple[Statement, ...] = ()
    # Shown when the pain is most likely not neuropathic, and when no drug can be ranked.
    if (not leads or not ranked) and conditions is not None:
        share_npl = w_npl / max(1.0 - p_mean, 1e-12)
        component = "nociplastic" if share_npl >= 0.5 else "nociceptive"
        scope_notes = conditions.notes(component, state)
    return TreatmentRanking(
        tuple(ranked), tuple(excluded), tuple(not_indicated), p_mean, float(harm_weight),
        chosen, int(n_samples), int(seed), contexts, float(benefit_shrinkage),
        dict(factors), None, evidence.first_choice_min_p,
        not_recommended=tuple(against), insufficient_evidence=tuple(insufficient),
        overrides=overrides, condition=condition, prompts=prompts, scope_notes=scope_notes,
        p_nociplastic_if_not_neuropathic=None if q is None else w_npl / max(1.0 - p_mean, 1e-12),
        tiered=setting.tiered,
        nociplastic_split="none" if q is None else "exact",
    )  # fmt: skip


def rank_summaries(net_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(best) and SUCRA of each drug from joint draws of net benefit.

    Ties share: a draw in which k drugs tie for the highest net benefit gives
    each 1/k, and tied drugs get their average rank, so drugs with the same
    evidence do not split P(best) by the order they are listed in.

    Parameters
    ----------
    net_samples : ndarray, shape (n_draws, n_drugs)

    Returns
    -------
    p_best, sucra : ndarray, shape (n_drugs,)
        Share of draws in which the drug has the highest net benefit, and
        (T - mean rank) / (T - 1) (Salanti 2011; 1 = surely best).
    """
    net = np.asarray(net_samples, dtype=float)
    n = net.shape[1]
    top = net == net.max(axis=1, keepdims=True)
    p_best = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
    if n == 1:
        return p_best, np.ones(1)
    # Rank 1 = highest net benefit; rows with ties get average ranks.
    order = np.argsort(-net, axis=1, kind="stable")
    ranks = np.empty(net.shape)
    np.put_along_axis(ranks, order, np.arange(1.0, n + 1.0)[None, :], axis=1)
    ordered = np.take_along_axis(net, order, axis=1)
    tied = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
    if tied.size:
        from scipy.stats import rankdata

        ranks[tied] = rankdata(-net[tied], method="average", axis=1)
    sucra = (n - ranks.mean(axis=0)) / (n - 1)
    return p_best, sucra


@dataclass(frozen=True)
class _Setting:
    """What every drug's evaluation shares for one patient."""

    evidence_set: str
    state: str | None
    rule: ConditionRule | None
    contexts: Mapping[str, bool]
    evidence: TreatmentEvidence
    contraindications: Contraindications
    p_mean: float
    w_nociplastic: float
    p_samples: np.ndarray
    q_samples: np.ndarray
    harm_weight: float
    benefit_scale: float
    tiered: bool
    leads: bool
    factors: Mapping[str, object]

    def line_label(self, line: int, from_rule: bool) -> str:
        if line == _AGAINST_LINE and self.rule is not None:
            return f"advised against by {self.rule.guideline.text}: after the guideline's options"
        if from_rule and self.rule is not None:
            word = self.rule.line_names.get(line) or _DEFAULT_LINE_LABELS.get(line, f"line {line}")
            return f"{word} in {self.rule.description} ({self.rule.guideline.text})"
        return self.evidence.lines.get(line, _DEFAULT_LINE_LABELS.get(line, f"line {line}"))


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != n or not np.all(np.isfinite(w)) or w.min() < 0.0 or abs(w.sum() - 1.0) > 1e-6:
        raise EvidenceError(f"draw weights must be {n} finite non-negative numbers summing to 1.")
    return w / w.sum()


def _probabilities(draws: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(draws, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)) or x.min() < 0.0 or x.max() > 1.0:
        raise EvidenceError(f"{what} draws must be finite probabilities in [0, 1].")
    return x


def _fired(drug_id: str, contraindications: Contraindications,
           factors: Mapping[str, object]) -> list[Rule]:  # fmt: skip
    """The drug's rules that fire; a severe factor's rule replaces the rule of a milder factor
    it implies when it is at least as severe (severe renal impairment's dose rule, not both),
    so one harm is counted once."""
    fired = [r for r in contraindications.rules if drug_id in r.drugs and r.fires(factors)]
    rank = {name: k for k, name in enumerate(SEVERITIES)}

    def replaced(milder: Rule) -> bool:
        return any(
            milder.factor in contraindications.factors[r.factor].implies
            and rank[r.severity] <= rank[milder.severity]
            for r in fired
            if r.factor in contraindications.factors
        )

    return [r for r in fired if not replaced(r)]


def _flag(rule: Rule) -> Flag:
    return Flag(rule.severity, rule.factor, rule.reason, rule.source, rule.tag,
                rule.benefit_multiplier)  # fmt: skip


def _unranked(drug: Drug, reasons: tuple[str, ...], flags: tuple[Flag, ...],
              sourced: tuple[Flag, ...] = ()) -> UnrankedTreatment:  # fmt: skip
    sources = tuple(f"{f.source} [{f.tag}]" for f in sourced)
    return UnrankedTreatment(drug.id, drug.name, reasons, flags, drug.label, sources)


def _indicated(drug: Drug, rule: ConditionRule | None, contexts: Mapping[str, bool],
               factors: Mapping[str, object]) -> bool:  # fmt: skip
    if drug.scope == "all" or contexts.get(drug.scope, False):
        return True
    if rule is None or drug.id not in rule.indicated:
        return False
    gate = rule.indicated_unless_false
    return gate is None or factors.get(gate) is not False


def _line(drug: Drug, s: _Setting) -> tuple[int, str | None, tuple[str, str] | None]:
    """Line of therapy used for the order, the first-choice note, and the evidence gap (if any).

    In a tiered set a drug with no graded line in the condition gets a gap
    (the reason it is listed under insufficient evidence, and its source)
    instead of a line.
    """
    entry = drug.condition(s.state, s.evidence_set)
    first_choice = None
    if entry is not None and entry.first_choice:
        if s.rule is not None:
            g = s.rule.guideline
            first_choice = f"first choice for {s.rule.description} ({g.text}) [{g.tag}]"
        else:
            # No guideline rule for the condition: the entry's own source decides the tag.
            where = str(s.state).replace("_", " ")
            first_choice = f"first choice for {where} (seed review) [{entry.nnt.tag}]"
    for ctx, body in s.evidence.first_choice.items():
        if s.contexts.get(ctx) and drug.id in body.get("drugs", ()):
            tag = f" [{body['tag']}]" if body.get("tag") else ""
            first_choice = f"first choice for {body.get('description', ctx)}{tag}"
    if not s.tiered:
        return drug.line, first_choice, None
    if first_choice is not None and s.leads:
        return 0, first_choice, None
    if s.rule is not None and drug.id in s.rule.lines:
        return s.rule.lines[drug.id], first_choice, None
    if first_choice is not None:
        return max(drug.line, 1), first_choice, None
    if s.rule is not None and s.rule.others == "insufficient":
        g = s.rule.guideline
        return (
            0,
            None,
            (
                f"not among the options of {g.text} for {s.rule.description}",
                f"{g.source} [{g.tag}]",
            ),
        )
    if drug.line == 0 or (entry is not None and entry.nnt.point >= 100):
        where = f" in {s.rule.description}" if s.rule else ""
        return (
            0,
            None,
            (
                f"evidence inconclusive{where} (NeuPSIG 2015 grade: {_GRADES.get(drug.recommendation, drug.recommendation or 'none')}); "
                "not ranked by a derived NNT",
                f"{drug.source} [{drug.tag}]",
            ),
        )
    return drug.line, None, None


def _evaluate(drug: Drug, s: _Setting, flags: tuple[Flag, ...], line: int,
              first_choice: str | None, overridden: bool, advice: Statement | None,
              rng: np.random.Generator) -> dict[str, object]:  # fmt: skip
    condition = drug.condition(s.state, s.evidence_set)
    nnt = condition.nnt if condition is not None else drug.nnt[s.evidence_set]
    nnh = (
        condition.nnh
        if condition is not None and condition.nnh is not None
        else drug.nnh[s.evidence_set]
    )
    source = (
        f"condition-specific ({s.state}): {nnt.source}"
        if condition is not None
        else f"{s.evidence_set}: {nnt.source}"
    )
    arr_np = RiskDifference.from_number_needed(nnt)
    arr_noc = RiskDifference.from_number_needed(drug.non_neuropathic_nnt)
    arr_npl = RiskDifference.from_number_needed(drug.nociplastic_nnt or drug.non_neuropathic_nnt)
    ari = RiskDifference.from_number_needed(nnh)
    harms = [h for h in drug.long_term_harms if h.applies(s.factors)]
    multiplier, serious, kept = 1.0, 0.0, 1.0
    severity = s.contraindications.severity
    for f in flags:
        if f.benefit_multiplier is not None:
            # Lost analgesia (e.g. a CYP2D6 poor metaboliser on tramadol), not more harm.
            kept *= f.benefit_multiplier
            continue
        multiplier *= float(severity[f.severity]["harm_multiplier"])
        serious += float(severity[f.severity]["serious_harm_risk"])
    long_term = [(RiskDifference.from_number_needed(h.nnh), h.weight) for h in harms]
    e_long = sum(w * d.mean() for d, w in long_term)
    kw = {"harm_multiplier": multiplier, "harm_weight": s.harm_weight}
    scale = s.benefit_scale * kept
    e_np, e_noc, e_npl = scale * arr_np.mean(), scale * arr_noc.mean(), scale * arr_npl.mean()
    w_noc = 1.0 - s.p_mean - s.w_nociplastic
    benefit = s.p_mean * e_np + s.w_nociplastic * e_npl + w_noc * e_noc
    harm = s.harm_weight * (ari.mean(multiplier) + serious + e_long)
    net = benefit - harm
    # Draws in a fixed order from the evidence group's seed: drugs of one group share them.
    n = len(s.p_samples)
    z = rng.standard_normal((4 + len(long_term), n))
    e_non_samples = s.q_samples * arr_npl.at(z[2]) + (1.0 - s.q_samples) * arr_noc.at(z[1])
    lt_samples = sum((w * d.at(z[4 + k]) for k, (d, w) in enumerate(long_term)), np.zeros(n))
    _, _, net_samples = net_benefit(
        s.p_samples, scale * arr_np.at(z[0]), scale * e_non_samples, ari.at(z[3]),
        serious_harm_risk=serious + lt_samples, **kw,
    )  # fmt: skip
    # P(neuropathic) above which the expected net benefit is positive; None when
    # no P in [0, 1] makes it positive.
    non_share = 1.0 - s.p_mean
    e_non = (s.w_nociplastic * e_npl + w_noc * e_noc) / non_share if non_share > 1e-12 else e_noc
    break_even = None
    if e_np > e_non:
        p_star = (harm - e_non) / (e_np - e_non)
        break_even = None if p_star >= 1.0 else float(max(p_star, 0.0))
    elif e_non > harm:
        break_even = 0.0
    low, high = np.quantile(net_samples, [0.025, 0.975])
    strong = any(f.severity == "strong_relative" for f in flags)
    if line == 0 and first_choice is not None and net <= 0:
        # A first choice leads only when it is expected to do more good than harm.
        line = max(drug.line, 1)
    from_rule = (
        s.tiered
        and s.rule is not None
        and drug.id in s.rule.lines
        and line == s.rule.lines[drug.id]
    )
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
        "short_name": drug.label,
        "order_line": line,
        "line_label": first_choice if line == 0 and first_choice else s.line_label(line, from_rule),
        "efficacy_used": _efficacy_used(s, nnt, drug, benefit_kept=kept),
        "harm_multiplier": multiplier,
        "nnt_tag": nnt.tag,
        "nnh_tag": nnh.tag,
        "expected_long_term_harm": float(s.harm_weight * e_long),
        "long_term_harms": tuple(h.name for h in harms),
        "needs_override": strong and not overridden,
        "overridden": overridden and (strong or advice is not None),
        "dosing": dict(drug.dosing),
        "net_samples": net_samples,
        "_advice": advice,
    }


def _efficacy_used(s: _Setting, nnt, drug: Drug, *, benefit_kept: float) -> list[dict]:
    """The NNTs the expected benefit weighed, each with its weight (share of patients)."""
    w_noc = max(1.0 - s.p_mean - s.w_nociplastic, 0.0)
    parts = [
        ("neuropathic pain", s.p_mean, nnt),
        ("nociplastic pain", s.w_nociplastic, drug.nociplastic_nnt or drug.non_neuropathic_nnt),
        ("nociceptive pain", w_noc, drug.non_neuropathic_nnt),
    ]
    return [
        {"component": name, "weight": float(weight), "nnt": e.point,
         "nnt_interval": e.interval, "tag": e.tag, "source": e.source,
         "benefit_scale": benefit_kept * s.benefit_scale}
        for name, weight, e in parts
    ]  # fmt: skip


def _order(c: Mapping[str, object], s: _Setting) -> tuple:
    positive = c["expected_net_benefit"] > 0
    if s.tiered:
        return (
            c["needs_override"],
            c["order_line"],
            not positive,
            -c["expected_net_benefit"],
            c["id"],
        )
    leading = s.leads and c["first_choice"] is not None and positive
    return (
        c["needs_override"], not leading, -c["expected_net_benefit"],
        _LINE_ORDER.get(c["line"], 9), c["id"],
    )  # fmt: skip


def _why(c: Mapping[str, object], above: list[Mapping[str, object]],
         below: list[Mapping[str, object]], p_best: float, s: _Setting) -> str:  # fmt: skip
    """One line: why the drug sits where it does."""
    parts = []
    flags = c["flags"]
    if c["overridden"]:
        what = [f.reason for f in flags if f.severity == "strong_relative"]
        if c["_advice"] is not None:
            what.append(f"{s.rule.guideline.text}: {c['_advice'].text}")
        parts.append("overridden by the clinician despite: " + "; ".join(what))
    if c["needs_override"]:
        reasons = "; ".join(f.reason for f in flags if f.severity == "strong_relative")
        parts.append(
            f"needs specialist override (strong relative contraindication: {reasons}); "
            "listed after every drug without one"
        )
    elif c["expected_net_benefit"] <= 0:
        parts.append(
            f"{c['line_label']}; expected net benefit not positive for this patient, so after "
            "the drugs of its line with a positive one"
        )
    else:
        parts.append(
            c["line_label"] if s.tiered else (c["first_choice"] or "by expected net benefit")
        )
        net = c["expected_net_benefit"]
        if s.tiered and any(a["expected_net_benefit"] < net for a in above):
            parts.append(
                "below earlier-line drugs with a lower expected net benefit, because the "
                "guideline line comes first"
            )
        if any(b["expected_net_benefit"] > net and not b["needs_override"] for b in below):
            parts.append(
                "above later drugs with a higher expected net benefit (its own P(best) "
                f"{probability_text(p_best)}), because "
                + ("its line comes first" if s.tiered else "it is a guideline first choice")
            )
    if above and p_best >= 0.5 and not c["needs_override"]:
        caveat = f", on an NNT tagged {c['nnt_tag']}" if c["nnt_tag"] != "F" else ""
        parts.append(f"the best on net benefit alone (P(best) {probability_text(p_best)}{caveat})")
    return "; ".join(parts)
