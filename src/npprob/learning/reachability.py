"""CPT rows that no patient can reach, given the specification's structural zeros.

A row of a variable's CPT is a configuration of its parents. When one parent
is itself a child of another parent and the first parent's state is a
structural zero under the second's state (in the shipped network: neuropathic
pain is impossible without a lesion), the configuration has probability zero
for every parameter value. Such a row never enters the likelihood, so its
posterior is its prior; sampling it with NUTS only adds a direction of pure
prior geometry, which for uninformative Beta(0.5, 0.5) rows mixes slowly in
the tails. The learners draw these rows exactly from their prior instead.

The test is conservative: a row is called unreachable only when some parent's
state has a zero prior concentration in every row of that parent's CPT that
agrees with the configuration on the parents the two share. Rows reachable in
principle are never marked.
"""

from __future__ import annotations

import numpy as np

from npprob.network.spec import ClinicalSpec

__all__ = ["unreachable_rows"]


def unreachable_rows(spec: ClinicalSpec) -> frozenset[tuple[str, int]]:
    """(variable, flat row) of every CPT row whose parent configuration is impossible.

    Parameters
    ----------
    spec : ClinicalSpec
        The network and its Dirichlet concentrations; a zero concentration is
        a structural zero.

    Returns
    -------
    frozenset of (str, int)
        Rows in the flat row order of ``spec.concentration[name].reshape(-1, n_states)``.
    """
    net = spec.network
    impossible: set[tuple[str, int]] = set()
    for name in net.names:
        parents = list(net.parents(name))
        if not parents:
            continue
        shape = net.cpt_shape(name)
        configs = np.indices(shape[:-1]).reshape(len(parents), -1).T
        for r, config in enumerate(configs):
            if any(_state_impossible(spec, parents, config, b) for b in range(len(parents))):
                impossible.add((name, r))
    return frozenset(impossible)


def _state_impossible(spec: ClinicalSpec, parents: list[str], config: np.ndarray, b: int) -> bool:
    """Whether parent ``parents[b]`` cannot take ``config[b]`` given the other parents in ``config``."""
    net = spec.network
    parent = parents[b]
    alpha = np.asarray(spec.concentration.get(parent, net.cpt(parent)), dtype=np.float64)
    own_parents = list(net.parents(parent))
    index: list[int | slice] = []
    for q in own_parents:
        # A grandparent that is also a parent of the child is fixed by the configuration.
        index.append(int(config[parents.index(q)]) if q in parents else slice(None))
    column = alpha[(*index, int(config[b]))]
    return bool(np.all(np.asarray(column) == 0.0))
