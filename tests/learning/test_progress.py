"""The sampler's progress bar only on a terminal, and a time estimate before sampling."""

from __future__ import annotations

import re

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
    assert ("one gradient takes" in err) is estimate


def test_the_estimate_scales_with_the_iterations(model):
    from npprob.learning.fit import TYPICAL_LEAPFROG_STEPS, SamplerConfig, duration_estimate

    text = duration_estimate(model, SamplerConfig(draws=1000, tune=1000, chains=4, cores=2))
    gradient_ms = float(re.search(r"one gradient takes ([0-9.e+-]+) ms", text).group(1))
    assert gradient_ms > 0
    assert f"{TYPICAL_LEAPFROG_STEPS} leapfrog steps" in text
    assert "4 chains x (1000 + 1000) iterations on 2 cores" in text


def test_train_passes_no_progress_through():
    from npprob.learning import TrainConfig

    assert TrainConfig(progress=False).sampler().progress is False
    assert TrainConfig().sampler().progress is None
