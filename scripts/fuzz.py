"""Fuzz every input path of npprob with generated good and bad inputs, each checked by an oracle.

Usage: python3 scripts/fuzz.py [--minutes N] [--seed S] [--only NAME ...] [--json]

Entry points (round robin until the time is up):

* ``patient_json``: one patient as JSON, valid or with one planted fault (unknown key,
  wrong state, a number, a list, a hidden variable, a duplicate key, NaN, an integer of
  5,000 digits, bad metadata, a lone surrogate escape). Oracle: the README's record rules; a valid record must
  give exactly the planted states.
* ``cohort_csv``: a patients CSV with planted bad rows (wrong state, wrong number of
  cells). Oracle: exactly the planted rows are flagged, every other row is read as
  written.
* ``bif``: a random small network written as BIF, with CPT entries down to 5e-324, read
  back and queried. Oracle: exact rational enumeration of the joint (posterior within
  1e-9 whenever P(evidence) > 0; refused only when it is exactly 0).
* ``bif_mutated``: that BIF text with random edits. Oracle: parsed, or refused with
  npprob's own error; never another exception.
* ``evidence_csv``: an evidence CSV for ``npprob query`` with random edits. Oracle as
  for ``bif_mutated``.
* ``model_folder``: a copy of a shipped model with one byte changed in one file.
  Oracle: refused (``ModelFileError``) every time.
* ``model_consistent``: a small model folder with one deliberate change (an array
  dropped, added, retyped, reshaped or cut short, a value out of range, a card field
  of the wrong type, a row at the numerical edge) and its SHA256SUMS rewritten to
  match. Oracle: loaded only when the draws are valid probability tables of the
  network (checked independently), and then an example is diagnosed with its
  interval inside [0, 1] and the card read as the reports read it; otherwise refused
  with npprob's own error. The unchanged folder and the edge row must load.
* ``cli``: random command lines of ``diagnose``, ``treat``, ``query``, ``simulate``
  and ``train`` from their flags and good and bad values, run in a scratch folder.
  Oracle: exit status 0, 1 or 2 (argparse's usage errors included), never a
  traceback; what a successful run wrote is read back where it can be:
  ``diagnose --json`` (and each ``--jsonl`` line) gives probabilities in [0, 1] with P
  inside its interval and
  no drug both ranked and listed apart; ``query --out`` gives rows that are
  distributions.

Each case ends as one of: ``clean`` (accepted, and right by the oracle), ``ok``
(refused, as the oracle expects, with npprob's one-line error), ``wrong`` (accepted
with a wrong answer, refused when it should not be, or accepted when it should be
refused), ``crash`` (any other exception), ``hang`` (over ``--case-seconds``).
Prints one line per entry point and exits 1 if anything was wrong, crashed or hung.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np

OUTCOMES = ("tried", "clean", "ok", "wrong", "crash", "hang")


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    def fire(signum, frame):
        raise Hang

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- patient JSON ---------------------------------------------------------------------


def case_patient_json(rng: random.Random, ctx) -> str:
    from npprob.errors import NpprobError
    from npprob.io.patients import parse_patient_json

    network = ctx["network"]
    observable = ctx["observable"]
    chosen = rng.sample(observable, rng.randint(0, min(12, len(observable))))
    record, expected = {}, {}
    for var in chosen:
        if len(var.states) == 2 and var.boolean_states and rng.random() < 0.2:
            value = rng.random() < 0.5
            record[var.name] = value
            expected[var.name] = var.boolean_states[int(value)]
        elif rng.random() < 0.1:
            record[var.name] = None
        else:
            state = rng.choice(var.states)
            record[var.name] = state
            expected[var.name] = state
    if rng.random() < 0.3:
        record["id"] = "".join(rng.choice("abcé😀 1") for _ in range(rng.randint(0, 8)))
    fault = rng.choice([None, None, "unknown", "state", "number", "list", "hidden",
                        "duplicate", "nan", "bigint", "meta", "surrogate"])  # fmt: skip
    text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
    if fault == "unknown":
        record["no_such_finding_" + str(rng.randint(0, 99))] = "present"
    elif fault == "state" and observable:
        record[rng.choice(observable).name] = "no_such_state"
    elif fault == "number" and observable:
        record[rng.choice(observable).name] = rng.choice([1, 0.5, -3])
    elif fault == "list" and observable:
        record[rng.choice(observable).name] = ["present"]
    elif fault == "hidden":
        record[rng.choice(ctx["hidden"]).name] = "present"
    elif fault == "meta":
        record["id"] = rng.choice([3, None, ["x"], {"a": 1}])
    if fault in ("unknown", "state", "number", "list", "hidden", "meta"):
        text = json.dumps(record)
    elif fault == "duplicate" and record:
        key = next(iter(record))
        text = text[:-1] + (", " if len(record) else "") + json.dumps(key) + ': "x"}'
    elif fault == "nan":
        text = text[:-1] + (", " if record else "") + '"age": NaN}'
    elif fault == "bigint":
        text = text[:-1] + (", " if record else "") + '"x": ' + "9" * 5000 + "}"
    elif fault == "surrogate":
        # A lone surrogate escape: valid JSON syntax, not Unicode text (found by review).
        where = rng.choice(['"id": "a\\udc80b"', '"\\ud800": "present"', '"comment": "\\udfff"'])
        text = text[:-1] + (", " if record else "") + where + "}"
    else:
        fault = None
    try:
        batch, _ = parse_patient_json(text, network)
    except NpprobError:
        return "ok" if fault else "wrong"
    if fault:
        return "wrong"
    codes = batch.codes[0]
    for var in observable:
        code = codes[network.index(var.name)]
        want = expected.get(var.name)
        got = None if code < 0 else var.states[code]
        if got != want:
            return "wrong"
    return "clean"


# -- cohort CSV -----------------------------------------------------------------------


def case_cohort_csv(rng: random.Random, ctx) -> str:
    import csv

    from npprob.io.patients import parse_patients_csv

    network = ctx["network"]
    columns = rng.sample(ctx["observable"], rng.randint(1, 8))
    n = rng.randint(1, 40)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *(v.name for v in columns)])
    bad, expected = set(), []
    for i in range(n):
        row = [rng.choice(v.states) if rng.random() < 0.8 else "" for v in columns]
        fault = rng.random()
        if fault < 0.08:
            row[rng.randrange(len(row))] = "no_such_state"
            bad.add(i)
        elif fault < 0.12:
            row = row[:-1] if len(row) > 1 and rng.random() < 0.5 else [*row, "extra"]
            bad.add(i)
        writer.writerow([f"p{i}", *row])
        expected.append(row)
    table = parse_patients_csv(out.getvalue(), network)
    flagged = {e.row - 1 for e in table.errors}
    if flagged != bad:
        return "wrong"
    for i, row in enumerate(expected):
        if i in bad:
            continue
        for v, cell in zip(columns, row, strict=True):
            code = table.batch.codes[i, network.index(v.name)]
            if (code < 0) != (cell == "") or (code >= 0 and v.states[code] != cell):
                return "wrong"
    return "clean"


# -- BIF ------------------------------------------------------------------------------

TINY = (1e-100, 1e-150, 1e-200, 1e-250, 1e-300, 1e-320, 1e-323, 5e-324)


def _random_network(rng: random.Random):
    from npprob.network.network import Network
    from npprob.network.variable import Variable

    n = rng.randint(2, 5)
    names = [f"v{i}" for i in range(n)]
    cards = {v: rng.randint(2, 3) for v in names}
    parents = {}
    for i, v in enumerate(names):
        parents[v] = rng.sample(names[:i], rng.randint(0, min(i, 2)))
    nprng = np.random.default_rng(rng.getrandbits(32))
    cpts = {}
    for v in names:
        shape = [cards[p] for p in parents[v]] + [cards[v]]
        table = nprng.random(shape)
        tiny = nprng.random(shape) < 0.4
        table = np.where(tiny, nprng.choice(TINY, size=shape), table)
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
    variables = [Variable(v, tuple(f"s{j}" for j in range(cards[v]))) for v in names]
    return Network(variables, parents, cpts), names, cards, parents, cpts


def _exact(names, cards, parents, cpts, evidence, target):
    weights = [Fraction(0)] * cards[target]
    for conf in itertools.product(*(range(cards[v]) for v in names)):
        a = dict(zip(names, conf, strict=True))
        if any(a[v] != s for v, s in evidence.items()):
            continue
        w = Fraction(1)
        for v in names:
            w *= Fraction(float(cpts[v][(*(a[p] for p in parents[v]), a[v])]))
            if not w:
                break
        weights[a[target]] += w
    total = sum(weights)
    return None if total == 0 else [float(x / total) for x in weights]


def _bif_text(network) -> str:
    from npprob.io.bif import write_bif

    buffer = io.StringIO()
    write_bif(network, buffer)
    return buffer.getvalue()


def case_bif(rng: random.Random, ctx) -> str:
    from npprob.inference.engine import Engine
    from npprob.io.bif import read_bif_string

    network, names, cards, parents, cpts = _random_network(rng)
    read = read_bif_string(_bif_text(network))
    # The BIF text holds the CPTs as written (17 significant digits): the oracle uses
    # what was read, so it checks the engine, and the round trip separately.
    read_cpts = {v: np.asarray(read.cpt(v)) for v in names}
    for v in names:
        if not np.allclose(read_cpts[v], cpts[v], rtol=1e-15, atol=0):
            return "wrong"
    target = names[0]
    evidence = {v: rng.randrange(cards[v]) for v in names[1:] if rng.random() < 0.7}
    want = _exact(names, cards, parents, read_cpts, evidence, target)
    result = Engine(read).query({v: f"s{s}" for v, s in evidence.items()}, [target],
                                on_zero="nan")  # fmt: skip
    got = result.mean(target)[0]
    if want is None:
        return "ok" if np.isnan(got).all() else "wrong"
    if np.isnan(got).any() or np.max(np.abs(np.asarray(want) - got)) > 1e-9:
        return "wrong"
    return "clean"


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        if not chars:
            break
        k = rng.randrange(len(chars))
        action = rng.random()
        if action < 0.4:
            del chars[k]
        elif action < 0.7:
            chars.insert(k, rng.choice("{};,()|[]\"'0123456789.e-+ \n\tabc\x00é"))
        else:
            chars[k] = rng.choice("{};,()|0123456789 \n")
    return "".join(chars)


def case_bif_mutated(rng: random.Random, ctx) -> str:
    from npprob.errors import NpprobError
    from npprob.inference.engine import Engine
    from npprob.io.bif import read_bif_string

    network = _random_network(rng)[0]
    text = _mutate(rng, _bif_text(network))
    try:
        read = read_bif_string(text)
    except NpprobError:
        return "ok"
    target = read.names[0]
    Engine(read).query({}, [target], on_zero="nan")
    return "clean"


def case_evidence_csv(rng: random.Random, ctx) -> str:
    from npprob.errors import NpprobError
    from npprob.io.records import parse_evidence_csv

    network = ctx["asia"]
    names = rng.sample(list(network.names), rng.randint(1, len(network.names)))
    lines = [",".join(names)]
    for _ in range(rng.randint(0, 10)):
        lines.append(",".join(rng.choice([*network.variable(v).states, ""]) for v in names))
    text = "\n".join(lines) + "\n"
    if rng.random() < 0.8:
        text = _mutate(rng, text)
    try:
        parse_evidence_csv(text, network)
    except NpprobError:
        return "ok"
    return "clean"


# -- model folders --------------------------------------------------------------------


def case_model_folder(rng: random.Random, ctx) -> str:
    from npprob.errors import ModelFileError
    from npprob.io.artifacts import ModelFolder

    work = Path(ctx["tmp"]) / "model"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ctx["model"], work)
    files = sorted(p for p in work.iterdir() if p.is_file())
    target = rng.choice(files)
    data = bytearray(target.read_bytes())
    if not data:
        return "ok"
    k = rng.randrange(len(data))
    data[k] = (data[k] + rng.randint(1, 255)) % 256
    target.write_bytes(bytes(data))
    try:
        ModelFolder(work).load(ctx["spec"])
    except ModelFileError:
        return "ok"
    return "wrong"


#: Mutations of a model folder whose SHA256SUMS is rewritten to match (a folder made
#: or edited on purpose, not corrupted): every check past the checksums is exercised.
MODEL_MUTATIONS = (
    "none", "renorm", "drop", "extra", "dtype", "draws", "shape", "value", "card_field",
    "card_drop", "card_type",
)  # fmt: skip
_DTYPES = ("float32", "int64", "complex128", "bool", "<U3", "uint8", ">f8")
_VALUES = (float("nan"), float("inf"), float("-inf"), -0.1, 1.5, 0.0, 1e-320, 2.0)
_JSON_VALUES = (None, True, 0, -1, 1.5, "x", "", [], [1, "a"], {}, {"name": 3}, [[0.1, 0.2]])


def model_folder_variant(base: dict, out: Path, mutation: str, choose) -> bool:
    """Write a model folder mutated by ``mutation`` into ``out``; True if it stays valid.

    ``base`` holds the arrays and card of a small valid model; ``choose(options)``
    picks one option (a ``random.Random`` or a Hypothesis draw), so the same code
    serves the seeded campaign and the property tests.
    """
    from npprob.io.artifacts import write_model_dir
    from npprob.io.cards import MODEL_CARD_FIELDS

    arrays = {k: v.copy() for k, v in base["arrays"].items()}
    card = json.loads(json.dumps(base["card"]))
    names = sorted(arrays)
    var = choose(names)
    valid = mutation == "none"
    if mutation == "renorm":
        # A valid table at the numerical edge: one row of a draw made nearly one-hot.
        table = arrays[var].reshape(len(arrays[var]), -1, arrays[var].shape[-1])
        d, r = choose(range(table.shape[0])), choose(range(table.shape[1]))
        row = np.full(table.shape[2], 1e-300)
        row[choose(range(table.shape[2]))] = 1.0 - 1e-300 * (table.shape[2] - 1)
        table[d, r] = row
        valid = True
    elif mutation == "drop":
        del arrays[var]
    elif mutation == "extra":
        arrays["not_a_variable"] = np.full((len(arrays[var]), 2), 0.5)
    elif mutation == "dtype":
        dtype = choose(_DTYPES)
        arrays[var] = arrays[var].astype(dtype)
        valid = np.dtype(dtype) == np.dtype("float64")  # byte order is the reader's job
    elif mutation == "draws":
        arrays[var] = arrays[var][: choose((0, 1, len(arrays[var]) - 1))]
    elif mutation == "shape":
        how = choose(("axis", "swap", "flat", "scalar"))
        a = arrays[var]
        arrays[var] = {
            "axis": lambda: a[..., None],
            "swap": lambda: np.swapaxes(a, 0, -1).copy(),
            "flat": lambda: a.reshape(-1),
            "scalar": lambda: np.array(0.5),
        }[how]()
        # A swap can keep the shape (as many draws as states): the values decide then.
        valid = None if arrays[var].shape == a.shape else False
    elif mutation == "value":
        flat = arrays[var].reshape(-1)
        flat[choose(range(flat.size))] = choose(_VALUES)
        valid = None  # the oracle decides from the values
    elif mutation == "card_field":
        path = choose(sorted(MODEL_CARD_FIELDS))
        node = card
        parts = [part.removesuffix("[]") for part in path.split(".")]
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, list):
                node = node[0] if node else None
        if isinstance(node, dict):
            node[parts[-1]] = choose(_JSON_VALUES)
        valid = None
    elif mutation == "card_drop":
        card.pop(choose(sorted(card)), None)
        valid = None
    elif mutation == "card_type":
        card = choose(([], "card", 3, None))
    out_path = Path(out)
    shutil.rmtree(out_path, ignore_errors=True)
    if isinstance(card, dict):
        write_model_dir(out_path, arrays, card)
    else:
        write_model_dir(out_path, arrays, {})
        (out_path / "card.json").write_text(json.dumps(card) + "\n", encoding="utf-8")
        from npprob.io.artifacts import CHECKSUMS, sha256_file

        lines = [f"{sha256_file(out_path / n)}  {n}\n" for n in ("card.json", "draws.npz")]
        (out_path / CHECKSUMS).write_text("".join(lines), encoding="utf-8")
    return valid


def _valid_draws(arrays: dict, network) -> bool:
    """The oracle: float64 draws of every variable's shape, finite, in [0, 1], rows summing to 1."""
    n = {len(a) for a in arrays.values() if a.ndim}
    if set(arrays) != set(network.names) or len(n) != 1 or min(n) < 1:
        return False
    for name in network.names:
        a = arrays[name]
        if a.dtype != np.float64 or a.shape[1:] != tuple(network.cpt_shape(name)):
            return False
        if not np.isfinite(a).all() or (a < 0).any() or (a > 1).any():
            return False
        if np.abs(a.sum(axis=-1) - 1.0).max() > 1e-9:
            return False
    return True


