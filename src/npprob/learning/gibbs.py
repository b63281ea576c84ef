"""Data-augmentation Gibbs sampling of the marginal (latent-class) posterior.

The same posterior as :func:`~npprob.learning.marginal.build_marginal_model`'s
PyMC model, sampled by alternating two exact conditional draws instead of NUTS:

1. **The latent truth given the tables.** For every patient, the unrecorded
   variables the recorded ones depend on (the lesion, the mechanisms, the
   target without a gold standard, a missing finding that has children) are
   drawn jointly from their exact conditional, by enumerating their joint
   states. The enumeration is organised by *scope*: the families that share
   the same set of enumerated variables are summed into one small table per
   patient first, so a joint state costs one addition per scope, not per
   family. A missing finding without recorded descendants is barren and left
   out (it would contribute 1), exactly as the marginal likelihood leaves it
   out.
2. **The tables given the completed data.** Each CPT row's Dirichlet (Beta)
   prior from the specification is updated with the completed family counts
   and drawn exactly; the recorded label's 2 x 2 table likewise.

Selection. Patients were sampled given the selection (chronic pain present),
so each patient's likelihood is ``P(findings | root, selected)``. The
denominator ``P(selected | root)`` is augmented with *ghost patients*: had
patients been drawn from the population until one was selected, each
selected patient would come with a geometric number of unselected ones
before it, whose unrecorded ancestors of the selection are drawn given the
selection failed. Summing the ghosts out gives back the factor
``1 / P(selected | root)`` exactly. Per root context the number of ghosts is
negative binomial and their joint states multinomial, so they cost almost
nothing.

Why it is not the default. A sweep costs about as much as two or three of the
marginal likelihood's gradients and is one draw, where NUTS needs about thirty
gradients per draw on the clinical network. But its weak point is the classic
one of data augmentation: a table row that the recorded findings inform little
while many patients fill it is updated in small steps. On the clinical network
at 10,000 patients the tables of ``peripheral_sensitisation`` (whose signs
``central_sensitisation`` shares) and of the selection mix far too slowly
(``benchmarks/bench_learning.py``; docs/benchmarks.md), so ``npprob train``
keeps NUTS. The sampler stays for networks whose latent variables the findings
identify, and as a second implementation of the marginal posterior.

Reproducible: the chains take seeds spawned from the configuration's seed,
and every uniform draw is made by NumPy outside the parallel kernel, so the
same seed gives the same draws whatever the number of threads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from npprob.learning.elimination import LABEL, FlatLayout
from npprob.learning.label import LabelModel
from npprob.learning.problem import MarginalProblem
from npprob.network.spec import ClinicalSpec

__all__ = ["GibbsProblem", "cpt_draws", "latent_draws", "prepare_gibbs", "sample_gibbs"]

_TINY_LOG = -690.0  # log(1e-300): the floor of a table entry inside logs


@dataclass
class _Block:
    """Patients who share the same set of enumerated variables."""

    enumerated: tuple[int, ...]
    """Indices of the enumerated variables (the label, when recorded, after the network's)."""
    rows: np.ndarray
    """The block's patients (rows of the expanded cohort)."""
    configs: np.ndarray
    """(n_configs, n_enumerated) the joint states, in the kernels' order."""
    base: np.ndarray
    """(n_patients, n_families) flat offset of each family's recorded part; -1: left out."""
    family_scope: np.ndarray
    """(n_families,) the scope each family's enumerated members form."""
    family_offset_scope: np.ndarray
    """(n_families, max_scope_configs) offset of each scope configuration."""
    family_offset_full: np.ndarray
    """(n_families, n_configs) offset of each joint configuration."""
    scope_sizes: np.ndarray
    scope_index: np.ndarray
    """(n_scopes, n_configs) each joint configuration's index within each scope."""


@dataclass
class GibbsProblem:
    """A marginal problem laid out for :func:`sample_gibbs` (see :func:`prepare_gibbs`)."""

    flat: FlatLayout
    alpha: np.ndarray
    """Prior concentration of every flat entry (0: structural zero or fixed)."""
    learnable: np.ndarray
    """Entries whose rows are drawn from their conjugate posterior each sweep."""
    row_of: np.ndarray
    """Row id of every flat entry (rows are normalised together)."""
    start: np.ndarray
    """Table values every chain starts from (the prior means)."""
    fixed_counts: np.ndarray
    """Counts from families recorded in full: the same in every sweep."""
    blocks: list[_Block]
    ghosts: list[tuple[np.ndarray, int]] | None
    """Per root context of the patients: the flat index of every enumerated family in
    every joint state of the selection's ancestors, (n_states, n_families), and the
    number of patients in that context. None without a selection."""
    ghost_selected: np.ndarray | None
    """Which of those joint states are selected (the others are the ghosts')."""
    ghost_configs: int = 0

    log_start: np.ndarray = field(init=False, repr=False)
    """Log of :attr:`start`, structural zeros floored: where every sweep's tables start."""

    def __post_init__(self) -> None:
        self.log_start = np.log(np.maximum(self.start, 1e-300))


def _strides(cards: list[int]) -> list[int]:
    out, step = [], 1
    for c in reversed(cards):
        out.append(step)
        step *= c
    return out[::-1]


def prepare_gibbs(
    spec: ClinicalSpec, problem: MarginalProblem, label: LabelModel | None = None
) -> GibbsProblem:
    """Lay the problem's patients out in blocks and the tables in one flat vector.

    Parameters
    ----------
    spec : ClinicalSpec
        The network and its Dirichlet priors.
    problem : MarginalProblem
        From :func:`~npprob.learning.problem.prepare_problem`; identical
        patients are expanded back (each gets its own latent draw).
    label : LabelModel, optional
        Prior of the recorded label's error rates; used when ``problem`` has a label.

    Returns
    -------
    GibbsProblem
    """
    net = spec.network
    with_label = problem.label is not None and label is not None
    flat = FlatLayout(net, with_label=with_label)
    names = list(net.names) + ([LABEL] if with_label else [])
    parents: list[list[int]] = [[net.index(p) for p in net.parents(n)] for n in net.names]
    cards = [len(v.states) for v in net.variables]
    if with_label:
        parents.append([net.index(label.parent)])
        cards.append(2)

    alpha = np.zeros(flat.size)
    start = np.zeros(flat.size)
    for n in net.names:
        at, size = flat.offset[n], int(np.prod(flat.shape[n]))
        start[at : at + size] = np.asarray(net.cpt(n), dtype=np.float64).ravel()
        if n in spec.concentration and n not in problem.conditioned:
            alpha[at : at + size] = np.asarray(spec.concentration[n], dtype=np.float64).ravel()
    if with_label:
        at = flat.offset[LABEL]
        conc = np.asarray(label.concentration, dtype=np.float64)
        alpha[at : at + 4] = conc.ravel()
        start[at : at + 4] = (conc / conc.sum(axis=1, keepdims=True)).ravel()
    row_of = np.zeros(flat.size, dtype=np.int64)
    row = 0
    for n in names:
        size = int(np.prod(flat.shape[n]))
        k = flat.shape[n][-1]
        row_of[flat.offset[n] : flat.offset[n] + size] = row + np.arange(size) // k
        row += size // k
    positive = alpha > 0
    per_row = np.bincount(row_of, weights=positive.astype(float), minlength=row)
    learnable = positive & (per_row[row_of] >= 2)

    codes = np.repeat(problem.codes.astype(np.int64), problem.weights.astype(np.int64), axis=0)
    if with_label:
        lab = np.repeat(problem.label.astype(np.int64), problem.weights.astype(np.int64))
        codes = np.column_stack([codes, lab])
    n_ext = len(names)
    conditioned = {net.index(n) for n in problem.conditioned}
    family_vars = [v for v in range(n_ext) if v not in conditioned]
    strides = {v: _strides([cards[u] for u in [*parents[v], v]]) for v in family_vars}

    # The variables each patient needs: recorded ones and their ancestors.
    ancestors = [set() for _ in range(n_ext)]
    for v in _topological(parents):
        for p in parents[v]:
            ancestors[v] |= {p} | ancestors[p]
    observed = codes >= 0
    fixed_counts = np.zeros(flat.size)
    keys: dict[tuple[int, ...], list[int]] = {}
    for i, row_codes in enumerate(observed):
        needed = set(np.flatnonzero(row_codes))
        for v in list(needed):
            needed |= ancestors[v]
        enumerated = tuple(sorted(v for v in needed if not row_codes[v]))
        keys.setdefault(enumerated, []).append(i)
    blocks = []
    for enumerated, rows in keys.items():
        rows = np.asarray(rows)
        blocks.append(
            _block(enumerated, rows, codes, observed, parents, cards, family_vars, strides,
                   flat, names, fixed_counts)
        )  # fmt: skip

    ghosts = ghost_selected = None
    n_ghost_configs = 0
    if problem.selection:
        ghosts, ghost_selected, n_ghost_configs = _ghosts(
            net, problem, codes, parents, cards, strides, flat, names, ancestors, conditioned
        )
    return GibbsProblem(
        flat=flat, alpha=alpha, learnable=learnable, row_of=row_of, start=start,
        fixed_counts=fixed_counts, blocks=blocks, ghosts=ghosts,
        ghost_selected=ghost_selected, ghost_configs=n_ghost_configs,
    )  # fmt: skip


def _joint_states(cards: list[int]) -> np.ndarray:
    """Every joint state of variables with these cardinalities, (n_states, n_variables), C order."""
    states = list(itertools.product(*[range(c) for c in cards]))
    return np.array(states, dtype=np.int64).reshape(len(states), len(cards))


def _topological(parents: list[list[int]]) -> list[int]:
    order, done = [], set()

    def visit(v: int) -> None:
        if v in done:
            return
        for p in parents[v]:
            visit(p)
        done.add(v)
        order.append(v)

    for v in range(len(parents)):
        visit(v)
    return order


def _block(enumerated, rows, codes, observed, parents, cards, family_vars, strides, flat, names,
           fixed_counts) -> _Block:  # fmt: skip
    """One block's tables: families, scopes and per-patient offsets."""
    position = {v: k for k, v in enumerate(enumerated)}
    configs = _joint_states([cards[v] for v in enumerated])
    n_configs = len(configs)
    sub_obs = observed[rows]
    sub_codes = codes[rows]
    # The families in play for some patient of the block: the variable is needed.
    families, scopes = [], []
    for v in family_vars:
        members = [*parents[v], v]
        in_scope = tuple(u for u in members if u in position)
        needed_rows = sub_obs[:, v] | (v in position)
        if not needed_rows.any():
            continue
        at = flat.offset[names[v]]
        base = np.full(len(rows), at, dtype=np.int64)
        for u, s in zip(members, strides[v], strict=True):
            if u not in position:
                base += np.where(sub_obs[:, u], sub_codes[:, u], 0) * s
        base = np.where(needed_rows, base, -1)
        if not in_scope:
            # Recorded in full for these patients: constant counts.
            np.add.at(fixed_counts, base[base >= 0], 1.0)
            continue
        families.append((v, in_scope, base, members))
        if in_scope not in scopes:
            scopes.append(in_scope)
    # Only the maximal scopes are kept: a family whose scope lies inside a larger one
    # is summed into that one's table, so a joint configuration costs one addition per
    # maximal scope.
    scopes = [s for s in scopes if not any(set(s) < set(t) for t in scopes)]
    n_fam = len(families)
    scope_sizes = np.array([int(np.prod([cards[u] for u in s])) for s in scopes], dtype=np.int64)
    scope_index = np.zeros((len(scopes), n_configs), dtype=np.int64)
    for k, s in enumerate(scopes):
        st = _strides([cards[u] for u in s])
        for u, step in zip(s, st, strict=True):
            scope_index[k] += configs[:, position[u]] * step
    width = int(scope_sizes.max()) if len(scopes) else 1
    family_scope = np.zeros(n_fam, dtype=np.int64)
    offset_scope = np.zeros((n_fam, width), dtype=np.int64)
    offset_full = np.zeros((n_fam, n_configs), dtype=np.int64)
    base = np.zeros((len(rows), n_fam), dtype=np.int64)
    for f, (v, in_scope, fam_base, members) in enumerate(families):
        k = next(j for j, s in enumerate(scopes) if set(in_scope) <= set(s))
        family_scope[f] = k
        for u, s in zip(members, strides[v], strict=True):
            if u in position:
                offset_full[f] += configs[:, position[u]] * s
        # Offsets over the scope's own configurations: any joint configuration
        # with that scope index gives the same offset.
        first = np.full(scope_sizes[k], -1, dtype=np.int64)
        for c in range(n_configs):
            if first[scope_index[k, c]] < 0:
                first[scope_index[k, c]] = c
        offset_scope[f, : scope_sizes[k]] = offset_full[f, first]
        base[:, f] = fam_base
    return _Block(
        enumerated=tuple(enumerated), rows=rows, configs=configs, base=base, family_scope=family_scope,
        family_offset_scope=offset_scope, family_offset_full=offset_full,
        scope_sizes=scope_sizes, scope_index=scope_index,
    )  # fmt: skip


def _ghosts(net, problem, codes, parents, cards, strides, flat, names, ancestors, conditioned):
    """Per root context, the flat index of every family for every ghost configuration."""
    selection = [net.index(n) for n in problem.selection]
    selected_state = {net.index(n): net.variable(n).states.index(s)
                      for n, s in problem.selection.items()}  # fmt: skip
    members = set(selection)
    for v in selection:
        members |= ancestors[v]
    enumerated = sorted(members - conditioned)
    position = {v: k for k, v in enumerate(enumerated)}
    configs = _joint_states([cards[v] for v in enumerated])
    selected = np.ones(len(configs), dtype=bool)
    for v in selection:
        selected &= configs[:, position[v]] == selected_state[v]
    cond = sorted(conditioned)
    context_codes = codes[:, cond] if cond else np.zeros((len(codes), 0), dtype=np.int64)
    contexts, n_per = np.unique(context_codes, axis=0, return_counts=True)
    out = []
    for ctx, n_ctx in zip(contexts, n_per, strict=True):
        value = dict(zip(cond, ctx, strict=True))
        index = np.zeros((len(configs), len(enumerated)), dtype=np.int64)
        for j, v in enumerate(enumerated):
            at = np.full(len(configs), flat.offset[names[v]], dtype=np.int64)
            for u, s in zip([*parents[v], v], strides[v], strict=True):
                at += (configs[:, position[u]] if u in position else value[u]) * s
            index[:, j] = at
        out.append((index, int(n_ctx)))
    return out, selected, len(configs)


def _kernels():
    """Compile the numba kernels on first use (numba is a main dependency)."""
    global _KERNELS
    if _KERNELS is not None:
        return _KERNELS
    import numba

    @numba.njit(cache=True)
    def pick(cumulative, u, n_configs):
        lo, hi = 0, n_configs - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cumulative[mid] >= u:
                hi = mid
            else:
                lo = mid + 1
        return lo

    @numba.njit(cache=True)
    def scope_logs(log_theta, base, i, family_scope, offset_scope, scope_sizes, phi):
        phi[:, :] = 0.0
        for f in range(base.shape[1]):
            b = base[i, f]
            if b < 0:
                continue
            s = family_scope[f]
            for k in range(scope_sizes[s]):
                phi[s, k] += log_theta[b + offset_scope[f, k]]

    @numba.njit(parallel=True, cache=True)
    def sample_configs(log_theta, base, family_scope, offset_scope, scope_sizes, scope_index,
                       uniforms, out):  # fmt: skip
        n = base.shape[0]
        n_scopes, n_configs = scope_index.shape
        width = offset_scope.shape[1]
        n_chunks = min(n, 64)
        for chunk in numba.prange(n_chunks):
            phi = np.empty((n_scopes, width))
            w = np.empty(n_configs)
            for i in range(chunk * n // n_chunks, (chunk + 1) * n // n_chunks):
                scope_logs(log_theta, base, i, family_scope, offset_scope, scope_sizes, phi)
                # Each scope's table in the linear scale, scaled to a maximum of 1: one
                # exponential per scope entry instead of one per joint configuration.
                for s in range(n_scopes):
                    top = phi[s, 0]
                    for k in range(1, scope_sizes[s]):
                        top = max(top, phi[s, k])
                    for k in range(scope_sizes[s]):
                        phi[s, k] = np.exp(phi[s, k] - top)
                total = 0.0
                for c in range(n_configs):
                    t = 1.0
                    for s in range(n_scopes):
                        t *= phi[s, scope_index[s, c]]
                    total += t
                    w[c] = total
                if not total > 0.0:
                    # Every configuration underflowed (evidence all but impossible
                    # under these tables): the same draw in logs.
                    scope_logs(log_theta, base, i, family_scope, offset_scope, scope_sizes, phi)
                    top = -np.inf
                    for c in range(n_configs):
                        t = 0.0
                        for s in range(n_scopes):
                            t += phi[s, scope_index[s, c]]
                        w[c] = t
                        top = max(top, t)
                    total = 0.0
                    for c in range(n_configs):
                        total += np.exp(w[c] - top)
                        w[c] = total
                out[i] = pick(w, uniforms[i] * total, n_configs)

    @numba.njit(cache=True)
    def add_counts(base, offset_full, picks, counts):
        n, n_fam = base.shape
        for i in range(n):
            c = picks[i]
            for f in range(n_fam):
                b = base[i, f]
                if b >= 0:
                    counts[b + offset_full[f, c]] += 1.0

    _KERNELS = (sample_configs, add_counts)
    return _KERNELS


_KERNELS = None


def _draw_tables(problem: GibbsProblem, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Log of one exact draw of every table given the completed counts (fixed entries kept)."""
    log_theta = problem.log_start.copy()
    idx = np.flatnonzero(problem.learnable)
    shape = problem.alpha[idx] + counts[idx]
    # Gamma draws in logs: for a shape below 1, Gamma(a) = Gamma(a + 1) * U**(1/a),
    # whose log does not underflow as the draw itself does.
    small = shape < 1.0
    log_g = np.log(rng.standard_gamma(np.where(small, shape + 1.0, shape)))
    u = rng.random(len(idx))
    log_g = np.where(small, log_g + np.log(u) / np.where(small, shape, 1.0), log_g)
    rows = problem.row_of[idx]
    top = np.full(problem.row_of.max() + 1, -np.inf)
    np.maximum.at(top, rows, log_g)
    total = np.bincount(rows, weights=np.exp(log_g - top[rows]), minlength=len(top))
    log_theta[idx] = np.maximum(log_g - top[rows] - np.log(total[rows]), _TINY_LOG)
    return log_theta


def _ghost_counts(problem: GibbsProblem, log_theta: np.ndarray, rng, counts: np.ndarray) -> None:
    """Add the ghost patients' counts (unselected draws before each selected patient)."""
    for index, n_ctx in problem.ghosts:
        log_p = log_theta[index].sum(axis=1)
        p = np.exp(log_p - log_p.max())
        p /= p.sum()
        p_selected = float(p[problem.ghost_selected].sum())
        unselected = np.where(problem.ghost_selected, 0.0, p)
        if p_selected >= 1.0 or unselected.sum() <= 0:
            continue
        n_ghosts = rng.negative_binomial(n_ctx, max(p_selected, 1e-300))
        if n_ghosts == 0:
            continue
        per_config = rng.multinomial(n_ghosts, unselected / unselected.sum())
        hit = np.flatnonzero(per_config)
        np.add.at(counts, index[hit].ravel(), np.repeat(per_config[hit], index.shape[1]))


def latent_draws(
    problem: GibbsProblem, tables: np.ndarray, rng: np.random.Generator
) -> dict[int, np.ndarray]:
    """One exact draw of every patient's enumerated variables given the tables.

    Parameters
    ----------
    problem : GibbsProblem
    tables : ndarray, shape (flat size,)
        Every table, flat (:class:`~npprob.learning.elimination.FlatLayout`).
    rng : numpy.random.Generator

    Returns
    -------
    dict of int to ndarray
        Per enumerated variable index, the drawn state of every patient of the
        expanded cohort (-1 where the variable was recorded or barren).
    """
    log_theta = np.log(np.maximum(np.asarray(tables, dtype=np.float64), 1e-300))
    counts = np.zeros(problem.flat.size)
    picks = _draw_blocks(problem, log_theta, rng, counts)
    n = sum(len(b.rows) for b in problem.blocks)
    out: dict[int, np.ndarray] = {}
    for block, pick in zip(problem.blocks, picks, strict=True):
        for j, v in enumerate(block.enumerated):
            out.setdefault(v, np.full(n, -1, dtype=np.int64))[block.rows] = block.configs[pick, j]
    return out


def _draw_blocks(problem, log_theta, rng, counts) -> list[np.ndarray]:
    """Draw every block's configurations and add their family counts to ``counts``."""
    sample_configs, add_counts = _kernels()
    picks = []
    for block in problem.blocks:
        pick = np.empty(len(block.base), dtype=np.int64)
        uniforms = rng.random(len(block.base))
        sample_configs(log_theta, block.base, block.family_scope, block.family_offset_scope,
                       block.scope_sizes, block.scope_index, uniforms, pick)  # fmt: skip
        add_counts(block.base, block.family_offset_full, pick, counts)
        picks.append(pick)
    return picks


def sample_gibbs(
    problem: GibbsProblem, *, draws: int, tune: int, chains: int, seed: int
) -> np.ndarray:
    """Draws of the flat table vector, shape ``(chains, draws, flat size)``.

    Every chain starts at the prior means; the first ``tune`` sweeps are
    discarded. Chains take the seeds ``numpy.random.SeedSequence(seed).spawn(chains)``.
    """
    out = np.empty((chains, draws, problem.flat.size))
    for chain, child in enumerate(np.random.SeedSequence(seed).spawn(chains)):
        rng = np.random.default_rng(child)
        log_theta = problem.log_start
        for sweep in range(tune + draws):
            counts = problem.fixed_counts.copy()
            _draw_blocks(problem, log_theta, rng, counts)
            if problem.ghosts is not None:
                _ghost_counts(problem, log_theta, rng, counts)
            log_theta = _draw_tables(problem, counts, rng)
            if sweep >= tune:
                out[chain, sweep - tune] = np.exp(log_theta)
    return out


def cpt_draws(problem: GibbsProblem, flat_draws: np.ndarray) -> dict[str, np.ndarray]:
    """The flat draws as tables: ``(..., *table shape)`` per variable (and the label)."""
    flat_draws = np.asarray(flat_draws)
    lead = flat_draws.shape[:-1]
    out = {}
    for name, at in problem.flat.offset.items():
        shape = problem.flat.shape[name]
        size = int(np.prod(shape))
        out[name] = flat_draws[..., at : at + size].reshape(*lead, *shape)
    return out
