"""Files generated from the specification (schema, picture): write them, or check they are current."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["write_or_check"]


def write_or_check(path: Path, text: str, *, check: bool, command: str) -> int:
    """Write ``text`` to ``path``, or with ``check`` compare them; the exit status.

    Returns 1 when checking finds the file out of date (the message names
    ``command``, which regenerates it), else 0.
    """
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date; run {command}", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0
