"""The marginal likelihood of partly observed patients, as a PyMC model.

Training without the latent truth: the lesion, the mechanisms and (without a
gold standard) the pain class itself are summed out of every patient's
likelihood exactly, by variable elimination written as a PyTensor graph over a
batch of distinct patient rows. Nothing is imputed and no row is dropped:

* an observed variable gathers its CPT entries row by row;
* a missing leaf finding contributes 1 (its CPT row sums to 1): a "ones row"
  is appended to the gathered matrix and missing rows point at it;
* a variable that is missing in some rows and has children becomes latent for
  the whole batch, with a constant 0/1 evidence factor where it was seen;
* latent variables are eliminated greedily (smallest intermediate first) with
  broadcasting products and sums, so the cost is a few passes over arrays of
  shape ``(n_rows, <= 2**5)``, and NUTS gets the exact gradient from PyTensor.

Selection. Cohort patients are drawn conditional on ``chronic_pain = present``
(and, in condition-specific settings, on the aetiology case mix), so the
likelihood of a patient is ``P(findings | aetiology, chronic pain)``, i.e.
``P(findings, chronic pain | aetiology) / P(chronic pain | aetiology)``. The
denominator is the same elimination on one row per aetiology. Conditioning on
the aetiology makes the model indifferent to the setting's case mix and leaves
the aetiology distribution to an exact conjugate update.

Noisy labels. A recorded label (a clinician's call) enters as an extra child
of ``neuropathic`` with its own 2 x 2 table: the clinician's sensitivity and
false-positive rate, with a Beta prior from the published inter-rater
agreement. A label that is a deterministic function of the findings (the
NeuPSIG grade) carries no information beyond them and is not used.

Label switching. With the class latent, relabelling it (and every table that
depends on it) leaves an unlabelled likelihood almost unchanged. Three things
keep the chains on the intended labelling: the specification's informative,
asymmetric Dirichlet priors; every chain starts at the prior mean; and
:func:`orientation_problems` checks, chain by chain, that every strong prior
contrast (for example P(confirmatory test positive | lesion) above P(positive |
no lesion), the clinician's call more often positive in neuropathic pain) keeps
its sign. A chain that flipped is reported as a diagnostics failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from npprob.errors import EvidenceError
from npprob.learning.label import LabelModel
from npprob.learning.pymc_model import RowLayout
from npprob.network.network import Network
from npprob.network.spec import ClinicalSpec

__all__ = [
    "FlatLayout",
    "LabelModel",
    "MarginalLayout",
    "MarginalProblem",
    "build_marginal_model",
    "flat_log_evidence",
    "log_evidence_graph",
    "orientation_problems",
    "prepare_problem",
]


@dataclass
class MarginalLayout(RowLayout):
    """Where the free rows live, plus what the likelihood left to exact updates."""

    conditioned: tuple[str, ...] = ()
    """Fully observed root variables the likelihood conditions on (conjugate update)."""
    label: LabelModel | None = None
    n_rows: int = 0
    """Distinct patient rows in the likelihood."""
    n_patients: int = 0
    latent: tuple[str, ...] = ()
    """Variables recorded for no patient (summed out, or dropped when barren)."""


@dataclass(frozen=True)
class MarginalProblem:
    """Distinct patient rows with their multiplicities, ready for :func:`build_marginal_model`."""

    codes: np.ndarray
    weights: np.ndarray
    label: np.ndarray | None
    selection: dict[str, str]
    conditioned: tuple[str, ...]
    n_patients: int = field(default=0)


def prepare_problem(
    network: Network,
    codes: np.ndarray,
    *,
    label: np.ndarray | None = None,
    selection: Mapping[str, str] | None = None,
    conditioned: Sequence[str] = ("aetiology",),
) -> MarginalProblem:
    """Check the data and collapse identical patients into weighted rows.

    Parameters
    ----------
    codes : ndarray of int, shape (n_patients, n_variables)
        State codes, -1 where not recorded (latent variables are all -1).
    label : ndarray of int, shape (n_patients,), optional
        Recorded 0/1 label, -1 where missing.
    selection : mapping of str to str, optional
        Variables every patient was selected on (``{"chronic_pain": "present"}``).
    conditioned : sequence of str
        Root variables the likelihood conditions on; they must be recorded for
        every patient.

    Raises
    ------
    EvidenceError
        On an empty cohort, a conditioned variable with missing values, or a
        label that is not 0, 1 or -1.
    """
    codes = np.array(codes, dtype=np.int16, copy=True)
    if codes.ndim != 2 or codes.shape[1] != len(network) or len(codes) == 0:
        raise EvidenceError(f"Need a non-empty (n_patients, {len(network)}) array of codes.")
    selection = dict(selection or {})
    for name, state in selection.items():
        codes[:, network.index(name)] = network.variable(name).states.index(state)
    for name in conditioned:
        if network.parents(name):
            raise EvidenceError(f"Can only condition on root variables; '{name}' has parents.")
        missing = int((codes[:, network.index(name)] < 0).sum())
        if missing:
            raise EvidenceError(
                f"'{name}' is missing in {missing} patient(s); the marginal likelihood "
                "conditions on it, so it must be recorded for every patient."
            )
    table = codes
    if label is not None:
        label = np.asarray(label).astype(np.int16).reshape(-1)
        if len(label) != len(codes) or not np.isin(label, (-1, 0, 1)).all():
            raise EvidenceError("The label must hold 0, 1 or -1 (missing), one per patient.")
        table = np.column_stack([codes, label])
    unique, counts = np.unique(table, axis=0, return_counts=True)
    return MarginalProblem(
        codes=unique[:, : len(network)].astype(np.int16),
        weights=counts.astype(np.float64),
        label=None if label is None else unique[:, -1].astype(np.int16),
        selection=selection,
        conditioned=tuple(conditioned),
        n_patients=len(codes),
    )


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
    log_flat = pt.log(pt.maximum(pt.concatenate(parts), _TINY))
    return flat_log_evidence(
        network,
        log_flat,
        offsets,
        codes,
        skip=skip,
        label=None if label is None else (label[0], label[2]),
    )


class FlatLayout:
    """Offsets of every CPT (and the label table) in one flat parameter vector."""

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


#: Name of the label pseudo-variable in a :class:`FlatLayout`.
LABEL = "__label__"


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
    """
    import pytensor.tensor as pt
    from pytensor.gradient import disconnected_grad

    codes = np.asarray(codes)
    n_rows = len(codes)
    names = list(network.names)
    card = {v.name: len(v.states) for v in network.variables}
    col = {name: j for j, name in enumerate(names)}
    children: dict[str, set[str]] = {n: set() for n in names}
    for n in names:
        for p in network.parents(n):
            children[p].add(n)
    seen = {n: codes[:, col[n]] >= 0 for n in names}
    label_parent = label[0] if label is not None else None

    # Barren variables (never observed, no remaining child) sum to 1: drop them.
    active = set(names)
    changed = True
    while changed:
        changed = False
        for n in list(active):
            if (
                not seen[n].any()
                and not (children[n] & active)
                and n != label_parent
                and n not in skip
            ):
                active.discard(n)
                changed = True
    latent = [
        n
        for n in names
        if n in active and not seen[n].all() and ((children[n] & active) or n == label_parent)
    ]
    axis = {n: k for k, n in enumerate(latent)}
    lat_set = set(latent)

    def broadcast(tensor, scope: list[str], within: list[str] | None = None):
        """(n_rows, *cards of scope) -> the axes of ``within`` (default: every latent)."""
        within = latent if within is None else within
        pattern = [0] + ["x"] * len(within)
        for k, n in enumerate(scope):
            pattern[1 + within.index(n)] = 1 + k
        return tensor.dimshuffle(*pattern)

    # Families sharing a latent scope add their log entries: one one-hot matrix
    # product per scope (its gradient is a product too), not one gather per family.
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
        rows, indices, constant = blocks.setdefault(lat, ([], [], []))
        if not obs:
            # The same for every row: added once, broadcast over rows.
            constant.append(index[0])
            return
        onehot = np.zeros((n_rows, n_obs))
        block = np.stack([family_codes[family.index(n)] for n in obs], axis=1).astype(np.int64)
        ok = (block >= 0).all(axis=1)
        # A missing leaf keeps an all-zero row: log factor 0, i.e. it is summed out.
        where = np.ravel_multi_index(tuple(block[ok].T), [card[n] for n in obs])
        onehot[np.flatnonzero(ok), where] = 1.0
        rows.append(onehot)
        indices.append(index)

    for n in names:
        if n in active and n not in skip:
            family = [*network.parents(n), n]
            add_family(n, family, [codes[:, col[m]] for m in family])
    if label is not None:
        parent, label_codes = label
        card[LABEL] = 2
        add_family(LABEL, [parent, LABEL], [codes[:, col[parent]], np.asarray(label_codes)])
    log_blocks: dict[tuple[str, ...], object] = {}
    for lat, (rows, indices, constant) in blocks.items():
        n_lat = int(np.prod([card[n] for n in lat])) if lat else 1
        value = pt.zeros((n_rows, n_lat))
        if rows:
            onehot = np.concatenate(rows, axis=1)
            used = np.flatnonzero(onehot.any(axis=0))
            # Columns no row selects contribute nothing: leave them out of the product.
            weights = log_flat[np.concatenate(indices, axis=0)[used]]
            value = pt.dot(pt.as_tensor_variable(onehot[:, used]), weights)
        if constant:
            value = value + log_flat[np.stack(constant)].sum(axis=0)[None, :]
        log_blocks[lat] = value
    for n in latent:
        if seen[n].any():
            # Partly observed: a constant log factor keeps only the recorded state.
            ev = np.zeros((n_rows, card[n]))
            rows_seen = np.flatnonzero(seen[n])
            ev[rows_seen] = _IMPOSSIBLE
            ev[rows_seen, codes[rows_seen, col[n]]] = 0.0
            key = (n,)
            log_blocks[key] = (
                log_blocks[key] + ev if key in log_blocks else pt.as_tensor_variable(ev)
            )

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
    factors: list[tuple[set[str], object]] = []
    for key, logf in merged.items():
        flat = logf.reshape((n_rows, -1))
        # Exact rescaling: the row maximum leaves the value unchanged, so no gradient flows.
        shift = disconnected_grad(pt.max(flat, axis=1))
        total = total + shift
        factor = pt.exp(flat - shift[:, None]).reshape((n_rows, *[card[n] for n in key]))
        factors.append((set(key), broadcast(factor, list(key))))

    def cost(v: str, factors: list[tuple[set[str], object]]) -> tuple[int, int]:
        scope = set().union({v}, *(s for s, _ in factors if v in s))
        return int(np.prod([card[m] for m in scope])), axis[v]

    remaining = list(latent)
    while remaining:
        v = min(remaining, key=lambda m: cost(m, factors))
        remaining.remove(v)
        touching = [f for f in factors if v in f[0]]
        factors = [f for f in factors if v not in f[0]]
        if not touching:
            continue
        scope = set().union(*(s for s, _ in touching))
        product = touching[0][1]
        for _, t in touching[1:]:
            product = product * t
        factors.append((scope - {v}, product.sum(axis=1 + axis[v], keepdims=True)))
    for _, t in factors:
        total = total + pt.log(t.reshape((n_rows,)))
    return total


