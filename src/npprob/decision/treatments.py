"""The treatment evidence and contraindication files: read, check, and hold.

``models/treatments.toml`` gives each drug's NNT (at least 50 % relief versus
placebo) and NNH (adverse-event dropout) with 95 % intervals in two evidence
sets, condition-specific values, the effect in non-neuropathic pain, the line
of therapy, and the contexts that gate topical treatments.
``models/contraindications.toml`` gives the patient factors, the severity
classes and the rules. Every number there carries its source and tag; this
module only checks the files and turns them into frozen objects.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from npprob.errors import DataFileError, ModelFileError
from npprob.io.tomlfile import read_toml as _read_toml

__all__ = [
    "SEVERITIES",
    "ConditionEffect",
    "Contraindications",
    "Drug",
    "Effect",
    "Factor",
    "LongTermHarm",
    "Rule",
    "TreatmentEvidence",
    "load_contraindications",
    "load_treatments",
    "treatment_files",
]

#: Severity classes, most severe first.
SEVERITIES = ("absolute", "strong_relative", "caution")
_SCOPES = ("all", "peripheral_localized")


@dataclass(frozen=True)
class Effect:
    """A number needed (to treat or harm) with its 95 % interval, and provenance."""

    point: float
    interval: tuple[float, float]
    source: str
    tag: str


@dataclass(frozen=True)
class ConditionEffect:
    """Condition-specific efficacy (and optionally harm) for some aetiologies."""

    aetiology: tuple[str, ...]
    nnt: Effect
    nnh: Effect | None
    first_choice: bool
    note: str
    evidence_sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class LongTermHarm:
    """A harm of long-term use that short trials' dropout NNHs miss (misuse, overdose, falls).

    ``nnh`` is the number of patients treated for one such harm (its reciprocal
    is the risk over about a year of use); ``weight`` says how many adverse-event
    dropouts one such harm is worth. With ``factor`` it applies only to patients
    with that factor (integer factors from ``minimum``), otherwise to everyone.
    """

    name: str
    nnh: Effect
    weight: float
    factor: str | None = None
    minimum: int | None = None
    note: str = ""

    def applies(self, factors: Mapping[str, object]) -> bool:
        """Whether the harm counts for a patient with these (checked) factors."""
        if self.factor is None:
            return True
        return _factor_holds(factors.get(self.factor), self.minimum)


@dataclass(frozen=True)
class Drug:
    """One treatment and its evidence."""

    id: str
    name: str
    drug_class: str
    line: int
    recommendation: str
    route: str
    scope: str
    serotonergic: bool
    nnt: Mapping[str, Effect]
    nnh: Mapping[str, Effect]
    non_neuropathic_nnt: Effect
    conditions: tuple[ConditionEffect, ...]
    price: str | None = None
    dosing_burden: str | None = None
    short_name: str = ""
    source: str = ""
    tag: str = ""
    dosing: Mapping[str, str] = field(default_factory=dict)
    nociplastic_nnt: Effect | None = None
    long_term_harms: tuple[LongTermHarm, ...] = ()
    evidence_group: str = ""

    @property
    def label(self) -> str:
        """The name to print: the short name, else the full name."""
        return self.short_name or self.name

    def condition(self, aetiology: str | None, evidence_set: str) -> ConditionEffect | None:
        """The condition-specific entry for an aetiology within an evidence set, if any."""
        for entry in self.conditions:
            if aetiology in entry.aetiology and evidence_set in entry.evidence_sets:
                return entry
        return None


@dataclass(frozen=True)
class TreatmentEvidence:
    """Every drug, the evidence sets, and the contexts gating topical drugs."""

    drugs: Mapping[str, Drug]
    evidence_sets: tuple[str, ...]
    default_evidence: str
    contexts: Mapping[str, Mapping[str, object]]
    first_choice: Mapping[str, Mapping[str, object]]
    path: Path
    first_choice_min_p: float = 0.5
    condition_variable: str = "aetiology"
    nociplastic_variable: str | None = None
    tiered_sets: tuple[str, ...] = ()
    lines: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Factor:
    """A patient factor: boolean, integer with a unit and range, or a count of other factors.

    A ``count`` factor is never given: it is the number of the factors in
    ``counts`` that are true for the patient (for example how many serotonergic
    drugs the patient already takes).
    """

    name: str
    description: str
    type: str
    unit: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    implies: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()


def _factor_holds(value: object, minimum: int | None) -> bool:
    """A boolean factor that is true, or an integer factor at or above ``minimum``."""
    if isinstance(value, (bool, np.bool_)):
        return minimum is None and bool(value)
    if minimum is not None and isinstance(value, (int, np.integer)):
        return int(value) >= minimum
    return False


@dataclass(frozen=True)
class Rule:
    """A contraindication: drugs, the factor that fires it, severity, reason.

    ``requires`` lists further boolean factors that must all be true, ``unless``
    boolean factors any of which stops the rule (for example HLA-B*15:02 excludes
    carbamazepine unless the patient has taken it safely before). A rule with a
    ``benefit_multiplier`` lowers the drug's benefit (lost analgesia) instead of
    raising its harm.
    """

    drugs: tuple[str, ...]
    factor: str
    severity: str
    reason: str
    source: str
    tag: str
    minimum: int | None = None
    requires: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    benefit_multiplier: float | None = None

    def fires(self, factors: Mapping[str, object]) -> bool:
        """Whether the patient's factors trigger this rule."""
        if not _factor_holds(factors.get(self.factor), self.minimum):
            return False
        if not all(factors.get(name) is True for name in self.requires):
            return False
        return not any(factors.get(name) is True for name in self.unless)


