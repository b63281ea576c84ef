"""The clinician's form, generated from the network specification and the patient schema.

Nothing here is written field by field: every finding the network lets a record
give becomes a field with its states and its description from ``network.toml``,
grouped by its role; the care settings and patient factors come from the patient
schema. A submitted form becomes the same JSON record ``npprob diagnose`` reads,
and is checked by the same rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from npprob.errors import EvidenceError
from npprob.io.patients import observable_variables
from npprob.io.resources import clinical_spec_path, patient_schema_path
from npprob.io.tomlfile import read_toml
from npprob.network.network import Network

__all__ = ["Field", "FormGroup", "form_groups", "record_from_form", "form_values"]

#: Form sections in page order: (title, roles of the findings they hold).
SECTIONS = (
    ("History", ("history",)),
    ("Lesion evidence", ("lesion_evidence",)),
    ("Bedside signs", ("sign",)),
    ("Symptoms", ("symptom",)),
)

#: Prefix of the patient-factor fields.
FACTOR_PREFIX = "factor."

#: The form's value for "not examined" / "not known".
NOT_GIVEN = ""


@dataclass(frozen=True)
class Field:
    """One input of the form.

    Attributes
    ----------
    name : str
        The form field's name (a finding, ``setting``, ``id`` or ``factor.NAME``).
    label : str
        What the page shows.
    help : str
        The description from ``network.toml`` or the schema.
    kind : str
        ``"choice"`` (radio buttons, two or three states), ``"select"`` (many
        states), ``"number"`` or ``"text"``.
    options : tuple of (value, label) pairs
        The choices, ``("", "not examined")`` first for findings.
    minimum, maximum : int or None
        Bounds of a number.
    """

    name: str
    label: str
    help: str
    kind: str
    options: tuple[tuple[str, str], ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class FormGroup:
    """A titled section of fields."""

    title: str
    fields: tuple[Field, ...]


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


@lru_cache(maxsize=1)
def _descriptions() -> dict[str, str]:
    variables = read_toml(clinical_spec_path(), "network specification").get("variables", {})
    return {name: str(body.get("description", "")) for name, body in variables.items()}


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(patient_schema_path().read_text(encoding="utf-8"))


def form_groups(network: Network) -> tuple[FormGroup, ...]:
    """The form's sections: setting, each role's findings, patient factors, the record's id.

    Parameters
    ----------
    network : Network
        The clinical network; every observable finding gets a field.
    """
    schema = _schema()["properties"]
    descriptions = _descriptions()
    observable = observable_variables(network)
    groups = [
        FormGroup(
            "Setting",
            (
                Field(
                    "setting",
                    "Care setting",
                    schema["setting"]["description"],
                    "select",
                    (
                        (NOT_GIVEN, "not given (the model's case mix)"),
                        *((s, _label(s)) for s in schema["setting"]["enum"]),
                    ),
                ),
            ),
        )
    ]
    for title, roles in SECTIONS:
        fields = []
        for var in observable:
            if str(var.role) not in roles:
                continue
            states = tuple((s, s.replace("_", " ")) for s in var.states)
            kind = "choice" if len(var.states) <= 3 else "select"
            fields.append(
                Field(
                    var.name,
                    _label(var.name),
                    descriptions.get(var.name, ""),
                    kind,
                    ((NOT_GIVEN, "not examined"), *states),
                )
            )
        groups.append(FormGroup(title, tuple(fields)))
    factors = []
    for name, body in schema["patient_factors"]["properties"].items():
        types = body.get("type", [])
        if "boolean" in types:
            factors.append(
                Field(
                    FACTOR_PREFIX + name,
                    body.get("description", _label(name)),
                    "",
                    "choice",
                    ((NOT_GIVEN, "not known"), ("false", "no"), ("true", "yes")),
                )
            )
        elif "integer" in types:
            factors.append(
                Field(
                    FACTOR_PREFIX + name,
                    body.get("description", _label(name)),
                    "",
                    "number",
                    minimum=body.get("minimum"),
                    maximum=body.get("maximum"),
                )
            )
    groups.append(FormGroup("Patient factors", tuple(factors)))
    groups.append(
        FormGroup(
            "Record",
            (Field("id", "Patient identifier", schema["id"]["description"], "text"),),
        )
    )
    return tuple(groups)


def record_from_form(form: Mapping[str, str], network: Network) -> dict[str, Any]:
    """The JSON patient record a submitted form stands for.

    Empty fields are left out (not examined, not known). Values are kept as the
    strings typed or chosen, so an unknown field or state, a non-number age or an
    out-of-range value is refused by the record rules with the CLI's message.

    Raises
    ------
    EvidenceError
        On a field the form does not have, or a patient factor that is not a
        whole number or true/false.
    """
    known = {f.name: f for g in form_groups(network) for f in g.fields}
    record: dict[str, Any] = {}
    factors: dict[str, Any] = {}
    for name, value in form.items():
        value = value.strip()
        if value == NOT_GIVEN:
            continue
        field = known.get(name)
        if field is None:
            raise EvidenceError(f"unknown form field '{name}'.")
        if name.startswith(FACTOR_PREFIX):
            factor = name[len(FACTOR_PREFIX) :]
            if field.kind == "number":
                # ASCII digits only, as the JSON rules read a number (int() would also
                # take '7_0' and other scripts' digits).
                if not re.fullmatch(r"-?[0-9]{1,9}", value):
                    shown = value if len(value) <= 20 else value[:17] + "..."
                    raise EvidenceError(
                        f"patient factor '{factor}' must be a whole number; got {shown!r}."
                    )
                factors[factor] = int(value)
            elif value in ("true", "false"):
                factors[factor] = value == "true"
            else:
                raise EvidenceError(
                    f"patient factor '{factor}' must be true, false or not known; got {value!r}."
                )
        else:
            record[name] = value
    if factors:
        record["patient_factors"] = factors
    return record


def form_values(record: Mapping[str, Any], network: Network) -> dict[str, str]:
    """A record's values as form fields (the inverse of :func:`record_from_form`).

    ``true``/``false`` for a two-state finding become its state names, as the
    record rules read them.
    """
    values: dict[str, str] = {}
    for key, value in record.items():
        if key == "patient_factors" and isinstance(value, Mapping):
            for name, v in value.items():
                if v is None:
                    continue
                values[FACTOR_PREFIX + name] = (
                    ("true" if v else "false") if isinstance(v, bool) else str(v)
                )
        elif isinstance(value, bool) and key in network:
            states = network.variable(key).boolean_states
            if states is not None:
                values[key] = states[int(value)]
        elif isinstance(value, str):
            values[key] = value
    return values
