"""The marginal likelihood graph against independent oracles.

* ``log_evidence_graph`` against brute-force enumeration of the joint on random
  networks, and against the engine (itself checked against brute force and
  pgmpy) on the clinical network, with scattered missing findings, conditioned
  roots and a noisy label (an augmented network with the label as a real node);
* its PyTensor gradient against expected family counts:
  d/dtheta[u, x] sum_i log P(e_i) = sum_i P(u, x | e_i) / theta[u, x], with the
  posteriors from ``Engine.joint`` (compared along the simplex: differences
  between the states of a row);
* data preparation errors, the population root under selection, and the
  label-switching check.

PyTensor graphs are compiled with the numba backend (seconds, not minutes).
"""

from __future__ import annotations

import numpy as np
import pytest
from tests._oracles import brute_force, spec_of
from tests.strategies import random_network

from npprob.errors import EvidenceError
from npprob.inference.engine import Engine
from npprob.io.resources import clinical_spec_path
from npprob.learning.fit import population_root
from npprob.learning.marginal import (
    LabelModel,
    log_evidence_graph,
    orientation_problems,
    prepare_problem,
)
from npprob.network.network import Network
from npprob.network.sampling import forward_sample
from npprob.network.spec import load_spec
from npprob.network.variable import Variable

pytestmark = [
    pytest.mark.pymc,
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning"),
]


def evaluate(graph) -> np.ndarray:
    import pytensor

    return pytensor.function([], graph, mode="NUMBA")()


@pytest.fixture(scope="module")
def spec():
    return load_spec(clinical_spec_path())


def clinical_codes(spec, n: int, seed: int, p_missing: float) -> np.ndarray:
    """Recorded findings of forward-sampled patients; latent variables hidden."""
    net = spec.network
    rng = np.random.default_rng(seed)
    codes = forward_sample(net, n, rng).astype(np.int16)
    hidden = [net.index(v.name) for v in net.variables if v.role in ("latent", "derived")]
    codes[:, hidden] = -1
    findings = [
        net.index(v.name) for v in net.variables if v.role in ("sign", "symptom", "lesion_evidence")
    ]
    lost = rng.random((n, len(findings))) < p_missing
    block = codes[:, findings]
    block[lost] = -1
    codes[:, findings] = block
    return codes


@pytest.mark.parametrize("seed", range(6))
def test_random_networks_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    net = random_network(rng, n_vars=7, max_card=3, max_parents=3)
    oracle = spec_of(net)
    full = np.asarray(forward_sample(net, 40, rng), dtype=np.int16)
    codes = np.where(rng.random(full.shape) < 0.5, full, -1).astype(np.int16)
    theta = {n: np.asarray(net.cpt(n), dtype=np.float64) for n in net.names}
    mine = evaluate(log_evidence_graph(net, theta, codes))
    expected = np.log(brute_force(oracle, codes, []).p_evidence)
    np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("p_missing", [0.0, 0.3])
def test_clinical_network_matches_engine(spec, p_missing: float) -> None:
    net = spec.network
    codes = clinical_codes(spec, 400, seed=3, p_missing=p_missing)
    draw = spec.prior_draws(1, seed=11)
    theta = {n: np.asarray(v[0]) for n, v in draw.items()}
    mine = evaluate(log_evidence_graph(net, theta, codes))
    expected = Engine(net, theta).log_evidence(codes)[0]
    np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-9)
    # Conditioning on the root: the root's own CPT factor leaves the sum.
    conditional = evaluate(log_evidence_graph(net, theta, codes, skip=["aetiology"]))
    log_root = np.log(theta["aetiology"][codes[:, net.index("aetiology")]])
    np.testing.assert_allclose(conditional, expected - log_root, rtol=0, atol=1e-9)


def test_partly_observed_parent_matches_engine(spec) -> None:
    """sensory_loss has children; missing in some rows it becomes latent with evidence."""
    net = spec.network
    codes = clinical_codes(spec, 300, seed=4, p_missing=0.0)
    rng = np.random.default_rng(5)
    col = net.index("sensory_loss")
    codes[rng.random(len(codes)) < 0.5, col] = -1
    theta = {n: np.asarray(net.cpt(n), dtype=np.float64) for n in net.names}
    mine = evaluate(log_evidence_graph(net, theta, codes))
    np.testing.assert_allclose(mine, Engine(net).log_evidence(codes)[0], rtol=0, atol=1e-9)


def with_label_node(net: Network, table: np.ndarray) -> Network:
    """The clinical network plus the label as an ordinary child of neuropathic."""
    variables = [*net.variables, Variable("label", ("0", "1"))]
    parents = {n: list(net.parents(n)) for n in net.names}
    parents["label"] = ["neuropathic"]
    cpts = {n: np.asarray(net.cpt(n)) for n in net.names}
    cpts["label"] = table
    return Network(variables, parents, cpts)


def test_noisy_label_matches_augmented_network(spec) -> None:
    net = spec.network
    codes = clinical_codes(spec, 300, seed=6, p_missing=0.2)
    rng = np.random.default_rng(7)
    label = rng.integers(0, 2, len(codes)).astype(np.int16)
    label[rng.random(len(codes)) < 0.2] = -1
    table = np.array([[0.85, 0.15], [0.2, 0.8]])
    theta = {n: np.asarray(net.cpt(n), dtype=np.float64) for n in net.names}
    mine = evaluate(log_evidence_graph(net, theta, codes, label=("neuropathic", table, label)))
    augmented = with_label_node(net, table)
    expected = Engine(augmented).log_evidence(np.column_stack([codes, label]))[0]
    np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-9)


