"""Treatment ranking: the properties the clinician relies on, and the numbers by hand."""

from __future__ import annotations

import tomllib

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
from npprob.decision.treatments import Effect
from npprob.decision.utility import RiskDifference
from npprob.diagnosis import load_model
from npprob.errors import EvidenceError, ParameterError

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


def assert_ordered(ranking) -> None:
    """The documented order, checked from the printed fields: override-needing drugs last,
    then (tiered sets) by line, within a line positive expected net benefit first, then net
    benefit."""
    keys = [(t.needs_override, t.order_line, t.expected_net_benefit <= 0, -t.expected_net_benefit)
            for t in ranking.ranked]  # fmt: skip
    assert ranking.tiered
    assert keys == sorted(keys)


def listed(ranking):
    apart = (ranking.excluded + ranking.not_indicated + ranking.not_recommended
             + ranking.insufficient_evidence)  # fmt: skip
    return ids(ranking) + [t.id for t in apart]


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
    # Nothing disappears: every drug is ranked or listed apart with a reason.
    assert sorted(listed(ranking)) == sorted(EVIDENCE.drugs)


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
        assert "trigeminal neuralgia" in ranking.ranked[0].first_choice
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
    # Without allodynia, or not localized, topical drugs are not indicated; except in
    # post-herpetic neuralgia, where the lidocaine plaster is licensed without allodynia.
    no_allodynia = {**PHN, "brush_allodynia": "absent"}
    for findings, factors in [({**no_allodynia, "aetiology": "nerve_injury_surgery"}, {}),
                              (PHN, {"localized_pain": False})]:  # fmt: skip
        ranking = recommend_treatments(MODEL, findings, patient_factors=factors)
        assert "lidocaine_topical" in {t.id for t in ranking.not_indicated}
    phn = {t.id: t for t in recommend_treatments(MODEL, no_allodynia).ranked}
    assert phn["lidocaine_topical"].first_choice is None
    assert phn["lidocaine_topical"].order_line == 2


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
    apart = {t.id for t in ranking.insufficient_evidence + ranking.not_recommended}
    assert {"gabapentin", "pregabalin", "carbamazepine", "lamotrigine"} <= negative | apart
    assert ranking.most_likely_not_neuropathic
    assert ranking.scope_notes


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
    assert_ordered(ranking)


def test_expected_net_benefit_by_hand_and_by_monte_carlo() -> None:
    p = np.random.default_rng(0).beta(8, 2, size=500)
    ranking = rank(p, harm_weight=1.5, n_samples=200)
    gabapentin = next(t for t in ranking.ranked if t.id == "gabapentin")
    drug = EVIDENCE.drugs["gabapentin"]
    rng = np.random.default_rng(1)
    n = 400_000
    raw = tomllib.loads(EVIDENCE.path.read_text())["drugs"]["gabapentin"]
    arr = RiskDifference.from_number_needed(drug.nnt["neupsig_2015"]).sample(n, rng)
    non = RiskDifference.from_number_needed(drug.non_neuropathic_nnt).sample(n, rng)
    ari = RiskDifference.from_number_needed(drug.nnh["neupsig_2015"]).sample(n, rng)
    # Long-term harms that apply to everyone (no factor), from the file's own numbers.
    long_term = sum(
        h["weight"]
        * RiskDifference.from_number_needed(Effect(h["nnh"], tuple(h["nnh_ci"]), "", "")).sample(
            n, rng
        )
        for h in raw["long_term_harm"]
        if "factor" not in h
    )
    assert np.mean(long_term) > 0
    ps = rng.choice(p, n)
    monte_carlo = np.mean(ps * arr + (1 - ps) * non - 1.5 * (ari + long_term))
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
    with pytest.raises(ParameterError, match="harm_weight must be at least 0"):
        rank(0.5, harm_weight=-1)
    with pytest.raises(ParameterError, match="evidence_set must be neupsig_2015 or seed_era"):
        rank(0.5, evidence_set="nice")
    with pytest.raises(EvidenceError, match="unknown patient factor"):
        recommend_treatments(MODEL, PHN, patient_factors={"cardiac": True})


