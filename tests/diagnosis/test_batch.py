"""Batch diagnosis equals one-by-one diagnosis, across chunk boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, load_settings, simulate
from npprob.diagnosis import load_model
from npprob.diagnosis.model import BATCH_CHUNK


@pytest.fixture(scope="module")
def model():
    return load_model("default")


@pytest.fixture(scope="module")
def recorded(model):
    setting = load_settings(model.network)["consecutive_pain_clinic"]
    n = BATCH_CHUNK + 40  # crosses a chunk boundary
    cohort = simulate(model.spec, setting, n, 11, SimulationOptions(mcar=0.3))
    return cohort.recorded


def test_batch_equals_single_patients(model, recorded):
    batch = model.diagnose_batch(recorded, ids=[f"p{i}" for i in range(recorded.n_patients)])
    assert len(batch) == recorded.n_patients
    for i in (0, 1, BATCH_CHUNK - 1, BATCH_CHUNK, recorded.n_patients - 1):
        single = model.diagnose(recorded.take([i]))
        assert batch[i].id == f"p{i}"
        assert batch[i].p_neuropathic == pytest.approx(single.p_neuropathic, abs=1e-12)
        np.testing.assert_allclose(batch[i].credible_interval, single.credible_interval, atol=1e-12)
        assert [e.finding for e in batch[i].explanation] == [e.finding for e in single.explanation]
        assert [e.change for e in batch[i].explanation] == pytest.approx(
            [e.change for e in single.explanation], abs=1e-12
        )


def test_invalid_on_zero_is_refused(model, recorded):
    with pytest.raises(ValueError, match="on_zero"):
        model.diagnose_batch(recorded.take([0]), on_zero="ignore")
