"""The exact-inference engine: groups patients by evidence pattern, caches plans, calls kernels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numba
import numpy as np

from npprob._checks import Interval, Options, check_parameters
from npprob.errors import EvidenceError, NetworkError, ZeroProbabilityEvidenceError
from npprob.inference import _kernels
from npprob.inference.compiled import before_first_call
from npprob.inference.layout import ParameterLayout
from npprob.inference.plan import Plan, compile_plan
from npprob.inference.threads import chunk_bounds, default_threads, spread
from npprob.network.evidence import EvidenceBatch
from npprob.network.network import Network, check_probability_table

__all__ = ["Engine", "QueryResult"]

#: The rules of the query arguments (every query method checks them).
_QUERY_CONSTRAINTS = {
    "on_zero": Options(("raise", "nan")),
    "n_threads": Interval(int, 1, none=True),
}

EvidenceLike = (
    EvidenceBatch | np.ndarray | Mapping[str, str | None] | Sequence[Mapping[str, str | None]]
)


@dataclass(frozen=True)
class QueryResult:
    """Posterior marginals of the query variables for every draw and patient.

    Attributes
    ----------
    targets : tuple of str
        Query variables, in the order asked.
    columns : tuple of str
        ``"VAR=state"`` label of each column of :attr:`probabilities`.
    probabilities : ndarray of float64, shape (n_draws, n_patients, n_columns)
        Posterior probability of each target state; the columns of one target
        sum to 1. NaN where the evidence has probability zero.
    log_evidence : ndarray of float64, shape (n_draws, n_patients)
        Natural log of P(evidence) under each draw; ``-inf`` where it is zero.
    zero_probability : ndarray of bool, shape (n_patients,)
        True where the evidence has probability zero under at least one draw.
    """

    targets: tuple[str, ...]
    columns: tuple[str, ...]
    probabilities: np.ndarray
    log_evidence: np.ndarray
    zero_probability: np.ndarray
    _slices: dict[str, slice] = field(repr=False, default_factory=dict)

    @property
    def n_draws(self) -> int:
        """Number of parameter draws."""
        return int(self.probabilities.shape[0])

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return int(self.probabilities.shape[1])

    def column_index(self, target: str, state: int) -> int:
        """Index into the last axis of :attr:`probabilities` of ``target``'s state ``state``."""
        self.marginal(target)  # a clear error for a target not queried
        columns = self._slices[target]
        if not 0 <= state < columns.stop - columns.start:
            raise EvidenceError(f"'{target}' has no state {state}.", variable=target)
        return columns.start + state

    def marginal(self, target: str) -> np.ndarray:
        """Posterior of one target, shape (n_draws, n_patients, n_states)."""
        try:
            return self.probabilities[..., self._slices[target]]
        except KeyError:
            raise EvidenceError(
                f"'{target}' was not queried; targets are: {', '.join(self.targets)}.",
                variable=target,
            ) from None

    def mean(self, target: str) -> np.ndarray:
        """Posterior marginal averaged over draws, shape (n_patients, n_states)."""
        return self.marginal(target).mean(axis=0)


