"""``npprob treat``: the ranked, contraindication-aware treatment list for one patient."""

from __future__ import annotations

import argparse
import json
import sys

from npprob.cli._output import format_treatments
from npprob.cli.diagnose import add_treatment_options, single_record, treatment_ranking


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``treat`` subcommand."""
    p = sub.add_parser(
        "treat",
        help="rank treatments by expected net benefit for one patient",
        description=(
            "Ranks the drugs of models/treatments.toml for one patient by expected net "
            "benefit: P(neuropathic) draws x absolute benefit (1/NNT) in neuropathic and "
            "non-neuropathic pain, minus lambda x adverse-event risk (1/NNH) raised by the "
            "patient's contraindications. Absolutely contraindicated drugs are listed apart "
            "with the reason. A research tool, not a medical device."
        ),
    )
    p.add_argument(
        "source", nargs="?", metavar="PATIENT.json|-",
        help="one patient as JSON ('-' reads standard input); patient factors under "
        "'patient_factors'",
    )  # fmt: skip
    p.add_argument(
        "--finding", action="append", default=[], metavar="NAME=STATE",
        help="a finding; repeat for several (added to, or overriding, the JSON record)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    p.add_argument("--model", default=None, help="model name (default: the shipped default)")
    add_treatment_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob treat``."""
    from npprob.diagnosis import load_model
    from npprob.errors import EvidenceError

    if args.source and args.source.lower().endswith(".csv"):
        raise EvidenceError("npprob treat takes one patient (JSON), not a CSV cohort.")
    model = load_model(args.model)
    record, factors = single_record(args, model)
    ranking = treatment_ranking(args, model, record, factors)
    if args.json:
        sys.stdout.write(json.dumps({"treatments": ranking.to_dict()}, indent=2) + "\n")
    else:
        sys.stdout.write(format_treatments(ranking))
    return 0
