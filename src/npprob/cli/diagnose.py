"""``npprob diagnose``: P(neuropathic) with a credible interval, the NeuPSIG grade and why."""

from __future__ import annotations

import argparse
import json
import sys

from npprob.cli._output import (
    DIAGNOSIS_CSV_COLUMNS,
    atomic_write_text,
    diagnosis_csv_rows,
    format_diagnosis,
    format_treatments,
    rows_to_csv,
)
from npprob.cli._patient import (
    TREATMENT_OPTIONS,
    add_patient_arguments,
    add_treatment_options,
    read_record,
    treatment_options,
)
from npprob.errors import EvidenceError, ParameterError

#: Flags that apply to one patient (JSON) only, by kind, and those of a CSV cohort only.
_ONE_PATIENT = (
    (
        (("--finding", "finding"), ("--factor", "factor"), ("--override", "override")),
        "patient options",
    ),
    (TREATMENT_OPTIONS, "treatment options"),
)
_COHORT = (("--out", "out"), ("--strict", "strict"))


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``diagnose`` subcommand."""
    p = sub.add_parser(
        "diagnose",
        help="probability that a patient's pain is neuropathic, with a credible interval",
        description=(
            "P(neuropathic pain component) with a 95% credible interval over the model's "
            "parameter draws, P(mixed pain), P(nociplastic), the mechanisms, the NeuPSIG 2016 "
            "grade from the findings, and the findings that moved the probability most. "
            "A research tool, not a medical device."
        ),
    )
    add_patient_arguments(p, csv=True)
    p.add_argument("--out", metavar="RESULTS.csv", help="with a CSV cohort: where to write results")
    p.add_argument(
        "--strict", action="store_true", help="with a CSV cohort: fail the whole batch on a bad row"
    )
    p.add_argument("--top", type=int, default=8, help="findings to list in the explanation")
    p.add_argument(
        "--no-treatments", action="store_true", help="one patient: leave out the treatment list"
    )
    add_treatment_options(p)
    p.set_defaults(run=run)


def _given(args: argparse.Namespace, flags) -> list[str]:
    return [flag for flag, dest in flags if getattr(args, dest) not in (None, False, [])]


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob diagnose``."""
    from npprob.diagnosis import diagnose, load_model
    from npprob.diagnosis.model import setting_of

    cohort = bool(args.source) and args.source.lower().endswith(".csv")
    for flags, what in _ONE_PATIENT if cohort else ():
        if _given(args, flags):
            raise ParameterError(
                f"{', '.join(_given(args, flags))}: {what} apply to one patient (JSON), not to "
                "a CSV cohort."
            )
    if not cohort and _given(args, _COHORT):
        raise ParameterError(
            f"{', '.join(_given(args, _COHORT))}: options of a CSV cohort; for one patient use "
            "--json and redirect."
        )
    if cohort and args.out and args.out != "-":
        from npprob.io.outputs import check_output_path

        check_output_path(args.out, [args.source])
    model = load_model(args.model)
    if cohort:
        return _run_cohort(args, model.in_setting(args.setting))
    record = read_record(args, model.network)
    model = model.in_setting(args.setting or setting_of(record))
    diagnosis = diagnose(record, model)
    ranking = None
    if args.no_treatments:
        # Checked anyway: a misspelt factor should not pass silently.
        from npprob.decision import parse_overrides, parse_patient_factors, treatment_files

        evidence, contraindications = treatment_files()
        parse_patient_factors(record.patient_factors, contraindications.factors)
        parse_overrides(record.treatment_overrides, evidence.drugs)
    else:
        from npprob.decision import recommend

        ranking = recommend(
            diagnosis, record.patient_factors, model=model,
            overrides=record.treatment_overrides, **treatment_options(args),
        )  # fmt: skip
    if args.json:
        out = diagnosis.to_dict()
        if ranking is not None:
            out["treatments"] = ranking.to_dict()
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        sys.stdout.write(format_diagnosis(diagnosis, top=args.top))
        if ranking is not None:
            sys.stdout.write("\n" + format_treatments(ranking))
    return 0


def _run_cohort(args: argparse.Namespace, model) -> int:
    from npprob.io.patients import read_patients_csv

    table = read_patients_csv(args.source, model.network, strict=args.strict)
    answer = model.diagnose_table(table)
    if args.strict and answer.errors:
        # Strict means no results file unless every row is answered: the rows that read
        # well but cannot be diagnosed (outside the context, probability zero) count too.
        first = min(answer.errors)
        raise EvidenceError(
            f"{args.source}: row {first + 1}: {answer.errors[first]} (--strict: nothing "
            "was written)."
        )
    text = rows_to_csv(DIAGNOSIS_CSV_COLUMNS, diagnosis_csv_rows(answer, top=args.top))
    if args.out and args.out != "-":
        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)  # no --out, or "-": standard output
    read_errors = {e.row - 1 for e in table.errors}
    for e in table.errors:
        print(f"npprob diagnose: {args.source}:{e.line}: row {e.row}: {e.message}", file=sys.stderr)
    for i, message in answer.errors.items():
        if i not in read_errors:
            print(f"npprob diagnose: {args.source}: row {i + 1}: {message}", file=sys.stderr)
    if answer.errors:
        answered = sum(d is not None for d in answer.diagnoses)
        print(
            f"npprob diagnose: {len(answer.errors)} bad row(s) skipped; "
            f"{answered} patient(s) answered.",
            file=sys.stderr,
        )
        return 2
    return 0
