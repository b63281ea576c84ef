"""Sufficient statistics: counts of each CPT's (parent configuration, state) cells."""

from __future__ import annotations

import numpy as np

from npprob.network.network import Network

__all__ = ["family_counts"]


def family_counts(
    network: Network, codes: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Count, for every variable, the rows whose whole family (parents and itself) is observed.

    Parameters
    ----------
    network : Network
    codes : ndarray of int, shape (n_rows, n_variables)
        State codes in ``network.names`` order, -1 where unobserved.
    weights : ndarray of float, shape (n_rows,), optional
        Row weights (counts of identical rows); 1 by default.

    Returns
    -------
    dict of str to ndarray
        ``counts[v]`` has ``v``'s CPT shape. Rows with a missing family
        member are left out of that variable's counts (for a missing leaf this
        is exactly marginalising it out).
    """
    codes = np.asarray(codes)
    w = np.ones(len(codes)) if weights is None else np.asarray(weights, dtype=np.float64)
    out = {}
    for name in network.names:
        family = [network.index(p) for p in network.parents(name)] + [network.index(name)]
        shape = network.cpt_shape(name)
        block = codes[:, family].astype(np.int64)
        complete = (block >= 0).all(axis=1)
        flat = (
            np.ravel_multi_index(tuple(block[complete].T), shape)
            if complete.any()
            else np.zeros(0, int)
        )
        counts = np.bincount(flat, weights=w[complete], minlength=int(np.prod(shape)))
        out[name] = counts.reshape(shape)
    return out
