"""What the marginal likelihood conditions on by default, and how the data are prepared."""

from __future__ import annotations

import numpy as np
import pytest

from npprob.errors import EvidenceError, ParameterError
from npprob.io.resources import clinical_spec_path
from npprob.learning.problem import default_conditioned, denominator_rows, prepare_problem
from npprob.network.network import Network
from npprob.network.sampling import forward_sample
from npprob.network.spec import load_spec
from npprob.network.variable import Variable


@pytest.fixture(scope="module")
def spec():
    return load_spec(clinical_spec_path())


def two_roots() -> Network:
    """Two root findings, a context root, a latent class and one finding under it."""
    variables = [
        Variable("r1", ("a", "b"), role="history"),
        Variable("r2", ("a", "b"), role="history"),
        Variable("ctx", ("absent", "present"), role="context"),
        Variable("cls", ("absent", "present"), role="latent"),
        Variable("f", ("absent", "present"), role="sign"),
    ]
    parents = {"r1": [], "r2": [], "ctx": [], "cls": ["r1", "r2", "ctx"], "f": ["cls"]}
    cpts = {
        "r1": np.array([0.3, 0.7]),
        "r2": np.array([0.6, 0.4]),
        "ctx": np.array([0.5, 0.5]),
        "cls": np.full((2, 2, 2, 2), 0.5),
        "f": np.array([[0.9, 0.1], [0.2, 0.8]]),
    }
    return Network(variables, parents, cpts)


def test_default_is_the_recorded_root_findings_of_the_clinical_network(spec) -> None:
    net = spec.network
    codes = np.asarray(forward_sample(net, 30, np.random.default_rng(1)), dtype=np.int16)
    assert default_conditioned(net, codes) == ("aetiology",)
    assert default_conditioned(net, codes, spec.context) == ("aetiology",)
    assert prepare_problem(net, codes, selection=spec.context).conditioned == ("aetiology",)
    codes[:, net.index("aetiology")] = -1
    assert default_conditioned(net, codes) == ()
    # Recorded for no patient: nothing to condition on, it is summed out instead.
    assert prepare_problem(net, codes).conditioned == ()


def test_default_excludes_the_context_and_partly_recorded_roots() -> None:
    net = two_roots()
    codes = np.asarray(forward_sample(net, 20, np.random.default_rng(2)), dtype=np.int16)
    assert default_conditioned(net, codes) == ("r1", "r2")  # the context is no finding
    codes[0, net.index("r2")] = -1
    assert default_conditioned(net, codes) == ("r1",)
    assert default_conditioned(net, codes, {"ctx": "present"}) == ("r1",)
    with pytest.raises(EvidenceError, match="'r2' is missing in 1 patient"):
        prepare_problem(net, codes)
    assert prepare_problem(net, codes, conditioned=("r1",)).conditioned == ("r1",)


def test_default_with_a_selection_refuses_several_roots() -> None:
    net = two_roots()
    codes = np.asarray(forward_sample(net, 20, np.random.default_rng(3)), dtype=np.int16)
    with pytest.raises(ParameterError, match="at most one"):
        default_conditioned(net, codes, {"ctx": "present"})
    with pytest.raises(ParameterError, match="at most one"):
        prepare_problem(net, codes, selection={"ctx": "present"})
    chosen = prepare_problem(net, codes, selection={"ctx": "present"}, conditioned=("r2",))
    assert chosen.conditioned == ("r2",)


def test_denominator_rows_hold_the_conditioned_context_and_the_selection() -> None:
    net = two_roots()
    codes = np.asarray(forward_sample(net, 50, np.random.default_rng(4)), dtype=np.int16)
    problem = prepare_problem(net, codes, selection={"ctx": "present"}, conditioned=("r1",))
    den, index = denominator_rows(net, problem)
    r1, ctx = net.index("r1"), net.index("ctx")
    assert sorted(den[:, r1]) == sorted(np.unique(codes[:, r1]))
    assert (den[:, ctx] == 1).all()
    others = [i for i in range(len(net)) if i not in (r1, ctx)]
    assert (den[:, others] == -1).all()
    np.testing.assert_array_equal(den[index, r1], problem.codes[:, r1])
