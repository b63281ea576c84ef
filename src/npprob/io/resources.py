"""The one way to reach files shipped with npprob (specs, models, schemas)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = [
    "acceptance_path",
    "baselines_path",
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


def patient_schema_path() -> Path:
    """Path of the shipped JSON Schema of one patient record."""
    return models_dir() / "patient.schema.json"


def cohort_settings_path() -> Path:
    """Path of the shipped clinical settings for synthetic cohorts."""
    return models_dir() / "cohort_settings.toml"


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
