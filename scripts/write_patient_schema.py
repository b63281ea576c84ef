"""Regenerate models/patient.schema.json from the clinical network specification.

Usage: python3 scripts/write_patient_schema.py [--check]

With --check, exit 1 when the shipped schema differs from a fresh one (CI runs
this check through the tests).
"""

from __future__ import annotations

import argparse
import sys

from npprob.decision.factors import patient_record_schema_text
from npprob.io.generated import write_or_check
from npprob.io.resources import clinical_spec_path, patient_schema_path
from npprob.network.spec import load_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    spec = load_spec(clinical_spec_path())
    text = patient_record_schema_text(spec.network)
    return write_or_check(
        patient_schema_path(), text, check=args.check, command="scripts/write_patient_schema.py"
    )


if __name__ == "__main__":
    sys.exit(main())
