"""Server-rendered SVG figures of one answer: the probability's posterior, and its reasons.

Plain SVG text, no plotting library and no script: the page stays light, works
offline and prints as drawn. Every text is escaped; every figure has a title and
a description for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

__all__ = ["explanation_svg", "interval_svg"]

_BLUE = "#1f5f99"
_GREY = "#6b7280"
_RED = "#b42318"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def interval_svg(
    p: float,
    interval: tuple[float, float],
    draws: np.ndarray | None,
    weights: np.ndarray | None,
    *,
    width: int = 520,
    height: int = 130,
) -> str:
    """P(neuropathic) over the parameter draws: density, 95 % interval and the estimate.

    Parameters
    ----------
    p : float
        The estimate (posterior predictive mean), probability scale.
    interval : (float, float)
        The central 95 % credible interval.
    draws, weights : ndarray of shape (n_draws,), optional
        P(neuropathic) under each draw and each draw's weight (summing to 1); the
        density is a weighted histogram of the draws. Without them only the
        interval and the estimate are drawn.
    """
    left, right, top, base = 16, width - 16, 14, height - 40
    span = right - left

    def x(v: float) -> float:
        return left + span * min(max(float(v), 0.0), 1.0)

    body = [f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="{_GREY}"/>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            f'<line x1="{x(tick):.1f}" y1="{base}" x2="{x(tick):.1f}" y2="{base + 4}" '
            f'stroke="{_GREY}"/><text x="{x(tick):.1f}" y="{base + 16}" font-size="11" '
            f'text-anchor="middle" fill="{_GREY}">{tick:g}</text>'
        )
    if draws is not None and len(draws):
        w = np.full(len(draws), 1.0 / len(draws)) if weights is None else np.asarray(weights)
        density, edges = np.histogram(np.clip(draws, 0.0, 1.0), bins=50, range=(0.0, 1.0),
                                      weights=w)  # fmt: skip
        peak = density.max() if density.max() > 0 else 1.0
        points = [f"{x(edges[0]):.1f},{base}"]
        for k, d in enumerate(density):
            y = base - (base - top) * d / peak
            points += [f"{x(edges[k]):.1f},{y:.1f}", f"{x(edges[k + 1]):.1f},{y:.1f}"]
        points.append(f"{x(edges[-1]):.1f},{base}")
        body.append(
            f'<polygon points="{" ".join(points)}" fill="{_BLUE}" fill-opacity="0.25" '
            f'stroke="{_BLUE}" stroke-width="1"/>'
        )
    low, high = interval
    body.append(
        f'<line x1="{x(low):.1f}" y1="{base + 26}" x2="{x(high):.1f}" y2="{base + 26}" '
        f'stroke="{_BLUE}" stroke-width="5" stroke-linecap="butt"/>'
        f'<line x1="{x(p):.1f}" y1="{top - 4}" x2="{x(p):.1f}" y2="{base + 30}" '
        f'stroke="{_RED}" stroke-width="2"/>'
    )
    title = (
        f"P(neuropathic) {p:.3f}, 95 % credible interval {low:.3f} to {high:.3f}; "
        "shaded: the probability under each parameter draw, weighted"
    )
    return _svg(width, height, title, body)


def explanation_svg(
    effects: Sequence[tuple[str, float]], *, width: int = 520, bar_height: int = 18
) -> str:
    """The findings that moved P(neuropathic), as bars of the change they caused.

    Parameters
    ----------
    effects : sequence of (label, change)
        ``"finding = state"`` and ``P(neuropathic) - P(without it)``, probability
        scale, largest first.
    """
    if not effects:
        return _svg(width, 24, "No recorded finding moved P(neuropathic)", [
            f'<text x="4" y="16" font-size="12" fill="{_GREY}">No finding recorded.</text>'
        ])  # fmt: skip
    label_width, value_width = 230, 56
    mid = label_width + (width - label_width - value_width) / 2
    half = (width - label_width - value_width) / 2 - 4
    largest = max(abs(c) for _, c in effects) or 1.0
    height = bar_height * len(effects) + 8
    body = [f'<line x1="{mid:.1f}" y1="0" x2="{mid:.1f}" y2="{height}" stroke="{_GREY}"/>']
    for k, (label, change) in enumerate(effects):
        y = 4 + k * bar_height
        length = half * abs(change) / largest
        x0 = mid if change >= 0 else mid - length
        colour = _RED if change >= 0 else _BLUE
        body.append(
            f'<text x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" font-size="11" '
            f'text-anchor="end">{escape(label)}</text>'
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(length, 1):.1f}" '
            f'height="{bar_height - 6}" fill="{colour}"/>'
            f'<text x="{width - 4}" y="{y + bar_height * 0.7:.1f}" font-size="11" '
            f'text-anchor="end">{change:+.2f}</text>'
        )
    title = "Findings that moved P(neuropathic): " + "; ".join(
        f"{label} {change:+.2f}" for label, change in effects
    )
    return _svg(width, height, title, body)
