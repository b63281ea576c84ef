"""Cohorts drawn in partitions: seeds from the index, order kept, one truth, the same bytes."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, simulate, write_cohort
from npprob.cohorts.simulate import partition_plan
from npprob.errors import ParameterError

OPTIONS = SimulationOptions(mcar=0.2, label="clinician", reporting_trait=0.3, truth="prior")


def arrays(cohort) -> list[np.ndarray]:
    return [cohort.truth, cohort.recorded.codes, cohort.label, cohort.p_true, cohort.group]


def test_the_plan_covers_the_cohort_with_seeds_from_the_index():
    plan = partition_plan(1050, 7, 250)
    assert [size for size, _ in plan] == [250, 250, 250, 250, 50]
    assert [child.spawn_key for _, child in plan] == [(i,) for i in range(5)]
    assert all(child.entropy == plan[0][1].entropy for _, child in plan)
    # A partition's stream depends on the seed and its index, not on the cohort's size.
    again = partition_plan(600, 7, 250)
    first = [np.random.default_rng(c).integers(2**31, size=3) for _, c in plan[:2]]
    second = [np.random.default_rng(c).integers(2**31, size=3) for _, c in again[:2]]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    # Fewer patients than a partition: one partition of them all.
    assert [size for size, _ in partition_plan(100, 7, 250)] == [100]


def test_any_mapper_gives_the_same_cohort(spec, settings, tmp_path):
    setting = settings["case_control"]

    def backwards(function, arguments):
        # Runs the last partition first; results must still come back in order.
        done = {i: function(*a) for i, a in reversed(list(enumerate(arguments)))}
        return [done[i] for i in range(len(arguments))]

    here = simulate(spec, setting, 700, 4, OPTIONS, partition_size=200)
    there = simulate(spec, setting, 700, 4, OPTIONS, partition_size=200, mapper=backwards)
    for a, b in zip(arrays(here), arrays(there), strict=True):
        assert np.array_equal(a, b)
    write_cohort(here, tmp_path / "here", parquet=False)
    write_cohort(there, tmp_path / "there", parquet=False)
    for name in ("cohort.csv", "card.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes()


def test_partitions_are_the_cohort_drawn_piece_by_piece(spec, settings):
    setting = settings["consecutive_pain_clinic"]
    whole = simulate(spec, setting, 500, 9, OPTIONS, partition_size=150)
    assert whole.n == 500
    assert whole.card()["partition_size"] == 150
    assert sum(whole.card()["groups"].values()) == 500
    # One truth for every partition: the cohort's (a prior draw from its seed).
    one_piece = simulate(spec, setting, 500, 9, OPTIONS)
    assert whole.truth_hash() == one_piece.truth_hash()
    assert "partition_size" not in one_piece.card()
    # Another draw than the cohort in one piece, and the first partition is a cohort of
    # its own drawn from the first seed of the plan.
    assert not np.array_equal(whole.truth, one_piece.truth)
    first = simulate(spec, setting, 150, 9, OPTIONS, partition_size=150)
    assert np.array_equal(whole.truth[:150], first.truth)
    assert np.array_equal(whole.p_true[:150], first.p_true)
    ids = whole.data().ids
    assert ids[0].endswith("-0000000")
    assert ids[-1].endswith("-0000499")


def test_partition_arguments_are_checked(spec, settings):
    setting = settings["consecutive_pain_clinic"]
    with pytest.raises(ParameterError, match="partition_size"):
        simulate(spec, setting, 10, 1, partition_size=0)
    with pytest.raises(ParameterError, match="give partition_size"):
        simulate(spec, setting, 10, 1, mapper=lambda f, a: map(f, *zip(*a, strict=True)))
