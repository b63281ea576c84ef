"""Random networks and evidence for tests, plus Hypothesis strategies built on them.

The Hypothesis strategies draw only a seed and a few sizes and then call the
numpy-based generators below, so shrinking works on small integers and a
failing example is reproduced by its printed seed.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from _oracles import NetSpec, forward_sample, spec_of
from npprob.network import Network, Variable

__all__ = [
    "DEFAULT_SEED",
    "SEEDS",
    "QueryCase",
    "base_seed",
    "draw_cpts",
    "hypothesis_settings",
    "networks",
    "query_cases",
    "random_codes",
    "random_cpts",
    "random_network",
    "random_table",
    "sample_evidence",
]


#: Seed used when ``NPPROB_TEST_SEED`` is not set.
DEFAULT_SEED = 20261127


def base_seed() -> int:
    """The session's base seed: ``NPPROB_TEST_SEED`` or :data:`DEFAULT_SEED`."""
    return int(os.environ.get("NPPROB_TEST_SEED", DEFAULT_SEED))


def hypothesis_settings(max_examples: int) -> settings:
    """Settings for the property tests: no deadline, no on-disk database, reproducible."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def random_table(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    zero_fraction: float = 0.0,
    alpha: float | None = None,
) -> np.ndarray:
    """Dirichlet rows over the last axis; a ``zero_fraction`` of entries set to exactly 0.

    Every row keeps at least one positive entry and is renormalised.
    """
    card = shape[-1]
    n_rows = int(np.prod(shape[:-1], dtype=np.int64))
    if alpha is None:
        alpha = float(rng.choice([0.5, 1.0, 2.0]))
    rows = rng.dirichlet(np.full(card, alpha), size=n_rows)
    rows = np.maximum(rows, 1e-12)  # no denormals or accidental zeros from the sampler
    if zero_fraction > 0:
        zero = rng.random(rows.shape) < zero_fraction
        for r in np.flatnonzero(zero.all(axis=1)):
            zero[r, rng.integers(card)] = False
        rows[zero] = 0.0
    rows /= rows.sum(axis=1, keepdims=True)
    return rows.reshape(shape)


def random_network(
    rng: np.random.Generator,
    n_vars: int,
    max_card: int,
    max_parents: int,
    zero_fraction: float = 0.0,
    *,
    min_card: int = 2,
    parent_window: int | None = None,
    name: str = "random",
) -> Network:
    """A random DAG with random cardinalities and Dirichlet CPTs.

    Parameters
    ----------
    rng : Generator
        Source of randomness.
    n_vars : int
        Number of variables.
    max_card, min_card : int
        Cardinalities are uniform on ``min_card..max_card``.
    max_parents : int
        Each variable gets 0..max_parents parents among earlier variables of
        a hidden generation order, in a random axis order.
    zero_fraction : float, default=0
        Probability that a CPT entry is set to exactly 0 (rows stay valid).
    parent_window : int, optional
        Parents come from the ``parent_window`` variables generated just
        before; keeps treewidth small for larger networks.

    Notes
    -----
    Variables are handed to :class:`Network` in a shuffled order, so the
    network has to sort them topologically itself.
    """
    names = [f"x{i}" for i in range(n_vars)]
    cards = rng.integers(min_card, max_card + 1, size=n_vars)
    parents: dict[str, list[str]] = {}
    cpts: dict[str, np.ndarray] = {}
    for i, n in enumerate(names):
        lo = 0 if parent_window is None else max(0, i - parent_window)
        candidates = np.arange(lo, i)
        k = int(rng.integers(0, min(max_parents, len(candidates)) + 1))
        pa = [int(p) for p in rng.choice(candidates, size=k, replace=False)] if k else []
        parents[n] = [names[p] for p in pa]
        shape = (*(int(cards[p]) for p in pa), int(cards[i]))
        cpts[n] = random_table(rng, shape, zero_fraction)
    variables = [
        Variable(n, tuple(f"s{j}" for j in range(int(c))))
        for n, c in zip(names, cards, strict=True)
    ]
    shuffled = [variables[i] for i in rng.permutation(n_vars)]
    return Network(shuffled, parents, cpts, name=name)


def random_cpts(
    rng: np.random.Generator,
    network: Network,
    n_draws: int,
    zero_fraction: float = 0.0,
    stacked_fraction: float = 0.7,
) -> dict[str, np.ndarray]:
    """Parameter draws for ``network``: each CPT stacked ``(n_draws, *shape)`` or single.

    A ``stacked_fraction`` of the variables get ``n_draws`` fresh tables; the
    others keep one table (sometimes with a leading axis of 1), which the
    engine must broadcast. At least one variable is stacked when ``n_draws > 1``.
    """
    names = list(network.names)
    stacked = rng.random(len(names)) < stacked_fraction
    if n_draws > 1 and not stacked.any():
        stacked[rng.integers(len(names))] = True
    out: dict[str, np.ndarray] = {}
    for n, s in zip(names, stacked, strict=True):
        shape = network.cpt_shape(n)
        if s:
            out[n] = np.stack([random_table(rng, shape, zero_fraction) for _ in range(n_draws)])
        else:
            table = random_table(rng, shape, zero_fraction)
            out[n] = table[None] if rng.random() < 0.3 else table
    return out


def draw_cpts(cpts: dict[str, np.ndarray], network: Network, draw: int) -> dict[str, np.ndarray]:
    """The single parameter set ``draw`` of :func:`random_cpts`' output."""
    out = {}
    for n, arr in cpts.items():
        shape = network.cpt_shape(n)
        out[n] = arr if arr.shape == shape else arr[draw if arr.shape[0] > 1 else 0]
    return out