def test_impossible_findings_are_reported_not_ranked() -> None:
    class ZeroProbabilityModel:
        # The real model's answer for contradictory findings: NaN draws.
        network = MODEL.network
        setting = None

        def in_setting(self, name):
            return self

        def evidence(self, record):
            return MODEL.evidence(record)

        def p_neuropathic_draws(self, batch):
            return np.full((10, batch.n_patients), np.nan)

        def weighted_draws(self, batch):
            return self.p_neuropathic_draws(batch), np.full((10, batch.n_patients), np.nan)

    with pytest.raises(EvidenceError, match="probability zero"):
        recommend_treatments(ZeroProbabilityModel(), PHN)


def test_benefit_shrinkage_scales_benefit_only() -> None:
    plain = {t.id: t for t in rank(0.7, PHN).ranked}
    shrunk = {t.id: t for t in rank(0.7, PHN, benefit_shrinkage=0.1).ranked}
    for drug_id, t in plain.items():
        assert shrunk[drug_id].expected_benefit == pytest.approx(0.9 * t.expected_benefit)
        assert shrunk[drug_id].expected_harm == pytest.approx(t.expected_harm)
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ParameterError, match=r"benefit_shrinkage must be in \[0, 1\)"):
            rank(0.7, benefit_shrinkage=bad)


# -- independent checks of the rules and the summaries -------------------------------------

RAW_RULES = tomllib.loads(RULES.path.read_text())["rules"]
RAW_SEVERITY = tomllib.loads(RULES.path.read_text())["severity"]


def raw_fired(drug_id, factors):
    """The rules of the TOML file that fire, read without npprob's Rule class."""
    out = []
    for rule in RAW_RULES:
        if drug_id not in rule["drugs"]:
            continue
        if not all(factors.get(n) is True for n in rule.get("requires", ())):
            continue
        if any(factors.get(n) is True for n in rule.get("unless", ())):
            continue
        value = factors.get(rule["factor"])
        if "minimum" in rule:
            fires = (
                isinstance(value, int) and not isinstance(value, bool) and value >= rule["minimum"]
            )
        else:
            fires = value is True
        if fires:
            out.append(rule)
    # A severe factor's rule replaces its implied milder factor's rule (one harm counted once).
    order = ("absolute", "strong_relative", "caution")
    implies = {n: tomllib.loads(RULES.path.read_text())["factors"][n].get("implies", [])
               for n in {r["factor"] for r in out}}  # fmt: skip
    return [m for m in out if not any(
        m["factor"] in implies[r["factor"]] and order.index(r["severity"]) <= order.index(m["severity"])
        for r in out)]  # fmt: skip


RAW_DRUGS = tomllib.loads(EVIDENCE.path.read_text())["drugs"]


def capped_mean(table, multiplier):
    """E[min(multiplier x 1/NNH, 1)] by adaptive integration over the two-piece logit-normal
    built from the file's NNH and interval (independent of npprob's quadrature)."""
    from scipy import integrate, stats
    from scipy.special import expit, logit

    z = stats.norm.ppf(0.975)
    mu = logit(1 / table["nnh"])
    # Spread below and above the median: the interval's bounds are the 2.5 % and 97.5 % points.
    low, high = (mu - logit(1 / table["nnh_ci"][1])) / z, (logit(1 / table["nnh_ci"][0]) - mu) / z

    def f(x):
        return min(multiplier * expit(mu + (low if x < 0 else high) * x), 1.0) * stats.norm.pdf(x)

    return integrate.quad(f, -12, 0)[0] + integrate.quad(f, 0, 12)[0]


def raw_long_term(drug_id, factors):
    """Expected weighted long-term harm from the file: weight x E[1/NNH] of each that applies."""
    total = 0.0
    for h in RAW_DRUGS[drug_id].get("long_term_harm", []):
        if "factor" in h:
            value = factors.get(h["factor"])
            holds = value is True if "minimum" not in h else (
                isinstance(value, int) and not isinstance(value, bool) and value >= h["minimum"]
            )  # fmt: skip
            if not holds:
                continue
        effect = Effect(h["nnh"], tuple(h["nnh_ci"]), "", "")
        total += h["weight"] * RiskDifference.from_number_needed(effect).mean()
    return total


