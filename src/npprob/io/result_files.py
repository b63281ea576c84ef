"""Results tables of ``npprob diagnose COHORT``, written block by block as CSV, JSON Lines or Parquet.

The writers take one block of answers at a time as plain columns (identifiers, arrays of
probabilities, grades, explanations, errors), so memory holds one block whatever the
cohort's size. A file written to a path appears only when complete: a failed or
interrupted run leaves no partial results (:func:`~npprob.io.outputs.atomic_text_writer`
and the same staging for Parquet).

Formats (``--out`` suffix; standard output takes CSV or, with ``--jsonl``, JSON Lines):

* CSV: the header :data:`RESULT_COLUMNS`, probabilities with 6 decimals, empty cells for
  a row not answered, ``top_findings`` as ``finding=state:+0.123`` joined by ``;``.
* JSON Lines: one object per row with the same keys; probabilities as numbers rounded to
  6 decimals or null, ``top_findings`` a list of ``{"finding", "state", "change"}``,
  ``error`` null for an answered row.
* Parquet (pyarrow): the same columns, probabilities as float64 (null when not
  answered), ``top_findings`` as the CSV text; one row group per block.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from npprob.errors import ParameterError
from npprob.io.outputs import _umask, atomic_text_writer

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_FORMATS",
    "ResultBlock",
    "open_result_writer",
    "result_format",
]

#: Columns of a results table: a contract for scripts reading the results.
RESULT_COLUMNS = (
    "id", "p_neuropathic", "ci_low", "ci_high", "pi_low", "pi_high", "p_mixed", "p_nociplastic",
    "p_nociceptive", "p_peripheral_sensitisation", "p_ectopic_activity",
    "p_central_sensitisation", "neupsig_grade", "top_findings", "error",
)  # fmt: skip
#: The probability columns among them (``pi_low``/``pi_high``: the prediction interval,
#: empty for a model without a between-population spread).
_PROBABILITIES = RESULT_COLUMNS[1:12]
#: Formats by name, and the file suffixes that choose them.
RESULT_FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


class ResultBlock(Protocol):
    """What a writer needs of one block of answers (see ``diagnosis.columns.ResultColumns``)."""

    ids: list[str]
    probabilities: Mapping[str, np.ndarray]
    neupsig_grade: list[str]
    top_findings: list[list[tuple[str, str, float]]]
    errors: Mapping[int, str]


def result_format(path: str | None, *, jsonl: bool = False) -> str:
    """The format of a results destination: from ``--jsonl`` or the file's suffix.

    Raises
    ------
    ParameterError
        On a suffix no format has, or ``--jsonl`` with a ``.csv``/``.parquet`` file.
    """
    if path is None or path == "-":
        return "jsonl" if jsonl else "csv"
    suffix = Path(path).suffix.lower()
    chosen = _SUFFIXES.get(suffix)
    if chosen is None:
        raise ParameterError(
            f"{path}: results are written as .csv, .jsonl (or .ndjson) or .parquet; "
            f"not '{suffix or 'no suffix'}'.",
            parameter="out",
        )
    if jsonl and chosen != "jsonl":
        raise ParameterError(
            f"--jsonl and --out {path}: the file's suffix says {chosen}; use a .jsonl file.",
            parameter="out",
        )
    return chosen


def _csv_cell(value: float) -> str:
    return "" if value != value else f"{value:.6f}"  # NaN is not equal to itself


def _findings_text(findings: Sequence[tuple[str, str, float]]) -> str:
    return ";".join(f"{f}={s}:{c:+.3f}" for f, s, c in findings)


def _csv_lines(block: ResultBlock) -> str:
    """The block's CSV rows (no header), quoted as the csv module would."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = [block.probabilities[k].tolist() for k in _PROBABILITIES]
    for i, row_id in enumerate(block.ids):
        error = block.errors.get(i)
        if error is not None:
            writer.writerow([row_id, *[""] * (len(RESULT_COLUMNS) - 2), error])
            continue
        writer.writerow(
            [row_id, *(_csv_cell(c[i]) for c in columns), block.neupsig_grade[i],
             _findings_text(block.top_findings[i]), ""]
        )  # fmt: skip
    return buffer.getvalue()


