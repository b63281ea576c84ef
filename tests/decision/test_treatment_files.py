"""The shipped treatment and contraindication files, and clear errors on broken ones."""

from __future__ import annotations

import tomllib

import pytest

from npprob.decision import load_contraindications, load_treatments
from npprob.decision.treatments import SEVERITIES
from npprob.diagnosis import load_model
from npprob.errors import ModelFileError

EVIDENCE = load_treatments()
RULES = load_contraindications(EVIDENCE.drugs)
ISSUE_DRUGS = {
    "tca", "duloxetine", "venlafaxine", "ssri", "pregabalin", "gabapentin", "tramadol",
    "strong_opioid", "carbamazepine", "oxcarbazepine", "lamotrigine", "lidocaine_topical",
    "capsaicin_8pct", "botulinum_toxin_a",
}  # fmt: skip


def test_every_drug_has_both_evidence_sets_with_sources() -> None:
    assert set(EVIDENCE.drugs) == ISSUE_DRUGS
    assert EVIDENCE.default_evidence == "neupsig_2015"
    assert set(EVIDENCE.evidence_sets) == {"neupsig_2015", "seed_era"}
    for drug in EVIDENCE.drugs.values():
        for name in EVIDENCE.evidence_sets:
            for effect in (drug.nnt[name], drug.nnh[name]):
                low, high = effect.interval
                assert 1 <= low <= effect.point <= high
                assert effect.source
                assert effect.tag in ("F", "R", "D")
        assert drug.non_neuropathic_nnt.point >= 1


def test_published_headline_values() -> None:
    # NeuPSIG 2015 (Finnerup 2015 Lancet Neurol 14:162) pooled NNTs.
    nnt = {d: EVIDENCE.drugs[d].nnt["neupsig_2015"] for d in ("tca", "pregabalin", "gabapentin")}
    assert (nnt["tca"].point, nnt["tca"].interval) == (3.6, (3.0, 4.4))
    assert nnt["pregabalin"].point == 7.7
    # The seed era is more optimistic for the classes the seed names.
    for drug in ("tca", "duloxetine", "pregabalin", "gabapentin", "strong_opioid"):
        d = EVIDENCE.drugs[drug]
        assert d.nnt["seed_era"].point < d.nnt["neupsig_2015"].point


def test_condition_specific_first_choices() -> None:
    for evidence_set in EVIDENCE.evidence_sets:
        carbamazepine = EVIDENCE.drugs["carbamazepine"].condition(
            "trigeminal_neuralgia", evidence_set
        )
        assert carbamazepine is not None
        assert carbamazepine.first_choice
        stroke = {d for d, drug in EVIDENCE.drugs.items()
                  if (c := drug.condition("stroke", evidence_set)) is not None
                  and c.first_choice}  # fmt: skip
        # Lamotrigine (one 30-patient trial; NeuPSIG 2015 inconclusive) only in the seed era.
        assert stroke == ({"tca", "lamotrigine"} if evidence_set == "seed_era" else {"tca"})
    # Pre-2015 condition values (polyneuropathy, PHN) belong to the seed era only.
    assert (
        EVIDENCE.drugs["carbamazepine"].condition("polyneuropathy_diabetic", "neupsig_2015") is None
    )
    assert EVIDENCE.drugs["carbamazepine"].condition("polyneuropathy_diabetic", "seed_era")
    assert EVIDENCE.first_choice["peripheral_localized"]["drugs"][0] == "lidocaine_topical"


def test_aetiologies_and_context_findings_exist_in_the_network() -> None:
    net = load_model("prior").network
    states = set(net.variable("aetiology").states)
    for drug in EVIDENCE.drugs.values():
        for c in drug.conditions:
            assert set(c.aetiology) <= states
    for ctx in EVIDENCE.contexts.values():
        assert set(ctx["focal_aetiology"]) | set(ctx["peripheral_aetiology"]) <= states
        assert all(f in net for f in ctx["allodynia"])
        assert ctx["localized_factor"] in RULES.factors


def test_required_contraindications_are_present() -> None:
    pairs = {(d, r.factor, r.severity) for r in RULES.rules for d in r.drugs}
    for needed in [
        ("tca", "cardiac_conduction_disorder", "absolute"),
        ("tca", "heart_block", "absolute"),
        ("tca", "recent_myocardial_infarction", "absolute"),
        ("tca", "maoi_use", "absolute"),
        ("carbamazepine", "hla_b1502", None),
        ("lamotrigine", "prior_serious_rash", None),
        ("tramadol", "concurrent_ssri", None),
        ("strong_opioid", "substance_use_disorder", None),
        ("pregabalin", "renal_impairment", None),
        ("duloxetine", "hepatic_impairment", None),
    ]:
        drug, factor, severity = needed
        found = {s for d, f, s in pairs if d == drug and f == factor}
        assert found, needed
        if severity:
            assert severity in found
    assert set(RULES.severity) == set(SEVERITIES)
    assert RULES.severity["strong_relative"]["harm_multiplier"] > 1


def _broken(tmp_path, text: str, name: str = "treatments.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_broken_treatment_files_are_refused(tmp_path) -> None:
    source = EVIDENCE.path.read_text()
    with pytest.raises(ModelFileError, match="invalid TOML"):
        load_treatments(_broken(tmp_path, source + "\n[drugs.x\n"))
    data = tomllib.loads(source)
    assert data["drugs"]["tca"]["evidence"]["neupsig_2015"]["nnt"] == 3.6
    bad = source.replace("nnt = 3.6\nnnt_ci = [3.0, 4.4]", "nnt = 3.6\nnnt_ci = [3.8, 4.4]", 1)
    with pytest.raises(ModelFileError, match=r"drug 'tca'.*lower <= nnt <= upper"):
        load_treatments(_broken(tmp_path, bad))
    without = source.replace("[drugs.tca.evidence.seed_era]", "[drugs.tca.evidence.other]", 1)
    with pytest.raises(ModelFileError, match="no evidence set 'seed_era'"):
        load_treatments(_broken(tmp_path, without))
    with pytest.raises(ModelFileError, match="Cannot read"):
        load_treatments(tmp_path / "missing.toml")


def test_broken_contraindication_files_are_refused(tmp_path) -> None:
    source = RULES.path.read_text()
    bad = source.replace('drugs = ["tca"]', 'drugs = ["tricyclic"]', 1)
    with pytest.raises(ModelFileError, match=r"unknown or no drugs \['tricyclic'\]"):
        load_contraindications(EVIDENCE.drugs, _broken(tmp_path, bad, "c.toml"))
    bad = source.replace('severity = "absolute"\nreason', 'severity = "fatal"\nreason', 1)
    with pytest.raises(ModelFileError, match="severity must be one of"):
        load_contraindications(EVIDENCE.drugs, _broken(tmp_path, bad, "c.toml"))
    bad = source.replace('factor = "maoi_use"', 'factor = "maoi"', 1)
    with pytest.raises(ModelFileError, match="unknown factor 'maoi'"):
        load_contraindications(EVIDENCE.drugs, _broken(tmp_path, bad, "c.toml"))
