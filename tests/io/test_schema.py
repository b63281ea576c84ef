"""The patient-record JSON Schema (:mod:`npprob.io.schema`).

``jsonschema`` is the independent judge: the schema must be a valid draft
2020-12 schema, every record the reader accepts must validate, and records the
reader rejects (for reasons visible after decoding) must not.
"""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npprob.errors import EvidenceError, NetworkError
from npprob.io.patients import parse_patient_json
from npprob.io.schema import SCHEMA_DIALECT, patient_schema, schema_text, write_schema
from npprob.network import Network, Variable
from strategies import hypothesis_settings

VARIABLES = (
    Variable("neuropathy", ("no", "yes"), role="latent"),
    Variable("pain_score", ("low", "high"), role="derived"),
    Variable("diabetes", ("absent", "present"), role="history"),
    Variable("numbness", ("absent", "present"), role="finding"),
    Variable("xray", ("yes", "no"), role="finding"),
    Variable("burning", ("none", "mild", "severe"), role="finding"),
    Variable("douleur", ("aucune", "brûlure"), role="finding"),  # non-ASCII
    Variable("age_group", ("young", "old")),
)
PARENTS = {"numbness": ["neuropathy"], "pain_score": ["neuropathy", "burning"]}
OBSERVABLE = ["diabetes", "numbness", "xray", "burning", "douleur", "age_group"]
HIDDEN = ["neuropathy", "pain_score"]
METADATA = ["id", "comment", "notes", "$schema"]


def make_network(variables=VARIABLES, parents=PARENTS, name="pain-test") -> Network:
    by_name = {v.name: v for v in variables}
    cpts = {}
    for v in variables:
        shape = (*(by_name[p].cardinality for p in parents.get(v.name, ())), v.cardinality)
        cpts[v.name] = np.full(shape, 1.0 / v.cardinality)
    return Network(variables, parents, cpts, name=name)


NET = make_network()
SCHEMA = patient_schema(NET)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def parser_accepts(record: object) -> bool:
    try:
        parse_patient_json(json.dumps(record), NET)
    except EvidenceError:
        return False
    return True


# -- shape of the schema -----------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == SCHEMA_DIALECT
    assert jsonschema.validators.validator_for(SCHEMA) is jsonschema.Draft202012Validator
    assert SCHEMA["type"] == "object"
    assert SCHEMA["additionalProperties"] is False
    assert "required" not in SCHEMA


def test_properties_are_observable_variables_and_metadata():
    assert set(SCHEMA["properties"]) == {*OBSERVABLE, *METADATA}
    for key in HIDDEN:
        assert key not in SCHEMA["properties"]
        assert key in SCHEMA["description"]  # listed as not observable
    for key in METADATA:
        assert SCHEMA["properties"][key]["type"] == "string"


def test_variable_properties_enumerate_states_null_and_booleans():
    props = SCHEMA["properties"]
    assert props["burning"]["enum"] == ["none", "mild", "severe", None]
    assert props["burning"]["type"] == ["string", "null"]
    assert props["numbness"]["enum"] == ["absent", "present", None, False, True]
    assert props["numbness"]["type"] == ["string", "null", "boolean"]


def test_descriptions_give_role_states_and_boolean_meaning():
    props = SCHEMA["properties"]
    numbness = props["numbness"]["description"]
    assert "role: finding" in numbness
    assert "'absent', 'present'" in numbness
    assert "true means 'present', false means 'absent'" in numbness
    assert "true means 'yes', false means 'no'" in props["xray"]["description"]
    assert "role: history" in props["diabetes"]["description"]
    assert "role: unspecified" in props["age_group"]["description"]
    burning = props["burning"]["description"]
    assert "'none', 'mild', 'severe'" in burning
    assert "true means" not in burning


def test_title_default_and_custom():
    assert SCHEMA["title"] == "Patient record for pain-test"
    assert patient_schema(NET, title="Clinic form")["title"] == "Clinic form"


def test_extra_properties():
    schema = patient_schema(NET, extra_properties={"site": {"type": "integer", "minimum": 1}})
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"site": 3, "numbness": "present"})
    assert not validator.is_valid({"site": 0})
    assert not VALIDATOR.is_valid({"site": 3})
    _, meta = parse_patient_json('{"site": 3}', NET, extra_keys=["site"])
    assert meta["site"] == 3
    for clash in ("numbness", "neuropathy", "id"):
        with pytest.raises(EvidenceError, match=f"extra property '{clash}' clashes"):
            patient_schema(NET, extra_properties={clash: {"type": "string"}})
    with pytest.raises(EvidenceError, match="must map to a JSON Schema object"):
        patient_schema(NET, extra_properties={"site": "integer"})  # type: ignore[dict-item]


def test_observable_variable_named_like_metadata_is_refused():
    net = make_network((Variable("notes", ("a", "b"), role="finding"),), {})
    with pytest.raises(NetworkError, match="metadata key"):
        patient_schema(net)


# -- bytes on disk -------------------------------------------------------------------------


