"""Bedside-tool scores: by hand, against the literature, and file errors."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.cohorts import load_settings, simulate
from npprob.errors import DataFileError
from npprob.evaluation.baselines import load_tools, score_all, tool_score
from npprob.io.resources import baselines_path, clinical_spec_path
from npprob.network.evidence import EvidenceBatch
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())
NET = SPEC.network
TOOLS = load_tools(NET)


def codes_of(record: dict) -> np.ndarray:
    return EvidenceBatch.from_records(NET, [record]).codes


def test_every_tool_is_loaded_with_its_source() -> None:
    assert set(TOOLS) == {"dn4", "dn4_interview", "lanss", "id_pain"}
    for tool in TOOLS.values():
        assert tool.source
        assert tool.tag in {"F", "F2", "R", "D", "S"}
        assert tool.tag not in {"S", "R"} or tool.reason


def test_scores_by_hand() -> None:
    record = {
        "aetiology": "osteoarthritis", "burning": "present", "tingling": "present",
        "pins_and_needles": "present", "numbness": "absent", "brush_allodynia": "present",
        "hypoaesthesia_pinprick": "present",
    }  # fmt: skip
    codes = codes_of(record)
    assert tool_score(TOOLS["dn4"], NET, codes)[0] == 5
    assert tool_score(TOOLS["dn4_interview"], NET, codes)[0] == 3
    # LANSS: dysaesthesia 5 (once for tingling or pins), thermal 1, allodynia 5, pinprick 3.
    assert tool_score(TOOLS["lanss"], NET, codes)[0] == 14
    # ID Pain: pins 1 + burning 1, joints only (osteoarthritis) -1.
    assert tool_score(TOOLS["id_pain"], NET, codes)[0] == 1
    # Nothing recorded scores 0 (an unticked box).
    assert tool_score(TOOLS["dn4"], NET, codes_of({"aetiology": "stroke"}))[0] == 0


def test_dn4_on_a_consecutive_clinic_matches_the_literature() -> None:
    from sklearn.metrics import roc_auc_score

    setting = load_settings(NET)["consecutive_pain_clinic"]
    cohort = simulate(SPEC, setting, 8000, 17)
    y = cohort.truth[:, NET.index("neuropathic")]
    scores = score_all(NET, cohort.recorded.codes, TOOLS)
    dn4, cutoff = scores["dn4"]
    # Timmerman 2017 / van Seventer 2013: AUC 0.81-0.82, sensitivity 75 %, specificity 76 %.
    assert 0.74 <= roc_auc_score(y, dn4) <= 0.88
    assert 0.65 <= np.mean(dn4[y == 1] >= cutoff) <= 0.85
    assert 0.65 <= np.mean(dn4[y == 0] < cutoff) <= 0.85
    assert set(scores) == {*TOOLS, "neupsig"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('any = ["burning"], points = 1 },\n  { any = ["painful_cold"]',
         'any = ["burnin"], points = 1 },\n  { any = ["painful_cold"]', "no two-state finding 'burnin'"),
        ('aetiology = ["osteoarthritis"', 'aetiology = ["arthrosis"', "unknown aetiology"),
        ('cutoff = 4\n', '', "missing"),
        ('cutoff = 4\n', 'cutoff = 0\n', "'cutoff' must be a finite number above 0"),
        ('cutoff = 4\n', 'cutoff = "four"\n', "'cutoff' must be a finite number above 0"),
        ('cutoff = 4\n', 'cutoff = inf\n', "'cutoff' must be a finite number above 0"),
        ('[tools.dn4]', '[tools.dn4', "invalid TOML"),
    ],
)  # fmt: skip
def test_bad_tool_files_are_refused(tmp_path, old, new, message) -> None:
    text = baselines_path().read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "tools.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataFileError, match=message):
        load_tools(NET, bad)
