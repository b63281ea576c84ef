"""Clinical network specification (TOML) → Network + Dirichlet prior + sources.

The specification is data: variables with states and roles, and for every
CPT its probabilities, an effective sample size (the Dirichlet concentration
of each row) and the source of each number. Three kinds of CPT are written:

``table``
    Rows given per parent configuration (``when = {parent = state, ...}``),
    with an optional ``default`` row for configurations not listed.
    ``p`` is a list over the child's states, or for a two-state child a
    number, the probability of its second state.
``noisy_or``
    A two-state child whose second state ("present") is caused
    independently by parent states: ``P(present) = 1 - (1 - leak) *
    prod(1 - p_i)`` over the causes that hold. One number per cause, each
    with its source; the table is expanded on load.
``deterministic``
    A derived child (such as mixed pain = neuropathic *and* nociceptive): its
    second state holds exactly when every input holds. It carries no
    uncertainty and is never learned.

Every row or cause carries ``source`` (author and year, or ``default``) and
``tag``, one of ``F`` (found in the published text), ``F2`` (secondary
source), ``R`` (recalled, unverified), ``D`` (derived) or ``S`` (suggested
default); ``S`` and ``default`` need a ``reason``.

The Dirichlet prior of a row is ``ess * mean``; entries whose mean is
exactly 0 are structural zeros (for example neuropathic pain without a
lesion) and stay 0 in every draw.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from npprob._checks import Interval, check_parameters, format_choices, unknown_name_hint
from npprob.errors import NetworkError
from npprob.network.network import Network
from npprob.network.variable import AFFIRMATIVE_STATES, Role, Variable

__all__ = ["TAGS", "ClinicalSpec", "Source", "dirichlet_draws", "load_spec", "parse_spec"]

#: Provenance tags (see the clinical figures' README).
TAGS = ("F", "F2", "R", "D", "S")

_KINDS = ("table", "noisy_or", "deterministic")

#: The rules of :func:`dirichlet_draws`' size and seed.
_DRAW_CONSTRAINTS = {"n_draws": Interval(int, 1), "seed": Interval(int, 0)}


@dataclass(frozen=True)
class Source:
    """Where one number of the specification comes from."""

    variable: str
    entry: str
    source: str
    tag: str
    reason: str = ""


@dataclass(frozen=True)
class ClinicalSpec:
    """A loaded specification.

    Attributes
    ----------
    network : Network
        The network with the specification's probabilities (the prior means).
    concentration : dict of str to ndarray
        Dirichlet concentration of every CPT, shaped like the CPT; 0 marks a
        structural zero. Variables listed in :attr:`fixed` are absent.
    fixed : frozenset of str
        Deterministic variables, identical in every draw and never learned.
    sources : tuple of Source
        Provenance of every row and cause.
    meta : dict
        The ``[network]`` table (name, version, description, ...).
    digest : str
        SHA-256 of the specification text.
    content_digest : str
        SHA-256 of what a trained model depends on: variables, states, parents,
        the prior means and concentrations, which variable is the target and
        which the context (with their positive states), and which are hidden
        (not the finding roles, descriptions, sources or comments). A model
        trained under one specification fits another with the same content
        digest.
    """

    network: Network
    concentration: dict[str, np.ndarray]
    fixed: frozenset[str]
    sources: tuple[Source, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    content_digest: str = ""

    @property
    def earlier_digests(self) -> tuple[str, ...]:
        """Text digests of earlier versions with the same content (``[network]
        earlier_text_sha256``): models whose cards predate the content digest
        and name one of them fit this specification."""
        return tuple(self.meta.get("earlier_text_sha256", ()))

    @property
    def target(self) -> Variable:
        """The target variable (role ``target``): the question the network answers."""
        return self.network.target

    @property
    def context(self) -> dict[str, str]:
        """Context variables and the state every diagnosed patient is in (role ``context``)."""
        return {v.name: v.states[v.positive_index] for v in self.network.context}

    def prior_draws(self, n_draws: int, seed: int) -> dict[str, np.ndarray]:
        """Draws of every CPT from the Dirichlet prior.

        Parameters
        ----------
        n_draws : int
            Number of draws (at least 1).
        seed : int
            Seed of the random generator; the same seed gives the same draws.

        Returns
        -------
        dict of str to ndarray of shape (n_draws, *cpt_shape)
        """
        return dirichlet_draws(self, self.concentration, n_draws, seed)


def dirichlet_draws(
    spec: ClinicalSpec, concentration: Mapping[str, np.ndarray], n_draws: int, seed: int
) -> dict[str, np.ndarray]:
    """Independent Dirichlet draws of every CPT row (deterministic CPTs copied).

    Parameters
    ----------
    spec : ClinicalSpec
        Supplies the network and its fixed (deterministic) variables.
    concentration : mapping of str to ndarray
        Concentration of every learnable CPT, shaped like the CPT; 0 = structural zero.
    n_draws : int
        Number of draws (at least 1).
    seed : int
        Seed; the same seed gives the same draws.

    Returns
    -------
    dict of str to ndarray of shape (n_draws, *cpt_shape)
    """
    check_parameters(_DRAW_CONSTRAINTS, {"n_draws": n_draws, "seed": seed})
    rng = np.random.default_rng(seed)
    draws: dict[str, np.ndarray] = {}
    for name in spec.network.names:
        cpt = spec.network.cpt(name)
        if name in spec.fixed:
            draws[name] = np.broadcast_to(cpt, (n_draws, *cpt.shape)).copy()
            continue
        alpha = np.asarray(concentration[name], dtype=np.float64)
        g = rng.standard_gamma(np.broadcast_to(alpha, (n_draws, *alpha.shape)))
        total = g.sum(axis=-1, keepdims=True)
        # A row whose draws all underflow (tiny concentrations) keeps its prior mean.
        bad = total <= 0
        g = np.where(bad, cpt, g)
        total = np.where(bad, 1.0, total)
        draws[name] = g / total
    return draws


def load_spec(path: str | os.PathLike[str]) -> ClinicalSpec:
    """Read a specification TOML file; see :func:`parse_spec`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise NetworkError(
            f"Cannot read network specification '{p}': {exc.strerror or exc}."
        ) from None
    return parse_spec(text, name=str(p))


