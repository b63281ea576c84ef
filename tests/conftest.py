"""Shared fixtures for npprob's tests.

The random seed of the ``rng`` fixture is fixed (``NPPROB_TEST_SEED``, default
20261127) so failures reproduce; it is printed so a failing run shows it.
Set ``NPPROB_TEST_SEED`` to explore other seeds.

The helper modules next to this file (``_oracles``, ``strategies``) are made
importable here because pytest runs with ``--import-mode=importlib``, which
does not put test directories on ``sys.path``.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from strategies import base_seed  # noqa: E402  (needs the path above)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the base seed and the test's node id (seed printed)."""
    seed = base_seed()
    # One stream per test, so adding a test does not change the others' numbers.
    stream = zlib.crc32(request.node.nodeid.encode())
    print(f"rng seed: NPPROB_TEST_SEED={seed}, stream {stream} ({request.node.nodeid})")
    return np.random.default_rng([seed, stream])