def model_folder_outcome(path: Path, valid: bool | None, ctx) -> str:
    """Load the folder as ``diagnose --model`` does, diagnose one example, read its card."""
    from npprob.diagnosis.model import diagnose, load_model
    from npprob.errors import NpprobError
    from npprob.evaluation.evaluate import evidence_checks
    from npprob.evaluation.report import _evidence_figure, evidence_markdown

    try:
        model = load_model(str(path))
    except NpprobError as exc:
        if valid:
            print(f"refused although valid: {exc}", file=sys.stderr)
        return "wrong" if valid else "ok"
    with np.load(path / "draws.npz", allow_pickle=False) as npz:
        stored = {k: npz[k] for k in npz.files}
    if valid is False or not _valid_draws(stored, ctx["network"]):
        print(f"loaded although invalid: {path}", file=sys.stderr)
        return "wrong"
    result = diagnose(ctx["example_record"], model)
    p = result.p_neuropathic
    low, high = result.credible_interval
    if not (0.0 <= low <= p <= high <= 1.0):
        return "wrong"
    model.info()
    evidence = evidence_checks(model.card)
    if evidence is not None:
        evidence_markdown(evidence, [])
        if ctx.get("figures", True):
            import matplotlib.pyplot as plt

            plt.close(_evidence_figure(evidence))
    return "clean"


