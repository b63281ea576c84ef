"""The sampler's progress bar only on a terminal, and a time estimate before sampling."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.pymc


@pytest.fixture
def model():
    import pymc as pm

    with pm.Model() as m:
        pm.Dirichlet("x", a=np.ones((20, 3)))
    return m


@pytest.fixture
def sampled(monkeypatch):
    import pymc as pm

    calls = []
    monkeypatch.setattr(pm, "sample", lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.mark.parametrize(
    ("progress", "tty", "bar", "estimate"),
    [(None, False, False, True), (None, True, True, True), (True, False, True, True),
     (False, True, False, False)],
)  # fmt: skip
def test_progress_bar_on_a_terminal_and_an_estimate_unless_off(
    model, sampled, capsys, monkeypatch, progress, tty, bar, estimate
):
    import sys

    from npprob.learning import fit

    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    fit._sample_chains(model, fit.SamplerConfig(draws=10, tune=10, progress=progress), None)
    (call,) = sampled
    assert call["progressbar"] is bar
    err = capsys.readouterr().err
    assert ("compiling first" in err) is estimate
    assert ("callback" in call) is estimate


def test_the_pace_estimate_is_printed_once_from_the_first_iterations(monkeypatch):
    import io

    from npprob.learning import fit

    clock = iter([100.0, *[100.0 + 0.5 * k for k in range(1, 60)]])
    monkeypatch.setattr(fit.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    pace = fit.PaceEstimate(fit.SamplerConfig(draws=100, tune=100, chains=4), after=20, stream=out)
    pace()  # the first iteration: compiling is over, the clock starts
    for _ in range(30):
        pace()
    text = out.getvalue()
    assert text.count("npprob train:") == 1
    # 20 iterations in 10 s: 2 per second; 800 - 21 = 779 left, about 6 min.
    assert "21 of 800 iterations in 10 s; about 6 min to go" in text


def test_train_passes_no_progress_through():
    from npprob.learning import TrainConfig

    assert TrainConfig(progress=False).sampler().progress is False
    assert TrainConfig().sampler().progress is None
