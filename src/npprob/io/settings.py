"""Care settings: who is seen where, as a case mix of the conditions (a data file).

``models/cohort_settings.toml`` names each setting with its description, the
published neuropathic-pain prevalence it aims at, its source and tag, and the
weights of the conditions (``aetiology`` states) among its patients with
chronic pain; a study design may split a setting into groups with required
latent states. Simulation samples cohorts from a setting; diagnosis can use a
single-group setting's case mix as the prior of the condition.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from npprob._checks import format_choices, unknown_name_hint
from npprob.errors import DataFileError, ParameterError
from npprob.io.resources import cohort_settings_path
from npprob.io.tomlfile import read_toml
from npprob.network.network import Network

__all__ = [
    "CASE_MIX_VARIABLE",
    "SETTING_FLOOR",
    "Group",
    "Setting",
    "care_setting_names",
    "care_setting_names_in_file",
    "care_settings",
    "case_mix",
    "get_setting",
    "load_settings",
]

#: The network variable whose distribution a setting's case mix replaces (the
#: settings file's key for the weights).
CASE_MIX_VARIABLE = "aetiology"


@dataclass(frozen=True)
class Group:
    """A part of a cohort: its share, case mix and required latent states.

    Attributes
    ----------
    name : str
    fraction : float
        Share of the cohort's patients.
    aetiology : dict of str to float or None
        Weights of the aetiology states (normalised); ``None`` keeps the
        network's own distribution.
    require : dict of str to str
        States every sampled patient of the group must have (rejection sampling).
    """

    name: str
    fraction: float
    aetiology: dict[str, float] | None
    require: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Setting:
    """A named clinical setting."""

    name: str
    description: str
    expected_prevalence: tuple[float, float]
    source: str
    tag: str
    reason: str
    groups: tuple[Group, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain data for data cards."""
        return {
            "name": self.name,
            "description": self.description,
            "expected_prevalence": list(self.expected_prevalence),
            "source": self.source,
            "tag": self.tag,
            "reason": self.reason,
            "groups": [
                {
                    "name": g.name,
                    "fraction": g.fraction,
                    "aetiology": g.aetiology,
                    "require": g.require,
                }
                for g in self.groups
            ],
        }


def load_settings(
    network: Network, path: str | os.PathLike[str] | None = None
) -> dict[str, Setting]:
    """Read the settings file and check it against ``network``.

    Raises
    ------
    DataFileError
        On invalid TOML, unknown aetiology states or variables, negative
        weights, or fractions that do not sum to 1.
    """
    p = Path(path) if path is not None else cohort_settings_path()
    data = read_toml(p, "settings file")
    out = {}
    for name, body in data.get("settings", {}).items():
        where = f"{p}: setting '{name}'"
        raw_groups = body.get("groups")
        if raw_groups is None:
            raw_groups = [
                {"name": "all", "fraction": 1.0, "aetiology": body.get(CASE_MIX_VARIABLE)}
            ]
        groups = tuple(_group(g, network, where) for g in raw_groups)
        total = sum(g.fraction for g in groups)
        if abs(total - 1.0) > 1e-6:
            raise DataFileError(f"{where}: group fractions sum to {total}, not 1.")
        low, high = body.get("expected_prevalence", [0.0, 1.0])
        out[name] = Setting(
            name=name,
            description=str(body.get("description", "")),
            expected_prevalence=(float(low), float(high)),
            source=str(body.get("source", "")),
            tag=str(body.get("tag", "")),
            reason=str(body.get("reason", "")),
            groups=groups,
        )
    if not out:
        raise DataFileError(f"{p}: no [settings.*] tables.", path=str(p))
    return out


def get_setting(settings: Mapping[str, Setting], name: str) -> Setting:
    """The setting called ``name``, or a ParameterError listing the valid names."""
    try:
        return settings[name]
    except KeyError:
        raise ParameterError(
            f"Unknown setting '{name}'.{unknown_name_hint(name, settings)} "
            f"Settings: {format_choices(sorted(settings))}.",
            parameter="setting",
        ) from None


def _group(body: Mapping[str, object], network: Network, where: str) -> Group:
    name = str(body.get("name", "all"))
    fraction = float(body.get("fraction", 1.0))
    if not 0 < fraction <= 1:
        raise DataFileError(f"{where}, group '{name}': fraction {fraction} outside (0, 1].")
    mix = body.get(CASE_MIX_VARIABLE)
    aetiology = None
    if mix is not None:
        states = network.variable(CASE_MIX_VARIABLE).states
        aetiology = {}
        for state, weight in dict(mix).items():
            if state not in states:
                raise DataFileError(
                    f"{where}, group '{name}': unknown aetiology '{state}'."
                    f"{unknown_name_hint(state, states)}"
                )
            if not float(weight) >= 0:
                raise DataFileError(f"{where}, group '{name}': negative weight for '{state}'.")
            aetiology[state] = float(weight)
        if sum(aetiology.values()) <= 0:
            raise DataFileError(f"{where}, group '{name}': aetiology weights sum to 0.")
    require = {}
    for var, state in dict(body.get("require", {})).items():
        if var not in network or state not in network.variable(var).states:
            raise DataFileError(f"{where}, group '{name}': cannot require {var} = {state!r}.")
        require[var] = str(state)
    return Group(name, fraction, aetiology, require)


def care_settings(network: Network) -> dict[str, Setting]:
    """The shipped settings, read once per network structure (frozen, shared)."""
    return _cached_settings(network.structure_digest(), network)


#: Share of a care setting's case mix spread evenly over every condition (design choice):
#: keeps conditions the setting does not list possible when they are recorded.
SETTING_FLOOR = 1e-3


def case_mix(network: Network, setting: Setting, group: int = 0) -> np.ndarray:
    """P(condition) in a care setting's group (the only one of a care setting), floored.

    A group that does not list its conditions keeps the network's own
    distribution (before the floor, :data:`SETTING_FLOOR`).
    """
    var = network.variable(CASE_MIX_VARIABLE)
    mix = setting.groups[group].aetiology
    if mix is None:
        weights = np.asarray(network.cpt(var.name), dtype=float)
    else:
        weights = np.array([mix.get(s, 0.0) for s in var.states])
        weights = weights / weights.sum()
    return (1.0 - SETTING_FLOOR) * weights + SETTING_FLOOR / len(weights)


def care_setting_names(network: Network) -> list[str]:
    """Settings usable as a care setting in diagnosis: one group, no selection on the truth."""
    return sorted(
        name
        for name, s in care_settings(network).items()
        if len(s.groups) == 1 and not s.groups[0].require
    )


_CACHE: dict[str, dict[str, Setting]] = {}


def _cached_settings(key: str, network: Network) -> dict[str, Setting]:
    if key not in _CACHE:
        _CACHE[key] = load_settings(network)
    return _CACHE[key]


def care_setting_names_in_file(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The care settings' names, read from the file alone (for help texts; no network).

    A setting is a care setting when it is not split into groups.
    """
    try:
        data = read_toml(Path(path) if path is not None else cohort_settings_path(), "settings")
    except DataFileError:
        return []
    return sorted(n for n, body in data.get("settings", {}).items() if "groups" not in body)
