"""Properties the shipped clinical network (``models/network.toml``) must have.

Every number is computed here from the loaded network, with the exact engine
or by forward sampling; the windows are the design requirements (and, for the
DN4, the published figures of ``diagnosis.md``), never outputs of the network.
"""

from __future__ import annotations

import tomllib
from collections import Counter

import numpy as np
import pytest

from npprob.inference.engine import Engine
from npprob.io.resources import clinical_spec_path
from npprob.network.sampling import forward_sample
from npprob.network.spec import TAGS, ClinicalSpec, load_spec

#: Seed of the forward-sampled cohort (fixed so the DN4 figures reproduce).
COHORT_SEED = 20250611
COHORT_SIZE = 100_000
#: Seed of the prior draws used for the structural-zero checks.
DRAWS_SEED = 7
N_DRAWS = 200

AETIOLOGIES = (
    # seed review, Table 1: peripheral
    "polyneuropathy_diabetic",
    "polyneuropathy_other",
    "herpes_zoster",
    "nerve_injury_surgery",
    "amputation",
    "plexus_injury",
    "root_compression",
    "root_avulsion",
    "neoplasm_peripheral",
    "trigeminal_neuralgia",
    # seed review, Table 1: central
    "stroke",
    "multiple_sclerosis",
    "spinal_cord_injury",
    "arachnoiditis",
    "neoplasm_central",
    "syringomyelia",
    # non-neural causes and unknown
    "osteoarthritis",
    "inflammatory_arthritis",
    "axial_low_back_pain",
    "post_surgical_no_nerve_injury",
    "widespread_pain",
    "unknown",
)
MECHANISMS = ("peripheral_sensitisation", "ectopic_activity", "central_sensitisation")
BEDSIDE_SIGNS = (
    "brush_allodynia",
    "punctate_allodynia",
    "cold_allodynia",
    "pinprick_hyperalgesia",
    "temporal_summation",
    "after_sensation",
    "hypoaesthesia_touch",
    "hypoaesthesia_pinprick",
)
DN4_INTERVIEW = (
    "burning",
    "painful_cold",
    "electric_shocks",
    "tingling",
    "pins_and_needles",
    "numbness",
    "itching",
)
DN4_EXAMINATION = ("hypoaesthesia_touch", "hypoaesthesia_pinprick", "brush_allodynia")
TISSUE_DAMAGE_SIGNS = ("swelling", "redness", "heat", "pain_on_movement", "local_tenderness")
BINARY_PRESENT = (
    "lesion",
    "neuropathic",
    "nociceptive",
    "nociplastic",
    "mixed_pain",
    "sensory_loss",
    *MECHANISMS,
    *BEDSIDE_SIGNS,
    *DN4_INTERVIEW,
    "paroxysmal_pain",
    "pain_on_light_touch",
    *TISSUE_DAMAGE_SIGNS,
)
OTHER_VARIABLES = ("aetiology", "time_since_lesion", "distribution_plausible", "confirmatory_test")


@pytest.fixture(scope="module")
def spec() -> ClinicalSpec:
    return load_spec(clinical_spec_path())


@pytest.fixture(scope="module")
def engine(spec) -> Engine:
    return Engine(spec.network)


@pytest.fixture(scope="module")
def draws(spec) -> dict[str, np.ndarray]:
    return spec.prior_draws(N_DRAWS, seed=DRAWS_SEED)


@pytest.fixture(scope="module")
def cohort(spec) -> np.ndarray:
    return forward_sample(spec.network, COHORT_SIZE, COHORT_SEED)


#: The population npprob diagnoses: people in chronic pain.
IN_PAIN = {"chronic_pain": "present"}


def prob(engine: Engine, evidence: dict[str, str], target: str, state: str = "present") -> float:
    """P(target = state | evidence) under the network's means."""
    var = engine.network.variable(target)
    result = engine.query(evidence, [target])
    return float(result.marginal(target)[0, 0, var.states.index(state)])


def column(spec: ClinicalSpec, codes: np.ndarray, name: str, state: str = "present") -> np.ndarray:
    """Boolean column ``name == state`` of forward-sampled codes."""
    net = spec.network
    return codes[:, net.index(name)] == net.variable(name).states.index(state)


# -- structure and provenance ----------------------------------------------------------


def test_loads(spec):
    assert len(spec.network) > 0
    assert clinical_spec_path().is_file()
    assert len(spec.digest) == 64


def test_required_variables(spec):
    net = spec.network
    required = {*BINARY_PRESENT, *OTHER_VARIABLES}
    missing = sorted(required - set(net.names))
    assert not missing, f"variables missing from the clinical network: {missing}"
    for name in BINARY_PRESENT:
        assert net.variable(name).states == ("absent", "present"), name
    assert len(set(DN4_INTERVIEW)) == 7
    assert len(set(BEDSIDE_SIGNS)) == 8
    assert len(set(TISSUE_DAMAGE_SIGNS)) == 5


def test_aetiology_states(spec):
    states = spec.network.variable("aetiology").states
    missing = [a for a in AETIOLOGIES if a not in states]
    assert not missing, f"aetiology states missing: {missing}"


