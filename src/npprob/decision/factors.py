"""Patient factors (comorbidities, co-medication, age) in the patient record.

A patient record carries them under the key ``"patient_factors"``: an object
mapping factor names (``models/contraindications.toml`` ``[factors]``) to true,
false, null (not known) or, for integer factors such as ``age``, a whole number
in the factor's range.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping

from npprob._checks import closest_names
from npprob.decision.treatments import Factor
from npprob.errors import EvidenceError
from npprob.io.patient_record import OVERRIDES_KEY, PATIENT_FACTORS_KEY

__all__ = [
    "OVERRIDES_KEY",
    "RECORD_KEY",
    "factor_from_text",
    "factors_schema",
    "parse_overrides",
    "parse_patient_factors",
    "patient_record_schema_text",
]

#: Key of the patient factors in a JSON patient record.
RECORD_KEY = PATIENT_FACTORS_KEY


def parse_patient_factors(raw: object, definitions: Mapping[str, Factor]) -> dict[str, bool | int]:
    """Check a record's patient factors; unknown (null) factors are left out.

    Parameters
    ----------
    raw : object
        The value of ``"patient_factors"`` (None when the record has none).
    definitions : mapping of str to Factor

    Returns
    -------
    dict
        Factor name to ``bool`` or ``int``.

    Raises
    ------
    EvidenceError
        For a value that is not an object, an unknown factor (close names
        suggested), a value of the wrong type, or an integer out of range.

    Examples
    --------
    >>> from npprob.decision.treatments import Factor
    >>> defs = {"pregnancy": Factor("pregnancy", "", "boolean"),
    ...         "age": Factor("age", "", "integer", "years", 0, 120)}
    >>> parse_patient_factors({"age": 70, "pregnancy": None}, defs)
    {'age': 70}
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise EvidenceError(
            f"'{RECORD_KEY}' must be an object of factor names to true/false/null or "
            f"numbers; got {type(raw).__name__}.",
            variable=RECORD_KEY,
        )
    out: dict[str, bool | int] = {}
    problems = []
    for name, value in raw.items():
        factor = definitions.get(name)
        if factor is None:
            problems.append(f"unknown patient factor {name!r}" + _did_you_mean(name, definitions))
            continue
        if factor.type == "count":
            problems.append(
                f"patient factor {name!r} is counted from {', '.join(factor.counts)}; "
                "set those instead"
            )
            continue
        if value is None:
            continue
        if factor.type == "boolean":
            if not isinstance(value, bool):
                problems.append(
                    f"patient factor {name!r} must be true, false or null; got {_show(value)}"
                )
                continue
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(
                    f"patient factor {name!r} must be a whole number ({factor.unit}); "
                    f"got {_show(value)}"
                )
                continue
            if not factor.minimum <= value <= factor.maximum:
                problems.append(
                    f"patient factor {name!r} = {value} is outside "
                    f"{factor.minimum}-{factor.maximum} {factor.unit}"
                )
                continue
        out[name] = value
    for name in list(out):
        if out[name] is not True:
            continue
        for milder in definitions[name].implies:
            if out.get(milder) is False:
                problems.append(
                    f"patient factor {name!r} is true but {milder!r}, which it implies, is false"
                )
            else:
                out[milder] = True
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise EvidenceError("; ".join(problems[:5]) + more + ".", variable=RECORD_KEY)
    for name, factor in definitions.items():
        count = sum(out.get(c) is True for c in factor.counts) if factor.type == "count" else 0
        if count:
            out[name] = count
    return out


