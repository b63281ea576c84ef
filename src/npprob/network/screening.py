"""Bedside screening tools as points over findings, and their score as network variables.

A tool (DN4, LANSS, ID Pain, ... in ``models/baselines.toml``, read by
:func:`npprob.io.screening.load_tools`) scores points for
each item whose findings are positive. :func:`score_network` adds the running
score to a network as a chain of deterministic variables, so that "the score is at
or above the cut-off" is one state of one variable: its probability under any
evidence is an ordinary query, exact, and differentiable in the CPTs wherever the
network's log-evidence is (the evidence-synthesis fit uses that).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from npprob.network.network import Network
from npprob.network.variable import Variable

__all__ = ["POSITIVE", "SCORE", "ScreeningTool", "capped_sums", "score_network"]

#: Name of the last variable of the score chain, and its state meaning "screen positive".
SCORE = "__score__"
POSITIVE = "positive"


@dataclass(frozen=True)
class ScreeningTool:
    """A points-based screening tool.

    Attributes
    ----------
    key, name : str
    cutoff : float
        Score at or above which the screen is positive.
    items : tuple of (findings, aetiologies, points)
        An item scores ``points`` when any of ``findings`` is in its positive
        state (:attr:`~npprob.network.Variable.positive_index`) or the
        aetiology is one of ``aetiologies``.
    source, tag, reason : str
    """

    key: str
    name: str
    cutoff: float
    items: tuple[tuple[tuple[str, ...], tuple[str, ...], float], ...]
    source: str
    tag: str
    reason: str = ""


def capped_sums(tool: ScreeningTool) -> Iterator[tuple[tuple, list[float], list[float]]]:
    """The tool's items in scoring order, with the partial sums before and after each.

    Items with negative points come first: after them the partial sums only grow,
    so capping them at the cut-off (a cut-off above 0) loses nothing. The sums
    start at 0.

    Yields
    ------
    item : (findings, aetiologies, points)
    before, after : list of float
        The possible partial sums before and after the item, sorted, capped at
        :attr:`ScreeningTool.cutoff`.
    """
    sums = [0.0]
    for item in sorted(tool.items, key=lambda i: i[2] >= 0):
        after = sorted({min(s + d, tool.cutoff) for s in sums for d in (0.0, item[2])})
        yield item, sums, after
        sums = after


def score_network(network: Network, tool: ScreeningTool) -> Network:
    """``network`` plus the tool's running score; :data:`SCORE` = :data:`POSITIVE` is a positive screen.

    Each item becomes a deterministic indicator (any of its findings positive, or
    the condition one of its aetiologies), the score a chain of deterministic
    partial sums capped at the cut-off, so every variable stays small. Items with
    negative points come first: after them the partial sums only grow, which makes
    the cap exact.

    Parameters
    ----------
    network : Network
    tool : ScreeningTool

    Returns
    -------
    Network
        The original variables and CPTs unchanged, then the item and score
        variables; the last, :data:`SCORE`, has states ``below``/``positive``.
    """
    variables = list(network.variables)
    parents = {n: network.parents(n) for n in network.names}
    cpts = {n: network.cpt(n) for n in network.names}
    previous: str | None = None
    for j, ((findings, causes, points), sums, new_sums) in enumerate(capped_sums(tool)):
        indicator = f"__item{j}__"
        pa = [*findings, *(["aetiology"] if causes else [])]
        shape = [len(network.variable(f).states) for f in pa]
        hit = np.zeros(shape, dtype=bool)
        for k, f in enumerate(pa):
            var = network.variable(f)
            if f == "aetiology":
                positive = np.isin(var.states, causes)
            else:
                positive = np.arange(len(var.states)) == var.positive_index
            hit |= positive.reshape([-1 if i == k else 1 for i in range(len(pa))])
        variables.append(Variable(indicator, ("no", "yes"), role="latent"))
        parents[indicator] = pa
        cpts[indicator] = np.stack([~hit, hit], axis=-1).astype(np.float64)
        table = np.zeros((len(sums), 2, len(new_sums)))
        for a, s in enumerate(sums):
            for y, d in enumerate((0.0, points)):
                table[a, y, new_sums.index(min(s + d, tool.cutoff))] = 1.0
        name = f"__sum{j}__"
        variables.append(Variable(name, tuple(f"s{s:g}" for s in new_sums), role="latent"))
        parents[name] = [indicator] if previous is None else [previous, indicator]
        cpts[name] = table[0] if previous is None else table
        previous = name
    variables.append(Variable(SCORE, ("below", POSITIVE), role="latent"))
    parents[SCORE] = [previous]
    cpts[SCORE] = np.array([[0.0, 1.0] if s >= tool.cutoff else [1.0, 0.0] for s in new_sums])
    return Network(variables, parents, cpts, name=f"{network.name}+{tool.key}")
