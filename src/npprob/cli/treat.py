"""``npprob treat``: the ranked, contraindication-aware treatment list for one patient."""

from __future__ import annotations

import argparse
import json
import sys

from npprob.cli._output import format_treatments
from npprob.cli._patient import (
    add_patient_arguments,
    add_treatment_options,
    read_record,
    treatment_options,
)
from npprob.errors import ParameterError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``treat`` subcommand."""
    p = sub.add_parser(
        "treat",
        help="rank treatments by expected net benefit for one patient",
        description=(
            "Ranks the drugs of models/treatments.toml for one patient. Safety gates first: "
            "absolute contraindications exclude a drug, the condition's guideline can advise "
            "against it, drugs with inconclusive evidence are listed apart, and a strong "
            "relative contraindication puts a drug last unless overridden (--override). Then "
            "by line of therapy (NeuPSIG 2015 or the condition's guideline) and expected net "
            "benefit: P(neuropathic) draws x absolute benefit (1/NNT) minus lambda x "
            "adverse-event and long-term harms. A research tool, not a medical device."
        ),
    )
    add_patient_arguments(p)
    add_treatment_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob treat``."""
    from npprob.decision.answer import answer_patient
    from npprob.diagnosis import load_model

    if args.source and args.source.lower().endswith(".csv"):
        raise ParameterError("npprob treat takes one patient (JSON), not a CSV cohort.")
    model = load_model(args.model, allow_unconverged=args.allow_unconverged)
    record = read_record(args, model.network)
    answer = answer_patient(
        record, model, setting=args.setting, explain=False, **treatment_options(args)
    )
    if args.json:
        sys.stdout.write(json.dumps(answer.treatments_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(format_treatments(answer.ranking))
    return 0
