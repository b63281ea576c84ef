"""docs/tutorial.md is run: every command and Python block, each output compared as shown.

Console blocks hold ``$ npprob ...`` lines, each followed by its standard output (its
standard error too when it exits with an error). A Python block is followed by a
``text`` block with what it prints. Sections 1-5 run in the default suite; section 6
(NUTS sampling, minutes) with the slow tests. ``python3 tests/test_tutorial.py``
rewrites the outputs in the page from a fresh run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
FENCE = re.compile(r"```(console|python|text)\n(.*?)```", re.S)
SLOW_FROM = "## 6."


def _blocks(text: str):
    """(kind, body, start, end, slow) of every fenced block, in page order."""
    slow_at = text.index(SLOW_FROM)
    return [(m[1], m[2], m.start(2), m.end(2), m.start() > slow_at) for m in FENCE.finditer(text)]


def _run_command(line: str) -> str:
    from npprob.cli import main

    argv = shlex.split(line)
    assert argv[0] == "npprob", line
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv[1:])
    # An error's one line is part of what the reader sees; a success's stderr (timings,
    # sampler messages) is not shown.
    return out.getvalue() + (err.getvalue() if status != 0 else "")


def _run_python(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(TUTORIAL), "exec"), {"__name__": "tutorial"})
    return out.getvalue()


def run_tutorial(text: str, workdir: Path, *, slow: bool) -> list[tuple[str, str, int, int]]:
    """Run the page's blocks in ``workdir``; (shown, produced, start, end) for every output."""
    shutil.copytree(ROOT / "examples", workdir / "examples", dirs_exist_ok=True)
    results = []
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        blocks = _blocks(text)
        for k, (kind, body, start, _end, in_slow) in enumerate(blocks):
            if in_slow and not slow:
                continue
            if kind == "console":
                lines = body.split("\n")
                commands = [i for i, line in enumerate(lines) if line.startswith("$ ")]
                bounds = [*commands, len(lines) - 1]
                offset = start
                for i, j in zip(commands, bounds[1:], strict=True):
                    shown = "\n".join(lines[i + 1 : j]) + "\n"
                    first = offset + len("\n".join(lines[: i + 1])) + 1
                    produced = _run_command(lines[i][2:])
                    results.append((shown, produced, first, first + len(shown)))
            elif kind == "python":
                kind_next, shown, o_start, o_end, _ = blocks[k + 1]
                assert kind_next == "text", "a python block is followed by its text output"
                results.append((shown, _run_python(body), o_start, o_end))
    finally:
        os.chdir(cwd)
    return results


def _check(tmp_path: Path, slow: bool) -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    results = run_tutorial(text, tmp_path, slow=slow)
    assert results
    for shown, produced, _, _ in results:
        assert produced == shown


@pytest.mark.pymc
def test_the_tutorial_runs_as_written(tmp_path):
    _check(tmp_path, slow=False)


@pytest.mark.slow
@pytest.mark.pymc
def test_the_tutorial_runs_as_written_with_its_nuts_section(tmp_path):
    _check(tmp_path, slow=True)


def _regenerate() -> None:
    import tempfile

    text = TUTORIAL.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        results = run_tutorial(text, Path(tmp), slow=True)
    for _, produced, start, end in sorted(results, key=lambda r: -r[2]):
        text = text[:start] + produced + text[end:]
    TUTORIAL.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    _regenerate()
