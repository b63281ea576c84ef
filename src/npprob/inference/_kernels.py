"""Numba kernels: flat arrays in, caller-allocated arrays filled.

No names, objects or checks live here; :mod:`npprob.inference.plan` builds the
index arrays and :mod:`npprob.inference.engine` validates inputs.
The fast path (:func:`run_lanes`) works on blocks of *lanes*, one lane being
one (patient, parameter draw) pair, with the lane index innermost so loops
vectorise; it does not rescale messages. A lane whose normalising constant
comes out below ``2**-800`` (or zero), or whose draw's evidence-free messages
needed rescaling, is recomputed by the careful path
(:func:`run_careful_lanes_log`), which works on logs: every positive entry keeps
its relative precision however small, and only evidence of probability exactly
zero comes out impossible. An entry lost to underflow in the fast path is below
``2**-1022`` while the lane's constant is above ``2**-800``, so its relative
effect is below ``2**-200`` times the largest product of cardinalities.

Parameter and constant buffers are stored draws-minor: entry ``k`` of draw
``s`` is at ``k * n_draws + s``.

Every kernel is serial and releases the GIL; :func:`run_lanes` and
:func:`run_constant_ops` take a range of blocks (of draws) as their last two
arguments, and :mod:`npprob.inference.threads` spreads ranges over threads.
"""

from __future__ import annotations

import os
from pathlib import Path

import numba
import numpy as np


def user_cache_dir() -> Path:
    """Where compiled kernels are cached: ``$XDG_CACHE_HOME/npprob/numba`` (``~/.cache``)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "npprob" / "numba"


# numba caches next to the source by default, which writes into an installed package;
# a user's own NUMBA_CACHE_DIR still wins. Read when each kernel below is decorated.
if not numba.config.CACHE_DIR:
    numba.config.CACHE_DIR = str(user_cache_dir())

TINY = 2.0**-512
BIG = 2.0**512
LOG_BIG = 512.0 * np.log(2.0)


@numba.njit(cache=True, nogil=True)
def run_op(
    out_size, sum_size, in_start, in_end, in_kind, in_off, in_slot, in_idx_start, idx,
    params, const, work, slot_offset, tmp, out, out_off,
):  # fmt: skip
    """Multiply the op's inputs and sum out its variable; return the rescale count."""
    n = out_size * sum_size
    rescaled = 0
    if in_end == in_start:
        for m in range(n):
            tmp[m] = 1.0
    for i in range(in_start, in_end):
        kind = in_kind[i]
        base = in_off[i]
        if in_slot[i] >= 0:
            base += slot_offset[in_slot[i]]
        start = in_idx_start[i]
        if kind == 0:
            src = params
        elif kind == 1:
            src = const
        else:
            src = work
        if i == in_start:
            for m in range(n):
                tmp[m] = src[base + idx[start + m]]
        else:
            for m in range(n):
                tmp[m] *= src[base + idx[start + m]]
        # Rescale inside the product too: one op may multiply many tiny inputs.
        largest = 0.0
        for m in range(n):
            if tmp[m] > largest:
                largest = tmp[m]
        if 0.0 < largest < TINY:
            for m in range(n):
                tmp[m] *= BIG
            rescaled += 1
    largest = 0.0
    for j in range(out_size):
        acc = 0.0
        row = j * sum_size
        for x in range(sum_size):
            acc += tmp[row + x]
        out[out_off + j] = acc
        if acc > largest:
            largest = acc
    if 0.0 < largest < TINY:
        for j in range(out_size):
            out[out_off + j] *= BIG
        rescaled += 1
    return rescaled


