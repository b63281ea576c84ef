"""PyMC fits on threads of one process take turns (PyTensor's configuration is process-wide)."""

from __future__ import annotations

import threading
import time

from npprob.learning.fit import (
    fit_evidence,
    fit_pymc_complete,
    fit_pymc_marginal,
    one_fit_at_a_time,
)


def test_fits_on_threads_take_turns_and_the_lock_is_reentrant() -> None:
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with one_fit_at_a_time(), one_fit_at_a_time():  # re-entrant: no deadlock
            inside.set()
            release.wait(10)
            order.append("first")

    def second() -> None:
        inside.wait(10)
        with one_fit_at_a_time():
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert inside.wait(10)
    time.sleep(0.2)
    assert order == []  # the second fit waits while the first holds the lock
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["first", "second"]


def test_every_pymc_fit_waits_for_the_lock() -> None:
    # Each fit takes the lock before its body runs: held here, a fit on another thread
    # (called with arguments its body would refuse at once) waits, then fails.
    for fit in (fit_pymc_complete, fit_pymc_marginal, fit_evidence):
        outcome: list[str] = []

        def call(fit=fit, outcome=outcome) -> None:
            try:
                fit(None, None)
            except Exception:
                outcome.append("raised")

        with one_fit_at_a_time():
            thread = threading.Thread(target=call)
            thread.start()
            thread.join(0.3)
            assert thread.is_alive(), fit.__name__  # blocked on the lock
            assert outcome == []
        thread.join(10)
        assert outcome == ["raised"], fit.__name__
