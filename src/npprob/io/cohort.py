"""Cohort files: one reader and one writer of ``cohort.csv`` (and Parquet) with its data card.

A cohort file holds one row per patient: ``patient_id``, ``group``, every
clinical finding (state names, empty where not recorded), the recorded label
``label_<target>`` (1, 0 or empty), the truth of every hidden variable in
``true_<variable>`` columns, and ``p_true_<target>``, the probability of the
target given the recorded findings under the network that made the cohort.
The column names follow the network's roles (see
:attr:`~npprob.network.Network.target`); a study's own file may hold any
subset of these columns. ``card.json`` beside it says how the cohort was made.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npprob._extras import missing, require
from npprob.errors import EvidenceError, ParameterError
from npprob.io.artifacts import process_alive, sha256_file
from npprob.io.cards import COHORT_CARD_FIELDS, card_problem
from npprob.io.findings import encode_table
from npprob.io.records import _checked_header, _csv_records, _read_text, _whole_rows
from npprob.network.network import Network
from npprob.network.variable import Role

__all__ = [
    "GROUP_COLUMN",
    "ID_COLUMN",
    "TRUTH_PREFIX",
    "CohortData",
    "cohort_columns",
    "cohort_frame",
    "label_column",
    "p_true_column",
    "read_cohort_data",
    "write_cohort_data",
]

#: Prefix of the columns holding the latent truth.
TRUTH_PREFIX = "true_"
#: The patient identifier column, and the setting group each patient was sampled in.
ID_COLUMN = "patient_id"
GROUP_COLUMN = "group"


def label_column(network: Network) -> str:
    """Name of the recorded-label column: ``label_<target>``."""
    return f"label_{network.target.name}"


def p_true_column(network: Network) -> str:
    """Name of the true-probability column: ``p_true_<target>``."""
    return f"p_true_{network.target.name}"


@dataclass(frozen=True, eq=False)
class CohortData:
    """A cohort as every layer reads it.

    Attributes
    ----------
    network : Network
        The network whose variables the codes follow.
    codes : ndarray of int16, shape (n_patients, n_variables)
        The recorded findings, -1 where not recorded (hidden variables are never
        recorded; the context is not in the file).
    truth : ndarray of int64, shape (n_patients,), or None
        1 where the target is truly positive (from ``true_<target>``).
    label : ndarray of int64, shape (n_patients,), or None
        The recorded label: 1, 0, or -1 where empty.
    p_true : ndarray of float64, shape (n_patients,), or None
        The true P(target | recorded findings).
    card : dict or None
        The data card.
    hidden : ndarray of int16, shape (n_patients, n_variables), or None
        The true state of every hidden variable that has a ``true_`` column,
        -1 elsewhere (the latent truth of complete-data training).
    ids, groups : ndarray of object, or None
    path : Path or None
        The file read.
    recorded : tuple of str
        The observable variables the file has columns for (default: every finding).
    """

    network: Network
    codes: np.ndarray
    truth: np.ndarray | None = None
    label: np.ndarray | None = None
    p_true: np.ndarray | None = None
    card: dict | None = None
    hidden: np.ndarray | None = None
    ids: np.ndarray | None = None
    groups: np.ndarray | None = None
    path: Path | None = None
    recorded: tuple[str, ...] | None = None

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.codes.shape[0])

    def __len__(self) -> int:
        return self.n

    @property
    def name(self) -> str:
        """The cohort's folder name (or the file's stem)."""
        if self.path is None:
            return "cohort"
        return self.path.parent.name if self.path.name == "cohort.csv" else self.path.stem

    def complete_codes(self) -> np.ndarray:
        """The recorded findings with every hidden variable's truth filled in (a copy)."""
        codes = self.codes.copy()
        if self.hidden is not None:
            known = self.hidden >= 0
            codes[known] = self.hidden[known]
        return codes

    def take(self, rows: np.ndarray) -> CohortData:
        """The sub-cohort of the given rows."""

        def pick(a):
            return None if a is None else a[rows]

        return CohortData(
            self.network, self.codes[rows], pick(self.truth), pick(self.label), pick(self.p_true),
            self.card, pick(self.hidden), pick(self.ids), pick(self.groups), self.path,
            self.recorded,
        )  # fmt: skip

    def findings_frame(self):
        """The recorded findings as a DataFrame of state names, NaN where not recorded.

        Needs pandas (the ``evaluate`` extra).
        """
        require("evaluate", "A cohort as a DataFrame", modules=("pandas",))
        import pandas as pd

        names = (
            self.recorded if self.recorded is not None else [v.name for v in self.network.findings]
        )
        frame = {}
        for name in names:
            var = self.network.variable(name)
            states = np.array([*var.states, np.nan], dtype=object)
            frame[name] = states[self.codes[:, self.network.index(name)]]  # -1 picks NaN
        return pd.DataFrame(frame)


# -- reading ------------------------------------------------------------------------------


