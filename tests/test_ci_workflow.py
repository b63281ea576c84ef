"""The GitHub Actions workflow runs what .ci/run runs, on the same Python line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CI_RUN = ROOT / ".ci" / "run"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
#: .ci/run runs on 3.11 (``python3``) and runs the lines prefixed with this on 3.12.
SECOND_LINE = re.compile(r"^PYENV_VERSION=3\.12(\.\d+)?\s+")
#: Commands whose drift would change what CI checks.
WATCHED = ("python3 -m pytest", "python3 benchmarks/", "python3 -m pip install")


def ci_run_commands(text: str) -> list[tuple[str, str]]:
    """(Python line, command) for every command of .ci/run, shell plumbing left out."""
    commands = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "fi" or line.startswith("if "):
            continue
        if line.startswith(("set ", "cd ")):
            continue
        for part in line.split("&&"):
            command = part.strip()
            version = "3.12" if SECOND_LINE.match(command) else "3.11"
            commands.append((version, SECOND_LINE.sub("", command)))
    return commands


def test_ci_run_commands_are_found():
    """The parser sees the commands that matter (so an empty list cannot pass)."""
    commands = ci_run_commands(CI_RUN.read_text())
    assert ("3.11", "python3 -m pytest -n 2") in commands
    assert ("3.12", 'python3 -m pytest -n 2 -m "(pymc or compat) and not slow"') in commands
    assert ("3.11", "python3 -m pip install -q -r benchmarks/requirements.txt") in commands
    assert sum(c.startswith("python3 benchmarks/bench_") for _, c in commands) >= 5


def _steps_by_line(workflow: dict) -> dict[str, list[str]]:
    """The run lines of each matrix Python version, split at ``&&``."""
    job = workflow["jobs"]["test"]
    versions = [str(v) for v in job["strategy"]["matrix"]["python-version"]]
    lines: dict[str, list[str]] = {v: [] for v in versions}
    for step in job["steps"]:
        if "run" not in step:
            continue
        condition = step.get("if")
        if condition is None:
            runs_on = versions
        else:
            match = re.fullmatch(
                r"(?:always\(\) && )?matrix\.python-version == '(3\.\d+)'", condition.strip()
            )
            assert match, f"unexpected step condition {condition!r}"
            runs_on = [match.group(1)]
        for raw in step["run"].splitlines():
            for part in raw.split("&&"):
                for version in runs_on:
                    lines[version].append(part.strip())
    return lines


def test_workflow_runs_every_ci_run_command_on_its_python_line():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = _steps_by_line(workflow)
    assert sorted(steps) == ["3.11", "3.12"]
    container = workflow["jobs"]["test"]["container"]
    assert "${{ matrix.python-version }}" in container  # the matrix picks the interpreter
    missing = [
        f"{version}: {command}"
        for version, command in ci_run_commands(CI_RUN.read_text())
        if command not in steps[version]
    ]
    assert missing == []


def test_workflow_runs_no_check_that_ci_run_does_not():
    yaml = pytest.importorskip("yaml")
    steps = _steps_by_line(yaml.safe_load(WORKFLOW.read_text()))
    expected = set(ci_run_commands(CI_RUN.read_text()))
    extra = [
        f"{version}: {line}"
        for version, lines in steps.items()
        for line in lines
        if line.startswith(WATCHED) and (version, line) not in expected
    ]
    assert extra == []


def test_every_watched_command_is_valid_shell():
    """Quotes balance in both files (a broken quote would be silently skipped by CI)."""
    for version, command in ci_run_commands(CI_RUN.read_text()):
        if command.startswith(WATCHED):
            assert shlex.split(command)[0] == "python3", (version, command)


def test_drift_is_detected():
    """A benchmark added to .ci/run but not the workflow is reported."""
    yaml = pytest.importorskip("yaml")
    steps = _steps_by_line(yaml.safe_load(WORKFLOW.read_text()))
    changed = CI_RUN.read_text() + "python3 benchmarks/bench_new.py --check-floors\n"
    missing = [c for v, c in ci_run_commands(changed) if c not in steps[v]]
    assert missing == ["python3 benchmarks/bench_new.py --check-floors"]
