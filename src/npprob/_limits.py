"""Resource limits checked before memory is allocated, so a small input cannot ask for gigabytes.

``NPPROB_MAX_TABLE_ENTRIES`` (environment) raises or lowers the table limit.
"""

from __future__ import annotations

import os

__all__ = ["MAX_STATES", "max_table_entries"]

#: Most states a variable may have: evidence codes are int16 (-1 = not observed).
MAX_STATES = 32_767
#: Default of :func:`max_table_entries`: 2**24 float64 entries (128 MiB per table; the
#: plan's index tables add as much again per input).
DEFAULT_MAX_TABLE_ENTRIES = 1 << 24


def max_table_entries() -> int:
    """The largest CPT or intermediate table npprob will build (entries)."""
    raw = os.environ.get("NPPROB_MAX_TABLE_ENTRIES")
    if raw is None:
        return DEFAULT_MAX_TABLE_ENTRIES
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_TABLE_ENTRIES
    return value if value > 0 else DEFAULT_MAX_TABLE_ENTRIES