def read_cohort_data(
    path: str | os.PathLike[str],
    network: Network,
    *,
    truth: bool = True,
    label: bool = True,
) -> CohortData:
    """Read a cohort file (or its folder) once, every column that names a part of it.

    Parameters
    ----------
    path : path
        ``cohort.csv`` or the folder holding it.
    network : Network
        The network the columns refer to (its target names the label columns).
    truth : bool, default=True
        Read the ``true_*`` and ``p_true_*`` columns (a study without the
        latent truth leaves them out).
    label : bool, default=True
        Read the recorded-label column.

    Returns
    -------
    CohortData

    Raises
    ------
    EvidenceError
        On an unreadable or malformed file, a row with the wrong number of
        cells, an unknown state (naming the file line, data row and column), a
        label other than 0, 1 or empty, or no column that names a variable.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "cohort.csv"
    records = _csv_records(_read_text(p, "cohort"), str(p), physical_lines=True)
    header = _checked_header(records[0][1], str(p), records[0][0])
    data = _whole_rows(records[1:], header, str(p))
    position = {h: k for k, h in enumerate(header)}

    def column(name: str) -> list[str]:
        return [cells[position[name]] for _, cells in data]

    for var in network.variables:
        if not var.observable and var.name in position:
            where = f"{TRUTH_PREFIX}{var.name}"
            if var.role == Role.TARGET:
                where = f"{label_column(network)} (a recorded call) or {where} (the truth)"
            raise EvidenceError(
                f"{p}:{records[0][0]}: column '{var.name}' names a hidden variable; a cohort "
                f"gives it as {where}.",
                variable=var.name,
            )
    recorded = [v.name for v in network.observable if v.name in position]
    codes, problems = encode_table(network, recorded, [[c[position[n]] for n in recorded]
                                                         for _, c in data])  # fmt: skip
    if problems:
        first = problems[0]
        raise EvidenceError(
            f"{p}:{data[first.row][0]}: data row {first.row + 1}: {first.message}.",
            variable=first.variable,
            row=first.row,
        )
    hidden = None
    target_truth = None
    p_true = None
    truth_names = [v.name for v in network.variables
                   if not v.observable and TRUTH_PREFIX + v.name in position] if truth else []  # fmt: skip
    if truth_names:
        cells = [[c[position[TRUTH_PREFIX + n]] for n in truth_names] for _, c in data]
        hidden, problems = encode_table(network, truth_names, cells)
        if problems:
            first = problems[0]
            var = network.variable(first.variable)
            raise EvidenceError(
                f"{p}: data row {first.row + 1}: {TRUTH_PREFIX}{var.name} must be one of "
                f"{list(var.states)}; got {first.value!r}.",
                variable=var.name,
                row=first.row,
            )
    has_target = bool(network.with_role(Role.TARGET))
    if has_target and hidden is not None and network.target.name in truth_names:
        target = network.target
        target_truth = (hidden[:, network.index(target.name)] == target.positive_index).astype(
            np.int64
        )
    if truth and has_target and p_true_column(network) in position:
        p_true = _floats(column(p_true_column(network)), p, p_true_column(network))
    recorded_label = None
    if label and has_target and label_column(network) in position:
        recorded_label = _label_codes(column(label_column(network)), p, label_column(network))
    if not recorded and not truth_names and recorded_label is None:
        raise EvidenceError(f"{p}: no column names a variable of the network.")
    card_path = p.parent / "card.json"
    card = None
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, integers too long
            raise EvidenceError(f"Cannot read the data card '{card_path}': {exc}.") from None
        problem = card_problem(card, COHORT_CARD_FIELDS)
        if problem:
            raise EvidenceError(f"The data card '{card_path}' cannot be used: {problem}.")
    return CohortData(
        network=network,
        codes=codes,
        truth=target_truth,
        label=recorded_label,
        p_true=p_true,
        card=card,
        hidden=hidden,
        ids=np.array(column(ID_COLUMN), dtype=object) if ID_COLUMN in position else None,
        groups=np.array(column(GROUP_COLUMN), dtype=object) if GROUP_COLUMN in position else None,
        path=p,
        recorded=tuple(recorded),
    )


def _label_codes(cells: list[str], path: Path, name: str) -> np.ndarray:
    """A 0/1/empty label column as codes (-1 = empty); other values raise."""
    lookup = {"1": 1, "0": 0, "": -1}
    out = np.empty(len(cells), dtype=np.int64)
    for row, cell in enumerate(cells):
        code = lookup.get(cell.strip())
        if code is None:
            raise EvidenceError(
                f"{path}: data row {row + 1}: {name} must be 0, 1 or empty; got {cell!r}.", row=row
            )
        out[row] = code
    return out


def _floats(cells: list[str], path: Path, name: str) -> np.ndarray:
    try:
        return np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        row = next(i for i, c in enumerate(cells) if not _is_float(c))
        raise EvidenceError(
            f"{path}: data row {row + 1}: {name} must be a number; got {cells[row]!r}.", row=row
        ) from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- writing ------------------------------------------------------------------------------


def cohort_columns(data: CohortData) -> dict[str, np.ndarray]:
    """The cohort's columns in file order: id, group, findings, label, the truth, p_true.

    Findings and truth are state names (``""`` where not recorded), the label is
    integer, the true probability a float. :func:`cohort_frame` is the same as a
    DataFrame; the CSV writer needs only these arrays (no pandas).
    """
    net = data.network
    columns: dict[str, np.ndarray] = {}
    if data.ids is not None:
        columns[ID_COLUMN] = np.asarray(data.ids, dtype=object)
    if data.groups is not None:
        columns[GROUP_COLUMN] = np.asarray(data.groups, dtype=object)
    for var in net.findings:
        names = np.array([*var.states, ""], dtype=object)
        columns[var.name] = names[data.codes[:, net.index(var.name)]]  # -1 picks ""
    if data.label is not None:
        columns[label_column(net)] = np.asarray(data.label, dtype=np.int64)
    if data.hidden is not None:
        for var in net.variables:
            if not var.observable:
                hidden = data.hidden[:, net.index(var.name)]
                if (hidden < 0).all():
                    continue  # a generator without this variable (see cohorts.latent_trait)
                states = np.array([*var.states, ""], dtype=object)
                columns[TRUTH_PREFIX + var.name] = states[hidden]
    if data.p_true is not None:
        columns[p_true_column(net)] = np.asarray(data.p_true, dtype=np.float64)
    return columns


def cohort_frame(data: CohortData):
    """The cohort as a pandas DataFrame (the ``evaluate`` extra): see :func:`cohort_columns`."""
    require("evaluate", "A cohort as a DataFrame", modules=("pandas",))
    import pandas as pd

    return pd.DataFrame(cohort_columns(data))


def _write_cohort_csv(columns: dict[str, np.ndarray], path: Path) -> None:
    """``cohort.csv``: floats with 17 significant digits (exact), NaN as an empty cell.

    The bytes are those ``DataFrame.to_csv(index=False, float_format="%.17g")`` writes
    (both use the csv module with minimal quoting), so files made before pandas left
    the core install keep their checksums.
    """
    cells = []
    for values in columns.values():
        if values.dtype.kind == "f":
            cells.append(["" if math.isnan(v) else format(v, ".17g") for v in values.tolist()])
        else:
            cells.append([str(v) for v in values.tolist()])
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*cells, strict=True))


def write_cohort_data(
    data: CohortData,
    out_dir: str | os.PathLike[str],
    *,
    card: dict | None = None,
    parquet: bool | None = None,
) -> dict[str, object]:
    """Write ``cohort.csv`` (and ``cohort.parquet``) and ``card.json`` into ``out_dir``.

    The same cohort gives the same bytes. Returns the card written, which also
    lists every file's SHA-256 and describes the columns.

    Parameters
    ----------
    card : dict, optional
        The data card (default: ``data.card``).
    parquet : bool, optional
        Write Parquet too; by default when pyarrow and pandas are installed.

    Raises
    ------
    ParameterError
        When Parquet is asked for without pyarrow or pandas (nothing is written).
    """
    if parquet is None:
        parquet = _has_parquet_engine()
    elif parquet and not _has_parquet_engine():
        raise ParameterError(
            "Parquet output needs pyarrow and pandas (pip install pyarrow pandas); "
            "nothing was written.",
            parameter="parquet",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Written beside the old files, then moved in with the card last (the old card is
    # removed first): an interruption leaves the old pair, a cohort without a card
    # (incomplete, and read as such), or the new pair, never a card describing
    # another cohort.
    for stale in out.glob(".staging.*"):
        # Left by a run killed outright (the process id is in the name): no longer anyone's.
        pid = stale.name.split(".")[2]
        if stale.is_dir() and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging.{os.getpid()}.", dir=out))
    try:
        card = _write_cohort_files(data, staging, card, parquet)
        (out / "card.json").unlink(missing_ok=True)
        for name in ("cohort.csv", "cohort.parquet"):
            if (staging / name).exists():
                os.replace(staging / name, out / name)
            else:
                (out / name).unlink(missing_ok=True)  # a stale file of another cohort
        os.replace(staging / "card.json", out / "card.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return card


def _write_cohort_files(data: CohortData, out: Path, card, parquet: bool) -> dict:
    columns = cohort_columns(data)
    csv_path = out / "cohort.csv"
    _write_cohort_csv(columns, csv_path)
    files = {"cohort.csv": sha256_file(csv_path)}
    if parquet:
        import pandas as pd

        pq_path = out / "cohort.parquet"
        pd.DataFrame(columns).to_parquet(pq_path, index=False)
        files["cohort.parquet"] = sha256_file(pq_path)
    net = data.network
    card = dict(card if card is not None else data.card or {})
    card["files"] = files
    label_kind = (card.get("options") or {}).get("label", "recorded")
    target = net.target
    card["columns"] = {
        ID_COLUMN: "identifier",
        GROUP_COLUMN: "setting group the patient was sampled in",
        "findings": [v.name for v in net.findings],
        label_column(net): f"recorded label ({label_kind}); 1 = {target.name}",
        f"{TRUTH_PREFIX}*": "latent truth of every unobservable variable",
        p_true_column(net): f"P({target.name} | recorded findings) under the truth network",
    }
    (out / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", "utf-8")
    return card


def _has_parquet_engine() -> bool:
    return missing(("pyarrow", "pandas")) is None
