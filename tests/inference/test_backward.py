"""The backward pass: every marginal from one elimination and its derivatives.

Expected numbers come from brute-force enumeration (:mod:`_oracles`) or the chain's
log-space forward-backward; the structure checks read the compiled plan.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from _oracles import brute_force, spec_of
from npprob.inference import Engine
from npprob.inference.layout import ParameterLayout
from npprob.inference.plan import compile_plan
from npprob.network import Network, Variable
from strategies import base_seed, draw_cpts, random_cpts, random_network, sample_evidence

pytestmark = pytest.mark.compat

ATOL = 1e-10


def _gathers(plan) -> int:
    """Per-lane multiply-adds of a plan: forward, backward (inputs with a derivative), post."""
    forward = int((plan.w_out_size * plan.w_sum_size * np.diff(plan.w_in_start)).sum())
    post = int((plan.p_out_size * plan.p_sum_size * np.diff(plan.p_in_start)).sum())
    backward = 0
    for b, op in enumerate(plan.b_op):
        lo, hi = plan.w_in_start[op], plan.w_in_start[op + 1]
        size = int(plan.w_out_size[op] * plan.w_sum_size[op])
        # Each input with a derivative: the others' product and one scatter; each op
        # read by extractions: its whole product (one more factor when a derivative's
        # product is at hand) and one scatter per extraction.
        with_derivative = int(plan.in_adj[lo:hi].sum())
        backward += size * (hi - lo) * with_derivative
        extractions = int(plan.b_e_start[b + 1] - plan.b_e_start[b])
        if extractions:
            backward += size * ((1 if with_derivative else hi - lo) + extractions)
    return forward + backward + post


def _barren_network() -> Network:
    """A -> F (recorded); A -> C and C -> D, both with nothing recorded below them.

    C is barren for a query of A: its marginal comes from its CPT and A's posterior
    (post ops). D's parent C is barren too: D gets a program of its own.
    """
    yes_no = ("no", "yes")
    variables = [
        Variable("A", ("a0", "a1", "a2")),
        Variable("C", yes_no),
        Variable("D", yes_no),
        Variable("F", yes_no, role="finding"),
        Variable("G", yes_no, role="finding"),
    ]
    parents = {"C": ["A", "G"], "D": ["C"], "F": ["A"]}
    cpts = {
        "A": [0.5, 0.3, 0.2],
        "G": [0.6, 0.4],
        "C": [[[0.9, 0.1], [0.6, 0.4]], [[0.4, 0.6], [0.3, 0.7]], [[0.2, 0.8], [0.5, 0.5]]],
        "D": [[0.7, 0.3], [0.1, 0.9]],
        "F": [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]],
    }
    return Network(variables, parents, cpts, name="barren")


def test_barren_targets_come_from_their_parents_joint_or_a_program_of_their_own():
    network = _barren_network()
    layout = ParameterLayout(network)
    evidence = frozenset({network.index("F"), network.index("G")})
    targets = tuple(network.index(t) for t in ("A", "C", "D"))
    plan = compile_plan(layout, evidence, targets)
    assert plan.backward
    assert len(plan.p_out_size) >= 1  # C: its CPT times A's joint with the evidence
    assert len(plan.orders) == 2  # A's elimination, and D's own program
    codes = np.array([[-1, -1, -1, 1, 0], [-1, -1, -1, 0, 1], [-1, -1, -1, 1, 1]])
    names = ["A", "C", "D"]
    result = Engine(network).query(codes, names)
    expected = brute_force(spec_of(network), codes, names)
    np.testing.assert_allclose(result.probabilities[0], expected.stacked(names), atol=ATOL)
    np.testing.assert_allclose(result.log_evidence[0], np.log(expected.p_evidence), atol=ATOL)


@pytest.mark.parametrize("seed", range(60))
def test_the_first_target_is_the_same_to_the_last_bit_with_or_without_others(seed):
    """Asking more hidden targets leaves the first one's answer and P(evidence) untouched.

    (Targets that some patients record change how patients are grouped into plans;
    diagnose's other targets are never recorded.)
    """
    rng = np.random.default_rng([base_seed(), 40_000 + seed])
    network = random_network(rng, int(rng.integers(3, 9)), 3, 3)
    cpts = random_cpts(rng, network, 2)
    codes = sample_evidence(rng, spec_of(network), int(rng.integers(2, 9)))
    hidden = [n for j, n in enumerate(network.names) if (codes[:, j] < 0).all()]
    first = str(rng.choice(network.names))
    targets = [first, *(str(t) for t in rng.permutation(hidden) if t != first)]
    engine = Engine(network, cpts=cpts)
    alone = engine.query(codes, targets[0], on_zero="nan")
    every = engine.query(codes, targets, on_zero="nan")
    card = alone.probabilities.shape[2]
    np.testing.assert_array_equal(every.probabilities[..., :card], alone.probabilities)
    np.testing.assert_array_equal(every.log_evidence, alone.log_evidence)
    for d in range(2):
        expected = brute_force(spec_of(network).with_cpts(draw_cpts(cpts, network, d)),
                               codes, targets)  # fmt: skip
        ok = expected.p_evidence > 0
        np.testing.assert_allclose(every.probabilities[d][ok], expected.stacked(targets)[ok],
                                   atol=ATOL)  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_the_first_target_keeps_its_bits_on_larger_networks(seed):
    """Networks of up to 11 variables of up to 4 states: ops kept per lane for the
    backward pass must not change which inputs the first target's program merges."""
    rng = np.random.default_rng([base_seed(), 41_000 + seed])
    network = random_network(rng, int(rng.integers(5, 12)), 4, 4)
    codes = sample_evidence(rng, spec_of(network), 6)
    hidden = [n for j, n in enumerate(network.names) if (codes[:, j] < 0).all()]
    first = str(rng.choice(network.names))
    targets = [first, *(str(t) for t in rng.permutation(hidden) if t != first)]
    engine = Engine(network)
    alone = engine.query(codes, first, on_zero="nan")
    every = engine.query(codes, targets, on_zero="nan")
    card = alone.probabilities.shape[2]
    np.testing.assert_array_equal(every.probabilities[..., :card], alone.probabilities)
    np.testing.assert_array_equal(every.log_evidence, alone.log_evidence)


def test_merging_pairs_is_decided_as_if_nothing_were_kept_per_lane():
    """A case where keeping the other targets' ops per lane once changed the pairs the
    first program merged (1e-16 apart from the target asked alone)."""
    rng = np.random.default_rng([5, 263])
    n = int(rng.integers(5, 12))
    network = random_network(rng, n, 4, 4)
    names = list(network.names)
    codes = np.full((1, n), -1)
    codes[0, 8] = 0
    targets = [names[i] for i in (9, 6, 0, 3, 4, 7, 2, 5, 1)]
    engine = Engine(network)
    alone = engine.query(codes, targets[0])
    every = engine.query(codes, targets)
    card = alone.probabilities.shape[2]
    np.testing.assert_array_equal(every.probabilities[..., :card], alone.probabilities)
    ids = tuple(network.index(t) for t in targets)
    layout = ParameterLayout(network)
    evidence = frozenset({8})
    first_ops = compile_plan(layout, evidence, ids[:1])
    with_others = compile_plan(layout, evidence, ids)
    assert with_others.backward

    # The first program's ops (output size, summed size, inputs) are all in the plan
    # with the others, constant or per lane.
    def shapes(plan):
        out = []
        for size, summed, start in (("c_out_size", "c_sum_size", "c_in_start"),
                                    ("w_out_size", "w_sum_size", "w_in_start")):  # fmt: skip
            starts = getattr(plan, start)
            out += list(zip(getattr(plan, size).tolist(), getattr(plan, summed).tolist(),
                            np.diff(starts).tolist(), strict=True))  # fmt: skip
        return Counter(out)

    assert not shapes(first_ops) - shapes(with_others)


def test_the_clinical_query_costs_about_two_eliminations():
    """diagnose's seven marginals: under three times the target alone, well under programs."""
    from npprob.diagnosis import load_model
    from npprob.diagnosis.columns import PROBABILITY_COLUMNS

    model = load_model()
    network = model.network
    layout = model.engine.layout
    evidence = frozenset(network.index(v.name) for v in network.findings)
    target = model.spec.target.name
    every = [target, *(v for v in PROBABILITY_COLUMNS.values() if v and v in network)]
    ids = tuple(network.index(v) for v in every)
    alone = compile_plan(layout, evidence, ids[:1])
    backward = compile_plan(layout, evidence, ids)
    programs = compile_plan(layout, evidence, ids, programs="auto")
    assert backward.backward
    assert not programs.backward
    assert _gathers(backward) < 3 * _gathers(alone), (_gathers(backward), _gathers(alone))
    assert _gathers(backward) < 0.7 * _gathers(programs), (
        _gathers(backward),
        _gathers(programs),
    )


def test_an_unknown_program_mode_is_refused():
    network = _barren_network()
    with pytest.raises(ValueError, match="programs must be one of"):
        compile_plan(ParameterLayout(network), frozenset(), (0, 1), programs="junction")


def test_column_index_names_the_state_of_each_column():
    from npprob.errors import EvidenceError

    network = _barren_network()
    result = Engine(network).query([{"F": "yes"}], ["C", "A"])
    for target in ("A", "C"):
        states = network.variable(target).states
        for s, state in enumerate(states):
            assert result.columns[result.column_index(target, s)] == f"{target}={state}"
    with pytest.raises(EvidenceError, match="no state 2"):
        result.column_index("C", 2)
    with pytest.raises(EvidenceError, match="was not queried"):
        result.column_index("D", 0)
