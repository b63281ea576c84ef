"""Evidence for a batch of patients as integer state codes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from npprob._checks import format_choices, unknown_name_hint
from npprob.errors import EvidenceError
from npprob.network.network import Network

__all__ = ["UNOBSERVED", "EvidenceBatch"]

#: Code of an unobserved variable.
UNOBSERVED = -1


@dataclass(frozen=True)
class EvidenceBatch:
    """Observed states of many patients.

    Parameters
    ----------
    network : Network
        The network whose variables the columns follow (``network.names`` order).
    codes : ndarray of int16, shape (n_patients, n_variables)
        State index of each variable for each patient; :data:`UNOBSERVED` (-1)
        where the variable is not observed.
    """

    network: Network
    codes: np.ndarray

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        n_vars = len(self.network)
        if codes.ndim != 2 or codes.shape[1] != n_vars:
            raise EvidenceError(
                f"Evidence codes must have shape (n_patients, {n_vars}); got {codes.shape}."
            )
        if codes.dtype.kind not in "iu":
            raise EvidenceError(f"Evidence codes must be integers; got dtype {codes.dtype}.")
        cards = self.network.cardinalities
        bad = (codes < UNOBSERVED) | (codes >= cards[None, :])
        if np.any(bad):
            row, col = (int(i) for i in np.argwhere(bad)[0])
            var = self.network.variables[col]
            raise EvidenceError(
                f"State code {int(codes[row, col])} out of range for '{var.name}' (row {row}); "
                f"expected -1 (unobserved) or 0..{var.cardinality - 1}.",
                variable=var.name,
                row=row,
            )
        codes = np.ascontiguousarray(codes, dtype=np.int16)
        codes.setflags(write=False)
        object.__setattr__(self, "codes", codes)

    @property
    def n_patients(self) -> int:
        """Number of patients (rows)."""
        return int(self.codes.shape[0])

    def __len__(self) -> int:
        return self.n_patients

    @classmethod
    def empty(cls, network: Network, n_patients: int = 1) -> EvidenceBatch:
        """``n_patients`` rows with nothing observed."""
        return cls(network, np.full((n_patients, len(network)), UNOBSERVED, dtype=np.int16))

    @classmethod
    def from_records(
        cls, network: Network, records: Iterable[Mapping[str, str | None]]
    ) -> EvidenceBatch:
        """Build from one mapping per patient, ``{variable: state name}``.

        Missing keys, ``None`` and empty strings mean unobserved.

        Raises
        ------
        EvidenceError
            On an unknown variable or state; the message names the row
            (0-based), the variable and the allowed values.
        """
        records = list(records)
        codes = np.full((len(records), len(network)), UNOBSERVED, dtype=np.int16)
        single = len(records) == 1
        state_maps = [{s: i for i, s in enumerate(v.states)} for v in network.variables]
        for row, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise EvidenceError(
                    f"Patient record {row} is a {type(rec).__name__}, not a mapping.", row=row
                )
            for name, state in rec.items():
                if state is None or state == "":
                    continue
                if name not in network:
                    raise EvidenceError(
                        f"Unknown variable '{name}'{_where(row, single)}."
                        f"{unknown_name_hint(name, network.names)}",
                        variable=name,
                        row=row,
                    )
                col = network.index(name)
                smap = state_maps[col]
                if not isinstance(state, str) or state not in smap:
                    states = network.variables[col].states
                    raise EvidenceError(
                        f"Unknown state {state!r} for '{name}'{_where(row, single)}; "
                        f"expected one of: {format_choices(states)}.",
                        variable=name,
                        row=row,
                    )
                codes[row, col] = smap[state]
        return cls(network, codes)

    def observed(self) -> np.ndarray:
        """Boolean mask of observed entries, shape (n_patients, n_variables)."""
        return self.codes >= 0

    def take(self, rows: np.typing.ArrayLike) -> EvidenceBatch:
        """The sub-batch of the given rows."""
        return EvidenceBatch(self.network, self.codes[np.asarray(rows)])


def _where(row: int, single: bool) -> str:
    """' (row N)' in messages about batches; nothing for a single patient."""
    return "" if single else f" (row {row})"