def test_gradient_is_expected_counts_over_theta(spec) -> None:
    import pytensor
    import pytensor.tensor as pt

    net = spec.network
    codes = clinical_codes(spec, 200, seed=8, p_missing=0.25)
    theta = {n: np.asarray(net.cpt(n), dtype=np.float64) for n in net.names}
    names = ["neuropathic", "central_sensitisation", "brush_allodynia", "time_since_lesion"]
    inputs = {n: pt.tensor(n, shape=theta[n].shape, dtype="float64") for n in names}
    symbolic = {**theta, **inputs}
    total = log_evidence_graph(net, symbolic, codes).sum()
    grads = pytensor.function(
        [inputs[n] for n in names], pytensor.grad(total, [inputs[n] for n in names]), mode="NUMBA"
    )(*[theta[n] for n in names])
    engine = Engine(net)
    for name, grad in zip(names, grads, strict=True):
        family = [*net.parents(name), name]
        posterior = engine.joint(codes, family)[0]  # (patients, *family cards)
        table = theta[name]
        possible = table > 0  # structural zeros are no parameters
        expected = np.where(possible, posterior.sum(axis=0) / np.where(possible, table, 1), 0)
        # A missing leaf's row is summed out as the constant 1 (rows sum to 1), so the
        # gradients agree up to a constant per CPT row: compare differences between states.
        both = possible & possible[..., :1]
        assert both[..., 1:].sum() >= 2
        np.testing.assert_allclose(
            (grad - grad[..., :1])[both], (expected - expected[..., :1])[both],
            rtol=1e-7, atol=1e-7, err_msg=name,
        )  # fmt: skip


def test_prepare_problem_collapses_rows_and_applies_selection(spec) -> None:
    net = spec.network
    codes = clinical_codes(spec, 500, seed=9, p_missing=0.0)
    codes[:, net.index("chronic_pain")] = 1
    doubled = np.concatenate([codes, codes])
    problem = prepare_problem(net, doubled, selection={"chronic_pain": "present"})
    assert problem.weights.sum() == len(doubled)
    assert problem.n_patients == len(doubled)
    assert len(problem.codes) == len(np.unique(codes, axis=0))
    assert (problem.weights % 2 == 0).all()
    assert (problem.codes[:, net.index("chronic_pain")] == 1).all()


def test_prepare_problem_errors(spec) -> None:
    net = spec.network
    codes = clinical_codes(spec, 50, seed=10, p_missing=0.0)
    missing_root = codes.copy()
    missing_root[3, net.index("aetiology")] = -1
    with pytest.raises(EvidenceError, match="'aetiology' is missing in 1 patient"):
        prepare_problem(net, missing_root)
    with pytest.raises(EvidenceError, match="0, 1 or -1"):
        prepare_problem(net, codes, label=np.full(len(codes), 2))
    with pytest.raises(EvidenceError, match="one per patient"):
        prepare_problem(net, codes, label=np.zeros(len(codes) - 1))
    with pytest.raises(EvidenceError, match="root variables"):
        prepare_problem(net, codes, conditioned=("lesion",))
    with pytest.raises(EvidenceError, match="non-empty"):
        prepare_problem(net, codes[:0])


def test_population_root_gives_back_the_selected_distribution(spec) -> None:
    """Conditioning the returned network on the selection recovers P(root | selected)."""
    net = spec.network
    draws = spec.prior_draws(3, seed=12)
    rng = np.random.default_rng(13)
    selected = rng.dirichlet(np.ones(spec.network.variable("aetiology").cardinality), size=3)
    draws["aetiology"] = selected
    draws["aetiology"] = population_root(net, draws, "aetiology", {"chronic_pain": "present"})
    back = Engine(net, draws).query({"chronic_pain": "present"}, ["aetiology"])
    np.testing.assert_allclose(back.marginal("aetiology")[:, 0, :], selected, atol=1e-12)


def test_label_model_prior() -> None:
    model = LabelModel.from_accuracy("neuropathic", 0.9, 20)
    np.testing.assert_allclose(model.concentration, [[18, 2], [2, 18]])
    with pytest.raises(ValueError, match="accuracy"):
        LabelModel.from_accuracy("neuropathic", 0.4, 20)


def test_orientation_flags_a_flipped_chain(spec) -> None:
    draws = spec.prior_draws(2, seed=14)
    means = {k: np.asarray(v) for k, v in draws.items()}
    assert orientation_problems(spec, {k: v.mean(0, keepdims=True) for k, v in means.items()}) == []
    flipped = {k: np.stack([v.mean(0), v.mean(0)]) for k, v in means.items()}
    # Chain 1: confirmatory test more often positive without a lesion.
    flipped["confirmatory_test"][1] = flipped["confirmatory_test"][1][::-1]
    problems = orientation_problems(spec, flipped)
    assert problems
    assert all(p.startswith("chain 1:") for p in problems)
    assert any("confirmatory_test" in p for p in problems)
    label = {
        "label_sensitivity": np.array([0.85, 0.2]),
        "label_false_positive_rate": np.array([0.1, 0.7]),
    }
    same = {k: np.stack([v.mean(0), v.mean(0)]) for k, v in means.items()}
    problems = orientation_problems(spec, same, label_chain_means=label)
    assert len(problems) == 1
    assert problems[0].startswith("chain 1:")
