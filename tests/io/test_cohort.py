"""Cohort files: the one reader and writer round-trip every part, and refuse what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, load_settings, simulate
from npprob.errors import EvidenceError
from npprob.io.cohort import label_column, p_true_column, read_cohort_data, write_cohort_data
from npprob.io.resources import clinical_spec_path
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())
NET = SPEC.network


@pytest.fixture(scope="module")
def cohort():
    setting = load_settings(NET)["consecutive_pain_clinic"]
    return simulate(SPEC, setting, 300, 4, SimulationOptions(mcar=0.3, label="clinician"))


def test_written_and_read_back_equal(cohort, tmp_path):
    data = cohort.data()
    write_cohort_data(data, tmp_path, parquet=False)
    back = read_cohort_data(tmp_path, NET)
    findings = [NET.index(v.name) for v in NET.findings]
    np.testing.assert_array_equal(back.codes[:, findings], data.codes[:, findings])
    np.testing.assert_array_equal(back.hidden, data.hidden)
    np.testing.assert_array_equal(back.truth, data.truth)
    np.testing.assert_array_equal(back.label, data.label)
    np.testing.assert_array_equal(back.p_true, data.p_true)  # %.17g is exact
    np.testing.assert_array_equal(back.ids, data.ids)
    assert back.card["n"] == 300
    assert back.name == tmp_path.name
    assert back.recorded == tuple(v.name for v in NET.findings)
    # The column names follow the network's roles.
    header = (tmp_path / "cohort.csv").read_text().splitlines()[0].split(",")
    assert label_column(NET) in header
    assert p_true_column(NET) in header
    assert f"true_{NET.target.name}" in header
    # Without the truth, only what a study records is read.
    study = read_cohort_data(tmp_path, NET, truth=False)
    assert study.hidden is None
    assert study.truth is None
    np.testing.assert_array_equal(study.label, data.label)


def test_a_hidden_variable_as_a_plain_column_is_refused(tmp_path):
    target = NET.target.name
    path = tmp_path / "cohort.csv"
    path.write_text(f"aetiology,{target}\nstroke,present\n")
    with pytest.raises(EvidenceError, match=f"column '{target}' names a hidden variable"):
        read_cohort_data(path, NET)
    path.write_text("aetiology,lesion\nstroke,present\n")
    with pytest.raises(EvidenceError, match="true_lesion"):
        read_cohort_data(path, NET)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("aetiology,burning\nstroke,maybe\n", "data row 1: unknown state 'maybe' for 'burning'"),
        ("aetiology,burning\nstroke\n", "data row 1 has 1 cells; the header has 2"),
        ("aetiology\nstroke\n", None),
        ("comment\nx\n", "no column names a variable"),
    ],
)
def test_bad_files_are_refused_with_the_row(tmp_path, text, phrase):
    path = tmp_path / "cohort.csv"
    path.write_text(text)
    if phrase is None:
        data = read_cohort_data(path, NET)
        assert data.n == 1
        assert data.label is None
        assert data.truth is None
        assert data.hidden is None
        return
    with pytest.raises(EvidenceError, match=phrase):
        read_cohort_data(path, NET)
