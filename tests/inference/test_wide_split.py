"""Patients sharing a plan are split by whether they recorded a wide variable (the condition).

The split only changes which plan answers: every patient's posterior and evidence
likelihood must equal what a batch of that patient alone gives (its own exactly
pruned plan, the condition hard evidence or absent).
"""

from __future__ import annotations

import numpy as np

from npprob.inference.engine import EXACT_PLAN_MIN_LANES, WIDE_CARDINALITY, Engine
from npprob.io.resources import clinical_spec
from npprob.network.evidence import EvidenceBatch
from npprob.network.sampling import forward_sample


def test_split_batches_answer_as_single_patients() -> None:
    spec = clinical_spec()
    network = spec.network
    assert max(network.cardinalities) >= WIDE_CARDINALITY
    rng = np.random.default_rng(11)
    full = np.asarray(forward_sample(network, 40, rng), dtype=np.int16)
    codes = np.where(rng.random(full.shape) < 0.5, full, -1).astype(np.int16)
    for v in network.context:
        codes[:, network.index(v.name)] = v.positive_index
    condition = network.index("aetiology")
    codes[::2, condition] = full[::2, condition]
    codes[1::2, condition] = -1
    engine = Engine(network, spec.prior_draws(4, seed=2))
    # Few draws: every distinct pattern is too small for its own plan, so all share one.
    assert EXACT_PLAN_MIN_LANES > 40 * 4
    together = engine.query(EvidenceBatch(network, codes), ["neuropathic", "nociplastic"])
    for i in range(len(codes)):
        alone = engine.query(
            EvidenceBatch(network, codes[i : i + 1]), ["neuropathic", "nociplastic"]
        )
        np.testing.assert_allclose(
            together.probabilities[:, i], alone.probabilities[:, 0], atol=1e-10
        )
        np.testing.assert_allclose(together.log_evidence[:, i], alone.log_evidence[:, 0], atol=1e-9)
