"""Output files: checked before the work starts, written whole or not at all.

Every file a command writes goes through :func:`atomic_text_writer`: the text is
written to a temporary file beside the target and renamed over it, so a reader
never sees half a file and a failure leaves the old one. The new file gets the
permissions the user's umask gives any new file (a temporary file alone would be
0600), and a target that is a symbolic link is followed: the file it points to is
replaced and the link stays. :func:`check_output_path` refuses, before anything is
computed, an output that is a folder, lies in a folder that does not exist, or is
one of the command's inputs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from npprob.errors import ParameterError

__all__ = ["atomic_text_writer", "check_output_folder", "check_output_path"]


def check_output_path(
    path: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    *,
    parameter: str = "out",
) -> Path:
    """``path`` resolved (links followed) if a command may write it; else one clear error.

    Raises
    ------
    ParameterError
        When ``path`` is a folder, its folder does not exist, or it is one of
        ``inputs`` (the same file by any name).
    """
    target = Path(path)
    resolved = target.resolve()
    if resolved.is_dir():
        raise ParameterError(f"{path} is a folder; give a file name.", parameter=parameter)
    if not resolved.parent.is_dir():
        raise ParameterError(
            f"{path}: the folder {resolved.parent} does not exist.", parameter=parameter
        )
    for source in inputs:
        if source is None or str(source) == "-":
            continue
        with contextlib.suppress(OSError):
            if Path(source).exists() and Path(source).resolve() == resolved:
                raise ParameterError(
                    f"{path} is the input {source}; writing it would destroy the input.",
                    parameter=parameter,
                )
    return resolved


def check_output_folder(path: str | os.PathLike[str], *, parameter: str = "out_dir") -> Path:
    """``path`` if a command may create or fill it as a folder; else one clear error.

    Checked before the work starts, so that a long simulation or fit is not lost
    to an output folder that could never be written.

    Raises
    ------
    ParameterError
        When ``path`` exists and is not a folder, or the nearest existing folder
        on its way cannot be written.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ParameterError(f"{path} exists and is not a folder.", parameter=parameter)
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(f"{path}: {existing} is not a folder.", parameter=parameter)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"{path}: {existing} cannot be written.", parameter=parameter)
    return target


@contextlib.contextmanager
def atomic_text_writer(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text file to write that replaces ``path`` (its link target) only when complete."""
    target = Path(path).resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # The only portable way to read the umask is to set it; set it straight back.
    current = os.umask(0o022)
    os.umask(current)
    return current