@settings(max_examples=40, deadline=None)
@given(chosen=st.sets(st.sampled_from(BOOLEAN_FACTORS), max_size=5), age=st.integers(0, 120))
def test_exclusions_and_harm_match_the_file_read_independently(chosen, age) -> None:
    implied = {f"{n}" for n in chosen}
    factors = {name: True for name in implied}
    for name in list(factors):
        for milder in RULES.factors[name].implies:
            factors[milder] = True
    factors["age"] = age
    ranking = rank(0.8, PHN, factors, harm_weight=1.3)
    ranked = {t.id: t for t in ranking.ranked}
    for drug_id in EVIDENCE.drugs:
        fired = raw_fired(drug_id, factors)
        if any(r["severity"] == "absolute" for r in fired):
            assert drug_id not in ranked
            continue
        if drug_id not in ranked:
            continue
        harming = [r for r in fired if "benefit_multiplier" not in r]
        multiplier = np.prod([RAW_SEVERITY[r["severity"]]["harm_multiplier"] for r in harming])
        serious = sum(RAW_SEVERITY[r["severity"]]["serious_harm_risk"] for r in harming)
        ari = capped_mean(RAW_DRUGS[drug_id]["evidence"]["neupsig_2015"], multiplier)
        expected = 1.3 * (ari + serious + raw_long_term(drug_id, factors))
        assert ranked[drug_id].expected_harm == pytest.approx(expected, rel=1e-6)
        assert len(ranked[drug_id].flags) == len(fired)


def test_age_rules_fire_from_their_minimum() -> None:
    for drug_id in ("tca", "pregabalin"):
        minimum = min(
            r["minimum"] for r in RAW_RULES if drug_id in r["drugs"] and r["factor"] == "age"
        )
        below = {t.id: t for t in rank(0.8, PHN, {"age": minimum - 1}).ranked}[drug_id]
        at = {t.id: t for t in rank(0.8, PHN, {"age": minimum}).ranked}[drug_id]
        assert not below.flags
        assert at.flags
        assert at.expected_harm > below.expected_harm


def test_severe_factors_imply_the_milder_rules() -> None:
    from npprob.decision import parse_patient_factors

    factors = parse_patient_factors({"severe_hepatic_impairment": True}, RULES.factors)
    assert factors["hepatic_impairment"] is True
    assert "duloxetine" in {t.id for t in rank(0.9, PHN, factors).excluded}


def _toy_files(tmp_path, nnts):
    drugs = []
    for name, nnt in nnts.items():
        low, high = nnt * 0.999, nnt * 1.001
        drugs.append(
            f"""
[drugs.{name}]
name = "{name}"
drug_class = "x"
line = 1
route = "oral"
scope = "all"
[drugs.{name}.non_neuropathic]
nnt = 1000.0
nnt_ci = [999.0, 1001.0]
"""
            + "".join(
                f"""
[drugs.{name}.evidence.{s}]
nnt = {nnt}
nnt_ci = [{low}, {high}]
nnh = 1000.0
nnh_ci = [999.0, 1001.0]
"""
                for s in ("a", "b")
            )
        )
    treatments = tmp_path / "t.toml"
    treatments.write_text(
        '[meta]\ndefault_evidence = "a"\nevidence_sets = ["a", "b"]\n' + "".join(drugs)
    )
    rules = tmp_path / "c.toml"
    rules.write_text("""
[severity.absolute]
harm_multiplier = 0.0
serious_harm_risk = 0.0
[severity.strong_relative]
harm_multiplier = 3.0
serious_harm_risk = 0.02
[severity.caution]
harm_multiplier = 1.5
serious_harm_risk = 0.0
""")
    evidence = load_treatments(treatments)
    return evidence, load_contraindications(evidence.drugs, rules)


def test_p_best_and_sucra_when_the_order_is_certain(tmp_path) -> None:
    evidence, rules = _toy_files(tmp_path, {"good": 2.0, "middle": 4.0, "poor": 8.0})
    ranking = rank_treatments(np.full(100, 1.0), {}, {}, evidence, rules)
    assert [t.id for t in ranking.ranked] == ["good", "middle", "poor"]
    assert [t.p_best for t in ranking.ranked] == [1.0, 0.0, 0.0]
    assert [t.sucra for t in ranking.ranked] == [1.0, 0.5, 0.0]
    assert ranking.ranked[0].expected_benefit == pytest.approx(0.5, abs=1e-3)