def parse_spec(text: str, *, name: str = "<spec>") -> ClinicalSpec:
    """Parse a specification from TOML text.

    Raises
    ------
    NetworkError
        On TOML syntax errors, unknown keys, unknown variables or states,
        probabilities out of range, rows not summing to 1, missing sources
        or tags, and anything :class:`~npprob.network.Network` rejects.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NetworkError(f"{name}: invalid TOML: {exc}.") from None
    _check_keys(data, {"network", "variables", "cpts"}, name, required={"variables", "cpts"})
    meta = dict(data.get("network", {}))
    earlier = meta.get("earlier_text_sha256", [])
    if not isinstance(earlier, list) or not all(
        isinstance(d, str) and len(d) == 64 and all(c in "0123456789abcdef" for c in d)
        for d in earlier
    ):
        raise NetworkError(f"{name}: earlier_text_sha256 must be a list of SHA-256 hex digests.")
    variables = _parse_variables(data["variables"], name)
    by_name = {v.name: v for v in variables}
    cpt_specs = data["cpts"]
    if not isinstance(cpt_specs, Mapping):
        raise NetworkError(f"{name}: [cpts] must be a table of CPTs by variable name.")
    for var in cpt_specs:
        if var not in by_name:
            raise NetworkError(
                f"{name}: CPT for unknown variable '{var}'.{unknown_name_hint(var, by_name)}",
                variable=var,
            )
    parents: dict[str, tuple[str, ...]] = {}
    means: dict[str, np.ndarray] = {}
    concentration: dict[str, np.ndarray] = {}
    fixed: set[str] = set()
    sources: list[Source] = []
    for v in variables:
        if v.name not in cpt_specs:
            raise NetworkError(f"{name}: variable '{v.name}' has no CPT.", variable=v.name)
        spec = cpt_specs[v.name]
        where = f"{name}: CPT of '{v.name}'"
        if not isinstance(spec, Mapping):
            raise NetworkError(f"{where} must be a table.", variable=v.name)
        kind = spec.get("kind", "table")
        if kind not in _KINDS:
            raise NetworkError(
                f"{where}: unknown kind {kind!r}; expected one of: {format_choices(_KINDS)}.",
                variable=v.name,
            )
        pa = tuple(spec.get("parents", ()))
        for p in pa:
            if p not in by_name:
                raise NetworkError(
                    f"{where}: unknown parent '{p}'.{unknown_name_hint(p, by_name)}",
                    variable=v.name,
                )
        parents[v.name] = pa
        parent_vars = [by_name[p] for p in pa]
        if kind == "table":
            mean, ess, src = _table(spec, v, parent_vars, where)
        elif kind == "noisy_or":
            mean, ess, src = _noisy_or(spec, v, parent_vars, where)
        else:
            mean, src = _deterministic(spec, v, parent_vars, where)
            ess = None
            fixed.add(v.name)
        means[v.name] = mean
        if ess is not None:
            concentration[v.name] = ess[..., None] * mean
        sources.extend(src)
    network = Network(variables, parents, means, name=str(meta.get("name", "clinical")))
    targets = network.with_role(Role.TARGET)
    if len(targets) > 1:
        raise NetworkError(
            f"{name}: {len(targets)} variables have role 'target' "
            f"({', '.join(v.name for v in targets)}); a specification answers one question."
        )
    return ClinicalSpec(
        network=network,
        concentration=concentration,
        fixed=frozenset(fixed),
        sources=tuple(sources),
        meta=meta,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        content_digest=_content_digest(network, concentration),
    )


def _content_digest(network: Network, concentration: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of what a trained model's meaning depends on, in network order.

    Names, states, parents, prior means and concentrations, and each variable's
    part in training and diagnosis: the target and the context with their
    positive states (they decide the selection, the label's orientation and
    the reported probability), hidden or observable. Finding roles (history,
    sign, ...), descriptions, sources and comments are left out.
    """
    h = hashlib.sha256()
    for v in network.variables:
        if v.role in (Role.TARGET, Role.CONTEXT):
            part = f"{v.role}:{v.states[v.positive_index]}"
        else:
            part = "observable" if v.observable else "hidden"
        h.update(repr((v.name, v.states, network.parents(v.name), part)).encode())
        h.update(np.ascontiguousarray(network.cpt(v.name), dtype="<f8").tobytes())
        alpha = concentration.get(v.name)
        h.update(b"fixed" if alpha is None else np.ascontiguousarray(alpha, "<f8").tobytes())
    return h.hexdigest()


