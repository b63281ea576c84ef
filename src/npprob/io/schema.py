"""JSON Schema (draft 2020-12) of one patient record for a network.

The schema describes what :func:`npprob.io.patients.parse_patient_json`
accepts, for form builders, editors and other languages: a JSON object whose
keys are the network's observable variables (plus ``"id"``, ``"comment"``,
``"notes"`` and ``"$schema"``), each a state name, null (unobserved) or, for
two-state variables, a boolean. Every record the reader accepts is valid under
the schema; the reader additionally rejects duplicate keys and NaN/Infinity,
which a schema cannot see once the JSON is decoded.

Building the schema needs no third-party package; validating against it
needs one (such as ``jsonschema``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from npprob.errors import EvidenceError
from npprob.io.patient_record import METADATA_KEYS, observable_by_name
from npprob.network.network import Network
from npprob.network.variable import Variable

__all__ = ["SCHEMA_DIALECT", "patient_schema", "schema_text", "write_schema"]

#: The ``$schema`` URI of the generated schemas.
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_METADATA_DESCRIPTIONS = {
    "id": "Patient identifier, returned with the results; not used by inference.",
    "comment": "Free-text comment; not used by inference.",
    "notes": "Free-text notes; not used by inference.",
}


def _describe(variable: Variable) -> str:
    """A description of a variable for clinicians: role, states, boolean meaning."""
    states = ", ".join(f"'{s}'" for s in variable.states)
    parts = [f"'{variable.name}' (role: {variable.role}). States: {states}."]
    pair = variable.boolean_states
    if pair is not None:
        parts.append(f"true means '{pair[1]}', false means '{pair[0]}'.")
    parts.append("null or a missing key means not observed.")
    return " ".join(parts)


def _property(variable: Variable) -> dict[str, Any]:
    pair = variable.boolean_states
    enum: list[Any] = [*variable.states, None]
    types = ["string", "null"]
    if pair is not None:
        enum += [False, True]
        types.append("boolean")
    return {"description": _describe(variable), "type": types, "enum": enum}


def patient_schema(
    network: Network,
    *,
    title: str | None = None,
    extra_properties: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one patient record for ``network``.

    Parameters
    ----------
    network : Network
        Its observable variables (:attr:`~npprob.network.Variable.observable`)
        become the record's properties, each an ``enum`` of its state names
        and null, and for two-state variables also ``true`` and ``false`` (see
        :attr:`npprob.network.Variable.boolean_states`).
    title : str, optional
        The schema's ``title``; by default ``"Patient record for <network name>"``.
    extra_properties : mapping of str to dict, optional
        More properties (name to subschema), e.g. site-specific metadata.
        Pass their names as ``extra_keys`` to the readers so they accept them.

    Returns
    -------
    dict
        The schema; ``additionalProperties`` is false, no property is required.

    Raises
    ------
    EvidenceError
        When an extra property has the name of a variable or of a metadata key,
        or its subschema is not a mapping.
    NetworkError
        When an observable variable is named like a metadata key.

    Examples
    --------
    >>> from npprob.network import Network, Variable
    >>> net = Network(
    ...     [Variable("nerve_damage", ("no", "yes"), role="latent"),
    ...      Variable("numbness", ("absent", "present"), role="finding")],
    ...     {"numbness": ["nerve_damage"]},
    ...     {"nerve_damage": [0.7, 0.3], "numbness": [[0.9, 0.1], [0.2, 0.8]]},
    ... )
    >>> schema = patient_schema(net)
    >>> sorted(schema["properties"])
    ['$schema', 'comment', 'id', 'notes', 'numbness']
    >>> schema["properties"]["numbness"]["enum"]
    ['absent', 'present', None, False, True]
    """
    observable = observable_by_name(network)
    properties: dict[str, Any] = {
        "$schema": {
            "description": "URI of this schema, so editors can validate the record; ignored.",
            "type": "string",
        }
    }
    for key in METADATA_KEYS:
        properties[key] = {"description": _METADATA_DESCRIPTIONS[key], "type": "string"}
    for name, variable in observable.items():
        properties[name] = _property(variable)
    for key, subschema in (extra_properties or {}).items():
        if key in properties or key in network:
            raise EvidenceError(
                f"extra property '{key}' clashes with a variable or metadata key of the "
                f"patient record.",
                variable=key,
            )
        if not isinstance(subschema, Mapping):
            raise EvidenceError(
                f"extra property '{key}' must map to a JSON Schema object; "
                f"got {type(subschema).__name__}.",
                variable=key,
            )
        properties[key] = dict(subschema)
    roles = sorted({v.role for v in observable.values()})
    hidden = [v.name for v in network.variables if v.name not in observable]
    description = (
        f"One patient's findings for network '{network.name}': each key is an observable "
        f"variable ({', '.join(roles) or 'none'}) and each value a state name, null when not "
        f"observed, or for two-state variables a boolean."
    )
    if hidden:
        description += f" Not observable, so not allowed: {', '.join(hidden)}."
    return {
        "$schema": SCHEMA_DIALECT,
        "title": title if title is not None else f"Patient record for {network.name}",
        "description": description,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def schema_text(
    network: Network,
    *,
    title: str | None = None,
    extra_properties: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """:func:`patient_schema` as deterministic JSON text.

    Keys sorted, two-space indent, non-ASCII kept, one trailing newline: the
    same network and arguments always give the same text.
    """
    schema = patient_schema(network, title=title, extra_properties=extra_properties)
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_schema(
    network: Network,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    extra_properties: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write :func:`schema_text` to ``path`` as UTF-8.

    Writing twice gives the same bytes.

    Parameters
    ----------
    network : Network
    path : path
        Output file, conventionally ``*.schema.json``.
    title, extra_properties
        See :func:`patient_schema`.
    """
    text = schema_text(network, title=title, extra_properties=extra_properties)
    Path(path).write_bytes(text.encode("utf-8"))