def sample_evidence(
    rng: np.random.Generator,
    spec: NetSpec,
    n_patients: int,
    observe: float | np.ndarray | None = None,
) -> np.ndarray:
    """Possible evidence: forward-sampled states with a random subset hidden (-1).

    ``observe`` is the probability that a variable is observed, per patient
    when an array; by default each patient gets its own uniform rate, so the
    missing patterns differ.
    """
    full = forward_sample(spec, rng, n_patients)
    if observe is None:
        observe = rng.random(n_patients)
    observe = np.broadcast_to(np.asarray(observe, dtype=float), (n_patients,))
    mask = rng.random(full.shape) < observe[:, None]
    return np.where(mask, full, -1)


def random_codes(
    rng: np.random.Generator, spec: NetSpec, n_patients: int, observe: float
) -> np.ndarray:
    """Evidence with uniformly random states (may have probability zero)."""
    cards = np.array(spec.cards)
    full = (rng.random((n_patients, len(cards))) * cards).astype(np.int64)
    mask = rng.random(full.shape) < observe
    return np.where(mask, full, -1)


# -- Hypothesis strategies -----------------------------------------------------------

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def networks(
    draw: st.DrawFn,
    min_vars: int = 2,
    max_vars: int = 6,
    max_card: int = 4,
    max_parents: int = 3,
    zero_fraction: float = 0.0,
) -> Network:
    """A random network from :func:`random_network`, via a drawn seed and sizes."""
    seed = draw(SEEDS)
    n_vars = draw(st.integers(min_vars, max_vars))
    card = draw(st.integers(2, max_card))
    parents = draw(st.integers(0, max_parents))
    return random_network(np.random.default_rng(seed), n_vars, card, parents, zero_fraction)


class QueryCase:
    """A network, possible evidence codes (in ``network.names`` order) and targets."""

    def __init__(
        self, network: Network, codes: np.ndarray, targets: tuple[str, ...], seed: int
    ) -> None:
        self.network = network
        self.spec = spec_of(network)
        self.codes = codes
        self.targets = targets
        self.seed = seed

    def __repr__(self) -> str:
        return (
            f"QueryCase(n_vars={len(self.network)}, n_patients={len(self.codes)}, "
            f"targets={self.targets}, seed={self.seed})"
        )


@st.composite
def query_cases(
    draw: st.DrawFn,
    max_vars: int = 6,
    max_card: int = 4,
    max_patients: int = 8,
) -> QueryCase:
    """A network, a batch of possible evidence and a target set (1..all variables)."""
    network = draw(networks(max_vars=max_vars, max_card=max_card))
    seed = draw(SEEDS)
    n_patients = draw(st.integers(1, max_patients))
    rng = np.random.default_rng(seed)
    spec = spec_of(network)
    codes = sample_evidence(rng, spec, n_patients)
    n_targets = int(rng.integers(1, len(network) + 1))
    targets = tuple(str(t) for t in rng.permutation(network.names)[:n_targets])
    return QueryCase(network, codes, targets, seed)
