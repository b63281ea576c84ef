"""Small text helpers shared by the layers that print numbers for people."""

from __future__ import annotations

import math

__all__ = ["probability_text"]


def probability_text(p: float, digits: int = 2, *, ends: bool = False) -> str:
    """A probability for people: ``"< 0.01"`` and ``"> 0.99"`` at the ends, never a false 0 or 1.

    With ``ends``, a probability closer to 0 or 1 than ``10**-digits`` keeps its
    first significant digit (of p, or of 1 - p) down to 0.0001, so that a
    credible interval near certainty still shows its width: 0.0009 and 0.007 are
    different statements about a mimic, both "< 0.01" at two decimals.

    Examples
    --------
    >>> [probability_text(p) for p in (0.0, 0.004, 0.5, 0.996, 1.0)]
    ['< 0.01', '< 0.01', '0.50', '> 0.99', '> 0.99']
    >>> [probability_text(p, ends=True) for p in (0.0, 0.00042, 0.0069, 0.5, 0.9983, 1.0)]
    ['< 0.0001', '0.0004', '0.007', '0.50', '0.998', '> 0.9999']
    """
    low = 10.0**-digits
    if ends and (p < low or p > 1.0 - low):
        tail = min(p, 1.0 - p)
        if tail < _FINEST:
            return "< 0.0001" if p < 0.5 else "> 0.9999"
        decimals = -math.floor(math.log10(tail))
        return f"{p:.{decimals}f}"
    if p < low:
        return f"< {low:.{digits}f}"
    if p > 1.0 - low:
        return f"> {1.0 - low:.{digits}f}"
    return f"{p:.{digits}f}"


#: Finest probability :func:`probability_text` shows near 0 or 1 with ``ends``.
_FINEST = 1e-4
