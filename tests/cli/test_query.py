"""``npprob query`` end to end: answers checked by brute force, errors as one line."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from _oracles import brute_force, spec_of
from npprob.cli import main
from npprob.io import read_bif

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ASIA = FIXTURES / "networks" / "asia.bif"
ALARM = FIXTURES / "networks" / "alarm.bif"

pytestmark = pytest.mark.compat


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_answers_match_brute_force_on_asia(tmp_path, capsys):
    evidence = write(
        tmp_path / "ev.csv",
        "xray,dysp,smoke\nyes,yes,\n,,no\nno, yes ,yes\n,,\n",
    )
    out = tmp_path / "out.csv"
    status, _, err = run(
        capsys, "query", "--network", str(ASIA), "--target", "lung", "--target", "either",
        "--evidence", str(evidence), "--out", str(out),
    )  # fmt: skip
    assert status == 0, err
    header, rows = read_rows(out)
    assert header == ["lung=yes", "lung=no", "either=yes", "either=no"]
    network = read_bif(ASIA)
    spec = spec_of(network)
    records = [
        {"xray": "yes", "dysp": "yes"},
        {"smoke": "no"},
        {"xray": "no", "dysp": "yes", "smoke": "yes"},
        {},
    ]
    codes = np.full((4, len(spec.names)), -1)
    for r, rec in enumerate(records):
        for name, state in rec.items():
            codes[r, spec.names.index(name)] = spec.states[name].index(state)
    expected = brute_force(spec, codes, ["lung", "either"]).stacked(["lung", "either"])
    got = np.array([[float(x) for x in row] for row in rows])
    np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)


def test_alarm_rows_keep_input_order_and_ids(tmp_path, capsys):
    out = tmp_path / "out.csv"
    status, _, err = run(
        capsys, "query", "--network", str(ALARM), "--target", "HYPOVOLEMIA",
        "--evidence", str(FIXTURES / "evidence" / "alarm_patients.csv"),
        "--id-column", "patient_id", "--out", str(out),
    )  # fmt: skip
    assert status == 0, err
    header, rows = read_rows(out)
    assert header == ["patient_id", "HYPOVOLEMIA=TRUE", "HYPOVOLEMIA=FALSE"]
    _, source_rows = read_rows(FIXTURES / "evidence" / "alarm_patients.csv")
    assert [r[0] for r in rows] == [r[0] for r in source_rows]
    values = np.array([[float(x) for x in r[1:]] for r in rows])
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-12)
    assert len(set(np.round(values[:, 0], 12))) > 1  # patients differ


@pytest.mark.parametrize(
    ("csv_text", "extra", "phrase"),
    [
        ("xray,dysp\nyes,maybe\n", [], "unknown state 'maybe' for 'dysp'"),
        ("xray,dysq\nyes,yes\n", [], "unknown variable 'dysq' in the header. Did you mean 'dysp'?"),
        ("xray,dysp\nyes\n", [], "data row 1 has 1 cells; the header has 2"),
        ("", [], "the file is empty"),
        ("xray,xray\nyes,no\n", [], "duplicate column"),
        ('xray,dysp\n"yes,no\n', [], "malformed CSV"),
        ("xray,dysp\nyes,yes\n", ["--id-column", "pid"], "no identifier column 'pid'"),
    ],
)
def test_bad_evidence_gives_one_line_and_exit_2(tmp_path, capsys, csv_text, extra, phrase):
    evidence = write(tmp_path / "ev.csv", csv_text)
    out = write(tmp_path / "out.csv", "precious\n")
    status, stdout, err = run(
        capsys, "query", "--network", str(ASIA), "--target", "lung",
        "--evidence", str(evidence), "--out", str(out), *extra,
    )  # fmt: skip
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("npprob query: error:")
    assert phrase in err
    assert "Traceback" not in err
    assert stdout == ""
    assert out.read_text() == "precious\n"  # nothing lost


def test_unknown_state_names_the_line_and_allowed_states(tmp_path, capsys):
    evidence = write(tmp_path / "ev.csv", "xray,dysp\nyes,yes\nno,sometimes\n")
    status, _, err = run(
        capsys, "query", "--network", str(ASIA), "--target", "lung",
        "--evidence", str(evidence), "--out", str(tmp_path / "o.csv"),
    )  # fmt: skip
    assert status == 2
    assert ":3: unknown state 'sometimes' for 'dysp' (data row 2)" in err
    assert "expected one of: yes, no" in err


def test_unknown_target_suggests_a_name(tmp_path, capsys):
    evidence = write(tmp_path / "ev.csv", "xray\nyes\n")
    status, _, err = run(
        capsys, "query", "--network", str(ASIA), "--target", "lungs",
        "--evidence", str(evidence), "--out", str(tmp_path / "o.csv"),
    )  # fmt: skip
    assert status == 2
    assert "Unknown variable 'lungs'. Did you mean 'lung'?" in err
    assert not (tmp_path / "o.csv").exists()


def test_missing_files_and_malformed_bif(tmp_path, capsys):
    evidence = write(tmp_path / "ev.csv", "xray\nyes\n")
    status, _, err = run(
        capsys, "query", "--network", str(ASIA), "--target", "lung",
        "--evidence", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"),
    )  # fmt: skip
    assert status == 2
    assert "Cannot read evidence file" in err
    bad = write(tmp_path / "bad.bif", "variable a {\n  type discrete [ 2 ] { x, y };\n")
    status, _, err = run(
        capsys, "query", "--network", str(bad), "--target", "a",
        "--evidence", str(evidence), "--out", str(tmp_path / "o.csv"),
    )  # fmt: skip
    assert status == 2
    assert "bad.bif:" in err
    assert err.count("\n") == 1


ZERO_BIF = """network z {}
variable a { type discrete [ 2 ] { x, y }; }
variable b { type discrete [ 2 ] { u, v }; }
probability ( a ) { table 0.5, 0.5; }
probability ( b | a ) { (x) 1.0, 0.0; (y) 0.3, 0.7; }
"""


def test_zero_probability_rows_are_named_or_written_as_nan(tmp_path, capsys):
    net = write(tmp_path / "z.bif", ZERO_BIF)
    evidence = write(tmp_path / "ev.csv", "a,b\nx,u\nx,v\n,v\nx,v\n")
    out = tmp_path / "o.csv"
    status, _, err = run(
        capsys, "query", "--network", str(net), "--target", "b",
        "--evidence", str(evidence), "--out", str(out),
    )  # fmt: skip
    assert status == 2
    assert "data row(s) 2, 4 have probability zero" in err
    assert not out.exists()
    status, _, err = run(
        capsys, "query", "--network", str(net), "--target", "a", "--on-zero", "nan",
        "--evidence", str(evidence), "--out", str(out),
    )  # fmt: skip
    assert status == 0, err
    _, rows = read_rows(out)
    values = np.array([[float(x) for x in r] for r in rows])
    assert np.isnan(values[[1, 3]]).all()
    np.testing.assert_allclose(values[0], [1.0, 0.0])
    np.testing.assert_allclose(values[2], [0.0, 1.0])  # b=v rules out a=x


def test_python_dash_m_entry_point_and_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "npprob" in capsys.readouterr().out


def test_rows_are_answered_a_block_at_a_time_with_the_same_result(tmp_path, capsys, monkeypatch):
    import npprob.io.records as records

    rng = np.random.default_rng(0)
    states = ["yes", "no", ""]
    lines = ["id,xray,dysp,smoke"] + [
        f"p{i}," + ",".join(states[k] for k in rng.integers(0, 3, size=3)) for i in range(23)
    ]
    evidence = write(tmp_path / "ev.csv", "\n".join(lines) + "\n")
    args = ["query", "--network", str(ASIA), "--target", "lung", "--evidence", str(evidence),
            "--id-column", "id"]  # fmt: skip
    assert run(capsys, *args, "--out", str(tmp_path / "whole.csv"))[0] == 0
    monkeypatch.setattr(records, "EVIDENCE_BLOCK_SIZE", 4)
    assert run(capsys, *args, "--out", str(tmp_path / "blocks.csv"))[0] == 0
    assert run(capsys, *args, "--out", str(tmp_path / "again.csv"))[0] == 0
    # Same blocks, same bytes (the grouping of patterns into plans may differ from the
    # whole file's in the last bit, so the two are compared by value).
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "blocks.csv").read_bytes()
    header, rows = read_rows(tmp_path / "blocks.csv")
    _, whole = read_rows(tmp_path / "whole.csv")
    assert header == ["id", "lung=yes", "lung=no"]
    assert [r[0] for r in rows] == [f"p{i}" for i in range(23)] == [r[0] for r in whole]
    spec = spec_of(read_bif(ASIA))
    codes = np.full((23, len(spec.names)), -1)
    for r, line in enumerate(lines[1:]):
        for name, state in zip(["xray", "dysp", "smoke"], line.split(",")[1:], strict=True):
            if state:
                codes[r, spec.names.index(name)] = spec.states[name].index(state)
    expected = brute_force(spec, codes, ["lung"]).stacked(["lung"])
    for got in (rows, whole):
        values = np.array([[float(x) for x in row[1:]] for row in got])
        np.testing.assert_allclose(values, expected, atol=1e-12, rtol=0)


def test_a_bad_row_in_a_later_block_is_named_and_nothing_is_written(tmp_path, capsys, monkeypatch):
    import npprob.io.records as records

    monkeypatch.setattr(records, "EVIDENCE_BLOCK_SIZE", 3)
    lines = ["xray,smoke"] + ["yes,no"] * 7 + ["maybe,no"] + ["no,yes"] * 3
    evidence = write(tmp_path / "ev.csv", "\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    status, _, err = run(capsys, "query", "--network", str(ASIA), "--target", "lung",
                         "--evidence", str(evidence), "--out", str(out))  # fmt: skip
    assert status == 2
    assert "ev.csv:9: unknown state 'maybe' for 'xray' (data row 8)" in err
    assert not out.exists()
    assert not list(tmp_path.glob(".*"))  # no staging file left


def test_contradictory_evidence_in_a_later_block_names_its_file_row(tmp_path, capsys, monkeypatch):
    import npprob.io.records as records

    monkeypatch.setattr(records, "EVIDENCE_BLOCK_SIZE", 2)
    # In asia, 'either' is the deterministic OR of 'tub' and 'lung'.
    lines = ["tub,lung,either"] + ["yes,no,yes"] * 4 + ["yes,no,no"] + ["no,no,no"]
    evidence = write(tmp_path / "ev.csv", "\n".join(lines) + "\n")
    status, _, err = run(capsys, "query", "--network", str(ASIA), "--target", "smoke",
                         "--evidence", str(evidence), "--out", str(tmp_path / "o.csv"))  # fmt: skip
    assert status == 2
    assert "data row(s) 5 have probability zero" in err
    assert not (tmp_path / "o.csv").exists()


def test_a_bad_header_writes_nothing_even_to_standard_output(tmp_path, capsys):
    evidence = write(tmp_path / "ev.csv", "asia,nonsense\nyes,no\n")
    status, out, err = run(capsys, "query", "--network", str(ASIA), "--target", "lung",
                           "--evidence", str(evidence), "--out", "-")  # fmt: skip
    assert status == 2
    assert out == ""
    assert "unknown variable 'nonsense'" in err


def test_a_byte_order_mark_on_standard_input_is_dropped(capsys, monkeypatch):
    import io as _io
    import sys

    raw = "\ufeffasia,smoke\nyes,no\n".encode()
    monkeypatch.setattr(sys, "stdin", _io.TextIOWrapper(_io.BytesIO(raw), encoding="utf-8"))
    status, out, err = run(capsys, "query", "--network", str(ASIA), "--target", "lung",
                           "--evidence", "-", "--out", "-")  # fmt: skip
    assert status == 0, err
    assert out.splitlines()[0] == "lung=yes,lung=no"
