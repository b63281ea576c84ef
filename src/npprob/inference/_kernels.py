"""Numba kernels: flat arrays in, caller-allocated arrays filled.

No names, objects or checks live here; :mod:`npprob.inference.plan` builds the
index arrays and :mod:`npprob.inference.engine` validates inputs.
Messages that fall below ``2**-512`` are multiplied by ``2**512``: scaling by
a power of two is exact, so posteriors are unaffected and the count of
rescalings restores the log-evidence.
"""

from __future__ import annotations

import numba
import numpy as np

TINY = 2.0**-512
BIG = 2.0**512
LOG_BIG = 512.0 * np.log(2.0)


@numba.njit(cache=True, nogil=True)
def run_op(
    out_size, sum_size, in_start, in_end, in_kind, in_off, in_slot, in_idx_start, idx,
    params, const, work, slot_offset, tmp, out, out_off,
):  # fmt: skip
    """Multiply the op's inputs and sum out its variable; return 1 if rescaled."""
    n = out_size * sum_size
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
        return 1
    return 0


@numba.njit(cache=True, nogil=True, parallel=True)
def run_constant_ops(
    params, out_size, sum_size, out_off, in_start, count_scale,
    in_kind, in_off, in_slot, in_idx_start, idx, n_tmp, const, const_scale,
):  # fmt: skip
    """Run the evidence-free ops once per parameter draw (prange over draws)."""
    n_draws = params.shape[0]
    n_ops = out_size.shape[0]
    no_slots = np.zeros(1, dtype=np.int64)
    for s in numba.prange(n_draws):
        tmp = np.empty(n_tmp, dtype=np.float64)
        work = np.empty(1, dtype=np.float64)
        scale = 0
        for k in range(n_ops):
            r = run_op(
                out_size[k], sum_size[k], in_start[k], in_start[k + 1], in_kind, in_off,
                in_slot, in_idx_start, idx, params[s], const[s], work, no_slots, tmp,
                const[s], out_off[k],
            )  # fmt: skip
            if count_scale[k]:
                scale += r
        const_scale[s] = scale


@numba.njit(cache=True, nogil=True, parallel=True)
def run_patients(
    params, const, const_scale, codes, rows,
    n_slots, term_slot, term_col, term_stride, term_unobserved_code,
    out_size, sum_size, out_off, in_start, count_scale,
    in_kind, in_off, in_slot, in_idx_start, idx, n_work, n_tmp,
    t_kind, t_off, t_col, t_card, t_out_col, z_kind, z_off, z_size,
    n_chunks, result, log_z,
):  # fmt: skip
    """Fill ``result[s, rows[i], :]`` and ``log_z[s, rows[i]]`` for every draw and row.

    ``result`` holds normalised target marginals side by side; a patient whose
    evidence has probability zero under draw ``s`` gets NaN and ``-inf``.
    """
    n_draws = params.shape[0]
    n_rows = rows.shape[0]
    n_ops = out_size.shape[0]
    n_targets = t_kind.shape[0]
    chunk = (n_rows + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        lo = c * chunk
        hi = min(n_rows, lo + chunk)
        tmp = np.empty(n_tmp, dtype=np.float64)
        work = np.empty(max(n_work, 1), dtype=np.float64)
        slot_offset = np.zeros(max(n_slots, 1), dtype=np.int64)
        for i in range(lo, hi):
            row = rows[i]
            for q in range(n_slots):
                slot_offset[q] = 0
            for q in range(term_slot.shape[0]):
                code = codes[row, term_col[q]]
                if code < 0:
                    code = term_unobserved_code[q]
                slot_offset[term_slot[q]] += code * term_stride[q]
            for s in range(n_draws):
                p_s = params[s]
                c_s = const[s]
                scale = const_scale[s]
                for k in range(n_ops):
                    r = run_op(
                        out_size[k], sum_size[k], in_start[k], in_start[k + 1], in_kind,
                        in_off, in_slot, in_idx_start, idx, p_s, c_s, work, slot_offset,
                        tmp, work, out_off[k],
                    )  # fmt: skip
                    if count_scale[k]:
                        scale += r
                z = 0.0
                for j in range(z_size):
                    if z_kind == 1:
                        z += c_s[z_off + j]
                    else:
                        z += work[z_off + j]
                if z > 0.0:
                    log_z[s, row] = np.log(z) - scale * LOG_BIG
                else:
                    log_z[s, row] = -np.inf
                for t in range(n_targets):
                    card = t_card[t]
                    col = t_out_col[t]
                    if z == 0.0:
                        for j in range(card):
                            result[s, row, col + j] = np.nan
                    elif t_kind[t] == 2:
                        code = codes[row, t_col[t]]
                        for j in range(card):
                            result[s, row, col + j] = 1.0 if j == code else 0.0
                    else:
                        total = 0.0
                        for j in range(card):
                            if t_kind[t] == 0:
                                total += c_s[t_off[t] + j]
                            else:
                                total += work[t_off[t] + j]
                        for j in range(card):
                            if t_kind[t] == 0:
                                result[s, row, col + j] = c_s[t_off[t] + j] / total
                            else:
                                result[s, row, col + j] = work[t_off[t] + j] / total
