"""Compile (network structure, evidence pattern, targets) into a Plan of int arrays.

Algorithm: variable elimination for the first query variable, on the network
pruned to the ancestors of the query and the evidence (barren nodes cannot
change a posterior); the other query variables' marginals come from the backward
pass over the same ops (the derivatives of P(evidence), see
:func:`_backward_programs`), or from programs of their own (``programs="auto"``,
the careful path's kind). Variable elimination was chosen over a junction tree
because npprob's queries ask for one or a few marginals under evidence patterns
that change from batch to batch: a per-pattern elimination sequence prunes the
network for exactly that pattern and compiles in milliseconds. The order comes
from greedy weighted min-fill (:mod:`npprob.inference.ordering`).

Each elimination step becomes an *op*: multiply the factors that mention the
variable and sum it out. An op is stored as gather-index tables, so the
numba kernels run any network with the same compiled code: for output entry
``j`` and summed state ``x`` (flat position ``m = j * n_sum + x``), input
``i`` contributes ``source_i[offset_i + slot_offset + idx[start_i + m]]``.
Evidence enters through *slots*: each CPT that mentions an observed variable
gets a per-patient offset ``sum(code * stride)``, so observed values select
CPT entries without copying. Ops whose inputs involve no evidence are the
same for every patient; they are marked *constant* and run once per
parameter draw.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np

from npprob._limits import max_table_entries
from npprob.errors import NetworkError
from npprob.inference.layout import ParameterLayout
from npprob.inference.ordering import (
    elimination_cost,
    interaction_graph,
    weighted_min_fill_order,
)
from npprob.inference.pruning import ancestral_set

__all__ = [
    "INPUT_CONST",
    "INPUT_PARAM",
    "INPUT_WORK",
    "Plan",
    "compile_plan",
    "elimination_problem",
]

INPUT_PARAM = 0
INPUT_CONST = 1
INPUT_WORK = 2

#: Target output kinds.
TARGET_CONST = 0
TARGET_WORK = 1
TARGET_OBSERVED = 2


class Plan(NamedTuple):
    """A compiled query: everything the kernels need, as flat int arrays.

    Ops are split into constant ops (run once per draw, writing the constant
    buffer) and work ops (run per patient and draw, writing the work buffer).
    Inputs of op ``k`` are ``in_*[op_in_start[k]:op_in_start[k + 1]]``.
    """

    # per-patient slot offsets: slot_offset[term_slot] += code[term_col] * term_stride
    n_slots: int
    term_slot: np.ndarray
    term_col: np.ndarray
    term_stride: np.ndarray
    term_unobserved_code: np.ndarray
    # constant ops
    c_out_size: np.ndarray
    c_sum_size: np.ndarray
    c_out_off: np.ndarray
    c_in_start: np.ndarray
    # work ops
    w_out_size: np.ndarray
    w_sum_size: np.ndarray
    w_out_off: np.ndarray
    w_in_start: np.ndarray
    # inputs (constant-op inputs first, then work-op inputs)
    in_kind: np.ndarray
    in_off: np.ndarray
    in_slot: np.ndarray
    in_idx_start: np.ndarray
    idx: np.ndarray
    # buffers
    n_const: int
    n_work: int
    n_tmp: int
    # outputs, one row per target
    t_kind: np.ndarray
    t_off: np.ndarray
    t_col: np.ndarray
    t_card: np.ndarray
    t_out_col: np.ndarray
    n_out_cols: int
    # normalising constant: final output of the first program
    z_kind: int
    z_off: int
    z_size: int
    # metadata, not read by kernels
    targets: tuple[int, ...]
    evidence: tuple[int, ...]
    soft: tuple[int, ...]
    orders: tuple[tuple[int, ...], ...]
    max_factor_size: int
    compile_seconds: float
    # the backward pass (empty without one): work ops in reverse order, which of their
    # inputs take a derivative, the extractions each op feeds, and the ops run after it
    b_op: np.ndarray = np.zeros(0, dtype=np.int64)
    in_adj: np.ndarray = np.zeros(0, dtype=np.bool_)
    b_e_start: np.ndarray = np.zeros(1, dtype=np.int64)
    e_idx_start: np.ndarray = np.zeros(0, dtype=np.int64)
    e_out_off: np.ndarray = np.zeros(0, dtype=np.int64)
    e_out_size: np.ndarray = np.zeros(0, dtype=np.int64)
    p_out_size: np.ndarray = np.zeros(0, dtype=np.int64)
    p_sum_size: np.ndarray = np.zeros(0, dtype=np.int64)
    p_out_off: np.ndarray = np.zeros(0, dtype=np.int64)
    p_in_start: np.ndarray = np.zeros(1, dtype=np.int64)

    @property
    def backward(self) -> bool:
        """Whether some target comes from the backward pass (the careful path cannot run it)."""
        return len(self.b_op) > 0 or len(self.p_out_size) > 0


class _Factor(NamedTuple):
    scope: tuple[int, ...]
    strides: dict[int, int]
    kind: int
    offset: int
    slot: int
    # Free of evidence but kept per lane for the backward pass (see _Builder.forced_work).
    forced: bool = False

    @property
    def constant(self) -> bool:
        """Free of evidence: the same for every patient of a draw.

        Decides the plan's structure (which pairs are merged first), so a query's
        ops are the same whatever the backward pass keeps per lane.
        """
        return (self.kind != INPUT_WORK and self.slot < 0) or self.forced


class _Builder:
    """Accumulates ops while programs are compiled."""

    def __init__(self, layout: ParameterLayout) -> None:
        self.layout = layout
        self.cards = [int(c) for c in layout.cardinalities]
        self.ops: list[tuple[bool, int, int, int, list[_Factor], list[np.ndarray]]] = []
        self.n_const = 0
        self.n_work = 0
        self.n_tmp = 1
        self.max_factor_size = 1
        # The backward pass: variables whose summing-out op must run per lane (targets
        # read from its derivative), ops run after it, each op's full scope, the op that
        # summed out each variable, and extractions (op, projection table, offset, size).
        self.forced_work: frozenset[int] = frozenset()
        self.post: list[int] = []
        self.full_scopes: list[tuple[int, ...]] = []
        self.eliminated: dict[int, int] = {}
        self.extractions: list[tuple[int, np.ndarray, int, int]] = []

    def emit(
        self,
        inputs: list[_Factor],
        out_scope: tuple[int, ...],
        summed: int | None,
        post: bool = False,
    ) -> _Factor:
        cards = self.cards
        dims = [cards[u] for u in out_scope]
        full_scope = out_scope + ((summed,) if summed is not None else ())
        full_dims = dims + ([cards[summed]] if summed is not None else [])
        out_size = math.prod(dims)
        sum_size = cards[summed] if summed is not None else 1
        n = out_size * sum_size
        if n > max_table_entries():
            # Refused before its index tables are built: they would take n int64 per input.
            names = self.layout.network.names
            clique = ", ".join(f"{names[u]} ({cards[u]})" for u in full_scope)
            raise NetworkError(
                f"This query needs a table of {n:,} entries over {clique}, above the limit of "
                f"{max_table_entries():,} (NPPROB_MAX_TABLE_ENTRIES): the network is too "
                "densely connected for exact inference here."
            )
        if full_dims:
            assign = np.indices(full_dims).reshape(len(full_dims), -1)
        else:
            assign = np.zeros((0, 1), dtype=np.int64)
        position = {u: i for i, u in enumerate(full_scope)}
        tables = []
        for f in inputs:
            flat = np.zeros(n, dtype=np.int64)
            for u in f.scope:
                flat += assign[position[u]] * f.strides[u]
            tables.append(flat)
        free = all(f.constant for f in inputs) and not post
        # Stored with the constants only if nothing below it is kept per lane.
        constant = free and summed not in self.forced_work
        constant = constant and not any(f.forced for f in inputs)
        if constant:
            offset = self.n_const
            self.n_const += out_size
            kind = INPUT_CONST
        else:
            offset = self.n_work
            self.n_work += out_size
            kind = INPUT_WORK
        self.n_tmp = max(self.n_tmp, n)
        self.max_factor_size = max(self.max_factor_size, n)
        if post:
            self.post.append(len(self.ops))
        self.ops.append((constant, out_size, sum_size, offset, inputs, tables))
        self.full_scopes.append(full_scope)
        strides: dict[int, int] = {}
        step = 1
        for u, c in zip(reversed(out_scope), reversed(dims), strict=True):
            strides[u] = step
            step *= c
        return _Factor(out_scope, strides, kind, offset, -1, free and not constant)

    def program(
        self,
        target: tuple[int, ...],
        evidence: frozenset[int],
        soft: frozenset[int],
        parents_of: list[tuple[int, ...]],
        slot_of: dict[int, int],
        indicator_slot_of: dict[int, int],
    ) -> tuple[_Factor, tuple[int, ...]]:
        factors, graph, free = _problem(
            self.layout, target, evidence, soft, parents_of, slot_of, indicator_slot_of
        )
        order = weighted_min_fill_order(graph, self.cards, free)
        # Factors by number, in the order they were made, and the factors holding each
        # variable: each step touches only its own factors (linear on a long chain).
        alive = dict(enumerate(factors))
        holders: dict[int, set[int]] = {}
        for i, f in alive.items():
            for u in f.scope:
                holders.setdefault(u, set()).add(i)
        for x in order:
            ids = sorted(holders.pop(x, ()))
            used = [alive.pop(i) for i in ids]
            for i, f in zip(ids, used, strict=True):
                for u in f.scope:
                    if u != x:
                        holders[u].discard(i)
            out_scope = tuple(sorted({u for f in used for u in f.scope} - {x}))
            used = self.premultiply(used, self.size(out_scope) * self.cards[x])
            made = self.emit(used, out_scope, x)
            self.eliminated[x] = len(self.ops) - 1
            number = len(factors)
            factors.append(made)
            alive[number] = made
            for u in made.scope:
                holders.setdefault(u, set()).add(number)
        factors = [alive[i] for i in sorted(alive)]
        final_scope = tuple(sorted(target))
        factors = self.premultiply(factors, self.size(final_scope))
        final = self.emit(factors, final_scope, None)
        return final, tuple(order)

    def extract(self, op: int, scope: tuple[int, ...]) -> _Factor:
        """A per-lane factor over ``scope`` read from op ``op`` in the backward pass.

        It holds P(scope, evidence) (unnormalised, on the probability scale): the op's
        full product times the derivative of P(evidence) with respect to its output,
        summed over the rest of the op's full scope. ``scope`` is sorted and inside the
        op's full scope.
        """
        full_scope = self.full_scopes[op]
        dims = [self.cards[u] for u in full_scope]
        assign = np.indices(dims).reshape(len(dims), -1) if dims else np.zeros((0, 1), np.int64)
        strides: dict[int, int] = {}
        step = 1
        for u in reversed(scope):
            strides[u] = step
            step *= self.cards[u]
        table = np.zeros(assign.shape[1], dtype=np.int64)
        for u in scope:
            table += assign[full_scope.index(u)] * strides[u]
        offset = self.n_work
        self.n_work += step
        self.extractions.append((op, table, offset, step))
        return _Factor(scope, strides, INPUT_WORK, offset, -1)

    def work(self) -> int:
        """Multiply-adds of the per-lane ops emitted so far (constant ops count once per draw)."""
        return sum(out * summed * len(inputs) for const, out, summed, _, inputs, _ in self.ops
                   if not const)  # fmt: skip

    def size(self, scope: tuple[int, ...]) -> int:
        return int(np.prod([self.cards[u] for u in scope])) if scope else 1

    def premultiply(self, factors: list[_Factor], op_size: int) -> list[_Factor]:
        """Multiply factors that share a scope smaller than the op before the op.

        Findings hanging off the same latent variable share a small scope; one
        product over that scope costs ``k * size`` gathers instead of
        ``k * op_size`` inside the op.
        """
        by_scope: dict[tuple[int, ...], list[_Factor]] = {}
        for f in factors:
            by_scope.setdefault(f.scope, []).append(f)
        out = []
        for scope, group in by_scope.items():
            if len(group) > 1 and self.size(scope) < op_size:
                out.append(self.emit(group, scope, None))
            else:
                out.extend(group)
        return self.merge_pairs(out, op_size)

    def merge_pairs(self, factors: list[_Factor], op_size: int) -> list[_Factor]:
        """Multiply pairs of factors whose joint scope is far smaller than the op, smallest first.

        Summing out a variable that many factors mention (the condition, when it is not
        recorded) costs ``op_size`` gathers per input. Two inputs over, say, (condition,
        lesion) and (condition, lesion, neuropathic) multiply over their union at a
        fraction of that, and a product of evidence-free inputs is a constant op, run
        once per draw. A pair is merged while its union is at most a quarter of the op.
        """
        factors = list(factors)
        while len(factors) > 2:
            best = None
            for i in range(len(factors)):
                for j in range(i + 1, len(factors)):
                    union = tuple(sorted(set(factors[i].scope) | set(factors[j].scope)))
                    size = self.size(union)
                    if 4 * size > op_size:
                        continue
                    # Constant pairs first (free per patient), then the smallest union.
                    key = (not (factors[i].constant and factors[j].constant), size, i, j)
                    if best is None or key < best[0]:
                        best = (key, union)
            if best is None:
                break
            (_, _, i, j), union = best
            merged = self.emit([factors[i], factors[j]], union, None)
            factors = [f for k, f in enumerate(factors) if k not in (i, j)] + [merged]
        return factors


def _problem(
    layout: ParameterLayout,
    target: tuple[int, ...],
    evidence: frozenset[int],
    soft: frozenset[int],
    parents_of: list[tuple[int, ...]],
    slot_of: dict[int, int],
    indicator_slot_of: dict[int, int],
) -> tuple[list[_Factor], dict[int, set[int]], list[int]]:
    """The factors, interaction graph and variables to sum out of one program."""
    keep = ancestral_set(parents_of, evidence | soft | set(target))
    factors = [_cpt_factor(layout, v, evidence, slot_of) for v in sorted(keep)]
    for v in sorted(soft):
        offset = int(layout.indicator_offsets[v])
        factors.append(_Factor((v,), {v: 1}, INPUT_PARAM, offset, indicator_slot_of[v]))
    free = [v for v in sorted(keep) if v not in evidence and v not in target]
    graph = interaction_graph((f.scope for f in factors), (v for v in keep if v not in evidence))
    return factors, graph, free


def _cpt_factor(
    layout: ParameterLayout, v: int, evidence: frozenset[int], slot_of: dict[int, int]
) -> _Factor:
    """Variable ``v``'s CPT as a factor over its unobserved family; observed axes via its slot."""
    scope = tuple(sorted(u for u in layout.scopes[v] if u not in evidence))
    return _Factor(scope, layout.strides[v], INPUT_PARAM, int(layout.offsets[v]),
                   slot_of.get(v, -1))  # fmt: skip