def case_model_consistent(rng: random.Random, ctx) -> str:
    mutation = rng.choice(MODEL_MUTATIONS)
    out = Path(ctx["tmp"]) / "model_consistent"
    valid = model_folder_variant(ctx["small_model"], out, mutation, rng.choice)
    return model_folder_outcome(out, valid, ctx)


# -- command lines --------------------------------------------------------------------

CLI_FLAGS = {
    "diagnose": [
        ("{example}",),
        ("--json",),
        ("--finding", "{finding}"),
        ("--setting", "{setting}"),
        ("--model", "{model}"),
        ("--top", "{int}"),
        ("--out", "{out}"),
        ("--strict",),
        ("{csv}",),
        ("--no-treatments",),
        ("--factor", "{factor}"),
        ("--no-explain",),
        ("--jsonl",),
        ("--csv",),
        ("--id-column", "{word}"),
        ("--no-progress",),
    ],
    "treat": [("{example}",), ("--json",), ("--model", "{model}"), ("--factor", "{factor}")],
    "query": [
        ("--network", "{bif}"),
        ("--target", "{word}"),
        ("--evidence", "{csv}"),
        ("--out", "{out}"),
        ("--on-zero", "{word}"),
        ("--threads", "{int}"),
    ],
    "simulate": [
        ("--n", "{small}"),
        ("--seed", "{int}"),
        ("--out-dir", "{outdir}"),
        ("--setting", "{setting}"),
        ("--mcar", "{float}"),
        ("--label", "{word}"),
        ("--truth", "{word}"),
        ("--record", "{finding_names}"),
        ("--no-progress",),
        ("--generator", "{word}"),
        ("--no-parquet",),
    ],
    "train": [
        ("--cohort", "{csv}"),
        ("--name", "{word}"),
        ("--likelihood", "{word}"),
        ("--draws", "{int}"),
        ("--chains", "{int}"),
        ("--seed", "{int}"),
    ],
}


