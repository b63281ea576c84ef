"""Patient evidence tables (CSV) to and from :class:`~npprob.network.EvidenceBatch`."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from npprob._checks import unknown_name_hint
from npprob.errors import EvidenceError
from npprob.io.findings import encode_table
from npprob.io.outputs import atomic_text_writer
from npprob.network.evidence import EvidenceBatch
from npprob.network.network import Network

__all__ = [
    "EvidenceBlock",
    "iter_evidence_blocks",
    "open_evidence_csv",
    "parse_evidence_csv",
    "read_evidence_csv",
    "write_probabilities_csv",
    "write_probability_rows",
]


def read_evidence_csv(
    source: str | os.PathLike[str],
    network: Network,
    *,
    id_column: str | None = None,
) -> tuple[EvidenceBatch, list[str] | None]:
    """Read one patient per row, one column per observed variable.

    Parameters
    ----------
    source : path
        A UTF-8 CSV file with a header row. Cells hold state names (two-state
        variables also ``true``/``false`` in any case); an empty cell means the
        variable is unobserved. Surrounding spaces are ignored.
    network : Network
        The network the column names and states refer to.
    id_column : str, optional
        A column that is not a variable but a patient identifier, returned
        as-is.

    Returns
    -------
    batch : EvidenceBatch
        Rows in file order.
    ids : list of str or None
        The identifier column, when ``id_column`` is given.

    Raises
    ------
    EvidenceError
        On an unreadable or malformed file (no header, duplicate or empty
        column names, a row with the wrong number of cells), an unknown
        column (with close names suggested) or an unknown state. Messages
        give the file line number and the 1-based data row.

    See Also
    --------
    open_evidence_csv : the same rows a block at a time, for files of any size.
    """
    with open_evidence_csv(source, network, id_column=id_column) as blocks:
        return _joined(network, list(blocks), id_column)


def parse_evidence_csv(
    text: str, network: Network, *, id_column: str | None = None, name: str = "<csv>"
) -> tuple[EvidenceBatch, list[str] | None]:
    """Parse CSV text; see :func:`read_evidence_csv`."""
    blocks = list(iter_evidence_blocks(text, network, id_column=id_column, name=name))
    return _joined(network, blocks, id_column)


def _joined(network: Network, blocks: list, id_column: str | None):
    """The blocks of :func:`iter_evidence_blocks` as one batch and one identifier list."""
    if not blocks:
        return EvidenceBatch(network, np.zeros((0, len(network)), dtype=np.int16)), (
            [] if id_column is not None else None
        )
    codes = np.concatenate([block.batch.codes for block in blocks])
    ids = None if id_column is None else [i for block in blocks for i in block.ids]
    return EvidenceBatch(network, codes), ids


class EvidenceBlock(NamedTuple):
    """Consecutive data rows of an evidence CSV.

    Attributes
    ----------
    batch : EvidenceBatch
        The rows' evidence.
    ids : list of str or None
        Their identifiers, when an identifier column is named.
    first_row : int
        0-based data row of the first row in the file.
    """

    batch: EvidenceBatch
    ids: list[str] | None
    first_row: int


#: Data rows per block when an evidence CSV is read as it goes.
EVIDENCE_BLOCK_SIZE = 4096


def iter_evidence_blocks(
    source,
    network: Network,
    *,
    id_column: str | None = None,
    name: str = "<csv>",
    block_size: int | None = None,
):
    """The rows of an evidence CSV, ``block_size`` at a time, as :class:`EvidenceBlock`.

    ``source`` is the CSV text or an open text file, read as the blocks are taken,
    so memory is that of one block whatever the file's size. Header problems raise
    before the first block; a bad row raises when its block is read, with its file
    line and 1-based data row counted from the start of the file.
    """
    block_size = EVIDENCE_BLOCK_SIZE if block_size is None else block_size
    records = _iter_csv_records(source, name)
    # The header is read and checked now, not when the first block is asked for: a
    # caller writes nothing before the file has proved to be an evidence table.
    checked = _evidence_header(records, network, id_column, name)
    return _evidence_blocks(records, network, checked, name, block_size)


def _evidence_header(records, network: Network, id_column: str | None, name: str):
    """The header of an evidence CSV, checked: (header, names, positions, id position)."""
    first = next(records, None)
    if first is None:
        raise EvidenceError(f"{name}: the file is empty; expected a header row of variable names.")
    header_line, header = first
    header = _checked_header(header, name, header_line)
    if id_column is not None and id_column not in header:
        raise EvidenceError(f"{name}: no identifier column '{id_column}' in the header.")
    for h in header:
        if h != id_column and h not in network:
            raise EvidenceError(
                f"{name}:{header_line}: unknown variable '{h}' in the header."
                f"{unknown_name_hint(h, network.names)}",
                variable=h,
            )
    names = [h for h in header if h != id_column]
    positions = [header.index(h) for h in names]
    id_pos = header.index(id_column) if id_column is not None else None
    return header, names, positions, id_pos


def _evidence_blocks(records, network: Network, checked, name: str, block_size: int):
    """The data rows after :func:`_evidence_header`, a block at a time."""
    header, names, positions, id_pos = checked
    offset = 0
    while True:
        data = list(itertools.islice(records, block_size))
        if not data:
            return
        for row, (line, cells) in enumerate(data):
            if len(cells) != len(header):
                raise EvidenceError(
                    f"{name}:{line}: data row {offset + row + 1} has {len(cells)} cells; "
                    f"the header has {len(header)}.",
                    row=offset + row,
                )
        codes, problems = encode_table(network, names, [[c[k] for k in positions] for _, c in data])
        if problems:
            p = problems[0]
            raise EvidenceError(
                f"{name}:{data[p.row][0]}: unknown state {p.value!r} for '{p.variable}' "
                f"(data row {offset + p.row + 1}); expected one of: {p.expected}.",
                variable=p.variable,
                row=offset + p.row,
            )
        ids = None if id_pos is None else [cells[id_pos].strip() for _, cells in data]
        yield EvidenceBlock(EvidenceBatch(network, codes), ids, offset)
        offset += len(data)


@contextlib.contextmanager
def open_evidence_csv(
    source: str | os.PathLike[str],
    network: Network,
    *,
    id_column: str | None = None,
    block_size: int | None = None,
):
    """An evidence CSV file as an iterator of :class:`EvidenceBlock`, read as it goes.

    The streaming form of :func:`read_evidence_csv` (the same rows, rules and
    errors; see :func:`iter_evidence_blocks`). ``"-"`` reads standard input.
    """
    with _open_csv_source(source, "evidence") as (fh, name):
        yield iter_evidence_blocks(fh, network, id_column=id_column, name=name,
                                   block_size=block_size)  # fmt: skip


@contextlib.contextmanager
def _open_csv_source(source: str | os.PathLike[str], kind: str):
    """``(text file, name for messages)`` of a CSV path, or of standard input for ``"-"``.

    A file is opened as UTF-8 with its BOM dropped and newlines kept for the csv
    module; ``kind`` names it in the one-line error when it cannot be opened.
    """
    if str(source) == "-":
        yield sys.stdin, "<stdin>"
        return
    path = Path(source)
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise EvidenceError(f"Cannot read {kind} file '{path}': {exc.strerror or exc}.") from None
    with fh:
        yield fh, str(path)


def write_probabilities_csv(
    destination: str | os.PathLike[str],
    columns: Sequence[str],
    probabilities: np.ndarray,
    *,
    ids: tuple[str, Sequence[str]] | None = None,
) -> None:
    """Write one row per patient, one column per ``VAR=state``.

    The file is written to a temporary name and renamed, so an existing file
    is replaced only by a complete one. Values use 17 significant digits
    (exact round trip); NaN is written as ``nan``.

    Parameters
    ----------
    destination : path
        Output CSV path.
    columns : sequence of str
        Column labels.
    probabilities : ndarray of shape (n_patients, n_columns)
    ids : (str, sequence of str), optional
        Name and values of a leading identifier column.
    """
    path = Path(destination)
    probabilities = np.asarray(probabilities)
    header = list(columns)
    if ids is not None:
        header = [ids[0], *header]
    if str(destination) == "-":
        _write_probability_rows(sys.stdout, header, probabilities, ids)
        return
    with atomic_text_writer(path) as fh:
        _write_probability_rows(fh, header, probabilities, ids)


def _write_probability_rows(fh, header, probabilities, ids) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    write_probability_rows(fh, probabilities, ids[1] if ids is not None else None)


def write_probability_rows(fh, probabilities: np.ndarray, ids: Sequence[str] | None = None) -> None:
    """Append data rows (no header) as :func:`write_probabilities_csv` writes them."""
    writer = csv.writer(fh, lineterminator="\n")
    for i, row in enumerate(probabilities):
        cells = [format(float(p), ".17g") for p in row]
        if ids is not None:
            cells = [ids[i], *cells]
        writer.writerow(cells)


# -- helpers shared with :mod:`npprob.io.patients` -------------------------------------


def _read_text(path: Path, kind: str) -> str:
    """UTF-8 text of ``path`` (a BOM is dropped); ``kind`` names the file in messages."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise EvidenceError(f"Cannot read {kind} file '{path}': {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise EvidenceError(
            f"{kind.capitalize()} file '{path}' is not UTF-8 text ({exc.reason})."
        ) from None


def _csv_records(
    text: str, name: str, *, physical_lines: bool = False
) -> list[tuple[int, list[str]]]:
    """Non-empty CSV records of ``text`` as ``(line, cells)``, header first.

    ``line`` is the record's 1-based position in the file, which is its line
    unless a quoted cell spans lines; with ``physical_lines=True`` it is the
    physical line the record starts on. Only empty lines are skipped: a row of
    empty cells is a patient with nothing observed. Raises
    :class:`EvidenceError` on NUL bytes, malformed quoting or an empty file.
    """
    records = list(_iter_csv_records(text, name, physical_lines=physical_lines))
    if not records:
        raise EvidenceError(f"{name}: the file is empty; expected a header row of variable names.")
    return records


def _iter_csv_records(source, name: str, *, physical_lines: bool = False):
    """:func:`_csv_records` one record at a time (an empty file yields nothing).

    ``source`` is the text, or an open text file read as the records are taken.
    """
    if isinstance(source, str):
        if "\x00" in source:
            raise EvidenceError(f"{name}: contains NUL bytes; not a CSV text file.")
        source = io.StringIO(source, newline="")
    reader = csv.reader(source, strict=True)
    position = 0
    try:
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            position += 1
            if any("\x00" in c for c in cells):
                raise EvidenceError(f"{name}: contains NUL bytes; not a CSV text file.")
            if cells:
                yield (start if physical_lines else position, cells)
    except csv.Error as exc:
        raise EvidenceError(f"{name}:{reader.line_num}: malformed CSV ({exc}).") from None
    except UnicodeDecodeError as exc:
        raise EvidenceError(f"{name}: not UTF-8 text ({exc.reason}).") from None


def _whole_rows(
    data: list[tuple[int, list[str]]], header: Sequence[str], name: str
) -> list[tuple[int, list[str]]]:
    """The data records, each checked to have one cell per header column."""
    for row, (line, cells) in enumerate(data):
        if len(cells) != len(header):
            raise EvidenceError(
                f"{name}:{line}: data row {row + 1} has {len(cells)} cells; "
                f"the header has {len(header)}.",
                row=row,
            )
    return data


def _checked_header(header: Sequence[str], name: str, line: int) -> list[str]:
    """Header cells stripped; raises on an empty or duplicate column name.

    A byte-order mark before the first name (a UTF-8 file read from standard input,
    which is not opened as ``utf-8-sig``) is dropped.
    """
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:].strip()
    if any(not h for h in header):
        raise EvidenceError(f"{name}:{line}: the header has an empty column name.")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise EvidenceError(f"{name}:{line}: duplicate column(s): {', '.join(dupes)}.")
    return header