@dataclass(frozen=True)
class Contraindications:
    """Patient factors, severity classes and rules."""

    factors: Mapping[str, Factor]
    severity: Mapping[str, Mapping[str, float]]
    rules: tuple[Rule, ...]
    path: Path


def read_toml(path: Path, what: str) -> dict:
    """A shipped model file's TOML; every problem raises :class:`ModelFileError`."""
    try:
        return _read_toml(path, what)
    except DataFileError as exc:
        raise ModelFileError(str(exc), path=exc.path) from None


def _effect(table: Mapping, key: str, where: str, source: str, tag: str) -> Effect:
    point = table.get(key)
    interval = table.get(f"{key}_ci")
    if not isinstance(point, (int, float)) or isinstance(point, bool) or not math.isfinite(point):
        raise ModelFileError(f"{where}: '{key}' must be a finite number; got {point!r}.")
    if (
        not isinstance(interval, list)
        or len(interval) != 2
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in interval
        )
    ):
        raise ModelFileError(f"{where}: '{key}_ci' must be two finite numbers [lower, upper].")
    low, high = float(interval[0]), float(interval[1])
    # An NNT of 1 is a risk difference of 1: no distribution on (0, 1) reaches it.
    if not 1.0 < low <= float(point) <= high:
        raise ModelFileError(
            f"{where}: '{key}' must satisfy 1 < lower <= {key} <= upper; "
            f"got {point} ({low}-{high})."
        )
    return Effect(float(point), (low, high), str(source), str(tag))


def _condition_sets(table: Mapping, sets: tuple[str, ...], where: str) -> tuple[str, ...]:
    chosen = tuple(table.get("evidence_sets", sets))
    unknown = sorted(set(chosen) - set(sets))
    if unknown or not chosen:
        raise ModelFileError(f"{where}: unknown or no evidence_sets {unknown}.")
    return chosen