@numba.njit(cache=True, nogil=True)
def run_ops(
    out_size, sum_size, out_off, in_start, count_scale,
    in_kind, in_off, in_slot, in_idx_start, idx, params, const, work, slot_offset, tmp, out,
):  # fmt: skip
    """Run a list of ops in order into ``out``; return the rescalings of counted ops."""
    scale = 0
    for k in range(out_size.shape[0]):
        r = run_op(
            out_size[k], sum_size[k], in_start[k], in_start[k + 1], in_kind, in_off, in_slot,
            in_idx_start, idx, params, const, work, slot_offset, tmp, out, out_off[k],
        )  # fmt: skip
        if count_scale[k]:
            scale += r
    return scale


CAREFUL_BELOW = 2.0**-800


@numba.njit(cache=True, nogil=True)
def run_constant_ops(
    params_t, out_size, sum_size, out_off, in_start,
    in_kind, in_off, in_slot, in_idx_start, idx, n_tmp, const_t, const_rescaled,
    draw_lo, draw_hi,
):  # fmt: skip
    """Run the evidence-free ops of draws ``draw_lo:draw_hi`` into ``const_t`` (n_const, n_draws).

    ``const_rescaled[s]`` counts rescaled messages of draw ``s``; the fast path
    sends every lane of such a draw to the careful path.
    """
    n_params = params_t.shape[0]
    n_const = const_t.shape[0]
    no_slots = np.zeros(1, dtype=np.int64)
    # Any rescaling sends the draw to the careful path.
    counted = np.ones(out_size.shape[0], dtype=np.bool_)
    tmp = np.empty(n_tmp, dtype=np.float64)
    work = np.empty(1, dtype=np.float64)
    p_s = np.empty(n_params, dtype=np.float64)
    c_s = np.empty(n_const, dtype=np.float64)
    for s in range(draw_lo, draw_hi):
        for k in range(n_params):
            p_s[k] = params_t[k, s]
        const_rescaled[s] = run_ops(
            out_size, sum_size, out_off, in_start, counted, in_kind, in_off, in_slot,
            in_idx_start, idx, p_s, c_s, work, no_slots, tmp, c_s,
        )  # fmt: skip
        for k in range(n_const):
            const_t[k, s] = c_s[k]


@numba.njit(cache=True, nogil=True)
def lane_product(
    n, in_start, in_end, skip, in_kind, in_off, in_slot, in_idx_start, idx,
    params_flat, const_flat, n_draws, work, lane_addr, draw_row, nl, uniform, tmp,
):  # fmt: skip
    """``tmp[m, b]``: the product of an op's inputs but ``skip`` (-1: all) at entry m, lane b.

    Ones when no input is left. ``lane_addr[q, b]`` is lane b's offset for slot q
    (``code offset * n_draws + draw``); ``lane_addr[draw_row, b]`` is just its draw.
    ``uniform`` means the lanes are consecutive draws of one patient, so addresses
    are contiguous.
    """
    first = True
    for i in range(in_start, in_end):
        if i == skip:
            continue
        kind = in_kind[i]
        base = in_off[i]
        start = in_idx_start[i]
        if kind == 2:
            for m in range(n):
                a0 = (base + idx[start + m]) * nl
                t0 = m * nl
                if first:
                    for b in range(nl):
                        tmp[t0 + b] = work[a0 + b]
                else:
                    for b in range(nl):
                        tmp[t0 + b] *= work[a0 + b]
            first = False
            continue
        if kind == 0:
            src = params_flat
            row = in_slot[i] if in_slot[i] >= 0 else draw_row
        else:
            src = const_flat
            row = draw_row
        addr = lane_addr[row]
        for m in range(n):
            a0 = (base + idx[start + m]) * n_draws
            t0 = m * nl
            if uniform:
                a0 += addr[0]
                if first:
                    for b in range(nl):
                        tmp[t0 + b] = src[a0 + b]
                else:
                    for b in range(nl):
                        tmp[t0 + b] *= src[a0 + b]
            elif first:
                for b in range(nl):
                    tmp[t0 + b] = src[a0 + addr[b]]
            else:
                for b in range(nl):
                    tmp[t0 + b] *= src[a0 + addr[b]]
        first = False
    if first:
        for q in range(n * nl):
            tmp[q] = 1.0


