"""One patient as it crosses the layers: evidence codes, patient factors, metadata.

A :class:`PatientRecord` is made once, where the patient enters (a JSON file,
standard input, a Python mapping, command-line flags), and from then on every
layer reads its codes: diagnosis never converts names again, and treatment
ranking reads the patient factors it carries.

A record's keys are the network's observable variables (see
:attr:`~npprob.network.Variable.observable`), the metadata keys ``"id"``,
``"comment"`` and ``"notes"`` (strings), ``"$schema"`` (a string, ignored) and
``"patient_factors"`` (comorbidities, co-medication, age; checked by the
decision layer against its own definitions) and ``"treatment_overrides"`` (drug
ids, also checked by the decision layer).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from npprob._checks import unknown_name_hint
from npprob.errors import EvidenceError, NetworkError
from npprob.io.findings import (
    decode_codes,
    json_type,
    short,
    text_code,
    unobservable_problem,
    value_code,
)
from npprob.network.evidence import UNOBSERVED, EvidenceBatch
from npprob.network.network import Network
from npprob.network.variable import Variable

__all__ = [
    "METADATA_KEYS",
    "OVERRIDES_KEY",
    "PATIENT_FACTORS_KEY",
    "RECORD_EXTRA_KEYS",
    "SETTING_KEY",
    "RESERVED_KEYS",
    "SCHEMA_KEY",
    "PatientRecord",
    "join_problems",
    "record_codes",
]

#: Keys of a patient record that are not findings, returned as metadata.
METADATA_KEYS = ("id", "comment", "notes")

#: Key of a record's patient factors (comorbidities, co-medication, age): used
#: by treatment ranking, never by diagnosis.
PATIENT_FACTORS_KEY = "patient_factors"

#: Key of a record's treatment overrides (drug ids the clinician chose to rank
#: normally despite a strong relative contraindication): used by treatment ranking only.
OVERRIDES_KEY = "treatment_overrides"

#: Key of a record's care setting (a setting of models/cohort_settings.toml): the case
#: mix used as the prior of the patient's condition.
SETTING_KEY = "setting"

#: Keys a JSON patient record may carry beside findings and metadata.
RECORD_EXTRA_KEYS = (PATIENT_FACTORS_KEY, OVERRIDES_KEY, SETTING_KEY)

#: Lets an editor find the record's schema; accepted and not returned.
SCHEMA_KEY = "$schema"

#: Keys no observable variable may be called.
RESERVED_KEYS = (*METADATA_KEYS, SCHEMA_KEY)

#: At most this many problems are listed in one message.
MAX_PROBLEMS = 5


def join_problems(problems: list[str]) -> str:
    """The first few problems on one line, with how many more there were."""
    shown = "; ".join(problems[:MAX_PROBLEMS])
    if len(problems) > MAX_PROBLEMS:
        shown += f"; and {len(problems) - MAX_PROBLEMS} more problem(s)"
    return shown


def _hint(name: str, valid: Iterable[str]) -> str:
    """``' (did you mean 'x'?)'`` or an empty string, to go inside a sentence."""
    hint = unknown_name_hint(name, valid).strip()
    return f" ({hint[0].lower()}{hint[1:]})" if hint else ""


def observable_by_name(network: Network) -> dict[str, Variable]:
    """Observable variables by name; raises when one is named like a metadata key."""
    found = {v.name: v for v in network.observable}
    for key in RESERVED_KEYS:
        if key in found:
            raise NetworkError(
                f"Observable variable '{key}' has the name of a JSON patient-record metadata "
                f"key ({', '.join(RESERVED_KEYS)}); rename it to use JSON patient records.",
                variable=key,
            )
    return found


def record_codes(
    record: Mapping[str, Any],
    network: Network,
    *,
    name: str = "<record>",
    extra_keys: Collection[str] = (),
) -> tuple[np.ndarray, dict[str, Any]]:
    """The codes and metadata of one patient record (a decoded JSON object or a mapping).

    Every problem of the record is collected and reported in one
    :class:`~npprob.errors.EvidenceError` naming ``name`` and the first key.

    Returns
    -------
    codes : ndarray of int16, shape (n_variables,)
    metadata : dict
        ``"id"``, ``"comment"``, ``"notes"`` (str or None) and the ``extra_keys`` present.
    """
    observable = observable_by_name(network)
    extra = set(extra_keys) - set(RESERVED_KEYS)
    clash = sorted(extra & set(observable))
    if clash:
        raise EvidenceError(
            f"extra_keys names variable(s) of the network: {', '.join(clash)}.", variable=clash[0]
        )
    codes = np.full(len(network), UNOBSERVED, dtype=np.int16)
    metadata: dict[str, Any] = dict.fromkeys(METADATA_KEYS)
    problems: list[str] = []
    first_key: str | None = None
    for key, value in record.items():
        problem: str | None = None
        if key in observable:
            code, problem = value_code(observable[key], value)
            codes[network.index(key)] = code
        elif key in RESERVED_KEYS:
            if isinstance(value, str):
                if key != SCHEMA_KEY:
                    metadata[key] = value
            else:
                problem = f"{short(key)} must be a string, not {json_type(value)} {short(value)}"
        elif key in extra:
            metadata[key] = value
        elif isinstance(key, str) and key in network:
            problem = unobservable_problem(network.variable(key))
        elif len(problems) >= MAX_PROBLEMS:
            # Only the first problems are shown: a suggestion for each of a million
            # unknown keys would cost minutes before the error.
            problem = f"unknown finding {short(key)}"
        else:
            problem = f"unknown finding {short(key)}" + _hint(
                str(key), [*observable, *METADATA_KEYS, *sorted(extra)]
            )
        if problem is not None:
            problems.append(problem)
            first_key = first_key if first_key is not None else key
    if problems:
        raise EvidenceError(f"{name}: {join_problems(problems)}.", variable=first_key)
    return codes, metadata


@dataclass(frozen=True, eq=False)
class PatientRecord:
    """One patient's findings, patient factors and metadata, for one network.

    Parameters
    ----------
    network : Network
        The network whose variables the codes follow.
    codes : ndarray of int, shape (n_variables,)
        State code of every variable, :data:`~npprob.network.UNOBSERVED` (-1)
        where not recorded; hidden variables are never recorded.
    patient_factors : mapping, optional
        The record's ``"patient_factors"`` as given (None when absent); the
        decision layer checks it.
    metadata : mapping, optional
        ``"id"``, ``"comment"``, ``"notes"`` and any further keys a reader kept.
    treatment_overrides : object, optional
        The record's ``"treatment_overrides"`` as given (None when absent): drug
        ids to rank normally despite a strong relative contraindication; the
        decision layer checks them.
    setting : object, optional
        The record's ``"setting"`` as given (None when absent): the care setting
        whose case mix is the prior of the condition.

    Examples
    --------
    >>> from npprob.network import Network, Variable
    >>> net = Network(
    ...     [Variable("nerve_damage", ("no", "yes"), role="latent"),
    ...      Variable("numbness", ("absent", "present"), role="sign")],
    ...     {"numbness": ["nerve_damage"]},
    ...     {"nerve_damage": [0.7, 0.3], "numbness": [[0.9, 0.1], [0.2, 0.8]]},
    ... )
    >>> record = PatientRecord.from_mapping(net, {"id": "P-17", "numbness": True})
    >>> record.id, record.findings, record.codes.tolist()
    ('P-17', {'numbness': 'present'}, [-1, 1])
    """

    network: Network
    codes: np.ndarray
    patient_factors: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    treatment_overrides: Any = None
    setting: Any = None

    def __post_init__(self) -> None:
        codes = np.array(self.codes, dtype=np.int64, copy=True).reshape(-1)
        if codes.shape != (len(self.network),):
            raise EvidenceError(
                f"A patient record has one code per variable ({len(self.network)}); "
                f"got {codes.shape[0]}."
            )
        cards = self.network.cardinalities
        bad = np.flatnonzero((codes < UNOBSERVED) | (codes >= cards))
        if len(bad):
            var = self.network.variables[int(bad[0])]
            raise EvidenceError(
                f"State code {int(codes[bad[0]])} out of range for '{var.name}'.",
                variable=var.name,
            )
        hidden = [
            v
            for v, c in zip(self.network.variables, codes, strict=True)
            if c >= 0 and not v.observable
        ]
        if hidden:
            raise EvidenceError(unobservable_problem(hidden[0]) + ".", variable=hidden[0].name)
        codes = codes.astype(np.int16)
        codes.setflags(write=False)
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "metadata", {**dict.fromkeys(METADATA_KEYS), **self.metadata})

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_mapping(
        cls, network: Network, record: Mapping[str, Any], *, name: str = "<record>"
    ) -> PatientRecord:
        """A record from a mapping, by the rules of a JSON patient record.

        ``{finding: state name, true/false or None, "id": ..., "patient_factors": {...}}``;
        every problem is reported at once (see :func:`record_codes`).
        """
        if isinstance(record, PatientRecord):
            return record
        if not isinstance(record, Mapping):
            raise EvidenceError(
                f"{name}: a patient record is a mapping of finding names to states; got "
                f"{type(record).__name__}."
            )
        codes, metadata = record_codes(record, network, name=name, extra_keys=RECORD_EXTRA_KEYS)
        factors = metadata.pop(PATIENT_FACTORS_KEY, None)
        overrides = metadata.pop(OVERRIDES_KEY, None)
        setting = metadata.pop(SETTING_KEY, None)
        return cls(network, codes, factors, metadata, overrides, setting)

    @classmethod
    def empty(cls, network: Network) -> PatientRecord:
        """A record with nothing observed."""
        return cls(network, np.full(len(network), UNOBSERVED, dtype=np.int16))

    def with_findings(self, findings: Mapping[str, object], *, text: bool = False) -> PatientRecord:
        """A copy with some findings added or replaced.

        Parameters
        ----------
        findings : mapping of str to object
            Finding name to a state (or None to unset it).
        text : bool, default=False
            Read the values as text cells (command-line flags: ``true``/``false``
            in any case, empty is not recorded) instead of record values.
        """
        observable = observable_by_name(self.network)
        codes = self.codes.copy()
        for key, value in findings.items():
            if key not in observable:
                if isinstance(key, str) and key in self.network:
                    raise EvidenceError(
                        unobservable_problem(self.network.variable(key)) + ".", variable=key
                    )
                raise EvidenceError(
                    f"unknown finding {short(key)}{_hint(str(key), observable)}.",
                    variable=str(key),
                )
            var = observable[key]
            if text and value is not None:
                code, problem = text_code(var, str(value))
            else:
                code, problem = value_code(var, value)
            if problem is not None:
                raise EvidenceError(f"{problem}.", variable=key)
            codes[self.network.index(key)] = code
        return replace(self, codes=codes)

    def with_overrides(self, overrides: Iterable[str]) -> PatientRecord:
        """A copy whose treatment overrides are the record's with ``overrides`` added.

        A record whose overrides are not a list keeps them as they are, so the
        decision layer reports the malformed value.
        """
        current = self.treatment_overrides
        if current is None or isinstance(current, list):
            return replace(self, treatment_overrides=[*(current or []), *overrides])
        return self

    def with_factors(self, factors: Mapping[str, object]) -> PatientRecord:
        """A copy whose patient factors are the record's with ``factors`` added or replaced.

        A record whose patient factors are not a mapping keeps them as they
        are, so the decision layer reports the malformed value.
        """
        if self.patient_factors is None or isinstance(self.patient_factors, Mapping):
            return replace(self, patient_factors={**(self.patient_factors or {}), **factors})
        return self

    # -- views ---------------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The record's identifier, when it has one."""
        return self.metadata.get("id")

    @property
    def evidence(self) -> EvidenceBatch:
        """The codes as a one-patient batch."""
        return EvidenceBatch(self.network, self.codes[None, :])

    @property
    def findings(self) -> dict[str, str]:
        """The recorded findings, ``{variable: state}`` in network order."""
        return decode_codes(self.network, self.codes)

    def to_mapping(self) -> dict[str, Any]:
        """The record as a JSON patient record (metadata, findings, patient factors)."""
        out: dict[str, Any] = {k: v for k, v in self.metadata.items() if v is not None}
        out.update(self.findings)
        if self.patient_factors is not None:
            out[PATIENT_FACTORS_KEY] = self.patient_factors
        if self.treatment_overrides is not None:
            out[OVERRIDES_KEY] = self.treatment_overrides
        if self.setting is not None:
            out[SETTING_KEY] = self.setting
        return out
