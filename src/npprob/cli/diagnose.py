"""``npprob diagnose``: P(neuropathic) with a credible interval, the NeuPSIG grade and why."""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque

from npprob.cli._dask import add_scheduler_arguments, check_scheduler_arguments
from npprob.cli._output import format_diagnosis, format_treatments
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
_COHORT = (
    ("--out", "out"), ("--strict", "strict"), ("--jsonl", "jsonl"), ("--no-explain", "no_explain"),
    ("--csv", "csv"), ("--id-column", "id_column"), ("--scheduler", "scheduler"),
    ("--workers", "workers"),
)  # fmt: skip


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
    p.add_argument(
        "--out", metavar="RESULTS.csv|.jsonl|.parquet",
        help="with a cohort: where to write results (the suffix chooses the format; default "
        "standard output)",
    )  # fmt: skip
    p.add_argument(
        "--strict", action="store_true", help="with a cohort: fail the whole batch on a bad row"
    )
    p.add_argument(
        "--csv", action="store_true",
        help="read the source as a CSV cohort whatever its name ('-': standard input)",
    )  # fmt: skip
    p.add_argument(
        "--jsonl", action="store_true",
        help="with a cohort: write JSON Lines (one object per patient) instead of CSV",
    )  # fmt: skip
    p.add_argument(
        "--no-explain", action="store_true",
        help="with a cohort: leave out the findings that moved each probability (top_findings "
        "empty; several times faster)",
    )  # fmt: skip
    p.add_argument(
        "--id-column", default=None, metavar="NAME",
        help="with a cohort: the identifier column (default 'id'; 'patient_id' in a cohort "
        "written by npprob simulate)",
    )  # fmt: skip
    p.add_argument(
        "--no-progress", action="store_true",
        help="with a cohort: no progress bar (shown only when standard error is a terminal)",
    )  # fmt: skip
    p.add_argument(
        "--top", type=_non_negative, default=8,
        help="findings to list in the explanation (0: none)",
    )  # fmt: skip
    p.add_argument(
        "--no-treatments", action="store_true", help="one patient: leave out the treatment list"
    )
    add_scheduler_arguments(p, "the cohort's blocks (with a cohort)")
    add_treatment_options(p)
    p.set_defaults(run=run)


def _given(args: argparse.Namespace, flags) -> list[str]:
    return [flag for flag, dest in flags if getattr(args, dest) not in (None, False, [])]


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob diagnose``."""
    from npprob.decision.answer import answer_patient
    from npprob.diagnosis import load_model

    cohort = args.csv or (bool(args.source) and args.source.lower().endswith((".csv", ".parquet")))
    if cohort and args.json:
        raise ParameterError(
            "--json: one patient's JSON answer; a cohort's results are CSV, --jsonl (one "
            "JSON object per patient) or --out RESULTS.parquet."
        )
    if args.csv and not args.source:
        raise ParameterError("--csv: give the cohort file, or '-' for standard input.")
    for flags, what in _ONE_PATIENT if cohort else ():
        if _given(args, flags):
            raise ParameterError(
                f"{', '.join(_given(args, flags))}: {what} apply to one patient (JSON), not to "
                "a CSV cohort."
            )
    if not cohort and _given(args, _COHORT):
        raise ParameterError(
            f"{', '.join(_given(args, _COHORT))}: options of a cohort (CSV or Parquet); for one "
            "patient use --json and redirect."
        )
    if cohort and args.out and args.out != "-":
        from npprob.io.outputs import check_output_path

        check_output_path(args.out, [args.source])
    if cohort:
        from npprob.io.result_files import result_format

        args.result_format = result_format(args.out, jsonl=args.jsonl)
        check_scheduler_arguments(args, "npprob diagnose")
    model = load_model(args.model, allow_unconverged=args.allow_unconverged)
    if cohort:
        model = model.in_setting(args.setting)
        if args.scheduler is None:
            return _run_cohort(args, model)
        from npprob.cli._dask import ModelRef, connect

        ref = ModelRef.of(model, args.model, args.setting, args.allow_unconverged)
        with connect(args.scheduler, args.workers) as client:
            return _run_cohort(args, model, client=client, ref=ref)
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


def _run_cohort(args: argparse.Namespace, model, *, client=None, ref=None) -> int:
    """Answer a cohort a block at a time: here, or on a Dask cluster (``client``)."""
    from npprob.cli._output import ProgressBar
    from npprob.io.patients import open_patients
    from npprob.io.result_files import open_result_writer

    explain = not args.no_explain and args.top > 0
    id_column = args.id_column or "id"
    n_bad = n_answered = n_read = 0
    progress = ProgressBar(None, unit="patients",
                           disable=args.no_progress or not sys.stderr.isatty())  # fmt: skip
    # Read, diagnosed and written a block at a time: memory does not grow with the file.
    # The results file appears only when complete (a failure leaves no partial file).
    try:
        with (
            open_patients(args.source, model.network, strict=args.strict,
                          id_column=id_column) as blocks,
            open_result_writer(args.out, args.result_format) as writer,
        ):  # fmt: skip
            for table, answer in _answers(blocks, model, explain, args.top, client, ref):
                if args.strict and answer.errors:
                    # Strict means no results file unless every row is answered: rows that
                    # read well but cannot be diagnosed (outside the context, probability
                    # zero) too.
                    first = min(answer.errors)
                    raise EvidenceError(
                        f"{args.source}: row {table.first_row + first}: {answer.errors[first]} "
                        "(--strict: nothing was written)."
                    )
                writer.write(answer)
                read_errors = {e.row - table.first_row for e in table.errors}
                for e in table.errors:
                    print(f"npprob diagnose: {args.source}:{e.line}: row {e.row}: {e.message}",
                          file=sys.stderr)  # fmt: skip
                for i, message in answer.errors.items():
                    if i not in read_errors:
                        print(f"npprob diagnose: {args.source}: row {table.first_row + i}: "
                              f"{message}", file=sys.stderr)  # fmt: skip
                n_bad += len(answer.errors)
                n_answered += answer.n_answered
                n_read += len(answer)
                progress(n_read)
    finally:
        progress.close()
    if n_bad:
        print(
            f"npprob diagnose: {n_bad} bad row(s) skipped; {n_answered} patient(s) answered.",
            file=sys.stderr,
        )
        return 2
    return 0


def _answers(blocks, model, explain: bool, top: int, client, ref):
    """Each block with its answers, in file order."""
    from npprob.diagnosis.columns import diagnose_columns

    if client is None:
        for table in blocks:
            yield table, diagnose_columns(model, table, explain=explain, top=top)
        return
    from npprob.cli._dask import diagnose_block, ordered_map

    # The blocks stay here (their read errors are reported here) while workers answer them;
    # ordered_map reads them lazily, so few are held at a time.
    sent = deque()

    def tasks():
        for table in blocks:
            sent.append(table)
            yield (ref, table.batch.codes, table.ids, table.valid, table.errors,
                   table.first_row, explain, top)  # fmt: skip

    for answer in ordered_map(client, diagnose_block, tasks()):
        yield sent.popleft(), answer


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more; got {value}")
    return value
