"""``npprob diagnose --json`` of the examples equals the saved output (``tests/fixtures/diagnose_before``),
except for keys added since.

A regression guard: the saved outputs are those of the shipped model when they were last
regenerated on purpose (network 0.3.4 and its retrained default model, the posterior
predictive, patients who record the condition answered by their own plan, inputs multiplied
in pairs before large ops, the other targets read from the backward pass, weighted means
summed over draws in draw order); a refactor must not
change a number. The diagnosis values are compared exactly. For the treatment list only the
keys are kept: every key the saved output had is still there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npprob.cli import main

ROOT = Path(__file__).resolve().parents[2]
BEFORE = ROOT / "tests" / "fixtures" / "diagnose_before"
# The examples that existed before the refactor (later examples have no saved output).
EXAMPLES = sorted(ROOT / "examples" / p.name for p in BEFORE.glob("*.json"))


def differences(before: object, after: object, where: str = "") -> list[str]:
    """Every place where ``after`` lost or changed something ``before`` had."""
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return [f"{where}: was an object"]
        out = [f"{where}.{k}: missing" for k in before if k not in after]
        for k in before:
            if k in after:
                out += differences(before[k], after[k], f"{where}.{k}")
        return out
    if isinstance(before, list):
        if not isinstance(after, list) or len(after) != len(before):
            return [f"{where}: list changed length"]
        return [d for i, (b, a) in enumerate(zip(before, after, strict=True))
                for d in differences(b, a, f"{where}[{i}]")]  # fmt: skip
    return (
        []
        if type(before) is type(after) and before == after
        else [f"{where}: {before!r} -> {after!r}"]
    )


def key_losses(before: dict, after: dict) -> list[str]:
    """Keys of the saved treatment list (and of its drug entries) missing from the new one."""
    lost = [k for k in before if k not in after]
    for group in ("ranked", "excluded", "not_indicated"):
        old_keys = {k for entry in before.get(group, []) for k in entry}
        new_keys = {k for entry in after.get(group, []) for k in entry}
        if after.get(group):
            lost += [f"{group}.{k}" for k in sorted(old_keys - new_keys)]
    return lost


def test_key_losses_finds_a_dropped_key():
    assert key_losses({"ranked": [{"nnt": 1}], "seed": 0}, {"ranked": [{"nnh": 1}]}) == [
        "seed",
        "ranked.nnt",
    ]


def test_every_saved_output_has_its_example():
    assert all(p.exists() for p in EXAMPLES)
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_diagnose_json_is_unchanged_but_for_added_keys(capsys, path):
    assert main(["diagnose", str(path), "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    before = json.loads((BEFORE / f"{path.stem}.json").read_text(encoding="utf-8"))
    saved_treatments = before.pop("treatments")
    assert differences(before, after) == []
    assert key_losses(saved_treatments, after["treatments"]) == []
    # The check can fail: a changed number or a dropped key is found.
    assert differences(before, {**after, "p_neuropathic": after["p_neuropathic"] + 1e-15})
    assert differences(before, {k: v for k, v in after.items() if k != "explanation"})
