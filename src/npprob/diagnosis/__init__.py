"""Diagnosis layer: the clinical model, the NeuPSIG grade and explanations."""

from npprob.diagnosis.model import MECHANISMS, DiagnosticModel, diagnose, load_model
from npprob.diagnosis.neupsig import GRADES, NeuPSIGGrade, neupsig_grade
from npprob.diagnosis.result import DISCLAIMER, Diagnosis, FindingEffect

__all__ = [
    "DISCLAIMER",
    "GRADES",
    "MECHANISMS",
    "Diagnosis",
    "DiagnosticModel",
    "FindingEffect",
    "NeuPSIGGrade",
    "diagnose",
    "load_model",
    "neupsig_grade",
]