def elimination_problem(
    layout: ParameterLayout,
    evidence: frozenset[int],
    target: tuple[int, ...],
    soft: frozenset[int] = frozenset(),
) -> tuple[dict[int, set[int]], list[int]]:
    """The interaction graph a plan eliminates on, and the variables it sums out.

    The same pruned problem :func:`compile_plan` solves for ``target`` (ancestors
    of the query and the evidence; observed variables fixed), for measuring what
    any elimination order costs on it
    (:func:`npprob.inference.ordering.optimal_elimination_cost`).
    """
    network = layout.network
    index = {n: i for i, n in enumerate(network.names)}
    parents_of = [tuple(index[p] for p in network.parents(n)) for n in network.names]
    indicator_slot_of = dict.fromkeys(soft, -1)
    _, graph, free = _problem(layout, target, evidence, soft, parents_of, {}, indicator_slot_of)
    return graph, free


def compile_plan(
    layout: ParameterLayout,
    evidence: frozenset[int],
    targets: tuple[int, ...],
    soft: frozenset[int] = frozenset(),
    joint: bool = False,
    programs: str | None = None,
) -> Plan:
    """Compile a query into a :class:`Plan`.

    Parameters
    ----------
    layout : ParameterLayout
        Layout of the network's parameter vector.
    evidence : frozenset of int
        Variables treated as observed. Leaves with a ones column may be in it
        for patients who did not observe them (code -1 selects the ones).
    targets : tuple of int
        Query variables, distinct.
    soft : frozenset of int, optional
        Variables observed by some patients only: they stay hidden
        and are multiplied by an indicator (one-hot when observed, ones when
        not), so one plan serves every subset of them. Disjoint from
        ``evidence``.
    joint : bool, default=False
        Compute the joint distribution of ``targets`` (one output of
        ``prod(cards)`` entries in C order over the targets sorted by index)
        instead of one marginal per target. Joint targets must not be in
        ``evidence`` (observed ones are passed as ``soft``).
    programs : {"backward", "auto", "shared", "separate"}, optional
        How the marginals of several hidden targets are computed (default
        :data:`MARGINAL_PROGRAMS`): from the first target's elimination and its
        backward pass, or by programs grouping the targets (see
        :func:`_marginal_programs`).

    Returns
    -------
    Plan
    """
    t0 = time.perf_counter()
    network = layout.network
    names = network.names
    index = {n: i for i, n in enumerate(names)}
    n_vars = len(names)
    parents_of = [tuple(index[p] for p in network.parents(n)) for n in names]

    slot_of: dict[int, int] = {}
    terms: list[tuple[int, int, int, int]] = []
    for v in range(n_vars):
        observed_axes = [u for u in layout.scopes[v] if u in evidence]
        if observed_axes:
            slot_of[v] = len(slot_of)
            for u in observed_axes:
                unobserved = int(layout.cardinalities[u]) if layout.has_ones_column[u] else -1
                terms.append((slot_of[v], u, layout.strides[v][u], unobserved))

    indicator_slot_of: dict[int, int] = {}
    for v in sorted(soft):
        if v in evidence:
            raise ValueError(f"variable {v} cannot be both hard and soft evidence")
        indicator_slot_of[v] = len(slot_of) + len(indicator_slot_of)
        card = int(layout.cardinalities[v])
        terms.append((indicator_slot_of[v], v, card, card))
    n_slots = len(slot_of) + len(indicator_slot_of)

    builder = _Builder(layout)
    t_kind, t_off, t_col, t_card, t_out_col = [], [], [], [], []
    orders = []
    if joint:
        # One program whose final factor is the joint of all targets (none is hard evidence).
        if any(t in evidence for t in targets):
            raise ValueError("joint targets cannot be hard evidence; make them soft")
        group = tuple(sorted(targets))
        final, order = builder.program(
            group, evidence, soft, parents_of, slot_of, indicator_slot_of
        )
        orders.append(order)
        size = builder.size(group)
        t_kind.append(TARGET_CONST if final.kind == INPUT_CONST else TARGET_WORK)
        t_off.append(final.offset)
        t_col.append(-1)
        t_card.append(size)
        t_out_col.append(0)
        return _finish(
            builder, layout, slot_of, n_slots, terms, final, size,
            (t_kind, t_off, t_col, t_card, t_out_col), size, targets, evidence, soft, orders, t0,
        )  # fmt: skip
    hidden_targets = [t for t in targets if t not in evidence]
    mode = MARGINAL_PROGRAMS if programs is None else programs
    if mode not in PROGRAM_MODES:
        raise ValueError(f"programs must be one of {', '.join(PROGRAM_MODES)}, not {mode!r}")
    make = (
        _backward_programs if mode == "backward" and len(hidden_targets) > 1 else _marginal_programs
    )
    programs, z, z_size, builder, orders = make(
        layout, hidden_targets, evidence, soft, parents_of, slot_of, indicator_slot_of, mode
    )

    col = 0
    for t in targets:
        card = int(layout.cardinalities[t])
        if t in evidence:
            t_kind.append(TARGET_OBSERVED)
            t_off.append(0)
        else:
            f = programs[t]
            t_kind.append(TARGET_CONST if f.kind == INPUT_CONST else TARGET_WORK)
            t_off.append(f.offset)
        t_col.append(t)
        t_card.append(card)
        t_out_col.append(col)
        col += card

    return _finish(
        builder, layout, slot_of, n_slots, terms, z, z_size,
        (t_kind, t_off, t_col, t_card, t_out_col), col, targets, evidence, soft, orders, t0,
    )  # fmt: skip


