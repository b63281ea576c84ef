"""Batch scoring of a cohort: the column path, JSON Lines, Parquet, standard input, simulate's files.

Oracles: the per-patient path (``DiagnosticModel.diagnose_table``, one ``Diagnosis``
object per patient), which answered every cohort before the column path existed, and
the CSV output, which the other formats must repeat.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from npprob.cli import main
from npprob.diagnosis import load_model
from npprob.diagnosis.columns import PROBABILITY_COLUMNS, diagnose_columns
from npprob.io.patients import parse_patients_csv
from npprob.io.result_files import RESULT_COLUMNS

pytestmark = pytest.mark.compat

HEADER = "id,aetiology,distribution_plausible,sensory_loss,brush_allodynia,confirmatory_test,chronic_pain"
ROWS = [
    "A1,herpes_zoster,yes,present,present,,",
    "A2,osteoarthritis,no,absent,present,,",
    "B1,herpes_zoster,yes,sometimes,present,,",  # an invalid state
    "A3,stroke,yes,present,,positive,",
    "C1,stroke,yes,present,,,absent",  # outside the diagnosed context
    "A4,,,,,,",
    "A5,widespread_pain,no,absent,absent,negative,",
]
TEXT = "\n".join([HEADER, *ROWS]) + "\n"


@pytest.fixture(scope="module")
def model():
    return load_model().in_setting(None)


def test_the_column_path_gives_the_per_patient_numbers(model) -> None:
    table = parse_patients_csv(TEXT, model.network)
    columns = diagnose_columns(model, table, explain=False)
    reference = model.diagnose_table(table, explain=False)
    assert sorted(columns.errors) == sorted(reference.errors) == [2, 4]
    for i, d in enumerate(reference.diagnoses):
        if d is None:
            assert all(math.isnan(columns.probabilities[k][i]) for k in PROBABILITY_COLUMNS)
            assert columns.neupsig_grade[i] == ""
            continue
        expected = {
            "p_neuropathic": d.p_neuropathic, "ci_low": d.credible_interval[0],
            "ci_high": d.credible_interval[1], "p_mixed": d.p_mixed,
            "p_nociplastic": d.p_nociplastic, "p_nociceptive": d.p_nociceptive,
            **{f"p_{m}": v for m, v in d.mechanisms.items()},
        }  # fmt: skip
        for key, value in expected.items():
            assert columns.probabilities[key][i] == pytest.approx(value, abs=1e-12), key
        assert columns.neupsig_grade[i] == d.neupsig.grade
    assert columns.top_findings == [[] for _ in ROWS]


def test_the_explained_columns_carry_each_patients_top_findings(model) -> None:
    table = parse_patients_csv(TEXT, model.network)
    columns = diagnose_columns(model, table, explain=True, top=3)
    reference = model.diagnose_table(table, explain=True)
    for i, d in enumerate(reference.diagnoses):
        if d is not None:
            want = [(e.finding, e.state, e.change) for e in d.explanation[:3]]
            assert columns.top_findings[i] == want
            assert len(want) == min(3, len(d.explanation))


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_no_explain_writes_the_same_rows_without_top_findings(tmp_path, capsys) -> None:
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(TEXT, encoding="utf-8")
    code, explained, err = run(["diagnose", str(cohort)], capsys)
    assert code == 2
    assert "2 bad row(s) skipped; 5 patient(s) answered" in err
    code, fast, _ = run(["diagnose", str(cohort), "--no-explain"], capsys)
    assert code == 2
    with_top, without = read_csv(explained), read_csv(fast)
    assert list(without[0]) == list(RESULT_COLUMNS)
    assert len(with_top) == len(without) == len(ROWS)
    for a, b in zip(with_top, without, strict=True):
        assert {k: v for k, v in a.items() if k != "top_findings"} == {
            k: v for k, v in b.items() if k != "top_findings"
        }
        assert b["top_findings"] == ""
        assert (a["top_findings"] != "") == (a["error"] == "" and a["id"] != "A4")
    # --top 0 computes no explanation either.
    assert run(["diagnose", str(cohort), "--top", "0"], capsys)[1] == fast


def test_jsonl_repeats_the_csv(tmp_path, capsys) -> None:
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(TEXT, encoding="utf-8")
    _, text, _ = run(["diagnose", str(cohort), "--top", "2"], capsys)
    out = tmp_path / "results.jsonl"
    code, stdout, _ = run(["diagnose", str(cohort), "--top", "2", "--out", str(out)], capsys)
    assert code == 2
    assert stdout == ""
    rows = read_csv(text)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(rows)
    for row, line in zip(rows, lines, strict=True):
        entry = json.loads(line)
        assert list(entry) == list(RESULT_COLUMNS)
        assert entry["id"] == row["id"]
        if row["error"]:
            assert entry["error"] == row["error"]
            assert entry["p_neuropathic"] is None
            assert entry["neupsig_grade"] is None
            continue
        assert entry["error"] is None
        assert entry["neupsig_grade"] == row["neupsig_grade"]
        for key in RESULT_COLUMNS[1:10]:
            assert entry[key] == pytest.approx(float(row[key]), abs=1e-6)
        text_findings = ";".join(
            f"{f['finding']}={f['state']}:{f['change']:+.3f}" for f in entry["top_findings"]
        )
        assert text_findings == row["top_findings"]
    # --jsonl to standard output gives the same lines.
    assert run(["diagnose", str(cohort), "--top", "2", "--jsonl"], capsys)[1].splitlines() == lines


def test_csv_from_standard_input(tmp_path, capsys, monkeypatch) -> None:
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(TEXT, encoding="utf-8")
    _, from_file, _ = run(["diagnose", str(cohort), "--no-explain"], capsys)
    monkeypatch.setattr("sys.stdin", io.StringIO(TEXT))
    code, from_stdin, err = run(["diagnose", "-", "--csv", "--no-explain"], capsys)
    assert code == 2
    assert from_stdin == from_file
    assert "npprob diagnose: -:4: row 3:" in err


def test_parquet_in_and_out(tmp_path, capsys) -> None:
    import pyarrow as pa  # in the test extra
    import pyarrow.parquet as pq

    rows = read_csv(TEXT)
    names = HEADER.split(",")
    table = pa.table({n: [r[n] or None for r in rows] for n in names})
    source = tmp_path / "cohort.parquet"
    pq.write_table(table, source, row_group_size=3)
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(TEXT, encoding="utf-8")
    _, expected, _ = run(["diagnose", str(cohort), "--no-explain"], capsys)
    code, from_parquet, err = run(["diagnose", str(source), "--no-explain"], capsys)
    assert code == 2
    assert from_parquet == expected
    assert "row 3" in err
    assert "sometimes" in err
    out = tmp_path / "results.parquet"
    assert run(["diagnose", str(cohort), "--out", str(out)], capsys)[0] == 2
    written = pq.read_table(out).to_pylist()
    assert [r["id"] for r in written] == [r["id"] for r in read_csv(expected)]
    for got, want in zip(written, read_csv(expected), strict=True):
        if want["error"]:
            assert got["error"] == want["error"]
            assert got["p_neuropathic"] is None
        else:
            assert got["p_neuropathic"] == pytest.approx(float(want["p_neuropathic"]), abs=1e-6)
            assert got["error"] is None
            assert got["neupsig_grade"] == want["neupsig_grade"]


def test_a_cohort_written_by_simulate_is_read_as_it_is(tmp_path, capsys) -> None:
    out_dir = tmp_path / "sim"
    assert main(["simulate", "--n", "40", "--seed", "3", "--mcar", "0.1", "--out-dir",
                 str(out_dir), "--no-parquet"]) == 0  # fmt: skip
    capsys.readouterr()
    cohort = out_dir / "cohort.csv"
    code, text, err = run(["diagnose", str(cohort), "--no-explain"], capsys)
    assert code == 0, err
    rows = read_csv(text)
    with cohort.open(encoding="utf-8") as fh:
        source = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == [r["patient_id"] for r in source]
    # The same answers as a file of the findings alone.
    findings = [k for k in source[0] if k not in ("patient_id", "group")
                and not k.startswith(("true_", "p_true_", "label_"))]  # fmt: skip
    plain = tmp_path / "findings.csv"
    with plain.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(findings)
        writer.writerows([[r[k] for k in findings] for r in source])
    _, plain_text, _ = run(["diagnose", str(plain), "--no-explain"], capsys)
    plain_rows = read_csv(plain_text)
    for a, b in zip(rows, plain_rows, strict=True):
        assert a["p_neuropathic"] == b["p_neuropathic"]
        assert a["neupsig_grade"] == b["neupsig_grade"]
    assert np.isfinite([float(r["p_neuropathic"]) for r in rows]).all()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--json"], "--json: one patient's JSON answer"),
        (["--out", "{tmp}/results.txt"], "results are written as .csv, .jsonl"),
        (["--jsonl", "--out", "{tmp}/results.csv"], "use a .jsonl file"),
        (["--out", "-", "--jsonl", "--finding", "numbness=present"], "apply to one patient"),
    ],
)
def test_cohort_options_that_do_not_fit_are_refused(tmp_path, capsys, argv, message) -> None:
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(TEXT, encoding="utf-8")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = run(["diagnose", str(cohort), *argv], capsys)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]


def test_cohort_flags_with_one_patient_are_refused(capsys) -> None:
    code, _, err = run(["diagnose", "examples/postherpetic_neuralgia.json", "--no-explain"], capsys)
    assert code == 2
    assert "--no-explain: options of a cohort" in err