def test_write_schema_is_deterministic(tmp_path):
    a, b = tmp_path / "a.schema.json", tmp_path / "b.schema.json"
    write_schema(NET, a)
    write_schema(make_network(), b)  # a separately built, equal network
    data = a.read_bytes()
    assert data == b.read_bytes()
    write_schema(NET, a)
    assert a.read_bytes() == data
    assert data.endswith(b"}\n")
    assert not data.endswith(b"\n\n")
    text = data.decode("utf-8")
    assert "brûlure" in text  # UTF-8, not \\u escapes
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(text) == SCHEMA
    assert text == schema_text(NET)


def test_written_schema_depends_on_the_network(tmp_path):
    other = make_network(
        (*VARIABLES[:-1], Variable("age_group", ("young", "middle", "old"))), PARENTS
    )
    assert schema_text(other) != schema_text(NET)
    assert schema_text(NET, title="x") != schema_text(NET)


# -- the schema agrees with the reader --------------------------------------------------

GOOD_RECORDS = [
    {},
    {"numbness": "present"},
    {"numbness": True, "xray": False, "douleur": True, "age_group": None},
    {"burning": "severe", "diabetes": "absent", "id": "P1", "comment": "c", "notes": "n"},
    {"$schema": "pain-test.schema.json", "burning": None},
    {"douleur": "brûlure", "xray": "no"},
]

BAD_RECORDS = [
    pytest.param([], id="array"),
    pytest.param("numbness", id="string"),
    pytest.param(None, id="null"),
    pytest.param({"numbnes": "present"}, id="unknown"),
    pytest.param({"neuropathy": "yes"}, id="latent"),
    pytest.param({"pain_score": None}, id="derived-null"),
    pytest.param({"burning": "hot"}, id="state"),
    pytest.param({"burning": "Mild"}, id="state-case"),
    pytest.param({"burning": ""}, id="empty-string"),
    pytest.param({"burning": 1}, id="number"),
    pytest.param({"numbness": 1}, id="one-is-not-true"),
    pytest.param({"numbness": 0.0}, id="zero-is-not-false"),
    pytest.param({"burning": ["mild"]}, id="list"),
    pytest.param({"burning": {"state": "mild"}}, id="object"),
    pytest.param({"burning": True}, id="bool-nonbinary"),
    pytest.param({"id": 7}, id="id-number"),
    pytest.param({"comment": None}, id="comment-null"),
    pytest.param({"notes": ["a"]}, id="notes-list"),
]


@pytest.mark.parametrize("record", GOOD_RECORDS)
def test_good_records_pass_both(record):
    assert parser_accepts(record)
    VALIDATOR.validate(record)


@pytest.mark.parametrize("record", BAD_RECORDS)
def test_bad_records_fail_both(record):
    assert not parser_accepts(record)
    assert not VALIDATOR.is_valid(record)


def test_what_only_the_reader_can_see():
    """Duplicate keys and NaN vanish on decoding: the reader rejects them itself."""
    with pytest.raises(EvidenceError, match="duplicate key"):
        parse_patient_json('{"numbness": "absent", "numbness": "present"}', NET)
    assert VALIDATOR.is_valid(json.loads('{"numbness": "absent", "numbness": "present"}'))
    with pytest.raises(EvidenceError, match="'NaN' is not allowed"):
        parse_patient_json('{"numbness": NaN}', NET)


_KEYS = st.sampled_from([*OBSERVABLE, *HIDDEN, *METADATA, "numbnes", "unknown", "Burning"])
_VALUES = st.one_of(
    st.sampled_from(
        ["none", "mild", "severe", "absent", "present", "yes", "no", "young", "old", "brûlure"]
    ),
    st.sampled_from(["", "Present", "true", "null"]),
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 2, 0.0, 1.0, -1.5]),
    st.lists(st.sampled_from(["mild", 1, None]), max_size=2),
    st.dictionaries(st.sampled_from(["state"]), st.sampled_from(["mild"]), max_size=1),
)


@hypothesis_settings(max_examples=400)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_reader_accepts_exactly_what_the_schema_accepts(record):
    """For decoded JSON objects the two agree record by record."""
    accepted = parser_accepts(record)
    assert accepted == VALIDATOR.is_valid(record), (record, accepted)
    if accepted:
        batch, meta = parse_patient_json(json.dumps(record), NET)
        assert int((batch.codes >= 0).sum()) == sum(
            1 for k, v in record.items() if k in OBSERVABLE and v is not None
        )
        assert meta["id"] == record.get("id")


@hypothesis_settings(max_examples=60)
@given(st.data())
def test_random_valid_records_round_trip(data):
    """Records built from the schema's own enums are accepted and decoded as given."""
    record = {}
    for name in data.draw(st.lists(st.sampled_from(OBSERVABLE), unique=True)):
        record[name] = data.draw(st.sampled_from(SCHEMA["properties"][name]["enum"]))
    VALIDATOR.validate(record)
    batch, _ = parse_patient_json(json.dumps(record, ensure_ascii=False), NET)
    for name, value in record.items():
        code = int(batch.codes[0, NET.index(name)])
        states = NET.variable(name).states
        if value is None:
            assert code == -1
        elif isinstance(value, bool):
            description = SCHEMA["properties"][name]["description"]
            assert f"{str(value).lower()} means '{states[code]}'" in description
        else:
            assert states[code] == value