#: Largest joint of a group of hidden targets (entries) that one shared program keeps.
SHARED_JOINT_MAX_ENTRIES = 256
#: How the marginals of several hidden targets are computed: from the derivatives of the
#: first target's elimination ("backward"), or by programs grouping the targets greedily by
#: estimated work ("auto"), all in one ("shared") or one each ("separate"). Every kind is
#: checked against the oracles; the careful path runs "auto".
PROGRAM_MODES = ("backward", "auto", "shared", "separate")
MARGINAL_PROGRAMS = "backward"


def _backward_programs(
    layout, hidden, evidence, soft, parents_of, slot_of, indicator_slot_of, mode
):  # fmt: skip
    """Every hidden target's marginal from one elimination and its backward pass.

    The first target's program is the one a query of it alone runs. P(evidence) is a
    sum of products in which every message enters once, so the derivative of
    P(evidence) with respect to a message, times the message, is the joint probability
    of the message's scope and the evidence: the op that sums out a target ``t`` gives
    P(t, evidence) from its product and its output's derivative (reverse-mode
    differentiation over the ops, as in Darwiche's arithmetic circuits). A target outside
    that program (no evidence below it: a barren node) gets its marginal from its CPT
    and the joint of its hidden parents, read the same way from an op whose scope holds
    them; failing that, a program of its own. The whole costs about two eliminations
    however many targets are asked.
    """
    builder = _Builder(layout)
    builder.forced_work = frozenset(hidden)
    first = hidden[0]
    final, order = builder.program((first,), evidence, soft, parents_of, slot_of,
                                   indicator_slot_of)  # fmt: skip
    final_op = len(builder.ops) - 1
    program_ops = range(final_op + 1)
    programs: dict[int, _Factor] = {first: final}
    orders = [order]
    alone = []
    for t in hidden[1:]:
        if t in builder.eliminated:
            programs[t] = builder.extract(builder.eliminated[t], (t,))
            continue
        parents = tuple(sorted(u for u in parents_of[t] if u not in evidence))
        covering = [
            k for k in program_ops
            if not builder.ops[k][0] and set(parents) <= set(builder.full_scopes[k])
        ]  # fmt: skip
        if all(u in builder.eliminated or u == first for u in parents) and covering:
            # The smallest such op: its projection is the cheapest.
            k = min(covering, key=lambda k: builder.ops[k][1] * builder.ops[k][2])
            joint = builder.extract(k, parents)
            cpt = _cpt_factor(layout, t, evidence, slot_of)
            programs[t] = _sum_out(builder, [cpt, joint], parents)
        else:
            alone.append(t)
    builder.forced_work = frozenset()  # only the first program's ops are swept
    for t in alone:
        made, order = builder.program((t,), evidence, soft, parents_of, slot_of,
                                      indicator_slot_of)  # fmt: skip
        programs[t] = made
        orders.append(order)
    return programs, final, builder.size((first,)), builder, orders