@numba.njit(cache=True, nogil=True)
def lane_op(
    out_size, sum_size, in_start, in_end, in_kind, in_off, in_slot, in_idx_start, idx,
    params_flat, const_flat, n_draws, work, lane_addr, draw_row, n_lanes, uniform, tmp, out_off,
):  # fmt: skip
    """One op for a block of lanes; work and tmp are (entries, n_lanes) flattened."""
    nl = n_lanes
    lane_product(
        out_size * sum_size, in_start, in_end, -1, in_kind, in_off, in_slot, in_idx_start, idx,
        params_flat, const_flat, n_draws, work, lane_addr, draw_row, nl, uniform, tmp,
    )  # fmt: skip
    for j in range(out_size):
        o0 = (out_off + j) * nl
        r0 = j * sum_size * nl
        for b in range(nl):
            work[o0 + b] = tmp[r0 + b]
        for x in range(1, sum_size):
            t0 = r0 + x * nl
            for b in range(nl):
                work[o0 + b] += tmp[t0 + b]


@numba.njit(cache=True, nogil=True)
def scatter_times_derivative(dst, base, start, idx, n, sum_size, out_off, nl, tmp, adj):
    """``dst[base + idx[start + m], b] += tmp[m, b] * adj[out_off + m // sum_size, b]``."""
    for m in range(n):
        g0 = (out_off + m // sum_size) * nl
        a0 = (base + idx[start + m]) * nl
        t0 = m * nl
        for b in range(nl):
            dst[a0 + b] += tmp[t0 + b] * adj[g0 + b]


@numba.njit(cache=True, nogil=True)
def lane_back_op(
    out_size, sum_size, out_off, in_start, in_end, in_adj, e_lo, e_hi, e_idx_start, e_out_off,
    in_kind, in_off, in_slot, in_idx_start, idx, params_flat, const_flat, n_draws, work, adj,
    lane_addr, draw_row, nl, uniform, tmp,
):  # fmt: skip
    """One op of the backward pass for a block of lanes.

    The op computed ``out[j] = sum_x prod_i input_i[j, x]``; given ``adj[out]``,
    the derivative of P(evidence) with respect to its output, it adds each flagged
    input's derivative (the other inputs' product times ``adj[out]``) to
    ``adj[input]``, and for each extraction ``e`` it adds ``prod_i input_i * adj[out]``
    into ``work[e_out_off[e] + idx[e_idx_start[e] + m]]``: P(entry's assignment,
    evidence) summed over the entries of the op's full scope that project onto it.
    """
    n = out_size * sum_size
    last = -1
    for i in range(in_start, in_end):
        if not in_adj[i]:
            continue
        lane_product(
            n, in_start, in_end, i, in_kind, in_off, in_slot, in_idx_start, idx,
            params_flat, const_flat, n_draws, work, lane_addr, draw_row, nl, uniform, tmp,
        )  # fmt: skip
        scatter_times_derivative(adj, in_off[i], in_idx_start[i], idx, n, sum_size, out_off,
                                 nl, tmp, adj)  # fmt: skip
        last = i
    if e_hi > e_lo:
        if last >= 0:
            # tmp holds the product of every input but ``last`` (a work message).
            base = in_off[last]
            start = in_idx_start[last]
            for m in range(n):
                a0 = (base + idx[start + m]) * nl
                t0 = m * nl
                for b in range(nl):
                    tmp[t0 + b] *= work[a0 + b]
        else:
            lane_product(
                n, in_start, in_end, -1, in_kind, in_off, in_slot, in_idx_start, idx,
                params_flat, const_flat, n_draws, work, lane_addr, draw_row, nl, uniform, tmp,
            )  # fmt: skip
        for e in range(e_lo, e_hi):
            scatter_times_derivative(work, e_out_off[e], e_idx_start[e], idx, n, sum_size,
                                     out_off, nl, tmp, adj)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def run_lanes(
    params_t, const_t, const_rescaled, codes, rows, block_start, block_size, uniform,
    n_slots, term_slot, term_col, term_stride, term_unobserved_code,
    w_out_size, w_sum_size, w_out_off, w_in_start,
    in_kind, in_off, in_slot, in_idx_start, idx, n_work, n_tmp, lanes_per_block,
    t_kind, t_off, t_col, t_card, t_out_col, z_kind, z_off, z_size,
    b_op, in_adj, b_e_start, e_idx_start, e_out_off, e_out_size,
    p_out_size, p_sum_size, p_out_off, p_in_start,
    result, norm, careful, block_lo, block_hi,
):  # fmt: skip
    """Fast path over blocks ``block_lo:block_hi`` of lanes (lane = (patient i, draw s)).

    Block ``k`` covers lanes ``block_start[k] : block_start[k] + block_size[k]``
    of the flattened (len(rows), n_draws) grid. Lanes that need the careful
    path are flagged in ``careful[i, s]`` and left for the caller. ``norm``
    receives the normalising constant P(evidence) of the other lanes.

    After the work ops, the backward pass (``b_op``, ops in reverse order, see
    :func:`lane_back_op`) fills the extractions, and then the post ops
    (``p_*``) run; both are empty for a plan without one.
    """
    n_draws = params_t.shape[1]
    params_flat = params_t.reshape(-1)
    const_flat = const_t.reshape(-1)
    n_ops = w_out_size.shape[0]
    n_targets = t_kind.shape[0]
    nl_max = lanes_per_block
    work = np.empty(max(n_work, 1) * nl_max, dtype=np.float64)
    n_back = b_op.shape[0]
    adj = np.empty((n_work if n_back else 1) * nl_max, dtype=np.float64)
    tmp = np.empty(n_tmp * nl_max, dtype=np.float64)
    lane_addr = np.empty((n_slots + 1, nl_max), dtype=np.int64)
    lane_row = np.empty(nl_max, dtype=np.int64)
    lane_i = np.empty(nl_max, dtype=np.int64)
    for k in range(block_lo, block_hi):
        nl = block_size[k]
        for b in range(nl):
            lane = block_start[k] + b
            i = lane // n_draws
            lane_i[b] = i
            lane_row[b] = rows[i]
            lane_addr[n_slots, b] = lane - i * n_draws
        # A uniform block shares one patient: its offsets are needed once.
        n_set = 1 if uniform[k] else nl
        for q in range(n_slots):
            for b in range(n_set):
                lane_addr[q, b] = lane_addr[n_slots, b]
        for q in range(term_slot.shape[0]):
            col = term_col[q]
            step = term_stride[q] * n_draws
            target_row = lane_addr[term_slot[q]]
            for b in range(n_set):
                code = codes[lane_row[b], col]
                if code < 0:
                    code = term_unobserved_code[q]
                target_row[b] += code * step
        for op in range(n_ops):
            lane_op(
                w_out_size[op], w_sum_size[op], w_in_start[op], w_in_start[op + 1], in_kind,
                in_off, in_slot, in_idx_start, idx, params_flat, const_flat, n_draws, work,
                lane_addr, n_slots, nl, uniform[k], tmp, w_out_off[op],
            )  # fmt: skip
        if n_back:
            # Only the outputs of the ops in the sweep carry derivatives.
            for bi in range(n_back):
                op = b_op[bi]
                for q in range(w_out_off[op] * nl, (w_out_off[op] + w_out_size[op]) * nl):
                    adj[q] = 0.0
            for e in range(e_out_off.shape[0]):
                for q in range(e_out_off[e] * nl, (e_out_off[e] + e_out_size[e]) * nl):
                    work[q] = 0.0
            # P(evidence) is the sum of the final factor: each entry's derivative is 1.
            for q in range(z_off * nl, (z_off + z_size) * nl):
                adj[q] = 1.0
            for bi in range(n_back):
                op = b_op[bi]
                lane_back_op(
                    w_out_size[op], w_sum_size[op], w_out_off[op], w_in_start[op],
                    w_in_start[op + 1], in_adj, b_e_start[bi], b_e_start[bi + 1], e_idx_start,
                    e_out_off, in_kind, in_off, in_slot, in_idx_start, idx, params_flat,
                    const_flat, n_draws, work, adj, lane_addr, n_slots, nl, uniform[k], tmp,
                )  # fmt: skip
        for op in range(p_out_size.shape[0]):
            lane_op(
                p_out_size[op], p_sum_size[op], p_in_start[op], p_in_start[op + 1], in_kind,
                in_off, in_slot, in_idx_start, idx, params_flat, const_flat, n_draws, work,
                lane_addr, n_slots, nl, uniform[k], tmp, p_out_off[op],
            )  # fmt: skip
        for b in range(nl):
            row = lane_row[b]
            s = lane_addr[n_slots, b]
            z = 0.0
            for j in range(z_size):
                if z_kind == 1:
                    z += const_t[z_off + j, s]
                else:
                    z += work[(z_off + j) * nl + b]
            if not z >= CAREFUL_BELOW or const_rescaled[s] > 0:
                careful[lane_i[b], s] = True
                continue
            norm[row, s] = z
            for t in range(n_targets):
                card = t_card[t]
                col = t_out_col[t]
                if t_kind[t] == 2:
                    code = codes[row, t_col[t]]
                    for j in range(card):
                        result[row, s, col + j] = 1.0 if j == code else 0.0
                    continue
                total = 0.0
                for j in range(card):
                    if t_kind[t] == 0:
                        total += const_t[t_off[t] + j, s]
                    else:
                        total += work[(t_off[t] + j) * nl + b]
                if not total >= CAREFUL_BELOW:
                    careful[lane_i[b], s] = True
                    continue
                inv = 1.0 / total
                for j in range(card):
                    if t_kind[t] == 0:
                        v = const_t[t_off[t] + j, s]
                    else:
                        v = work[(t_off[t] + j) * nl + b]
                    result[row, s, col + j] = v * inv


# -- the careful path in log space ------------------------------------------------------
#
# Rescaling a message by its largest entry keeps that entry but loses any entry more
# than 2**1022 below it, and entries of one message can differ by more than the double
# range (CPT entries of 1e-300 beside 1e-150, subnormal ones): the careful path then
# answered (0, 1) for (0.5, 0.5). In log space a product is a sum and a sum a
# log-sum-exp, so every positive entry keeps its relative precision however small.


@numba.njit(cache=True, nogil=True)
def run_op_log(
    out_size, sum_size, in_start, in_end, in_kind, in_off, in_slot, in_idx_start, idx,
    params, const, work, slot_offset, tmp, out, out_off,
):  # fmt: skip
    """:func:`run_op` on logs: add the inputs' logs, log-sum-exp out the variable."""
    n = out_size * sum_size
    if in_end == in_start:
        for m in range(n):
            tmp[m] = 0.0
    for i in range(in_start, in_end):
        kind = in_kind[i]
        base = in_off[i]
        if in_slot[i] >= 0:
            base += slot_offset[in_slot[i]]
        start = in_idx_start[i]
        if kind == 0:
            src = params
        elif kind == 1:
            src = const
        else:
            src = work
        if i == in_start:
            for m in range(n):
                tmp[m] = src[base + idx[start + m]]
        else:
            for m in range(n):
                tmp[m] += src[base + idx[start + m]]
    for j in range(out_size):
        row = j * sum_size
        largest = -np.inf
        for x in range(sum_size):
            if tmp[row + x] > largest:
                largest = tmp[row + x]
        if largest == -np.inf:
            out[out_off + j] = -np.inf
        else:
            acc = 0.0
            for x in range(sum_size):
                acc += np.exp(tmp[row + x] - largest)
            out[out_off + j] = largest + np.log(acc)


@numba.njit(cache=True, nogil=True)
def run_ops_log(
    out_size, sum_size, out_off, in_start,
    in_kind, in_off, in_slot, in_idx_start, idx, params, const, work, slot_offset, tmp, out,
):  # fmt: skip
    """Run a list of ops in order into ``out``, in log space."""
    for k in range(out_size.shape[0]):
        run_op_log(
            out_size[k], sum_size[k], in_start[k], in_start[k + 1], in_kind, in_off, in_slot,
            in_idx_start, idx, params, const, work, slot_offset, tmp, out, out_off[k],
        )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def run_careful_lanes_log(
    lane_rows, lane_draws, log_params_t, codes,
    n_slots, term_slot, term_col, term_stride, term_unobserved_code,
    c_out_size, c_sum_size, c_out_off, c_in_start,
    w_out_size, w_sum_size, w_out_off, w_in_start,
    in_kind, in_off, in_slot, in_idx_start, idx, n_const, n_work, n_tmp,
    t_kind, t_off, t_col, t_card, t_out_col, z_kind, z_off, z_size, result, log_out,
):  # fmt: skip
    """Recompute listed lanes in log space: exact for any evidence of positive probability.

    Lane ``q`` is patient row ``lane_rows[q]`` under draw ``lane_draws[q]``; its
    posteriors go to ``result[row, s]`` and its log-evidence to ``log_out[q]``.
    ``log_params_t`` holds the log of every parameter (-inf for a zero). A lane's evidence is impossible (nan posteriors, log-evidence
    -inf) only when every term of its sum is exactly zero.
    """
    n_params = log_params_t.shape[0]
    p_s = np.empty(n_params, dtype=np.float64)
    c_s = np.empty(max(n_const, 1), dtype=np.float64)
    work = np.empty(max(n_work, 1), dtype=np.float64)
    tmp = np.empty(n_tmp, dtype=np.float64)
    slot_offset = np.zeros(max(n_slots, 1), dtype=np.int64)
    for q in range(lane_rows.shape[0]):
        row = lane_rows[q]
        s = lane_draws[q]
        for k in range(n_params):
            p_s[k] = log_params_t[k, s]
        slot_offset[:] = 0
        for u in range(term_slot.shape[0]):
            code = codes[row, term_col[u]]
            if code < 0:
                code = term_unobserved_code[u]
            slot_offset[term_slot[u]] += code * term_stride[u]
        run_ops_log(
            c_out_size, c_sum_size, c_out_off, c_in_start, in_kind, in_off,
            in_slot, in_idx_start, idx, p_s, c_s, work, slot_offset, tmp, c_s,
        )  # fmt: skip
        run_ops_log(
            w_out_size, w_sum_size, w_out_off, w_in_start, in_kind, in_off,
            in_slot, in_idx_start, idx, p_s, c_s, work, slot_offset, tmp, work,
        )  # fmt: skip
        log_z = _log_sum(c_s if z_kind == 1 else work, z_off, z_size)
        log_out[q] = log_z
        for t in range(t_kind.shape[0]):
            card = t_card[t]
            col = t_out_col[t]
            if log_z == -np.inf:
                for j in range(card):
                    result[row, s, col + j] = np.nan
            elif t_kind[t] == 2:
                code = codes[row, t_col[t]]
                for j in range(card):
                    result[row, s, col + j] = 1.0 if j == code else 0.0
            else:
                src = c_s if t_kind[t] == 0 else work
                log_total = _log_sum(src, t_off[t], card)
                for j in range(card):
                    result[row, s, col + j] = np.exp(src[t_off[t] + j] - log_total)


@numba.njit(cache=True, nogil=True)
def _log_sum(values, start, size):
    largest = -np.inf
    for j in range(size):
        if values[start + j] > largest:
            largest = values[start + j]
    if largest == -np.inf:
        return -np.inf
    acc = 0.0
    for j in range(size):
        acc += np.exp(values[start + j] - largest)
    return largest + np.log(acc)
