"""Ancestral (forward) sampling of complete configurations from a network."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from npprob.network.network import Network

__all__ = ["forward_sample"]


def forward_sample(
    network: Network,
    n: int,
    seed: int | np.random.Generator,
    cpts: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Draw ``n`` complete configurations by ancestral sampling.

    Parameters
    ----------
    network : Network
        The network; variables are sampled in its topological order.
    n : int
        Number of samples.
    seed : int or numpy.random.Generator
        Seed (the same seed gives the same codes) or a generator to draw from.
    cpts : mapping of str to ndarray, optional
        CPTs replacing the network's, each with the network's CPT shape.

    Returns
    -------
    ndarray of int16, shape (n, n_variables)
        State codes in ``network.names`` order.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    codes = np.empty((int(n), len(network)), dtype=np.int16)
    for i, name in enumerate(network.names):
        cpt = np.asarray(cpts[name]) if cpts and name in cpts else network.cpt(name)
        parents = [network.index(p) for p in network.parents(name)]
        if parents:
            rows = cpt[tuple(codes[:, j] for j in parents)]
        else:
            rows = np.broadcast_to(cpt, (int(n), cpt.shape[-1]))
        cumulative = np.cumsum(rows, axis=1)
        u = rng.random(int(n)) * cumulative[:, -1]
        codes[:, i] = np.minimum((u[:, None] >= cumulative).sum(axis=1), cpt.shape[-1] - 1)
    return codes
