"""The engine against pgmpy's VariableElimination, an independent implementation.

Networks too large for brute-force enumeration: random ones (15-30
variables) and the classic BIF networks, which are read with pgmpy's own
BIF reader and converted to npprob from pgmpy's CPDs (npprob's BIF reader is
not involved).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from pgmpy.factors.discrete import TabularCPD
from pgmpy.inference import VariableElimination
from pgmpy.models import DiscreteBayesianNetwork
from pgmpy.readwrite import BIFReader

from _oracles import NetSpec, forward_sample, spec_of
from npprob.inference import Engine
from npprob.network import Network, Variable
from strategies import base_seed, random_network

pytestmark = pytest.mark.oracle

ATOL = 1e-9
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "networks"
EXAMPLE_MODELS = Path(
    "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/pgmpy/utils/example_models"
)
BIF_NETWORKS = ["asia", "alarm", "child", "insurance", "hepar2"]


# -- conversions ----------------------------------------------------------------------


def to_pgmpy(spec: NetSpec) -> DiscreteBayesianNetwork:
    """A pgmpy model with the same CPTs (child axis first in pgmpy, last in npprob)."""
    model = DiscreteBayesianNetwork()
    model.add_nodes_from(spec.names)
    model.add_edges_from((p, n) for n in spec.names for p in spec.parents[n])
    for n in spec.names:
        parents = list(spec.parents[n])
        table = np.asarray(spec.cpts[n])
        card = len(spec.states[n])
        values = np.moveaxis(table, -1, 0).reshape(card, -1)
        model.add_cpds(
            TabularCPD(
                n,
                card,
                values,
                evidence=parents or None,
                evidence_card=[len(spec.states[p]) for p in parents] or None,
                state_names={v: list(spec.states[v]) for v in (n, *parents)},
            )
        )
    assert model.check_model()
    return model


def from_pgmpy(model: DiscreteBayesianNetwork, name: str) -> Network:
    """An npprob network built from a pgmpy model's CPDs.

    pgmpy stores ``cpd.values`` with shape ``(card(v), card(p1), ..., card(pk))``
    for ``cpd.variables == [v, p1, ..., pk]``; npprob wants the parents first
    and ``v`` last. Each parent axis is also permuted to that parent's own
    state order, should a CPD list the states differently.
    """
    cpds = {cpd.variable: cpd for cpd in model.get_cpds()}
    states = {v: tuple(str(s) for s in cpd.state_names[v]) for v, cpd in cpds.items()}
    variables, parents, tables = [], {}, {}
    for v, cpd in cpds.items():
        pa = [str(p) for p in cpd.variables[1:]]
        values = np.asarray(cpd.values, dtype=np.float64)
        assert values.shape == (len(states[v]), *(len(states[p]) for p in pa))
        for axis, p in enumerate(pa, start=1):
            here = [str(s) for s in cpd.state_names[p]]
            values = np.take(values, [here.index(s) for s in states[p]], axis=axis)
        variables.append(Variable(str(v), states[v]))
        parents[str(v)] = pa
        tables[str(v)] = np.moveaxis(values, 0, -1)
    return Network(variables, parents, tables, name=name)


def pgmpy_marginals(infer: VariableElimination, spec: NetSpec, codes_row, targets):
    """Posterior marginals from pgmpy, in npprob's state order."""
    evidence = {n: spec.states[n][c] for n, c in zip(spec.names, codes_row, strict=True) if c >= 0}
    factors = infer.query(
        list(targets), evidence=evidence or None, joint=False, show_progress=False
    )
    out = {}
    for t in targets:
        f = factors[t]
        assert list(f.variables) == [t]
        order = [list(f.state_names[t]).index(s) for s in spec.states[t]]
        out[t] = np.asarray(f.values, dtype=np.float64)[order]
    return out


def pgmpy_log_evidence(infer: VariableElimination, spec: NetSpec, codes_row) -> float:
    """log P(e) by the chain rule, one pgmpy query per observed variable."""
    observed = [
        (n, spec.states[n][c]) for n, c in zip(spec.names, codes_row, strict=True) if c >= 0
    ]
    total, given = 0.0, {}
    for n, state in observed:
        f = infer.query([n], evidence=dict(given) or None, show_progress=False)
        total += float(np.log(f.values[list(f.state_names[n]).index(state)]))
        given[n] = state
    return total


