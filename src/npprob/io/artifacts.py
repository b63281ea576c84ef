"""Model artifacts as plain data: NPZ arrays (never pickled), JSON card, SHA-256 sums.

A model folder holds ``draws.npz`` (every CPT's parameter draws), ``card.json``
(how the model was made), optional extra files (``posterior.nc``, the ArviZ
posterior) and ``SHA256SUMS`` listing every file's checksum. Loading checks
every listed checksum before reading anything and opens NPZ files with
``allow_pickle=False``; a missing, truncated or altered file raises
:class:`~npprob.errors.ModelFileError` naming it.

:class:`ModelFolder` is the one place that knows this format: where a named
model is found, how a folder is written (atomically: built under a temporary
name and swapped in) and when a folder fits a network specification.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from npprob.errors import ModelFileError, ParameterError
from npprob.io.cards import MODEL_CARD_FIELDS, card_problem
from npprob.io.resources import models_dir
from npprob.network.spec import ClinicalSpec

__all__ = [
    "CHECKSUMS",
    "RESERVED_NAMES",
    "SHIPPED_MODELS",
    "ModelFolder",
    "process_alive",
    "read_model_dir",
    "sha256_file",
    "write_model_dir",
    "write_npz",
]

CHECKSUMS = "SHA256SUMS"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: Largest draws.npz content read (bytes of array data, from the headers, before loading).
MAX_ARRAY_BYTES = 1 << 30
#: Most parameter draws a model may hold.
MAX_DRAWS = 100_000
_FLOAT64 = np.dtype("<f8")
_CHECKSUM_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")


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


def read_model_dir(
    directory: str | os.PathLike[str],
    *,
    expected: Mapping[str, tuple[int, ...]] | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Verify every checksum, then read ``draws.npz`` and ``card.json``.

    Only plain file names inside the folder may be listed in ``SHA256SUMS``. The
    arrays' headers are checked before any array is read: float64 only, at most
    :data:`MAX_ARRAY_BYTES` in all, each header agreeing with its stored size; with
    ``expected``, exactly those arrays, each of shape ``(n_draws, *expected[name])``
    with one ``n_draws`` from 1 to :data:`MAX_DRAWS`.

    Parameters
    ----------
    directory : path
    expected : mapping of str to tuple of int, optional
        Every array's name and its shape after the draw axis.

    Raises
    ------
    ModelFileError
        When the folder, ``SHA256SUMS`` or a listed file is missing, a listed
        name is not a plain file of the folder, a checksum does not match, an
        array is not what it should be, or a file cannot be parsed.
    """
    d = Path(directory)
    sums = d / CHECKSUMS
    if not sums.is_file():
        raise ModelFileError(
            f"Model folder '{d}' has no {CHECKSUMS} file (not a model, or incomplete)."
        )
    listed: dict[str, str] = {}
    # Bytes, not read_text: universal newlines would hide a changed line ending.
    text = sums.read_bytes().decode("utf-8", errors="replace")
    if not text.endswith("\n"):
        raise ModelFileError(f"{sums}: malformed checksum line (no final newline).")
    for k, line in enumerate(text[:-1].split("\n"), 1):
        # Exactly as written (sha256sum's text mode): a lower-case hex digest, two spaces,
        # the name, a newline. One spelling per folder, so any changed byte is seen.
        match = _CHECKSUM_LINE.fullmatch(line)
        if match is None:
            raise ModelFileError(f"{sums}:{k}: malformed checksum line.")
        parts = [match[1], match[2]]
        if not _plain_name(parts[1]):
            raise ModelFileError(
                f"{sums}:{k}: '{parts[1]}' is not a plain file name of the folder; a model "
                "lists only its own files."
            )
        listed[parts[1]] = parts[0]
    for required in ("draws.npz", "card.json"):
        if required not in listed:
            raise ModelFileError(f"{sums} does not list {required}.")
    inside = d.resolve()
    for name, digest in listed.items():
        path = d / name
        if path.is_symlink() or path.resolve().parent != inside:
            raise ModelFileError(f"Model file '{path}' is a link; a model holds its own files.")
        if not path.is_file():
            raise ModelFileError(f"Model file '{path}' is missing.")
        if sha256_file(path) != digest:
            raise ModelFileError(
                f"Model file '{path}' is corrupted or was changed: its SHA-256 does not match {CHECKSUMS}."
            )
    try:
        # Open the file ourselves so a failing np.load cannot leave it open.
        with (d / "draws.npz").open("rb") as fh:
            _check_headers(fh, d / "draws.npz", expected)
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except ModelFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ModelFileError(f"Cannot read '{d / 'draws.npz'}': {exc}.") from None
    if "posterior.nc" in listed:
        # Read only by ArviZ, on request: at least it must be the netCDF it claims to be.
        with (d / "posterior.nc").open("rb") as fh:
            magic = fh.read(8)
        if not (magic == b"\x89HDF\r\n\x1a\n" or magic[:3] == b"CDF"):
            raise ModelFileError(f"'{d / 'posterior.nc'}' is not a netCDF file.")
    try:
        card = json.loads((d / "card.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, integers too long
        raise ModelFileError(f"Cannot read '{d / 'card.json'}': {exc}.") from None
    if not isinstance(card, dict):
        raise ModelFileError(f"'{d / 'card.json'}' is not a JSON object.")
    return arrays, card


def _plain_name(name: str) -> bool:
    """A file name of the folder itself: no directory part, not hidden, not absolute."""
    return (
        bool(name)
        and name.isprintable()  # no NUL or other control character (found by fuzzing)
        and "/" not in name
        and "\\" not in name
        and name not in (".", "..")
        and not name.startswith(".")
        and Path(name).name == name
    )


def _check_headers(fh, path: Path, expected: Mapping[str, tuple[int, ...]] | None) -> None:
    """Every array's header read and checked before any array is loaded."""
    total = 0
    shapes: dict[str, tuple[int, ...]] = {}
    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.endswith(".npy") or not _plain_name(name):
                raise ModelFileError(f"'{path}': unexpected member '{name}' (arrays only).")
            with zf.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ModelFileError(f"'{path}': array '{name}' has format {version}.")
                header = member.tell()
            # A model's draws are float64 probabilities; other folders hold plain numbers.
            if (expected is not None and dtype != _FLOAT64) or dtype.kind not in "biuf":
                raise ModelFileError(
                    f"'{path}': array '{name[:-4]}' holds {dtype}, not float64 probabilities."
                )
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if info.file_size != header + size:
                raise ModelFileError(
                    f"'{path}': array '{name[:-4]}' claims shape {shape} but stores "
                    f"{info.file_size - header} bytes of data."
                )
            total += size
            if total > MAX_ARRAY_BYTES:
                raise ModelFileError(
                    f"'{path}': more than {MAX_ARRAY_BYTES >> 20} MiB of draws; not read."
                )
            shapes[name[:-4]] = tuple(shape)
    if expected is None:
        return
    unknown = sorted(set(shapes) - set(expected))
    missing = sorted(set(expected) - set(shapes))
    if unknown or missing:
        raise ModelFileError(
            f"'{path}': "
            + "; ".join(
                part
                for part in (
                    f"arrays for no variable of the network: {unknown}" if unknown else "",
                    f"no draws for {', '.join(map(repr, missing))}" if missing else "",
                )
                if part
            )
            + "."
        )
    counts = set()
    for name, shape in shapes.items():
        if len(shape) != len(expected[name]) + 1 or shape[1:] != tuple(expected[name]):
            raise ModelFileError(f"'{path}': draws of '{name}' have shape {shape}.")
        counts.add(shape[0])
    if len(counts) != 1 or not 1 <= next(iter(counts)) <= MAX_DRAWS:
        raise ModelFileError(
            f"'{path}': the variables must share one number of draws from 1 to {MAX_DRAWS}; "
            f"found {sorted(counts)}."
        )


#: Names no trained model may take (``prior`` is the specification's own prior).
RESERVED_NAMES = frozenset({"prior", ".", ".."})

#: Model folders shipped with the package (in its models folder); the first is the default.
SHIPPED_MODELS = ("default", "latent_class_synthetic")


class ModelFolder:
    """A trained model's folder: ``draws.npz``, ``card.json``, extra files, ``SHA256SUMS``.

    Parameters
    ----------
    path : path
        The folder (it need not exist yet).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> folder = ModelFolder(tempfile.mkdtemp() + "/m")
    >>> _ = folder.save({"a": np.full((2, 2), 0.5)}, {"name": "m"})
    >>> arrays, card = folder.read()
    >>> arrays["a"].shape, card["name"], folder.is_model()
    ((2, 2), 'm', True)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        """The folder's name."""
        return self.path.name

    def is_model(self) -> bool:
        """Whether the folder holds a model (it lists its checksums)."""
        return (self.path / CHECKSUMS).is_file()

    @staticmethod
    def check_name(name: str) -> str:
        """``name`` if a model may be called so (a plain folder name, not ``prior``)."""
        if (
            not isinstance(name, str)
            or not name
            or "/" in name
            or "\\" in name
            or (name in RESERVED_NAMES)
        ):
            raise ParameterError(
                parameter="name", requirement="must be a plain folder name other than 'prior' "
                "(a valid model name)", value=name,
            )  # fmt: skip
        return name

    @classmethod
    def find(cls, name: str) -> ModelFolder:
        """The model called ``name``: a folder path, ``./models/NAME``, or a shipped model.

        Raises
        ------
        ModelFileError
            When no such model exists; the message lists the available ones.
        """
        candidates = [Path(name)] if ("/" in name or Path(name).is_dir()) else [
            Path.cwd() / "models" / name, models_dir() / name,
        ]  # fmt: skip
        for path in candidates:
            if path.is_dir():
                return cls(path)
        available = sorted(
            {p.name for root in (Path.cwd() / "models", models_dir()) if root.is_dir()
             for p in root.iterdir() if (p / CHECKSUMS).is_file()}
        )  # fmt: skip
        raise ModelFileError(
            f"Unknown model '{name}'; available: {', '.join(['prior', *available])}."
        )

    def is_shipped(self) -> bool:
        """Whether the folder is a model shipped with the package (:data:`SHIPPED_MODELS`).

        In a source checkout the package's models folder is the repository's
        ``models/``, so ``./models/default`` there is the shipped model.
        """
        shipped = {(models_dir() / name).resolve() for name in SHIPPED_MODELS}
        return self.is_model() and self.path.resolve() in shipped

    def check_replaceable(self, *, replace_shipped: bool = False) -> None:
        """Raise unless the folder is free or holds a model that :meth:`save` may replace.

        Raises
        ------
        ModelFileError
            When the path exists and is not a model folder, or is a shipped model
            and ``replace_shipped`` is False.
        """
        if self.path.exists() and not self.is_model():
            raise ModelFileError(
                f"'{self.path}' exists and is not a model folder; choose another name."
            )
        if self.is_shipped() and not replace_shipped:
            raise ModelFileError(
                f"'{self.path}' is a model shipped with npprob; choose another --out (or pass "
                "--replace-shipped to retrain it on purpose)."
            )

    def read(
        self, expected: Mapping[str, tuple[int, ...]] | None = None
    ) -> tuple[dict[str, np.ndarray], dict]:
        """Every checksum verified, then the arrays and the card (see :func:`read_model_dir`)."""
        return read_model_dir(self.path, expected=expected)

    def load(self, spec: ClinicalSpec) -> tuple[dict[str, np.ndarray], dict]:
        """The CPT draws, checked against ``spec``, and the card.

        A folder fits ``spec`` when its card's ``spec_content_sha256`` equals
        the specification's content digest (the same variables, states,
        parents, prior, target and context), or, for cards written before that
        key, when its ``spec_sha256`` is the specification's text digest or one
        of its :attr:`~npprob.network.spec.ClinicalSpec.earlier_digests`.

        Returns
        -------
        draws : dict of str to ndarray of shape (n_draws, *cpt_shape)
        card : dict

        Raises
        ------
        ModelFileError
            On any checksum or format problem, a different specification, or
            draws missing or misshapen for a variable.
        """
        net = spec.network
        arrays, card = self.read({name: tuple(net.cpt_shape(name)) for name in net.names})
        problem = card_problem(card, MODEL_CARD_FIELDS)
        if problem:
            raise ModelFileError(f"Model '{self.path}': card.json cannot be used: {problem}.")
        content = card.get("spec_content_sha256")
        if content:
            fits, kind, recorded, current = (
                content == spec.content_digest,
                "content",
                content,
                spec.content_digest,
            )
        else:
            recorded = str(card.get("spec_sha256"))
            fits, kind, current = (
                recorded in (spec.digest, *spec.earlier_digests),
                "text",
                spec.digest,
            )
        if not fits:
            raise ModelFileError(
                f"Model '{self.path}' was trained on a different network specification "
                f"({kind} SHA-256 {recorded[:12]}..., current {current[:12]}...); "
                "retrain it with npprob train."
            )
        draws = {}
        for var in net.names:
            if var not in arrays:
                raise ModelFileError(f"Model '{self.path}' has no draws for '{var}'.")
            arr = arrays[var]
            if arr.ndim != len(net.cpt_shape(var)) + 1 or arr.shape[1:] != net.cpt_shape(var):
                raise ModelFileError(
                    f"Model '{self.path}': draws of '{var}' have shape {arr.shape}."
                )
            draws[var] = arr
        return draws, card

    def save(
        self,
        arrays: Mapping[str, np.ndarray],
        card: Mapping[str, object],
        *,
        extra: Mapping[str, Callable[[Path], None]] | None = None,
        replace_shipped: bool = False,
    ) -> Path:
        """Write the folder atomically: built under a temporary name beside it, then swapped in.

        Parameters
        ----------
        arrays : mapping of str to ndarray
            Saved as ``draws.npz``.
        card : mapping
            Saved as ``card.json``.
        extra : mapping of str to callable, optional
            Further files: name to a function writing that file at the path it
            is given (covered by the checksums).

        replace_shipped : bool, default=False
            Allow replacing a model shipped with the package.

        Raises
        ------
        ModelFileError
            When the path exists and is not a model folder, or is a shipped model
            and ``replace_shipped`` is False (it is never replaced then).
        """
        out = self.path
        self.check_replaceable(replace_shipped=replace_shipped)
        out.parent.mkdir(parents=True, exist_ok=True)
        # A failure leaves nothing half-written: the old folder stays until the new one is whole.
        # The staging name carries this process's id, so that the staging folder of a
        # process killed outright (SIGKILL leaves no chance to clean up) is removed here.
        _remove_orphaned_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", dir=out.parent))
        staging.chmod(0o755)
        try:
            for file_name, write in (extra or {}).items():
                write(staging / file_name)
            write_model_dir(staging, {k: np.asarray(v) for k, v in arrays.items()}, card,
                            list(extra or ()))  # fmt: skip
            if out.exists():
                shutil.rmtree(out)
            staging.rename(out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return out


def _remove_orphaned_staging(out: Path) -> None:
    """Remove ``.NAME.PID.*`` staging folders beside ``out`` whose process is gone."""
    for candidate in out.parent.glob(f".{out.name}.*.*"):
        parts = candidate.name[len(out.name) + 2 :].split(".", 1)
        if not candidate.is_dir() or not parts[0].isdigit():
            continue
        if not process_alive(int(parts[0])):
            shutil.rmtree(candidate, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