def _sum_out(builder: _Builder, inputs: list[_Factor], variables: tuple[int, ...]) -> _Factor:
    """Multiply ``inputs`` and sum ``variables`` out, one op each, after the backward pass."""
    scope = tuple(sorted({u for f in inputs for u in f.scope}))
    if not variables:
        return builder.emit(inputs, scope, None, post=True)
    made = None
    for x in reversed(variables):
        scope = tuple(u for u in scope if u != x)
        made = builder.emit(inputs if made is None else [made], scope, x, post=True)
    return made


def _marginal_programs(
    layout, hidden, evidence, soft, parents_of, slot_of, indicator_slot_of, mode
):  # fmt: skip
    """Programs giving each hidden target's (unnormalised) marginal, targets grouped to save work.

    A program per target repeats the elimination for each; one program that keeps a
    group of targets to the end, followed by summing each target's marginal out of the
    group's joint, shares it. The first target keeps its own program; the others are
    grouped greedily: starting from one group per
    target, the two groups whose union saves the most estimated work are merged, until
    no union saves any. The estimate is the elimination's total clique size (the order
    the program would use, :func:`~npprob.inference.ordering.elimination_cost`) plus the
    group's final table and its marginals; no index table is built to compare groupings.
    Returns the programs by target, the factor whose sum is the evidence's probability
    and its size, the builder and the orders.
    """
    builder = _Builder(layout)
    if not hidden:
        final, order = builder.program((), evidence, soft, parents_of, slot_of,
                                       indicator_slot_of)  # fmt: skip
        return {None: final}, final, 1, builder, [order]
    groups = _target_groups(layout, hidden, evidence, soft, parents_of, builder.cards, mode)
    programs: dict[int, _Factor] = {}
    orders = []
    z = z_size = None
    for group in groups:
        try:
            final, order = builder.program(group, evidence, soft, parents_of, slot_of,
                                           indicator_slot_of)  # fmt: skip
        except NetworkError:
            if len(group) == 1:
                raise
            # Keeping the group made a table too large: one program per target instead.
            for t in group:
                final, order = builder.program((t,), evidence, soft, parents_of, slot_of,
                                               indicator_slot_of)  # fmt: skip
                programs[t] = final
                orders.append(order)
                if z is None:
                    z, z_size = final, builder.size((t,))
            continue
        orders.append(order)
        if z is None:
            z, z_size = final, builder.size(group)
        for t in group:
            f = final
            for u in group:
                if u != t:
                    f = builder.emit([f], tuple(x for x in f.scope if x != u), u)
            programs[t] = f
    return programs, z, z_size, builder, orders


