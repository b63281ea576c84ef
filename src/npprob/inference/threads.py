"""Threads for the kernels: ranges of work spread over a process-wide pool.

The kernels are serial and release the GIL (``nogil``), so plain Python threads run
them in parallel. Kernels compiled with numba's ``parallel=True`` took 2.5 times as
long to compile (the first run after install), and while other processes kept the
cores busy their two threads answered one patient three to five times slower than
one thread (each parallel region waits for every thread); here the calling thread
takes a share and helpers take the next range as they become free.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numba

__all__ = ["chunk_bounds", "default_threads", "spread"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid = 0


def default_threads() -> int:
    """numba's thread setting (``NUMBA_NUM_THREADS``, or ``numba.set_num_threads``)."""
    from numba.np.ufunc import parallel

    # numba.get_num_threads() starts numba's own thread pool (about 10 ms), which the
    # kernels do not use; it can differ from the configured count only after
    # numba.set_num_threads(), which has started that pool already.
    if getattr(parallel, "_is_initialized", True):
        return int(numba.get_num_threads())
    return int(numba.config.NUMBA_NUM_THREADS)


def _workers(n: int) -> ThreadPoolExecutor:
    """A pool with at least ``n`` threads, made again in a forked child (its threads are gone)."""
    global _pool, _pool_size, _pool_pid
    with _lock:
        if _pool is None or _pool_size < n or _pool_pid != os.getpid():
            old = _pool if _pool_pid == os.getpid() else None
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="npprob-kernel")
            _pool_size, _pool_pid = n, os.getpid()
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def spread(
    kernel: Callable[..., object], args: Sequence[object], bounds: Sequence[int], threads: int
) -> None:
    """Call ``kernel(*args, bounds[c], bounds[c + 1])`` for every chunk ``c``, on ``threads`` threads.

    Chunks must write disjoint outputs. The calling thread works too; helpers take
    the next chunk as they become free, so uneven chunks balance out.
    """
    n_chunks = len(bounds) - 1
    helpers = min(threads, n_chunks) - 1
    if helpers <= 0:
        for c in range(n_chunks):
            kernel(*args, bounds[c], bounds[c + 1])
        return
    # next() on a count is atomic under the GIL: each chunk is run exactly once.
    chunks = itertools.count()
    stop = threading.Event()

    def work() -> None:
        for c in chunks:
            if c >= n_chunks or stop.is_set():
                return
            kernel(*args, bounds[c], bounds[c + 1])

    pool = _workers(helpers)
    futures: list[Future] = [pool.submit(work) for _ in range(helpers)]
    try:
        work()
    except BaseException:
        stop.set()  # Ctrl-C or an error: helpers finish their chunk and stop
        wait(futures)
        raise
    for f in futures:
        f.result()


def chunk_bounds(n_items: int, threads: int, per_thread: int = 4) -> list[int]:
    """Bounds of about ``per_thread`` chunks per thread over ``range(n_items)`` (one when 1 thread)."""
    n_chunks = max(1, min(n_items, 1 if threads <= 1 else per_thread * threads))
    return [n_items * c // n_chunks for c in range(n_chunks + 1)]
