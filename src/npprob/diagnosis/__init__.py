"""Diagnosis layer: the clinical model, the NeuPSIG grade and explanations."""

from npprob.diagnosis.model import MECHANISMS, DiagnosticModel, load_model
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
    "load_model",
    "neupsig_grade",
]