def _target_groups(
    layout, hidden, evidence, soft, parents_of, cards, mode
) -> list[tuple[int, ...]]:  # fmt: skip
    """The hidden targets in groups that share a program (see :func:`_marginal_programs`)."""
    if mode == "separate" or len(hidden) < 2:
        return [(t,) for t in hidden]
    if mode == "shared":
        return [tuple(sorted(hidden))]
    indicator = dict.fromkeys(soft, -1)
    memo: dict[tuple[int, ...], float] = {}

    def cost(group: tuple[int, ...]) -> float:
        if group not in memo:
            size = math.prod(cards[t] for t in group)
            if size > SHARED_JOINT_MAX_ENTRIES and len(group) > 1:
                memo[group] = math.inf
            else:
                _, graph, free = _problem(layout, group, evidence, soft, parents_of, {}, indicator)
                order = weighted_min_fill_order(graph, cards, free)
                marginals = 2 * size * len(group) if len(group) > 1 else 0
                memo[group] = elimination_cost(graph, cards, order) + size * len(group) + marginals
        return memo[group]

    # The first target keeps a program of its own, the one a query of it alone would run:
    # its probability and the evidence's are then the same to the last bit whatever else
    # is asked with it (diagnose asks seven marginals, the treatment ranking one).
    first = hidden[0]
    groups = [(t,) for t in sorted(hidden) if t != first]
    while len(groups) > 1:
        best, pair = 0.0, None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                union = tuple(sorted(groups[i] + groups[j]))
                saving = cost(groups[i]) + cost(groups[j]) - cost(union)
                if saving > best:
                    best, pair = saving, (i, j)
        if pair is None:
            break
        i, j = pair
        merged = tuple(sorted(groups[i] + groups[j]))
        groups = [g for k, g in enumerate(groups) if k not in (i, j)] + [merged]
    return [(first,), *groups]


