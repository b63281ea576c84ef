"""A screening tool's positive screen as one leaf of the network, its table a PyTensor graph.

:func:`~npprob.network.screening.score_network` adds a tool's running score as a
chain of deterministic variables. That is exact for any network and any evidence,
but eliminating the chain inside the evidence-synthesis graph multiplies every
partial sum with the mechanisms its items depend on, row by row: the three shipped
tools cost four fifths of the fit's gradient.

When every finding the tool scores is a leaf of the network, used by one item
only, and left unrecorded by the statistic, the items are independent given the
findings' parents. The screen is then a single leaf under those parents (and the
condition, for items scored by it), whose table is the tail of the score's
distribution, computed once per parent configuration by a short recursion over
the items (a capped sum of independent, weighted Bernoulli items). Eliminating
one leaf costs what one finding costs. Where the conditions fail,
:func:`screen_leaf_network` returns None and the score chain serves.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from npprob.network.network import Network
from npprob.network.screening import POSITIVE, SCORE, ScreeningTool
from npprob.network.variable import Variable

__all__ = ["ScreenLeaf", "screen_leaf_network"]

#: The condition, the one variable an item can score directly.
_CONDITION = "aetiology"


class ScreenLeaf:
    """``network`` plus :data:`~npprob.network.screening.SCORE` as one leaf.

    Attributes
    ----------
    network : Network
        The clinical variables unchanged, then :data:`SCORE` (states
        ``below``/``positive``) under :attr:`parents`; its CPT there is a
        placeholder: :meth:`table` gives the real one.
    parents : tuple of str
        Every parent of the tool's findings (and the condition, when an item is
        scored by it), in network order.
    """

    def __init__(self, network: Network, tool: ScreeningTool, parents: tuple[str, ...]) -> None:
        self.tool = tool
        self.parents = parents
        self.cards = tuple(len(network.variable(p).states) for p in parents)
        variables = [*network.variables, Variable(SCORE, ("below", POSITIVE), role="latent")]
        structure = {n: network.parents(n) for n in network.names}
        structure[SCORE] = parents
        cpts = {**network.cpts, SCORE: np.full((*self.cards, 2), 0.5)}
        self.network = Network(variables, structure, cpts, name=f"{network.name}+{tool.key}")
        self._source = network

    def table(self, flat, offsets: Mapping[str, int]):
        """P(:data:`SCORE` | parents), shape ``(*cards of parents, 2)``, from the CPTs in ``flat``.

        Parameters
        ----------
        flat : TensorVariable or ndarray
            The clinical network's CPTs, laid out at ``offsets`` (C order each).
        offsets : mapping of str to int
            Start of each variable's CPT in ``flat``.

        Returns
        -------
        TensorVariable
        """
        import pytensor.tensor as pt

        flat = pt.as_tensor_variable(flat)
        net = self._source
        grid = np.indices(self.cards).reshape(len(self.cards), -1)
        axis = {p: k for k, p in enumerate(self.parents)}

        def positive(finding: str):
            # P(finding positive | its parents) at every configuration of the grid.
            var = net.variable(finding)
            pa = net.parents(finding)
            shape = [*(len(net.variable(p).states) for p in pa), len(var.states)]
            where = (*(grid[axis[p]] for p in pa), np.full(grid.shape[1], var.positive_index))
            index = offsets[finding] + np.ravel_multi_index(where, shape)
            return flat[index]

        condition = grid[axis[_CONDITION]] if _CONDITION in axis else None
        # The recursion of score_network, on probabilities: items with negative points
        # first, partial sums capped at the cut-off, so the cap is exact.
        cutoff = self.tool.cutoff
        sums, dist = [0.0], [pt.ones(grid.shape[1])]
        for findings, causes, points in sorted(self.tool.items, key=lambda i: i[2] >= 0):
            miss = pt.ones(grid.shape[1])
            for f in findings:
                miss = miss * (1.0 - positive(f))
            if causes:
                states = net.variable(_CONDITION).states
                scored = np.isin(np.asarray(states)[condition], causes)
                miss = miss * (~scored).astype(np.float64)
            hit = 1.0 - miss
            new_sums = sorted({min(s + d, cutoff) for s in sums for d in (0.0, points)})
            new = [pt.zeros(grid.shape[1]) for _ in new_sums]
            for s, mass in zip(sums, dist, strict=True):
                new[new_sums.index(s)] = new[new_sums.index(s)] + mass * miss
                up = new_sums.index(min(s + points, cutoff))
                new[up] = new[up] + mass * hit
            sums, dist = new_sums, new
        p_positive = sum((m for s, m in zip(sums, dist, strict=True) if s >= cutoff), pt.zeros(1))
        p_positive = pt.clip(p_positive, 0.0, 1.0)
        return pt.stack([1.0 - p_positive, p_positive], axis=-1).reshape((*self.cards, 2))


def screen_leaf_network(
    network: Network, tool: ScreeningTool, recorded: set[str] = frozenset()
) -> ScreenLeaf | None:
    """The tool's screen as one leaf, or None where the items are not independent.

    Parameters
    ----------
    network : Network
        The clinical network.
    tool : ScreeningTool
    recorded : set of str
        Variables some row of the statistics records: a recorded finding the tool
        scores would tie its item to the evidence.

    Returns
    -------
    ScreenLeaf or None
        None when a scored finding has children, is scored by two items or is
        recorded.
    """
    findings = [f for items, _, _ in tool.items for f in items]
    if len(set(findings)) != len(findings) or set(findings) & set(recorded):
        return None
    if any(network.children(f) for f in findings):
        return None
    parents = {p for f in findings for p in network.parents(f)}
    if any(causes for _, causes, _ in tool.items):
        parents.add(_CONDITION)
    ordered = tuple(n for n in network.names if n in parents)
    return ScreenLeaf(network, tool, ordered)
