"""Train a model on a cohort: a thin wrapper of ``npprob train`` (same flags).

Example: python3 scripts/train.py --cohort data/synthetic/consecutive_pain_clinic-n20000-seed1/cohort.csv --name default
"""

import sys

from npprob.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
