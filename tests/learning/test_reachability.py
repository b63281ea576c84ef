"""Unreachable CPT rows: every one flagged has probability zero, and the learners leave them to exact draws."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.inference.engine import Engine
from npprob.io.resources import clinical_spec_path
from npprob.learning.pymc_model import build_complete_model
from npprob.learning.reachability import unreachable_rows
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())
NET = SPEC.network


def parent_marginals(name: str) -> np.ndarray:
    """P(parent configuration) under the prior-mean network, flat in CPT row order."""
    parents = list(NET.parents(name))
    table = Engine(NET).joint([{}], parents)[0, 0]
    return table.reshape(-1)


def test_every_flagged_row_has_probability_zero():
    flagged = unreachable_rows(SPEC)
    assert flagged, "the clinical network has rows no patient can reach (NP without a lesion)"
    for name, row in flagged:
        assert parent_marginals(name)[row] == 0.0, (name, row)


def test_rows_with_neuropathic_pain_but_no_lesion_are_flagged():
    flagged = unreachable_rows(SPEC)
    found = 0
    for name in NET.names:
        parents = list(NET.parents(name))
        if not {"lesion", "neuropathic"} <= set(parents):
            continue
        configs = np.indices(NET.cpt_shape(name)[:-1]).reshape(len(parents), -1).T
        lesion = NET.variable("lesion").states.index("absent")
        np_present = NET.variable("neuropathic").states.index("present")
        for r, config in enumerate(configs):
            impossible = (
                config[parents.index("lesion")] == lesion
                and config[parents.index("neuropathic")] == np_present
            )
            assert ((name, r) in flagged) == impossible, (name, r)
            found += impossible
    assert found >= 1


def test_reachable_rows_with_positive_probability_are_never_flagged():
    flagged = unreachable_rows(SPEC)
    for name in NET.names:
        if not NET.parents(name):
            continue
        p = parent_marginals(name)
        for row in np.flatnonzero(p > 0):
            assert (name, int(row)) not in flagged


@pytest.mark.pymc
def test_complete_model_draws_unreachable_rows_exactly():
    counts = {n: np.zeros(NET.cpt_shape(n)) for n in NET.names}
    _, layout = build_complete_model(SPEC, counts)
    sampled = {(n, r) for n, r, *_ in layout.binary_rows} | {
        (n, r) for n, r, *_ in layout.dirichlet_rows
    }
    assert not sampled & unreachable_rows(SPEC)
