"""Evaluate a model on held-out cohorts: a thin wrapper of ``npprob evaluate`` (same flags).

Example:
    python3 scripts/evaluate.py --train-cohort data/synthetic/consecutive_pain_clinic-n3000-seed2-clinician/cohort.csv \\
        --cohort data/synthetic/consecutive_pain_clinic-n5000-seed101/cohort.csv --out-dir reports/evaluation
"""

import sys

from npprob.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
