"""Shared validators and their message templates."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest_names", "format_choices", "unknown_name_hint"]


def closest_names(name: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` valid names that look like ``name`` (for 'did you mean')."""
    valid = list(valid)
    close = difflib.get_close_matches(name, valid, n=n, cutoff=0.6)
    if not close:
        lowered = {v.lower(): v for v in valid}
        close = [
            lowered[m]
            for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
        ]
    return close


def format_choices(valid: Iterable[str], limit: int = 12) -> str:
    """Render allowed values for an error message, shortened when there are many."""
    valid = list(valid)
    shown = ", ".join(valid[:limit])
    if len(valid) > limit:
        shown += f", ... ({len(valid)} in all)"
    return shown


def unknown_name_hint(name: str, valid: Iterable[str]) -> str:
    """A ' Did you mean ...?' suffix, or an empty string when nothing is close."""
    close = closest_names(name, valid)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
