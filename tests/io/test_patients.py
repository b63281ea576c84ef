"""Patient records (:mod:`npprob.io.patients`): one patient as JSON, many as CSV.

Networks are built here, with every role the readers care about, so the tests
do not depend on a clinical network file.
"""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npprob.errors import EvidenceError, NetworkError
from npprob.io.patients import (
    PatientTable,
    RowError,
    boolean_states,
    observable_variables,
    parse_patient_json,
    parse_patients_csv,
    read_patient_json,
    read_patients_csv,
)
from npprob.io.records import parse_evidence_csv
from npprob.network import EvidenceBatch, Network, Variable
from strategies import hypothesis_settings

# -- a small network with every role --------------------------------------------------

VARIABLES = (
    Variable("neuropathy", ("no", "yes"), role="latent"),
    Variable("pain_score", ("low", "high"), role="derived"),
    Variable("diabetes", ("absent", "present"), role="history"),
    Variable("numbness", ("absent", "present"), role="finding"),
    Variable("xray", ("yes", "no"), role="finding"),  # affirmative state first
    Variable("alarm", ("TRUE", "FALSE"), role="finding"),
    Variable("side", ("left", "right"), role="finding"),
    Variable("burning", ("none", "mild", "severe"), role="finding"),
    Variable("age_group", ("young", "old")),  # role "unspecified": observable
)
PARENTS = {"numbness": ["neuropathy"], "pain_score": ["neuropathy", "burning"]}


def make_network(variables=VARIABLES, parents=PARENTS) -> Network:
    """Uniform CPTs over the given structure."""
    by_name = {v.name: v for v in variables}
    cpts = {}
    for v in variables:
        shape = (*(by_name[p].cardinality for p in parents.get(v.name, ())), v.cardinality)
        cpts[v.name] = np.full(shape, 1.0 / v.cardinality)
    return Network(variables, parents, cpts, name="pain-test")


NET = make_network()
OBSERVABLE = ["diabetes", "numbness", "xray", "alarm", "side", "burning", "age_group"]


def code_of(batch: EvidenceBatch, row: int, name: str) -> int:
    return int(batch.codes[row, NET.index(name)])


def state_of(batch: EvidenceBatch, row: int, name: str) -> str | None:
    code = code_of(batch, row, name)
    return None if code < 0 else NET.variable(name).states[code]


def assert_one_line_error(excinfo: pytest.ExceptionInfo, phrase: str) -> str:
    message = str(excinfo.value)
    assert phrase in message
    assert "\n" not in message
    assert "\r" not in message
    assert excinfo.value.__cause__ is None  # no raw exception attached
    return message


# -- roles and booleans ---------------------------------------------------------------


def test_observable_variables_skip_latent_and_derived_only():
    assert [v.name for v in observable_variables(NET)] == [n for n in NET.names if n in OBSERVABLE]
    assert set(OBSERVABLE) == {v.name for v in observable_variables(NET)}


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("absent", "present"), ("absent", "present")),
        (("no", "yes"), ("no", "yes")),
        (("yes", "no"), ("no", "yes")),
        (("TRUE", "FALSE"), ("FALSE", "TRUE")),
        (("Present", "Absent"), ("Absent", "Present")),
        (("positive", "negative"), ("negative", "positive")),
        (("left", "right"), ("left", "right")),
        (("low", "mid", "high"), None),
        (("only",), None),
    ],
)
def test_boolean_states(states, expected):
    assert boolean_states(Variable("v", states)) == expected


# -- one patient as JSON: accepted records --------------------------------------------


