"""Independent reference answers: brute-force enumeration of the full joint.

Nothing here imports npprob's inference code. A network is described by
plain data (names, cardinalities, parents, CPTs with the child axis last), the
joint distribution is built by multiplying every CPT over all configurations,
and posteriors come from slicing the joint at the evidence and summing.
It is exponential in the number of variables, so only for small networks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BruteForceResult",
    "NetSpec",
    "brute_force",
    "forward_sample",
    "joint_table",
    "spec_of",
]


@dataclass(frozen=True)
class NetSpec:
    """A network as plain data.

    ``cpts[v]`` has shape ``(card(parents[v][0]), ..., card(v))``. ``names``
    fixes the axis order of :func:`joint_table` and the column order of codes;
    it need not be topological.
    """

    names: tuple[str, ...]
    states: Mapping[str, tuple[str, ...]]
    parents: Mapping[str, tuple[str, ...]]
    cpts: Mapping[str, np.ndarray]

    @property
    def cards(self) -> tuple[int, ...]:
        return tuple(len(self.states[n]) for n in self.names)

    def with_cpts(self, cpts: Mapping[str, np.ndarray]) -> NetSpec:
        """A copy with some CPTs replaced."""
        return NetSpec(self.names, self.states, self.parents, {**self.cpts, **cpts})


def spec_of(network, cpts: Mapping[str, np.ndarray] | None = None) -> NetSpec:
    """Read a network's data (names, states, parents, CPTs) into a :class:`NetSpec`.

    Only the network's data accessors are used, never its inference code.
    """
    names = tuple(network.names)
    states = {v.name: tuple(v.states) for v in network.variables}
    parents = {n: tuple(network.parents(n)) for n in names}
    tables = {n: np.array(network.cpt(n), dtype=np.float64) for n in names}
    if cpts:
        tables.update({k: np.asarray(v, dtype=np.float64) for k, v in cpts.items()})
    return NetSpec(names, states, parents, tables)


def joint_table(spec: NetSpec) -> np.ndarray:
    """P(x_1, ..., x_n) for every configuration; axis ``i`` is ``spec.names[i]``."""
    cards = spec.cards
    grids = np.indices(cards, sparse=True)
    axis = {n: i for i, n in enumerate(spec.names)}
    joint = np.ones(cards, dtype=np.float64)
    for n in spec.names:
        table = np.asarray(spec.cpts[n], dtype=np.float64)
        expected = (*(cards[axis[p]] for p in spec.parents[n]), cards[axis[n]])
        assert table.shape == expected, (n, table.shape, expected)
        index = (*(grids[axis[p]] for p in spec.parents[n]), grids[axis[n]])
        joint = joint * table[index]
    return joint


@dataclass(frozen=True)
class BruteForceResult:
    """Posterior marginals and evidence probabilities for a batch of patients.

    ``marginals[v]`` has shape (n_patients, card(v)) and is NaN where
    ``p_evidence`` is 0; an observed target is a point mass.
    """

    marginals: dict[str, np.ndarray]
    p_evidence: np.ndarray

    def stacked(self, targets: Sequence[str]) -> np.ndarray:
        """Marginals side by side, shape (n_patients, sum of cards)."""
        return np.concatenate([self.marginals[t] for t in targets], axis=1)


def brute_force(
    spec: NetSpec,
    codes: np.ndarray,
    targets: Sequence[str],
    joint: np.ndarray | None = None,
) -> BruteForceResult:
    """Exact posteriors by enumeration.

    Parameters
    ----------
    spec : NetSpec
        The network.
    codes : ndarray of int, shape (n_patients, n_variables)
        Observed state index per variable in ``spec.names`` order, -1 when
        unobserved.
    targets : sequence of str
        Variables whose posterior marginal is wanted.
    joint : ndarray, optional
        A precomputed :func:`joint_table` of ``spec``.
    """
    if joint is None:
        joint = joint_table(spec)
    codes = np.asarray(codes)
    n_patients, n_vars = codes.shape
    assert n_vars == len(spec.names)
    axis = {n: i for i, n in enumerate(spec.names)}
    cards = spec.cards
    marginals = {t: np.empty((n_patients, cards[axis[t]])) for t in targets}
    p_evidence = np.empty(n_patients)
    for r in range(n_patients):
        # Keep every axis (length-1 slices for observed variables) so the
        # axis positions stay those of spec.names.
        index = tuple(slice(int(c), int(c) + 1) if c >= 0 else slice(None) for c in codes[r])
        conditioned = joint[index]
        total = float(conditioned.sum())
        p_evidence[r] = total
        for t in targets:
            a = axis[t]
            if total == 0.0:
                marginals[t][r] = np.nan
            elif codes[r, a] >= 0:
                point = np.zeros(cards[a])
                point[codes[r, a]] = 1.0
                marginals[t][r] = point
            else:
                other = tuple(i for i in range(n_vars) if i != a)
                marginals[t][r] = conditioned.sum(axis=other) / total
    return BruteForceResult(marginals, p_evidence)


def forward_sample(spec: NetSpec, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` full configurations drawn from the network (ancestral sampling).

    Returns codes of shape (n, n_variables) in ``spec.names`` order. The
    sampling order is derived here from the parents, independently of npprob.
    """
    axis = {name: i for i, name in enumerate(spec.names)}
    done: set[str] = set()
    order: list[str] = []
    while len(order) < len(spec.names):
        progressed = False
        for name in spec.names:
            if name not in done and all(p in done for p in spec.parents[name]):
                order.append(name)
                done.add(name)
                progressed = True
        assert progressed, "cycle"
    out = np.empty((n, len(spec.names)), dtype=np.int64)
    for name in order:
        table = np.asarray(spec.cpts[name])
        pa = [axis[p] for p in spec.parents[name]]
        rows = (
            table[tuple(out[:, i] for i in pa)]
            if pa
            else np.broadcast_to(table, (n, table.shape[-1]))
        )
        cum = np.cumsum(rows, axis=1)
        u = rng.random(n) * cum[:, -1]
        pick = (u[:, None] >= cum).sum(axis=1)
        out[:, axis[name]] = np.minimum(pick, table.shape[-1] - 1)
    return out
