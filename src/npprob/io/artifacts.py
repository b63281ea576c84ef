"""Model artifacts as plain data: NPZ arrays (never pickled), JSON card, SHA-256 sums.

A model folder holds ``draws.npz`` (every CPT's parameter draws), ``card.json``
(how the model was made), optional extra files (``posterior.nc``, the ArviZ
posterior) and ``SHA256SUMS`` listing every file's checksum. Loading checks
every listed checksum before reading anything and opens NPZ files with
``allow_pickle=False``; a missing, truncated or altered file raises
:class:`~npprob.errors.ModelFileError` naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from npprob.errors import ModelFileError

__all__ = ["CHECKSUMS", "read_model_dir", "sha256_file", "write_model_dir", "write_npz"]

CHECKSUMS = "SHA256SUMS"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an NPZ archive with fixed timestamps (same arrays, same bytes)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            arr = np.asarray(arrays[name])
            if arr.dtype.hasobject:
                raise ValueError(f"'{name}' holds Python objects; artifacts are plain data.")
            if not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr)  # keeps 0-d arrays 0-d, unlike for all arrays
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())


def write_model_dir(
    directory: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    card: Mapping[str, object],
    extra_files: Iterable[str] = (),
) -> Path:
    """Write ``draws.npz`` and ``card.json``, then ``SHA256SUMS`` over them and ``extra_files``.

    ``extra_files`` are names of files the caller already wrote in ``directory``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "draws.npz", arrays)
    (out / "card.json").write_text(
        json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    names = ["draws.npz", "card.json", *extra_files]
    lines = [f"{sha256_file(out / n)}  {n}\n" for n in sorted(names)]
    (out / CHECKSUMS).write_text("".join(lines), encoding="utf-8")
    return out


def read_model_dir(directory: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict]:
    """Verify every checksum, then read ``draws.npz`` and ``card.json``.

    Raises
    ------
    ModelFileError
        When the folder, ``SHA256SUMS`` or a listed file is missing, a checksum
        does not match, or a file cannot be parsed.
    """
    d = Path(directory)
    sums = d / CHECKSUMS
    if not sums.is_file():
        raise ModelFileError(
            f"Model folder '{d}' has no {CHECKSUMS} file (not a model, or incomplete)."
        )
    expected = {}
    for k, line in enumerate(sums.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ModelFileError(f"{sums}:{k}: malformed checksum line.")
        expected[parts[1]] = parts[0]
    for required in ("draws.npz", "card.json"):
        if required not in expected:
            raise ModelFileError(f"{sums} does not list {required}.")
    for name, digest in expected.items():
        path = d / name
        if not path.is_file():
            raise ModelFileError(f"Model file '{path}' is missing.")
        if sha256_file(path) != digest:
            raise ModelFileError(
                f"Model file '{path}' is corrupted or was changed: its SHA-256 does not match {CHECKSUMS}."
            )
    try:
        # Open the file ourselves so a failing np.load cannot leave it open.
        with (d / "draws.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ModelFileError(f"Cannot read '{d / 'draws.npz'}': {exc}.") from None
    try:
        card = json.loads((d / "card.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"Cannot read '{d / 'card.json'}': {exc}.") from None
    if not isinstance(card, dict):
        raise ModelFileError(f"'{d / 'card.json'}' is not a JSON object.")
    return arrays, card
