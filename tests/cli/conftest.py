"""The command-line tests' shared setup."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _kernels_ready() -> None:
    """Compile (or load) the kernels first: a test that checks standard error stays empty
    must not be the one whose process compiles them, which says so on standard error."""
    from npprob.inference.compiled import warm_up

    warm_up()
