"""``npprob treat`` and the treatment list of ``npprob diagnose``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npprob.cli import main
from npprob.decision import recommend_treatments
from npprob.diagnosis import load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PHN = EXAMPLES / "postherpetic_neuralgia.json"
CARDIAC = EXAMPLES / "postherpetic_neuralgia_older_cardiac.json"


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_treat_json_equals_the_python_api(capsys) -> None:
    status, out, _ = run(capsys, "treat", str(CARDIAC), "--json", "--seed", "4")
    assert status == 0
    got = json.loads(out)["treatments"]
    record = json.loads(CARDIAC.read_text())
    expected = recommend_treatments(load_model(), record, seed=4).to_dict()
    assert got == json.loads(json.dumps(expected))
    assert "tca" in {t["id"] for t in got["excluded"]}
    ranked = got["ranked"][0]
    for key in ("expected_net_benefit", "net_benefit_interval", "p_best", "sucra", "line",
                "flags", "first_choice", "nnt", "nnh"):  # fmt: skip
        assert key in ranked


def test_diagnose_json_has_the_treatments_key(capsys) -> None:
    status, out, _ = run(capsys, "diagnose", str(PHN), "--json", "--harm-weight", "2",
                         "--evidence", "seed_era")  # fmt: skip
    assert status == 0
    d = json.loads(out)
    assert d["treatments"]["harm_weight"] == 2.0
    assert d["treatments"]["evidence_set"] == "seed_era"
    assert d["treatments"]["p_neuropathic"] == pytest.approx(d["p_neuropathic"])
    status, out, _ = run(capsys, "diagnose", str(PHN), "--json", "--no-treatments")
    assert "treatments" not in json.loads(out)


def test_text_output_lists_ranked_and_excluded(capsys) -> None:
    status, out, _ = run(capsys, "diagnose", str(CARDIAC))
    assert status == 0
    assert "P(neuropathic pain component)" in out
    assert "Order: absolute contraindications" in out
    assert "No patient factors given" not in out
    assert "Excluded (absolute contraindication; never given):" in out
    assert "Amitriptyline or nortriptyline (TCA): Cardiac conduction disorder" in out
    assert "research tool, not a medical device" in out
    status, out, _ = run(capsys, "treat", str(PHN))
    assert "No patient factors given: contraindications were not checked" in out
    status, out, _ = run(capsys, "treat", str(PHN), "--factor", "maoi_use=true")
    assert status == 0
    assert "P(neuropathic pain component)" not in out
    assert "Duloxetine (SNRI): MAOI" in out  # excluded with its reason
    assert "research tool, not a medical device" in out


def test_factor_flags_override_the_record(capsys) -> None:
    _, out, _ = run(capsys, "treat", str(CARDIAC), "--json", "--factor",
                    "cardiac_conduction_disorder=false")  # fmt: skip
    ranked = {t["id"] for t in json.loads(out)["treatments"]["ranked"]}
    assert "tca" in ranked


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--factor", "heart_blok=true"], "unknown patient factor 'heart_blok'"),
        (["--factor", "age=old"], "'age' must be a whole number"),
        (["--factor", "age=200"], "outside 0-120 years"),
        (["--factor", "age"], "--factor expects NAME=VALUE"),
        (["--harm-weight", "-1"], "--harm-weight must be at least 0"),
        (["--evidence", "nice"], "--evidence must be neupsig_2015 or seed_era; got 'nice'"),
    ],
)
def test_bad_treatment_input_is_one_line(capsys, args, phrase) -> None:
    status, out, err = run(capsys, "treat", str(PHN), *args)
    assert status == 2
    assert out == ""
    assert phrase in err
    assert err.count("\n") == 1


def test_bad_patient_factors_in_the_record(tmp_path, capsys) -> None:
    record = json.loads(PHN.read_text())
    record["patient_factors"] = {"pregnancy": "maybe"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(record))
    status, _, err = run(capsys, "diagnose", str(path))
    assert status == 2
    assert "'pregnancy' must be true, false or null" in err
    record["patient_factors"] = [1]
    path.write_text(json.dumps(record))
    status, _, err = run(capsys, "treat", str(path), "--factor", "age=3")
    assert status == 2
    assert "must be an object" in err


def test_treat_refuses_a_cohort(tmp_path, capsys) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,burning\n1,present\n")
    status, _, err = run(capsys, "treat", str(path))
    assert status == 2
    assert "one patient" in err


def test_treatment_options_with_a_cohort_or_without_treatments(tmp_path, capsys) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,burning\n1,present\n")
    status, _, err = run(capsys, "diagnose", str(path), "--harm-weight", "2")
    assert status == 2
    assert "--harm-weight: treatment options apply to one patient" in err
    status, _, err = run(capsys, "diagnose", str(PHN), "--no-treatments", "--factor", "bogus=1")
    assert status == 2
    assert "unknown patient factor 'bogus'" in err
