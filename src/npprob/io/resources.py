"""The one way to reach files shipped with npprob (specs, models, schemas)."""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

from npprob.network.spec import ClinicalSpec, load_spec

__all__ = [
    "acceptance_path",
    "baselines_path",
    "clinical_spec",
    "clinical_spec_path",
    "cohort_settings_path",
    "models_dir",
    "neupsig_path",
    "patient_schema_path",
    "sbc_spec_path",
]


def models_dir() -> Path:
    """Folder of the shipped network specification and trained models."""
    return Path(str(resources.files("npprob").joinpath("models")))


def clinical_spec_path() -> Path:
    """Path of the shipped clinical network specification (``network.toml``)."""
    return models_dir() / "network.toml"


def clinical_spec(path: str | os.PathLike[str] | None = None) -> ClinicalSpec:
    """The clinical specification (default: the shipped one), parsed once per process.

    A model, the NeuPSIG rules and the estimator all need it; parsing is cached
    per file and its modification time, so an edited file is read again.
    """
    p = Path(path) if path is not None else clinical_spec_path()
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        return load_spec(p)  # reports the unreadable file
    return _parsed_spec(str(p.resolve()), stamp)


@functools.lru_cache(maxsize=8)
def _parsed_spec(path: str, stamp: int) -> ClinicalSpec:
    return load_spec(path)


def patient_schema_path() -> Path:
    """Path of the shipped JSON Schema of one patient record."""
    return models_dir() / "patient.schema.json"


def cohort_settings_path() -> Path:
    """Path of the shipped clinical settings for synthetic cohorts."""
    return models_dir() / "cohort_settings.toml"


def evidence_path() -> Path:
    """The shipped published statistics the evidence fit learns from (``models/evidence/``)."""
    return models_dir() / "evidence" / "statistics.toml"


def baselines_path() -> Path:
    """The shipped bedside-tool definitions (``models/baselines.toml``)."""
    return models_dir() / "baselines.toml"


def neupsig_path() -> Path:
    """The shipped NeuPSIG 2016 grading rules (``models/neupsig.toml``)."""
    return models_dir() / "neupsig.toml"


def acceptance_path() -> Path:
    """The shipped evaluation acceptance targets (``models/acceptance.toml``)."""
    return models_dir() / "acceptance.toml"


def sbc_spec_path() -> Path:
    """The latent-class network of simulation-based calibration (``models/sbc_latent_class.toml``)."""
    return models_dir() / "sbc_latent_class.toml"