def test_state_names_nulls_and_metadata():
    text = json.dumps(
        {
            "id": "P-001",
            "comment": "referred by GP",
            "notes": "second visit",
            "$schema": "pain-test.schema.json",
            "burning": "severe",
            "diabetes": "present",
            "numbness": None,
            "age_group": "old",
        }
    )
    batch, meta = parse_patient_json(text, NET)
    assert batch.n_patients == 1
    assert meta == {"id": "P-001", "comment": "referred by GP", "notes": "second visit"}
    assert state_of(batch, 0, "burning") == "severe"
    assert state_of(batch, 0, "diabetes") == "present"
    assert state_of(batch, 0, "age_group") == "old"
    assert code_of(batch, 0, "numbness") == -1
    assert int((batch.codes >= 0).sum()) == 3


def test_empty_record_is_a_patient_with_nothing_observed():
    batch, meta = parse_patient_json("  {}\n", NET)
    assert batch.codes.tolist() == [[-1] * len(NET)]
    assert meta == {"id": None, "comment": None, "notes": None}


@pytest.mark.parametrize(
    ("name", "value", "state"),
    [
        ("numbness", True, "present"),  # positional: true = second state
        ("numbness", False, "absent"),
        ("side", True, "right"),
        ("side", False, "left"),
        ("xray", True, "yes"),  # by name, although 'yes' comes first
        ("xray", False, "no"),
        ("alarm", True, "TRUE"),
        ("alarm", False, "FALSE"),
        ("age_group", True, "old"),
    ],
)
def test_booleans_for_two_state_variables(name, value, state):
    batch, _ = parse_patient_json(json.dumps({name: value}), NET)
    assert state_of(batch, 0, name) == state


def test_json_record_agrees_with_from_records():
    record = {"numbness": "present", "xray": "no", "burning": "mild", "side": None}
    batch, _ = parse_patient_json(json.dumps(record), NET)
    expected = EvidenceBatch.from_records(NET, [record])
    np.testing.assert_array_equal(batch.codes, expected.codes)


def test_extra_keys_are_passed_through():
    text = '{"id": "P1", "site": {"ward": 3}, "numbness": "absent"}'
    with pytest.raises(EvidenceError, match="unknown finding 'site'"):
        parse_patient_json(text, NET)
    batch, meta = parse_patient_json(text, NET, extra_keys=["site", "visit"])
    assert meta["site"] == {"ward": 3}
    assert "visit" not in meta
    assert state_of(batch, 0, "numbness") == "absent"


def test_extra_keys_may_not_name_a_variable():
    with pytest.raises(EvidenceError, match="extra_keys names variable"):
        parse_patient_json("{}", NET, extra_keys=["numbness"])


def test_observable_variable_named_like_metadata_is_refused():
    net = make_network((Variable("id", ("a", "b"), role="finding"),), {})
    with pytest.raises(NetworkError, match="metadata key"):
        parse_patient_json("{}", net)
    hidden = make_network((Variable("id", ("a", "b"), role="latent"),), {})
    _, meta = parse_patient_json('{"id": "x"}', hidden)
    assert meta["id"] == "x"


# -- one patient as JSON: errors ------------------------------------------------------