def load_treatments(path: str | os.PathLike[str] | None = None) -> TreatmentEvidence:
    """Read and check the treatments file (default: the shipped one).

    Raises
    ------
    ModelFileError
        On invalid TOML, a missing field, an interval that does not contain its
        value, an unknown scope, or an evidence set missing for a drug.
    """
    from npprob.io.resources import models_dir

    p = Path(path) if path is not None else models_dir() / "treatments.toml"
    data = read_toml(p, "treatments file")
    meta = data.get("meta", {})
    sets = tuple(meta.get("evidence_sets", ()))
    default = meta.get("default_evidence")
    if not sets or default not in sets:
        raise ModelFileError(f"{p}: [meta] needs evidence_sets and a default_evidence among them.")
    drugs = {}
    for key, body in data.get("drugs", {}).items():
        where = f"{p}: drug '{key}'"
        missing = {"name", "drug_class", "line", "route", "scope", "evidence", "non_neuropathic"}
        missing -= set(body)
        if missing:
            raise ModelFileError(f"{where}: missing {sorted(missing)}.")
        if body["scope"] not in _SCOPES:
            raise ModelFileError(f"{where}: scope must be one of {_SCOPES}; got {body['scope']!r}.")
        nnt, nnh = {}, {}
        for name in sets:
            table = body["evidence"].get(name)
            if table is None:
                raise ModelFileError(f"{where}: no evidence set '{name}'.")
            at = f"{where}, evidence '{name}'"
            nnt[name] = _effect(table, "nnt", at, table.get("source", ""), table.get("tag", ""))
            nnh[name] = _effect(table, "nnh", at, table.get("source", ""), table.get("tag", ""))
        nn = body["non_neuropathic"]
        conditions = []
        for k, c in enumerate(body.get("condition", [])):
            at = f"{where}, condition {k + 1}"
            conditions.append(
                ConditionEffect(
                    aetiology=tuple(c.get("aetiology", ())),
                    nnt=_effect(c, "nnt", at, c.get("source", ""), c.get("tag", "")),
                    nnh=_effect(c, "nnh", at, c.get("source", ""), c.get("tag", ""))
                    if "nnh" in c
                    else None,
                    first_choice=bool(c.get("first_choice", False)),
                    note=str(c.get("note", "")),
                    evidence_sets=_condition_sets(c, sets, at),
                )
            )
        harms = []
        for k, h in enumerate(body.get("long_term_harm", [])):
            at = f"{where}, long_term_harm {k + 1}"
            weight = h.get("weight")
            if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
                raise ModelFileError(f"{at}: 'weight' must be a finite number >= 0.")
            harms.append(
                LongTermHarm(
                    name=str(h.get("name", "")),
                    nnh=_effect(h, "nnh", at, h.get("source", ""), h.get("tag", "")),
                    weight=float(weight),
                    factor=h.get("factor"),
                    minimum=h.get("minimum"),
                    note=str(h.get("note", "")),
                )
            )
        dosing = body.get("dosing", {})
        if not isinstance(dosing, Mapping):
            raise ModelFileError(f"{where}: 'dosing' must be a table.")
        npl = body.get("nociplastic")
        drugs[key] = Drug(
            id=key,
            name=str(body["name"]),
            drug_class=str(body["drug_class"]),
            line=int(body["line"]),
            recommendation=str(body.get("recommendation", "")),
            route=str(body["route"]),
            scope=str(body["scope"]),
            serotonergic=bool(body.get("serotonergic", False)),
            nnt=nnt,
            nnh=nnh,
            non_neuropathic_nnt=_effect(
                nn, "nnt", f"{where}, non_neuropathic", nn.get("source", ""), nn.get("tag", "")
            ),
            conditions=tuple(conditions),
            price=body.get("price"),
            dosing_burden=body.get("dosing_burden"),
            short_name=str(body.get("short_name", "")),
            source=str(body.get("source", "")),
            tag=str(body.get("tag", "")),
            dosing={str(k): str(v) for k, v in dosing.items()},
            nociplastic_nnt=None
            if npl is None
            else _effect(
                npl, "nnt", f"{where}, nociplastic", npl.get("source", ""), npl.get("tag", "")
            ),
            long_term_harms=tuple(harms),
            evidence_group=str(body.get("evidence_group", body["drug_class"])),
        )
    if not drugs:
        raise ModelFileError(f"{p}: no [drugs.*] tables.")
    first_choice = data.get("first_choice", {})
    for key, body in first_choice.items():
        unknown = sorted(set(body.get("drugs", ())) - set(drugs))
        if unknown:
            raise ModelFileError(f"{p}: first_choice '{key}' names unknown drugs {unknown}.")
    min_p = data.get("ranking", {}).get("first_choice_min_p_neuropathic", 0.5)
    if not isinstance(min_p, (int, float)) or not 0.0 <= min_p <= 1.0:
        raise ModelFileError(f"{p}: [ranking] first_choice_min_p_neuropathic must be in [0, 1].")
    tiered = tuple(meta.get("tiered_evidence_sets", ()))
    if set(tiered) - set(sets):
        raise ModelFileError(f"{p}: [meta] tiered_evidence_sets names unknown sets.")
    lines = {}
    for key, label in data.get("lines", {}).items():
        try:
            lines[int(key)] = str(label)
        except ValueError:
            raise ModelFileError(f"{p}: [lines] keys are line numbers; got {key!r}.") from None
    return TreatmentEvidence(
        drugs, sets, default, data.get("contexts", {}), first_choice, p, float(min_p),
        condition_variable=str(meta.get("condition_variable", "aetiology")),
        nociplastic_variable=meta.get("nociplastic_variable"),
        tiered_sets=tiered,
        lines=lines,
    )  # fmt: skip


