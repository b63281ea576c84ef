"""``npprob query``: posterior marginals for a CSV of patients on any BIF network."""

from __future__ import annotations

import argparse
import sys

from npprob.errors import ZeroProbabilityEvidenceError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``query`` subcommand."""
    p = sub.add_parser(
        "query",
        help="posterior marginals of target variables for each patient of a CSV",
        description=(
            "Exact posterior marginals of the target variables for every row of an "
            "evidence CSV (one patient per row, one column per observed variable, "
            "state names as values, empty cells for unobserved). Writes one column "
            "per target state, named VAR=state, rows in input order."
        ),
    )
    p.add_argument("--network", required=True, metavar="NET.bif", help="network in BIF format")
    p.add_argument(
        "--target",
        required=True,
        action="append",
        metavar="VAR",
        help="query variable; repeat for several",
    )
    p.add_argument(
        "--evidence",
        required=True,
        metavar="FILE.csv",
        help="patients' findings, read a block of rows at a time (- for standard input)",
    )
    p.add_argument("--out", required=True, metavar="OUT.csv", help="where to write the posteriors")
    p.add_argument(
        "--id-column",
        metavar="NAME",
        help="a column of FILE.csv that identifies patients; copied to OUT.csv first",
    )
    p.add_argument(
        "--on-zero",
        choices=("error", "nan"),
        default="error",
        help="evidence of probability zero: fail naming the rows (default) or write nan",
    )
    p.add_argument(
        "--threads",
        dest="n_threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for the kernels",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob query``.

    The evidence is read, answered and written a block of rows at a time, so memory
    does not grow with the file; the output appears whole or not at all.
    """
    import contextlib
    import csv

    import numpy as np

    from npprob.inference import Engine
    from npprob.io.bif import read_bif
    from npprob.io.outputs import atomic_text_writer, check_output_path
    from npprob.io.records import open_evidence_csv, write_probability_rows
    from npprob.network.evidence import EvidenceBatch

    if args.out != "-":
        check_output_path(args.out, [args.network, args.evidence])
    network = read_bif(args.network)
    for target in args.target:
        network.index(target)  # unknown names fail before the CSV is read
    engine = Engine(network)
    # The targets checked, and the columns named, by the engine itself before any row.
    no_rows = EvidenceBatch(network, np.zeros((0, len(network)), dtype=np.int16))
    columns = list(engine.query(no_rows, args.target).columns)
    header = ([args.id_column] if args.id_column is not None else []) + columns
    out = contextlib.nullcontext(sys.stdout) if args.out == "-" else atomic_text_writer(args.out)
    with open_evidence_csv(args.evidence, network, id_column=args.id_column) as blocks, out as fh:
        csv.writer(fh, lineterminator="\n").writerow(header)
        for block in blocks:
            try:
                result = engine.query(
                    block.batch,
                    args.target,
                    on_zero="raise" if args.on_zero == "error" else "nan",
                    n_threads=args.n_threads,
                )
            except ZeroProbabilityEvidenceError as exc:
                rows = [block.first_row + r for r in exc.rows]
                shown = ", ".join(str(r + 1) for r in rows[:10]) + (
                    " ..." if len(rows) > 10 else ""
                )
                raise ZeroProbabilityEvidenceError(
                    f"{args.evidence}: the findings of data row(s) {shown} have probability zero "
                    "under the network (contradictory evidence); use --on-zero nan to write nan "
                    "for them.",
                    rows=rows,
                ) from None
            write_probability_rows(fh, result.probabilities[0], block.ids)
    return 0
