"""Reading and writing networks, patient records and schemas."""

from npprob.io.artifacts import ModelFolder
from npprob.io.bif import bif_string, read_bif, read_bif_string, write_bif
from npprob.io.findings import CellProblem, encode_table
from npprob.io.patient_record import PatientRecord
from npprob.io.patients import (
    PatientTable,
    RowError,
    parse_patient_json,
    parse_patient_record,
    parse_patients_csv,
    read_patient_json,
    read_patient_record,
    read_patients_csv,
)
from npprob.io.records import read_evidence_csv, write_probabilities_csv
from npprob.io.schema import patient_schema, schema_text, write_schema

__all__ = [
    "CellProblem",
    "ModelFolder",
    "PatientRecord",
    "PatientTable",
    "RowError",
    "bif_string",
    "encode_table",
    "parse_patient_json",
    "parse_patient_record",
    "parse_patients_csv",
    "patient_schema",
    "read_bif",
    "read_bif_string",
    "read_evidence_csv",
    "read_patient_json",
    "read_patient_record",
    "read_patients_csv",
    "schema_text",
    "write_bif",
    "write_probabilities_csv",
    "write_schema",
]