def load_contraindications(
    drugs: Mapping[str, Drug], path: str | os.PathLike[str] | None = None
) -> Contraindications:
    """Read and check the contraindications file against the drugs.

    Raises
    ------
    ModelFileError
        On invalid TOML, an unknown drug, factor or severity, or a bad factor type.
    """
    from npprob.io.resources import models_dir

    p = Path(path) if path is not None else models_dir() / "contraindications.toml"
    data = read_toml(p, "contraindications file")
    severity = data.get("severity", {})
    if set(severity) != set(SEVERITIES):
        raise ModelFileError(f"{p}: [severity] must define exactly {list(SEVERITIES)}.")
    for name, body in severity.items():
        for key in ("harm_multiplier", "serious_harm_risk"):
            value = body.get(key)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ModelFileError(
                    f"{p}: severity '{name}' needs a finite {key} >= 0; got {value!r}."
                )
    factors = {}
    for name, body in data.get("factors", {}).items():
        kind = body.get("type")
        if kind not in ("boolean", "integer", "count"):
            raise ModelFileError(f"{p}: factor '{name}' type must be boolean, integer or count.")
        factors[name] = Factor(
            name,
            str(body.get("description", "")),
            kind,
            body.get("unit"),
            body.get("minimum"),
            body.get("maximum"),
            tuple(body.get("implies", ())),
            tuple(body.get("counts", ())),
        )
    for name, factor in factors.items():
        unknown = sorted(set(factor.implies) - set(factors))
        if unknown or (factor.implies and factor.type != "boolean"):
            raise ModelFileError(f"{p}: factor '{name}' implies unknown or non-boolean {unknown}.")
        counted = [factors.get(c) for c in factor.counts]
        if (factor.type == "count") != bool(factor.counts) or any(
            c is None or c.type != "boolean" for c in counted
        ):
            raise ModelFileError(
                f"{p}: factor '{name}': count factors (only) list boolean factors in 'counts'."
            )
    rules = []
    for k, body in enumerate(data.get("rules", [])):
        where = f"{p}: rule {k + 1}"
        unknown = sorted(set(body.get("drugs", ())) - set(drugs))
        if unknown or not body.get("drugs"):
            raise ModelFileError(f"{where}: unknown or no drugs {unknown}.")
        if body.get("factor") not in factors:
            raise ModelFileError(f"{where}: unknown factor {body.get('factor')!r}.")
        if body.get("severity") not in SEVERITIES:
            raise ModelFileError(f"{where}: severity must be one of {list(SEVERITIES)}.")
        factor = factors[body["factor"]]
        if (factor.type in ("integer", "count")) != ("minimum" in body):
            raise ModelFileError(f"{where}: integer and count factors (only) need a 'minimum'.")
        for key in ("requires", "unless"):
            bad = [n for n in body.get(key, ()) if getattr(factors.get(n), "type", "") != "boolean"]
            if bad:
                raise ModelFileError(f"{where}: '{key}' names unknown or non-boolean {bad}.")
        rules.append(
            Rule(
                tuple(body["drugs"]),
                body["factor"],
                body["severity"],
                str(body.get("reason", "")),
                str(body.get("source", "")),
                str(body.get("tag", "")),
                body.get("minimum"),
                tuple(body.get("requires", ())),
                tuple(body.get("unless", ())),
                _benefit_multiplier(body, where),
            )
        )
    for drug in drugs.values():
        for harm in drug.long_term_harms:
            known = factors.get(harm.factor) if harm.factor is not None else None
            if harm.factor is not None and (
                known is None or (known.type != "boolean") != (harm.minimum is not None)
            ):
                raise ModelFileError(
                    f"{p}: drug '{drug.id}' long-term harm '{harm.name}' names unknown factor "
                    f"{harm.factor!r} (or lacks the minimum an integer factor needs)."
                )
    return Contraindications(factors, severity, tuple(rules), p)


def _benefit_multiplier(body: Mapping, where: str) -> float | None:
    value = body.get("benefit_multiplier")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ModelFileError(f"{where}: 'benefit_multiplier' must be a number in [0, 1].")
    return float(value)


def treatment_files(
    treatments_path: str | os.PathLike[str] | None = None,
    contraindications_path: str | os.PathLike[str] | None = None,
) -> tuple[TreatmentEvidence, Contraindications]:
    """Both files, parsed once per process (default: the shipped ones).

    The objects are frozen read-only data, so callers share them.
    """
    # One cache entry however the paths are passed (positionally, by keyword, or left
    # out): the two files took a tenth of a second to parse again for every spelling.
    return _treatment_files(
        None if treatments_path is None else str(treatments_path),
        None if contraindications_path is None else str(contraindications_path),
    )


@functools.lru_cache(maxsize=8)
def _treatment_files(
    treatments_path: str | None, contraindications_path: str | None
) -> tuple[TreatmentEvidence, Contraindications]:
    evidence = load_treatments(treatments_path)
    return evidence, load_contraindications(evidence.drugs, contraindications_path)
