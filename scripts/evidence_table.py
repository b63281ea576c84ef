"""Print an evidence-synthesis model's published statistics: observed, implied, intervals, flags.

Usage: python3 scripts/evidence_table.py [--model NAME] [--json]

Read from the model card (``likelihood_details``, written by ``npprob train
--likelihood evidence``): each statistic's observed proportion k/n, the implied
probability (posterior mean and 90 % interval), the 90 % posterior predictive
interval of a new study of the same size, and the interval predicted without the
statistic's publication (leave-one-publication-out by PSIS); **outside** flags an
observed proportion outside an interval. The Markdown is the table of
models/EVIDENCE_FIT.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from npprob.diagnosis import load_model
from npprob.evaluation.evaluate import evidence_checks
from npprob.evaluation.report import evidence_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name (default: the shipped default)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    evidence = evidence_checks(model.card)
    if evidence is None:
        print(f"model {model.name!r} was not fitted to published statistics", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(evidence, indent=2))
    else:
        print("\n".join(evidence_markdown(evidence, [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