class Engine:
    """Exact inference over patients and parameter draws.

    Parameters
    ----------
    network : Network
        The network; its structure fixes the plans, its CPTs are the default
        parameters.
    cpts : mapping of str to array_like, optional
        Parameters replacing the network's: each CPT either with the network's
        shape or stacked as ``(n_draws, *shape)``.
    validate : bool, default=True
        Check that every CPT row is a distribution (see
        :meth:`ParameterLayout.pack`).

    Notes
    -----
    Plans are compiled per set of observed variables and query targets
    (see :mod:`npprob.inference.plan`) and cached; engines made with
    :meth:`with_parameters` share the cache. The numba kernels are generic
    and cached on disk, so a second process skips their compilation.

    Examples
    --------
    >>> import numpy as np
    >>> from npprob.network import Network, Variable
    >>> net = Network(
    ...     [Variable("rain", ("no", "yes")), Variable("wet", ("no", "yes"))],
    ...     {"wet": ["rain"]},
    ...     {"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.2, 0.8]]},
    ... )
    >>> result = Engine(net).query({"wet": "yes"}, ["rain"])
    >>> np.round(result.mean("rain"), 4)
    array([[0.3333, 0.6667]])
    """

    def __init__(
        self,
        network: Network,
        cpts: Mapping[str, np.typing.ArrayLike] | None = None,
        *,
        validate: bool = True,
    ) -> None:
        self.network = network
        self.layout = ParameterLayout(network)
        self.params_t = _draws_minor(self.layout.pack(cpts, validate=validate))
        self._plans: dict[tuple[frozenset[int], tuple[int, ...], frozenset[int]], Plan] = {}
        self._constants: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def _from_params(cls, other: Engine, params: np.ndarray) -> Engine:
        new = cls.__new__(cls)
        new.network = other.network
        new.layout = other.layout
        new.params_t = _draws_minor(params)
        new._plans = other._plans
        new._constants = {}
        return new

    def with_parameters(
        self, cpts: Mapping[str, np.typing.ArrayLike], *, validate: bool = True
    ) -> Engine:
        """An engine with other parameters and the same plan cache."""
        return Engine._from_params(self, self.layout.pack(cpts, validate=validate))

    def with_root_distribution(self, name: str, probabilities: np.typing.ArrayLike) -> Engine:
        """An engine whose root variable ``name`` has ``probabilities`` in every draw.

        The other parameters and the plan cache are shared; used to put a care
        setting's case mix in place of the trained distribution of a root.

        Raises
        ------
        NetworkError
            When ``name`` has parents or the probabilities are not a distribution
            over its states.
        """
        i = self.network.index(name)
        if self.network.parents(name):
            raise NetworkError(f"'{name}' has parents; only a root's distribution can be set.",
                               variable=name)  # fmt: skip
        p = np.asarray(probabilities, dtype=np.float64)
        check_probability_table(p.reshape(self.network.cpt_shape(name)), name)
        params_t = self.params_t.copy()
        start = int(self.layout.offsets[i])
        params_t[start : start + p.size, :] = p[:, None]
        return Engine._from_params(self, params_t.T)

    @property
    def n_draws(self) -> int:
        """Number of parameter draws the engine holds."""
        return int(self.params_t.shape[1])

    # -- evidence ------------------------------------------------------------
    def evidence(self, evidence: EvidenceLike) -> EvidenceBatch:
        """Coerce ``evidence`` to an :class:`EvidenceBatch` for this network.

        Accepts a batch, an int array of codes ``(n_patients, n_variables)``,
        one ``{variable: state}`` mapping, or a sequence of them.
        """
        if isinstance(evidence, EvidenceBatch):
            if evidence.network is not self.network and (
                evidence.network.structure_digest() != self.network.structure_digest()
            ):
                raise EvidenceError("The evidence batch was built for a different network.")
            return evidence
        if isinstance(evidence, np.ndarray):
            return EvidenceBatch(self.network, evidence)
        if isinstance(evidence, Mapping):
            return EvidenceBatch.from_records(self.network, [evidence])
        return EvidenceBatch.from_records(self.network, evidence)

    def _target_indices(self, targets: Iterable[str] | str) -> tuple[int, ...]:
        if isinstance(targets, str):
            targets = [targets]
        idx = tuple(self.network.index(t) for t in targets)
        if len(set(idx)) != len(idx):
            raise NetworkError("A target is listed twice: " + ", ".join(targets) + ".")
        return idx

    # -- plans ---------------------------------------------------------------
    def plan(self, observed: Iterable[str], targets: Iterable[str] | str) -> Plan:
        """The compiled plan for a set of observed variables and targets."""
        evidence = frozenset(self.network.index(n) for n in observed)
        return self._plan(evidence, self._target_indices(targets))

    def _plan(
        self,
        evidence: frozenset[int],
        targets: tuple[int, ...],
        soft: frozenset[int] = frozenset(),
        joint: bool = False,
        programs: str | None = None,
    ) -> Plan:
        key = (evidence, targets, soft, joint) + ((programs,) if programs else ())
        plan = self._plans.get(key)
        if plan is None:
            plan = compile_plan(self.layout, evidence, targets, soft, joint=joint,
                                programs=programs)  # fmt: skip
            self._plans[key] = plan
        return plan

    def _group(
        self, codes: np.ndarray, targets: tuple[int, ...], joint: bool = False
    ) -> list[tuple[frozenset[int], frozenset[int], np.ndarray]]:
        """Split patients into (hard evidence, soft evidence, rows) groups.

        Leaves observed by anyone count as observed for everyone (the ones
        column stands for "unobserved"). Each remaining pattern gets its own
        exactly pruned plan when it has enough lanes to pay for compiling it
        (or its plan is cached, or it is the only pattern); the patients of
        the other patterns share one plan with soft evidence on the variables
        they observe only in part. For a joint query the targets are never hard
        evidence: observed ones enter every group's plan as soft evidence.
        """
        observed = codes >= 0
        soft_leaves = self.layout.has_ones_column & observed.any(axis=0)
        soft_leaves[list(targets)] = False
        key = observed | soft_leaves[None, :]
        forced_soft: frozenset[int] = frozenset()
        if joint:
            forced_soft = frozenset(t for t in targets if observed[:, t].any())
            key[:, list(targets)] = False
        if len(key) == 1 or (key == key[0]).all():
            pattern = frozenset(np.flatnonzero(key[0]).tolist())
            return [(pattern, forced_soft, np.arange(len(key), dtype=np.int64))]
        keys = _row_keys(key)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        counts = np.bincount(inverse, minlength=len(uniq))
        # Decided for all patterns at once: a batch of random missingness has about as
        # many patterns as patients, and a Python loop over them took two thirds of a
        # batch's time on alarm, time no thread could share.
        own = counts * self.n_draws >= EXACT_PLAN_MIN_LANES
        # A snapshot: another thread (the web app's) may add plans meanwhile.
        cached = [k[0] for k in tuple(self._plans) if k[1:] == (targets, forced_soft, joint)]
        if cached:
            marks = np.zeros((len(cached), key.shape[1]), dtype=np.bool_)
            for i, pattern in enumerate(cached):
                marks[i, list(pattern)] = True
            known = set(_row_keys(marks).tolist())
            own |= np.fromiter((k in known for k in uniq.tolist()), np.bool_, len(uniq))
        order = np.argsort(inverse, kind="stable")
        ends = np.cumsum(counts)
        groups = []
        for g in np.flatnonzero(own):
            pattern = frozenset(np.flatnonzero(key[first[g]]).tolist())
            rows = order[ends[g] - counts[g] : ends[g]].astype(np.int64)
            groups.append((pattern, forced_soft, rows))
        left = ~own[inverse]
        if left.any():
            rows = np.flatnonzero(left).astype(np.int64)
            # A wide variable (the condition, 27 states) left hidden joins the largest
            # clique; as soft evidence it would be hidden for every leftover patient,
            # so the patients who record it get a plan of their own.
            wide = np.flatnonzero(self.layout.cardinalities >= WIDE_CARDINALITY)
            split = key[rows][:, wide]
            for pattern in np.unique(split, axis=0):
                part = rows[(split == pattern).all(axis=1)]
                sub = key[part]
                hard = sub.all(axis=0)
                soft = sub.any(axis=0) & ~hard
                groups.append(
                    (
                        frozenset(np.flatnonzero(hard).tolist()),
                        frozenset(np.flatnonzero(soft).tolist()) | forced_soft,
                        part,
                    )
                )
        return groups

    # -- queries -------------------------------------------------------------
    def query(
        self,
        evidence: EvidenceLike,
        targets: Iterable[str] | str,
        *,
        on_zero: Literal["raise", "nan"] = "raise",
        n_threads: int | None = None,
    ) -> QueryResult:
        """Posterior marginals of ``targets`` for every patient and draw.

        Parameters
        ----------
        evidence : EvidenceBatch, ndarray, mapping or sequence of mappings
            Observed states per patient (see :meth:`evidence`).
        targets : str or iterable of str
            Query variables; any number, each answered with its marginal.
        on_zero : {"raise", "nan"}, default="raise"
            Evidence of probability zero raises
            :class:`~npprob.errors.ZeroProbabilityEvidenceError` naming the
            rows, or, with ``"nan"``, gives NaN posteriors and sets
            :attr:`QueryResult.zero_probability`.
        n_threads : int, optional
            Threads for the kernels; defaults to numba's setting.

        Returns
        -------
        QueryResult
        """
        check_parameters(_QUERY_CONSTRAINTS, {"on_zero": on_zero, "n_threads": n_threads})
        batch = self.evidence(evidence)
        target_idx = self._target_indices(targets)
        names = self.network.names
        columns, slices, col = [], {}, 0
        for t in target_idx:
            var = self.network.variables[t]
            columns.extend(f"{var.name}={s}" for s in var.states)
            slices[var.name] = slice(col, col + var.cardinality)
            col += var.cardinality
        probabilities, log_z = self._run(batch.codes, target_idx, col, n_threads)
        zero = np.isneginf(log_z).any(axis=0)
        if on_zero == "raise" and zero.any():
            rows = np.flatnonzero(zero)
            shown = ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
            raise ZeroProbabilityEvidenceError(
                f"The evidence of {len(rows)} patient(s) has probability zero under the network "
                f"(rows {shown}; 0-based). Check for contradictory findings.",
                rows=rows,
            )
        return QueryResult(
            targets=tuple(names[t] for t in target_idx),
            columns=tuple(columns),
            probabilities=probabilities,
            log_evidence=log_z,
            zero_probability=zero,
            _slices=slices,
        )

    def joint(
        self,
        evidence: EvidenceLike,
        variables: Iterable[str],
        *,
        on_zero: Literal["raise", "nan"] = "raise",
        n_threads: int | None = None,
    ) -> np.ndarray:
        """Joint posterior of several variables for every patient and draw.

        Parameters
        ----------
        evidence : EvidenceBatch, ndarray, mapping or sequence of mappings
            Observed states per patient (see :meth:`evidence`). Observed
            variables among ``variables`` get their point mass.
        variables : iterable of str
            The variables, distinct; the result's axes follow this order.
        on_zero : {"raise", "nan"}, default="raise"
            As in :meth:`query`.

        Returns
        -------
        ndarray of float64, shape (n_draws, n_patients, card_1, ..., card_k)
            ``P(v_1 = s_1, ..., v_k = s_k | evidence)``; sums to 1 over the
            trailing axes. A variable's CPT family gives the expected
            sufficient statistics of learning with hidden variables.
        """
        check_parameters(_QUERY_CONSTRAINTS, {"on_zero": on_zero, "n_threads": n_threads})
        batch = self.evidence(evidence)
        order = self._target_indices(list(variables))
        if not order:
            raise NetworkError("joint() needs at least one variable.")
        ordered = tuple(sorted(order))
        cards = [int(self.layout.cardinalities[t]) for t in ordered]
        size = int(np.prod(cards))
        flat, log_z = self._run(batch.codes, ordered, size, n_threads, joint=True)
        zero = np.isneginf(log_z).any(axis=0)
        if on_zero == "raise" and zero.any():
            rows = np.flatnonzero(zero)
            raise ZeroProbabilityEvidenceError(
                f"The evidence of {len(rows)} patient(s) has probability zero under the network "
                f"(rows {', '.join(map(str, rows[:10]))}; 0-based).",
                rows=rows,
            )
        table = flat.reshape(*flat.shape[:2], *cards)
        # Kernel axes follow variable indices; put them in the order asked for.
        axes = [ordered.index(t) for t in order]
        return np.ascontiguousarray(table.transpose(0, 1, *(2 + a for a in axes)))

    def log_evidence(self, evidence: EvidenceLike, *, n_threads: int | None = None) -> np.ndarray:
        """Natural log of P(evidence), shape (n_draws, n_patients); ``-inf`` if zero."""
        check_parameters(_QUERY_CONSTRAINTS, {"n_threads": n_threads})
        batch = self.evidence(evidence)
        _, log_z = self._run(batch.codes, (), 0, n_threads)
        return log_z

    def _constants_for(self, plan: Plan, threads: int) -> tuple[np.ndarray, np.ndarray]:
        """The plan's evidence-free messages for every draw, computed once per engine."""
        key = id(plan)
        cached = self._constants.get(key)
        if cached is None:
            n_draws = self.n_draws
            const_t = np.empty((max(plan.n_const, 1), n_draws), dtype=np.float64)
            const_rescaled = np.zeros(n_draws, dtype=np.int64)
            if len(plan.c_out_size):
                args = (
                    self.params_t, plan.c_out_size, plan.c_sum_size, plan.c_out_off,
                    plan.c_in_start, plan.in_kind, plan.in_off, plan.in_slot,
                    plan.in_idx_start, plan.idx, plan.n_tmp, const_t, const_rescaled,
                )  # fmt: skip
                before_first_call(_kernels.run_constant_ops)
                spread(_kernels.run_constant_ops, args, chunk_bounds(n_draws, threads), threads)
            cached = (const_t, const_rescaled)
            # Plans live as long as the shared plan cache, so their ids stay unique.
            self._constants[key] = cached
        return cached

    def _run(
        self,
        codes: np.ndarray,
        targets: tuple[int, ...],
        n_cols: int,
        n_threads: int | None,
        joint: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        n_draws, n_patients = self.n_draws, codes.shape[0]
        # Kernels write patient-major (each lane's outputs sit near its
        # neighbours'); callers see draws first, as views.
        result = np.empty((n_patients, n_draws, n_cols), dtype=np.float64)
        norm = np.ones((n_patients, n_draws), dtype=np.float64)
        careful: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        threads = min(n_threads or default_threads(), numba.config.NUMBA_NUM_THREADS)
        if n_patients:
            for hard, soft, rows in self._group(codes, targets, joint):
                plan = self._plan(hard, targets, soft, joint)
                constants = self._constants_for(plan, threads)
                lane_i, lane_s = _execute(
                    plan, self.params_t, constants, codes, rows, result, norm, threads
                )
                if len(lane_i) and plan.backward:
                    # The careful path runs elimination programs only.
                    plan = self._plan(hard, targets, soft, joint, programs="auto")
                careful.append(_careful(plan, self.params_t, codes, rows[lane_i], lane_s, result))
        log_z = np.log(norm)
        for lane_rows, lane_draws, lane_log_z in careful:
            log_z[lane_rows, lane_draws] = lane_log_z
        return result.transpose(1, 0, 2), log_z.T


def _row_keys(mask: np.ndarray) -> np.ndarray:
    """One sortable key per row of a boolean matrix (equal rows, equal keys)."""
    packed = np.packbits(mask, axis=1)
    width = packed.shape[1]
    if width <= 8:
        padded = np.zeros((packed.shape[0], 8), dtype=np.uint8)
        padded[:, :width] = packed
        return padded.view(np.uint64).ravel()
    return np.ascontiguousarray(packed).view(np.dtype((np.void, width))).ravel()


def _draws_minor(params: np.ndarray) -> np.ndarray:
    """(n_draws, n_params) -> contiguous (n_params, n_draws), the kernels' layout."""
    return np.ascontiguousarray(params.T)


#: Fewest lanes (patients x draws) for which a pattern gets its own pruned plan.
EXACT_PLAN_MIN_LANES = 2048

#: Variables with at least this many states split the patients who share a plan
#: by whether they recorded them.
WIDE_CARDINALITY = 8

#: Most lanes (patient, draw pairs) the fast kernel processes together.
MAX_LANES_PER_BLOCK = 256
#: Budget for one block's work and scratch buffers, in float64 entries (8 MiB).
BLOCK_BUFFER_ENTRIES = 1 << 20


def _lanes_per_block(plan: Plan) -> int:
    """Lanes per block: many for small networks, fewer when messages are large."""
    per_lane = plan.n_work * (2 if len(plan.b_op) else 1) + plan.n_tmp
    lanes = MAX_LANES_PER_BLOCK
    while lanes > 4 and lanes * per_lane > BLOCK_BUFFER_ENTRIES:
        lanes //= 2
    return lanes


def _blocks(n_rows: int, n_draws: int, lanes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the (rows, draws) lane grid into blocks for :func:`run_lanes`.

    With many draws a block holds consecutive draws of one patient, so the
    kernels read parameters contiguously; with few, blocks span patients.
    """
    if n_draws >= lanes // 4:
        per_row = -(-n_draws // lanes)
        offsets = np.arange(per_row, dtype=np.int64) * lanes
        sizes = np.minimum(lanes, n_draws - offsets)
        starts = (np.arange(n_rows, dtype=np.int64)[:, None] * n_draws + offsets[None, :]).ravel()
        return starts, np.tile(sizes, n_rows), np.ones(len(starts), dtype=np.bool_)
    total = n_rows * n_draws
    starts = np.arange(0, total, lanes, dtype=np.int64)
    sizes = np.minimum(lanes, total - starts)
    return starts, sizes, np.zeros(len(starts), dtype=np.bool_)


def _execute(
    plan: Plan,
    params_t: np.ndarray,
    constants: tuple[np.ndarray, np.ndarray],
    codes: np.ndarray,
    rows: np.ndarray,
    result: np.ndarray,
    norm: np.ndarray,
    n_threads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``plan``'s fast path on ``rows``; fill ``result`` and ``norm`` (P(evidence)).

    Returns the (index into ``rows``, draw) of lanes left for the careful path
    (:func:`_careful`); their ``norm`` entries are left at 1.
    """
    n_draws = params_t.shape[1]
    const_t, const_rescaled = constants
    lanes = _lanes_per_block(plan)
    starts, sizes, uniform = _blocks(len(rows), n_draws, lanes)
    careful = np.zeros((len(rows), n_draws), dtype=np.bool_)
    args = (
        params_t, const_t, const_rescaled, codes, rows, starts, sizes, uniform,
        plan.n_slots, plan.term_slot, plan.term_col, plan.term_stride, plan.term_unobserved_code,
        plan.w_out_size, plan.w_sum_size, plan.w_out_off, plan.w_in_start,
        plan.in_kind, plan.in_off, plan.in_slot, plan.in_idx_start, plan.idx, plan.n_work,
        plan.n_tmp, lanes, plan.t_kind, plan.t_off, plan.t_col, plan.t_card,
        plan.t_out_col, plan.z_kind, plan.z_off, plan.z_size, plan.b_op, plan.in_adj,
        plan.b_e_start, plan.e_idx_start, plan.e_out_off, plan.e_out_size, plan.p_out_size,
        plan.p_sum_size, plan.p_out_off, plan.p_in_start, result, norm, careful,
    )  # fmt: skip
    before_first_call(_kernels.run_lanes)
    spread(_kernels.run_lanes, args, chunk_bounds(len(starts), n_threads), n_threads)
    lane_i, lane_s = np.nonzero(careful)
    return lane_i, lane_s.astype(np.int64)


def _careful(
    plan: Plan,
    params_t: np.ndarray,
    codes: np.ndarray,
    lane_rows: np.ndarray,
    lane_s: np.ndarray,
    result: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Answer the listed (row, draw) lanes in log space; return them with their log-evidence."""
    lane_log_z = np.empty(len(lane_rows), dtype=np.float64)
    if len(lane_rows):
        # Log space: exact relative precision for every positive entry, however small.
        with np.errstate(divide="ignore"):
            log_params_t = np.log(params_t)
        before_first_call(_kernels.run_careful_lanes_log)
        _kernels.run_careful_lanes_log(
            lane_rows, lane_s, log_params_t, codes,
            plan.n_slots, plan.term_slot, plan.term_col, plan.term_stride,
            plan.term_unobserved_code, plan.c_out_size, plan.c_sum_size, plan.c_out_off,
            plan.c_in_start, plan.w_out_size, plan.w_sum_size,
            plan.w_out_off, plan.w_in_start, plan.in_kind, plan.in_off,
            plan.in_slot, plan.in_idx_start, plan.idx, plan.n_const, plan.n_work, plan.n_tmp,
            plan.t_kind, plan.t_off, plan.t_col, plan.t_card, plan.t_out_col, plan.z_kind,
            plan.z_off, plan.z_size, result, lane_log_z,
        )  # fmt: skip
    return lane_rows, lane_s, lane_log_z