def _value(rng: random.Random, kind: str, ctx) -> str:
    tmp = ctx["tmp"]
    choices = {
        "example": [str(p) for p in ctx["examples"]] + [f"{tmp}/missing.json", tmp, "-x"],
        "finding": ["burning=present", "burning=maybe", "nothing=present", "=", "burning"],
        "factor": ["age=70", "age=-1", "age=1e400", "pregnant=true", "bogus=1", "age"],
        "setting": ["diabetes", "primary_care", "diabetis", "case_control", ""],
        "model": ["default", "prior", "latent_class_synthetic", "nope", tmp, "../.."],
        "int": ["0", "1", "3", "-1", "99999999999999999999", "x", "1.5"],
        "small": ["1", "5", "50", "0", "-3", "abc"],
        "float": ["0", "0.1", "1", "-0.5", "nan", "inf", "2"],
        "out": [f"{tmp}/r.csv", tmp, f"{tmp}/no/dir/r.csv", "-"],
        "outdir": [f"{tmp}/cohort", f"{tmp}/r.csv", f"{tmp}/a/b"],
        "csv": [ctx["patients_csv"], f"{tmp}/missing.csv", ctx["bif"], tmp],
        "bif": [ctx["bif"], f"{tmp}/missing.bif", ctx["patients_csv"], tmp],
        "word": [
            "asia",
            "either",
            "conjugate",
            "truth",
            "nan",
            "error",
            "x",
            "",
            "latent-trait",
            "prior",
            "posterior",
            "clinician",
        ],
        "finding_names": ["aetiology,burning", "aetiology,nope", "", ","],
    }
    return rng.choice(choices[kind])