def test_every_source_entry_is_valid(spec):
    assert spec.sources
    for s in spec.sources:
        assert isinstance(s.source, str), s
        assert s.source.strip(), s
        assert s.tag in TAGS, s
        if s.tag == "S" or s.source.lower() == "default":
            assert s.reason.strip(), s


def test_every_learnable_cpt_has_a_source(spec):
    have = {s.variable for s in spec.sources}
    learnable = [n for n in spec.network.names if n not in spec.fixed]
    assert learnable
    missing = [n for n in learnable if n not in have]
    assert not missing, f"CPTs without any source: {missing}"
    assert set(spec.concentration) == set(learnable)


def test_every_row_and_cause_has_its_own_source(spec):
    """One source per table row, per noisy-OR leak and cause, per definition (raw TOML)."""
    raw = tomllib.loads(clinical_spec_path().read_text(encoding="utf-8"))["cpts"]
    counts = Counter(s.variable for s in spec.sources)
    for name, body in raw.items():
        kind = body.get("kind", "table")
        if kind == "table":
            expected = len(body["rows"])
        elif kind == "noisy_or":
            expected = 1 + len(body["causes"])
        else:
            expected = 1
        assert counts[name] == expected, (name, counts[name], expected)


def test_mixed_pain_is_fixed(spec):
    assert "mixed_pain" in spec.fixed
    assert set(spec.network.parents("mixed_pain")) == {"neuropathic", "nociceptive"}


# -- no neuropathic pain without a lesion ----------------------------------------------


def _neuropathic_given_no_lesion(spec: ClinicalSpec, table: np.ndarray) -> np.ndarray:
    """P(neuropathic = present | lesion = absent, other parents) from a (stacked) CPT."""
    net = spec.network
    parents = net.parents("neuropathic")
    axis = parents.index("lesion")
    lead = table.ndim - len(parents) - 1  # 1 for stacked draws
    absent = net.variable("lesion").states.index("absent")
    present = net.variable("neuropathic").states.index("present")
    return np.take(table[..., present], absent, axis=lead + axis)


def test_no_neuropathic_pain_without_lesion_in_means(spec, engine):
    values = _neuropathic_given_no_lesion(spec, spec.network.cpt("neuropathic"))
    assert values.size > 0
    assert np.all(values == 0.0), values
    # marginally and for every aetiology, through the engine
    assert prob(engine, {"lesion": "absent"}, "neuropathic") == 0.0
    patients = [{"aetiology": a, "lesion": "absent"} for a in AETIOLOGIES]
    result = engine.query(patients, ["neuropathic", "mixed_pain"])
    assert np.all(result.marginal("neuropathic")[..., 1] == 0.0)
    assert np.all(result.marginal("mixed_pain")[..., 1] == 0.0)


def test_no_neuropathic_pain_without_lesion_in_prior_draws(spec, engine, draws):
    values = _neuropathic_given_no_lesion(spec, draws["neuropathic"])
    assert values.shape[0] == N_DRAWS
    assert np.all(values == 0.0), values.max()
    drawn = engine.with_parameters(draws)
    result = drawn.query({"lesion": "absent"}, ["neuropathic"])
    assert result.n_draws == N_DRAWS
    assert np.all(result.marginal("neuropathic")[..., 1] == 0.0)


# -- aetiology-specific risks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("aetiology", "low", "high"),
    [
        ("stroke", 0.05, 0.10),
        ("multiple_sclerosis", 0.25, 0.30),
        ("spinal_cord_injury", 0.40, 0.60),
    ],
)
def test_aetiology_specific_risk(engine, aetiology, low, high):
    p = prob(engine, {"aetiology": aetiology, "lesion": "present"}, "neuropathic")
    assert low <= p <= high, f"P(neuropathic | {aetiology}, lesion) = {p:.4f}"


# -- signs and symptoms: discrimination ------------------------------------------------


def test_allodynia_more_common_but_not_specific(engine):
    # Likelihood ratios among people in chronic pain, the population diagnosed.
    # "More common" is at least 1.8: brush allodynia is as frequent in fibromyalgia
    # (about 15 %, Berwick 2022) as in painful diabetic neuropathy (15-18 %,
    # Themistocleous 2016; Baron 2009; Koroschetz 2011), and sensitisation is found
    # in about 30 % of knee osteoarthritis (Sachau 2022), so a clinic mix with
    # nociplastic conditions (CRPS I, widespread pain) keeps the ratio near 2.
    # "Not specific" is at most 6.
    given_np = prob(engine, {**IN_PAIN, "neuropathic": "present"}, "brush_allodynia")
    given_not = prob(engine, {**IN_PAIN, "neuropathic": "absent"}, "brush_allodynia")
    assert given_np > given_not > 0, (given_np, given_not)
    lr = given_np / given_not
    assert 1.8 <= lr <= 6, f"brush allodynia LR = {given_np:.4f} / {given_not:.4f} = {lr:.3f}"


