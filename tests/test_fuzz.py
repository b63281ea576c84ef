"""Fuzzing in the default run: every entry point of scripts/fuzz.py for a bounded number of
seeded cases, and Hypothesis-generated text for the readers. The longer campaign is
``python3 scripts/fuzz.py --minutes N``."""

from __future__ import annotations

import contextlib
import importlib.util
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npprob.errors import NpprobError

FUZZ = Path(__file__).resolve().parents[1] / "scripts" / "fuzz.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("npprob_fuzz", FUZZ)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ctx(fuzz, tmp_path_factory):
    return fuzz.context(str(tmp_path_factory.mktemp("fuzz")))


@pytest.mark.parametrize(
    "entry",
    [
        "patient_json",
        "cohort_csv",
        "bif",
        "bif_mutated",
        "evidence_csv",
        "model_folder",
        "model_consistent",
        "cli",
    ],
)
def test_every_entry_point_survives_seeded_cases(fuzz, ctx, entry):
    outcomes = []
    for k in range(40):
        rng = random.Random(f"suite:{entry}:{k}")
        with fuzz.time_limit(60):
            outcomes.append(fuzz.ENTRY_POINTS[entry](rng, ctx))
    assert set(outcomes) <= {"clean", "ok"}, outcomes
    # The cases exercise both sides where both exist.
    if entry in ("patient_json", "bif_mutated", "evidence_csv", "model_consistent", "cli"):
        assert {"clean", "ok"} <= set(outcomes), outcomes


@pytest.fixture(scope="module")
def network():
    from npprob.io.resources import clinical_spec

    return clinical_spec().network


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_any_text_as_a_patient_record_parses_or_is_refused(network, text):
    from npprob.io.patients import parse_patient_json

    with contextlib.suppress(NpprobError):
        parse_patient_json(text, network)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(record=st.dictionaries(st.sampled_from(["aetiology", "burning", "id", "age", "x", "$schema",
                                                "patient_factors", "lesion"]) | st.text(max_size=12),
                              _JSON, max_size=6))  # fmt: skip
def test_any_json_object_as_a_patient_record_parses_or_is_refused(network, record):
    import json

    from npprob.io.patients import parse_patient_json

    with contextlib.suppress(NpprobError):
        parse_patient_json(json.dumps(record), network)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(
        alphabet=st.sampled_from(list('aetiology,burning,present,absent\n"id 1é\r')), max_size=400
    )
)
def test_any_text_as_a_patients_csv_parses_or_is_refused(network, text):
    from npprob.io.patients import parse_patients_csv

    for strict in (False, True):
        try:
            table = parse_patients_csv(text, network, strict=strict)
        except NpprobError:
            continue
        assert len(table.ids) == table.batch.codes.shape[0] == len(table.valid)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(
            list(
                "network variable probability{}();,|[]0123456789.e- abtype discrete table default\n"
            )
        ),
        max_size=400,
    )
)
def test_any_text_as_a_bif_file_parses_or_is_refused(text):
    from npprob.io.bif import read_bif_string

    with contextlib.suppress(NpprobError):
        read_bif_string(text)


_TOKENS = st.sampled_from(
    ["diagnose", "treat", "query", "simulate", "--json", "--top", "0", "-1", "3", "--model",
     "prior", "nope", "--finding", "burning=present", "burning=x", "--setting", "diabetes",
     "diabetis", "--n", "5", "--out", "--out-dir", "--strict", "--target", "either",
     "--network", "--evidence", "--no-progress", "--seed", "x", "--factor", "age=70", "-",
     "--truth", "posterior", "--record", "aetiology,burning", "--no-treatments", ""]
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tokens=st.lists(_TOKENS, min_size=1, max_size=7))
def test_any_command_line_exits_with_a_documented_status(tmp_path, monkeypatch, tokens):
    import contextlib
    import io

    from npprob.cli import main

    example = Path(__file__).resolve().parents[1] / "examples" / "postherpetic_neuralgia.json"
    argv = [str(example) if t == "-" else t for t in tokens]
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            status = exc.code
    assert status in (0, 1, 2), (argv, status, err.getvalue()[-500:])
    assert "Traceback" not in err.getvalue()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_deliberately_changed_model_folder_loads_only_when_valid(fuzz, ctx, data):
    """A folder whose SHA256SUMS was rewritten to match: past the checksums, every check.

    Loaded only when its draws are valid tables of the network (the fuzzer's own
    oracle, independent of the loader), and then it diagnoses an example and its
    card is read as the reports read it; otherwise refused with npprob's error.
    """
    mutation = data.draw(st.sampled_from(fuzz.MODEL_MUTATIONS), label="mutation")

    def choose(options):
        return data.draw(st.sampled_from(list(options)))

    out = Path(ctx["tmp"]) / "hypothesis_model"
    valid = fuzz.model_folder_variant(ctx["small_model"], out, mutation, choose)
    outcome = fuzz.model_folder_outcome(out, valid, {**ctx, "figures": False})
    assert outcome in ("clean", "ok"), (mutation, outcome)
    if mutation in ("none", "renorm"):
        assert outcome == "clean"


@pytest.fixture(scope="module")
def asia():
    from npprob.io.bif import read_bif

    return read_bif(Path(__file__).resolve().parent / "fixtures" / "networks" / "asia.bif")


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list('asia,smoke,xray,yes,no,id\n" \r\x00é')), max_size=300
    ),
    block_size=st.integers(1, 5),
)
def test_any_text_as_an_evidence_csv_reads_the_same_whole_and_in_blocks(asia, text, block_size):
    """Refused with npprob's error, or read; the blocks join to the whole file's rows."""
    from npprob.io.records import iter_evidence_blocks, parse_evidence_csv

    try:
        batch, _ = parse_evidence_csv(text, asia)
    except NpprobError:
        with pytest.raises(NpprobError):
            list(iter_evidence_blocks(text, asia, block_size=block_size))
        return
    blocks = list(iter_evidence_blocks(text, asia, block_size=block_size))
    assert [b.first_row for b in blocks] == list(range(0, len(batch.codes), block_size))
    joined = [row for b in blocks for row in b.batch.codes.tolist()]
    assert joined == batch.codes.tolist()


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list('aetiology,burning,true_neuropathic,label,0,1,present,\n"é')),
        max_size=300,
    ),
    card=st.one_of(st.none(), st.dictionaries(
        st.sampled_from(["setting", "options", "recorded", "x"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.text(max_size=3)),
                  st.dictionaries(st.sampled_from(["name", "label", "reporting_trait", "record"]),
                                  st.one_of(st.none(), st.floats(), st.text(max_size=3)))),
    )),
)  # fmt: skip
def test_any_cohort_file_and_data_card_read_or_are_refused(network, tmp_path_factory, text, card):
    """A cohort CSV with any data card: read with its rows, or refused with npprob's error."""
    import json

    from npprob.io.cohort import read_cohort_data

    folder = tmp_path_factory.mktemp("cohort")
    (folder / "cohort.csv").write_text(text, encoding="utf-8")
    if card is not None:
        (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")
    try:
        data = read_cohort_data(folder / "cohort.csv", network)
    except NpprobError:
        return
    assert data.codes.shape[1] == len(network)
    if data.label is not None:
        assert len(data.label) == len(data.codes)
