"""Patient records for clinicians: one patient as JSON, many as CSV.

A *patient record* maps the names of a network's observable variables (see
:attr:`~npprob.network.Variable.observable`) to a state name, or to nothing
when the variable was not observed. Two-state variables also accept booleans
(see :attr:`~npprob.network.Variable.boolean_states`).

* One patient: a JSON object, read by :func:`read_patient_record` into a
  :class:`~npprob.io.patient_record.PatientRecord` (or, as codes and metadata,
  by :func:`read_patient_json` / :func:`parse_patient_json`). Besides findings it may carry ``"id"``,
  ``"comment"`` and ``"notes"`` (strings, returned as metadata and ignored by
  inference) and ``"$schema"`` (so editors can validate it against
  :func:`npprob.io.schema.patient_schema`).
* Many patients: a CSV file, read by :func:`read_patients_csv` /
  :func:`parse_patients_csv`. A bad row does not abort the batch; it is
  reported in :attr:`PatientTable.errors` and left unobserved.

Every problem is an :class:`~npprob.errors.EvidenceError` with a one-line
message naming the file, the key or row, and what was expected.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from npprob._checks import unknown_name_hint
from npprob.errors import EvidenceError
from npprob.io.findings import encode_table, json_type, short, unobservable_problem
from npprob.io.patient_record import (
    METADATA_KEYS,
    OVERRIDES_KEY,
    PATIENT_FACTORS_KEY,
    RECORD_EXTRA_KEYS,
    SETTING_KEY,
    PatientRecord,
    join_problems,
    observable_by_name,
    record_codes,
)
from npprob.io.records import _checked_header, _iter_csv_records, _open_csv_source, _read_text
from npprob.network.evidence import UNOBSERVED, EvidenceBatch
from npprob.network.network import Network
from npprob.network.variable import HIDDEN_ROLES, Variable

__all__ = [
    "METADATA_KEYS",
    "PATIENT_FACTORS_KEY",
    "UNOBSERVABLE_ROLES",
    "PatientTable",
    "RowError",
    "boolean_states",
    "observable_variables",
    "parse_patient_json",
    "parse_patient_record",
    "parse_patients_csv",
    "read_patient_json",
    "read_patient_record",
    "read_patients_csv",
]

#: Roles of variables that cannot be given as findings.
UNOBSERVABLE_ROLES = HIDDEN_ROLES

#: Column names of a patients CSV that are free text and ignored.
_COMMENT_COLUMNS = ("comment", "notes")


# -- what can be observed -----------------------------------------------------------


def observable_variables(network: Network) -> tuple[Variable, ...]:
    """Variables a patient record may give, in network order (:attr:`Network.observable`)."""
    return network.observable


def boolean_states(variable: Variable) -> tuple[str, str] | None:
    """The states ``false`` and ``true`` stand for (:attr:`Variable.boolean_states`).

    Examples
    --------
    >>> from npprob.network import Variable
    >>> boolean_states(Variable("pain", ("absent", "present")))
    ('absent', 'present')
    >>> boolean_states(Variable("xray", ("yes", "no")))
    ('no', 'yes')
    >>> boolean_states(Variable("side", ("left", "right")))
    ('left', 'right')
    >>> boolean_states(Variable("grade", ("low", "mid", "high"))) is None
    True
    """
    return variable.boolean_states


# -- one patient as JSON ------------------------------------------------------------


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _ConstantError(Exception):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _reject_constant(literal: str) -> float:
    raise _ConstantError(literal)


def _locate(text: str, token: str) -> tuple[int, int] | None:
    """1-based (line, column) of the first ``token`` outside JSON strings."""
    in_string = False
    escaped = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif text.startswith(token, i):
            line = text.count("\n", 0, i) + 1
            return line, i - (text.rfind("\n", 0, i) + 1) + 1
        i += 1
    return None


def _lone_surrogate(value: object) -> str | None:
    """The first string (key or value) holding a lone surrogate, or None.

    JSON's ``\\ud800`` escapes decode to such strings, which are not Unicode text:
    they cannot be printed, written as UTF-8 or shown on a page.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _decode_json(text: str, name: str) -> object:
    """``json.loads`` that rejects duplicate keys, NaN/Infinity and lone surrogates."""
    try:
        data = json.loads(
            text,
            object_pairs_hook=_pairs_without_duplicates,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise EvidenceError(
            f"{name}:{exc.lineno}:{exc.colno}: malformed JSON ({exc.msg})."
        ) from None
    except _DuplicateKeyError as exc:
        raise EvidenceError(
            f"{name}: duplicate key {short(exc.key)} in the JSON object; "
            f"each key may appear only once.",
            variable=exc.key,
        ) from None
    except ValueError as exc:
        # Not a syntax error json names a position for: an integer too long to convert.
        raise EvidenceError(f"{name}: malformed JSON ({short(str(exc))}).") from None
    except _ConstantError as exc:
        where = _locate(text, exc.literal)
        at = f"{where[0]}:{where[1]}:" if where else ""
        raise EvidenceError(
            f"{name}:{at} '{exc.literal}' is not allowed; patient records take state names, "
            f"booleans or null."
        ) from None
    except RecursionError:
        raise EvidenceError(f"{name}: the JSON is nested too deeply.") from None
    bad = _lone_surrogate(data)
    if bad is not None:
        shown = bad.encode("utf-8", "backslashreplace").decode("ascii", "replace")
        raise EvidenceError(
            f"{name}: the text {short(shown)} holds a lone surrogate (a \\uD800-\\uDFFF "
            "escape without its pair): not valid Unicode text."
        )
    return data


def parse_patient_json(
    text: str,
    network: Network,
    *,
    name: str = "<stdin>",
    extra_keys: Collection[str] = (),
) -> tuple[EvidenceBatch, dict[str, Any]]:
    """Parse one patient record from JSON text.

    Parameters
    ----------
    text : str
        A JSON object ``{variable: state name, true/false, or null}``; see the
        module docstring. Keys ``"id"``, ``"comment"`` and ``"notes"`` (strings)
        are metadata; ``"$schema"`` (string) is accepted and ignored.
    network : Network
        The network the keys and states refer to.
    name : str, default="<stdin>"
        What to call the source in messages.
    extra_keys : collection of str, optional
        Further keys accepted as metadata and returned as-is, unvalidated (for
        keys declared with ``extra_properties`` in
        :func:`~npprob.io.schema.patient_schema`).

    Returns
    -------
    batch : EvidenceBatch
        One row; unobserved variables are :data:`~npprob.network.UNOBSERVED`.
    metadata : dict
        ``"id"``, ``"comment"`` and ``"notes"`` (str, or None when absent), and
        any ``extra_keys`` present in the record.

    Raises
    ------
    EvidenceError
        With a one-line message on malformed JSON (line and column), a
        duplicate key, NaN or Infinity, a top level that is not an object, an
        unknown key (close names suggested), a latent or derived variable, an
        invalid state or a value of the wrong type. All problems of the record
        are listed (the first five).
    NetworkError
        When an observable variable is named like a metadata key.

    Examples
    --------
    >>> from npprob.network import Network, Variable
    >>> net = Network(
    ...     [Variable("nerve_damage", ("no", "yes"), role="latent"),
    ...      Variable("numbness", ("absent", "present"), role="finding")],
    ...     {"numbness": ["nerve_damage"]},
    ...     {"nerve_damage": [0.7, 0.3], "numbness": [[0.9, 0.1], [0.2, 0.8]]},
    ... )
    >>> batch, meta = parse_patient_json('{"id": "P-17", "numbness": true}', net)
    >>> batch.codes.tolist(), meta["id"]
    ([[-1, 1]], 'P-17')
    """
    record = _decode_json(text, name)
    if not isinstance(record, dict):
        raise EvidenceError(
            f"{name}: the top level is a JSON {json_type(record)}; a patient record is a JSON "
            f"object mapping finding names to states."
        )
    codes, metadata = record_codes(record, network, name=name, extra_keys=extra_keys)
    return EvidenceBatch(network, codes[None, :]), metadata


def read_patient_json(
    source: str | os.PathLike[str],
    network: Network,
    *,
    extra_keys: Collection[str] = (),
) -> tuple[EvidenceBatch, dict[str, Any]]:
    """Read one patient record from a JSON file, or standard input for ``"-"``.

    Parameters
    ----------
    source : path or "-"
        A UTF-8 JSON file; ``"-"`` reads standard input.
    network : Network
    extra_keys : collection of str, optional
        See :func:`parse_patient_json`.

    Returns
    -------
    batch : EvidenceBatch
        One row.
    metadata : dict
        See :func:`parse_patient_json`.

    Raises
    ------
    EvidenceError
        On an unreadable file or any problem :func:`parse_patient_json` reports.
    """
    if str(source) == "-":
        return parse_patient_json(sys.stdin.read(), network, extra_keys=extra_keys)
    path = Path(source)
    text = _read_text(path, "patient")
    return parse_patient_json(text, network, name=str(path), extra_keys=extra_keys)


def parse_patient_record(text: str, network: Network, *, name: str = "<stdin>") -> PatientRecord:
    """One patient record from JSON text, patient factors included.

    The same rules as :func:`parse_patient_json`; ``"patient_factors"`` and
    ``"treatment_overrides"`` are kept as given for the decision layer to check.
    """
    batch, metadata = parse_patient_json(text, network, name=name, extra_keys=RECORD_EXTRA_KEYS)
    factors = metadata.pop(PATIENT_FACTORS_KEY, None)
    overrides = metadata.pop(OVERRIDES_KEY, None)
    setting = metadata.pop(SETTING_KEY, None)
    return PatientRecord(network, batch.codes[0], factors, metadata, overrides, setting)


def read_patient_record(source: str | os.PathLike[str], network: Network) -> PatientRecord:
    """One patient record from a JSON file, or standard input for ``"-"``.

    Raises
    ------
    EvidenceError
        On an unreadable file or any problem :func:`parse_patient_json` reports.
    """
    if str(source) == "-":
        return parse_patient_record(sys.stdin.read(), network)
    path = Path(source)
    return parse_patient_record(_read_text(path, "patient"), network, name=str(path))


# -- many patients as CSV -----------------------------------------------------------


class RowError(NamedTuple):
    """A data row of a patients CSV that could not be used.

    Attributes
    ----------
    row : int
        1-based data row (the header is not counted, nor are empty lines).
    line : int
        1-based line of the file where the row starts.
    message : str
        What is wrong, on one line.
    """

    row: int
    line: int
    message: str


@dataclass(frozen=True, eq=False)
class PatientTable:
    """Patients read from a CSV file, bad rows included but flagged.

    Parameters
    ----------
    batch : EvidenceBatch
        One row per data row, in file order; rows that failed are all
        unobserved.
    ids : list of str
        The identifier column, or the 1-based data row numbers as strings when
        the file has none.
    valid : ndarray of bool, shape (n_patients,)
        False for rows listed in ``errors``.
    errors : list of RowError
        One entry per bad row, in file order.
    first_row : int, default=1
        Data row number of the first patient: 1 for a whole file, more for a
        block read from further in (:func:`iter_patient_blocks`).
    """

    batch: EvidenceBatch
    ids: list[str]
    valid: np.ndarray
    errors: list[RowError]
    first_row: int = 1

    def __post_init__(self) -> None:
        valid = np.array(self.valid, dtype=bool)
        if valid.shape != (self.batch.n_patients,) or len(self.ids) != self.batch.n_patients:
            raise EvidenceError(
                f"PatientTable: {self.batch.n_patients} patients but {len(self.ids)} ids and "
                f"valid of shape {valid.shape}."
            )
        valid.setflags(write=False)
        object.__setattr__(self, "valid", valid)

    def __len__(self) -> int:
        return self.batch.n_patients

    def valid_rows(self) -> tuple[EvidenceBatch, list[str]]:
        """The batch and ids of the valid rows only, in file order."""
        keep = np.flatnonzero(self.valid)
        return self.batch.take(keep), [self.ids[i] for i in keep]


#: Data rows read, checked and diagnosed at a time from a patients CSV.
BLOCK_SIZE = 4096


def parse_patients_csv(
    text: str,
    network: Network,
    *,
    strict: bool = False,
    id_column: str | None = "id",
    name: str = "<csv>",
) -> PatientTable:
    """Parse a patients CSV text; see :func:`read_patients_csv`."""
    return _joined(iter_patient_blocks(text, network, strict=strict, id_column=id_column,
                                       name=name), network)  # fmt: skip


def iter_patient_blocks(
    source,
    network: Network,
    *,
    strict: bool = False,
    id_column: str | None = "id",
    name: str = "<csv>",
    block_size: int | None = None,
):
    """The patients of a CSV, ``block_size`` data rows at a time, as :class:`PatientTable` blocks.

    ``source`` is the CSV text or an open text file (read as it goes, so a large
    file is never held whole). Row numbers, lines and default identifiers count from
    the start of the file in every block. Header problems raise before the first
    block; with ``strict`` the first bad row raises when its block is read.
    """
    block_size = BLOCK_SIZE if block_size is None else block_size
    stream = _iter_csv_records(source, name, physical_lines=True)
    first = next(stream, None)
    if first is None:
        raise EvidenceError(f"{name}: the file is empty; expected a header row of variable names.")
    header_line, header = first
    header = _checked_header(header, name, header_line)
    names, positions, id_pos = _resolve_header(header, network, id_column, name, header_line)
    offset = 0
    while True:
        data = list(itertools.islice(stream, block_size))
        if not data:
            return
        yield _table_block(network, names, positions, header, id_pos, data, offset, strict, name)
        offset += len(data)


def _resolve_header(
    header: list[str], network: Network, id_column: str | None, name: str, header_line: int
) -> tuple[list[str], list[int], int | None]:
    """The finding columns of a header (names, positions) and the identifier's position.

    A cohort written by ``npprob simulate`` is read as it is: with the default
    identifier column ``id`` absent and ``patient_id`` present, ``patient_id`` names the
    rows and the columns that are not findings (``group``, the recorded label
    ``label_*``, the truth ``true_*`` and ``p_true_*``) are left out.
    """
    from npprob.io.cohort import GROUP_COLUMN, ID_COLUMN, TRUTH_PREFIX

    simulated = id_column == "id" and "id" not in header and ID_COLUMN in header
    if simulated:
        id_column = ID_COLUMN
    observable = observable_by_name(network)
    if id_column is not None and id_column in header and id_column in network:
        raise EvidenceError(
            f"{name}:{header_line}: column '{id_column}' is both the identifier column and a "
            f"variable of the network; choose another id_column.",
            variable=id_column,
        )

    def simulate_only(h: str) -> bool:
        return (
            simulated
            and h not in network
            and (h == GROUP_COLUMN or h.startswith((TRUTH_PREFIX, "p_" + TRUTH_PREFIX, "label_")))
        )

    positions, names = [], []
    for col, h in enumerate(header):
        if h == id_column or (h in _COMMENT_COLUMNS and h not in observable) or simulate_only(h):
            continue
        if h in network and h not in observable:
            raise EvidenceError(
                f"{name}:{header_line}: "
                + unobservable_problem(network.variable(h), "column")
                + " (drop the column).",
                variable=h,
            )
        if h not in observable:
            raise EvidenceError(
                f"{name}:{header_line}: unknown variable '{h}' in the header."
                f"{unknown_name_hint(h, [*observable, *([id_column] if id_column else [])])}",
                variable=h,
            )
        positions.append(col)
        names.append(h)
    id_pos = header.index(id_column) if id_column is not None and id_column in header else None
    return names, positions, id_pos


def _table_block(network, names, positions, header, id_pos, data, offset, strict, name):
    """One block of data rows (``offset`` rows before it) as a :class:`PatientTable`."""
    whole = [len(cells) == len(header) for _, cells in data]
    rows = [[cells[c] for c in positions] if ok else [""] * len(positions)
            for (_, cells), ok in zip(data, whole, strict=True)]  # fmt: skip
    codes, cell_problems = encode_table(network, names, rows)
    problems: dict[int, list[str]] = {}
    for index, ok in enumerate(whole):
        if not ok:
            problems[index] = [f"has {len(data[index][1])} cells; the header has {len(header)}"]
    for problem in cell_problems:
        problems.setdefault(problem.row, []).append(problem.message)
    ids: list[str] = []
    for index, (_, cells) in enumerate(data):
        if id_pos is None:
            ids.append(str(offset + index + 1))
        else:
            ids.append(cells[id_pos].strip() if id_pos < len(cells) else "")
    valid = np.ones(len(data), dtype=bool)
    errors: list[RowError] = []
    for index in sorted(problems):
        line = data[index][0]
        message = join_problems(problems[index])
        if strict:
            raise EvidenceError(
                f"{name}:{line}: data row {offset + index + 1}: {message}.", row=offset + index
            )
        codes[index] = UNOBSERVED
        valid[index] = False
        errors.append(RowError(offset + index + 1, line, message))
    return PatientTable(EvidenceBatch(network, codes), ids, valid, errors, offset + 1)


def _joined(blocks, network: Network) -> PatientTable:
    """Blocks of one file as one table."""
    blocks = list(blocks)
    if not blocks:
        empty = np.empty((0, len(network)), dtype=np.int16)
        return PatientTable(EvidenceBatch(network, empty), [], np.ones(0, dtype=bool), [])
    codes = np.concatenate([b.batch.codes for b in blocks])
    return PatientTable(
        EvidenceBatch(network, codes),
        [i for b in blocks for i in b.ids],
        np.concatenate([b.valid for b in blocks]),
        [e for b in blocks for e in b.errors],
    )


def read_patients_csv(
    source: str | os.PathLike[str],
    network: Network,
    *,
    strict: bool = False,
    id_column: str | None = "id",
) -> PatientTable:
    """Read many patients from a CSV file, keeping the good rows when some are bad.

    Parameters
    ----------
    source : path or "-"
        A UTF-8 CSV file with a header row; ``"-"`` reads standard input.
        Columns are observable variables, plus optionally the identifier
        column and free-text ``comment`` / ``notes`` columns (ignored). Cells
        hold state names; an empty cell means unobserved; two-state variables
        also take ``true`` / ``false`` in any case (see :func:`boolean_states`).
        Surrounding spaces are ignored; empty lines are skipped.
    network : Network
        The network the columns and states refer to.
    strict : bool, default=False
        Raise on the first bad row instead of recording it.
    id_column : str or None, default="id"
        Name of the optional identifier column; None for none.

    Returns
    -------
    PatientTable
        Every data row in file order; bad rows are all unobserved, flagged in
        ``valid`` and described in ``errors``.

    Raises
    ------
    EvidenceError
        With ``file:line`` on structural problems, whatever ``strict``: an
        unreadable or empty file, malformed CSV quoting, an empty or duplicate
        column name, an unknown column (close names suggested), a latent or
        derived variable as a column, an identifier column that is also a
        variable. With ``strict=True``, also on the first bad row (a wrong
        number of cells or an invalid state), naming its data row.
    NetworkError
        When an observable variable is named like a JSON metadata key.
    """
    with open_patients_csv(source, network, strict=strict, id_column=id_column) as blocks:
        return _joined(blocks, network)


@contextlib.contextmanager
def open_patients_csv(
    source: str | os.PathLike[str],
    network: Network,
    *,
    strict: bool = False,
    id_column: str | None = "id",
    block_size: int | None = None,
):
    """A patients CSV file as an iterator of :class:`PatientTable` blocks, read as it goes.

    The streaming form of :func:`read_patients_csv` (the same rows, errors and
    rules; see :func:`iter_patient_blocks`): memory stays that of one block
    whatever the file's size. ``"-"`` reads standard input.
    """
    with _open_csv_source(source, "patient") as (fh, name):
        yield iter_patient_blocks(fh, network, strict=strict, id_column=id_column,
                                  name=name, block_size=block_size)  # fmt: skip


@contextlib.contextmanager
def open_patients_parquet(
    source: str | os.PathLike[str],
    network: Network,
    *,
    strict: bool = False,
    id_column: str | None = "id",
    block_size: int | None = None,
):
    """A patients Parquet file as an iterator of :class:`PatientTable` blocks (pyarrow).

    The columns and cells follow the CSV's rules (:func:`read_patients_csv`): state
    names as strings (booleans read as ``true``/``false``), null for not recorded.
    Row groups are read ``block_size`` rows at a time. Messages name a row by its
    data row number, and give as its line the number it would have in a CSV with a
    header (the row number plus one).
    """
    import importlib.util

    name = str(source)
    if importlib.util.find_spec("pyarrow") is None:
        raise EvidenceError(
            f"{name}: reading Parquet needs pyarrow: pip install pyarrow (or 'npprob[parquet]')."
        )
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(name)
    except (OSError, pa.ArrowException) as exc:
        raise EvidenceError(f"Cannot read patient file '{name}': {exc}.") from None
    header = _checked_header([str(h) for h in parquet.schema_arrow.names], name, 1)
    names, positions, id_pos = _resolve_header(header, network, id_column, name, 1)
    block_size = BLOCK_SIZE if block_size is None else block_size

    def blocks():
        offset = 0
        try:
            batches = parquet.iter_batches(batch_size=block_size)
            for batch in batches:
                columns = [[_parquet_cell(v) for v in batch.column(j).to_pylist()]
                           for j in range(batch.num_columns)]  # fmt: skip
                data = [(offset + i + 2, [c[i] for c in columns]) for i in range(batch.num_rows)]
                yield _table_block(
                    network, names, positions, header, id_pos, data, offset, strict, name
                )
                offset += batch.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise EvidenceError(f"Cannot read patient file '{name}': {exc}.") from None

    with contextlib.closing(parquet):
        yield blocks()


def _parquet_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def open_patients(
    source: str | os.PathLike[str],
    network: Network,
    *,
    strict: bool = False,
    id_column: str | None = "id",
    block_size: int | None = None,
):
    """:func:`open_patients_parquet` for a ``.parquet`` file, :func:`open_patients_csv` otherwise."""
    opener = open_patients_parquet if is_parquet(source) else open_patients_csv
    return opener(source, network, strict=strict, id_column=id_column, block_size=block_size)


def is_parquet(source: str | os.PathLike[str]) -> bool:
    """Whether a source names a Parquet file (by its suffix)."""
    return str(source).lower().endswith(".parquet")