# -- pieces ---------------------------------------------------------------------


def _check_keys(
    table: Mapping[str, Any], allowed: set[str], where: str, required: set[str] = frozenset()
) -> None:
    if not isinstance(table, Mapping):
        raise NetworkError(f"{where}: expected a table; got {type(table).__name__}.")
    for key in table:
        if key not in allowed:
            raise NetworkError(
                f"{where}: unknown key '{key}'.{unknown_name_hint(key, allowed)} "
                f"Allowed: {format_choices(sorted(allowed))}."
            )
    for key in required:
        if key not in table:
            raise NetworkError(f"{where}: missing key '{key}'.")


def _parse_variables(table: Any, name: str) -> list[Variable]:
    if not isinstance(table, Mapping) or not table:
        raise NetworkError(f"{name}: [variables] must be a non-empty table of variables.")
    out = []
    roles = [r.value for r in Role]
    for var, body in table.items():
        where = f"{name}: variable '{var}'"
        _check_keys(body, {"states", "role", "description", "labels", "positive"}, where,
                    required={"states"})  # fmt: skip
        states = body["states"]
        if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
            raise NetworkError(
                f"{name}: states of '{var}' must be a list of strings.", variable=var
            )
        role = body.get("role", Role.UNSPECIFIED)
        if role not in roles:
            raise NetworkError(
                f"{where}: unknown role {role!r}.{unknown_name_hint(str(role), roles)} "
                f"Roles: {format_choices(roles)}.",
                variable=var,
            )
        positive = body.get("positive")
        named = len(states) == 2 and any(s.lower() in AFFIRMATIVE_STATES for s in states)
        if positive is None and role in (Role.TARGET, Role.CONTEXT) and not named:
            # Two states named like absent/present say which is which; others must be told.
            raise NetworkError(
                f"{where}: a {role} variable needs 'positive', the state meaning its condition "
                "holds.",
                variable=var,
            )
        if positive is not None and positive not in states:
            raise NetworkError(
                f"{where}: positive state {positive!r} is not one of its states "
                f"({format_choices(states)}).",
                variable=var,
            )
        out.append(Variable(var, tuple(states), role, positive))
    return out


