"""Benchmark results record where they came from; floors are judged against pinned peers."""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import npprob

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("bench_*.py"))


def _load(name: str):
    """A module of benchmarks/ by file (the folder is not a package)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def meta():
    return _load("_meta")


def test_environment_records_commit_cpu_and_versions(meta):
    env = meta.environment(peers=("pgmpy",), libraries=("scikit-learn",))
    git = shutil.which("git")
    head = (
        subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        if git
        else None
    )
    if head is not None and head.returncode == 0:
        assert env["commit"] == head.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{40}", env["commit"])
        assert isinstance(env["dirty"], bool)
    else:
        assert env["commit"] == "unknown"
    assert isinstance(env["cpu_model"], str)
    assert env["cpu_model"]
    assert env["python"] == platform.python_version()
    assert env["npprob"] == npprob.__version__
    versions = env["versions"]
    assert versions["numpy"] == np.__version__
    assert versions["scikit-learn"] == metadata.version("scikit-learn")
    assert list(versions)[:3] == ["numpy", "numba", "scipy"]  # every benchmark's base
    assert versions["pgmpy"] == metadata.version("pgmpy")
    assert env["pinned"] == {"pgmpy": meta.pinned_versions()["pgmpy"]}


def test_commit_is_unknown_outside_a_checkout(meta, tmp_path):
    assert meta.git_commit(tmp_path) == {"commit": "unknown", "dirty": None}


def test_cpu_model_from_cpuinfo(meta, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Example CPU @ 2.0GHz\n")
    assert meta.cpu_model(cpuinfo) == "Example CPU @ 2.0GHz"
    fallback = meta.cpu_model(tmp_path / "missing")
    assert fallback == (platform.processor() or platform.machine() or "unknown")


def test_pins_are_read_exactly(meta, tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# comment\npgmpy==1.1.2  # the peer\nNumPy>=2\nSome_Lib == 0.3\n")
    assert meta.pinned_versions(path) == {"pgmpy": "1.1.2", "some-lib": "0.3"}
    shipped = meta.pinned_versions()
    assert set(shipped) == {"pgmpy"}
    assert re.fullmatch(r"\d+(\.\d+)+", shipped["pgmpy"])


def test_peer_version_problem(meta, tmp_path):
    installed = metadata.version("pgmpy")
    same = tmp_path / "same.txt"
    same.write_text(f"pgmpy=={installed}\n")
    assert meta.peer_version_problem(["pgmpy"], "bench_x", same) is None

    other = tmp_path / "other.txt"
    other.write_text("pgmpy==0.0.1\n")
    message = meta.peer_version_problem(["pgmpy"], "bench_x", other)
    assert message is not None
    assert "\n" not in message
    assert message.startswith("bench_x: the floors were set against pgmpy 0.0.1")
    assert f"but {installed} is installed" in message
    assert f"pip install -r {other}" in message
    assert "--allow-peer-version" in message

    unpinned = tmp_path / "unpinned.txt"
    unpinned.write_text("numpy==2.0\n")
    assert "pins no version of pgmpy" in meta.peer_version_problem(["pgmpy"], "b", unpinned)
    absent = tmp_path / "absent.txt"
    absent.write_text("not-a-real-package-npprob==1.0\n")
    message = meta.peer_version_problem(["not-a-real-package-npprob"], "b", absent)
    assert "it is not installed" in message


def test_engine_benchmark_refuses_another_pgmpy_before_measuring(
    meta, tmp_path, monkeypatch, capsys
):
    engine = _load("bench_engine")
    assert engine.PEERS == ("pgmpy",)
    pins = tmp_path / "requirements.txt"
    pins.write_text("pgmpy==0.0.1\n")
    monkeypatch.setattr(meta, "REQUIREMENTS", pins)
    out = tmp_path / "result.json"
    assert engine.main(["--quick", "--check-floors", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench_engine: the floors were set against pgmpy 0.0.1")
    assert "pip install -r" in err
    assert len(err.splitlines()) == 1
    assert not out.exists()  # refused before any measurement


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_records_its_environment(script):
    """Each result JSON carries environment(): commit, CPU, Python and library versions."""
    text = script.read_text(encoding="utf-8")
    assert re.search(r"^from _meta import .*\benvironment\b", text, re.MULTILINE)
    assert re.search(r'"environment": environment\(', text)


def test_benchmarks_comparing_with_a_pinned_peer_check_its_version(meta):
    """A script that uses a pinned peer checks the pin and offers --allow-peer-version."""
    pinned = meta.pinned_versions()
    checked = []
    for script in SCRIPTS:
        code = script.read_text(encoding="utf-8")
        uses = {p for p in pinned if re.search(rf"\b{re.escape(p)}\b", code)}
        if uses:
            assert "peer_version_problem(PEERS" in code, script.name
            assert "add_peer_option(parser)" in code, script.name
            assert uses <= set(_load(script.stem).PEERS), script.name
            checked.append(script.name)
    assert "bench_engine.py" in checked
