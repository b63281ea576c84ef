"""The one way to reach files shipped with npprob (specs, models, schemas)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = [
    "baselines_path",
    "clinical_spec_path",
    "cohort_settings_path",
    "models_dir",
    "patient_schema_path",
]


def models_dir() -> Path:
    """Folder of the shipped network specification and trained models."""
    return Path(str(resources.files("npprob").joinpath("models")))


def clinical_spec_path() -> Path:
    """Path of the shipped clinical network specification (``network.toml``)."""
    return models_dir() / "network.toml"


def patient_schema_path() -> Path:
    """Path of the shipped JSON Schema of one patient record."""
    return models_dir() / "patient.schema.json"


def cohort_settings_path() -> Path:
    """Path of the shipped clinical settings for synthetic cohorts."""
    return models_dir() / "cohort_settings.toml"


def baselines_path() -> Path:
    """The shipped bedside-tool definitions (``models/baselines.toml``)."""
    return models_dir() / "baselines.toml"
