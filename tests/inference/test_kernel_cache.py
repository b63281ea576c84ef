"""Compiled kernels are cached in the user's cache folder, never inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


_BLAS_AFTER = """
import sys
import numba, numpy as np
from npprob.inference.compiled import warm_up
warm_up()
print("scipy.linalg" in sys.modules)

@numba.njit
def products(a, b):
    return np.dot(a, b), np.convolve(a, b)

a, b = np.arange(3.0), np.arange(1.0, 4.0)
dot, conv = products(a, b)
print(dot == np.dot(a, b), np.array_equal(conv, np.convolve(a, b)))
"""


@pytest.mark.compat
def test_kernels_load_without_scipy_linalg_and_blas_still_works():
    # numba's BLAS probe (all of scipy.linalg, about 0.2 s) is skipped while the kernels
    # load; jitted code compiled afterwards still gets np.dot and np.convolve right.
    out = subprocess.run([sys.executable, "-c", _BLAS_AFTER], capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    assert out == ["False", "True", "True"]