def observe_fraction(rng, spec: NetSpec, n_rows: int, fraction: float) -> np.ndarray:
    """Forward-sampled states with exactly ``fraction`` of the variables observed per row."""
    full = forward_sample(spec, rng, n_rows)
    n_obs = max(1, round(fraction * len(spec.names)))
    codes = np.full_like(full, -1)
    for r in range(n_rows):
        cols = rng.choice(len(spec.names), size=n_obs, replace=False)
        codes[r, cols] = full[r, cols]
    return codes


def check_rows(engine: Engine, infer, spec: NetSpec, codes: np.ndarray, rng, n_targets: int = 3):
    """Pick targets per row among its unobserved variables; compare engine and pgmpy.

    The engine answers all rows in one batch, for the union of the targets.
    """
    per_row = []
    for row in codes:
        hidden = [n for n, c in zip(spec.names, row, strict=True) if c < 0]
        per_row.append([str(t) for t in rng.choice(hidden, size=n_targets, replace=False)])
    union = list(dict.fromkeys(t for ts in per_row for t in ts))
    result = engine.query(codes, union)
    for r, (row, targets) in enumerate(zip(codes, per_row, strict=True)):
        expected = pgmpy_marginals(infer, spec, row, targets)
        for t in targets:
            np.testing.assert_allclose(
                result.marginal(t)[0, r], expected[t], rtol=0, atol=ATOL, err_msg=f"row {r}, {t}"
            )
    return result


# -- random networks ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_random_larger_networks(seed):
    rng = np.random.default_rng([base_seed(), 90_000 + seed])
    n_vars = int(rng.integers(15, 31))
    network = random_network(rng, n_vars, 4, 3, parent_window=6)
    spec = spec_of(network)
    infer = VariableElimination(to_pgmpy(spec))
    codes = observe_fraction(rng, spec, 8, float(rng.uniform(0.1, 0.5)))
    result = check_rows(Engine(network), infer, spec, codes, rng)
    for r in range(3):
        assert result.log_evidence[0, r] == pytest.approx(
            pgmpy_log_evidence(infer, spec, codes[r]), rel=0, abs=ATOL
        )


# -- the classic BIF networks ---------------------------------------------------------


def _bif_path(name: str) -> Path:
    path = FIXTURES / f"{name}.bif"
    if not path.exists():  # the fixtures are the gunzipped files pgmpy ships
        import gzip

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.decompress((EXAMPLE_MODELS / f"{name}.bif.gz").read_bytes()))
    return path


@functools.cache
def bif_case(name: str) -> tuple[DiscreteBayesianNetwork, Network, NetSpec]:
    model = BIFReader(str(_bif_path(name))).get_model()
    # Some files' rows sum to 1 only within 1e-7 (alarm, hepar2), which npprob
    # rejects; normalise in pgmpy first so both sides use identical numbers.
    for cpd in model.get_cpds():
        cpd.normalize(inplace=True)
    assert model.check_model()
    network = from_pgmpy(model, name)
    return model, network, spec_of(network)


@pytest.mark.parametrize("name", BIF_NETWORKS)
def test_conversion_from_pgmpy_is_faithful(name):
    """Spot-check the conversion: every CPT entry against pgmpy's own lookup."""
    model, network, spec = bif_case(name)
    assert set(network.names) == {str(n) for n in model.nodes()}
    rng = np.random.default_rng([base_seed(), 91_000])
    for n in network.names:
        cpd = model.get_cpds(n)
        assert set(network.parents(n)) == set(model.get_parents(n))
        table = network.cpt(n)
        for _ in range(5):
            pick = tuple(int(rng.integers(c)) for c in table.shape)
            assignment = {
                p: spec.states[p][i] for p, i in zip((*spec.parents[n], n), pick, strict=True)
            }
            assert table[pick] == cpd.get_value(**assignment)


@pytest.mark.parametrize("name", BIF_NETWORKS)
def test_bif_networks(name):
    model, network, spec = bif_case(name)
    infer = VariableElimination(model)
    rng = np.random.default_rng([base_seed(), 92_000 + BIF_NETWORKS.index(name)])
    codes = observe_fraction(rng, spec, 10, 0.3)
    result = check_rows(Engine(network), infer, spec, codes, rng)
    assert not result.zero_probability.any()
    for r in range(5):
        assert result.log_evidence[0, r] == pytest.approx(
            pgmpy_log_evidence(infer, spec, codes[r]), rel=0, abs=ATOL
        )
