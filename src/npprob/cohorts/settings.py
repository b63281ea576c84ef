"""Clinical settings for synthetic cohorts (case mix, groups), read from a data file."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from npprob._checks import format_choices, unknown_name_hint
from npprob.errors import NetworkError
from npprob.io.resources import cohort_settings_path
from npprob.io.tomlfile import read_toml
from npprob.network.network import Network

__all__ = [
    "Group",
    "Setting",
    "clinician_accuracy",
    "get_setting",
    "load_reference_standard",
    "load_settings",
]


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
    NetworkError
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
            raw_groups = [{"name": "all", "fraction": 1.0, "aetiology": body.get("aetiology")}]
        groups = tuple(_group(g, network, where) for g in raw_groups)
        total = sum(g.fraction for g in groups)
        if abs(total - 1.0) > 1e-6:
            raise NetworkError(f"{where}: group fractions sum to {total}, not 1.")
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
        raise NetworkError(f"{p}: no [settings.*] tables.")
    return out


def load_reference_standard(path: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """The ``[reference_standard]`` table: clinician agreement, its source, the label prior's weight.

    Raises
    ------
    NetworkError
        When the table is missing or its numbers are out of range.
    """
    p = Path(path) if path is not None else cohort_settings_path()
    data = read_toml(p, "settings file")
    table = data.get("reference_standard")
    if not isinstance(table, dict):
        raise NetworkError(f"{p}: no [reference_standard] table.")
    agreement = table.get("agreement")
    ess = table.get("label_prior_ess")
    if not isinstance(agreement, int | float) or not 0.5 < agreement < 1.0:
        raise NetworkError(f"{p}: reference_standard.agreement must be in (0.5, 1).")
    if not isinstance(ess, int | float) or ess <= 0:
        raise NetworkError(f"{p}: reference_standard.label_prior_ess must be positive.")
    return dict(table)


def clinician_accuracy(agreement: float) -> float:
    """P(one clinician's call is right) when two independent clinicians agree with probability ``agreement``.

    Solves q**2 + (1 - q)**2 = agreement for q >= 0.5.
    """
    if not 0.5 <= agreement <= 1.0:
        raise ValueError(f"agreement must be in [0.5, 1]; got {agreement}.")
    return 0.5 * (1.0 + math.sqrt(2.0 * agreement - 1.0))


def get_setting(settings: Mapping[str, Setting], name: str) -> Setting:
    """The setting called ``name``, or a NetworkError listing the valid names."""
    try:
        return settings[name]
    except KeyError:
        raise NetworkError(
            f"Unknown setting '{name}'.{unknown_name_hint(name, settings)} "
            f"Settings: {format_choices(sorted(settings))}."
        ) from None


def _group(body: Mapping[str, object], network: Network, where: str) -> Group:
    name = str(body.get("name", "all"))
    fraction = float(body.get("fraction", 1.0))
    if not 0 < fraction <= 1:
        raise NetworkError(f"{where}, group '{name}': fraction {fraction} outside (0, 1].")
    mix = body.get("aetiology")
    aetiology = None
    if mix is not None:
        states = network.variable("aetiology").states
        aetiology = {}
        for state, weight in dict(mix).items():
            if state not in states:
                raise NetworkError(
                    f"{where}, group '{name}': unknown aetiology '{state}'."
                    f"{unknown_name_hint(state, states)}"
                )
            if not float(weight) >= 0:
                raise NetworkError(f"{where}, group '{name}': negative weight for '{state}'.")
            aetiology[state] = float(weight)
        if sum(aetiology.values()) <= 0:
            raise NetworkError(f"{where}, group '{name}': aetiology weights sum to 0.")
    require = {}
    for var, state in dict(body.get("require", {})).items():
        if var not in network or state not in network.variable(var).states:
            raise NetworkError(f"{where}, group '{name}': cannot require {var} = {state!r}.")
        require[var] = str(state)
    return Group(name, fraction, aetiology, require)
