"""Cohorts to files: CSV (and Parquet when pyarrow is installed) plus a data card."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from npprob.cohorts.simulate import OBSERVABLE_ROLES, Cohort
from npprob.errors import NetworkError

__all__ = ["TRUTH_PREFIX", "cohort_frame", "read_cohort", "read_label", "write_cohort"]

#: Prefix of the columns holding the latent truth.
TRUTH_PREFIX = "true_"


def cohort_frame(cohort: Cohort):
    """One row per patient: id, group, recorded findings, label, latent truth, p_true.

    Recorded findings are state names, empty where missing; the label is the
    recorded neuropathic call (1/0); ``true_*`` columns hold every latent
    variable's true state; ``p_true_neuropathic`` is P(neuropathic | recorded
    findings) under the truth network.
    """
    import pandas as pd

    net = cohort.spec.network
    columns: dict[str, object] = {
        "patient_id": [f"{cohort.setting.name}-{cohort.seed}-{i:07d}" for i in range(cohort.n)],
        "group": cohort.group,
    }
    for j, var in enumerate(net.variables):
        if var.role in OBSERVABLE_ROLES:
            names = np.array([*var.states, ""], dtype=object)
            columns[var.name] = names[cohort.recorded.codes[:, j]]  # -1 picks ""
    columns["label_neuropathic"] = cohort.label.astype(np.int64)
    for j, var in enumerate(net.variables):
        if var.role in ("latent", "derived"):
            columns[TRUTH_PREFIX + var.name] = np.array(var.states, dtype=object)[
                cohort.truth[:, j]
            ]
    columns["p_true_neuropathic"] = cohort.p_true
    return pd.DataFrame(columns)


def write_cohort(
    cohort: Cohort, out_dir: str | os.PathLike[str], *, parquet: bool | None = None
) -> dict[str, object]:
    """Write ``cohort.csv`` (and ``cohort.parquet``) and ``card.json`` into ``out_dir``.

    The same cohort gives the same bytes. Returns the card, which also lists
    every file's SHA-256.

    Parameters
    ----------
    parquet : bool, optional
        Write Parquet too; by default when pyarrow is installed.
    """
    if parquet is None:
        parquet = _has_parquet_engine()
    elif parquet and not _has_parquet_engine():
        raise NetworkError(
            "Parquet output needs pyarrow (pip install pyarrow); nothing was written."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = cohort_frame(cohort)
    csv_path = out / "cohort.csv"
    frame.to_csv(csv_path, index=False, float_format="%.17g", lineterminator="\n")
    files = {"cohort.csv": _sha256(csv_path)}
    if parquet:
        pq_path = out / "cohort.parquet"
        frame.to_parquet(pq_path, index=False)
        files["cohort.parquet"] = _sha256(pq_path)
    card = cohort.card()
    card["files"] = files
    card["columns"] = {
        "patient_id": "identifier",
        "group": "setting group the patient was sampled in",
        "findings": [
            c for c in frame.columns if c in cohort.spec.network and not c.startswith(TRUTH_PREFIX)
        ],
        "label_neuropathic": f"recorded label ({cohort.options.label}); 1 = neuropathic",
        "true_*": "latent truth of every unobservable variable",
        "p_true_neuropathic": "P(neuropathic | recorded findings) under the truth network",
    }
    (out / "card.json").write_text(
        json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return card


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_cohort(
    path: str | os.PathLike[str], network, *, truth: bool = True
) -> tuple[np.ndarray, dict | None]:
    """Read a cohort CSV into state codes for every variable.

    Recorded findings fill the observable columns (-1 where empty); ``true_*``
    columns fill the latent ones. Without ``true_*`` columns the latent
    columns stay -1 and ``label_neuropathic`` (when present) fills
    ``neuropathic``. With ``truth=False`` only the recorded findings are
    read (what a study without the latent truth has; see :func:`read_label`).

    Returns
    -------
    codes : ndarray of int16, shape (n_patients, n_variables)
    card : dict or None
        The ``card.json`` next to the file, when there is one.

    Raises
    ------
    EvidenceError
        On an unreadable file, an unknown state, or no usable column.
    """
    import pandas as pd

    from npprob.errors import EvidenceError

    p = Path(path)
    try:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise EvidenceError(f"Cannot read cohort '{p}': {exc}".splitlines()[0]) from None
    codes = np.full((len(frame), len(network)), -1, dtype=np.int16)
    used = 0
    for j, var in enumerate(network.variables):
        column = None
        if truth and TRUTH_PREFIX + var.name in frame:
            column = frame[TRUTH_PREFIX + var.name]
        elif var.name in frame:
            column = frame[var.name]
        elif truth and var.name == "neuropathic" and "label_neuropathic" in frame:
            label = _label_codes(frame, "label_neuropathic", p)
            column = pd.Series(np.array([*var.states, ""], dtype=object)[label])
        if column is None:
            continue
        used += 1
        lookup = {s: i for i, s in enumerate(var.states)}
        lookup[""] = -1
        mapped = column.map(lookup)
        if mapped.isna().any():
            row = int(np.flatnonzero(mapped.isna().to_numpy())[0])
            raise EvidenceError(
                f"{p}: data row {row + 1}: unknown state {column.iloc[row]!r} for '{var.name}'.",
                variable=var.name,
                row=row,
            )
        codes[:, j] = mapped.to_numpy(dtype=np.int16)
    if used == 0:
        raise EvidenceError(f"{p}: no column names a variable of the network.")
    card_path = p.parent / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else None
    return codes, card


def read_label(
    path: str | os.PathLike[str], column: str = "label_neuropathic"
) -> np.ndarray | None:
    """The recorded 0/1 label of a cohort CSV (-1 where empty), or None without the column.

    Raises
    ------
    EvidenceError
        On an unreadable file or a value other than 0, 1 or empty.
    """
    import pandas as pd

    from npprob.errors import EvidenceError

    p = Path(path)
    try:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise EvidenceError(f"Cannot read cohort '{p}': {exc}".splitlines()[0]) from None
    return _label_codes(frame, column, p) if column in frame else None


def _label_codes(frame, column: str, path: Path) -> np.ndarray:
    """A 0/1/empty label column as int16 codes (-1 = empty); other values raise."""
    from npprob.errors import EvidenceError

    mapped = frame[column].str.strip().map({"1": 1, "0": 0, "": -1})
    if mapped.isna().any():
        row = int(np.flatnonzero(mapped.isna().to_numpy())[0])
        raise EvidenceError(
            f"{path}: data row {row + 1}: {column} must be 0, 1 or empty; got "
            f"{frame[column].iloc[row]!r}.",
            row=row,
        )
    return mapped.to_numpy(dtype=np.int16)


def _has_parquet_engine() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None
