"""Every command: a file that cannot be read or written, Ctrl-C and oversize JSON values
end in one line on standard error and a documented exit status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

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


COHORT = (Path(__file__).resolve().parents[2] / "data" / "synthetic"
          / "consecutive_pain_clinic-n3000-seed2-clinician" / "cohort.csv")  # fmt: skip


def test_an_output_that_is_a_folder_is_one_line(capsys, tmp_path):
    small = tmp_path / "in" / "cohort.csv"
    small.parent.mkdir()
    small.write_text("".join(COHORT.read_text().splitlines(keepends=True)[:4]))
    status = main(["diagnose", str(small), "--out", str(tmp_path)])
    assert status == EXIT_BAD_INPUT
    line = _one_line_error(capsys, "diagnose")
    assert str(tmp_path) in line


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
