"""Which variables a variable-elimination query needs: the ancestral set.

A variable that is neither observed nor queried and has no observed or
queried descendant is *barren*: summing it out of its CPT gives 1, and after
it is gone its parents may become barren in turn. What survives that
repeated pruning is exactly the set of observed and queried variables
together with their ancestors, computed here in one graph walk. The exact
engine's plans (:mod:`npprob.inference.plan`) and the marginal likelihood of
:mod:`npprob.learning.elimination` both prune with it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

__all__ = ["ancestral_set"]

Node = TypeVar("Node", bound=Hashable)


def ancestral_set(
    parents: Mapping[Node, Iterable[Node]] | Sequence[Iterable[Node]],
    nodes: Iterable[Node],
) -> set[Node]:
    """The given nodes and all their ancestors.

    Parameters
    ----------
    parents : mapping or sequence
        Parents of every node: ``parents[v]`` iterates over the parents of ``v``
        (a list indexed by variable index works as well as a dict by name).
    nodes : iterable
        The nodes to keep (observed, queried, or otherwise needed).

    Returns
    -------
    set
        ``nodes`` and every node with a directed path to one of them: the
        variables left once barren ones are pruned.

    Examples
    --------
    >>> sorted(ancestral_set({"a": [], "b": ["a"], "c": ["a"], "d": ["c"]}, ["b"]))
    ['a', 'b']
    >>> sorted(ancestral_set([[], [0], [0], [2]], [3]))
    [0, 2, 3]
    """
    keep: set[Node] = set()
    stack = list(nodes)
    while stack:
        v = stack.pop()
        if v not in keep:
            keep.add(v)
            stack.extend(parents[v])
    return keep
