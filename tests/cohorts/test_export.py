"""Cohort to table and files: values survive the CSV exactly; progress is reported."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, cohort_frame, simulate, write_cohort
from npprob.io.cohort import write_cohort_data


def test_csv_round_trips_codes_label_and_p_true(make_cohort, network, tmp_path):
    cohort = make_cohort("case_control", 2000, 21, mcar=0.3, label="clinician")
    write_cohort(cohort, tmp_path, parquet=False)
    with (tmp_path / "cohort.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == cohort.n
    p_true = np.array([float(r["p_true_neuropathic"]) for r in rows])
    np.testing.assert_array_equal(p_true, cohort.p_true)  # %.17g is exact
    np.testing.assert_array_equal([int(r["label_neuropathic"]) for r in rows], cohort.label)
    np.testing.assert_array_equal([r["group"] for r in rows], cohort.group)
    for j, var in enumerate(network.variables):
        if var.is_finding:
            codes = [var.states.index(r[var.name]) if r[var.name] else -1 for r in rows]
            np.testing.assert_array_equal(codes, cohort.recorded.codes[:, j], err_msg=var.name)
        elif not var.observable:
            codes = [var.states.index(r["true_" + var.name]) for r in rows]
            np.testing.assert_array_equal(codes, cohort.truth[:, j], err_msg=var.name)
        else:
            assert var.name not in rows[0]
            assert "true_" + var.name not in rows[0]


def test_frame_of_a_single_group_setting(make_cohort):
    frame = cohort_frame(make_cohort("post_stroke", 5000, 3, mcar=0.5))
    assert set(frame["group"]) == {"all"}
    assert set(frame["aetiology"]) == {"stroke"}
    assert frame["patient_id"].is_unique


def test_progress_is_reported_up_to_n(spec, settings):
    calls: list[int] = []
    cohort = simulate(
        spec, settings["case_control"], 3000, 2, SimulationOptions(), progress=calls.append
    )
    assert calls
    assert calls[-1] == cohort.n == 3000
    assert calls == sorted(calls)
    assert all(0 <= c <= 3000 for c in calls)


def test_csv_has_the_bytes_pandas_writes(make_cohort, tmp_path):
    """The csv-module writer (pandas left the core install) keeps the bytes, and so the
    checksums, of ``DataFrame.to_csv(float_format="%.17g")``: quoting, NaN, integers."""
    pd = pytest.importorskip("pandas")
    from npprob.io.cohort import cohort_columns

    data = make_cohort("case_control", 2000, 21, mcar=0.3, label="clinician").data()
    data = data.take(np.arange(300))  # a copy: the shared cohort stays as it is
    data.p_true[[3, 7]] = np.nan
    data.ids[:3] = ['a,b "quoted"', "", "line\nbreak"]
    write_cohort_data(data, tmp_path, parquet=False)
    expected = tmp_path / "pandas.csv"
    pd.DataFrame(cohort_columns(data)).to_csv(
        expected, index=False, float_format="%.17g", lineterminator="\n"
    )
    assert (tmp_path / "cohort.csv").read_bytes() == expected.read_bytes()
