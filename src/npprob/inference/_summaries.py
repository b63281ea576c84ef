"""Numba kernel: weighted quantiles of each patient's posterior draws.

:func:`npprob.diagnosis.predictive.weighted_quantiles` states the rule (Hazen's
midpoints of the weighted empirical distribution) and validates; this kernel does the
arithmetic the NumPy formulation did, in the same order, one patient at a time: a row's
draws of positive weight are sorted (stable), their cumulative weights' midpoints
located and the quantile interpolated. A row at a time keeps its draws in cache, where
sorting a (draws, patients) array along its first axis did not, and chunks of rows run
on the engine's threads.
"""

from __future__ import annotations

import numba
import numpy as np

from npprob.inference import _kernels  # noqa: F401  (sets numba's cache folder first)


@numba.njit(cache=True, nogil=True)
def _stable_order(keys, n, order, spare):
    """``order[:n]``: indices of ``keys[:n]`` in ascending order, ties in index order.

    A bottom-up merge sort, what ``np.argsort(kind="stable")`` returns for keys
    without NaN; written out because numba's own sort took 2 s of the kernels'
    first compilation.
    """
    for j in range(n):
        order[j] = j
    width = 1
    src, dst = order, spare
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a, b, out = lo, mid, lo
            while a < mid and b < hi:
                # <= keeps the left run's entry first on ties: stable.
                if keys[src[a]] <= keys[src[b]]:
                    dst[out] = src[a]
                    a += 1
                else:
                    dst[out] = src[b]
                    b += 1
                out += 1
            while a < mid:
                dst[out] = src[a]
                a += 1
                out += 1
            while b < hi:
                dst[out] = src[b]
                b += 1
                out += 1
        src, dst = dst, src
        width *= 2
    if src is not order:
        for j in range(n):
            order[j] = src[j]


@numba.njit(cache=True, nogil=True)
def weighted_quantile_rows(values, weights, q, out, row_lo, row_hi):
    """Quantiles ``q`` of rows ``row_lo:row_hi``: ``out[r, i]`` from ``values[i]``, ``weights[i]``.

    ``values`` and ``weights`` are (rows, draws), C-contiguous. Draws of weight zero
    (or negative) are never used; a row with a non-finite weight gets NaN, a row
    without a positive weight its first value.
    """
    n = values.shape[1]
    kept_v = np.empty(n, dtype=np.float64)
    kept_w = np.empty(n, dtype=np.float64)
    middle = np.empty(n, dtype=np.float64)
    order = np.empty(n, dtype=np.int64)
    spare = np.empty(n, dtype=np.int64)
    for i in range(row_lo, row_hi):
        finite = True
        k = 0
        for s in range(n):
            w = weights[i, s]
            if not np.isfinite(w):
                finite = False
            if w > 0:
                kept_v[k] = values[i, s]
                kept_w[k] = w
                k += 1
        if not finite:
            for r in range(q.shape[0]):
                out[r, i] = np.nan
            continue
        if k == 0:
            for r in range(q.shape[0]):
                out[r, i] = values[i, 0]
            continue
        _stable_order(kept_v, k, order, spare)
        total = 0.0
        for j in range(k):
            w = kept_w[order[j]]
            total += w
            middle[j] = total - w / 2
        last = k - 1
        for r in range(q.shape[0]):
            quantile = q[r]
            below = 0
            for j in range(k):
                if middle[j] <= quantile:
                    below += 1
            lo = min(max(below - 1, 0), last)
            hi = min(below, last)
            m_lo = middle[lo]
            m_hi = middle[hi]
            t = (quantile - m_lo) / (m_hi - m_lo) if m_hi > m_lo else 0.0
            t = min(max(t, 0.0), 1.0)
            v_lo = kept_v[order[lo]]
            v_hi = kept_v[order[hi]]
            out[r, i] = v_lo + t * (v_hi - v_lo)


@numba.njit(cache=True, nogil=True)
def weighted_mean_rows(probabilities, weights, columns, out, row_lo, row_hi):
    """``out[c, i]``: the weighted mean over draws of ``probabilities[i, :, columns[c]]``.

    ``probabilities`` is a query's (patients, draws, columns) array and ``weights``
    (patients, draws), both C-contiguous. Draws of weight zero (or negative) are
    skipped, so a NaN answer under a draw that makes the findings impossible does not
    spoil the mean; a row with a NaN weight gets NaN. The sum runs over draws in order,
    the order of :func:`npprob.diagnosis.predictive.weighted_mean`'s NumPy sum.
    """
    n = probabilities.shape[1]
    for i in range(row_lo, row_hi):
        unknown = False
        for s in range(n):
            if np.isnan(weights[i, s]):
                unknown = True
        for c in range(columns.shape[0]):
            if unknown:
                out[c, i] = np.nan
                continue
            col = columns[c]
            total = 0.0
            for s in range(n):
                w = weights[i, s]
                total += w * probabilities[i, s, col] if w > 0 else 0.0
            out[c, i] = total
