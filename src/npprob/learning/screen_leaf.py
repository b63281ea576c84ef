"""A screening tool's positive screen as one leaf of the network, its table a PyTensor graph.

:func:`~npprob.network.screening.score_network` adds a tool's running score as a
chain of deterministic variables. That is exact for any network and any evidence,
but eliminating the chain inside the evidence-synthesis graph multiplies every
partial sum with the mechanisms its items depend on, row by row: the three shipped
tools cost four fifths of the fit's gradient.

When every finding the tool scores is a leaf of the network, used by one item
only, and recorded by no row of the tool's statistics (their populations, the
context included), the items are independent given the findings' parents. The screen is then a single leaf under those parents (and the
condition, for items scored by it), whose table is the tail of the score's
distribution, computed once per parent configuration by a short recursion over
the items (a capped sum of independent, weighted Bernoulli items). Eliminating
one leaf costs what one finding costs. Where the conditions fail,
:func:`screen_leaf_network` returns None and the score chain serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import numpy as np

from npprob.io.settings import CASE_MIX_VARIABLE
from npprob.network.network import Network
from npprob.network.screening import POSITIVE, SCORE, ScreeningTool, capped_sums
from npprob.network.variable import Variable

__all__ = ["ScreenLeaf", "screen_leaf_network"]


class ScreenLeaf:
    """``network`` plus :data:`~npprob.network.screening.SCORE` as one leaf.

    Build it with :func:`screen_leaf_network`, which checks that the leaf is exact.

    Parameters
    ----------
    network : Network
        The clinical network.
    tool : ScreeningTool
    parents : tuple of str
        Every parent of the tool's findings (and the condition, when an item is
        scored by it), in network order.

    Attributes
    ----------
    network : Network
        The clinical variables unchanged and in their order, then
        :data:`~npprob.network.screening.SCORE` (states ``below``/``positive``)
        under ``parents``; its CPT there is a placeholder: :meth:`table` gives
        the real one.
    tool : ScreeningTool
    parents : tuple of str
    cards : tuple of int
        Number of states of each parent.
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
        """P(screen | parents), shape ``(*cards, 2)``, from the CPTs in ``flat``.

        Reads only P(finding = positive) of each scored finding, so it assumes
        every CPT row in ``flat`` sums to 1 (the fit's rows do).

        Parameters
        ----------
        flat : TensorVariable or ndarray
            The clinical network's CPTs, laid out at ``offsets`` (C order each).
        offsets : mapping of str to int
            Start of each variable's CPT in ``flat``.

        Returns
        -------
        TensorVariable
            The leaf's CPT: last axis ``below``, ``positive``; the leading axes
            follow :attr:`parents`.
        """
        import pytensor.tensor as pt

        flat = pt.as_tensor_variable(flat)
        net = self._source
        size = int(np.prod(self.cards))
        grid = np.indices(self.cards).reshape(len(self.cards), size)
        axis = {p: k for k, p in enumerate(self.parents)}

        def positive(finding: str):
            # P(finding positive | its parents) at every configuration of the grid.
            var = net.variable(finding)
            pa = net.parents(finding)
            shape = [*(len(net.variable(p).states) for p in pa), len(var.states)]
            where = (*(grid[axis[p]] for p in pa), np.full(size, var.positive_index))
            index = offsets[finding] + np.ravel_multi_index(where, shape)
            return flat[index]

        condition = grid[axis[CASE_MIX_VARIABLE]] if CASE_MIX_VARIABLE in axis else None
        # The recursion of score_network on probabilities, over the same capped sums.
        cutoff = self.tool.cutoff
        dist, new_sums = [pt.ones(size)], [0.0]
        for (findings, causes, points), sums, new_sums in capped_sums(self.tool):
            miss = pt.ones(size)
            for f in findings:
                miss = miss * (1.0 - positive(f))
            if causes:
                states = net.variable(CASE_MIX_VARIABLE).states
                scored = np.isin(np.asarray(states)[condition], causes)
                miss = miss * (~scored).astype(np.float64)
            hit = 1.0 - miss
            new = [pt.zeros(size) for _ in new_sums]
            for s, mass in zip(sums, dist, strict=True):
                stay = new_sums.index(min(s, cutoff))
                new[stay] = new[stay] + mass * miss
                up = new_sums.index(min(s + points, cutoff))
                new[up] = new[up] + mass * hit
            dist = new
        p_positive = sum(
            (m for s, m in zip(new_sums, dist, strict=True) if s >= cutoff), pt.zeros(size)
        )
        p_positive = pt.clip(p_positive, 0.0, 1.0)
        return pt.stack([1.0 - p_positive, p_positive], axis=-1).reshape((*self.cards, 2))


def screen_leaf_network(
    network: Network, tool: ScreeningTool, recorded: Set[str] = frozenset()
) -> ScreenLeaf | None:
    """The tool's screen as one leaf, or None where the items are not independent.

    Parameters
    ----------
    network : Network
        The clinical network.
    tool : ScreeningTool
    recorded : set of str
        Variables some row of the tool's statistics records (their populations,
        the context included): a recorded finding the tool scores would tie its
        item to the evidence.

    Returns
    -------
    ScreenLeaf or None
        None when a scored finding has children, is scored by two items or is
        recorded, or the cut-off is not above 0.
    """
    findings = [f for items, _, _ in tool.items for f in items]
    if not tool.cutoff > 0 or len(set(findings)) != len(findings) or set(findings) & set(recorded):
        return None
    if any(network.children(f) for f in findings):
        return None
    parents = {p for f in findings for p in network.parents(f)}
    if any(causes for _, causes, _ in tool.items):
        parents.add(CASE_MIX_VARIABLE)
    ordered = tuple(n for n in network.names if n in parents)
    return ScreenLeaf(network, tool, ordered)
