"""Reading the project's TOML data files with one clear error for every failure."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from npprob.errors import DataFileError

__all__ = ["read_toml"]


def read_toml(path: str | os.PathLike[str], what: str) -> dict:
    """Parse ``path``; ``what`` names the file in errors ("settings file", "tools file").

    Raises
    ------
    DataFileError
        When the file cannot be read or is not valid TOML.
    """
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(
            f"Cannot read {what} '{p}': {exc.strerror or exc}.", path=str(p)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(f"{p}: invalid TOML: {exc}.", path=str(p)) from None