def _source(entry: Mapping[str, Any], variable: str, label: str, where: str) -> Source:
    src = entry.get("source")
    tag = entry.get("tag")
    if not isinstance(src, str) or not src.strip():
        raise NetworkError(f"{where}, {label}: missing 'source'.", variable=variable)
    if tag not in TAGS:
        raise NetworkError(
            f"{where}, {label}: tag {tag!r} is not one of {format_choices(TAGS)}.",
            variable=variable,
        )
    reason = entry.get("reason", "")
    if (tag == "S" or src.strip().lower() == "default") and not str(reason).strip():
        raise NetworkError(
            f"{where}, {label}: a suggested default (tag S) needs a 'reason'.", variable=variable
        )
    return Source(variable, label, src.strip(), tag, str(reason).strip())


def _probability(value: Any, what: str, variable: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NetworkError(f"{what}: expected a probability, got {value!r}.", variable=variable)
    p = float(value)
    if not 0.0 <= p <= 1.0 or p != p:
        raise NetworkError(f"{what}: probability {value!r} is outside [0, 1].", variable=variable)
    return p


def _row_vector(value: Any, var: Variable, what: str) -> np.ndarray:
    if isinstance(value, list):
        if len(value) != var.cardinality:
            raise NetworkError(
                f"{what}: {len(value)} probabilities for {var.cardinality} states "
                f"({format_choices(var.states)}).",
                variable=var.name,
            )
        row = np.array([_probability(x, what, var.name) for x in value])
    elif var.cardinality == 2:
        p = _probability(value, what, var.name)
        row = np.array([1.0 - p, p])
    else:
        raise NetworkError(
            f"{what}: give a list of {var.cardinality} probabilities.", variable=var.name
        )
    if abs(row.sum() - 1.0) > 1e-9:
        raise NetworkError(f"{what}: probabilities sum to {row.sum()!r}, not 1.", variable=var.name)
    return row


def _ess(value: Any, what: str, variable: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise NetworkError(
            f"{what}: 'ess' must be a positive finite number; got {value!r}.", variable=variable
        )
    return float(value)


def _table(spec, var: Variable, parents: list[Variable], where: str):
    _check_keys(
        spec, {"kind", "parents", "ess", "rows", "description"}, where, required={"rows", "ess"}
    )
    default_ess = _ess(spec["ess"], where, var.name)
    shape = tuple(p.cardinality for p in parents)
    mean = np.full((*shape, var.cardinality), np.nan)
    ess = np.full(shape, np.nan)
    sources = []
    default_row = None
    rows = spec["rows"]
    if not isinstance(rows, list) or not rows:
        raise NetworkError(f"{where}: 'rows' must be a non-empty list.", variable=var.name)
    for i, row in enumerate(rows):
        what = f"{where}, row {i + 1}"
        _check_keys(row, {"when", "p", "ess", "source", "tag", "reason", "note"}, what,
                    required={"when", "p"})  # fmt: skip
        vector = _row_vector(row["p"], var, what)
        row_ess = _ess(row.get("ess", default_ess), what, var.name)
        when = row["when"]
        if when == "default":
            if default_row is not None:
                raise NetworkError(f"{what}: a second default row.", variable=var.name)
            default_row = (vector, row_ess)
            sources.append(_source(row, var.name, "default row", what))
            continue
        index = _configuration(when, parents, what, var.name)
        if not np.isnan(ess[index]):
            raise NetworkError(f"{what}: configuration {when} given twice.", variable=var.name)
        mean[index] = vector
        ess[index] = row_ess
        label = ", ".join(f"{k}={v}" for k, v in when.items()) or "root"
        sources.append(_source(row, var.name, label, what))
    missing = np.isnan(ess)
    if missing.any():
        if default_row is None:
            first = tuple(int(i) for i in np.argwhere(missing)[0])
            config = {p.name: p.states[j] for p, j in zip(parents, first, strict=True)}
            raise NetworkError(
                f"{where}: no row for {config} and no default row.", variable=var.name
            )
        mean[missing] = default_row[0]
        ess[missing] = default_row[1]
    return mean, ess, sources


def _configuration(when: Any, parents: list[Variable], what: str, variable: str) -> tuple[int, ...]:
    if not isinstance(when, Mapping):
        raise NetworkError(
            f"{what}: 'when' must be a table of parent states or \"default\".", variable=variable
        )
    names = [p.name for p in parents]
    if set(when) != set(names):
        raise NetworkError(
            f"{what}: 'when' must name exactly the parents {names}; got {sorted(when)}.",
            variable=variable,
        )
    index = []
    for p in parents:
        state = when[p.name]
        if state not in p.states:
            raise NetworkError(
                f"{what}: unknown state {state!r} of '{p.name}'; expected one of: "
                f"{format_choices(p.states)}.",
                variable=variable,
            )
        index.append(p.states.index(state))
    return tuple(index)


def _noisy_or(spec, var: Variable, parents: list[Variable], where: str):
    _check_keys(spec, {"kind", "parents", "ess", "leak", "causes", "description"}, where,
                required={"leak", "causes", "ess"})  # fmt: skip
    if var.cardinality != 2:
        raise NetworkError(f"{where}: a noisy-OR child needs exactly 2 states.", variable=var.name)
    ess_value = _ess(spec["ess"], where, var.name)
    leak_entry = spec["leak"]
    _check_keys(
        leak_entry, {"p", "source", "tag", "reason", "note"}, f"{where}, leak", required={"p"}
    )
    leak = _probability(leak_entry["p"], f"{where}, leak", var.name)
    sources = [_source(leak_entry, var.name, "leak", f"{where}, leak")]
    names = [p.name for p in parents]
    strengths: dict[tuple[int, int], float] = {}
    for i, cause in enumerate(spec["causes"]):
        what = f"{where}, cause {i + 1}"
        _check_keys(cause, {"parent", "state", "p", "source", "tag", "reason", "note"}, what,
                    required={"parent", "state", "p"})  # fmt: skip
        if cause["parent"] not in names:
            raise NetworkError(
                f"{what}: '{cause['parent']}' is not a parent {names}.", variable=var.name
            )
        axis = names.index(cause["parent"])
        if cause["state"] not in parents[axis].states:
            raise NetworkError(
                f"{what}: unknown state {cause['state']!r} of '{cause['parent']}'.",
                variable=var.name,
            )
        key = (axis, parents[axis].states.index(cause["state"]))
        if key in strengths:
            raise NetworkError(f"{what}: this cause is given twice.", variable=var.name)
        strengths[key] = _probability(cause["p"], what, var.name)
        sources.append(_source(cause, var.name, f"{cause['parent']}={cause['state']}", what))
    shape = tuple(p.cardinality for p in parents)
    mean = np.empty((*shape, 2))
    for config in itertools.product(*(range(c) for c in shape)):
        absent = 1.0 - leak
        for axis, state in enumerate(config):
            absent *= 1.0 - strengths.get((axis, state), 0.0)
        mean[config] = (absent, 1.0 - absent)
    return mean, np.full(shape, ess_value), sources


def _deterministic(spec, var: Variable, parents: list[Variable], where: str):
    _check_keys(spec, {"kind", "parents", "function", "inputs", "description", "source", "tag",
                       "reason"}, where, required={"function", "inputs"})  # fmt: skip
    if spec["function"] != "all":
        raise NetworkError(f'{where}: the only deterministic function is "all".', variable=var.name)
    if var.cardinality != 2:
        raise NetworkError(
            f"{where}: a deterministic child needs exactly 2 states.", variable=var.name
        )
    names = [p.name for p in parents]
    required: dict[int, int] = {}
    for inp in spec["inputs"]:
        if (
            inp.get("parent") not in names
            or inp.get("state") not in parents[names.index(inp["parent"])].states
        ):
            raise NetworkError(f"{where}: bad input {inp!r}.", variable=var.name)
        axis = names.index(inp["parent"])
        required[axis] = parents[axis].states.index(inp["state"])
    shape = tuple(p.cardinality for p in parents)
    mean = np.empty((*shape, 2))
    for config in itertools.product(*(range(c) for c in shape)):
        holds = all(config[a] == s for a, s in required.items())
        mean[config] = (0.0, 1.0) if holds else (1.0, 0.0)
    sources = [_source(spec, var.name, "definition", where)]
    return mean, sources
