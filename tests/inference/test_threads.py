"""The kernels' threads: every chunk runs once, and the answer does not depend on the threads."""

from __future__ import annotations

import itertools
import os
import signal
import threading

import numba
import numpy as np
import pytest

from _oracles import spec_of
from npprob.inference import Engine
from npprob.inference.threads import chunk_bounds, default_threads, spread
from strategies import random_codes, random_cpts, random_network


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("n_items", [0, 1, 5, 97])
def test_spread_runs_every_chunk_once(threads, n_items):
    bounds = chunk_bounds(n_items, threads)
    assert bounds[0] == 0
    assert bounds[-1] == n_items
    assert all(a <= b for a, b in itertools.pairwise(bounds))
    if threads == 1:
        assert len(bounds) == 2
    seen = np.zeros(n_items, dtype=np.int64)
    names = set()
    lock = threading.Lock()

    def kernel(out, lo, hi):
        with lock:
            out[lo:hi] += 1
            names.add(threading.current_thread().name)

    spread(kernel, (seen,), bounds, threads)
    assert (seen == 1).all()
    assert len(names) <= threads


def test_spread_reports_a_failing_chunk():
    def kernel(lo, hi):
        if lo <= 7 < hi:
            raise ValueError("chunk with item 7")

    with pytest.raises(ValueError, match="item 7"):
        spread(kernel, (), chunk_bounds(40, 4), 4)


def test_default_threads_follows_numba_setting():
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert default_threads() == 1
    finally:
        numba.set_num_threads(previous)
    assert default_threads() == previous


@pytest.mark.parametrize("n_draws", [1, 3, 300])
def test_answers_do_not_depend_on_threads(rng, n_draws):
    # Enough patients and draws for many blocks of both kinds (one patient's draws, or
    # spanning patients), and tiny entries so some lanes take the careful path.
    network = random_network(rng, 9, 3, 3, zero_fraction=0.1, parent_window=4)
    cpts = random_cpts(rng, network, n_draws, zero_fraction=0.1)
    engine = Engine(network, cpts)
    codes = random_codes(rng, spec_of(network), 1500 if n_draws < 300 else 40, observe=0.5)
    targets = list(network.names[:3])
    one = engine.query(codes, targets, on_zero="nan", n_threads=1)
    for threads in (2, 3):
        other = Engine(network, cpts).query(codes, targets, on_zero="nan", n_threads=threads)
        np.testing.assert_array_equal(other.probabilities, one.probabilities)
        np.testing.assert_array_equal(other.log_evidence, one.log_evidence)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_threads_work_in_a_forked_child(rng):
    network = random_network(rng, 6, 3, 2)
    engine = Engine(network, random_cpts(rng, network, 300))
    codes = random_codes(rng, spec_of(network), 50, observe=0.5)
    expected = engine.query(codes, [network.names[0]], on_zero="nan", n_threads=2).probabilities
    pid = os.fork()
    if pid == 0:  # the child: the parent's helper threads do not exist here
        status = 1
        signal.alarm(60)  # a child waiting for those threads would hang: fail instead
        try:
            got = engine.query(codes, [network.names[0]], on_zero="nan", n_threads=2)
            status = 0 if np.array_equal(got.probabilities, expected, equal_nan=True) else 3
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
