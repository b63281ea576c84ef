"""A recorded label as a noisy reading of the target, and its published reference standard.

Without a gold standard, a clinician's call is modelled as a child of the
target with its own error rates. The prior on those rates comes from the
published agreement of two clinicians (``[reference_standard]`` in
``models/cohort_settings.toml``), which the cohort simulator also uses to make
noisy labels.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npprob._checks import Interval, check_parameters
from npprob.errors import DataFileError
from npprob.io.resources import cohort_settings_path
from npprob.io.tomlfile import read_toml

__all__ = ["LabelModel", "clinician_accuracy", "load_reference_standard"]


@dataclass(frozen=True)
class LabelModel:
    """A recorded binary label as a noisy child of one binary network variable.

    Parameters
    ----------
    parent : str
        The network variable the label reports on.
    concentration : ndarray, shape (2, 2)
        Beta prior of P(label | parent state): row = parent state, column =
        label 0/1, as Dirichlet concentrations.
    source : str
        Where the prior comes from.
    """

    parent: str
    concentration: np.ndarray
    source: str = ""

    @classmethod
    def from_accuracy(
        cls, parent: str, accuracy: float, ess: float, source: str = ""
    ) -> LabelModel:
        """Symmetric prior: the label is right with probability ``accuracy`` (``ess`` patients)."""
        check_parameters(
            {"accuracy": Interval(float, 0.5, 1.0, closed="neither"),
             "ess": Interval(float, 0.0, closed="neither")},
            {"accuracy": accuracy, "ess": ess},
        )  # fmt: skip
        right, wrong = accuracy * ess, (1.0 - accuracy) * ess
        return cls(parent, np.array([[right, wrong], [wrong, right]]), source)

    @classmethod
    def from_reference_standard(
        cls, parent: str, path: str | os.PathLike[str] | None = None
    ) -> LabelModel:
        """The prior of a clinician's call on ``parent`` from the published agreement."""
        reference = load_reference_standard(path)
        return cls.from_accuracy(
            parent,
            clinician_accuracy(float(reference["agreement"])),
            float(reference["label_prior_ess"]),
            str(reference["source"]),
        )


def load_reference_standard(path: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """The ``[reference_standard]`` table: clinician agreement, its source, the label prior's weight.

    Raises
    ------
    DataFileError
        When the table is missing or its numbers are out of range.
    """
    p = Path(path) if path is not None else cohort_settings_path()
    data = read_toml(p, "settings file")
    table = data.get("reference_standard")
    if not isinstance(table, dict):
        raise DataFileError(f"{p}: no [reference_standard] table.", path=str(p))
    agreement = table.get("agreement")
    ess = table.get("label_prior_ess")
    if not isinstance(agreement, int | float) or not 0.5 < agreement < 1.0:
        raise DataFileError(f"{p}: reference_standard.agreement must be in (0.5, 1).", path=str(p))
    if not isinstance(ess, int | float) or ess <= 0:
        raise DataFileError(
            f"{p}: reference_standard.label_prior_ess must be positive.", path=str(p)
        )
    return dict(table)


def clinician_accuracy(agreement: float) -> float:
    """P(one clinician's call is right) when two independent clinicians agree with probability ``agreement``.

    Solves q**2 + (1 - q)**2 = agreement for q >= 0.5.
    """
    check_parameters({"agreement": Interval(float, 0.5, 1.0)}, {"agreement": agreement})
    return 0.5 * (1.0 + math.sqrt(2.0 * agreement - 1.0))
