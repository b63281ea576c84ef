"""The files shipped with the package are present and up to date."""

from __future__ import annotations

import json

import jsonschema

from npprob.decision.factors import patient_record_schema_text
from npprob.io.resources import clinical_spec_path, patient_schema_path
from npprob.network.spec import load_spec


def test_shipped_patient_schema_matches_the_network():
    spec = load_spec(clinical_spec_path())
    shipped = patient_schema_path().read_text(encoding="utf-8")
    assert shipped == patient_record_schema_text(spec.network), (
        "models/patient.schema.json is stale: run python3 scripts/write_patient_schema.py"
    )


def test_examples_validate_against_the_shipped_schema():
    from pathlib import Path

    schema = json.loads(patient_schema_path().read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
    assert len(examples) >= 7
    for path in examples:
        errors = list(validator.iter_errors(json.loads(path.read_text(encoding="utf-8"))))
        assert not errors, (path.name, [e.message for e in errors])
    assert list(validator.iter_errors({"brush_allodynia": "sometimes"}))


def test_rule_and_target_files_carry_source_and_tag():
    """Every criterion, mapping, target and CPT row of the newer data files has provenance."""
    from npprob.io.resources import acceptance_path, models_dir, neupsig_path, sbc_spec_path
    from npprob.io.tomlfile import read_toml
    from npprob.network.spec import TAGS

    def check(entry: dict, where: str) -> None:
        assert isinstance(entry.get("source"), str), where
        assert entry["source"].strip(), where
        assert entry.get("tag") in TAGS, where
        if entry["tag"] in ("S", "D"):
            assert str(entry.get("reason", "")).strip(), f"{where}: tag {entry['tag']} needs why"

    for path in (neupsig_path(), acceptance_path(), sbc_spec_path()):
        # Shipped in the wheel by the models/*.toml package-data glob.
        assert path.parent == models_dir()
        assert path.suffix == ".toml"
    rules = read_toml(neupsig_path(), "rules")
    assert set(rules["criteria"]) == {"history", "distribution", "sensory_signs",
                                      "confirmatory_test"}  # fmt: skip
    for name, criterion in rules["criteria"].items():
        check(criterion, f"neupsig {name}")
        for k, entry in enumerate(criterion["any"]):
            if "source" in entry or "tag" in entry:
                check(entry, f"neupsig {name} entry {k}")
    acceptance = read_toml(acceptance_path(), "acceptance")
    check(acceptance["scope"], "acceptance scope")
    assert acceptance["targets"]
    for name, target in acceptance["targets"].items():
        check(target, f"acceptance {name}")
    spec = read_toml(sbc_spec_path(), "sbc")
    rows = [(name, row) for name, cpt in spec["cpts"].items() for row in cpt["rows"]]
    assert len(rows) == 14
    for name, row in rows:
        check(row, f"sbc {name}")


def test_the_newer_data_files_load():
    from npprob.diagnosis.neupsig import load_neupsig_rules
    from npprob.evaluation.report import load_acceptance
    from npprob.io.resources import acceptance_path, neupsig_path, sbc_spec_path

    spec = load_spec(clinical_spec_path())
    assert set(load_neupsig_rules(neupsig_path(), spec.network).criteria) == {
        "history", "distribution", "sensory_signs", "confirmatory_test",
    }  # fmt: skip
    assert len(load_acceptance(acceptance_path()).targets) == 5
    assert load_spec(sbc_spec_path()).network.names[0] == "context"


def test_the_network_picture_shows_the_specified_network():
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "scripts" / "draw_network.py"), "--check"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, "docs/network.svg is stale: run python3 scripts/draw_network.py"
    svg = (root / "docs" / "network.svg").read_text(encoding="utf-8")
    network = load_spec(clinical_spec_path()).network
    # One box per variable, named, and one arrow per parent-child pair, read from the file.
    boxes = re.findall(r"<title>([a-z_0-9]+):", svg)
    assert sorted(boxes) == sorted(network.names)
    assert svg.count("<path class='edge'") == sum(len(network.parents(n)) for n in network.names)
