"""The single adapter between npprob and the two ArviZ/PyMC lines.

ArviZ 0.x (PyMC 5, Python 3.11 here) stores a posterior as ``InferenceData``;
ArviZ 1.x (PyMC 6, Python 3.12) as an ``xarray.DataTree``. Both support
``obj["posterior"]``; their diagnostics return a ``Dataset`` (0.x) or a
``DataTree`` (1.x). Everything else in npprob sees plain numpy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

__all__ = [
    "arviz_version",
    "diagnostics",
    "group",
    "posterior_arrays",
    "posterior_diagnostics",
    "psis_log_weights",
    "to_inference_data",
    "write_netcdf",
]


def arviz_version() -> str:
    """The ArviZ version in use (its diagnostics differ a little between lines)."""
    import arviz as az

    return str(az.__version__)


def group(idata, name: str):
    """A group (``posterior``, ``sample_stats``, ...) as an ``xarray.Dataset``."""
    node = idata[name]
    return node.to_dataset() if hasattr(node, "to_dataset") else node


def posterior_arrays(idata) -> dict[str, np.ndarray]:
    """Every posterior variable as an array of shape (chain, draw, ...)."""
    post = group(idata, "posterior")
    return {str(k): np.asarray(v.values) for k, v in post.data_vars.items()}


def to_inference_data(
    draws: Mapping[str, np.ndarray],
    n_chains: int = 1,
    *,
    dims: Mapping[str, list[str]] | None = None,
    coords: Mapping[str, list[str]] | None = None,
    attrs: Mapping[str, object] | None = None,
    sample_stats: Mapping[str, np.ndarray] | None = None,
    prior: Mapping[str, np.ndarray] | None = None,
    observed_data: Mapping[str, np.ndarray] | None = None,
):
    """Draws ``(n_draws, ...)``, chain-major, as InferenceData / DataTree with ``n_chains`` chains.

    ``dims`` and ``coords`` name the axes after the chain and draw; ``sample_stats``
    (same draws), ``prior`` (one chain) and ``observed_data`` (no chain or draw: the
    data's counts, with the same dims) become their own groups; ``attrs`` go on
    every group.
    """
    import arviz as az

    def shaped(group: Mapping[str, np.ndarray], chains: int) -> dict[str, np.ndarray]:
        out = {}
        for name, arr in group.items():
            arr = np.asarray(arr)
            out[name] = arr.reshape((chains, arr.shape[0] // chains, *arr.shape[1:]))
        return out

    groups = {"posterior": shaped(draws, n_chains)}
    if sample_stats:
        groups["sample_stats"] = shaped(sample_stats, n_chains)
    if prior:
        groups["prior"] = shaped(prior, 1)
    if observed_data:
        groups["observed_data"] = {k: np.asarray(v) for k, v in observed_data.items()}
    options = {"coords": dict(coords or {}) or None, "dims": dict(dims or {}) or None}
    # ArviZ stamps each group with the time it was made; without it the same draws
    # give the same file, byte for byte.
    if int(az.__version__.split(".")[0]) >= 1:
        tree = az.from_dict(groups, **options)
        for node in tree.children.values():
            node.attrs.pop("created_at", None)
            node.attrs.update(attrs or {})
        return tree
    idata = az.from_dict(**groups, **options)
    for name in idata.groups():
        idata[name].attrs.pop("created_at", None)
        idata[name].attrs.update(attrs or {})
    return idata


def write_netcdf(idata, path: str | os.PathLike[str]) -> None:
    """Write InferenceData / DataTree to netCDF-4 (h5netcdf engine)."""
    idata.to_netcdf(str(path), engine="h5netcdf")


def _max_over(obj, worst: str) -> float:
    ds = obj.to_dataset() if hasattr(obj, "to_dataset") else obj
    values = [np.asarray(v.values, dtype=float).ravel() for v in ds.data_vars.values()]
    values = np.concatenate(values) if values else np.array([np.nan])
    return float(np.nanmax(values) if worst == "max" else np.nanmin(values))


def diagnostics(idata) -> dict[str, float]:
    """Largest r-hat, smallest bulk and tail ESS, and the number of divergences."""
    import arviz as az

    stats = group(idata, "sample_stats")
    divergent = int(np.asarray(stats["diverging"].values).sum()) if "diverging" in stats else 0
    return {
        "r_hat_max": _max_over(az.rhat(idata), "max"),
        "ess_bulk_min": _max_over(az.ess(idata, method="bulk"), "min"),
        "ess_tail_min": _max_over(az.ess(idata, method="tail"), "min"),
        "divergences": divergent,
    }


def posterior_diagnostics(idata) -> dict[str, float | None]:
    """Largest r-hat and smallest bulk and tail ESS over the varying posterior entries.

    Entries that never vary (structural zeros, fixed rows) have no r-hat and are
    left out of all three; None where no entry varies. These are the diagnostics of
    the draws the file holds, which anyone can recompute with ``az.rhat`` and
    ``az.ess`` from it.
    """
    import warnings

    import arviz as az

    post = group(idata, "posterior")

    def flat(result) -> np.ndarray:
        ds = result.to_dataset() if hasattr(result, "to_dataset") else result
        return np.concatenate(
            [np.asarray(ds[name].values, dtype=float).ravel() for name in post.data_vars]
        )

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        r_hat = flat(az.rhat(post))
        bulk = flat(az.ess(post, method="bulk"))
        tail = flat(az.ess(post, method="tail"))
    varying = np.isfinite(r_hat)
    if not varying.any():
        return {"r_hat_max": None, "ess_bulk_min": None, "ess_tail_min": None}
    return {
        "r_hat_max": float(r_hat[varying].max()),
        "ess_bulk_min": float(np.nanmin(bulk[varying])),
        "ess_tail_min": float(np.nanmin(tail[varying])),
    }


def psis_log_weights(log_ratios: np.ndarray, r_eff: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed importance log weights over the last axis, normalised, and each row's k-hat.

    Parameters
    ----------
    log_ratios : ndarray, shape (..., n_draws)
        Log importance ratios (for leaving data out: minus its log-likelihood).
    r_eff : float, default=1.0
        Relative efficiency of the draws.

    Returns
    -------
    log_weights : ndarray, shape (..., n_draws)
        Sum to one (in the linear scale) over the last axis.
    pareto_k : ndarray, shape (...)
        The tail shape estimate: above 0.7 the importance estimate is unreliable.
    """
    import arviz as az

    log_ratios = np.asarray(log_ratios, dtype=np.float64)
    if int(az.__version__.split(".")[0]) >= 1:
        from arviz_stats.base import array_stats

        # ArviZ 1 takes the log-likelihood of what is left out and negates it itself.
        log_weights, pareto_k = array_stats.psislw(-log_ratios, r_eff=r_eff, axis=-1)
    else:
        log_weights, pareto_k = az.psislw(log_ratios, reff=r_eff)
    return np.asarray(log_weights), np.asarray(pareto_k)
