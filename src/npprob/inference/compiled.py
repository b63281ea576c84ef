"""The compiled kernels: whether numba's disk cache holds them, a notice when it does not, warm-up.

The first run after install compiles the kernels (a few seconds) and later runs load
them from the cache (:func:`npprob.inference._kernels.user_cache_dir`). So that the
first run does not look hung, the engine calls :func:`before_first_call` before each
kernel's first call in a process: when numba's cache does not hold that kernel, one
line on standard error says what is happening, once per process.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from npprob.inference import _kernels, _summaries

__all__ = ["WarmUp", "before_first_call", "cache_dir", "is_cached", "notice", "warm_up"]

#: The kernels the engine runs: the evidence-free ops, the fast lanes, the careful lanes,
#: and the weighted quantiles and means of the answers over draws.
KERNELS = (
    _kernels.run_constant_ops,
    _kernels.run_lanes,
    _kernels.run_careful_lanes_log,
    _summaries.weighted_quantile_rows,
    _summaries.weighted_mean_rows,
)

#: Seconds the kernels take to compile, as the notice states it (measured on 2 cores).
COMPILE_SECONDS = 9

_announced = False
_probe_lock = threading.Lock()


def cache_dir() -> Path:
    """numba's cache folder for npprob's kernels (``NUMBA_CACHE_DIR`` or the user cache)."""
    return Path(numba.config.CACHE_DIR)


def is_cached(kernel: numba.core.dispatcher.Dispatcher) -> bool:
    """Whether numba's disk cache holds ``kernel`` compiled from its current source file.

    numba keys its cache index by the source file's modification time and size, so a
    reinstalled package compiles again; the index is read the way numba reads it.
    """
    try:
        return bool(kernel._cache._cache_file._load_index())
    except Exception:  # numba's internals moved: say nothing rather than something wrong
        return True


def before_first_call(kernel: numba.core.dispatcher.Dispatcher) -> None:
    """Get ready for ``kernel``'s first call in this process.

    Prints the compile notice (once per process) when numba's cache does not hold
    ``kernel``, and loads numba's implementations without its BLAS probe.
    """
    global _announced
    # A kernel already compiled here, or a plain function standing in for one (tests).
    if getattr(kernel, "signatures", True):
        return
    _without_blas_probe()
    if _announced or is_cached(kernel):
        return
    _announced = True
    print(notice(), file=sys.stderr, flush=True)


def _without_blas_probe() -> None:
    """Register numba's array functions without the probe that imports all of scipy.linalg.

    When numba first loads its implementations (on the first call of any compiled
    function, cached or not) it imports ``scipy.linalg.cython_blas`` to learn whether
    ``np.correlate`` and ``np.convolve`` may use BLAS; that import costs about 0.2 s
    of every ``npprob diagnose``. The kernels call no BLAS. With the probe failing,
    those two functions use numba's own loop in this process; ``np.dot`` and
    ``np.linalg`` import BLAS themselves when compiled and are unaffected.
    """
    with _probe_lock:  # the web app's threads may get here together
        if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
            return
        sys.modules["scipy.linalg.cython_blas"] = None  # the import fails at once
        try:
            import numba.np.arraymath  # noqa: F401
        finally:
            sys.modules.pop("scipy.linalg.cython_blas", None)


def notice() -> str:
    """The one line printed when the kernels must be compiled."""
    return (
        f"npprob: compiling the inference kernels (first run after install, about "
        f"{COMPILE_SECONDS} s; later runs load them from the cache in {_shown(cache_dir())})"
    )


def _shown(path: Path) -> str:
    """``path`` with the home folder as ``~``."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except (ValueError, RuntimeError):
        return str(path)


@dataclass(frozen=True)
class WarmUp:
    """What :func:`warm_up` did.

    Attributes
    ----------
    kernels : int
        Kernels now ready in this process.
    compiled : int
        How many of them had to be compiled (the others came from the cache).
    seconds : float
        Wall time of the warm-up.
    cache : Path
        numba's cache folder.
    """

    kernels: int
    compiled: int
    seconds: float
    cache: Path

    def summary(self) -> str:
        """One line: what was compiled or loaded, in how long, and where the cache is."""
        if self.compiled:
            done = f"compiled {self.compiled} of {self.kernels} inference kernels"
        else:
            done = f"loaded {self.kernels} inference kernels from the cache"
        return f"{done} in {self.seconds:.1f} s (cache: {_shown(self.cache)})"


def warm_up() -> WarmUp:
    """Compile, or load from the cache, every kernel the engine runs.

    Runs them on a three-variable network with the argument types of every query
    (the engine builds the same arrays for any network): the evidence-free ops, the
    fast lanes, and the careful lanes (evidence of probability zero); and the weighted
    quantiles and means on one row of two draws.

    Returns
    -------
    WarmUp
    """
    from npprob.inference.engine import Engine
    from npprob.network import Network, Variable

    t0 = time.perf_counter()
    cold = sum(not k.signatures and not is_cached(k) for k in KERNELS)
    network = Network(
        [Variable("a", ("no", "yes")), Variable("b", ("no", "yes")), Variable("c", ("no", "yes"))],
        {"b": ["a"], "c": ["b"]},
        {"a": [1.0, 0.0], "b": [[0.9, 0.1], [0.2, 0.8]], "c": [[0.7, 0.3], [0.4, 0.6]]},
    )
    engine = Engine(network)
    # c observed, b asked: a's prior times b's table is free of evidence (the constant
    # ops). a = "yes" has probability zero, which only the careful path may conclude.
    engine.query({"c": "yes"}, ["b"])
    engine.query({"a": "yes"}, ["c"], on_zero="nan")
    rows = np.full((1, 2), 0.5)
    _summaries.weighted_quantile_rows(rows, rows, np.array([0.5]), np.empty((1, 1)), 0, 1)
    columns = np.zeros(1, dtype=np.int64)
    answers = np.ascontiguousarray(rows[:, :, None])
    _summaries.weighted_mean_rows(answers, rows, columns, np.empty((1, 1)), 0, 1)
    missing = [k.py_func.__name__ for k in KERNELS if not k.signatures]
    if missing:
        raise RuntimeError(f"warm-up left kernels uncompiled: {', '.join(missing)}")
    return WarmUp(len(KERNELS), cold, time.perf_counter() - t0, cache_dir())
