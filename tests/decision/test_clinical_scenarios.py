"""Clinical scenarios: condition x patient factors, each with the guideline or label it follows.

Every scenario runs the shipped model and files end to end (``recommend_treatments``) and is
checked twice: against the safety invariants that hold for every patient (no absolutely
contraindicated drug ranked, no strong-relative drug ahead of an unflagged one without an
override, no third-line drug above an applicable first-line drug without patient factors),
and against what its own guideline says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from npprob.decision import parse_patient_factors, recommend_treatments, treatment_files
from npprob.diagnosis import load_model

ROOT = Path(__file__).resolve().parents[2]
MODEL = load_model()
EVIDENCE, RULES = treatment_files()
ANTIEPILEPTICS = {"pregabalin", "gabapentin", "carbamazepine", "oxcarbazepine", "lamotrigine"}
OPIOIDS = {"tramadol", "strong_opioid"}
FIRST_LINE = {"tca", "duloxetine", "venlafaxine", "pregabalin", "gabapentin"}
TOPICALS = {"lidocaine_topical", "capsaicin_8pct"}


def example(name: str, **changes: str) -> dict[str, str]:
    record = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    findings = {k: v for k, v in record.items() if k not in ("id", "comment", "patient_factors")}
    return {**findings, **changes}


TN = example("trigeminal_neuralgia")
PHN = example("postherpetic_neuralgia")
PDPN = example("painful_diabetic_polyneuropathy")
SCIATICA = example("lumbar_radiculopathy_mixed")
CPSP = example("central_post_stroke_pain")
FIBRO = example("widespread_pain")
KNEE_OA = example("knee_osteoarthritis_allodynia")
CIPN = example("chemotherapy_induced_polyneuropathy")
CRPS1 = example("crps_type_1")
SCI = {"aetiology": "spinal_cord_injury", "distribution_plausible": "yes",
       "sensory_loss": "present", "burning": "present"}  # fmt: skip
MS = {"aetiology": "multiple_sclerosis", "distribution_plausible": "yes",
      "sensory_loss": "present", "burning": "present", "confirmatory_test": "positive"}  # fmt: skip
LBP = {"aetiology": "axial_low_back_pain", "pain_on_movement": "present",
       "local_tenderness": "present", "distribution_plausible": "no"}  # fmt: skip
SCAR = {"aetiology": "nerve_injury_surgery", "distribution_plausible": "yes",
        "sensory_loss": "present", "brush_allodynia": "present", "burning": "present"}  # fmt: skip
PHN_NO_ALLODYNIA = {k: v for k, v in PHN.items()
                    if k not in ("brush_allodynia", "cold_allodynia", "pain_on_light_touch")}  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """One patient and what the cited guideline or label requires of the list."""

    id: str
    guideline: str
    findings: dict[str, str]
    factors: dict[str, object] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    evidence_set: str | None = None
    first: frozenset[str] = frozenset()  # rank 1 is one of these
    top3_any: frozenset[str] = frozenset()  # at least one of these in the top 3
    not_ranked: frozenset[str] = frozenset()  # never in the ranked list
    excluded: frozenset[str] = frozenset()  # listed as absolutely contraindicated
    needs_override: frozenset[str] = frozenset()  # ranked last, marked
    overridden: frozenset[str] = frozenset()  # ranked normally, marked
    not_recommended: frozenset[str] = frozenset()  # the condition's guideline advises against
    insufficient: frozenset[str] = frozenset()
    not_neuropathic: bool = False


def s(id, guideline, findings, **kw) -> Scenario:
    sets = {k: frozenset(v) for k, v in kw.items() if isinstance(v, (set, frozenset))}
    rest = {k: v for k, v in kw.items() if k not in sets}
    return Scenario(id, guideline, findings, **sets, **rest)


CBZ_OXC = {"carbamazepine", "oxcarbazepine"}
SCENARIOS = [
    # --- trigeminal neuralgia (EAN 2019; CPIC 2017)
    s("tn", "EAN 2019: carbamazepine or oxcarbazepine first; its list of options is complete",
      TN, first=CBZ_OXC,
      insufficient={"tca", "tramadol", "strong_opioid", "duloxetine", "venlafaxine", "ssri"}),
    s("tn-hla-b1502", "CPIC 2017: HLA-B*15:02, drug-naive: do not use CBZ/OXC", TN,
      factors={"hla_b1502": True}, excluded=CBZ_OXC,
      first={"lamotrigine", "gabapentin", "pregabalin", "botulinum_toxin_a"}),
    s("tn-hla-b1502-tolerated", "CPIC 2017: >3 months without reaction: cautiously consider "
      "that drug; tolerance of carbamazepine says nothing about oxcarbazepine",
      TN, factors={"hla_b1502": True, "carbamazepine_tolerated_before": True},
      first={"carbamazepine"}, excluded={"oxcarbazepine"}),
    s("tn-hla-b1502-oxc-tolerated", "CPIC 2017: per drug", TN,
      factors={"hla_b1502": True, "oxcarbazepine_tolerated_before": True},
      first={"oxcarbazepine"}, excluded={"carbamazepine"}),
    s("tn-hla-b1502-override", "CPIC 2017: an absolute contraindication is never overridden",
      TN, factors={"hla_b1502": True}, overrides=("carbamazepine",), excluded=CBZ_OXC),
    s("tn-prior-rash", "lamotrigine boxed warning; aromatic anticonvulsant cross-reactivity",
      TN, factors={"prior_serious_rash": True},
      excluded={"carbamazepine", "oxcarbazepine", "lamotrigine"}),
    s("tn-hla-a3101", "CPIC 2017: HLA-A*31:01: avoid CBZ if alternatives exist", TN,
      factors={"hla_a3101": True}, needs_override={"carbamazepine"}, first={"oxcarbazepine"}),
    s("tn-hla-a3101-override", "CPIC 2017 with the clinician's explicit override", TN,
      factors={"hla_a3101": True}, overrides=("carbamazepine",), overridden={"carbamazepine"},
      first=CBZ_OXC),
    s("tn-pregnancy", "carbamazepine label: teratogenic", TN, factors={"pregnancy": True},
      needs_override={"carbamazepine"}, first={"oxcarbazepine"}),
    s("tn-opioid-override", "insufficient evidence is not overridable", TN,
      overrides=("strong_opioid",), not_ranked={"strong_opioid"},
      insufficient={"strong_opioid"}, first=CBZ_OXC),
    # --- post-herpetic neuralgia (seed review; NICE CG173; EFNS 2010; Versatis SmPC)
    s("phn", "seed review / EFNS 2010: topical lidocaine for localized PHN", PHN,
      top3_any=TOPICALS, insufficient={"carbamazepine", "oxcarbazepine", "lamotrigine", "ssri"}),
    s("phn-pregnancy", "botulinum toxin A: no safety data in pregnancy", PHN,
      factors={"pregnancy": True}, needs_override={"botulinum_toxin_a"}, top3_any=TOPICALS),
    s("phn-no-allodynia", "Versatis SmPC: licensed for PHN without an allodynia criterion",
      PHN_NO_ALLODYNIA, top3_any=FIRST_LINE),
    s("phn-not-localized", "topicals need pain of limited extent", PHN,
      factors={"localized_pain": False}, not_ranked=TOPICALS | {"botulinum_toxin_a"},
      first=FIRST_LINE),
    s("phn-older-cardiac", "seed review (TCA) and MHRA 2011 (citalopram) with conduction disease",
      PHN, factors={"age": 78, "cardiac_conduction_disorder": True, "renal_impairment": True,
                    "concurrent_ssri": True}, excluded={"tca", "ssri"}, top3_any=TOPICALS,
      needs_override={"strong_opioid"}),
    s("phn-long-qt", "MHRA 2011: citalopram/escitalopram contraindicated in QT prolongation",
      PHN, factors={"cardiac_conduction_disorder": True}, excluded={"ssri", "tca"}),
    s("phn-qt-drug", "MHRA 2011: not with other QT-prolonging drugs", PHN,
      factors={"concurrent_qt_prolonging_drug": True}, excluded={"ssri"},
      needs_override={"tca"}),
    s("phn-lidocaine-allergy", "Lidoderm label: amide anaesthetic sensitivity", PHN,
      factors={"amide_anaesthetic_allergy": True}, excluded={"lidocaine_topical"},
      first=FIRST_LINE),
    # --- painful diabetic polyneuropathy (NeuPSIG 2015; AGS Beers 2023; labels)
    s("pdpn", "NeuPSIG 2015: first line TCA, SNRI, gabapentinoids", PDPN, first=FIRST_LINE,
      insufficient={"carbamazepine", "oxcarbazepine", "lamotrigine", "ssri"}),
    s("pdpn-conduction", "seed review: TCA contraindicated in conduction disorders", PDPN,
      factors={"cardiac_conduction_disorder": True}, excluded={"tca", "ssri"},
      first=FIRST_LINE - {"tca"}),
    s("pdpn-age-80", "AGS Beers 2023: avoid TCAs at 65 and over", PDPN, factors={"age": 80},
      needs_override={"tca", "strong_opioid"}, first=FIRST_LINE - {"tca"}),
    s("pdpn-falls", "AGS Beers 2023: falls: avoid antiepileptics and opioids", PDPN,
      factors={"age": 75, "falls_history": True},
      needs_override={"tca", "pregabalin", "gabapentin", "tramadol", "strong_opioid"},
      first={"duloxetine", "venlafaxine"}),
    s("pdpn-misuse", "CDC 2022 / opioid labels: misuse history", PDPN,
      factors={"substance_use_disorder": True}, needs_override=OPIOIDS, first=FIRST_LINE),
    s("pdpn-on-opioid", "FDA 2019: gabapentinoid with an opioid; do not stack opioids", PDPN,
      factors={"concurrent_opioid": True},
      needs_override={"pregabalin", "gabapentin", "tramadol", "strong_opioid"}),
    s("pdpn-maoi", "labels: MAOI within 14 days", PDPN, factors={"maoi_use": True},
      excluded={"tca", "duloxetine", "venlafaxine", "ssri", "tramadol", "carbamazepine"},
      first={"pregabalin", "gabapentin"}),
    s("pdpn-severe-renal", "duloxetine SmPC: creatinine clearance below 30", PDPN,
      factors={"severe_renal_impairment": True}, excluded={"duloxetine"}),
    s("pdpn-two-serotonergic", "serotonin syndrome with a third serotonergic drug", PDPN,
      factors={"concurrent_ssri": True, "concurrent_other_serotonergic": True},
      needs_override={"tca", "duloxetine", "venlafaxine", "tramadol"},
      first={"pregabalin", "gabapentin"}),
    s("pdpn-cyp2d6-ultrarapid", "CPIC 2021: avoid tramadol in CYP2D6 ultrarapid metabolisers",
      PDPN, factors={"cyp2d6_ultrarapid_metaboliser": True}, excluded={"tramadol"}),
    s("pdpn-on-carbamazepine", "tramadol label: not with carbamazepine", PDPN,
      factors={"concurrent_carbamazepine": True}, needs_override={"tramadol"}),
    s("pdpn-localized-allodynia", "seed review: topical for localized pain with allodynia",
      {**PDPN, "cold_allodynia": "present"}, factors={"localized_pain": True},
      top3_any=TOPICALS),
    s("pdpn-suicide-risk", "tramadol label: not for suicidal patients; TCAs lethal in overdose",
      PDPN, factors={"suicide_risk": True},
      needs_override={"tramadol", "strong_opioid", "tca"}),
    s("pdpn-on-tramadol", "a second opioid, and serotonergic tramadol with SNRIs/TCAs", PDPN,
      factors={"concurrent_tramadol": True},
      needs_override={"tramadol", "strong_opioid", "pregabalin", "gabapentin"}),
    s("pdpn-on-gabapentinoid", "switch rather than add a second gabapentinoid", PDPN,
      factors={"concurrent_gabapentinoid": True},
      needs_override={"pregabalin", "gabapentin", "tramadol", "strong_opioid"}),
    s("tn-hyponatraemia", "carbamazepine/oxcarbazepine cause SIADH (Berghuis 2017)", TN,
      factors={"hyponatraemia": True, "age": 80, "concurrent_ssri": True},
      needs_override=CBZ_OXC),
    s("pdpn-seed-era", "seed review era figures keep their order; safety gates still apply",
      PDPN, factors={"maoi_use": True}, evidence_set="seed_era",
      excluded={"tca", "duloxetine", "venlafaxine", "ssri", "tramadol", "carbamazepine"}),
    # --- sciatica (NICE NG59; PRECISE)
    s("sciatica", "NICE NG59: no gabapentinoids, antiepileptics or opioids for sciatica",
      SCIATICA, not_recommended=ANTIEPILEPTICS | OPIOIDS, first=FIRST_LINE),
    s("sciatica-override", "NICE NG59, overridden by the clinician", SCIATICA,
      overrides=("pregabalin",), overridden={"pregabalin"},
      not_recommended=ANTIEPILEPTICS - {"pregabalin"} | OPIOIDS),
    s("sciatica-age-70", "AGS Beers 2023 with NICE NG59", SCIATICA, factors={"age": 70},
      needs_override={"tca"}, first={"duloxetine", "venlafaxine"},
      not_recommended=ANTIEPILEPTICS | OPIOIDS),
    s("sciatica-hla", "CPIC 2017 outranks nothing: carbamazepine excluded outright", SCIATICA,
      factors={"hla_b1502": True}, excluded=CBZ_OXC),
    # --- central pain (seed review; NeuPSIG 2015; CanPain SCI 2021)
    s("cpsp", "seed review: amitriptyline first in post-stroke pain", CPSP, first={"tca"},
      insufficient={"lamotrigine"}),
    s("cpsp-recent-mi", "amitriptyline label: not after a recent myocardial infarction", CPSP,
      factors={"recent_myocardial_infarction": True}, excluded={"tca"},
      not_ranked={"lamotrigine"}, first=FIRST_LINE - {"tca"}),
    s("sci", "CanPain SCI 2021: pregabalin or gabapentin first, amitriptyline the alternative",
      SCI, first={"pregabalin", "gabapentin", "tca"},
      not_recommended={"duloxetine", "venlafaxine"}),
    s("sci-copd", "FDA 2019: gabapentinoids and reduced respiratory reserve", SCI,
      factors={"respiratory_disease": True},
      needs_override={"pregabalin", "gabapentin", "tramadol", "strong_opioid"}, first={"tca"}),
    s("ms", "NeuPSIG 2015 first line in central pain", MS, first=FIRST_LINE,
      not_ranked=TOPICALS),
    # --- pain that is most likely not neuropathic
    s("fibromyalgia", "EULAR 2016: no strong opioids; exercise first", FIBRO,
      not_recommended={"strong_opioid"}, not_neuropathic=True,
      first={"tca", "duloxetine", "pregabalin"}),
    s("knee-oa", "AAOS 2021 / OARSI 2019: no oral opioids incl. tramadol", KNEE_OA,
      not_recommended=OPIOIDS, not_neuropathic=True),
    s("low-back-pain", "NICE NG59: no antidepressants, anticonvulsants or opioids for LBP", LBP,
      not_ranked=ANTIEPILEPTICS | OPIOIDS | {"tca", "duloxetine", "venlafaxine", "ssri"},
      not_neuropathic=True),
    # --- chemotherapy-induced polyneuropathy (ASCO 2020) and CRPS type I
    s("cipn", "ASCO 2020: duloxetine may be offered; no other agent recommended", CIPN,
      first={"duloxetine"},
      insufficient={"tca", "gabapentin", "pregabalin", "venlafaxine", "tramadol",
                    "strong_opioid", "lamotrigine"}),
    s("crps-type-1", "CRPS I has no nerve lesion: not a neuropathic-pain drug list", CRPS1,
      not_neuropathic=True),
    # --- localized peripheral pain after surgery
    s("scar-neuroma", "seed review: topical lidocaine for localized pain with allodynia", SCAR,
      top3_any=TOPICALS),
    s("scar-broken-skin", "patch labels: not on broken skin", SCAR,
      factors={"non_intact_skin": True}, top3_any=FIRST_LINE),
]  # fmt: skip


def ranked_ids(ranking) -> list[str]:
    return [t.id for t in ranking.ranked]


def run(sc: Scenario):
    options = {"n_samples": 400}
    if sc.evidence_set:
        options["evidence_set"] = sc.evidence_set
    return recommend_treatments(
        MODEL, sc.findings, patient_factors=sc.factors, overrides=sc.overrides, **options
    )


def test_there_are_at_least_forty_scenarios_each_with_its_guideline() -> None:
    assert len(SCENARIOS) >= 40
    assert len({sc.id for sc in SCENARIOS}) == len(SCENARIOS)
    assert all(sc.guideline for sc in SCENARIOS)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda sc: sc.id)
def test_scenario(sc: Scenario) -> None:
    ranking = run(sc)
    ranked = ranked_ids(ranking)
    by_id = {t.id: t for t in ranking.ranked}
    factors = parse_patient_factors(sc.factors, RULES.factors)
    fired = {d: [r for r in RULES.rules if d in r.drugs and r.fires(factors)]
             for d in EVIDENCE.drugs}  # fmt: skip

    # Safety invariants, for every patient.
    absolute = {d for d, rules in fired.items() if any(r.severity == "absolute" for r in rules)}
    assert absolute.isdisjoint(ranked), sc.guideline
    assert absolute == {t.id for t in ranking.excluded}
    strong = {
        d for d, rules in fired.items() if any(r.severity == "strong_relative" for r in rules)
    }
    for position, t in enumerate(ranking.ranked):
        if t.id in strong and t.id not in sc.overrides:
            assert t.needs_override
            # Nothing without such a flag comes after it.
            assert all(u.needs_override for u in ranking.ranked[position:]), t.id
    if ranking.ranked and ranking.ranked[0].id in strong:
        assert ranking.ranked[0].id in sc.overrides or all(t.needs_override for t in ranking.ranked)
    if ranking.tiered and not sc.factors and not sc.overrides:
        # No third-line drug above a first-line one, whatever their net benefits.
        lines = [t.order_line for t in ranking.ranked]
        for i, line_a in enumerate(lines):
            assert not (line_a >= 3 and 1 in lines[i + 1 :]), ranked
    listed = ranked + [t.id for t in ranking.excluded + ranking.not_indicated
                       + ranking.not_recommended + ranking.insufficient_evidence]  # fmt: skip
    assert sorted(listed) == sorted(EVIDENCE.drugs)

    # What this scenario's guideline or label says.
    if sc.first:
        assert ranked[0] in sc.first, (sc.guideline, ranked)
    if sc.top3_any:
        assert sc.top3_any & set(ranked[:3]), (sc.guideline, ranked)
    assert sc.not_ranked.isdisjoint(ranked), sc.guideline
    assert sc.excluded <= {t.id for t in ranking.excluded}, sc.guideline
    for drug in sc.needs_override:
        assert drug not in by_id or by_id[drug].needs_override, drug
        assert drug in by_id or drug not in ranked
    assert {d for d in sc.needs_override if d in by_id} or not sc.needs_override
    for drug in sc.overridden:
        assert by_id[drug].overridden
        assert not by_id[drug].needs_override
        assert "overridden by the clinician" in by_id[drug].why
    assert sc.not_recommended <= {t.id for t in ranking.not_recommended}, sc.guideline
    assert sc.not_recommended.isdisjoint(ranked)
    assert sc.insufficient <= {t.id for t in ranking.insufficient_evidence}, sc.guideline
    assert ranking.most_likely_not_neuropathic == sc.not_neuropathic
    if sc.not_neuropathic:
        assert ranking.scope_notes
    if sc.evidence_set == "seed_era":
        assert not ranking.tiered


def test_sciatica_lists_no_antiepileptic_or_opioid_as_recommended() -> None:
    ranking = recommend_treatments(MODEL, SCIATICA, n_samples=400)
    assert (ANTIEPILEPTICS | OPIOIDS).isdisjoint(ranked_ids(ranking))
    reasons = {t.id: " ".join(t.reasons) for t in ranking.not_recommended}
    assert all("NICE NG59" in reasons[d] for d in ANTIEPILEPTICS | OPIOIDS)


def test_trigeminal_neuralgia_prompts_mri_and_surgery() -> None:
    ranking = recommend_treatments(MODEL, TN, n_samples=400)
    text = " ".join(q.text for q in ranking.prompts)
    assert "MRI" in text
    assert "microvascular decompression" in text
    assert all(q.source and q.tag for q in ranking.prompts)


def test_strong_opioids_never_lead_a_neuropathic_condition_without_factors() -> None:
    for findings in (TN, PHN, PDPN, CPSP, SCI, MS, SCIATICA):
        ranking = recommend_treatments(MODEL, findings, n_samples=400)
        ranked = ranked_ids(ranking)
        first_line = [d for d in ranked if by_line(ranking, d) == 1]
        if "strong_opioid" in ranked and first_line:
            assert ranked.index("strong_opioid") > ranked.index(first_line[0])


def by_line(ranking, drug_id: str) -> int:
    return next(t.order_line for t in ranking.ranked if t.id == drug_id)


def test_duloxetine_and_venlafaxine_share_their_draws() -> None:
    # Same pooled SNRI evidence: P(best) is not split between them by independent noise.
    ranking = recommend_treatments(MODEL, PDPN, n_samples=2000)
    by_id = {t.id: t for t in ranking.ranked}
    d, v = by_id["duloxetine"], by_id["venlafaxine"]
    assert d.nnt == v.nnt
    assert d.nnh == v.nnh
    # Their nets differ only through the non-neuropathic effect: nearly the same interval.
    assert d.net_benefit_interval == pytest.approx(v.net_benefit_interval, abs=0.02)


def test_an_override_against_the_guideline_ranks_after_the_guidelines_options() -> None:
    # Overriding NICE NG59 for gabapentin in sciatica ranks it, never as a first choice,
    # after every drug the guideline leaves open (even those with a lower net benefit).
    ranking = recommend_treatments(MODEL, SCIATICA, overrides=["gabapentin"], n_samples=400)
    ranked = ranked_ids(ranking)
    gabapentin = next(t for t in ranking.ranked if t.id == "gabapentin")
    assert gabapentin.overridden
    assert gabapentin.first_choice is None
    assert ranked[-1] == "gabapentin"
    assert "NICE NG59" in gabapentin.line_label
    assert "overridden by the clinician despite: NICE NG59" in gabapentin.why
