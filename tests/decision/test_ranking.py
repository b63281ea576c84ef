"""Treatment ranking: the properties the clinician relies on, and the numbers by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npprob.decision import (
    load_contraindications,
    load_treatments,
    rank_treatments,
    recommend_treatments,
)
from npprob.decision.utility import RiskDifference
from npprob.diagnosis import load_model
from npprob.errors import EvidenceError

EVIDENCE = load_treatments()
RULES = load_contraindications(EVIDENCE.drugs)
MODEL = load_model()
BOOLEAN_FACTORS = sorted(n for n, f in RULES.factors.items() if f.type == "boolean")

TN = {"aetiology": "trigeminal_neuralgia", "distribution_plausible": "yes",
      "electric_shocks": "present", "paroxysmal_pain": "present", "sensory_loss": "absent"}  # fmt: skip
PHN = {"aetiology": "herpes_zoster", "time_since_lesion": "1_to_12_months",
       "distribution_plausible": "yes", "sensory_loss": "present", "brush_allodynia": "present",
       "burning": "present"}  # fmt: skip
KNEE_OA = {"aetiology": "osteoarthritis", "pain_on_movement": "present", "swelling": "present",
           "local_tenderness": "present", "brush_allodynia": "present", "burning": "present"}  # fmt: skip


def rank(p, findings=None, factors=None, **kw):
    draws = np.full(200, p) if np.isscalar(p) else np.asarray(p)
    return rank_treatments(draws, findings or {}, factors or {}, EVIDENCE, RULES, **kw)


def ids(ranking):
    return [t.id for t in ranking.ranked]


def absolutely_contraindicated(factors):
    return {
        d for r in RULES.rules if r.severity == "absolute" and r.fires(factors) for d in r.drugs
    }


@settings(max_examples=60, deadline=None)
@given(
    chosen=st.sets(st.sampled_from(BOOLEAN_FACTORS), max_size=6),
    age=st.one_of(st.none(), st.integers(0, 120)),
    p=st.floats(0.0, 1.0),
)
def test_an_absolutely_contraindicated_drug_is_never_ranked(chosen, age, p) -> None:
    factors = {name: True for name in chosen}
    if age is not None:
        factors["age"] = age
    ranking = rank(p, PHN, factors, n_samples=200)
    banned = absolutely_contraindicated(factors)
    assert banned.isdisjoint(ids(ranking))
    assert {t.id for t in ranking.excluded} == banned
    for t in ranking.excluded:
        assert t.reasons
    # Nothing disappears: every drug is ranked, excluded or not indicated.
    listed = ids(ranking) + [t.id for t in ranking.excluded + ranking.not_indicated]
    assert sorted(listed) == sorted(EVIDENCE.drugs)


@settings(max_examples=40, deadline=None)
@given(p_low=st.floats(0.0, 1.0), p_high=st.floats(0.0, 1.0))
def test_raising_p_never_lowers_benefit_without_non_neuropathic_efficacy(p_low, p_high) -> None:
    p_low, p_high = sorted((p_low, p_high))
    low = {t.id: t for t in rank(p_low, n_samples=200).ranked}
    high = {t.id: t for t in rank(p_high, n_samples=200).ranked}
    for drug_id, drug in EVIDENCE.drugs.items():
        if drug_id not in low or drug.non_neuropathic_nnt.point < 100:
            continue
        assert high[drug_id].expected_benefit >= low[drug_id].expected_benefit - 1e-12


def test_no_tca_with_a_cardiac_conduction_disorder() -> None:
    tcas = {d for d, drug in EVIDENCE.drugs.items() if drug.drug_class == "tca"}
    for findings in (PHN, TN, KNEE_OA, {"aetiology": "stroke", "burning": "present"}):
        ranking = recommend_treatments(
            MODEL, findings, patient_factors={"cardiac_conduction_disorder": True}
        )
        assert tcas.isdisjoint(ids(ranking))
        assert tcas <= {t.id for t in ranking.excluded}


@pytest.mark.parametrize("evidence_set", ["neupsig_2015", "seed_era"])
@pytest.mark.parametrize("harm_weight", [0.5, 1.0, 2.0])
def test_trigeminal_neuralgia_gets_carbamazepine_or_oxcarbazepine_first(
    evidence_set, harm_weight
) -> None:
    for findings in (TN, {"aetiology": "trigeminal_neuralgia"}):
        ranking = recommend_treatments(
            MODEL, findings, evidence_set=evidence_set, harm_weight=harm_weight
        )
        assert ids(ranking)[0] in ("carbamazepine", "oxcarbazepine")
        assert "trigeminal_neuralgia" in ranking.ranked[0].first_choice
        assert ranking.ranked[0].efficacy_source.startswith("condition-specific")


def test_localized_peripheral_pain_with_allodynia_ranks_lidocaine_in_the_top_three() -> None:
    cases = [
        (PHN, {}),
        ({**PHN, "aetiology": "nerve_injury_surgery"}, {}),
        ({"aetiology": "polyneuropathy_diabetic", "cold_allodynia": "present",
          "sensory_loss": "present", "distribution_plausible": "yes"}, {"localized_pain": True}),
    ]  # fmt: skip
    for findings, factors in cases:
        ranking = recommend_treatments(MODEL, findings, patient_factors=factors)
        assert ranking.contexts["peripheral_localized"]
        assert "lidocaine_topical" in ids(ranking)[:3]
    # Without allodynia, or not localized, topical drugs are not indicated.
    for findings, factors in [({**PHN, "brush_allodynia": "absent"}, {}),
                              (PHN, {"localized_pain": False})]:  # fmt: skip
        ranking = recommend_treatments(MODEL, findings, patient_factors=factors)
        assert "lidocaine_topical" in {t.id for t in ranking.not_indicated}


def test_knee_osteoarthritis_mimic_gets_no_neuropathic_drug_on_neuropathic_grounds() -> None:
    ranking = recommend_treatments(MODEL, KNEE_OA, harm_weight=1.0)
    p = ranking.p_neuropathic
    assert p < 0.2
    # Expected benefit at P = 0 and P = 1: the non-neuropathic and neuropathic efficacies.
    at_0 = {t.id: t.expected_benefit for t in rank(0.0, KNEE_OA).ranked}
    at_1 = {t.id: t.expected_benefit for t in rank(1.0, KNEE_OA).ranked}
    for t in ranking.ranked:
        drug = EVIDENCE.drugs[t.id]
        if drug.non_neuropathic_nnt.point >= 100:  # no efficacy outside neuropathic pain
            assert t.expected_net_benefit < 0, t.id
        if t.expected_net_benefit > 0:
            # Positive only where the non-neuropathic efficacy carries most of the benefit.
            non_np = (1 - p) * at_0[t.id]
            assert non_np >= 0.5 * (p * at_1[t.id] + non_np), t.id
    negative = {t.id for t in ranking.ranked if t.expected_net_benefit < 0}
    assert {"gabapentin", "pregabalin", "carbamazepine", "lamotrigine"} <= negative


def test_ranking_is_stable_under_the_seed() -> None:
    orders = set()
    best = []
    for seed in range(5):
        ranking = recommend_treatments(MODEL, PHN, seed=seed)
        orders.add(tuple(ids(ranking)))
        best.append(ranking.ranked[2].p_best)
    assert len(orders) == 1
    assert max(best) - min(best) < 0.05
    again = recommend_treatments(MODEL, PHN, seed=3).to_dict()
    assert again == recommend_treatments(MODEL, PHN, seed=3).to_dict()


def test_summaries_are_consistent() -> None:
    ranking = recommend_treatments(MODEL, PHN)
    p_best = [t.p_best for t in ranking.ranked]
    assert sum(p_best) == pytest.approx(1.0)
    n = len(ranking.ranked)
    # SUCRA is a rescaled mean rank: its mean over drugs is exactly 1/2.
    assert np.mean([t.sucra for t in ranking.ranked]) == pytest.approx(0.5)
    assert all(0 <= t.sucra <= 1 for t in ranking.ranked)
    assert [t.rank for t in ranking.ranked] == list(range(1, n + 1))
    rest = [t.expected_net_benefit for t in ranking.ranked if t.first_choice is None]
    assert rest == sorted(rest, reverse=True)


def test_expected_net_benefit_by_hand_and_by_monte_carlo() -> None:
    p = np.random.default_rng(0).beta(8, 2, size=500)
    ranking = rank(p, harm_weight=1.5, n_samples=200)
    gabapentin = next(t for t in ranking.ranked if t.id == "gabapentin")
    drug = EVIDENCE.drugs["gabapentin"]
    rng = np.random.default_rng(1)
    n = 400_000
    arr = RiskDifference.from_number_needed(drug.nnt["neupsig_2015"]).sample(n, rng)
    non = RiskDifference.from_number_needed(drug.non_neuropathic_nnt).sample(n, rng)
    ari = RiskDifference.from_number_needed(drug.nnh["neupsig_2015"]).sample(n, rng)
    ps = rng.choice(p, n)
    monte_carlo = np.mean(ps * arr + (1 - ps) * non - 1.5 * ari)
    assert gabapentin.expected_net_benefit == pytest.approx(monte_carlo, abs=1e-3)


def test_risk_difference_matches_the_published_interval() -> None:
    drug = EVIDENCE.drugs["tca"].nnt["neupsig_2015"]
    low, high = RiskDifference.from_number_needed(drug).quantiles([0.025, 0.975])
    assert low == pytest.approx(1 / 4.4)
    assert high == pytest.approx(1 / 3.0)


def test_contraindications_raise_harm_and_can_flip_the_order() -> None:
    plain = {t.id: t for t in rank(0.9, PHN).ranked}
    flagged = {t.id: t for t in rank(0.9, PHN, {"substance_use_disorder": True}).ranked}
    for drug_id in ("strong_opioid", "tramadol"):
        if drug_id in flagged:
            assert flagged[drug_id].expected_harm > plain[drug_id].expected_harm
            assert flagged[drug_id].flags
    assert rank(0.9, PHN, harm_weight=0.0).ranked[0].expected_harm == 0.0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(EvidenceError, match="probabilities"):
        rank(1.5)
    with pytest.raises(EvidenceError, match="probabilities"):
        rank(np.array([0.2, np.nan]))
    with pytest.raises(EvidenceError, match="harm weight"):
        rank(0.5, harm_weight=-1)
    with pytest.raises(EvidenceError, match="Unknown evidence set 'nice'"):
        rank(0.5, evidence_set="nice")
    with pytest.raises(EvidenceError, match="unknown patient factor"):
        recommend_treatments(MODEL, PHN, patient_factors={"cardiac": True})


def test_impossible_findings_are_reported_not_ranked() -> None:
    class ZeroProbabilityModel:
        # The real model's answer for contradictory findings: NaN draws.
        network = MODEL.network

        def evidence(self, record):
            return MODEL.evidence(record)

        def p_neuropathic_draws(self, batch):
            return np.full((10, batch.n_patients), np.nan)

    with pytest.raises(EvidenceError, match="probability zero"):
        recommend_treatments(ZeroProbabilityModel(), PHN)


def test_benefit_shrinkage_scales_benefit_only() -> None:
    plain = {t.id: t for t in rank(0.7, PHN).ranked}
    shrunk = {t.id: t for t in rank(0.7, PHN, benefit_shrinkage=0.1).ranked}
    for drug_id, t in plain.items():
        assert shrunk[drug_id].expected_benefit == pytest.approx(0.9 * t.expected_benefit)
        assert shrunk[drug_id].expected_harm == pytest.approx(t.expected_harm)
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(EvidenceError, match="benefit shrinkage"):
            rank(0.7, benefit_shrinkage=bad)
