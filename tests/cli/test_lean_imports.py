"""``npprob diagnose`` and ``npprob treat`` answer without scipy's heavy parts, sklearn or pandas.

Each costs a tenth of a second or more of every command in a fresh process (numba
imports the top of scipy for its version, which is light).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PHN = Path(__file__).resolve().parents[2] / "examples" / "postherpetic_neuralgia.json"
HEAVY = ("scipy.linalg", "scipy.special", "scipy.stats", "sklearn", "pandas", "numpy.f2py")


@pytest.mark.parametrize("command", ["diagnose", "treat"])
def test_no_heavy_imports(tmp_path, command):
    code = (
        "import json, sys\n"
        "from npprob.cli import main\n"
        f"status = main([{command!r}, '--json', {str(PHN)!r}])\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print(json.dumps({'status': status, 'heavy': heavy}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"status": 0, "heavy": []}
