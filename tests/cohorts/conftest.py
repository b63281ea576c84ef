"""Shared fixtures for the cohort tests: the shipped spec, its settings, cached cohorts."""

from __future__ import annotations

import pytest

from npprob.cohorts import SimulationOptions, load_settings, simulate
from npprob.io.resources import clinical_spec_path
from npprob.network.spec import load_spec


@pytest.fixture(scope="session")
def spec():
    return load_spec(clinical_spec_path())


@pytest.fixture(scope="session")
def network(spec):
    return spec.network


@pytest.fixture(scope="session")
def settings(network):
    return load_settings(network)


@pytest.fixture(scope="session")
def make_cohort(spec, settings):
    """``make_cohort(setting, n, seed, **options)``: a cohort, simulated once per session.

    Cohorts are shared between tests; tests must not modify their arrays.
    """
    cache = {}

    def make(setting: str, n: int, seed: int, **options):
        key = (setting, n, seed, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = simulate(spec, settings[setting], n, seed, SimulationOptions(**options))
        return cache[key]

    return make
