"""PyMC fits on threads of one process take turns (PyTensor's configuration is process-wide)."""

from __future__ import annotations

import threading
import time

from npprob.learning.fit import one_fit_at_a_time


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
