"""Train a model on a cohort: a thin wrapper of ``npprob train`` (same flags).

Examples:
    python3 scripts/train.py --cohort data/synthetic/consecutive_pain_clinic-n20000-seed1/cohort.csv --name complete
    python3 scripts/train.py --cohort data/synthetic/consecutive_pain_clinic-n3000-seed2-clinician/cohort.csv \\
        --name default --likelihood latent-class --draws 400 --seed 1 --replace-shipped
"""

import sys

from npprob.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
