"""The exact Dirichlet posterior of every CPT from complete (fully observed) data."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from npprob.network.spec import ClinicalSpec, dirichlet_draws

__all__ = ["posterior_concentration", "posterior_draws"]


def posterior_concentration(
    spec: ClinicalSpec, counts: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Prior concentration plus counts, for every learnable CPT.

    Structural zeros (prior concentration 0) stay 0 whatever the counts: the
    data cannot create a cell the specification rules out, and a count in
    such a cell means the data contradict the network.

    Raises
    ------
    ValueError
        When data fall in a structural-zero cell.
    """
    out = {}
    for name, alpha in spec.concentration.items():
        c = np.asarray(counts[name], dtype=np.float64)
        bad = (alpha == 0) & (c > 0)
        if bad.any():
            raise ValueError(
                f"{int(c[bad].sum())} row(s) fall in a structural zero of '{name}' "
                f"(probability 0 in the specification)."
            )
        out[name] = alpha + c
    return out


def posterior_draws(
    spec: ClinicalSpec, counts: Mapping[str, np.ndarray], n_draws: int, seed: int
) -> dict[str, np.ndarray]:
    """Draws of every CPT from the conjugate posterior (deterministic CPTs fixed).

    Returns
    -------
    dict of str to ndarray of shape (n_draws, *cpt_shape)
    """
    return dirichlet_draws(spec, posterior_concentration(spec, counts), n_draws, seed)
