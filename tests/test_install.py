"""The core install in a fresh virtual environment: numpy, numba and scipy answer diagnose.

Marked ``install`` (left out of the default run; ``.ci/run`` runs ``pytest -m install`` as
its own step): pip fetches the core's dependencies from the package index.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "postherpetic_neuralgia.json"
#: Distributions of the core install (pip, and setuptools on Python 3.11, come with the venv).
CORE = {"npprob", "numpy", "numba", "llvmlite", "scipy"}
BUNDLED = {"pip", "setuptools", "wheel"}


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    # The environment of this test run must not leak into the venv's interpreter.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False, **kwargs)


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install <source>``, no extras; returns its bin folder."""
    tmp = tmp_path_factory.mktemp("core")
    # A copy of what the build reads, so the build's own folders land in the copy.
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    done = _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(source)])
    assert done.returncode == 0, done.stderr[-3000:]
    return bin_dir


def test_core_install_holds_only_numpy_numba_scipy(core_venv):
    done = _run([str(core_venv / "python"), "-m", "pip", "list", "--format=freeze"])
    assert done.returncode == 0, done.stderr
    names = {line.split("==")[0].lower() for line in done.stdout.split()}
    assert names - BUNDLED == CORE
    for heavy in ("pymc", "sklearn", "pandas", "matplotlib"):
        probe = _run([str(core_venv / "python"), "-c", f"import {heavy}"])
        assert probe.returncode != 0, f"{heavy} is importable in the core install"


def test_core_install_answers_diagnose(core_venv, tmp_path):
    done = _run([str(core_venv / "npprob"), "diagnose", str(EXAMPLE)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"P\(neuropathic pain component\) = (\S+)", done.stdout)
    assert found, done.stdout[:2000]
    assert 0.9 <= float(found.group(1)) <= 1.0  # the example is a probable neuropathic pain


def test_core_install_names_the_missing_extra(core_venv, tmp_path):
    argv = [str(core_venv / "npprob"), "train", "--likelihood", "evidence", "--name", "x"]
    done = _run(argv, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "npprob train: error: npprob train needs the 'train' extra (pymc is missing): "
        "pip install 'npprob[train]'\n"
    )
    assert not (tmp_path / "models").exists()