def case_cli(rng: random.Random, ctx) -> str:
    from npprob.cli import main

    command = rng.choice(list(CLI_FLAGS))
    argv = [command]
    for flag in rng.sample(CLI_FLAGS[command], rng.randint(0, len(CLI_FLAGS[command]))):
        argv += [_value(rng, part[1:-1], ctx) if part.startswith("{") else part for part in flag]
    if command == "train" and "--likelihood" in argv:
        # A real NUTS fit takes minutes: keep train to its checks and the exact path.
        i = argv.index("--likelihood")
        if i + 1 < len(argv) and argv[i + 1] not in ("conjugate", "x"):
            argv[i + 1] = "x"
    if command == "train" and "--likelihood" not in argv:
        argv += ["--likelihood", "x"]
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ctx["tmp"])
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                status = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(cwd)
    if "Traceback" in err.getvalue():
        return "wrong"
    if status in (0, 1):
        return "clean" if _output_is_sound(command, argv, out.getvalue(), ctx) else "wrong"
    return "ok" if status == 2 else "wrong"


def _probabilities_sound(result: dict) -> bool:
    """Every P in [0, 1]; the interval holds P; a mixed component is also neuropathic."""
    ps = [v for k, v in result.items() if k.startswith("p_") and isinstance(v, float)]
    low, high = result["credible_interval"]
    return (
        all(0.0 <= v <= 1.0 for v in ps)
        and 0.0 <= low <= result["p_neuropathic"] <= high <= 1.0
        and result["p_mixed"] <= result["p_neuropathic"] + 1e-12
    )