def _finish(
    builder, layout, slot_of, n_slots, terms, z, z_size, outputs, n_out_cols, targets,
    evidence, soft, orders, t0,
) -> Plan:  # fmt: skip
    """Pack the builder's ops and the output mapping into a :class:`Plan`."""
    t_kind, t_off, t_col, t_card, t_out_col = outputs
    post = set(builder.post)
    const_ops = [op for op in builder.ops if op[0]]
    work_ids = [k for k, op in enumerate(builder.ops) if not op[0] and k not in post]
    work_ops = [builder.ops[k] for k in work_ids]
    post_ops = [builder.ops[k] for k in builder.post]
    in_kind, in_off, in_slot, in_idx_start, idx_parts = [], [], [], [], []
    idx_len = 0

    def pack_ops(ops):
        nonlocal idx_len
        out_size, sum_size, out_off, in_start = [], [], [], [len(in_kind)]
        for _, osz, ssz, off, inputs, tables in ops:
            out_size.append(osz)
            sum_size.append(ssz)
            out_off.append(off)
            for f, table in zip(inputs, tables, strict=True):
                in_kind.append(f.kind)
                in_off.append(f.offset)
                in_slot.append(f.slot)
                in_idx_start.append(idx_len)
                idx_parts.append(table)
                idx_len += len(table)
            in_start.append(len(in_kind))
        return (
            np.array(out_size, dtype=np.int64),
            np.array(sum_size, dtype=np.int64),
            np.array(out_off, dtype=np.int64),
            np.array(in_start, dtype=np.int64),
        )

    c = pack_ops(const_ops)
    w = pack_ops(work_ops)
    p = pack_ops(post_ops)
    in_adj = np.zeros(len(in_kind), dtype=np.bool_)
    b_op, b_e_start, e_idx_start, e_out_off, e_out_size = [], [0], [], [], []
    if builder.extractions:
        # Derivatives flow from P(evidence) down to every op an extraction reads:
        # the ops downstream of those (in order, work ops only) take part.
        position = {k: i for i, k in enumerate(work_ids)}
        producer = {builder.ops[k][3]: i for i, k in enumerate(work_ids)}
        sources: dict[int, list[tuple[np.ndarray, int, int]]] = {}
        for op, table, offset, size in builder.extractions:
            sources.setdefault(position[op], []).append((table, offset, size))
        needed = np.zeros(len(work_ids), dtype=np.bool_)
        for i in range(len(work_ids)):
            lo, hi = w[3][i], w[3][i + 1]
            feeders = [producer[in_off[q]] for q in range(lo, hi) if in_kind[q] == INPUT_WORK]
            needed[i] = i in sources or any(needed[f] for f in feeders)
            for q in range(lo, hi):
                in_adj[q] = in_kind[q] == INPUT_WORK and bool(needed[producer[in_off[q]]])
        for i in reversed(np.flatnonzero(needed).tolist()):
            b_op.append(i)
            for table, offset, size in sources.get(i, ()):
                e_idx_start.append(idx_len)
                idx_parts.append(table)
                idx_len += len(table)
                e_out_off.append(offset)
                e_out_size.append(size)
            b_e_start.append(len(e_idx_start))
    idx = np.concatenate(idx_parts) if idx_parts else np.zeros(0, dtype=np.int64)
    term_arr = np.array(terms, dtype=np.int64).reshape(-1, 4)
    return Plan(
        n_slots=n_slots,
        term_slot=term_arr[:, 0].copy(),
        term_col=term_arr[:, 1].copy(),
        term_stride=term_arr[:, 2].copy(),
        term_unobserved_code=term_arr[:, 3].copy(),
        c_out_size=c[0],
        c_sum_size=c[1],
        c_out_off=c[2],
        c_in_start=c[3],
        w_out_size=w[0],
        w_sum_size=w[1],
        w_out_off=w[2],
        w_in_start=w[3],
        in_kind=np.array(in_kind, dtype=np.int64),
        in_off=np.array(in_off, dtype=np.int64),
        in_slot=np.array(in_slot, dtype=np.int64),
        in_idx_start=np.array(in_idx_start, dtype=np.int64),
        idx=idx.astype(np.int32),
        n_const=builder.n_const,
        n_work=builder.n_work,
        n_tmp=builder.n_tmp,
        t_kind=np.array(t_kind, dtype=np.int64),
        t_off=np.array(t_off, dtype=np.int64),
        t_col=np.array(t_col, dtype=np.int64),
        t_card=np.array(t_card, dtype=np.int64),
        t_out_col=np.array(t_out_col, dtype=np.int64),
        n_out_cols=n_out_cols,
        z_kind=INPUT_CONST if z.kind == INPUT_CONST else INPUT_WORK,
        z_off=z.offset,
        z_size=z_size,
        targets=tuple(targets),
        evidence=tuple(sorted(evidence)),
        soft=tuple(sorted(soft)),
        orders=tuple(orders),
        max_factor_size=builder.max_factor_size,
        compile_seconds=time.perf_counter() - t0,
        b_op=np.array(b_op, dtype=np.int64),
        in_adj=in_adj,
        b_e_start=np.array(b_e_start, dtype=np.int64),
        e_idx_start=np.array(e_idx_start, dtype=np.int64),
        e_out_off=np.array(e_out_off, dtype=np.int64),
        e_out_size=np.array(e_out_size, dtype=np.int64),
        p_out_size=p[0],
        p_sum_size=p[1],
        p_out_off=p[2],
        p_in_start=p[3],
    )
