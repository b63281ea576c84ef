"""``npprob diagnose``: P(neuropathic) with a credible interval, the NeuPSIG grade and why."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from npprob.cli._output import (
    DIAGNOSIS_CSV_COLUMNS,
    diagnosis_csv_rows,
    format_diagnosis,
    format_treatments,
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
    p.add_argument(
        "--top", type=_non_negative, default=8,
        help="findings to list in the explanation (0: none)",
    )  # fmt: skip
    p.add_argument(
        "--no-treatments", action="store_true", help="one patient: leave out the treatment list"
    )
    add_treatment_options(p)
    p.set_defaults(run=run)


def _given(args: argparse.Namespace, flags) -> list[str]:
    return [flag for flag, dest in flags if getattr(args, dest) not in (None, False, [])]


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob diagnose``."""
    from npprob.decision.answer import answer_patient
    from npprob.diagnosis import load_model

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
    model = load_model(args.model, allow_unconverged=args.allow_unconverged)
    if cohort:
        return _run_cohort(args, model.in_setting(args.setting))
    record = read_record(args, model.network)
    answer = answer_patient(
        record, model, setting=args.setting, treatments=not args.no_treatments,
        **treatment_options(args),
    )  # fmt: skip
    diagnosis, ranking = answer.diagnosis, answer.ranking
    if args.json:
        sys.stdout.write(json.dumps(answer.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(format_diagnosis(diagnosis, top=args.top))
        if ranking is not None:
            sys.stdout.write("\n" + format_treatments(ranking))
    return 0


def _run_cohort(args: argparse.Namespace, model) -> int:
    import contextlib

    from npprob.io.outputs import atomic_text_writer
    from npprob.io.patients import open_patients_csv

    to_file = bool(args.out) and args.out != "-"
    n_bad = n_answered = 0
    # Read, diagnosed and written a block at a time: memory does not grow with the file.
    # The results file appears only when complete (a failure leaves no partial file).
    with (
        open_patients_csv(args.source, model.network, strict=args.strict) as blocks,
        atomic_text_writer(args.out) if to_file else contextlib.nullcontext(sys.stdout) as out,
    ):
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(DIAGNOSIS_CSV_COLUMNS)
        for table in blocks:
            answer = model.diagnose_table(table)
            if args.strict and answer.errors:
                # Strict means no results file unless every row is answered: rows that read
                # well but cannot be diagnosed (outside the context, probability zero) too.
                first = min(answer.errors)
                raise EvidenceError(
                    f"{args.source}: row {table.first_row + first}: {answer.errors[first]} "
                    "(--strict: nothing was written)."
                )
            writer.writerows(diagnosis_csv_rows(answer, top=args.top))
            read_errors = {e.row - table.first_row for e in table.errors}
            for e in table.errors:
                print(f"npprob diagnose: {args.source}:{e.line}: row {e.row}: {e.message}",
                      file=sys.stderr)  # fmt: skip
            for i, message in answer.errors.items():
                if i not in read_errors:
                    print(f"npprob diagnose: {args.source}: row {table.first_row + i}: {message}",
                          file=sys.stderr)  # fmt: skip
            n_bad += len(answer.errors)
            n_answered += sum(d is not None for d in answer.diagnoses)
    if n_bad:
        print(
            f"npprob diagnose: {n_bad} bad row(s) skipped; {n_answered} patient(s) answered.",
            file=sys.stderr,
        )
        return 2
    return 0


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more; got {value}")
    return value
