"""Small text helpers shared by the layers that print numbers for people."""

from __future__ import annotations

__all__ = ["probability_text"]


def probability_text(p: float, digits: int = 2) -> str:
    """A probability for people: ``"< 0.01"`` and ``"> 0.99"`` at the ends, never a false 0 or 1.

    Examples
    --------
    >>> [probability_text(p) for p in (0.0, 0.004, 0.5, 0.996, 1.0)]
    ['< 0.01', '< 0.01', '0.50', '> 0.99', '> 0.99']
    """
    low = 10.0**-digits
    if p < low:
        return f"< {low:.{digits}f}"
    if p > 1.0 - low:
        return f"> {1.0 - low:.{digits}f}"
    return f"{p:.{digits}f}"
