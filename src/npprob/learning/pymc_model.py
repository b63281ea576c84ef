"""PyMC models of the CPTs; builds, never samples.

``build_complete_model`` is the labelled, complete-data model written on
count tables (sufficient statistics per CPT row), which the engineering notes
measured to be several times faster than a per-row likelihood with the same
posterior. Two-state rows become Beta priors with Binomial counts; rows with
more states Dirichlet priors with Multinomial counts; structural zeros and
rows with a single possible state stay fixed. Its posterior is the conjugate
one, so it serves as the reference that PyMC fits must reproduce.

Rows whose posterior concentration has an entry below ``MIN_NUTS_CONCENTRATION``
(rare states with little data, and rows no patient reached), and rows no
patient can reach (:mod:`npprob.learning.reachability`), are left out of
NUTS: in the sampler's log-odds space their density has an exponential tail
as slow as ``exp(a * y)``, which NUTS explores with divergences and tiny
tail ESS. Rows are independent given complete data, so those rows are drawn
exactly from their conjugate posterior instead; the layout records which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from npprob.learning.reachability import unreachable_rows
from npprob.network.spec import ClinicalSpec

__all__ = ["MIN_NUTS_CONCENTRATION", "RowLayout", "build_complete_model"]


@dataclass
class RowLayout:
    """Where each CPT row's free parameters live in the PyMC model."""

    binary_rows: list[tuple[str, int, int, int]] = field(default_factory=list)
    """(variable, flat row, index of the first state, index of the second state) per Beta entry."""
    dirichlet_rows: list[tuple[str, int, np.ndarray, str]] = field(default_factory=list)
    """(variable, flat row, positive state indices, PyMC variable name)."""
    exact_rows: list[tuple[str, int]] = field(default_factory=list)
    """(variable, flat row) drawn exactly from the conjugate posterior, not by NUTS."""

    def assemble(
        self, exact: Mapping[str, np.ndarray], posterior: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """CPT draws ``(n_draws, *cpt_shape)``.

        Rows sampled by NUTS come from ``posterior`` (arrays shaped (chain, draw,
        ...)); every other row keeps its value in ``exact`` (conjugate draws with
        the same number of draws; fixed rows are constant there).
        """
        flat = {
            k: np.asarray(v).reshape(-1, *np.asarray(v).shape[2:]) for k, v in posterior.items()
        }
        n = next(iter(exact.values())).shape[0]
        shapes = {k: np.asarray(v).shape[1:] for k, v in exact.items()}
        out = {k: np.array(v).reshape(n, -1, shapes[k][-1]) for k, v in exact.items()}
        theta = flat.get("binary_theta")
        for k, (name, row, first, second) in enumerate(self.binary_rows):
            out[name][:, row, first] = 1.0 - theta[:, k]
            out[name][:, row, second] = theta[:, k]
        for name, row, states, var in self.dirichlet_rows:
            out[name][:, row, :] = 0.0
            out[name][:, row, states] = flat[var]
        return {k: v.reshape(n, *shapes[k]) for k, v in out.items()}


#: Smallest posterior concentration of a row's entries for the row to go through NUTS.
MIN_NUTS_CONCENTRATION = 1.0


def build_complete_model(spec: ClinicalSpec, counts: Mapping[str, np.ndarray]):
    """The complete-data model: returns ``(pymc.Model, RowLayout)``."""
    import pymc as pm

    layout = RowLayout()
    impossible = unreachable_rows(spec)
    a, b, n, k = [], [], [], []
    dirichlet = []
    for name, alpha in spec.concentration.items():
        card = alpha.shape[-1]
        alpha_rows = alpha.reshape(-1, card)
        count_rows = np.asarray(counts[name], dtype=np.float64).reshape(-1, card)
        for r, (arow, crow) in enumerate(zip(alpha_rows, count_rows, strict=True)):
            positive = np.flatnonzero(arow > 0)
            if len(positive) < 2:
                continue
            low = (arow[positive] + crow[positive]).min() < MIN_NUTS_CONCENTRATION
            if low or (name, r) in impossible:
                layout.exact_rows.append((name, r))
                continue
            if len(positive) == 2:
                first, second = (int(i) for i in positive)
                layout.binary_rows.append((name, r, first, second))
                a.append(arow[second])
                b.append(arow[first])
                n.append(crow[first] + crow[second])
                k.append(crow[second])
            else:
                var = f"{name}__row{r}"
                layout.dirichlet_rows.append((name, r, positive, var))
                dirichlet.append((var, arow[positive], crow[positive]))
    with pm.Model() as model:
        if a:
            theta = pm.Beta("binary_theta", alpha=np.array(a), beta=np.array(b), shape=len(a))
            pm.Binomial(
                "binary_counts", n=np.array(n, dtype=np.int64), p=theta,
                observed=np.array(k, dtype=np.int64),
            )  # fmt: skip
        for var, alpha_row, count_row in dirichlet:
            p = pm.Dirichlet(var, a=alpha_row)
            pm.Multinomial(
                f"{var}__counts", n=int(count_row.sum()), p=p, observed=count_row.astype(np.int64)
            )
    return model, layout