def _output_is_sound(command: str, argv: list[str], stdout: str, ctx) -> bool:
    """What a successful run printed or wrote, checked where it can be read back.

    ``diagnose --json`` to standard output: the probabilities are probabilities, and
    no drug listed apart (contraindicated, outside its indication, advised against)
    is also ranked. ``query --out FILE``: each target's columns are probabilities
    summing to 1 (or NaN with ``--on-zero nan``).
    """
    if command == "diagnose" and "--json" in argv and "--out" not in argv and stdout.strip():
        try:
            data = json.loads(stdout)
        except ValueError:
            return False  # --json with a cohort is refused; any answer printed is JSON
        for result in data if isinstance(data, list) else [data]:
            if "p_neuropathic" not in result:
                continue
            if not _probabilities_sound(result):
                return False
            treatments = result.get("treatments") or {}
            ranked = {t.get("id") for t in treatments.get("ranked", [])}
            apart = {
                t.get("id")
                for key in ("excluded", "not_indicated", "not_recommended")
                for t in treatments.get(key, [])
            }
            if ranked & apart:
                return False
    if command == "diagnose" and "--jsonl" in argv and "--out" not in argv and stdout.strip():
        try:
            rows = [json.loads(line) for line in stdout.splitlines()]
        except ValueError:
            return False
        for row in rows:
            if row.get("error") is None and not _probabilities_sound(
                row | {"credible_interval": [row.get("ci_low"), row.get("ci_high")]}
            ):
                return False
    if command == "query" and "--out" in argv:
        i = argv.index("--out")
        target = argv[i + 1] if i + 1 < len(argv) else ""
        path = Path(ctx["tmp"]) / target
        if target not in ("", "-") and path.is_file():
            import csv

            with path.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    by_target: dict[str, list[float]] = {}
                    for column, cell in row.items():
                        if column and "=" in column:
                            by_target.setdefault(column.split("=")[0], []).append(float(cell))
                    for values in by_target.values():
                        if any(v != v for v in values):
                            continue  # --on-zero nan
                        if min(values) < 0 or max(values) > 1 or abs(sum(values) - 1) > 1e-9:
                            return False
    return True


