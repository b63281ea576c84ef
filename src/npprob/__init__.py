"""npprob: the probability that chronic pain is neuropathic, with honest uncertainty.

Public names resolve lazily so ``import npprob`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Engine": "npprob.inference",
    "QueryResult": "npprob.inference",
    "EvidenceBatch": "npprob.network",
    "Network": "npprob.network",
    "Variable": "npprob.network",
    "load_model": "npprob.diagnosis",
    "diagnose": "npprob.diagnosis",
    "Diagnosis": "npprob.diagnosis",
    "PatientRecord": "npprob.io",
    "read_patient_record": "npprob.io",
    "ModelFolder": "npprob.io",
    "recommend": "npprob.decision",
    "neupsig_grade": "npprob.diagnosis",
    "NpprobClassifier": "npprob.estimator",
    "read_bif": "npprob.io",
    "write_bif": "npprob.io",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'npprob' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