JSON_ERRORS = [
    pytest.param(
        '{"numbness": "present",\n "xray": }', "<stdin>:2:10: malformed JSON", id="syntax"
    ),
    pytest.param('{"numbness": "present"', "malformed JSON", id="truncated"),
    pytest.param("", "<stdin>:1:1: malformed JSON", id="empty"),
    pytest.param(
        '{"numbness": "present", "numbness": "absent"}',
        "duplicate key 'numbness'",
        id="duplicate",
    ),
    pytest.param('{"id": "a", "id": "b"}', "duplicate key 'id'", id="duplicate-metadata"),
    pytest.param('{"site": {"a": 1, "a": 2}}', "duplicate key 'a'", id="duplicate-nested"),
    pytest.param('[{"numbness": "present"}]', "the top level is a JSON array", id="array"),
    pytest.param('"present"', "the top level is a JSON string", id="string"),
    pytest.param("null", "the top level is a JSON null", id="null"),
    pytest.param("3", "the top level is a JSON number", id="number"),
    pytest.param(
        '{"numbnes": "present"}',
        "unknown finding 'numbnes' (did you mean 'numbness'?)",
        id="unknown-hint",
    ),
    pytest.param('{"zzz": "a"}', "unknown finding 'zzz'.", id="unknown"),
    pytest.param(
        '{"neuropathy": "yes"}',
        "'neuropathy' is a latent variable and cannot be observed",
        id="latent",
    ),
    pytest.param(
        '{"pain_score": null}',
        "'pain_score' is a derived variable and cannot be observed",
        id="derived-null",
    ),
    pytest.param(
        '{"burning": "hot"}',
        "finding 'burning' has invalid state 'hot' (expected one of: none, mild, severe, or null)",
        id="state",
    ),
    pytest.param(
        '{"numbness": "yes"}',
        "expected one of: absent, present, true, false, or null",
        id="state-binary",
    ),
    pytest.param('{"burning": "Mild"}', "invalid state 'Mild'", id="state-case"),
    pytest.param('{"burning": ""}', "finding 'burning' is an empty string", id="empty-string"),
    pytest.param(
        '{"burning": 2}', "finding 'burning' must be a state name, not number 2", id="int"
    ),
    pytest.param('{"burning": 1.5}', "not number 1.5", id="float"),
    pytest.param('{"numbness": 1}', "not number 1", id="one-is-not-true"),
    pytest.param('{"burning": ["mild"]}', "not array ['mild']", id="array-value"),
    pytest.param('{"burning": {"state": "mild"}}', "not object {'state': 'mild'}", id="object"),
    pytest.param(
        '{"burning": true}',
        "finding 'burning' got boolean true, but only two-state variables accept booleans",
        id="bool-nonbinary",
    ),
    pytest.param('{"id": 17}', "'id' must be a string, not number 17", id="id-number"),
    pytest.param('{"comment": null}', "'comment' must be a string, not null", id="comment-null"),
    pytest.param('{"numbness": NaN}', "<stdin>:1:14: 'NaN' is not allowed", id="nan"),
    pytest.param('{"numbness":\n  Infinity}', "<stdin>:2:3: 'Infinity' is not allowed", id="inf"),
    pytest.param('{"numbness": -Infinity}', "'-Infinity' is not allowed", id="-inf"),
    pytest.param(
        '{"comment": "NaN, Infinity", "numbness": NaN}',
        "<stdin>:1:42: 'NaN' is not allowed",
        id="nan-after-string",
    ),
    pytest.param("[" * 100_000, "nested too deeply", id="deep-nesting"),
]


@pytest.mark.parametrize(("text", "phrase"), JSON_ERRORS)
def test_json_errors_are_one_line(text, phrase):
    with pytest.raises(EvidenceError) as excinfo:
        parse_patient_json(text, NET)
    message = assert_one_line_error(excinfo, phrase)
    assert message.startswith("<stdin>:")


def test_json_lists_every_problem_and_names_the_first_key():
    text = '{"neuropathy": "yes", "burning": 7, "xray": "maybe", "age_grup": "old"}'
    with pytest.raises(EvidenceError) as excinfo:
        parse_patient_json(text, NET)
    message = assert_one_line_error(excinfo, "'neuropathy' is a latent variable")
    assert "finding 'burning' must be a state name" in message
    assert "invalid state 'maybe'" in message
    assert "unknown finding 'age_grup' (did you mean 'age_group'?)" in message
    assert excinfo.value.variable == "neuropathy"


def test_json_long_lists_of_problems_are_capped():
    text = json.dumps({f"bogus{i}": 1 for i in range(9)})
    with pytest.raises(EvidenceError) as excinfo:
        parse_patient_json(text, NET)
    message = assert_one_line_error(excinfo, "and 4 more problem(s)")
    assert message.count("unknown finding") == 5


