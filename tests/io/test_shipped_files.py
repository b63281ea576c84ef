"""The files shipped with the package are present and up to date."""

from __future__ import annotations

import json

import jsonschema

from npprob.decision.factors import patient_record_schema_text
from npprob.io.resources import clinical_spec_path, patient_schema_path
from npprob.network.spec import load_spec


def test_shipped_patient_schema_matches_the_network():
    spec = load_spec(clinical_spec_path())
    shipped = patient_schema_path().read_text(encoding="utf-8")
    assert shipped == patient_record_schema_text(spec.network), (
        "models/patient.schema.json is stale: run python3 scripts/write_patient_schema.py"
    )


def test_examples_validate_against_the_shipped_schema():
    from pathlib import Path

    schema = json.loads(patient_schema_path().read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
    assert len(examples) >= 7
    for path in examples:
        errors = list(validator.iter_errors(json.loads(path.read_text(encoding="utf-8"))))
        assert not errors, (path.name, [e.message for e in errors])
    assert list(validator.iter_errors({"brush_allodynia": "sometimes"}))
