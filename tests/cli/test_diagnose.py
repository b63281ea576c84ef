"""``npprob diagnose`` end to end: the JSON contract, the API agreeing, errors as one line."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from npprob.cli import main
from npprob.diagnosis import GRADES, MECHANISMS, load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PHN = EXAMPLES / "postherpetic_neuralgia.json"
KNEE = EXAMPLES / "knee_osteoarthritis_allodynia.json"

pytestmark = pytest.mark.compat

#: Keys of a record that are not findings.
METADATA = ("id", "comment", "notes")

NUMERIC_COLUMNS = (
    "p_neuropathic", "ci_low", "ci_high", "p_mixed", "p_nociplastic", "p_nociceptive",
    "p_peripheral_sensitisation", "p_ectopic_activity", "p_central_sensitisation",
)  # fmt: skip


@pytest.fixture(scope="module")
def model():
    return load_model()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys, *args: str) -> dict:
    status, out, err = run(capsys, "diagnose", "--json", *args)
    assert status == 0, err
    return json.loads(out)


def findings_of(path: Path) -> dict[str, str]:
    record = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in record.items() if k not in METADATA}


def finding_args(findings: dict[str, str]) -> list[str]:
    args = []
    for name, state in findings.items():
        args += ["--finding", f"{name}={state}"]
    return args


def without_id(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "id"}


# -- one patient ------------------------------------------------------------------------


def test_text_output_from_a_json_file(capsys, model):
    status, out, err = run(capsys, "diagnose", str(PHN))
    assert status == 0, err
    assert err == ""
    assert "P(neuropathic" in out
    assert "credible interval" in out
    assert "NeuPSIG 2016 grade" in out
    assert "not a medical device" in out
    info = model.info()
    assert f"'{info['name']}'" in out
    assert str(info["kind"]) in out
    assert "example-phn" in out  # the record's id heads the summary


def test_json_output_contract(capsys):
    d = run_json(capsys, str(PHN))
    for key in (
        "p_neuropathic", "credible_interval", "p_mixed", "p_nociplastic", "mechanisms",
        "neupsig_grade", "explanation", "model",
    ):  # fmt: skip
        assert key in d, key
    p = d["p_neuropathic"]
    low, high = d["credible_interval"]
    assert len(d["credible_interval"]) == 2
    assert 0.0 <= low <= p <= high <= 1.0
    for key in ("p_mixed", "p_nociplastic"):
        assert 0.0 <= d[key] <= 1.0
    assert set(d["mechanisms"]) >= {
        "peripheral_sensitisation",
        "ectopic_activity",
        "central_sensitisation",
    }
    assert all(0.0 <= v <= 1.0 for v in d["mechanisms"].values())
    assert d["neupsig_grade"] in {"unlikely", "possible", "probable", "definite"}
    explanation = d["explanation"]
    assert isinstance(explanation, list)
    assert explanation
    for e in explanation:
        assert isinstance(e, dict)
        assert {
            "finding",
            "state",
            "p_without",
            "change",
            "log_odds_change",
            "removed_with",
        } <= set(e)
        assert math.isclose(e["p_without"] + e["change"], p, rel_tol=0, abs_tol=1e-12)
        # Only the history takes findings with it (those judged against its lesion).
        assert e["finding"] == "aetiology" or e["removed_with"] == []
    sizes = [abs(e["log_odds_change"]) for e in explanation]
    assert sizes == sorted(sizes, reverse=True)
    assert {e["finding"] for e in explanation} == set(findings_of(PHN))
    assert isinstance(d["model"], dict)
    assert d["model"]["name"]
    assert d["model"]["kind"]


def test_stdin_gives_the_same_numbers_as_the_file(capsys, monkeypatch):
    from_file = run_json(capsys, str(PHN))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PHN.read_text(encoding="utf-8")))
    from_stdin = run_json(capsys, "-")
    assert from_stdin == from_file


def test_findings_on_the_command_line_equal_the_json_file(capsys):
    from_file = run_json(capsys, str(PHN))
    from_flags = run_json(capsys, *finding_args(findings_of(PHN)))
    assert from_flags["id"] is None
    assert without_id(from_flags) == without_id(from_file)


def test_finding_overrides_a_json_key(tmp_path, capsys):
    findings = findings_of(PHN)
    assert findings["brush_allodynia"] == "present"
    changed = dict(findings, brush_allodynia="absent", confirmatory_test="positive")
    equivalent = write(tmp_path / "changed.json", json.dumps(changed))
    expected = run_json(capsys, str(equivalent))
    got = run_json(
        capsys,
        str(PHN),
        "--finding",
        "brush_allodynia=absent",
        "--finding",
        "confirmatory_test=positive",
    )
    assert got["findings"]["brush_allodynia"] == "absent"
    assert got["findings"]["confirmatory_test"] == "positive"
    assert without_id(got) == without_id(expected)
    assert got["id"] == "example-phn"  # the file's id is kept
    assert got["p_neuropathic"] != run_json(capsys, str(PHN))["p_neuropathic"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_cli_json_equals_the_python_api(capsys, model, path):
    from npprob.decision import recommend_treatments

    record = json.loads(path.read_text(encoding="utf-8"))
    findings = {k: v for k, v in record.items() if k != "patient_factors"}
    expected = model.diagnose(findings).to_dict()
    expected["treatments"] = recommend_treatments(model, record).to_dict()
    assert run_json(capsys, str(path)) == json.loads(json.dumps(expected))


# -- bad input: one line, exit 2 --------------------------------------------------------


def assert_one_line_error(status: int, out: str, err: str) -> None:
    assert status == 2
    assert "Traceback" not in err
    assert err.startswith("npprob diagnose: error:")
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert out == ""


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        pytest.param(
            '{"aetiology": "herpes_zoster", "brush_alodynia": "present"}',
            ["patient.json", "brush_alodynia", "did you mean 'brush_allodynia'"],
            id="unknown-finding",
        ),
        pytest.param(
            '{"brush_allodynia": "maybe"}',
            ["patient.json", "'maybe'", "absent, present"],
            id="invalid-state",
        ),
        pytest.param(
            '{"brush_allodynia": 1}',
            ["patient.json", "brush_allodynia", "number", "absent, present"],
            id="wrong-type",
        ),
        pytest.param(
            '{"aetiology": "stroke", "aetiology": "herpes_zoster"}',
            ["patient.json", "duplicate key 'aetiology'"],
            id="duplicate-key",
        ),
        pytest.param(
            '{"aetiology": "stroke",',
            ["patient.json:1:", "malformed JSON"],
            id="malformed-json",
        ),
        pytest.param(
            '{"neuropathic": "present"}',
            ["patient.json", "'neuropathic'", "latent"],
            id="latent-variable",
        ),
        pytest.param(
            '{"aetiology": "stroke", "chronic_pain": "absent"}',
            ["chronic_pain", "present"],
            id="chronic-pain-absent",
        ),
    ],
)
def test_bad_json_file(tmp_path, capsys, text, phrases):
    path = write(tmp_path / "patient.json", text)
    status, out, err = run(capsys, "diagnose", str(path))
    assert_one_line_error(status, out, err)
    for phrase in phrases:
        assert phrase in err, (phrase, err)


@pytest.mark.parametrize(
    ("args", "phrases"),
    [
        pytest.param(
            ["--finding", "brush_alodynia=present"],
            ["brush_alodynia", "brush_allodynia"],
            id="unknown-finding",
        ),
        pytest.param(
            ["--finding", "brush_allodynia=maybe"],
            ["'maybe'", "absent, present"],
            id="invalid-state",
        ),
        pytest.param(
            ["--finding", "neuropathic=present"], ["'neuropathic'", "latent"], id="latent"
        ),
        pytest.param(
            ["--finding", "chronic_pain=absent"], ["chronic_pain", "present"], id="chronic-pain"
        ),
        pytest.param(["--finding", "aetiology="], ["NAME=STATE", "aetiology"], id="empty-value"),
        pytest.param(["--finding", "aetiology"], ["NAME=STATE", "aetiology"], id="missing-equals"),
        pytest.param(["--finding", "=stroke"], ["NAME=STATE"], id="empty-name"),
        pytest.param([str(PHN), "--finding", "sensory_loss"], ["NAME=STATE"], id="file-and-bad"),
        pytest.param(["no_such_patient.json"], ["no_such_patient.json"], id="missing-file"),
        pytest.param([], ["PATIENT.json", "--finding"], id="no-patient"),
        pytest.param([str(PHN), "--model", "no_such_model"], ["no_such_model"], id="bad-model"),
    ],
)
def test_bad_command_line(tmp_path, capsys, monkeypatch, args, phrases):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "diagnose", *args)
    assert_one_line_error(status, out, err)
    for phrase in phrases:
        assert phrase in err, (phrase, err)


def test_bad_json_on_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"brush_allodynia": "yes please"}'))
    status, out, err = run(capsys, "diagnose", "-")
    assert_one_line_error(status, out, err)
    assert "<stdin>" in err
    assert "'yes please'" in err


# -- many patients as CSV ---------------------------------------------------------------

CSV_HEADER = "id,aetiology,distribution_plausible,sensory_loss,brush_allodynia,confirmatory_test"
GOOD_ROWS = {
    "A1": "A1,herpes_zoster,yes,present,present,",
    "A2": "A2,osteoarthritis,no,absent,present,",
    "A3": "A3,stroke,yes,present,,positive",
    "A4": "A4,,,,,",
    "A5": "A5,widespread_pain,no,absent,absent,negative",
}
BAD_STATE = "B1,herpes_zoster,yes,sometimes,present,"
BAD_CELLS = "B2,stroke,yes,present"


def record_of(row: str) -> dict[str, str]:
    names = CSV_HEADER.split(",")
    return {n: v for n, v in zip(names, row.split(","), strict=True) if v and n != "id"}


def assert_row_matches_api(row: dict[str, str], record: dict[str, str], model) -> None:
    d = model.diagnose(record)
    expected = {
        "p_neuropathic": d.p_neuropathic,
        "ci_low": d.credible_interval[0],
        "ci_high": d.credible_interval[1],
        "p_mixed": d.p_mixed,
        "p_nociplastic": d.p_nociplastic,
        "p_nociceptive": d.p_nociceptive,
        **{f"p_{m}": d.mechanisms[m] for m in MECHANISMS},
    }
    for column, value in expected.items():
        assert abs(float(row[column]) - value) <= 1e-6, (column, row[column], value)
    assert row["neupsig_grade"] == d.neupsig.grade
    assert row["error"] == ""
    if d.explanation:
        assert row["top_findings"].startswith(f"{d.explanation[0].finding}=")


def test_csv_batch_with_good_and_bad_rows(tmp_path, capsys, model):
    lines = [
        CSV_HEADER,
        GOOD_ROWS["A1"],
        BAD_STATE,  # data row 2
        GOOD_ROWS["A2"],
        BAD_CELLS,  # data row 4
        GOOD_ROWS["A3"],
    ]
    cohort = write(tmp_path / "cohort.csv", "\n".join(lines) + "\n")
    out = tmp_path / "results.csv"
    status, stdout, err = run(capsys, "diagnose", str(cohort), "--out", str(out))
    assert status == 2
    assert stdout == ""
    assert "Traceback" not in err
    assert "row 2" in err
    assert "row 4" in err
    assert "sometimes" in err
    for good in ("row 1:", "row 3:", "row 5:"):
        assert good not in err
    header, rows = read_rows(out)
    assert header[0] == "id"
    assert {*NUMERIC_COLUMNS, "neupsig_grade", "top_findings", "error"} <= set(header)
    assert [r["id"] for r in rows] == ["A1", "B1", "A2", "B2", "A3"]
    for r in rows:
        if r["id"].startswith("A"):
            p = float(r["p_neuropathic"])
            assert 0.0 <= p <= 1.0
            assert float(r["ci_low"]) <= p <= float(r["ci_high"])
            assert r["error"] == ""
            assert r["neupsig_grade"] in GRADES
            assert_row_matches_api(r, record_of(GOOD_ROWS[r["id"]]), model)
        else:
            assert all(r[c] == "" for c in NUMERIC_COLUMNS), r
            assert r["neupsig_grade"] == ""
            assert r["error"] != ""
    assert "sometimes" in rows[1]["error"]
    assert "cells" in rows[3]["error"]


def test_csv_batch_all_good_exits_0_and_matches_the_api(tmp_path, capsys, model):
    cohort = write(tmp_path / "cohort.csv", "\n".join([CSV_HEADER, *GOOD_ROWS.values()]) + "\n")
    out = tmp_path / "results.csv"
    status, stdout, err = run(capsys, "diagnose", str(cohort), "--out", str(out))
    assert status == 0, err
    assert stdout == ""
    assert err == ""
    _, rows = read_rows(out)
    assert [r["id"] for r in rows] == list(GOOD_ROWS)
    for r in rows:
        assert_row_matches_api(r, record_of(GOOD_ROWS[r["id"]]), model)


def test_csv_batch_without_out_writes_to_stdout(tmp_path, capsys):
    cohort = write(tmp_path / "cohort.csv", "\n".join([CSV_HEADER, *GOOD_ROWS.values()]) + "\n")
    status, stdout, err = run(capsys, "diagnose", str(cohort))
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [r["id"] for r in rows] == list(GOOD_ROWS)


@pytest.mark.parametrize("bad", [BAD_STATE, BAD_CELLS], ids=["bad-state", "bad-cells"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-out", "existing-out"])
def test_csv_strict_fails_whole_batch_and_writes_nothing(tmp_path, capsys, bad, existing):
    cohort = write(tmp_path / "cohort.csv", f"{CSV_HEADER}\n{GOOD_ROWS['A1']}\n{bad}\n")
    out = tmp_path / "results.csv"
    if existing:
        write(out, "precious\n")
    status, stdout, err = run(capsys, "diagnose", str(cohort), "--out", str(out), "--strict")
    assert_one_line_error(status, stdout, err)
    assert "row 2" in err
    if existing:
        assert out.read_text(encoding="utf-8") == "precious\n"
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".results")] == []


def test_csv_with_finding_is_refused(tmp_path, capsys):
    cohort = write(tmp_path / "cohort.csv", f"{CSV_HEADER}\n{GOOD_ROWS['A1']}\n")
    status, out, err = run(capsys, "diagnose", str(cohort), "--finding", "burning=present")
    assert_one_line_error(status, out, err)


def test_csv_row_with_chronic_pain_absent_is_one_bad_row(tmp_path, capsys, model):
    """A row saying the patient has no chronic pain is a bad row, not a failed batch.

    The module's contract (npprob.io.patients): "A bad row does not abort the
    batch; it is reported ... and left unobserved."
    """
    cohort = write(
        tmp_path / "cohort.csv",
        "id,aetiology,chronic_pain\nC1,herpes_zoster,present\nC2,stroke,absent\nC3,stroke,\n",
    )
    out = tmp_path / "results.csv"
    status, _, err = run(capsys, "diagnose", str(cohort), "--out", str(out))
    assert status == 2
    assert "row 2" in err, err
    _, rows = read_rows(out)
    assert [r["id"] for r in rows] == ["C1", "C2", "C3"]
    assert rows[0]["error"] == ""
    assert rows[2]["error"] == ""
    assert rows[1]["p_neuropathic"] == ""
    assert "chronic_pain" in rows[1]["error"]
    assert_row_matches_api(rows[0], {"aetiology": "herpes_zoster"}, model)


# -- lightweight imports ----------------------------------------------------------------


def test_diagnose_does_not_import_heavy_modules(tmp_path):
    heavy = ("pymc", "pytensor", "arviz", "matplotlib")
    code = (
        "import json, sys\n"
        "from npprob.cli import main\n"
        f"status = main(['diagnose', '--json', {str(PHN)!r}])\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})\n"
        "print(json.dumps({'status': status, 'heavy': heavy}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["status"] == 0
    assert report["heavy"] == []
