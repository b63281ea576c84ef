"""Arguments shared by ``diagnose`` and ``treat``: one patient, and the treatment options."""

from __future__ import annotations

import argparse

from npprob.errors import EvidenceError, ParameterError
from npprob.io.settings import care_setting_names_in_file

__all__ = [
    "TREATMENT_OPTIONS",
    "add_patient_arguments",
    "add_treatment_options",
    "read_record",
    "treatment_options",
]

#: Treatment options: flag and keyword of :func:`npprob.decision.recommend`; unset ones keep
#: its defaults.
TREATMENT_OPTIONS = (
    ("--harm-weight", "harm_weight"),
    ("--benefit-shrinkage", "benefit_shrinkage"),
    ("--evidence", "evidence_set"),
    ("--samples", "n_samples"),
    ("--seed", "seed"),
)


def add_patient_arguments(p: argparse.ArgumentParser, *, csv: bool = False) -> None:
    """The patient (file, standard input, flags) and the model."""
    p.add_argument(
        "source", nargs="?", metavar="PATIENT.json|-|COHORT.csv" if csv else "PATIENT.json|-",
        help="one patient as JSON ('-' reads standard input)"
        + (" or many as CSV" if csv else "; patient factors under 'patient_factors'"),
    )  # fmt: skip
    p.add_argument(
        "--finding", action="append", default=[], metavar="NAME=STATE",
        help="a finding; repeat for several (added to, or overriding, the JSON record)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    p.add_argument("--model", default=None, help="model name (default: the shipped default)")
    add_unconverged_option(p)
    p.add_argument(
        "--setting", default=None, metavar="NAME",
        help="care setting whose case mix is the prior of the patient's condition: "
        + ", ".join(care_setting_names_in_file())
        + " (models/cohort_settings.toml; also 'setting' in the record; default: the case mix "
        "the model carries, which the output names)",
    )  # fmt: skip


def add_unconverged_option(p: argparse.ArgumentParser) -> None:
    """``--allow-unconverged``: use a model written although its diagnostics failed."""
    p.add_argument(
        "--allow-unconverged", action="store_true",
        help="use a model whose sampler diagnostics failed (written by npprob train "
        "--exploratory or --min-ess); refused otherwise",
    )  # fmt: skip


def add_treatment_options(p: argparse.ArgumentParser) -> None:
    """Patient factors, overrides, harm weight, benefit shrinkage, evidence set, samples, seed."""
    p.add_argument(
        "--factor", action="append", default=[], metavar="NAME=VALUE",
        help="a patient factor (true/false or a whole number, e.g. age=70); repeat for several "
        "(added to, or overriding, the record's patient_factors)",
    )  # fmt: skip
    p.add_argument(
        "--override", action="append", default=[], metavar="DRUG",
        help="rank DRUG normally despite a strong relative contraindication or the condition's "
        "guideline (the output says it was overridden); repeat for several; absolute "
        "contraindications cannot be overridden (also 'treatment_overrides' in the record)",
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


def treatment_options(args: argparse.Namespace) -> dict[str, object]:
    """The treatment options given on the command line, by keyword."""
    return {k: getattr(args, k) for _, k in TREATMENT_OPTIONS if getattr(args, k) is not None}


def assignments(items: list[str], flag: str, what: str) -> dict[str, str]:
    """``NAME=VALUE`` flags as a mapping, in the order given."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ParameterError(f"{flag} expects NAME={what}; got {item!r}.", parameter=flag)
        out[name.strip()] = value.strip()
    return out


def read_record(args: argparse.Namespace, network):
    """The patient of the command line: the JSON record, then ``--finding`` and ``--factor``."""
    from npprob.decision import factor_from_text
    from npprob.io.patient_record import PatientRecord
    from npprob.io.patients import read_patient_record

    findings = assignments(args.finding, "--finding", "STATE")
    factors = assignments(getattr(args, "factor", []), "--factor", "VALUE")
    if args.source:
        record = read_patient_record(args.source, network)
    elif findings:
        record = PatientRecord.empty(network)
    else:
        raise EvidenceError(
            "Give a patient: PATIENT.json, '-' for standard input, or --finding NAME=STATE."
        )
    record = record.with_findings(findings, text=True)
    if factors:
        record = record.with_factors({k: factor_from_text(v) for k, v in factors.items()})
    overrides = [d.strip() for d in getattr(args, "override", []) if d.strip()]
    if overrides:
        record = record.with_overrides(overrides)
    return record
