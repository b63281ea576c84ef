"""Label switching: chains whose strong prior contrasts changed sign.

With the target latent, relabelling it (and every table that depends on it)
leaves an unlabelled likelihood almost unchanged. Three things keep the
chains on the intended labelling: the specification's informative,
asymmetric Dirichlet priors; every chain starts at the prior mean; and
:func:`orientation_problems` checks, chain by chain, that every strong prior
contrast (for example P(confirmatory test positive | lesion) above P(positive |
no lesion), the clinician's call more often positive when the target is
present) keeps its sign. A chain that flipped is reported as a diagnostics
failure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from npprob.network.spec import ClinicalSpec

__all__ = ["orientation_problems"]


def orientation_problems(
    spec: ClinicalSpec,
    chain_means: Mapping[str, np.ndarray],
    *,
    label_chain_means: Mapping[str, np.ndarray] | None = None,
    min_contrast: float = 0.3,
) -> list[str]:
    """Chains whose strong prior contrasts changed sign (label switching).

    Parameters
    ----------
    spec : ClinicalSpec
        The specification whose CPTs are the prior means.
    chain_means : mapping of str to ndarray, shape (n_chains, *cpt_shape)
        Per-chain posterior means of the CPTs.
    label_chain_means : mapping, optional
        ``label_sensitivity`` and ``label_false_positive_rate`` per chain.
    min_contrast : float
        A contrast P(child = last state | parent = last state) - P(child = last
        state | parent = first state), averaged over the other parents under
        the prior, is checked when its prior value is at least this large.

    Returns
    -------
    list of str
        One message per flipped chain and contrast.
    """
    net = spec.network
    problems = []
    for name, alpha in spec.concentration.items():
        draws = chain_means.get(name)
        parents = net.parents(name)
        if draws is None or not parents:
            continue
        prior = np.asarray(net.cpt(name), dtype=np.float64)  # the prior mean
        for k, parent in enumerate(parents):
            if net.cpt_shape(name)[k] != 2 or alpha.shape[-1] != 2:
                continue
            prior_contrast = _contrast(prior, k)
            if abs(prior_contrast) < min_contrast:
                continue
            for chain, table in enumerate(np.asarray(draws)):
                if np.sign(_contrast(table, k)) != np.sign(prior_contrast):
                    problems.append(
                        f"chain {chain}: P({name} | {parent}) reversed its direction "
                        f"(prior contrast {prior_contrast:+.2f}, chain {_contrast(table, k):+.2f}); "
                        "label switching: run more tuning or check the labels."
                    )
    if label_chain_means is not None:
        sens = np.asarray(label_chain_means["label_sensitivity"])
        fpr = np.asarray(label_chain_means["label_false_positive_rate"])
        for chain in np.flatnonzero(sens <= fpr):
            problems.append(
                f"chain {chain}: the recorded label is more often positive without the condition "
                f"(sensitivity {sens[chain]:.2f} <= false-positive rate {fpr[chain]:.2f}); "
                "label switching or a reversed label column."
            )
    return problems


def _contrast(table: np.ndarray, axis: int) -> float:
    """Mean over other parents of P(last state | parent last) - P(last state | parent first)."""
    last = np.take(table, -1, axis=-1)
    return float(np.mean(np.take(last, 1, axis=axis) - np.take(last, 0, axis=axis)))
