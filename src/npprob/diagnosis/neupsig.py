"""The NeuPSIG 2016 grading of neuropathic pain, computed from findings.

Finnerup et al. 2016 (Pain 157:1599) revised Treede et al. 2008:

- **possible**: a history of a relevant lesion or disease *and* a pain
  distribution that is neuroanatomically plausible;
- **probable**: possible, plus sensory signs in the same distribution.
  Sensory loss is generally required, but touch-evoked or thermal allodynia
  may be the only bedside finding; a diagnostic test confirming the lesion
  also makes it probable when signs are hard to demonstrate;
- **definite**: probable, plus a diagnostic test confirming a lesion or
  disease of the somatosensory system that explains the pain;
- otherwise **unlikely** (the flow chart's exit).

The grade is a deterministic reading of the clinician's findings. It is
shown next to the network's probability and never fed into it. Criteria
that were not recorded count as not met.

Which variables and states meet each criterion is data: ``models/neupsig.toml``
(:func:`npprob.io.resources.neupsig_path`), read once per process by
:func:`load_neupsig_rules` and checked against the clinical network. This
module keeps only how the criteria combine into a grade.
:data:`NEURAL_AETIOLOGIES`, the states meeting the history criterion, is
derived from the file on first access.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npprob.errors import DataFileError
from npprob.io.tomlfile import read_toml
from npprob.network import Network
from npprob.network.spec import TAGS

__all__ = [
    "CRITERIA",
    "GRADES",
    "NEURAL_AETIOLOGIES",  # noqa: F822  (module __getattr__, from the rules file)
    "NeuPSIGCriterion",
    "NeuPSIGGrade",
    "NeuPSIGRules",
    "load_neupsig_rules",
    "neupsig_grade",
    "neupsig_grade_codes",
]

GRADES = ("unlikely", "possible", "probable", "definite")

#: The criteria the rules file defines, in the order of :class:`NeuPSIGGrade`'s fields.
CRITERIA = ("history", "distribution", "sensory_signs", "confirmatory_test")


@dataclass(frozen=True)
class NeuPSIGCriterion:
    """One criterion of the grade: met when any listed variable is in a listed state.

    Attributes
    ----------
    name : str
        One of :data:`CRITERIA`.
    description : str
    conditions : tuple of (str, tuple of str)
        ``(variable, states)`` pairs; the criterion is met when any variable
        was recorded in one of its states.
    source, tag, reason : str
        Provenance of the criterion (each condition may have its own in the file).
    """

    name: str
    description: str
    conditions: tuple[tuple[str, tuple[str, ...]], ...]
    source: str
    tag: str
    reason: str = ""

    def met(self, findings: Mapping[str, object]) -> bool:
        """Whether recorded ``findings`` (state names, ``None`` = unobserved) meet it."""
        return any(findings.get(name) in states for name, states in self.conditions)

    def met_codes(self, network: Network, codes: np.ndarray) -> np.ndarray:
        """Per patient, whether state ``codes`` (-1 = unobserved) of ``network`` meet it.

        A variable the network lacks, and a listed state the variable lacks,
        never meet the criterion (as an unrecorded finding does not).
        """
        hit = np.zeros(len(codes), dtype=bool)
        for name, states in self.conditions:
            if name not in network:
                continue
            variable = network.variable(name)
            wanted = [variable.states.index(s) for s in states if s in variable.states]
            hit |= np.isin(codes[:, network.index(name)], wanted)
        return hit


@dataclass(frozen=True)
class NeuPSIGRules:
    """The criteria of the grade, read from a rules file.

    Attributes
    ----------
    criteria : dict of str to NeuPSIGCriterion
        By name, in the order of :data:`CRITERIA`.
    path : str
        The file they were read from.
    """

    criteria: dict[str, NeuPSIGCriterion]
    path: str

    def states_of(self, criterion: str) -> frozenset[str]:
        """Every state that meets ``criterion``, over all its variables."""
        return frozenset(s for _, states in self.criteria[criterion].conditions for s in states)


def load_neupsig_rules(
    path: str | os.PathLike[str] | None = None, network: Network | None = None
) -> NeuPSIGRules:
    """Read the grading rules and check every variable and state against ``network``.

    Parameters
    ----------
    path : path-like, optional
        A rules file; default the shipped ``models/neupsig.toml``.
    network : Network, optional
        The network whose variables and states the rules must name; default
        the shipped clinical network.

    Returns
    -------
    NeuPSIGRules
        With neither argument, the same object for the whole process.

    Raises
    ------
    DataFileError
        On an unreadable file or invalid TOML, a missing or unknown criterion,
        an unknown variable or state, or a missing ``source`` or ``tag``
        (or ``reason`` for tag ``S``).
    """
    if path is None and network is None:
        return _shipped_rules()
    return _read_rules(path, network)


@functools.cache
def _shipped_rules() -> NeuPSIGRules:
    # The grade is computed for every diagnosed patient: read and check the file once.
    return _read_rules(None, None)


def _read_rules(path: str | os.PathLike[str] | None, network: Network | None) -> NeuPSIGRules:
    # Looked up at each call, so a test can point the shipped path elsewhere.
    from npprob.io.resources import clinical_spec, neupsig_path

    p = Path(path) if path is not None else neupsig_path()
    if network is None:
        network = clinical_spec().network
    data = read_toml(p, "NeuPSIG rules file")
    table = data.get("criteria")
    if not isinstance(table, dict):
        raise DataFileError(f"{p}: no [criteria.*] tables.", path=str(p))
    missing = [c for c in CRITERIA if c not in table]
    unknown = [c for c in table if c not in CRITERIA]
    if missing or unknown:
        raise DataFileError(
            f"{p}: the criteria must be exactly {', '.join(CRITERIA)}; "
            f"missing {missing}, unknown {unknown}.",
            path=str(p),
        )
    criteria = {name: _criterion(name, table[name], network, p) for name in CRITERIA}
    return NeuPSIGRules(criteria, str(p))


_CRITERION_KEYS = frozenset({"description", "source", "tag", "reason", "note", "any"})
_ENTRY_KEYS = frozenset({"variable", "states", "source", "tag", "reason", "note"})


def _check_keys(entry: Mapping, allowed: frozenset[str], where: str, p: Path) -> None:
    # A misspelt key ("tags", "state") would otherwise be ignored silently.
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise DataFileError(
            f"{where}: unknown key(s) {unknown} (allowed: {', '.join(sorted(allowed))}).",
            path=str(p),
        )


def _provenance(entry: Mapping, where: str, p: Path) -> tuple[str, str, str]:
    source, tag, reason = entry.get("source"), entry.get("tag"), entry.get("reason", "")
    if not isinstance(source, str) or not source.strip():
        raise DataFileError(f"{where}: missing 'source'.", path=str(p))
    if tag not in TAGS:
        raise DataFileError(f"{where}: tag {tag!r} is not one of {', '.join(TAGS)}.", path=str(p))
    if tag == "S" and not str(reason).strip():
        raise DataFileError(f"{where}: a suggested default (tag S) needs a 'reason'.", path=str(p))
    return source.strip(), tag, str(reason).strip()


def _criterion(name: str, body: object, network: Network, p: Path) -> NeuPSIGCriterion:
    where = f"{p}: criterion '{name}'"
    if not isinstance(body, dict):
        raise DataFileError(f"{where} must be a table.", path=str(p))
    _check_keys(body, _CRITERION_KEYS, where, p)
    source, tag, reason = _provenance(body, where, p)
    entries = body.get("any")
    if not isinstance(entries, list) or not entries:
        raise DataFileError(f"{where}: needs any = [{{ variable, states }}, ...].", path=str(p))
    conditions = []
    for k, entry in enumerate(entries, start=1):
        at = f"{where}, entry {k}"
        if not isinstance(entry, dict):
            raise DataFileError(f"{at} must be a table {{ variable, states }}.", path=str(p))
        _check_keys(entry, _ENTRY_KEYS, at, p)
        if "source" in entry or "tag" in entry:
            _provenance(entry, at, p)
        variable, states = entry.get("variable"), entry.get("states")
        if not isinstance(variable, str) or variable not in network:
            raise DataFileError(f"{at}: unknown variable {variable!r}.", path=str(p))
        if not isinstance(states, list) or not states:
            raise DataFileError(f"{at}: states must be a non-empty list.", path=str(p))
        known = network.variable(variable).states
        bad = [s for s in states if s not in known]
        if bad:
            raise DataFileError(
                f"{at}: unknown state(s) {bad} of '{variable}' (states: {', '.join(known)}).",
                path=str(p),
            )
        conditions.append((variable, tuple(states)))
    return NeuPSIGCriterion(
        name, str(body.get("description", "")), tuple(conditions), source, tag, reason
    )


@dataclass(frozen=True)
class NeuPSIGGrade:
    """A grade and the criteria behind it.

    Attributes
    ----------
    grade : {"unlikely", "possible", "probable", "definite"}
    history : bool
        A relevant lesion or disease in the history (aetiology).
    distribution : bool
        Neuroanatomically plausible pain distribution.
    sensory_signs : bool
        Sensory loss, or touch-evoked / thermal allodynia, in that distribution.
    confirmatory_test : bool
        A test confirming the lesion.
    """

    grade: str
    history: bool
    distribution: bool
    sensory_signs: bool
    confirmatory_test: bool

    def to_dict(self) -> dict[str, object]:
        """Plain-data form for JSON."""
        return {
            "grade": self.grade,
            "criteria": {
                "history": self.history,
                "distribution": self.distribution,
                "sensory_signs": self.sensory_signs,
                "confirmatory_test": self.confirmatory_test,
            },
        }


def neupsig_grade(findings: Mapping[str, str | None]) -> NeuPSIGGrade:
    """Grade neuropathic pain from recorded findings (NeuPSIG 2016).

    Parameters
    ----------
    findings : mapping of str to str or None
        Observed states by variable name; missing or ``None`` is unobserved.

    Returns
    -------
    NeuPSIGGrade
        By the criteria of the shipped rules file (:func:`load_neupsig_rules`).

    Examples
    --------
    >>> neupsig_grade({"aetiology": "herpes_zoster", "distribution_plausible": "yes",
    ...                "sensory_loss": "present"}).grade
    'probable'
    >>> neupsig_grade({"aetiology": "osteoarthritis", "distribution_plausible": "yes"}).grade
    'unlikely'
    """
    criteria = _shipped_rules().criteria
    history, distribution, signs, test = (criteria[c].met(findings) for c in CRITERIA)
    if not (history and distribution):
        grade = "unlikely"
    elif test:
        grade = "definite" if signs else "probable"
    elif signs:
        grade = "probable"
    else:
        grade = "possible"
    return NeuPSIGGrade(grade, history, distribution, signs, test)


def neupsig_grade_codes(network, codes: np.ndarray) -> np.ndarray:
    """Grade many patients at once from state codes (-1 = unobserved).

    Parameters
    ----------
    network : Network
        The clinical network (its variable and state names are used). A
        variable or state of the rules that it lacks meets no criterion.
    codes : ndarray of int, shape (n_patients, n_variables)

    Returns
    -------
    ndarray of int8, shape (n_patients,)
        Index into :data:`GRADES` (0 unlikely ... 3 definite), by the same
        rules as :func:`neupsig_grade`.
    """

    codes = np.asarray(codes)
    criteria = _shipped_rules().criteria
    history, distribution, signs, test = (criteria[c].met_codes(network, codes) for c in CRITERIA)
    possible = history & distribution
    grade = np.where(possible, 1, 0)
    grade = np.where(possible & (signs | test), 2, grade)
    grade = np.where(possible & signs & test, 3, grade)
    return grade.astype(np.int8)


def judged_against_history() -> dict[str, tuple[str, ...]]:
    """Findings whose meaning depends on the history, by history variable.

    NeuPSIG judges the distribution as "consistent with the suspected lesion"
    and the test as "confirming a lesion ... that explains the pain": both are
    read against the lesion the history names. Without the history they have
    no reference ("pain in the territory of which lesion?"), so a
    counterfactual that leaves out the history must leave them out too
    (:meth:`npprob.DiagnosticModel.diagnose` explanations).

    Returns
    -------
    dict of str to tuple of str
        Each variable of the ``history`` criterion mapped to the variables of
        the ``distribution`` and ``confirmatory_test`` criteria, from the
        shipped rules file.
    """
    criteria = _shipped_rules().criteria
    relative = tuple(
        dict.fromkeys(
            name
            for c in ("distribution", "confirmatory_test")
            for name, _ in criteria[c].conditions
        )
    )
    return {name: relative for name, _ in criteria["history"].conditions}


def __getattr__(name: str):
    # Derived from the rules file on first use, so importing the module reads no file.
    if name == "NEURAL_AETIOLOGIES":
        return _shipped_rules().states_of("history")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
