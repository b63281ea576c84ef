"""The evidence section of an evaluation: read from the card, written as a table and a figure."""

from __future__ import annotations

import json

import pytest

from npprob.evaluation.evaluate import evidence_checks
from npprob.evaluation.report import evidence_markdown, write_report


def _row(ident, observed, predictive, lopo, outside=False, lopo_outside=False):
    return {"id": ident, "family": ident, "publication": "P " + ident, "observed": observed,
            "k": int(observed * 100), "n": 100, "implied_mean": observed, "implied_90": [0.1, 0.9],
            "predictive_90": predictive, "outside": outside, "lopo_90": lopo,
            "lopo_outside": lopo_outside, "lopo_pareto_k": 0.3}  # fmt: skip


CARD = {
    "likelihood": "evidence",
    "likelihood_details": {
        "n_statistics": 2,
        "n_publications": 2,
        "coverage_90": 0.5,
        "leave_one_publication_out": {
            "coverage_90": 0.5,
            "coverage_90_reliable_k": 0.5,
            "pareto_k_threshold": 0.7,
            "n_unreliable_publications": 0,
        },
        "statistics": [
            _row("a", 0.3, [0.2, 0.4], [0.1, 0.5]),
            _row("b", 0.9, [0.2, 0.5], [0.1, 0.6], outside=True, lopo_outside=True),
        ],
    },
}


def test_only_an_evidence_model_has_an_evidence_section():
    assert evidence_checks(None) is None
    assert evidence_checks({"likelihood": "latent-class", "likelihood_details": {}}) is None
    checks = evidence_checks(CARD)
    assert checks["coverage_90"] == 0.5
    assert [r["id"] for r in checks["statistics"]] == ["a", "b"]


def test_the_table_flags_what_falls_outside():
    lines = evidence_markdown(evidence_checks(CARD), [])
    (row_a,) = [line for line in lines if line.startswith("| a |")]
    (row_b,) = [line for line in lines if line.startswith("| b |")]
    assert "outside" not in row_a
    assert row_b.count("**outside**") == 2


def test_the_report_writes_the_evidence_figure(tmp_path):
    summary = {"model": {"name": "m"}, "cohorts": [], "evidence": evidence_checks(CARD)}
    written = write_report(summary, {}, {}, tmp_path, plots=True)
    names = {p.name for p in written}
    assert {"evidence_statistics.png", "evidence_statistics.svg"} <= names
    report = (tmp_path / "report.md").read_text()
    assert "Published statistics (evidence-synthesis model)" in report
    assert "evidence_statistics.png" in report
    assert json.loads((tmp_path / "evaluation.json").read_text())["evidence"]["coverage_90"] == 0.5


def _result(name, auc, *, generator="network", recorded=None, record=None):
    options = {"generator": generator}
    if record is not None:
        options["record"] = list(record)
    card = {"setting": {"name": "consecutive_pain_clinic"}, "options": options}
    if recorded is not None:
        card["recorded"] = list(recorded)
    methods = {"npprob": {"truth": {"auc": auc, "ece": 0.01}}}
    return {"cohort": name, "reference": "truth", "card": card, "methods": methods}


def test_misspecification_prefers_the_cohort_recording_the_same_findings():
    from npprob.evaluation.report import misspecification, targets_apply

    items = ["aetiology", "burning"]
    full = _result("full", 0.98)
    same = _result("same", 0.91, record=items)
    spoiled = _result("spoiled", 0.85, generator="latent-trait", recorded=items)
    (entry,) = misspecification([full, same, spoiled])
    assert entry["reference"] == "same"
    assert entry["same_findings"] is True
    assert entry["methods"]["npprob"]["delta_auc"] == pytest.approx(0.06)
    # Without it, the full cohort is the reference, and the entry says so.
    (entry,) = misspecification([full, spoiled])
    assert (entry["reference"], entry["same_findings"]) == ("full", False)
    # The acceptance targets are for cohorts recording every finding a clinic records.
    assert not targets_apply(same["card"])
