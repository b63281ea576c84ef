"""Simulate a synthetic cohort: a thin wrapper of ``npprob simulate`` (same flags).

Example: python3 scripts/simulate_cohort.py --setting consecutive_pain_clinic --n 20000 --seed 1
"""

import sys

from npprob.cli import main

if __name__ == "__main__":
    sys.exit(main(["simulate", *sys.argv[1:]]))
