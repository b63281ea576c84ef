"""Clinical settings for synthetic cohorts (case mix, groups), read from a data file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from npprob.errors import DataFileError
from npprob.io.resources import cohort_settings_path
from npprob.io.settings import Group, Setting, get_setting, load_settings
from npprob.io.tomlfile import read_toml
from npprob.learning.label import clinician_accuracy, load_reference_standard
from npprob.network.network import Network

__all__ = [
    "Group",
    "Realism",
    "Setting",
    "clinician_accuracy",
    "get_setting",
    "load_realism",
    "load_reference_standard",
    "load_settings",
]


@dataclass(frozen=True)
class Realism:
    """What the simulation's realism options touch (``[realism]`` in the settings file).

    Attributes
    ----------
    never_missing : tuple of str
        Findings missingness completely at random spares.
    never_recorded : tuple of str
        Findings no simulated record holds (always applied, not an option).
    reporting_trait_share : float
        Share of patients carrying the symptom-reporting trait.
    reporting_trait_role : str
        Role of the findings the trait turns present.
    mar_variable : str
        The finding recorded mostly under suspicion (missing at random).
    mar_suspicion : dict of str to str
        Findings (and states) any of which raise suspicion.
    mar_p_recorded : tuple of float
        P(recorded) with and without suspicion.
    """

    never_missing: tuple[str, ...]
    reporting_trait_share: float
    reporting_trait_role: str
    mar_variable: str
    mar_suspicion: dict[str, str]
    mar_p_recorded: tuple[float, float]
    never_recorded: tuple[str, ...] = ()


def load_realism(network: Network, path: str | os.PathLike[str] | None = None) -> Realism:
    """The ``[realism]`` table, checked against ``network``.

    Raises
    ------
    DataFileError
        When the table is missing, names an unknown variable or state, or a
        share is outside [0, 1].
    """
    p = Path(path) if path is not None else cohort_settings_path()
    table = read_toml(p, "settings file").get("realism")
    where = f"{p}: [realism]"
    if not isinstance(table, dict) or not isinstance(table.get("mar"), dict):
        raise DataFileError(f"{where} and [realism.mar] tables are missing.", path=str(p))
    mar = table["mar"]

    def known(name: object, state: object = None) -> str:
        if (
            not isinstance(name, str)
            or name not in network
            or (state is not None and state not in network.variable(name).states)
        ):
            shown = name if state is None else f"{name} = {state!r}"
            raise DataFileError(f"{where}: unknown variable or state {shown}.", path=str(p))
        return name

    shares = (table.get("reporting_trait_share"), mar.get("p_recorded_suspected"),
              mar.get("p_recorded_otherwise"))  # fmt: skip
    if not all(isinstance(s, int | float) and 0.0 <= s <= 1.0 for s in shares):
        raise DataFileError(f"{where}: shares and probabilities must lie in [0, 1].", path=str(p))
    return Realism(
        never_missing=tuple(known(n) for n in table.get("never_missing", ())),
        reporting_trait_share=float(shares[0]),
        reporting_trait_role=str(table.get("reporting_trait_role", "symptom")),
        mar_variable=known(mar.get("variable")),
        mar_suspicion={known(k, s): s for k, s in dict(mar.get("suspicion", {})).items()},
        mar_p_recorded=(float(shares[1]), float(shares[2])),
        never_recorded=tuple(known(n) for n in table.get("never_recorded", ())),
    )
