"""Print the published statistics beside what a model implies for them.

Usage: python3 scripts/implied_statistics.py [--model NAME] [--json]

Each row: the statistic, the published value with its interval, the model's mean
over its parameter draws with the central 95 % interval, and whether the two
intervals overlap. The statistics and their sources are in
models/published_statistics.toml.
"""

from __future__ import annotations

import argparse
import json
import sys

from npprob.diagnosis import load_model
from npprob.evaluation.implied import compare_published, load_published_statistics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name (default: the shipped default)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    rows = compare_published(model, load_published_statistics(model.network))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        lo, hi = r["published_interval"]
        ilo, ihi = r["implied_interval"]
        mark = "agrees" if r["agrees"] else "DIFFERS"
        print(f"{r['id']:42s} published {r['published']:.2f} ({lo:.2f}-{hi:.2f})  "
              f"model {r['implied']:.2f} ({ilo:.2f}-{ihi:.2f})  {mark}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