@pytest.mark.parametrize("item", DN4_INTERVIEW)
def test_dn4_interview_item_likelihood_ratio(engine, item):
    given_np = prob(engine, {**IN_PAIN, "neuropathic": "present"}, item)
    given_not = prob(engine, {**IN_PAIN, "neuropathic": "absent"}, item)
    assert given_not > 0
    lr = given_np / given_not
    assert 1.5 <= lr <= 4, f"{item}: LR = {given_np:.4f} / {given_not:.4f} = {lr:.3f}"


def test_dn4_accuracy_matches_consecutive_clinic(spec, cohort):
    """DN4 >= 4/10 on a forward-sampled consecutive clinic.

    Window: sensitivity in [0.70, 0.87], specificity in [0.70, 0.85]: the
    consecutive chronic-pain clinic figures of diagnosis.md section (a) with a
    5-point margin: Timmerman 2017 (consecutive chronic pain, n=228) 75 / 76,
    van Seventer 2013 (Dutch) 75 / 79, Madani 2025 systematic review pooled
    82 / 76. The DN4 score counts the 7 interview items plus hypoaesthesia to
    touch, hypoaesthesia to pinprick and brush allodynia; the reference is the
    sampled neuropathic state. Only sampled people in chronic pain count (a
    clinic sees patients in pain).
    """
    cohort = cohort[column(spec, cohort, "chronic_pain")]
    score = sum(
        column(spec, cohort, item).astype(np.int64) for item in DN4_INTERVIEW + DN4_EXAMINATION
    )
    assert score.max() <= 10
    positive = score >= 4
    neuropathic = column(spec, cohort, "neuropathic")
    assert 1000 < neuropathic.sum() < len(cohort) - 1000
    sensitivity = positive[neuropathic].mean()
    specificity = (~positive[~neuropathic]).mean()
    assert 0.70 <= sensitivity <= 0.87, f"sensitivity {sensitivity:.4f}"
    assert 0.70 <= specificity <= 0.85, f"specificity {specificity:.4f}"


# -- the osteoarthritis mimic ----------------------------------------------------------


def _p_nociplastic_or_sensitised(engine: Engine, evidence: dict[str, str]) -> float:
    """P(nociplastic or central sensitisation | evidence), by the chain rule.

    P(neither) = P(nociplastic=absent | e) * P(central=absent | e, nociplastic=absent).
    """
    no_nociplastic = prob(engine, evidence, "nociplastic", "absent")
    no_central = prob(
        engine, {**evidence, "nociplastic": "absent"}, "central_sensitisation", "absent"
    )
    return 1.0 - no_nociplastic * no_central


def test_osteoarthritis_mimic_is_not_called_neuropathic(engine):
    base = {
        **IN_PAIN,
        "aetiology": "osteoarthritis",
        "pain_on_movement": "present",
        "local_tenderness": "present",
    }
    mimic = {**base, "brush_allodynia": "present", "pinprick_hyperalgesia": "present"}
    p_np = prob(engine, mimic, "neuropathic")
    assert p_np < 0.15, f"P(neuropathic | OA mimic) = {p_np:.4f}"
    either_mimic = _p_nociplastic_or_sensitised(engine, mimic)
    either_base = _p_nociplastic_or_sensitised(engine, base)
    assert either_mimic > either_base, (either_mimic, either_base)
    # the event's probability is at least each of its parts
    assert either_mimic >= prob(engine, mimic, "nociplastic") - 1e-12
    assert either_mimic >= prob(engine, mimic, "central_sensitisation") - 1e-12


# -- mixed pain ------------------------------------------------------------------------


def test_mixed_pain_is_neuropathic_and_nociceptive(spec, engine, cohort):
    mixed = column(spec, cohort, "mixed_pain")
    both = column(spec, cohort, "neuropathic") & column(spec, cohort, "nociceptive")
    np.testing.assert_array_equal(mixed, both)
    p_mixed = prob(engine, {}, "mixed_pain")
    # brute force from the samples, within 5 standard errors
    se = np.sqrt(p_mixed * (1 - p_mixed) / COHORT_SIZE)
    assert abs(both.mean() - p_mixed) <= 5 * se, (both.mean(), p_mixed, se)
    # exactly, by the chain rule: P(np, noci) = P(np) * P(noci | np)
    p_both = prob(engine, {}, "neuropathic") * prob(
        engine, {"neuropathic": "present"}, "nociceptive"
    )
    assert p_mixed == pytest.approx(p_both, rel=1e-12, abs=1e-15)


def test_no_mixed_pain_without_neuropathic_pain(engine, draws):
    assert prob(engine, {"neuropathic": "absent"}, "mixed_pain") == 0.0
    assert prob(engine, {"nociceptive": "absent"}, "mixed_pain") == 0.0
    both = {"neuropathic": "present", "nociceptive": "present"}
    assert prob(engine, both, "mixed_pain") == pytest.approx(1.0, rel=0, abs=1e-12)
    result = engine.with_parameters(draws).query({"neuropathic": "absent"}, ["mixed_pain"])
    assert np.all(result.marginal("mixed_pain")[..., 1] == 0.0)