def test_json_newlines_in_keys_and_values_stay_on_one_line():
    text = json.dumps({"burning": "very\nhot", "new\nline": "x"})
    with pytest.raises(EvidenceError) as excinfo:
        parse_patient_json(text, NET)
    message = assert_one_line_error(excinfo, "invalid state 'very\\nhot'")
    assert "unknown finding 'new\\nline'" in message


def test_read_patient_json_from_file_and_stdin(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    path.write_text('\ufeff{"id": "P9", "xray": true}', encoding="utf-8")  # BOM tolerated
    batch, meta = read_patient_json(path, NET)
    assert meta["id"] == "P9"
    assert state_of(batch, 0, "xray") == "yes"

    path.write_text('{"xray": "maybe"}', encoding="utf-8")
    with pytest.raises(EvidenceError) as excinfo:
        read_patient_json(path, NET)
    assert_one_line_error(excinfo, f"{path}: finding 'xray' has invalid state 'maybe'")

    monkeypatch.setattr("sys.stdin", io.StringIO('{"side": "left"}'))
    batch, _ = read_patient_json("-", NET)
    assert state_of(batch, 0, "side") == "left"


def test_unreadable_patient_files(tmp_path):
    with pytest.raises(EvidenceError) as excinfo:
        read_patient_json(tmp_path / "missing.json", NET)
    assert_one_line_error(excinfo, "Cannot read patient file")
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"comment": "café"}'.encode("latin-1"))
    with pytest.raises(EvidenceError) as excinfo:
        read_patient_json(latin, NET)
    assert_one_line_error(excinfo, "is not UTF-8 text")


# -- many patients as CSV -------------------------------------------------------------

MIXED_CSV = (
    "id,numbness,xray,burning,comment\n"  # line 1
    "P1,present,yes,mild,first visit\n"  # line 2, row 1: good
    "P2,present,maybe,mild,\n"  # line 3, row 2: bad state
    "P3,absent,no\n"  # line 4, row 3: too few cells
    "\n"  # line 5: skipped
    "P4,TRUE,false,,\n"  # line 6, row 4: booleans
    "P5,,,,\n"  # line 7, row 5: nothing observed
    "P6,absent,,true,\n"  # line 8, row 6: boolean for 3-state variable
    "P7 , Absent ,  no , severe ,x\n"  # line 9, row 7: 'Absent' is not a state
    'P8,absent,yes,none,"two\nlines"\n'  # lines 10-11, row 8: good
    "P9,absent,yes,none,\n"  # line 12, row 9: good
)


def test_mixed_rows_keep_the_good_ones():
    table = parse_patients_csv(MIXED_CSV, NET, name="mixed.csv")
    assert isinstance(table, PatientTable)
    assert len(table) == 9
    assert table.ids == ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"]
    assert table.valid.tolist() == [True, False, False, True, True, False, False, True, True]
    assert [(e.row, e.line) for e in table.errors] == [(2, 3), (3, 4), (6, 8), (7, 9)]
    assert all(isinstance(e, RowError) for e in table.errors)
    assert "unknown state 'maybe' for 'xray'" in table.errors[0].message
    assert "expected one of: yes, no, true, false, or an empty cell" in table.errors[0].message
    assert table.errors[1].message == "has 3 cells; the header has 5"
    assert "unknown state 'true' for 'burning'" in table.errors[2].message
    assert "expected one of: none, mild, severe, or an empty cell" in table.errors[2].message
    assert "unknown state 'Absent' for 'numbness'" in table.errors[3].message
    assert all("\n" not in e.message for e in table.errors)

    b = table.batch
    assert [state_of(b, 0, n) for n in ("numbness", "xray", "burning")] == [
        "present",
        "yes",
        "mild",
    ]
    assert [state_of(b, 3, n) for n in ("numbness", "xray", "burning")] == [
        "present",
        "no",
        None,
    ]
    assert (b.codes[4] == -1).all()
    assert [state_of(b, 7, n) for n in ("numbness", "xray", "burning")] == [
        "absent",
        "yes",
        "none",
    ]
    # Bad rows are wholly unobserved, including cells that were fine.
    for bad in (1, 2, 5, 6):
        assert (b.codes[bad] == -1).all()