def parse_overrides(raw: object, drugs: Collection[str]) -> tuple[str, ...]:
    """Check a record's treatment overrides: drug ids the clinician chose to rank normally.

    Parameters
    ----------
    raw : object
        The value of ``"treatment_overrides"`` (None when the record has none), or
        the ``--override`` flags.
    drugs : collection of str
        The drug ids of the treatments file.

    Returns
    -------
    tuple of str
        The drug ids, each once, in the order given.

    Raises
    ------
    EvidenceError
        For a value that is not a list of strings, or an unknown drug (close ids
        suggested).

    Examples
    --------
    >>> parse_overrides(["carbamazepine", "carbamazepine"], ["carbamazepine", "tca"])
    ('carbamazepine',)
    """
    if raw is None:
        return ()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, (list, tuple)):
        raise EvidenceError(
            f"'{OVERRIDES_KEY}' must be a list of drug ids; got {_show(raw)}.",
            variable=OVERRIDES_KEY,
        )
    problems = []
    for item in raw:
        if not isinstance(item, str):
            problems.append(f"an override must be a drug id (text); got {_show(item)}")
        elif item not in drugs:
            close = closest_names(item, list(drugs))
            hint = f" (did you mean {' or '.join(repr(c) for c in close)})" if close else ""
            problems.append(f"unknown drug {item!r} in '{OVERRIDES_KEY}'{hint}")
    if problems:
        raise EvidenceError("; ".join(problems[:5]) + ".", variable=OVERRIDES_KEY)
    return tuple(dict.fromkeys(raw))


def factor_from_text(text: str) -> object:
    """A factor value typed as text (``--factor NAME=VALUE``): a boolean, null, a whole number.

    Anything else is returned as the text, for :func:`parse_patient_factors` to
    report against the factor's type.

    Examples
    --------
    >>> [factor_from_text(t) for t in ("yes", "False", "unknown", "70", "old")]
    [True, False, None, 70, 'old']
    """
    lowered = text.strip().lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    if lowered in ("null", "unknown"):
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _show(value: object) -> str:
    # Values as the JSON record spells them (true, "yes"), Python's repr otherwise.
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _did_you_mean(name: str, definitions: Mapping[str, Factor]) -> str:
    close = closest_names(name, list(definitions))
    return f" (did you mean {' or '.join(repr(c) for c in close)})" if close else ""


def factors_schema(definitions: Mapping[str, Factor]) -> dict[str, object]:
    """JSON Schema of the ``"patient_factors"`` object."""
    properties: dict[str, object] = {}
    for name, factor in definitions.items():
        if factor.type == "count":
            continue
        if factor.type == "boolean":
            properties[name] = {"description": factor.description, "type": ["boolean", "null"]}
        else:
            properties[name] = {
                "description": f"{factor.description} ({factor.unit})",
                "type": ["integer", "null"],
                "minimum": factor.minimum,
                "maximum": factor.maximum,
            }
    return {
        "description": (
            "Comorbidities, co-medication and age that exclude treatments or raise their "
            "harm (null = not known)."
        ),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def patient_record_schema_text(network) -> str:
    """The shipped patient-record schema: the network's findings plus ``patient_factors``.

    ``models/patient.schema.json`` holds exactly this text
    (``scripts/write_patient_schema.py`` writes it).
    """
    from npprob.decision.treatments import treatment_files
    from npprob.io.patient_record import SETTING_KEY
    from npprob.io.schema import schema_text
    from npprob.io.settings import care_setting_names

    evidence, contraindications = treatment_files()
    overrides = {
        "description": (
            "Drugs the clinician chose to rank normally despite a strong relative "
            "contraindication or a guideline against them in the condition; the output "
            "says so. Absolute contraindications cannot be overridden."
        ),
        "type": "array",
        "items": {"enum": list(evidence.drugs)},
        "uniqueItems": True,
    }
    setting = {
        "description": (
            "Care setting whose case mix is the prior of the patient's condition "
            "(models/cohort_settings.toml); default: the case mix the model carries."
        ),
        "enum": care_setting_names(network),
    }
    return schema_text(
        network,
        title="npprob patient record",
        extra_properties={
            RECORD_KEY: factors_schema(contraindications.factors),
            OVERRIDES_KEY: overrides,
            SETTING_KEY: setting,
        },
    )
