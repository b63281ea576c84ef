"""Networks and patients for the benchmarks (random CPTs, fixed seeds)."""

from __future__ import annotations

import numpy as np

from npprob.network import Network, Variable


def _random_cpt(
    rng: np.random.Generator, shape: tuple[int, ...], concentration: float = 1.0
) -> np.ndarray:
    return rng.dirichlet(np.full(shape[-1], concentration), size=shape[:-1])


def diagnostic_network(seed: int = 0) -> Network:
    """A 24-node network shaped like npprob's diagnostic network.

    A 12-state aetiology drives a binary lesion and the binary target
    (neuropathic pain); three binary latent mechanisms depend on the target
    and the lesion; 18 binary findings hang off the target and mechanisms.
    """
    rng = np.random.default_rng(seed)
    variables = [Variable("aetiology", tuple(f"a{i}" for i in range(12)), "aetiology")]
    variables.append(Variable("lesion", ("absent", "present"), "lesion"))
    variables.append(Variable("neuropathic", ("no", "yes"), "target"))
    parents: dict[str, list[str]] = {
        "lesion": ["aetiology"],
        "neuropathic": ["aetiology", "lesion"],
    }
    latents = ["peripheral_sensitisation", "ectopic_activity", "central_sensitisation"]
    for name in latents:
        variables.append(Variable(name, ("absent", "present"), "latent"))
        parents[name] = (
            ["neuropathic", "lesion"] if name != "central_sensitisation" else ["neuropathic"]
        )
    for i in range(18):
        name = f"finding_{i:02d}"
        variables.append(Variable(name, ("absent", "present"), "finding"))
        k = rng.integers(1, 3)
        pool = ["neuropathic", *latents]
        parents[name] = list(rng.choice(pool, size=k, replace=False))
    cards = {v.name: v.cardinality for v in variables}
    cpts = {
        v.name: _random_cpt(rng, (*[cards[p] for p in parents.get(v.name, [])], v.cardinality))
        for v in variables
    }
    return Network(variables, parents, cpts, name="diagnostic24")


def forward_sample(network: Network, n: int, seed: int) -> np.ndarray:
    """Ancestral samples as state codes, shape (n, n_variables)."""
    rng = np.random.default_rng(seed)
    codes = np.empty((n, len(network)), dtype=np.int16)
    for i, name in enumerate(network.names):  # names are topologically ordered
        cpt = network.cpt(name)
        pa = [network.index(p) for p in network.parents(name)]
        rows = (
            cpt[tuple(codes[:, j] for j in pa)] if pa else np.broadcast_to(cpt, (n, cpt.shape[-1]))
        )
        u = rng.random(n)[:, None]
        codes[:, i] = np.minimum((np.cumsum(rows, axis=1) < u).sum(axis=1), cpt.shape[-1] - 1)
    return codes


def diagnostic_patients(network: Network, n: int, seed: int, p_observed: float = 0.6) -> np.ndarray:
    """Sampled patients: aetiology known, latents and target hidden, ~60 % of findings seen."""
    codes = forward_sample(network, n, seed)
    rng = np.random.default_rng(seed + 1)
    for i, v in enumerate(network.variables):
        if v.role in ("latent", "target", "lesion"):
            codes[:, i] = -1
        elif v.role == "finding":
            codes[rng.random(n) >= p_observed, i] = -1
    return codes
