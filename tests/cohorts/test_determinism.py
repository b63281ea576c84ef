"""Cohorts are reproducible: same seed, setting and options → same arrays and same bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, simulate, write_cohort

OPTIONS = {"mcar": 0.2, "mar": True, "reporting_trait": 0.4, "label": "clinician"}


def assert_same_cohort(a, b) -> None:
    np.testing.assert_array_equal(a.truth, b.truth)
    np.testing.assert_array_equal(a.recorded.codes, b.recorded.codes)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.p_true, b.p_true)
    np.testing.assert_array_equal(a.group, b.group)
    assert a.truth_hash() == b.truth_hash()


@pytest.mark.parametrize("setting", ["case_control", "consecutive_pain_clinic"])
@pytest.mark.parametrize("truth", ["literature", "prior"])
def test_same_seed_gives_identical_arrays_and_bytes(spec, settings, tmp_path, setting, truth):
    options = SimulationOptions(truth=truth, **OPTIONS)
    a = simulate(spec, settings[setting], 1500, 11, options)
    b = simulate(spec, settings[setting], 1500, 11, options)
    assert_same_cohort(a, b)
    card_a = write_cohort(a, tmp_path / "a", parquet=False)
    card_b = write_cohort(b, tmp_path / "b", parquet=False)
    for name in ("cohort.csv", "card.json"):
        bytes_a = (tmp_path / "a" / name).read_bytes()
        assert bytes_a == (tmp_path / "b" / name).read_bytes(), name
    assert card_a == card_b
    # The card lists the CSV's real digest.
    digest = hashlib.sha256((tmp_path / "a" / "cohort.csv").read_bytes()).hexdigest()
    assert card_a["files"] == {"cohort.csv": digest}


def test_writing_the_same_cohort_twice_gives_the_same_bytes(make_cohort, tmp_path):
    cohort = make_cohort("general_population", 2000, 5, mcar=0.3)
    write_cohort(cohort, tmp_path / "one", parquet=False)
    write_cohort(cohort, tmp_path / "two", parquet=False)
    for name in ("cohort.csv", "card.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@pytest.mark.parametrize("truth", ["literature", "prior"])
def test_a_different_seed_gives_a_different_cohort(spec, settings, truth):
    options = SimulationOptions(truth=truth, mcar=0.2, label="clinician")
    a = simulate(spec, settings["consecutive_pain_clinic"], 2000, 1, options)
    b = simulate(spec, settings["consecutive_pain_clinic"], 2000, 2, options)
    assert a.truth.shape == b.truth.shape
    # Almost every patient differs somewhere (36 variables); identical streams would give 0.
    rows_differ = np.any(a.truth != b.truth, axis=1).mean()
    assert rows_differ > 0.9
    assert not np.array_equal(a.recorded.codes, b.recorded.codes)
    assert not np.array_equal(a.label, b.label)
    assert not np.array_equal(a.p_true, b.p_true)


def test_literature_truth_hash_is_the_same_for_every_seed(spec, settings):
    setting = settings["diabetes"]
    hashes = {simulate(spec, setting, 50, seed).truth_hash() for seed in (0, 1, 2, 12345)}
    assert len(hashes) == 1
    card = simulate(spec, setting, 50, 7).card()
    assert card["truth_parameters_sha256"] in hashes
    assert card["truth"] == "literature"


def test_literature_truth_parameters_are_the_specification_values(make_cohort, network):
    cohort = make_cohort("general_population", 2000, 5, mcar=0.3)
    assert set(cohort.truth_cpts) == set(network.names)
    for name in network.names:
        np.testing.assert_array_equal(cohort.truth_cpts[name], network.cpt(name))


def test_prior_truth_hash_differs_between_seeds_and_repeats_within_a_seed(spec, settings):
    setting = settings["diabetes"]
    prior = SimulationOptions(truth="prior")
    by_seed = {seed: simulate(spec, setting, 50, seed, prior).card() for seed in (0, 1, 2)}
    hashes = [card["truth_parameters_sha256"] for card in by_seed.values()]
    assert len(set(hashes)) == 3
    assert all(card["truth"] == "prior" for card in by_seed.values())
    again = simulate(spec, setting, 50, 1, prior).card()["truth_parameters_sha256"]
    assert again == by_seed[1]["truth_parameters_sha256"]
    literature = simulate(spec, setting, 50, 1).card()["truth_parameters_sha256"]
    assert literature not in hashes


def test_prior_truth_is_the_specifications_prior_draw_for_the_seed(spec, settings):
    cohort = simulate(spec, settings["diabetes"], 50, 9, SimulationOptions(truth="prior"))
    draws = spec.prior_draws(1, seed=9)
    for name, table in draws.items():
        np.testing.assert_array_equal(cohort.truth_cpts[name], table[0])
    # A proper draw: not the literature means (except deterministic variables).
    moved = [n for n in spec.network.names if n not in spec.fixed]
    assert all(not np.allclose(cohort.truth_cpts[n], spec.network.cpt(n)) for n in moved)
