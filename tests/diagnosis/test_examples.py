"""The shipped example patients get clinically sensible answers.

The ranges below come from each example's clinical reasoning (its "comment"),
not from the program's output: a failure means the model disagrees with the
clinical picture, which is a finding to report, not a number to re-tune here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npprob._text import probability_text
from npprob.diagnosis import load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
METADATA = ("id", "comment", "notes", "$schema", "patient_factors")


def check_postherpetic_neuralgia(d):
    # The seed's textbook neuropathic case: zoster, dermatomal pain, sensory loss and allodynia.
    assert d.p_neuropathic >= 0.70
    # History + distribution + sensory signs, but no confirmatory test: probable, not definite.
    assert d.neupsig.grade == "probable"


def check_painful_diabetic_polyneuropathy(d):
    # Diabetes, stocking distribution, sensory loss and a confirming nerve conduction study.
    assert d.p_neuropathic >= 0.70
    # Every NeuPSIG criterion is met, including the confirmatory test.
    assert d.neupsig.grade == "definite"


def check_central_post_stroke_pain(d):
    # CPSP is rare after stroke (~8%), but hemibody loss, allodynia and MRI make it likely.
    assert d.p_neuropathic >= 0.60
    # Signs in the distribution plus a confirming scan.
    assert d.neupsig.grade == "definite"


def check_trigeminal_neuralgia(d):
    # Classical trigeminal neuralgia is neuropathic by definition; the aetiology carries it.
    assert d.p_neuropathic >= 0.80
    # Triggered paroxysms in the trigeminal distribution: probable (Cruccu 2016); no imaging.
    assert d.neupsig.grade == "probable"


def check_lumbar_radiculopathy_mixed(d):
    # Radicular pain with dermatomal sensory loss and MRI root compression raises P(NP).
    assert d.p_neuropathic >= 0.50
    # Neuropathic radicular pain on top of nociceptive back pain: mixed pain is substantial.
    assert d.p_mixed >= 0.40
    # The back is painful on movement and tender: a nociceptive component is clear.
    assert d.p_nociceptive >= 0.70
    # Signs in the dermatome plus a confirming MRI.
    assert d.neupsig.grade == "definite"


def check_knee_osteoarthritis_allodynia(d):
    # Joint disease without a nerve lesion: allodynia alone must not make it neuropathic.
    assert d.p_neuropathic <= 0.15
    # The allodynia and hyperalgesia are explained by (joint-driven) central sensitisation.
    assert d.mechanisms["central_sensitisation"] >= 0.50
    # No relevant lesion, no plausible nerve territory.
    assert d.neupsig.grade == "unlikely"


def check_widespread_pain(d):
    # Shared descriptors without lesion history, territory or sensory loss: not neuropathic.
    assert d.p_neuropathic <= 0.10
    # Widespread pain with tenderness and temporal summation is a nociplastic picture.
    assert d.p_nociplastic >= 0.70
    # No relevant lesion, no plausible nerve territory.
    assert d.neupsig.grade == "unlikely"


def check_chemotherapy_induced_polyneuropathy(d):
    # Symmetric distal sensory loss after neurotoxic chemotherapy, confirmed by conduction studies.
    assert d.p_neuropathic >= 0.80
    # History, distribution, sensory signs and a confirmatory test: every criterion.
    assert d.neupsig.grade == "definite"


def check_fibromyalgia_dn4_positive(d):
    # A positive DN4 screen from shared descriptors is a mimic without lesion, territory or
    # sensory loss (Koroschetz 2011): the neuropathic probability stays low.
    from npprob.evaluation.baselines import load_tools, tool_score

    network = load_model("prior").network
    codes = load_model("prior").evidence(d.findings).codes
    dn4 = load_tools(network)["dn4"]
    assert tool_score(dn4, network, codes)[0] >= dn4.cutoff
    assert d.p_neuropathic <= 0.10
    assert d.p_nociplastic >= 0.70
    assert d.neupsig.grade == "unlikely"
    check_fibromyalgia_meets_iasp_criteria(d)


def check_fibromyalgia_meets_iasp_criteria(d):
    # The IASP 'probable' nociplastic picture (Kosek 2021): comorbidities and pain out of
    # proportion make the nociplastic component near-certain.
    assert d.p_nociplastic >= 0.90


def check_lumbar_radiculopathy_slr(d):
    # Root compression, pain in the dermatome, sensory loss and a reflex deficit there, a
    # positive straight-leg raise: radicular neuropathic pain is likely.
    assert d.p_neuropathic >= 0.80
    # History, distribution and sensory signs, no confirming test: probable.
    assert d.neupsig.grade == "probable"


def check_carpal_tunnel_syndrome(d):
    # Median-territory pain and sensory loss with slowed median conduction.
    assert d.p_neuropathic >= 0.80
    assert d.neupsig.grade == "definite"


def check_crps_type_1(d):
    # Complex regional pain syndrome without a nerve lesion is not neuropathic pain
    # (structural zero: no lesion, no neuropathic pain) but nociplastic (Kosek 2021).
    assert d.p_neuropathic <= 0.15
    assert d.p_nociplastic >= 0.70
    # No history of a lesion of the somatosensory system.
    assert d.neupsig.grade == "unlikely"


CHECKS = {
    "lumbar_radiculopathy_slr": check_lumbar_radiculopathy_slr,
    "carpal_tunnel_syndrome": check_carpal_tunnel_syndrome,
    "crps_type_1": check_crps_type_1,
    "chemotherapy_induced_polyneuropathy": check_chemotherapy_induced_polyneuropathy,
    "fibromyalgia_dn4_positive": check_fibromyalgia_dn4_positive,
    "postherpetic_neuralgia": check_postherpetic_neuralgia,
    "postherpetic_neuralgia_older_cardiac": check_postherpetic_neuralgia,
    "painful_diabetic_polyneuropathy": check_painful_diabetic_polyneuropathy,
    "central_post_stroke_pain": check_central_post_stroke_pain,
    "trigeminal_neuralgia": check_trigeminal_neuralgia,
    "lumbar_radiculopathy_mixed": check_lumbar_radiculopathy_mixed,
    "knee_osteoarthritis_allodynia": check_knee_osteoarthritis_allodynia,
    "widespread_pain": check_widespread_pain,
}


@pytest.fixture(scope="module", params=["default", "prior"])
def model(request):
    # The shipped trained model and the specification's prior must both be sensible.
    return load_model(request.param)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_at_least_seven_examples_each_with_a_check():
    assert len(EXAMPLE_FILES) >= 7
    assert set(CHECKS) <= {p.stem for p in EXAMPLE_FILES}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_is_clinically_sensible(model, path):
    record = load(path)
    comment = record.get("comment")
    assert isinstance(comment, str)
    assert comment.strip()
    findings = {k: v for k, v in record.items() if k not in METADATA}
    assert findings

    d = model.diagnose(record)

    low, high = d.credible_interval
    assert low <= d.p_neuropathic <= high
    # The interval is not degenerate where the clinician reads it: as printed.
    assert probability_text(low, ends=True) != probability_text(high, ends=True)
    assert d.explanation
    top = d.explanation[0]
    assert findings.get(top.finding) == top.state

    check = CHECKS.get(path.stem)
    if check is None:
        pytest.fail(f"no clinical range written for example {path.name}")
    check(d)