ENTRY_POINTS = {
    "patient_json": case_patient_json,
    "cohort_csv": case_cohort_csv,
    "bif": case_bif,
    "bif_mutated": case_bif_mutated,
    "evidence_csv": case_evidence_csv,
    "model_folder": case_model_folder,
    "model_consistent": case_model_consistent,
    "cli": case_cli,
}


def context(tmp: str) -> dict:
    from npprob.io.bif import read_bif
    from npprob.io.resources import clinical_spec, models_dir

    spec = clinical_spec()
    network = spec.network
    root = Path(__file__).resolve().parents[1]
    bif = root / "tests" / "fixtures" / "networks" / "asia.bif"
    patients = Path(tmp) / "patients.csv"
    patients.write_text("id,aetiology,burning\np1,herpes_zoster,present\np2,osteoarthritis,\n")
    with np.load(models_dir() / "default" / "draws.npz", allow_pickle=False) as npz:
        small = {k: npz[k][:3].copy() for k in npz.files}
    card = json.loads((models_dir() / "default" / "card.json").read_text(encoding="utf-8"))
    card["n_draws"] = 3
    example = root / "examples" / "postherpetic_neuralgia.json"
    return {
        "small_model": {"arrays": small, "card": card},
        "example_record": json.loads(example.read_text(encoding="utf-8")),
        "spec": spec,
        "network": network,
        "observable": list(network.observable),
        "hidden": [v for v in network.variables if v not in network.observable],
        "asia": read_bif(bif),
        "bif": str(bif),
        "model": models_dir() / "default",
        "examples": sorted((root / "examples").glob("*.json"))[:4],
        "patients_csv": str(patients),
        "tmp": tmp,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case-seconds", type=float, default=120.0)
    parser.add_argument("--only", nargs="*", choices=list(ENTRY_POINTS), default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", type=int, default=3, help="failures printed per entry point")
    args = parser.parse_args(argv)
    names = args.only or list(ENTRY_POINTS)
    counts = {name: Counter() for name in names}
    shown = Counter()
    deadline = time.monotonic() + args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="npprob-fuzz-") as tmp:
        ctx = context(tmp)
        for k in itertools.count():
            if time.monotonic() > deadline:
                break
            name = names[k % len(names)]
            rng = random.Random(f"{args.seed}:{name}:{k}")
            counts[name]["tried"] += 1
            try:
                with time_limit(args.case_seconds):
                    outcome = ENTRY_POINTS[name](rng, ctx)
            except Hang:
                outcome = "hang"
            except Exception:
                outcome = "crash"
                if shown[name] < args.show:
                    print(f"crash in {name} (case {k}):", file=sys.stderr)
                    traceback.print_exc(limit=4)
            if outcome in ("wrong", "hang") and shown[name] < args.show:
                print(f"{outcome} in {name} (case {k}, seed {args.seed})", file=sys.stderr)
            if outcome in ("wrong", "crash", "hang"):
                shown[name] += 1
            counts[name][outcome] += 1
    table = {name: {o: counts[name][o] for o in OUTCOMES} for name in names}
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(f"{'entry point':14s} " + " ".join(f"{o:>6s}" for o in OUTCOMES))
        for name, row in table.items():
            print(f"{name:14s} " + " ".join(f"{row[o]:6d}" for o in OUTCOMES))
    failures = sum(row[o] for row in table.values() for o in ("wrong", "crash", "hang"))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
