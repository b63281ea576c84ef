"""Every command: a file that cannot be read or written, Ctrl-C and oversize JSON values
end in one line on standard error and a documented exit status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from npprob.cli import EXIT_BAD_INPUT, EXIT_INTERRUPTED, main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postherpetic_neuralgia.json"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"npprob {command}: ")
    assert "Traceback" not in err
    return lines[0]


def test_an_output_that_is_a_folder_is_one_line(capsys, tmp_path):
    small = _small_cohort(tmp_path)
    status = main(["diagnose", str(small), "--out", str(tmp_path)])
    assert status == EXIT_BAD_INPUT
    line = _one_line_error(capsys, "diagnose")
    assert "is a folder" in line


def test_an_input_that_is_a_folder_is_one_line(capsys, tmp_path):
    status = main(["diagnose", str(tmp_path)])
    assert status == EXIT_BAD_INPUT
    _one_line_error(capsys, "diagnose")


def test_ctrl_c_is_one_line_with_status_130(capsys, monkeypatch):
    import npprob.cli.diagnose as command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "run", interrupted)
    assert main(["diagnose", str(EXAMPLE)]) == EXIT_INTERRUPTED
    assert _one_line_error(capsys, "diagnose") == "npprob diagnose: interrupted"


@pytest.mark.parametrize("digits", [4301, 20_000])
def test_an_integer_too_long_for_python_is_malformed_json(capsys, tmp_path, digits):
    record = json.loads(EXAMPLE.read_text())
    text = json.dumps(record)[:-1] + ', "age": ' + "9" * digits + "}"
    path = tmp_path / "p.json"
    path.write_text(text)
    assert main(["diagnose", str(path)]) == EXIT_BAD_INPUT
    assert "malformed JSON" in _one_line_error(capsys, "diagnose")


def _small_cohort(tmp_path) -> Path:
    small = tmp_path / "in" / "patients.csv"
    small.parent.mkdir(exist_ok=True)
    small.write_text("id,aetiology,burning\np1,herpes_zoster,present\np2,osteoarthritis,\n")
    return small


def test_an_output_equal_to_the_input_is_refused_before_any_work(capsys, tmp_path):
    small = _small_cohort(tmp_path)
    before = small.read_bytes()
    assert main(["diagnose", str(small), "--out", str(small)]) == EXIT_BAD_INPUT
    assert "destroy the input" in _one_line_error(capsys, "diagnose")
    assert small.read_bytes() == before
    # The same file by another name (a link) is the same input.
    link = tmp_path / "link.csv"
    link.symlink_to(small)
    assert main(["diagnose", str(small), "--out", str(link)]) == EXIT_BAD_INPUT
    assert small.read_bytes() == before


def test_an_output_in_a_missing_folder_is_refused(capsys, tmp_path):
    small = _small_cohort(tmp_path)
    missing = tmp_path / "nowhere" / "r.csv"
    assert main(["diagnose", str(small), "--out", str(missing)]) == EXIT_BAD_INPUT
    assert "does not exist" in _one_line_error(capsys, "diagnose")


def test_results_follow_the_umask_and_keep_a_link(capsys, tmp_path):
    import os

    small = _small_cohort(tmp_path)
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "results.csv"
    link.symlink_to(real)
    old = os.umask(0o027)
    try:
        assert main(["diagnose", str(small), "--out", str(link)]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert link.is_symlink()
    assert "p_neuropathic" in real.read_text().splitlines()[0]
    assert (real.stat().st_mode & 0o777) == 0o640


def test_simulate_refuses_an_unwritable_output_before_simulating(capsys, tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("simulated although the output could not be written")

    monkeypatch.setattr("npprob.cohorts.simulate", never)
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    status = main(["simulate", "--n", "5", "--out-dir", str(a_file), "--no-progress"])
    assert status == EXIT_BAD_INPUT
    assert "not a folder" in _one_line_error(capsys, "simulate")
    status = main(["simulate", "--n", "5", "--out-dir", str(a_file / "sub"), "--no-progress"])
    assert status == EXIT_BAD_INPUT
    _one_line_error(capsys, "simulate")


def test_a_rewritten_cohort_folder_never_pairs_a_card_with_another_cohort(capsys, tmp_path):
    out = tmp_path / "c"
    args = ["simulate", "--n", "30", "--out-dir", str(out), "--no-progress", "--parquet"]
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        args = args[:-1]
    assert main([*args, "--seed", "1"]) == 0
    assert main(["simulate", "--n", "20", "--out-dir", str(out), "--no-progress",
                 "--no-parquet", "--seed", "2"]) == 0  # fmt: skip
    capsys.readouterr()
    card = json.loads((out / "card.json").read_text())
    assert card["seed"] == 2
    assert set(card["files"]) == {"cohort.csv"}
    # No stale Parquet of the first cohort, no staging folder left behind.
    assert sorted(p.name for p in out.iterdir()) == ["card.json", "cohort.csv"]
    from npprob.io.artifacts import sha256_file

    assert card["files"]["cohort.csv"] == sha256_file(out / "cohort.csv")


def test_a_record_with_very_many_unknown_keys_suggests_for_the_shown_ones_only(
    capsys, tmp_path, monkeypatch
):
    import npprob.io.patient_record as patient_record

    calls = []
    original = patient_record._hint
    monkeypatch.setattr(
        patient_record, "_hint", lambda name, valid: calls.append(name) or original(name, valid)
    )
    record = {f"unknown_key_{i}": "present" for i in range(20_000)}
    path = tmp_path / "many.json"
    path.write_text(json.dumps(record))
    assert main(["diagnose", str(path)]) == EXIT_BAD_INPUT
    line = _one_line_error(capsys, "diagnose")
    assert "and 19995 more problem(s)" in line
    # A suggestion costs a fuzzy match over every name: only the shown problems get one.
    assert len(calls) == patient_record.MAX_PROBLEMS


def test_strict_writes_nothing_when_a_row_cannot_be_diagnosed(capsys, tmp_path):
    source = tmp_path / "p.csv"
    # Row 2 reads well but lies outside the diagnosed population (no chronic pain).
    source.write_text(
        "id,aetiology,chronic_pain\np1,herpes_zoster,present\np2,osteoarthritis,absent\n"
    )
    out = tmp_path / "r.csv"
    status = main(["diagnose", str(source), "--out", str(out), "--strict"])
    assert status == EXIT_BAD_INPUT
    line = _one_line_error(capsys, "diagnose")
    assert "row 2" in line
    assert "nothing was written" in line
    assert not out.exists()
    # Without --strict the good row is answered and the bad one named.
    assert main(["diagnose", str(source), "--out", str(out)]) == EXIT_BAD_INPUT
    assert out.exists()
    assert "row 2" in capsys.readouterr().err


def test_strict_stops_reading_at_the_block_of_the_first_bad_row(monkeypatch):
    import npprob.io.patients as patients
    from npprob.errors import EvidenceError
    from npprob.io.resources import clinical_spec

    network = clinical_spec().network
    seen = []
    original = patients.encode_table
    monkeypatch.setattr(
        patients,
        "encode_table",
        lambda net, names, rows: seen.append(len(rows)) or original(net, names, rows),
    )
    good = "p,herpes_zoster\n"
    text = "id,aetiology\n" + good * 4 + "p5,not_a_condition\n" + good * 20_000
    with pytest.raises(EvidenceError, match=r":6: data row 5: "):
        patients.parse_patients_csv(text, network, strict=True)
    assert sum(seen) <= patients.BLOCK_SIZE
    # A bad row in a later block is named by its own data row and line.
    seen.clear()
    late = "id,aetiology\n" + good * 9000 + "p9001,not_a_condition\n" + good * 10
    with pytest.raises(EvidenceError, match=r":9002: data row 9001: "):
        patients.parse_patients_csv(late, network, strict=True)
    assert sum(seen) <= 3 * patients.BLOCK_SIZE
    # Without a bad row strict and lenient reading agree.
    clean = "id,aetiology\n" + good * 5000
    a = patients.parse_patients_csv(clean, network, strict=True)
    b = patients.parse_patients_csv(clean, network)
    np.testing.assert_array_equal(a.batch.codes, b.batch.codes)
    assert a.ids == b.ids


def test_simulate_refuses_a_cohort_that_cannot_fit_in_memory(capsys, tmp_path, monkeypatch):
    import importlib

    simulation = importlib.import_module("npprob.cohorts.simulate")
    monkeypatch.setattr(simulation, "available_memory", lambda: 10 * 2**20)  # 10 MiB
    out = tmp_path / "c"
    status = main(["simulate", "--n", "100000", "--out-dir", str(out), "--no-progress"])
    assert status == EXIT_BAD_INPUT
    line = _one_line_error(capsys, "simulate")
    assert "n = 100,000 patients" in line
    assert "GiB of memory" in line
    assert not out.exists()
    # What fits is drawn as before.
    assert main(["simulate", "--n", "100", "--out-dir", str(out), "--no-progress",
                 "--no-parquet"]) == 0  # fmt: skip


def test_out_dash_is_standard_output(capsys, tmp_path):
    small = _small_cohort(tmp_path)
    assert main(["diagnose", str(small), "--out", "-"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("id,") or "p_neuropathic" in out.splitlines()[0]
    assert not (tmp_path / "-").exists()
    network = Path(__file__).resolve().parents[1] / "fixtures" / "networks" / "asia.bif"
    evidence = tmp_path / "e.csv"
    evidence.write_text("smoke\nyes\n")
    cwd = Path.cwd()
    try:
        import os

        os.chdir(tmp_path)
        assert main(["query", "--network", str(network), "--target", "lung",
                     "--evidence", str(evidence), "--out", "-"]) == 0  # fmt: skip
    finally:
        os.chdir(cwd)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("lung=")
    assert len(lines) == 2
    assert not (tmp_path / "-").exists()


def test_sigterm_unwinds_like_ctrl_c(capsys, monkeypatch):
    import os
    import signal

    import npprob.cli.diagnose as command

    def terminated(args):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not interrupt")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(command, "run", terminated)
    assert main(["diagnose", str(EXAMPLE)]) == EXIT_INTERRUPTED
    assert _one_line_error(capsys, "diagnose") == "npprob diagnose: interrupted"
    assert signal.getsignal(signal.SIGTERM) is before  # restored


def test_top_zero_lists_no_findings_and_a_negative_top_is_a_usage_error(capsys):
    # Found by scripts/fuzz.py (cli case 75060): --top 0 raised from max() of nothing.
    assert main(["diagnose", str(EXAMPLE), "--top", "0", "--no-treatments"]) == 0
    out = capsys.readouterr().out
    assert "Findings that moved P(neuropathic) most" in out
    assert "... and" in out
    with pytest.raises(SystemExit) as info:
        main(["diagnose", str(EXAMPLE), "--top", "-1"])
    assert info.value.code == 2
    assert "must be 0 or more" in capsys.readouterr().err


def test_a_block_of_a_large_file_names_its_bad_rows_by_their_file_row(capsys, tmp_path):
    # Rows after the first block of 4,096 keep their numbers from the file's start, and a
    # bad row there is skipped, not diagnosed as an empty record.
    from npprob.io.patients import BLOCK_SIZE

    n = BLOCK_SIZE + 10
    rows = [f"p{i},herpes_zoster,present" for i in range(1, n + 1)]
    rows[BLOCK_SIZE + 4] = f"p{BLOCK_SIZE + 5},herpes_zoster,bogus"
    source = tmp_path / "p.csv"
    source.write_text("id,aetiology,burning\n" + "\n".join(rows) + "\n")
    out = tmp_path / "r.csv"
    assert main(["diagnose", str(source), "--out", str(out), "--top", "1"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"row {BLOCK_SIZE + 5}: unknown state 'bogus'" in err
    assert f"1 bad row(s) skipped; {n - 1} patient(s) answered." in err
    lines = out.read_text().splitlines()
    assert len(lines) == n + 1
    assert [line.split(",")[0] for line in lines[1:]] == [f"p{i}" for i in range(1, n + 1)]
    bad = lines[BLOCK_SIZE + 5].split(",")
    assert bad[1] == ""  # no probability for the bad row


def test_diagnose_holds_one_block_of_a_cohort_at_a_time(capsys, tmp_path, monkeypatch):
    # Memory that does not grow with the file: the command never reads, diagnoses or
    # holds more than one block of rows (the peak measured for 10,000 and 100,000 rows:
    # 565 and 572 MB).
    import npprob.io.patients as patients
    from npprob.diagnosis.model import DiagnosticModel

    monkeypatch.setattr(patients, "BLOCK_SIZE", 50)
    sizes = []
    original = DiagnosticModel.diagnose_table

    def recording(self, table, **kwargs):
        sizes.append(len(table))
        return original(self, table, **kwargs)

    monkeypatch.setattr(DiagnosticModel, "diagnose_table", recording)
    rows = "".join(f"p{i},herpes_zoster,present\n" for i in range(1, 181))
    source = tmp_path / "p.csv"
    source.write_text("id,aetiology,burning\n" + rows)
    with patients.open_patients_csv(source, _network(), block_size=50) as blocks:
        assert [len(b) for b in blocks] == [50, 50, 50, 30]
    out = tmp_path / "r.csv"
    assert main(["diagnose", str(source), "--out", str(out), "--top", "1"]) == 0
    assert sizes == [50, 50, 50, 30]
    assert len(out.read_text().splitlines()) == 181


def _network():
    from npprob.io.resources import clinical_spec

    return clinical_spec().network


def test_a_cohort_staging_folder_left_by_a_killed_run_is_removed(capsys, tmp_path):
    out = tmp_path / "c"
    out.mkdir()
    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has it
    (out / f".staging.{pid}.abc").mkdir()
    assert main(["simulate", "--n", "10", "--out-dir", str(out), "--no-progress",
                 "--no-parquet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["card.json", "cohort.csv"]
