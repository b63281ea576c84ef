"""Where each CPT lives in the flat parameter vector the kernels read.

Every variable's CPT is stored flat in C order with its parents' axes first
and its own axis last. A variable without children (a *leaf*, such as a
clinical finding) gets one extra state column filled with ones: selecting it
is the same as summing the leaf out, so an unobserved leaf costs one
multiplication by 1 instead of a separate compiled plan. This keeps the
number of plans small when patients miss different findings.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from npprob.errors import NetworkError
from npprob.network.network import Network, check_probability_table

__all__ = ["ParameterLayout"]


class ParameterLayout:
    """Offsets and strides of every CPT in the flat parameter vector.

    Parameters
    ----------
    network : Network
        The network whose CPTs are laid out.

    Attributes
    ----------
    offsets : ndarray of int64, shape (n_variables,)
        Start of each variable's CPT in the parameter vector.
    scopes : list of tuple of int
        Variable indices of each CPT's axes (parents, then the variable).
    strides : list of dict
        ``strides[v][u]`` is the step in the flat vector for one state of ``u``
        in ``v``'s CPT.
    has_ones_column : ndarray of bool, shape (n_variables,)
        True for leaves, whose CPT carries the extra all-ones column.
    indicator_offsets : ndarray of int64, shape (n_variables,)
        Start of each variable's indicator block:
        ``card + 1`` rows of ``card`` entries, one-hot rows for the observed
        states and a row of ones for "unobserved". Plans use it for *soft*
        evidence, where one plan serves patients who observe different
        subsets of the variables.
    size : int
        Length of the parameter vector.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        names = network.names
        index = {n: i for i, n in enumerate(names)}
        cards = network.cardinalities
        self.cardinalities = cards
        self.has_ones_column = np.array([len(network.children(n)) == 0 for n in names])
        self.scopes: list[tuple[int, ...]] = []
        self.strides: list[dict[int, int]] = []
        self.ext_shapes: list[tuple[int, ...]] = []
        offsets = []
        pos = 0
        for i, n in enumerate(names):
            scope = (*tuple(index[p] for p in network.parents(n)), i)
            shape = [int(cards[u]) for u in scope]
            if self.has_ones_column[i]:
                shape[-1] += 1
            step = 1
            strides: dict[int, int] = {}
            for u, c in zip(reversed(scope), reversed(shape), strict=True):
                strides[u] = step
                step *= c
            self.scopes.append(scope)
            self.strides.append(strides)
            self.ext_shapes.append(tuple(shape))
            offsets.append(pos)
            pos += int(np.prod(shape))
        self.offsets = np.array(offsets, dtype=np.int64)
        # Indicator blocks for soft evidence on non-leaf variables: rows
        # 0..card-1 are one-hot, row card is all ones (unobserved).
        indicator_offsets = np.full(len(names), -1, dtype=np.int64)
        for i in range(len(names)):
            indicator_offsets[i] = pos
            pos += (int(cards[i]) + 1) * int(cards[i])
        self.indicator_offsets = indicator_offsets
        self.size = pos

    def pack(
        self, cpts: Mapping[str, np.typing.ArrayLike] | None = None, *, validate: bool = True
    ) -> np.ndarray:
        """Stack CPTs into the parameter matrix the kernels read.

        Parameters
        ----------
        cpts : mapping of str to array_like, optional
            ``cpts[v]`` has the CPT shape of ``v`` (one parameter set) or a
            leading draws axis, ``(n_draws, *cpt_shape)``. All stacked CPTs must
            share ``n_draws``; single CPTs are broadcast. Variables left out use
            the network's own CPT. Defaults to the network's CPTs.
        validate : bool, default=True
            Check that rows are finite, non-negative and sum to 1.

        Returns
        -------
        ndarray of float64, shape (n_draws, size)
        """
        cpts = dict(cpts or {})
        net = self.network
        for name in cpts:
            net.index(name)  # raises NetworkError with a suggestion
        arrays = []
        n_draws = None
        for n in net.names:
            arr = np.asarray(cpts.get(n, net.cpt(n)), dtype=np.float64)
            shape = net.cpt_shape(n)
            if arr.shape == shape:
                arr = arr[None]
            elif arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
                if n_draws is not None and arr.shape[0] != n_draws and arr.shape[0] != 1:
                    raise NetworkError(
                        f"CPT draws of '{n}' number {arr.shape[0]}; other CPTs have {n_draws}.",
                        variable=n,
                    )
                if arr.shape[0] != 1:
                    n_draws = arr.shape[0]
            else:
                raise NetworkError(
                    f"CPT of '{n}' has shape {arr.shape}; expected {shape} or (n_draws, *{shape}).",
                    variable=n,
                )
            if validate:
                check_probability_table(arr, n)
            arrays.append(arr)
        n_draws = n_draws or 1
        params = np.empty((n_draws, self.size), dtype=np.float64)
        for i, arr in enumerate(arrays):
            start = self.offsets[i]
            ext = self.ext_shapes[i]
            block = params[:, start : start + int(np.prod(ext))].reshape((n_draws, *ext))
            if self.has_ones_column[i]:
                block[..., :-1] = arr
                block[..., -1] = 1.0
            else:
                block[...] = arr
        for i, start in enumerate(self.indicator_offsets):
            card = int(self.cardinalities[i])
            indicator = np.vstack([np.eye(card), np.ones((1, card))])
            params[:, start : start + indicator.size] = indicator.ravel()
        return params