def test_valid_rows_drops_the_bad_ones():
    table = parse_patients_csv(MIXED_CSV, NET)
    batch, ids = table.valid_rows()
    assert ids == ["P1", "P4", "P5", "P8", "P9"]
    np.testing.assert_array_equal(batch.codes, table.batch.codes[[0, 3, 4, 7, 8]])


def test_several_bad_cells_are_one_row_error():
    table = parse_patients_csv("numbness,burning\nmaybe,hot\n", NET)
    assert len(table.errors) == 1
    message = table.errors[0].message
    assert "unknown state 'maybe' for 'numbness'" in message
    assert "unknown state 'hot' for 'burning'" in message
    assert table.ids == ["1"]  # no id column: 1-based data row numbers


def test_strict_mode_raises_on_the_first_bad_row():
    with pytest.raises(EvidenceError) as excinfo:
        parse_patients_csv(MIXED_CSV, NET, strict=True, name="mixed.csv")
    assert_one_line_error(excinfo, "mixed.csv:3: data row 2: unknown state 'maybe' for 'xray'")
    assert excinfo.value.row == 1  # 0-based, like EvidenceError elsewhere
    good = "id,numbness\nA,present\nB,\n"
    lenient = parse_patients_csv(good, NET)
    strict = parse_patients_csv(good, NET, strict=True)
    np.testing.assert_array_equal(lenient.batch.codes, strict.batch.codes)
    assert strict.errors == []
    assert strict.valid.all()


def test_strict_mode_reports_a_short_row():
    with pytest.raises(EvidenceError) as excinfo:
        parse_patients_csv("id,numbness,xray\nA,present\n", NET, strict=True)
    assert_one_line_error(excinfo, "<csv>:2: data row 1: has 2 cells; the header has 3")


def test_boolean_cells_are_case_insensitive():
    text = "numbness,xray,alarm,side\nTRUE,True,true,FALSE\nfalse,false,False,tRuE\n"
    table = parse_patients_csv(text, NET)
    assert table.errors == []
    names = ("numbness", "xray", "alarm", "side")
    assert [state_of(table.batch, 0, n) for n in names] == ["present", "yes", "TRUE", "left"]
    assert [state_of(table.batch, 1, n) for n in names] == ["absent", "no", "FALSE", "right"]


def test_id_and_comment_columns():
    text = "notes,numbness,patient,comment\nhello,present,X1,c\n,absent,X2,\n"
    table = parse_patients_csv(text, NET, id_column="patient")
    assert table.ids == ["X1", "X2"]
    assert [state_of(table.batch, r, "numbness") for r in (0, 1)] == ["present", "absent"]
    assert int((table.batch.codes >= 0).sum()) == 2
    with pytest.raises(EvidenceError, match="unknown variable 'id' in the header"):
        parse_patients_csv("id,numbness\nA,present\n", NET, id_column=None)


def test_header_only_gives_an_empty_table():
    table = parse_patients_csv("id,numbness\n", NET)
    assert len(table) == 0
    assert table.batch.codes.shape == (0, len(NET))
    assert table.valid.shape == (0,)
    assert table.ids == []


def test_patient_table_is_frozen():
    table = parse_patients_csv("numbness\npresent\n", NET)
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.ids = []  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        table.valid[0] = False
    with pytest.raises(EvidenceError, match="PatientTable"):
        PatientTable(table.batch, ["a", "b"], np.ones(1, bool), [])


