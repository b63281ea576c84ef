"""Resource limits checked before memory is allocated, so a small input cannot ask for gigabytes.

``NPPROB_MAX_TABLE_ENTRIES`` (environment) raises or lowers the table limit,
``NPPROB_MAX_NETWORK_BYTES`` the size of a network file (after decompression).
"""

from __future__ import annotations

import os

__all__ = [
    "BYTES_PER_SIMULATED_PATIENT",
    "MAX_STATES",
    "available_memory",
    "max_network_bytes",
    "max_table_entries",
]

#: Most states a variable may have: evidence codes are int16 (-1 = not observed).
MAX_STATES = 32_767
#: Default of :func:`max_table_entries`: 2**24 float64 entries (128 MiB per table; the
#: plan's index tables add as much again per input).
DEFAULT_MAX_TABLE_ENTRIES = 1 << 24


def _positive_int_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def max_table_entries() -> int:
    """The largest CPT or intermediate table npprob will build (entries)."""
    return _positive_int_from_env("NPPROB_MAX_TABLE_ENTRIES", DEFAULT_MAX_TABLE_ENTRIES)


#: Default of :func:`max_network_bytes`: 256 MiB of BIF text, far above any published
#: network (the largest in the bnlearn repository is about 10 MB) and far below memory.
DEFAULT_MAX_NETWORK_BYTES = 256 << 20


def max_network_bytes() -> int:
    """The largest network file npprob will read, in bytes of text (after decompression)."""
    return _positive_int_from_env("NPPROB_MAX_NETWORK_BYTES", DEFAULT_MAX_NETWORK_BYTES)


#: Peak memory per simulated patient of the clinical network, with a margin: measured
#: about 900 bytes (100,000 patients, 53 variables, CSV written); counted as 2,000.
BYTES_PER_SIMULATED_PATIENT = 2_000


def available_memory() -> int | None:
    """Physical memory available now, in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
