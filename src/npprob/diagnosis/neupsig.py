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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["GRADES", "NEURAL_AETIOLOGIES", "NeuPSIGGrade", "neupsig_grade", "neupsig_grade_codes"]

GRADES = ("unlikely", "possible", "probable", "definite")

#: Aetiologies that count as a relevant lesion or disease of the nervous system.
NEURAL_AETIOLOGIES = frozenset(
    {
        "polyneuropathy_diabetic", "polyneuropathy_other", "herpes_zoster",
        "nerve_injury_surgery", "amputation", "plexus_injury", "root_compression",
        "root_avulsion", "neoplasm_peripheral", "trigeminal_neuralgia", "stroke",
        "multiple_sclerosis", "spinal_cord_injury", "arachnoiditis", "neoplasm_central",
        "syringomyelia",
    }
)  # fmt: skip

_SENSORY_LOSS = ("sensory_loss", "hypoaesthesia_touch", "hypoaesthesia_pinprick")
_ALLODYNIA = ("brush_allodynia", "cold_allodynia")


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

    Examples
    --------
    >>> neupsig_grade({"aetiology": "herpes_zoster", "distribution_plausible": "yes",
    ...                "sensory_loss": "present"}).grade
    'probable'
    >>> neupsig_grade({"aetiology": "osteoarthritis", "distribution_plausible": "yes"}).grade
    'unlikely'
    """
    history = findings.get("aetiology") in NEURAL_AETIOLOGIES
    distribution = findings.get("distribution_plausible") == "yes"
    signs = any(findings.get(name) == "present" for name in _SENSORY_LOSS + _ALLODYNIA)
    test = findings.get("confirmatory_test") == "positive"
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
        The clinical network (its variable and state names are used).
    codes : ndarray of int, shape (n_patients, n_variables)

    Returns
    -------
    ndarray of int8, shape (n_patients,)
        Index into :data:`GRADES` (0 unlikely ... 3 definite), by the same
        rules as :func:`neupsig_grade`.
    """

    def is_state(name: str, state: str) -> np.ndarray:
        if name not in network:
            return np.zeros(len(codes), dtype=bool)
        return codes[:, network.index(name)] == network.variable(name).states.index(state)

    aetiology = network.variable("aetiology")
    neural = [aetiology.states.index(s) for s in aetiology.states if s in NEURAL_AETIOLOGIES]
    history = np.isin(codes[:, network.index("aetiology")], neural)
    distribution = is_state("distribution_plausible", "yes")
    signs = np.zeros(len(codes), dtype=bool)
    for name in _SENSORY_LOSS + _ALLODYNIA:
        signs |= is_state(name, "present")
    test = is_state("confirmatory_test", "positive")
    possible = history & distribution
    grade = np.where(possible, 1, 0)
    grade = np.where(possible & (signs | test), 2, grade)
    grade = np.where(possible & signs & test, 3, grade)
    return grade.astype(np.int8)