#: Floor of CPT entries inside logs (structural zeros), and the log of an excluded state.
_TINY = 1e-300
_IMPOSSIBLE = -1e4


def build_marginal_model(
    spec: ClinicalSpec, problem: MarginalProblem, *, label: LabelModel | None = None
):
    """The marginal-likelihood model: returns ``(pymc.Model, MarginalLayout)``.

    Every learnable CPT row the likelihood touches becomes a Beta (two states)
    or Dirichlet random variable with the specification's prior; rows it never
    touches (for example the rows of aetiologies absent from the cohort) and
    the conditioned variables are left to exact draws (see
    :meth:`RowLayout.assemble`).
    """
    import pymc as pm
    import pytensor.tensor as pt

    net = spec.network
    codes = problem.codes
    layout = MarginalLayout(conditioned=problem.conditioned, n_rows=len(codes))
    layout.n_patients = problem.n_patients
    layout.label = label if problem.label is not None else None
    skip = set(problem.conditioned)
    observed_roots = {n: np.unique(codes[:, net.index(n)]) for n in problem.conditioned}
    a, b, where = [], [], []
    dirichlet = []
    for name, alpha in spec.concentration.items():
        if name in skip:
            continue
        parents = net.parents(name)
        shape = net.cpt_shape(name)
        n_states = shape[-1]
        rows = alpha.reshape(-1, n_states)
        parent_index = np.indices(shape[:-1]).reshape(len(parents), -1).T if parents else [()]
        for r, (arow, config) in enumerate(zip(rows, parent_index, strict=True)):
            positive = np.flatnonzero(arow > 0)
            if len(positive) < 2:
                continue
            touched = all(
                config[k] in observed_roots[p] for k, p in enumerate(parents) if p in observed_roots
            )
            if not touched:
                layout.exact_rows.append((name, r))
                continue
            if len(positive) == 2:
                first, second = (int(i) for i in positive)
                layout.binary_rows.append((name, r, first, second))
                a.append(arow[second])
                b.append(arow[first])
                where.append((name, r * n_states + first, r * n_states + second))
            else:
                var = f"{name}__row{r}"
                layout.dirichlet_rows.append((name, r, positive, var))
                dirichlet.append((var, arow[positive], name, r * n_states + positive))
    with_label = layout.label is not None
    flat_layout = FlatLayout(net, with_label=with_label)
    # The specification's CPTs are its prior means: the start of every free row.
    base = np.concatenate(
        [np.asarray(net.cpt(n), dtype=np.float64).ravel() for n in net.names]
        + ([np.zeros(4)] if with_label else [])
    )
    with pm.Model() as model:
        # One flat vector holds every CPT: two scatters place the Beta rows, one the
        # Dirichlet rows, so the graph stays small whatever the number of rows.
        flat = pt.as_tensor_variable(base)
        if a:
            theta = _binary_rows(np.array(a), np.array(b))
            first = np.array([flat_layout.offset[w[0]] + w[1] for w in where])
            second = np.array([flat_layout.offset[w[0]] + w[2] for w in where])
            flat = pt.set_subtensor(flat[first], 1.0 - theta)
            flat = pt.set_subtensor(flat[second], theta)
        if dirichlet:
            values = [pm.Dirichlet(var, a=alpha_row) for var, alpha_row, _, _ in dirichlet]
            cells = np.concatenate([flat_layout.offset[name] + c for _, _, name, c in dirichlet])
            flat = pt.set_subtensor(flat[cells], pt.concatenate(values))
        label_codes = None
        if with_label:
            c = layout.label.concentration
            sens = pm.Beta("label_sensitivity", alpha=c[1, 1], beta=c[1, 0])
            fpr = pm.Beta("label_false_positive_rate", alpha=c[0, 1], beta=c[0, 0])
            at = flat_layout.offset[LABEL]
            flat = pt.set_subtensor(flat[at : at + 4], pt.stack([1.0 - fpr, fpr, 1.0 - sens, sens]))
            label_codes = (layout.label.parent, problem.label)
        log_flat = pt.log(pt.maximum(flat, _TINY))
        numerator = flat_log_evidence(
            net, log_flat, flat_layout, codes, skip=list(skip), label=label_codes
        )
        loglik = pt.dot(problem.weights, numerator)
        if problem.selection:
            den_codes, den_index = _denominator_rows(net, codes, problem)
            denominator = flat_log_evidence(net, log_flat, flat_layout, den_codes, skip=list(skip))
            den_weights = np.bincount(den_index, weights=problem.weights, minlength=len(den_codes))
            loglik = loglik - pt.dot(den_weights, denominator)
        pm.Potential("marginal_loglik", loglik)
    layout.latent = tuple(n for n in net.names if (codes[:, net.index(n)] < 0).all())
    return model, layout