def _jsonl_lines(block: ResultBlock) -> str:
    columns = {k: np.round(block.probabilities[k], 6).tolist() for k in _PROBABILITIES}
    lines = []
    for i, row_id in enumerate(block.ids):
        error = block.errors.get(i)
        entry: dict[str, object] = {"id": row_id}
        for key, values in columns.items():
            value = values[i]
            entry[key] = None if error is not None or value != value else value
        entry["neupsig_grade"] = None if error is not None else block.neupsig_grade[i]
        entry["top_findings"] = [
            {"finding": f, "state": s, "change": round(c, 6)} for f, s, c in block.top_findings[i]
        ]
        entry["error"] = error
        lines.append(json.dumps(entry, ensure_ascii=False, allow_nan=False))
    return "\n".join(lines) + ("\n" if lines else "")


class _TextWriter:
    def __init__(self, fh, fmt: str) -> None:
        self._fh, self._fmt = fh, fmt
        if fmt == "csv":
            fh.write(",".join(RESULT_COLUMNS) + "\n")

    def write(self, block: ResultBlock) -> None:
        self._fh.write(_csv_lines(block) if self._fmt == "csv" else _jsonl_lines(block))
        self._fh.flush()


class _ParquetWriter:
    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = pa.schema(
            [("id", pa.string())]
            + [(k, pa.float64()) for k in _PROBABILITIES]
            + [("neupsig_grade", pa.string()), ("top_findings", pa.string()),
               ("error", pa.string())]
        )  # fmt: skip
        self._writer = pq.ParquetWriter(str(path), self._schema)

    def write(self, block: ResultBlock) -> None:
        pa = self._pa
        n = len(block.ids)
        bad = np.zeros(n, dtype=bool)
        bad[list(block.errors)] = True
        arrays = [pa.array(block.ids, pa.string())]
        for key in _PROBABILITIES:
            values = np.asarray(block.probabilities[key], dtype=np.float64)
            arrays.append(pa.array(values, pa.float64(), mask=bad | np.isnan(values)))
        arrays.append(pa.array([None if bad[i] else g for i, g in enumerate(block.neupsig_grade)],
                               pa.string()))  # fmt: skip
        arrays.append(pa.array([None if bad[i] else _findings_text(t)
                                for i, t in enumerate(block.top_findings)], pa.string()))  # fmt: skip
        arrays.append(pa.array([block.errors.get(i) for i in range(n)], pa.string()))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


@contextlib.contextmanager
def open_result_writer(path: str | None, fmt: str) -> Iterator[_TextWriter | _ParquetWriter]:
    """A writer of result blocks to ``path`` (None or ``"-"``: standard output).

    Parameters
    ----------
    path : str or None
        The results file; it replaces an existing file only when complete.
    fmt : {"csv", "jsonl", "parquet"}
        From :func:`result_format`.

    Raises
    ------
    ParameterError
        Parquet to standard output, or without pyarrow.
    """
    to_stdout = path is None or path == "-"
    if fmt == "parquet":
        if to_stdout:
            raise ParameterError("Parquet results need a file (--out RESULTS.parquet).",
                                 parameter="out")  # fmt: skip
        require_pyarrow("Parquet results")
        target = Path(path).resolve()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            writer = _ParquetWriter(Path(tmp))
            try:
                yield writer
            finally:
                writer.close()
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return
    if to_stdout:
        yield _TextWriter(sys.stdout, fmt)
        return
    with atomic_text_writer(path) as fh:
        yield _TextWriter(fh, fmt)


def require_pyarrow(what: str) -> None:
    """Raise a one-line error when pyarrow is missing."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise ParameterError(
            f"{what} need pyarrow: pip install pyarrow (or 'npprob[parquet]').", parameter="out"
        )
