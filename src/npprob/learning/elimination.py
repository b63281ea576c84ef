"""Variable elimination written as a PyTensor graph: log P(observed part) of a batch of rows.

The marginal likelihood sums the latent truth (the lesion, the mechanisms and,
without a gold standard, the target itself) out of every patient's
likelihood exactly. Nothing is imputed and no row is dropped:

* an observed variable gathers its CPT entries row by row;
* a missing leaf finding contributes 1 (its CPT row sums to 1): its one-hot
  row is all zeros (from :data:`LARGE_BATCH` rows on: it selects no entry), so
  its log factor is 0;
* a variable that is missing in some rows and has children becomes latent for
  the whole batch, with a constant 0/1 evidence factor where it was seen;
* variables observed in no row and without an observed descendant are barren
  and left out (:func:`~npprob.inference.pruning.ancestral_set`);
* latent variables are eliminated in the weighted min-fill order of the exact
  engine (:mod:`npprob.inference.ordering`), chosen once from the factor
  scopes, with broadcasting products and sums, so the cost is a few passes
  over arrays of shape ``(n_rows, <= 2**5)`` and NUTS gets the exact gradient
  from PyTensor.

A recorded noisy label enters as an extra binary leaf (:data:`LABEL`) under
its parent, with its own 2 x 2 table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from npprob.inference.ordering import interaction_graph, weighted_min_fill_order
from npprob.inference.pruning import ancestral_set
from npprob.network.network import Network

__all__ = ["LABEL", "FlatLayout", "flat_log", "flat_log_evidence", "log_evidence_graph"]

#: Name of the label pseudo-variable in a :class:`FlatLayout`.
LABEL = "__label__"

#: Floor of CPT entries inside logs (structural zeros), and the log of an excluded state.
_TINY = 1e-300
_IMPOSSIBLE = -1e4


class FlatLayout:
    """Offsets of every CPT (and the label table) in one flat parameter vector.

    Parameters
    ----------
    network : Network
    with_label : bool, default=False
        Append the 2 x 2 table of a noisy label (under the key :data:`LABEL`).

    Attributes
    ----------
    offset : dict of str to int
        Start of each table, CPTs in network order, C order within a table.
    shape : dict of str to tuple of int
        Shape of each table.
    size : int
        Length of the vector.
    """

    def __init__(self, network: Network, *, with_label: bool = False) -> None:
        self.offset: dict[str, int] = {}
        self.shape: dict[str, tuple[int, ...]] = {}
        at = 0
        for n in network.names:
            shape = tuple(network.cpt_shape(n))
            self.offset[n], self.shape[n] = at, shape
            at += int(np.prod(shape))
        if with_label:
            self.offset[LABEL], self.shape[LABEL] = at, (2, 2)
            at += 4
        self.size = at


def flat_log(flat):
    """Elementwise log of a parameter vector, structural zeros floored so the graph stays finite.

    Parameters
    ----------
    flat : TensorVariable
        Probabilities laid out by a :class:`FlatLayout`.

    Returns
    -------
    TensorVariable
    """
    import pytensor.tensor as pt

    return pt.log(pt.maximum(flat, _TINY))


def log_evidence_graph(
    network: Network,
    theta: Mapping[str, object],
    codes: np.ndarray,
    *,
    skip: Sequence[str] = (),
    label: tuple[str, object, np.ndarray] | None = None,
):
    """Symbolic log P(observed part of each row), summing out everything else.

    Parameters
    ----------
    network : Network
    theta : mapping of str to tensor
        Each CPT as a PyTensor (or numpy) array of the network's CPT shape.
    codes : ndarray of int, shape (n_rows, n_variables)
        -1 where not observed.
    skip : sequence of str
        Variables whose CPT is left out (conditioned on: they must be observed).
    label : (parent, table, codes), optional
        An extra binary leaf under ``parent`` with CPT ``table`` (parent states x
        2) and per-row codes (-1 missing).

    Returns
    -------
    TensorVariable, shape (n_rows,)
        log P(observed values | skipped variables).
    """
    import pytensor.tensor as pt

    offsets = FlatLayout(network, with_label=label is not None)
    parts = [pt.as_tensor_variable(theta[n]).ravel() for n in network.names]
    if label is not None:
        parts.append(pt.as_tensor_variable(label[1]).ravel())
    return flat_log_evidence(
        network,
        flat_log(pt.concatenate(parts)),
        offsets,
        codes,
        skip=skip,
        label=None if label is None else (label[0], label[2]),
    )


def flat_log_evidence(
    network: Network,
    log_flat,
    layout: FlatLayout,
    codes: np.ndarray,
    *,
    skip: Sequence[str] = (),
    label: tuple[str, np.ndarray] | None = None,
):
    """:func:`log_evidence_graph` on the log of a flat parameter vector laid out by ``layout``.

    Each scope's weight matrix is one gather from ``log_flat``, so the graph
    (and its compile time) stays small however many CPTs there are.

    Parameters
    ----------
    network : Network
    log_flat : TensorVariable
        Log of the parameter vector (see :func:`flat_log`).
    layout : FlatLayout
        Where each table lives in ``log_flat``; with a label it must hold
        :data:`LABEL`.
    codes : ndarray of int, shape (n_rows, n_variables)
        -1 where not observed.
    skip : sequence of str
        Variables whose CPT is left out (conditioned on: they must be observed).
    label : (parent, codes), optional
        An extra binary leaf under ``parent`` with per-row codes (-1 missing).

    Returns
    -------
    TensorVariable, shape (n_rows,)
    """
    import pytensor.tensor as pt
    from pytensor.gradient import disconnected_grad

    codes = np.asarray(codes)
    n_rows = len(codes)
    names = list(network.names)
    card = {v.name: len(v.states) for v in network.variables}
    col = {name: j for j, name in enumerate(names)}
    seen = {n: codes[:, col[n]] >= 0 for n in names}
    label_parent = label[0] if label is not None else None

    # What no row observes and nothing needed descends from is barren: it sums to 1.
    needed = [n for n in names if seen[n].any() or n == label_parent or n in skip]
    active = ancestral_set({n: network.parents(n) for n in names}, needed)
    # Parents of kept variables are kept (the set is closed under ancestors).
    has_child = {p for n in active for p in network.parents(n)}
    latent = [
        n
        for n in names
        if n in active and not seen[n].all() and (n in has_child or n == label_parent)
    ]
    partly_seen = [n for n in latent if seen[n].any()]
    groups = _split_rows([seen[n] for n in partly_seen]) if n_rows >= LARGE_BATCH else None
    if groups is not None:
        # Rows that record a variable with children eliminate without it: each group
        # of rows gets only its own latent variables (smaller tables, same values).
        parts = [
            flat_log_evidence(
                network, log_flat, layout, codes[rows], skip=skip,
                label=None if label is None else (label[0], np.asarray(label[1])[rows]),
            )
            for rows in groups
        ]  # fmt: skip
        order = np.argsort(np.concatenate(groups), kind="stable")
        return pt.concatenate(parts)[order]
    axis = {n: k for k, n in enumerate(latent)}
    lat_set = set(latent)
    families = [(n, [*network.parents(n), n]) for n in names if n in active and n not in skip]
    # Chosen in plain Python before any graph is built: it depends on the scopes only
    # (the label's and the evidence factors have one latent variable: no edge).
    scopes = [[m for m in family if m in lat_set] for _, family in families]
    elimination = _elimination_order(scopes, latent, card)

    def broadcast(tensor, scope: list[str], within: list[str] | None = None):
        """(n_rows, *cards of scope) -> the axes of ``within`` (default: every latent)."""
        within = latent if within is None else within
        pattern = [0] + ["x"] * len(within)
        for k, n in enumerate(scope):
            pattern[1 + within.index(n)] = 1 + k
        return tensor.dimshuffle(*pattern)

    # Families sharing a latent scope add their log entries. Per scope, each row's
    # families select one row each of a stacked (observed configuration x latent
    # configuration) weight matrix; rows selecting the same combination share one sum,
    # so the work is one gather per distinct combination plus one per row (and the
    # gradient the matching scatter-adds), not a dense product over every column.
    blocks: dict[tuple[str, ...], tuple[list, list, list]] = {}

    def add_family(name: str, family: list[str], family_codes: list[np.ndarray]) -> None:
        lat = tuple(sorted((n for n in family if n in lat_set), key=axis.get))
        obs = [n for n in family if n not in lat_set]
        cards = [card[n] for n in family]
        # Flat position of every (observed configuration, latent configuration) cell.
        cells = np.arange(int(np.prod(cards))).reshape(cards) + layout.offset[name]
        order = [family.index(n) for n in obs + list(lat)]
        n_obs = int(np.prod([card[n] for n in obs])) if obs else 1
        index = cells.transpose(order).reshape(n_obs, -1)
        selected, indices, constant = blocks.setdefault(lat, ([], [], []))
        if not obs:
            # The same for every row: added once, broadcast over rows.
            constant.append(index[0])
            return
        block = np.stack([family_codes[family.index(n)] for n in obs], axis=1).astype(np.int64)
        ok = (block >= 0).all(axis=1)
        # A missing leaf selects nothing (-1): log factor 0, i.e. it is summed out.
        where = np.full(n_rows, -1, dtype=np.int64)
        where[ok] = np.ravel_multi_index(tuple(block[ok].T), [card[n] for n in obs])
        selected.append(where)
        indices.append(index)

    for n, family in families:
        add_family(n, family, [codes[:, col[m]] for m in family])
    if label is not None:
        parent, label_codes = label
        card[LABEL] = 2
        add_family(LABEL, [parent, LABEL], [codes[:, col[parent]], np.asarray(label_codes)])
    log_blocks: dict[tuple[str, ...], object] = {}
    for lat, (selected, indices, constant) in blocks.items():
        n_lat = int(np.prod([card[n] for n in lat])) if lat else 1
        value = pt.zeros((n_rows, n_lat))
        if selected and n_rows >= LARGE_BATCH:
            value = _scope_sum(log_flat, selected, indices, n_lat)
        elif selected:
            value = _scope_product(log_flat, selected, indices)
        if constant:
            value = value + log_flat[np.stack(constant)].sum(axis=0)[None, :]
        log_blocks[lat] = value
    for n in partly_seen:
        # A constant log factor keeps only the recorded state.
        ev = np.zeros((n_rows, card[n]))
        rows_seen = np.flatnonzero(seen[n])
        ev[rows_seen] = _IMPOSSIBLE
        ev[rows_seen, codes[rows_seen, col[n]]] = 0.0
        key = (n,)
        log_blocks[key] = log_blocks[key] + ev if key in log_blocks else pt.as_tensor_variable(ev)

    total = pt.zeros((n_rows,))
    if () in log_blocks:
        total = total + log_blocks.pop(())[:, 0]
    # Fold each scope into a larger scope containing it (log domain), then go linear.
    keys = sorted(log_blocks, key=len)
    merged: dict[tuple[str, ...], object] = {}
    for i, key in enumerate(keys):
        host = next((k for k in reversed(keys[i + 1 :]) if set(key) < set(k)), None)
        shaped = log_blocks[key].reshape((n_rows, *[card[n] for n in key]))
        if host is None:
            merged[key] = shaped
        else:
            host_shaped = log_blocks[host].reshape((n_rows, *[card[n] for n in host]))
            log_blocks[host] = (host_shaped + broadcast(shaped, list(key), list(host))).reshape(
                (n_rows, -1)
            )
    # Each factor keeps only its own scope's axes (in latent order), so no tensor has
    # more axes than the largest clique: numba writes one loop per axis.
    factors: list[tuple[list[str], object]] = []
    for key, logf in merged.items():
        flat = logf.reshape((n_rows, -1))
        # Exact rescaling: the row maximum leaves the value unchanged, so no gradient flows.
        shift = disconnected_grad(pt.max(flat, axis=1))
        total = total + shift
        factor = pt.exp(flat - shift[:, None]).reshape((n_rows, *[card[n] for n in key]))
        factors.append((list(key), factor))

    for v in elimination:
        touching = [f for f in factors if v in f[0]]
        factors = [f for f in factors if v not in f[0]]
        if not touching:
            continue
        scope = sorted(set().union(*(s for s, _ in touching)), key=axis.get)
        product = broadcast(touching[0][1], touching[0][0], scope)
        for s, t in touching[1:]:
            product = product * broadcast(t, s, scope)
        factors.append(([n for n in scope if n != v], product.sum(axis=1 + scope.index(v))))
    for _, t in factors:
        total = total + pt.log(t.reshape((n_rows,)))
    return total


#: Most groups of rows :func:`flat_log_evidence` splits a batch into (one per pattern of
#: recorded partly-seen variables with children); beyond it the batch stays whole.
MAX_ROW_GROUPS = 4
#: Fewest rows for the forms that cost more to compile and less to run: the split into
#: groups of rows (each group is a graph of its own: the numba compile at 300 patients
#: went from 6 s to 18 s) and the gathered scope sums (compile 5 s to 7 s). At 10,000
#: patients they save about 45 % of every gradient with JAX; below this size they
#: save little (gathered sums at 2,000 rows with numba: none).
LARGE_BATCH = 2000


def _split_rows(seen: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """Row indices grouped by which of the partly seen variables they record; None: keep whole."""
    if not seen:
        return None
    pattern = np.stack(seen, axis=1)
    unique, inverse = np.unique(pattern, axis=0, return_inverse=True)
    if not 1 < len(unique) <= MAX_ROW_GROUPS:
        return None
    inverse = np.asarray(inverse).reshape(-1)
    return [np.flatnonzero(inverse == k) for k in range(len(unique))]


def _scope_product(log_flat, selected: list[np.ndarray], indices: list[np.ndarray]):
    """:func:`_scope_sum` as one dense product of a one-hot matrix with the weights.

    Cheaper to compile than the gathers, and as fast for small batches.
    """
    import pytensor.tensor as pt

    n_rows = len(selected[0])
    starts = np.cumsum([0] + [len(i) for i in indices])
    onehot = np.zeros((n_rows, starts[-1]))
    for where, start in zip(selected, starts[:-1], strict=True):
        ok = np.flatnonzero(where >= 0)
        onehot[ok, where[ok] + start] = 1.0
    used = np.flatnonzero(onehot.any(axis=0))
    # Columns no row selects contribute nothing: leave them out of the product.
    weights = log_flat[np.concatenate(indices, axis=0)[used]]
    return pt.dot(pt.as_tensor_variable(onehot[:, used]), weights)


def _scope_sum(log_flat, selected: list[np.ndarray], indices: list[np.ndarray], n_lat: int):
    """(n_rows, n_lat): per row, the sum over families of its selected weight row.

    ``selected[f]`` holds each row's observed configuration of family ``f`` (-1: the
    family's leaf is missing, nothing added); ``indices[f]`` the flat position of each
    (observed configuration, latent configuration) cell.
    """
    import pytensor.tensor as pt

    starts = np.cumsum([0] + [len(i) for i in indices])
    stacked = np.concatenate(indices, axis=0)
    choice = np.stack(
        [np.where(w >= 0, w + start, -1) for w, start in zip(selected, starts[:-1], strict=True)],
        axis=1,
    )
    used, compact = np.unique(choice, return_inverse=True)
    compact = compact.reshape(choice.shape)
    if used[0] == -1:
        # The "nothing" choice becomes the last row of the weights, a row of zeros.
        used = used[1:]
        compact = np.where(compact == 0, len(used), compact - 1)
    patterns, inverse = np.unique(compact, axis=0, return_inverse=True)
    weights = pt.concatenate([log_flat[stacked[used]], pt.zeros((1, n_lat))], axis=0)
    per_pattern = weights[patterns].sum(axis=1)
    return per_pattern[np.asarray(inverse).reshape(-1)]


def _elimination_order(
    scopes: Sequence[Sequence[str]], latent: Sequence[str], card: Mapping[str, int]
) -> list[str]:
    """The exact engine's weighted min-fill order of ``latent`` for factors over ``scopes``."""
    index = {n: k for k, n in enumerate(latent)}
    graph = interaction_graph(([index[n] for n in s] for s in scopes), range(len(latent)))
    order = weighted_min_fill_order(graph, [card[n] for n in latent], range(len(latent)))
    return [latent[k] for k in order]
