"""Conversion to other libraries' network objects (imported lazily)."""

from __future__ import annotations

from typing import Any

import numpy as np

from npprob.network.network import Network

__all__ = ["to_pgmpy"]


def to_pgmpy(network: Network) -> Any:
    """The network as a pgmpy ``DiscreteBayesianNetwork`` with the same CPTs.

    pgmpy stores a CPT as (child states, parent configurations) with the
    last parent varying fastest; npprob keeps the child axis last.

    Raises
    ------
    ImportError
        When pgmpy is not installed (``pip install pgmpy``).
    """
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(network.names)
    model.add_edges_from((p, n) for n in network.names for p in network.parents(n))
    for var in network.variables:
        parents = list(network.parents(var.name))
        values = np.moveaxis(network.cpt(var.name), -1, 0).reshape(var.cardinality, -1)
        model.add_cpds(
            TabularCPD(
                var.name,
                var.cardinality,
                values,
                evidence=parents or None,
                evidence_card=[network.variable(p).cardinality for p in parents] or None,
                state_names={v: list(network.variable(v).states) for v in (var.name, *parents)},
            )
        )
    return model
