"""Compiled kernels are cached in the user's cache folder, never inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import npprob


def test_kernels_cache_outside_the_package(tmp_path):
    # A fresh process, so the kernels are decorated under this environment.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    code = (
        "import numba, npprob.inference._kernels as k, sys\n"
        "paths = [f._cache._cache_path for f in vars(k).values()\n"
        "         if hasattr(f, '_cache') and hasattr(f._cache, '_cache_path')]\n"
        "print(numba.config.CACHE_DIR); print(len(paths)); print(*paths, sep='\\n')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()  # fmt: skip
    package = Path(npprob.__file__).resolve().parent
    assert Path(out[0]) == tmp_path / "npprob" / "numba"
    assert int(out[1]) >= 1
    for path in out[2:]:
        assert Path(path).resolve().is_relative_to(tmp_path)
        assert not Path(path).resolve().is_relative_to(package)
