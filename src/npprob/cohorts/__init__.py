"""Cohorts layer: clinical settings and synthetic cohorts with known truth."""

from npprob.cohorts.export import cohort_frame, read_cohort, read_label, write_cohort
from npprob.cohorts.settings import (
    Group,
    Setting,
    get_setting,
    load_reference_standard,
    load_settings,
)
from npprob.cohorts.simulate import Cohort, SimulationOptions, simulate

__all__ = [
    "Cohort",
    "Group",
    "Setting",
    "SimulationOptions",
    "cohort_frame",
    "get_setting",
    "load_reference_standard",
    "load_settings",
    "read_cohort",
    "read_label",
    "simulate",
    "write_cohort",
]
