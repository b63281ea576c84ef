"""``npprob warmup`` and the compile notice: said when the kernels are compiled, never otherwise.

Each test gets an empty kernel cache (a temporary ``XDG_CACHE_HOME``) and runs fresh
processes, as a user's first commands after an install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATIENT = ROOT / "examples" / "postherpetic_neuralgia.json"
ASIA = ROOT / "tests" / "fixtures" / "networks" / "asia.bif"
NOTICE = "npprob: compiling the inference kernels (first run after install"


@pytest.fixture
def cold_env(tmp_path) -> dict[str, str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    return env


def npprob(env, *argv) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "npprob", *map(str, argv)],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


# numba's cache index is read through its internals: checked on every supported line.
@pytest.mark.compat
def test_first_diagnosis_says_it_compiles_and_the_second_does_not(cold_env):
    first = npprob(cold_env, "diagnose", PATIENT, "--json")
    lines = first.stderr.splitlines()
    assert len(lines) == 1, first.stderr
    assert lines[0].startswith(NOTICE)
    assert str(Path(cold_env["XDG_CACHE_HOME"]) / "npprob" / "numba") in lines[0]
    second = npprob(cold_env, "diagnose", PATIENT, "--json")
    assert second.stderr == ""
    assert json.loads(second.stdout) == json.loads(first.stdout)


def test_warmup_compiles_what_every_command_runs(cold_env, tmp_path):
    first = npprob(cold_env, "warmup")
    assert first.stdout.startswith("npprob warmup: compiled 5 of 5 inference kernels in ")
    assert first.stderr.startswith(NOTICE)
    again = npprob(cold_env, "warmup")
    assert again.stdout.startswith("npprob warmup: loaded 5 inference kernels from the cache")
    assert again.stderr == ""
    # Nothing left to compile: the warm-up ran the kernels with the types of real queries.
    evidence = tmp_path / "asia.csv"
    evidence.write_text("smoke,xray,dysp\nyes,,no\n,yes,\nno,no,yes\n")
    for argv in (
        ("diagnose", PATIENT),
        ("treat", PATIENT),
        ("query", "--network", ASIA, "--target", "lung", "--evidence", evidence, "--out", "-"),
    ):
        assert npprob(cold_env, *argv).stderr == "", argv


_SIGNATURES = """
import io, contextlib, sys
from npprob.cli import main
from npprob.inference.compiled import KERNELS, warm_up
with contextlib.redirect_stdout(io.StringIO()):
    for argv in sys.argv[1:]:
        assert main(argv.split("|")) == 0, argv
    warm_up()
print(*(len(k.signatures) for k in KERNELS))
"""


def test_each_kernel_is_compiled_for_one_signature(tmp_path):
    # Every path hands the kernels the same types (one compilation each, also for
    # the warm-up); a second signature would compile again on a user's first run.
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(
        "id,aetiology,sensory_loss,brush_allodynia\nA1,herpes_zoster,present,present\nA2,,,\n"
    )
    evidence = tmp_path / "asia.csv"
    evidence.write_text("smoke,xray\nyes,\n,no\n")
    runs = [
        f"diagnose|{PATIENT}",
        f"diagnose|{PATIENT}|--json|--setting|primary_care",
        f"treat|{PATIENT}",
        f"diagnose|{cohort}",
        f"query|--network|{ASIA}|--target|lung|--evidence|{evidence}|--out|-|--threads|1",
    ]
    done = subprocess.run([sys.executable, "-c", _SIGNATURES, *runs], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"] * 5