def _binary_rows(a: np.ndarray, b: np.ndarray):
    """P(second state) of every two-state row, Beta(a, b) a priori, as ``binary_theta``.

    Rows with both concentrations at least 1 are plain Beta variables. A row
    with a concentration c below 1 on one side has, in the sampler's log-odds
    space, an exponential tail as slow as exp(c * y), which NUTS explores with
    divergences. Such a row is sampled as w = p**c instead (p the small-side
    probability), which has the bounded density (1 - w**(1/c))**(d - 1) on
    (0, 1) (d the other side's concentration): the same Beta prior, a
    geometry NUTS handles.
    """
    import pymc as pm
    import pytensor.tensor as pt

    plain = np.flatnonzero((a >= 1) & (b >= 1))
    small_second = np.flatnonzero((a < 1) & (a <= b))
    small_first = np.flatnonzero((b < 1) & (b < a))
    theta = pt.zeros(len(a))
    if len(plain):
        beta = pm.Beta("binary_beta", alpha=a[plain], beta=b[plain], shape=len(plain))
        theta = pt.set_subtensor(theta[plain], beta)
    power = np.concatenate([small_second, small_first])
    if len(power):
        small = np.concatenate([a[small_second], b[small_first]])
        other = np.concatenate([b[small_second], a[small_first]])
        w = pm.Uniform("binary_power", lower=0.0, upper=1.0, shape=len(power))
        p = w ** (1.0 / small)
        pm.Potential("binary_power_prior", pt.sum((other - 1.0) * pt.log1p(-p)))
        k = len(small_second)
        theta = pt.set_subtensor(theta[small_second], p[:k])
        theta = pt.set_subtensor(theta[small_first], 1.0 - p[k:])
    return pm.Deterministic("binary_theta", theta)


def _denominator_rows(net: Network, codes: np.ndarray, problem: MarginalProblem):
    """One row per distinct conditioned context with only the selection observed."""
    cols = [net.index(n) for n in problem.conditioned]
    context = codes[:, cols] if cols else np.zeros((len(codes), 0), dtype=codes.dtype)
    unique, inverse = np.unique(context, axis=0, return_inverse=True)
    den = np.full((len(unique), len(net)), -1, dtype=np.int16)
    den[:, cols] = unique
    for name, state in problem.selection.items():
        den[:, net.index(name)] = net.variable(name).states.index(state)
    return den, np.asarray(inverse).reshape(-1)


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