def test_posterior_uncertainty_of_p_widens_the_interval(tmp_path) -> None:
    evidence, rules = _toy_files(tmp_path, {"only": 2.0, "other": 3.0})
    fixed = rank_treatments(np.full(400, 0.5), {}, {}, evidence, rules).ranked[0]
    spread = rank_treatments(np.linspace(0.0, 1.0, 400), {}, {}, evidence, rules).ranked[0]
    assert spread.expected_net_benefit == pytest.approx(fixed.expected_net_benefit, abs=1e-3)
    width = lambda t: t.net_benefit_interval[1] - t.net_benefit_interval[0]  # noqa: E731
    assert width(spread) > 10 * width(fixed)


def test_a_first_choice_with_no_net_benefit_does_not_lead() -> None:
    ranking = recommend_treatments(MODEL, TN, harm_weight=12.0)
    # A first choice whose expected net benefit is not positive falls back to its own line.
    for t in ranking.ranked:
        if t.first_choice is not None and t.expected_net_benefit <= 0:
            assert t.order_line > 0
    assert ranking.ranked[0].order_line > 0 or ranking.ranked[0].expected_net_benefit > 0
    assert_ordered(ranking)


def test_a_low_probability_does_not_bring_first_choices_forward() -> None:
    ranking = rank(0.3, {**PHN})
    topical = {t.id: t for t in ranking.ranked}["lidocaine_topical"]
    assert topical.order_line == EVIDENCE.drugs["lidocaine_topical"].line == 2
    assert_ordered(ranking)


def test_break_even_is_none_when_never_positive() -> None:
    ranking = rank(0.9, PHN, harm_weight=50.0)
    for t in ranking.ranked:
        at_1 = {x.id: x for x in rank(1.0, PHN, harm_weight=50.0).ranked}[t.id]
        if at_1.expected_net_benefit <= 0:
            assert t.break_even_p_neuropathic is None
        else:
            assert 0.0 <= t.break_even_p_neuropathic < 1.0


def test_a_strong_contraindication_moves_a_drug_down() -> None:
    plain = ids(rank(0.9, PHN))
    ranking = rank(0.9, PHN, {"concurrent_opioid": True})
    flagged = ids(ranking)
    for drug_id in ("gabapentin", "pregabalin"):
        assert flagged.index(drug_id) > plain.index(drug_id)
    needing = [t.needs_override for t in ranking.ranked]
    assert needing == sorted(needing)
    assert any(needing)


def test_the_first_choice_threshold_comes_from_the_file(tmp_path) -> None:
    assert EVIDENCE.first_choice_min_p == 0.5
    text = EVIDENCE.path.read_text().replace(
        "first_choice_min_p_neuropathic = 0.5", "first_choice_min_p_neuropathic = 0.95"
    )
    (tmp_path / "t.toml").write_text(text)
    strict = load_treatments(tmp_path / "t.toml")
    draws = np.full(200, 0.9)
    leading = rank_treatments(draws, PHN, {}, EVIDENCE, RULES).ranked[0]
    assert leading.first_choice is not None
    assert leading.order_line == 0
    ranking = rank_treatments(draws, PHN, {}, strict, RULES)
    assert all(t.order_line > 0 for t in ranking.ranked)
    assert ranking.ranked[0].id not in ("lidocaine_topical", "capsaicin_8pct")
    assert_ordered(ranking)


def test_ties_share_p_best_and_get_average_ranks() -> None:
    from npprob.decision.ranking import rank_summaries

    # By hand: ranks per row (1.5, 1.5, 3), (1, 2.5, 2.5), (2, 2, 2); the best shared.
    net = np.array([[1.0, 1.0, 0.0], [2.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    p_best, sucra = rank_summaries(net)
    assert p_best.tolist() == pytest.approx([(0.5 + 1 + 1 / 3) / 3, (0.5 + 1 / 3) / 3, 1 / 9])
    assert sucra.tolist() == pytest.approx([0.75, 0.5, 0.25])
    # Two identical columns split P(best) evenly whatever their order.
    twins = np.random.default_rng(0).normal(size=(1000, 1)).repeat(2, axis=1)
    assert rank_summaries(twins)[0].tolist() == [0.5, 0.5]
