"""Properties every exact-inference answer must have, checked with Hypothesis.

These compare the engine with itself under transformations that must not
change the answer (or with a point mass it must produce); the numbers
themselves are checked against brute force in ``test_engine_bruteforce``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from _oracles import forward_sample
from npprob.inference import Engine
from npprob.network import EvidenceBatch, Variable
from strategies import (
    SEEDS,
    draw_cpts,
    hypothesis_settings,
    query_cases,
    random_cpts,
    random_table,
)

ATOL = 1e-12


def remap_codes(codes: np.ndarray, old_names, new_names) -> np.ndarray:
    """Codes for ``new_names`` columns; variables absent from ``old_names`` are unobserved."""
    old = {n: i for i, n in enumerate(old_names)}
    out = np.full((codes.shape[0], len(new_names)), -1, dtype=np.int64)
    for j, n in enumerate(new_names):
        if n in old:
            out[:, j] = codes[:, old[n]]
    return out


@hypothesis_settings(max_examples=100)
@given(case=query_cases())
def test_posteriors_are_distributions(case):
    result = Engine(case.network).query(case.codes, case.targets)
    assert np.isfinite(result.probabilities).all()
    assert (result.probabilities >= 0).all()
    assert (result.probabilities <= 1 + ATOL).all()
    for t in case.targets:
        np.testing.assert_allclose(result.marginal(t).sum(axis=-1), 1.0, rtol=0, atol=ATOL)
    assert np.isfinite(result.log_evidence).all()
    assert (result.log_evidence <= ATOL).all()  # P(e) <= 1


@hypothesis_settings(max_examples=60)
@given(case=query_cases(), seed=SEEDS, n_parents=st.integers(0, 3))
def test_barren_leaf_changes_nothing(case, seed, n_parents):
    rng = np.random.default_rng(seed)
    net = case.network
    parents = [str(p) for p in rng.permutation(net.names)[: min(n_parents, len(net))]]
    card = int(rng.integers(2, 5))
    shape = (*(net.variable(p).cardinality for p in parents), card)
    bigger = net.add_variable(
        Variable("barren", tuple(f"b{i}" for i in range(card))), parents, random_table(rng, shape)
    )
    codes = remap_codes(case.codes, net.names, bigger.names)
    before = Engine(net).query(case.codes, case.targets)
    after = Engine(bigger).query(codes, case.targets)
    np.testing.assert_allclose(after.probabilities, before.probabilities, rtol=0, atol=ATOL)
    np.testing.assert_allclose(after.log_evidence, before.log_evidence, rtol=0, atol=ATOL)
    # querying the barren node too must not disturb the other targets
    both = Engine(bigger).query(codes, (*case.targets, "barren"))
    for t in case.targets:
        np.testing.assert_allclose(both.marginal(t), before.marginal(t), rtol=0, atol=ATOL)
    np.testing.assert_allclose(both.marginal("barren").sum(axis=-1), 1.0, rtol=0, atol=ATOL)


@hypothesis_settings(max_examples=80)
@given(case=query_cases(), seed=SEEDS)
def test_observed_target_is_a_point_mass(case, seed):
    rng = np.random.default_rng(seed)
    net = case.network
    target = case.targets[0]
    col = net.index(target)
    codes = case.codes.copy()
    # states from a forward sample, so the evidence stays possible
    codes[:, col] = forward_sample(case.spec, rng, len(codes))[:, col]
    result = Engine(net).query(codes, case.targets)
    expected = np.zeros((len(codes), net.variable(target).cardinality))
    expected[np.arange(len(codes)), codes[:, col]] = 1.0
    for d in range(result.n_draws):
        np.testing.assert_array_equal(result.marginal(target)[d], expected)


@hypothesis_settings(max_examples=80)
@given(case=query_cases(max_patients=12), seed=SEEDS)
def test_patient_order_does_not_matter(case, seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(case.codes))
    engine = Engine(case.network)
    ref = engine.query(case.codes, case.targets)
    shuffled = Engine(case.network).query(case.codes[perm], case.targets)
    np.testing.assert_allclose(
        shuffled.probabilities, ref.probabilities[:, perm], rtol=0, atol=ATOL
    )
    np.testing.assert_allclose(shuffled.log_evidence, ref.log_evidence[:, perm], rtol=0, atol=ATOL)


@hypothesis_settings(max_examples=50)
@given(case=query_cases(max_patients=12), seed=SEEDS, n_draws=st.integers(1, 3))
def test_grouping_of_patients_does_not_matter(case, seed, n_draws):
    rng = np.random.default_rng(seed)
    cpts = random_cpts(rng, case.network, n_draws)
    engine = Engine(case.network, cpts=cpts)
    ref = engine.query(case.codes, case.targets)
    n = len(case.codes)
    # one at a time, each with a fresh engine (no shared plan cache) ...
    for r in range(n):
        single = Engine(case.network, cpts=cpts).query(case.codes[r : r + 1], case.targets)
        np.testing.assert_allclose(
            single.probabilities[:, 0], ref.probabilities[:, r], rtol=0, atol=ATOL
        )
        np.testing.assert_allclose(
            single.log_evidence[:, 0], ref.log_evidence[:, r], rtol=0, atol=ATOL
        )
    # ... one at a time on one engine, then the whole batch on that warm engine ...
    warm = Engine(case.network, cpts=cpts)
    for r in range(n):
        single = warm.query(case.codes[r : r + 1], case.targets)
        np.testing.assert_allclose(
            single.probabilities[:, 0], ref.probabilities[:, r], rtol=0, atol=ATOL
        )
    again = warm.query(case.codes, case.targets)
    np.testing.assert_allclose(again.probabilities, ref.probabilities, rtol=0, atol=ATOL)
    np.testing.assert_allclose(again.log_evidence, ref.log_evidence, rtol=0, atol=ATOL)
    # ... and in random contiguous splits of a random order, reusing the engine
    order = rng.permutation(n)
    n_cuts = min(n - 1, int(rng.integers(0, 4)))
    cuts = np.sort(rng.choice(np.arange(1, n), size=n_cuts, replace=False)) if n_cuts else []
    for part in np.split(order, cuts):
        got = engine.query(case.codes[part], case.targets)
        np.testing.assert_allclose(got.probabilities, ref.probabilities[:, part], rtol=0, atol=ATOL)
        np.testing.assert_allclose(got.log_evidence, ref.log_evidence[:, part], rtol=0, atol=ATOL)


@hypothesis_settings(max_examples=40)
@given(case=query_cases(), seed=SEEDS, n_draws=st.integers(2, 4))
def test_stacked_draws_equal_separate_queries(case, seed, n_draws):
    rng = np.random.default_rng(seed)
    cpts = random_cpts(rng, case.network, n_draws)
    stacked = Engine(case.network, cpts=cpts).query(case.codes, case.targets)
    assert stacked.n_draws == n_draws
    log_ev = Engine(case.network, cpts=cpts).log_evidence(case.codes)
    for d in range(n_draws):
        one = draw_cpts(cpts, case.network, d)
        separate = Engine(case.network, cpts=one).query(case.codes, case.targets)
        assert separate.n_draws == 1
        np.testing.assert_allclose(
            stacked.probabilities[d], separate.probabilities[0], rtol=0, atol=ATOL
        )
        np.testing.assert_allclose(
            stacked.log_evidence[d], separate.log_evidence[0], rtol=0, atol=ATOL
        )
        np.testing.assert_allclose(log_ev[d], separate.log_evidence[0], rtol=0, atol=ATOL)
        # the same draw through a network built with those CPTs
        via_network = Engine(case.network.with_cpts(one)).query(case.codes, case.targets)
        np.testing.assert_allclose(
            via_network.probabilities[0], separate.probabilities[0], rtol=0, atol=ATOL
        )


@hypothesis_settings(max_examples=30)
@given(case=query_cases())
def test_evidence_forms_agree(case):
    """Codes, an EvidenceBatch and state-name records give the same answer."""
    net = case.network
    records = [
        {v.name: v.states[c] for v, c in zip(net.variables, row, strict=True) if c >= 0}
        for row in case.codes
    ]
    engine = Engine(net)
    a = engine.query(case.codes, case.targets)
    b = engine.query(EvidenceBatch(net, case.codes), case.targets)
    c = engine.query(records, case.targets)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.probabilities, c.probabilities)
    np.testing.assert_array_equal(a.log_evidence, c.log_evidence)
    if len(records) == 1:
        d = engine.query(records[0], case.targets)
        np.testing.assert_array_equal(a.probabilities, d.probabilities)
