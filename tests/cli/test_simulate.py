"""``npprob simulate`` end to end: files, data card, CSV columns, errors, the script wrapper."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npprob.cli import main
from npprob.cohorts.settings import load_realism
from npprob.io.resources import clinical_spec_path
from npprob.network.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "simulate_cohort.py"
NETWORK = load_spec(clinical_spec_path()).network
OBSERVABLE = [
    v.name for v in NETWORK.variables if v.role in ("history", "lesion_evidence", "sign", "symptom")
]
LATENT = [v.name for v in NETWORK.variables if v.role in ("latent", "target", "derived")]
#: Findings the cohorts never record (always empty cells).
NEVER_RECORDED = set(load_realism(NETWORK).never_recorded)
COLUMNS = [
    "patient_id",
    "group",
    *OBSERVABLE,
    "label_neuropathic",
    *(f"true_{n}" for n in LATENT),
    "p_true_neuropathic",
]
FLAGS = ["--setting", "case_control", "--n", "500", "--seed", "3"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["simulate", *args])
    out, err = capsys.readouterr()
    return status, out, err


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "cohort"
    status = main(["simulate", *FLAGS, "--out-dir", str(out), "--no-parquet"])
    assert status == 0
    return out


def test_simulate_writes_the_files_and_reports(capsys, tmp_path):
    status, out, err = run(capsys, *FLAGS, "--out-dir", str(tmp_path / "x"))
    assert status == 0, err
    assert (tmp_path / "x" / "cohort.csv").is_file()
    assert (tmp_path / "x" / "card.json").is_file()
    assert "500 patients" in out
    assert "case_control" in out
    assert "Traceback" not in err


def test_card_describes_the_run_and_lists_file_digests(written):
    card = json.loads((written / "card.json").read_text(encoding="utf-8"))
    assert card["seed"] == 3
    assert card["n"] == 500
    assert card["setting"]["name"] == "case_control"
    assert [g["name"] for g in card["setting"]["groups"]] == ["neurological", "somatic"]
    assert card["options"] == {
        "mcar": 0.0,
        "mar": False,
        "reporting_trait": 0.0,
        "label": "truth",
        "agreement": 0.785,
        "truth": "literature",
    }
    assert len(card["truth_parameters_sha256"]) == 64
    int(card["truth_parameters_sha256"], 16)
    assert 0.0 <= card["prevalence_true"] <= 1.0
    assert set(card["missing_fraction"]) == set(OBSERVABLE)
    assert card["groups"] == {"neurological": 278, "somatic": 222}
    assert set(card["files"]) == {"cohort.csv"}
    for name, digest in card["files"].items():
        assert sha256(written / name) == digest
    assert card["columns"]["findings"] == OBSERVABLE


def test_csv_has_the_documented_columns_and_matches_the_card(written):
    header, rows = read_csv(written / "cohort.csv")
    assert header == COLUMNS
    assert "chronic_pain" not in header
    assert len(rows) == 500
    card = json.loads((written / "card.json").read_text(encoding="utf-8"))
    neuropathic = [r["true_neuropathic"] == "present" for r in rows]
    assert card["prevalence_true"] == pytest.approx(sum(neuropathic) / 500)
    assert [r["label_neuropathic"] for r in rows] == ["1" if x else "0" for x in neuropathic]
    assert [r["patient_id"] for r in rows] == [f"case_control-3-{i:07d}" for i in range(500)]
    for r in rows:
        assert 0.0 <= float(r["p_true_neuropathic"]) <= 1.0
        for name in (*OBSERVABLE, *(f"true_{n}" for n in LATENT)):
            var = NETWORK.variable(name.removeprefix("true_"))
            if name in NEVER_RECORDED:
                assert r[name] == "", name
                continue
            assert r[name] in var.states, (name, r[name])
        if r["group"] == "neurological":
            assert r["true_lesion"] == "present"
            assert r["true_neuropathic"] == "present"
        else:
            assert r["group"] == "somatic"
            assert r["true_neuropathic"] == "absent"


def test_missing_findings_are_empty_cells(capsys, tmp_path):
    status, _, err = run(capsys, *FLAGS, "--mcar", "0.3", "--out-dir", str(tmp_path))
    assert status == 0, err
    header, rows = read_csv(tmp_path / "cohort.csv")
    card = json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))
    assert card["options"]["mcar"] == 0.3
    for name in OBSERVABLE:
        empty = sum(r[name] == "" for r in rows) / len(rows)
        assert empty == pytest.approx(card["missing_fraction"][name])
        if name == "aetiology":
            assert empty == 0.0
        elif name in NEVER_RECORDED:
            assert empty == 1.0
        else:
            assert 0.15 < empty < 0.45, name
    # Truth, label and p_true are never empty.
    for r in rows:
        for name in header:
            if name not in OBSERVABLE:
                assert r[name] != "", name


def test_options_reach_the_card(capsys, tmp_path):
    status, _, err = run(
        capsys, "--setting", "diabetes", "--n", "300", "--seed", "5", "--mcar", "0.1", "--mar",
        "--reporting-trait", "0.25", "--label", "clinician", "--agreement", "0.9",
        "--truth", "prior", "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert status == 0, err
    card = json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))
    assert card["options"] == {
        "mcar": 0.1,
        "mar": True,
        "reporting_trait": 0.25,
        "label": "clinician",
        "agreement": 0.9,
        "truth": "prior",
    }
    assert card["truth"] == "prior"
    assert card["setting"]["name"] == "diabetes"


def test_same_flags_give_the_same_bytes(capsys, tmp_path, written):
    status, _, err = run(capsys, *FLAGS, "--out-dir", str(tmp_path), "--no-parquet")
    assert status == 0, err
    for name in ("cohort.csv", "card.json"):
        assert (tmp_path / name).read_bytes() == (written / name).read_bytes()


def test_default_out_dir(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "--setting", "post_stroke", "--n", "20", "--seed", "4")
    assert status == 0, err
    folder = tmp_path / "data" / "synthetic" / "post_stroke-n20-seed4"
    assert (folder / "cohort.csv").is_file()
    assert (folder / "card.json").is_file()


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["--setting", "case_contrl"], "Did you mean 'case_control'"),
        (["--n", "0"], "--n must be at least 1"),
        (["--n", "-5"], "--n must be at least 1"),
        (["--mcar", "1.5"], "mcar must be in [0, 1)"),
        (["--mcar", "-0.2"], "mcar must be in [0, 1)"),
        (["--agreement", "0.3"], "agreement must be in [0.5, 1]"),
        (["--reporting-trait", "2"], "--reporting-trait must be in [0, 1]"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, tmp_path, flags, phrase):
    status, out, err = run(capsys, "--n", "10", *flags, "--out-dir", str(tmp_path / "o"))
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("npprob simulate: error: ")
    assert phrase in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flags", [["--label", "doctor"], ["--truth", "posterior_draw"]])
def test_bad_choices_are_argparse_errors(capsys, flags):
    with pytest.raises(SystemExit) as info:
        main(["simulate", *flags])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_negative_seed_exits_2_with_one_line(capsys, tmp_path):
    status, out, err = run(capsys, "--n", "10", "--seed", "-1", "--out-dir", str(tmp_path / "o"))
    assert status == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "npprob simulate: error: --seed must be a non-negative integer; got -1."
    ]
    assert not (tmp_path / "o").exists()


def test_parquet_without_pyarrow_is_not_a_traceback(capsys, tmp_path, monkeypatch):
    # pyarrow hidden as if it were not installed (the test extra installs it).
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    status, _, err = run(capsys, "--n", "10", "--parquet", "--out-dir", str(tmp_path))
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert "pyarrow" in err


def test_script_gives_the_same_bytes_as_the_cli(tmp_path, written):
    # One numba thread in the subprocess: the bytes must not depend on the thread count.
    env = {**os.environ, "PYTHONWARNINGS": "error", "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *FLAGS, "--out-dir", str(tmp_path / "s"), "--no-parquet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "500 patients" in proc.stdout
    for name in ("cohort.csv", "card.json"):
        assert (tmp_path / "s" / name).read_bytes() == (written / name).read_bytes(), name


def test_script_reports_bad_input_like_the_cli(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", "0", "--out-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "npprob simulate: error: --n must be at least 1; got 0."
    ]