CSV_STRUCTURAL = [
    pytest.param("", "f.csv: the file is empty", id="empty"),
    pytest.param("\n\n", "f.csv: the file is empty", id="blank-lines"),
    pytest.param(
        "numbness,,xray\n", "f.csv:1: the header has an empty column name", id="empty-name"
    ),
    pytest.param("xray,numbness, xray\n", "f.csv:1: duplicate column(s): xray", id="duplicate"),
    pytest.param(
        "\nnumbnes\npresent\n",
        "f.csv:2: unknown variable 'numbnes' in the header. Did you mean 'numbness'?",
        id="unknown",
    ),
    pytest.param(
        "neuropathy,numbness\nyes,present\n",
        "f.csv:1: column 'neuropathy' is a latent variable and cannot be observed",
        id="latent",
    ),
    pytest.param(
        "numbness,pain_score\npresent,\n",
        "column 'pain_score' is a derived variable and cannot be observed",
        id="derived",
    ),
    pytest.param('numbness,xray\n"present,yes\n', "f.csv:2: malformed CSV", id="quoting"),
    pytest.param("numbness\npre\x00sent\n", "f.csv: contains NUL bytes", id="nul"),
]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(("text", "phrase"), CSV_STRUCTURAL)
def test_structural_problems_always_raise(text, phrase, strict):
    with pytest.raises(EvidenceError) as excinfo:
        parse_patients_csv(text, NET, strict=strict, name="f.csv")
    assert_one_line_error(excinfo, phrase)


def test_id_column_that_is_a_variable_is_refused():
    with pytest.raises(EvidenceError) as excinfo:
        parse_patients_csv("numbness,xray\npresent,yes\n", NET, id_column="numbness")
    assert_one_line_error(excinfo, "column 'numbness' is both the identifier column and a variable")


def test_read_patients_csv_from_file_and_stdin(tmp_path, monkeypatch):
    path = tmp_path / "patients.csv"
    path.write_text("id,side\nA,right\nB,middle\n", encoding="utf-8")
    table = read_patients_csv(path, NET)
    assert table.ids == ["A", "B"]
    assert state_of(table.batch, 0, "side") == "right"
    assert table.errors == [RowError(2, 3, table.errors[0].message)]
    with pytest.raises(EvidenceError) as excinfo:
        read_patients_csv(path, NET, strict=True)
    assert_one_line_error(excinfo, f"{path}:3: data row 2: unknown state 'middle' for 'side'")
    with pytest.raises(EvidenceError) as excinfo:
        read_patients_csv(tmp_path / "nope.csv", NET)
    assert_one_line_error(excinfo, "Cannot read patient file")
    monkeypatch.setattr("sys.stdin", io.StringIO("side\nleft\n"))
    table = read_patients_csv("-", NET)
    assert state_of(table.batch, 0, "side") == "left"


_cells = st.sampled_from(["", " "]).flatmap(
    lambda pad: st.sampled_from(["", "present", "absent", "yes", "no", "mild", "severe"]).map(
        lambda s: pad + s
    )
)


@hypothesis_settings(max_examples=80)
@given(
    st.lists(st.sampled_from(OBSERVABLE), min_size=1, max_size=5, unique=True),
    st.data(),
)
def test_agrees_with_read_evidence_csv_on_plain_tables(columns, data):
    """Without booleans, ids or bad rows both readers decode the same codes."""
    rows = data.draw(st.lists(st.lists(_cells, min_size=len(columns), max_size=len(columns))))
    valid_cells = {c: set(NET.variable(c).states) | {""} for c in columns}
    rows = [
        [cell if cell.strip() in valid_cells[c] else "" for c, cell in zip(columns, r, strict=True)]
        for r in rows
    ]
    text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    table = parse_patients_csv(text, NET)
    expected, _ = parse_evidence_csv(text, NET)
    np.testing.assert_array_equal(table.batch.codes, expected.codes)
    assert table.errors == []
    # A one-column row with an empty cell is an empty line, which both readers skip.
    assert len(table) == sum(1 for r in rows if ",".join(r))
    assert table.valid.all()
