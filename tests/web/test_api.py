"""The web app through Starlette's test client: the same answers and errors as the CLI."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from npprob.cli import main
from npprob.io.resources import patient_schema_path
from npprob.web.app import MAX_BODY_BYTES, SECURITY_HEADERS, create_app
from npprob.web.form import FACTOR_PREFIX, form_groups, form_values

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def _cli(*argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_gives_the_cli_json_byte_for_byte(client, example):
    status, expected = _cli("diagnose", str(example), "--json")
    assert status == 0
    response = client.post("/api/diagnose", content=example.read_bytes())
    assert response.status_code == 200
    assert response.text == expected
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("example", EXAMPLES[:4], ids=[p.stem for p in EXAMPLES[:4]])
def test_treat_gives_the_cli_json(client, example):
    status, expected = _cli("treat", str(example), "--json")
    assert status == 0
    response = client.post("/api/treat", content=example.read_bytes())
    assert response.status_code == 200
    assert response.text == expected


BAD_RECORDS = {
    "unknown finding": '{"burnning": "present"}',
    "invalid state": '{"burning": "maybe"}',
    "malformed json": '{"burning": "present",}',
    "not an object": '["burning"]',
    "duplicate key": '{"burning": "present", "burning": "absent"}',
    "nan": '{"burning": NaN}',
    "huge integer": '{"burning": ' + "9" * 5000 + "}",
    "hidden variable": '{"lesion": "present"}',
    "list value": '{"burning": ["present"]}',
    "unknown factor": '{"burning": "present", "patient_factors": {"agee": 70}}',
    "age out of range": '{"burning": "present", "patient_factors": {"age": 300}}',
    "unknown setting": '{"burning": "present", "setting": "diabetis"}',
    "context absent": '{"chronic_pain": "absent"}',
    "empty body": "",
    "unknown override": '{"burning": "present", "treatment_overrides": ["tcaa"]}',
    "factor of the wrong type": '{"burning": "present", "patient_factors": {"age": "70"}}',
    "factors not an object": '{"burning": "present", "patient_factors": [1]}',
    "setting of the wrong type": '{"burning": "present", "setting": 3}',
    "not utf-8": "\udcff",
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_every_bad_input_class_is_a_422_with_the_cli_message(client, tmp_path, capsys, case):
    path = tmp_path / "record.json"
    body = BAD_RECORDS[case].encode("utf-8", errors="surrogateescape")
    path.write_bytes(body)
    status, _ = _cli("diagnose", str(path), "--json")
    cli_message = capsys.readouterr().err.strip()
    assert status == 2
    prefix = "npprob diagnose: error: "
    assert cli_message.startswith(prefix)
    response = client.post("/api/diagnose", content=body)
    assert response.status_code == 422, response.text
    api_message = response.json()["error"]
    # The same words; only the name of the source differs (the file vs the request body).
    expected = cli_message[len(prefix) :].replace(str(path), "SOURCE")
    assert expected.replace("Patient file 'SOURCE'", "SOURCE") == api_message.replace(
        "the request body", "SOURCE"
    )


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    response = client.post("/api/diagnose", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


def test_security_headers_on_every_kind_of_response(client):
    responses = [
        client.get("/"),
        client.get("/api/health"),
        client.get("/static/style.css"),
        client.post("/api/diagnose", content=b"{"),
        client.get("/no/such/page"),
        client.post("/api/diagnose", content=b" " * (MAX_BODY_BYTES + 1)),
    ]
    for response in responses:
        for key, value in SECURITY_HEADERS.items():
            assert response.headers.get(key) == value, (response.url, key)
    csp = SECURITY_HEADERS["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp


def test_schema_health_and_openapi(client):
    assert client.get("/api/schema").json() == json.loads(patient_schema_path().read_text())
    health = client.get("/api/health").json()
    assert health["status"] == "ok"
    assert health["model"]["name"] == "default"
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/api/diagnose", "/api/treat", "/api/schema", "/api/health"} <= set(document["paths"])
    assert document["components"]["schemas"]["Patient"]["properties"]["burning"]


def test_the_page_has_no_inline_script_and_no_external_resource(client):
    html = client.get("/").text
    assert "<script>" not in html
    assert "<script " in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert "research tool, not a medical device" in html


def test_the_form_has_a_field_for_every_finding_and_factor(client):
    from npprob.io.resources import clinical_spec

    network = clinical_spec().network
    names = {f.name for g in form_groups(network) for f in g.fields}
    findings = {v.name for v in network.observable if str(v.role) != "context"}
    assert findings <= names
    schema = json.loads(patient_schema_path().read_text())
    factors = schema["properties"]["patient_factors"]["properties"]
    assert {FACTOR_PREFIX + f for f in factors} <= names
    html = client.get("/").text
    for name in findings:
        assert f'name="{name}"' in html


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_form_filled_from_an_example_shows_the_cli_probability(client, example):
    from npprob.io.resources import clinical_spec

    network = clinical_spec().network
    record = json.loads(example.read_text())
    values = {k: v for k, v in form_values(record, network).items() if not k.startswith("$")}
    values = {
        k: v for k, v in values.items() if k not in ("comment", "notes", "treatment_overrides")
    }
    response = client.post("/", data=values)
    assert response.status_code == 200, response.text[-2000:]
    _, expected = _cli("diagnose", str(example), "--json")
    answer = json.loads(expected)
    from npprob.web.app import _probability

    assert f'id="p-neuropathic">{_probability(answer["p_neuropathic"])}<' in response.text
    assert f'id="neupsig-grade">{answer["neupsig_grade"]}<' in response.text
    first = answer["treatments"]["ranked"][0]["name"]
    assert (
        first.replace("'", "&#39;").replace("&", "&amp;") in response.text or first in response.text
    )


def test_user_text_is_escaped(client):
    record = {"id": "<script>alert(1)</script>", "burning": "present"}
    response = client.post("/", files={"record_file": ("r.json", json.dumps(record).encode())})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_a_bad_form_value_shows_the_cli_message_and_keeps_the_page(client):
    response = client.post("/", data={"burning": "maybe", "factor.age": "70"})
    assert response.status_code == 422
    assert "has invalid state" in response.text
    assert 'role="alert"' in response.text
    response = client.post("/", data={"factor.age": "seventy"})
    assert response.status_code == 422
    assert "whole number" in response.text


def test_the_record_round_trips_through_download_and_upload(client):
    example = ROOT / "examples" / "postherpetic_neuralgia.json"
    downloaded = client.post(
        "/record.json", files={"record_file": ("r.json", example.read_bytes())}
    )
    assert downloaded.status_code == 200
    assert "attachment" in downloaded.headers["content-disposition"]
    again = client.post("/api/diagnose", content=downloaded.content)
    direct = client.post("/api/diagnose", content=example.read_bytes())
    assert again.json()["p_neuropathic"] == direct.json()["p_neuropathic"]


def test_nothing_is_written_to_disk(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    example = ROOT / "examples" / "postherpetic_neuralgia.json"
    client.post("/api/diagnose", content=example.read_bytes())
    client.post("/", files={"record_file": ("r.json", example.read_bytes())})
    assert set(os.listdir(tmp_path)) == before


def test_a_chunked_body_over_the_limit_is_a_413_too(client):
    def chunks():
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    response = client.post("/api/diagnose", content=chunks())
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    response = client.post("/", content=chunks(),
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 413


def test_a_lone_surrogate_is_refused_everywhere(client, tmp_path, capsys):
    body = '{"id": "\\ud800", "burning": "present"}'
    response = client.post("/api/diagnose", content=body.encode())
    assert response.status_code == 422
    assert "lone surrogate" in response.json()["error"]
    page = client.post("/", data={"record_json": body})
    assert page.status_code == 422
    assert "lone surrogate" in page.text
    path = tmp_path / "r.json"
    path.write_text(body)
    assert main(["diagnose", str(path), "--no-treatments"]) == 2
    assert "lone surrogate" in capsys.readouterr().err


def test_a_pasted_record_is_not_echoed_so_form_edits_count(client):
    first = client.post("/", data={"record_json": '{"burning": "present"}'})
    assert first.status_code == 200
    assert '<textarea id="record_json" name="record_json" rows="6"></textarea>' in first.text
    assert 'name="burning" value="present" checked' in first.text
    edited = client.post("/", data={"burning": "absent", "record_json": ""})
    assert 'name="burning" value="absent" checked' in edited.text


def test_the_server_setting_overrides_the_records_as_the_cli_flag_does(tmp_path):
    record = '{"burning": "present", "setting": "diabetes"}'
    path = tmp_path / "r.json"
    path.write_text(record)
    status, expected = _cli("diagnose", str(path), "--json", "--setting", "primary_care")
    assert status == 0
    served = TestClient(create_app(setting="primary_care"))
    assert served.post("/api/diagnose", content=record.encode()).text == expected
    health = served.get("/api/health").json()
    assert health["model"]["setting"]["name"] == "primary_care"
    assert "every record in the care setting <strong>primary_care</strong>" in served.get("/").text


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"content": b"burning=present", "headers": {"content-type": "text/plain"}},
         "the page takes a form"),
        ({"content": b"{}", "headers": {"content-type": "application/json"}}, "/api/diagnose"),
        ({"files": {"burning": ("b.txt", b"present")}}, "only &#39;record_file&#39; may be a file"),
        ({"data": {"factor.age": "7_0"}}, "whole number"),
        ({"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data"}},
         "the form cannot be read"),
    ],
)  # fmt: skip
def test_odd_form_posts_get_the_page_with_a_message(client, kwargs, phrase):
    response = client.post("/", **kwargs)
    assert response.status_code == 422
    assert phrase in response.text
    assert 'role="alert"' in response.text
