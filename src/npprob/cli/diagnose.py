"""``npprob diagnose``: P(neuropathic) with a credible interval, the NeuPSIG grade and why."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from npprob.cli._output import atomic_write_text, format_diagnosis, format_treatments, rows_to_csv
from npprob.errors import EvidenceError

_CSV_COLUMNS = (
    "id", "p_neuropathic", "ci_low", "ci_high", "p_mixed", "p_nociplastic", "p_nociceptive",
    "p_peripheral_sensitisation", "p_ectopic_activity", "p_central_sensitisation",
    "neupsig_grade", "top_findings", "error",
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
    p.add_argument(
        "source",
        nargs="?",
        metavar="PATIENT.json|-|COHORT.csv",
        help="one patient as JSON ('-' reads standard input) or many as CSV",
    )
    p.add_argument(
        "--finding",
        action="append",
        default=[],
        metavar="NAME=STATE",
        help="a finding; repeat for several (added to, or overriding, the JSON record)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    p.add_argument("--out", metavar="RESULTS.csv", help="with a CSV cohort: where to write results")
    p.add_argument(
        "--strict", action="store_true", help="with a CSV cohort: fail the whole batch on a bad row"
    )
    p.add_argument("--model", default=None, help="model name (default: the shipped default)")
    p.add_argument("--top", type=int, default=8, help="findings to list in the explanation")
    p.add_argument(
        "--no-treatments", action="store_true", help="one patient: leave out the treatment list"
    )
    add_treatment_options(p)
    p.set_defaults(run=run)


def add_treatment_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``diagnose`` and ``treat``: patient factors, harm weight, evidence."""
    p.add_argument(
        "--factor", action="append", default=[], metavar="NAME=VALUE",
        help="a patient factor (true/false or a whole number, e.g. age=70); repeat for several "
        "(added to, or overriding, the record's patient_factors)",
    )  # fmt: skip
    p.add_argument(
        "--harm-weight", "--lambda", dest="harm_weight", type=float, default=None,
        metavar="LAMBDA",
        help="harm weight lambda: extra responders one extra adverse-event dropout is worth "
        "(default 1.0)",
    )  # fmt: skip
    p.add_argument(
        "--benefit-shrinkage", type=float, default=None, metavar="SHARE",
        help="reduce every published benefit by this share before ranking (e.g. 0.1 for "
        "publication bias; default 0)",
    )  # fmt: skip
    p.add_argument(
        "--evidence", dest="evidence_set", default=None, metavar="SET",
        help="NNT/NNH evidence set: neupsig_2015 (default) or seed_era",
    )  # fmt: skip
    p.add_argument(
        "--samples", dest="n_samples", type=int, default=None,
        help="evidence draws for intervals, P(best) and SUCRA (default 4000)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="seed of the evidence draws (default 0)")


#: Treatment options (flag, keyword of recommend_treatments); unset ones keep its defaults.
_TREATMENT_OPTIONS = (
    ("--harm-weight", "harm_weight"),
    ("--benefit-shrinkage", "benefit_shrinkage"),
    ("--evidence", "evidence_set"),
    ("--samples", "n_samples"),
    ("--seed", "seed"),
)


def _treatment_kwargs(args: argparse.Namespace) -> dict[str, object]:
    return {
        name: getattr(args, name)
        for _, name in _TREATMENT_OPTIONS
        if getattr(args, name) is not None
    }


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob diagnose``."""
    from npprob.diagnosis import load_model

    model = load_model(args.model)
    if args.source and args.source.lower().endswith(".csv"):
        if args.finding or args.factor:
            raise EvidenceError("--finding and --factor apply to one patient, not to a CSV cohort.")
        given = _treatment_kwargs(args)
        changed = [flag for flag, name in _TREATMENT_OPTIONS if name in given]
        if changed:
            raise EvidenceError(
                f"{', '.join(changed)}: treatment options apply to one patient (JSON), "
                "not to a CSV cohort."
            )
        return _run_batch(args, model)
    if args.out or args.strict:
        raise EvidenceError(
            "--out and --strict apply to a CSV cohort; for one patient use --json and redirect."
        )
    record, factors = single_record(args, model)
    diagnosis = model.diagnose(record)
    if args.no_treatments and factors is not None:
        # Checked anyway: a misspelt factor should not pass silently.
        from npprob.decision import parse_patient_factors, treatment_files

        parse_patient_factors(factors, treatment_files()[1].factors)
    ranking = None if args.no_treatments else treatment_ranking(args, model, record, factors)
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


def treatment_ranking(args: argparse.Namespace, model, record, factors):
    """The ranked treatment list for one patient with the command's options."""
    from npprob.decision import recommend_treatments

    return recommend_treatments(model, record, patient_factors=factors, **_treatment_kwargs(args))


def single_record(args: argparse.Namespace, model) -> tuple[dict[str, object], dict | None]:
    """One patient's findings and raw patient factors from the file and the flags."""
    from npprob.decision.factors import RECORD_KEY
    from npprob.io.patients import parse_patient_json, read_patient_json

    record: dict[str, object] = {}
    factors = None
    if args.source == "-":
        batch, meta = parse_patient_json(
            sys.stdin.read(), model.network, name="<stdin>", extra_keys=(RECORD_KEY,)
        )
        record, factors = _record_from(batch, meta), meta.get(RECORD_KEY)
    elif args.source:
        batch, meta = read_patient_json(args.source, model.network, extra_keys=(RECORD_KEY,))
        record, factors = _record_from(batch, meta), meta.get(RECORD_KEY)
    elif not args.finding:
        raise EvidenceError(
            "Give a patient: PATIENT.json, '-' for standard input, or --finding NAME=STATE."
        )
    for item in args.finding:
        name, sep, state = item.partition("=")
        if not sep or not name.strip() or not state.strip():
            raise EvidenceError(f"--finding expects NAME=STATE; got {item!r}.")
        record[name.strip()] = _finding_state(model, name.strip(), state.strip())
    model.evidence(record)  # validates names and states with suggestions
    if args.factor:
        if factors is not None and not isinstance(factors, dict):
            from npprob.decision.factors import parse_patient_factors

            parse_patient_factors(factors, {})  # reports the malformed value
        factors = dict(factors or {})
        for item in args.factor:
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise EvidenceError(f"--factor expects NAME=VALUE; got {item!r}.")
            factors[name.strip()] = _factor_value(value.strip())
    return record, factors


def _factor_value(text: str) -> object:
    lowered = text.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    if lowered in ("null", "unknown"):
        return None
    try:
        return int(text)
    except ValueError:
        return text  # reported with the factor's expected type


def _record_from(batch, meta) -> dict[str, object]:
    network = batch.network
    record: dict[str, object] = {
        network.names[j]: network.variables[j].states[c]
        for j, c in enumerate(batch.codes[0])
        if c >= 0
    }
    if meta.get("id") is not None:
        record["id"] = meta["id"]
    return record


def _run_batch(args: argparse.Namespace, model) -> int:
    from npprob.io.patients import read_patients_csv

    table = read_patients_csv(args.source, model.network, strict=args.strict)
    errors = {e.row - 1: e.message for e in table.errors}
    # The model diagnoses people in chronic pain; a row saying otherwise is a bad row.
    context = model.network.index("chronic_pain")
    present = model.network.variables[context].states.index("present")
    for i in np.flatnonzero(
        (table.batch.codes[:, context] >= 0) & (table.batch.codes[:, context] != present)
    ):
        errors.setdefault(
            int(i), "chronic_pain must be 'present' (npprob diagnoses patients in chronic pain)"
        )
    good = [i for i in range(table.batch.n_patients) if table.valid[i] and i not in errors]
    diagnoses = {}
    if good:
        sub = table.batch.take(good)
        answers = model.diagnose_batch(sub, ids=[table.ids[i] for i in good], on_zero="skip")
        for i, d in zip(good, answers, strict=True):
            if d is None:
                errors[i] = "the findings have probability zero under the model (contradictory)"
            else:
                diagnoses[i] = d
    rows = []
    for i in range(table.batch.n_patients):
        d = diagnoses.get(i)
        if d is None:
            rows.append(
                [table.ids[i], *[""] * (len(_CSV_COLUMNS) - 2), errors.get(i, "invalid row")]
            )
            continue
        top = ";".join(f"{e.finding}={e.state}:{e.change:+.3f}" for e in d.explanation[: args.top])
        rows.append(
            [
                table.ids[i], f"{d.p_neuropathic:.6f}", f"{d.credible_interval[0]:.6f}",
                f"{d.credible_interval[1]:.6f}", f"{d.p_mixed:.6f}", f"{d.p_nociplastic:.6f}",
                f"{d.p_nociceptive:.6f}",
                *(f"{d.mechanisms[m]:.6f}" for m in d.mechanisms),
                d.neupsig.grade, top, "",
            ]
        )  # fmt: skip
    text = rows_to_csv(_CSV_COLUMNS, rows)
    if args.out:
        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    for e in table.errors:
        print(f"npprob diagnose: {args.source}:{e.line}: row {e.row}: {e.message}", file=sys.stderr)
    for i in sorted(set(errors) - {e.row - 1 for e in table.errors}):
        print(f"npprob diagnose: {args.source}: row {i + 1}: {errors[i]}", file=sys.stderr)
    if errors:
        print(
            f"npprob diagnose: {len(errors)} bad row(s) skipped; "
            f"{len(diagnoses)} patient(s) answered.",
            file=sys.stderr,
        )
        return 2
    return 0


def _finding_state(model, name: str, state: str) -> str:
    """``true``/``false`` name a two-state finding's states, as in JSON and CSV."""
    from npprob.io.patients import boolean_states

    if name in model.network and state.lower() in ("true", "false"):
        states = boolean_states(model.network.variable(name))
        if states is not None and state not in model.network.variable(name).states:
            return states[state.lower() == "true"]
    return state
