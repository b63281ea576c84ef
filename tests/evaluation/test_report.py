"""Acceptance targets (``models/acceptance.toml``): loading, checking and where they apply.

:func:`oracle_check_targets` and :func:`oracle_targets_apply` are the targets and
the condition as the code wrote them before the move to the data file, copied
here as an independent oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npprob.evaluation.report as report
import npprob.io.resources as resources
from npprob.errors import DataFileError
from npprob.evaluation.report import (
    check_targets,
    load_acceptance,
    targets_apply,
    write_report,
)
from npprob.io.resources import acceptance_path
from strategies import hypothesis_settings

# -- the oracle: targets and condition as written in code before models/acceptance.toml -------

ORACLE_TARGETS = {
    "auc_margin_over_dn4": 0.05,
    "ece_max": 0.02,
    "calibration_slope": (0.9, 1.1),
    "coverage_90": (0.88, 0.92),
}


def oracle_check_targets(result):
    methods = result["methods"]
    npprob = methods["npprob"]["truth"]
    dn4_auc = methods["dn4"]["auc_raw"]
    checks = {
        "auc_vs_dn4": {
            "value": npprob["auc"] - dn4_auc,
            "target": f">= {ORACLE_TARGETS['auc_margin_over_dn4']}",
            "met": npprob["auc"] >= dn4_auc + ORACLE_TARGETS["auc_margin_over_dn4"],
        },
        "auc_vs_logistic_regression": {
            "value": npprob["auc"] - methods["logistic_regression"]["truth"]["auc"],
            "target": ">= 0",
            "met": npprob["auc"] >= methods["logistic_regression"]["truth"]["auc"],
        },
        "ece": {
            "value": npprob["ece"],
            "target": f"<= {ORACLE_TARGETS['ece_max']}",
            "met": npprob["ece"] <= ORACLE_TARGETS["ece_max"],
        },
        "calibration_slope": {
            "value": npprob["calibration_slope"],
            "target": "0.9-1.1",
            "met": 0.9 <= npprob["calibration_slope"] <= 1.1,
        },
    }
    if "coverage" in result:
        low, high = ORACLE_TARGETS["coverage_90"]
        value = result["coverage"]["0.9"]
        checks["coverage_90"] = {"value": value, "target": "0.88-0.92", "met": low <= value <= high}
    return checks


def oracle_targets_apply(card) -> bool:
    setting = ((card or {}).get("setting") or {}).get("name")
    trait = ((card or {}).get("options") or {}).get("reporting_trait", 0)
    return bool(setting == "consecutive_pain_clinic" and not trait)


# -- results --------------------------------------------------------------------------------


def metrics(auc=0.9, ece=0.01, slope=1.0) -> dict[str, float]:
    return {"auc": auc, "brier": 0.1, "log_loss": 0.3, "ece": ece,
            "calibration_intercept": 0.0, "calibration_slope": slope}  # fmt: skip


def make_result(auc, dn4, lr, ece, slope, coverage=None) -> dict[str, object]:
    methods = {
        "npprob": {"truth": metrics(auc, ece, slope), "label": metrics()},
        "dn4": {"truth": metrics(), "label": metrics(), "auc_raw": dn4},
        "logistic_regression": {"truth": metrics(lr), "label": metrics()},
    }
    result = {"cohort": "clinic", "n": 100, "prevalence_truth": 0.4, "prevalence_label": 0.45,
              "methods": methods}  # fmt: skip
    if coverage is not None:
        result["coverage"] = {"0.5": 0.5, "0.9": coverage}
    return result


def same(a, b) -> bool:
    """Equal values and types, NaN equal to NaN."""
    if isinstance(a, float | np.floating) and math.isnan(a):
        return isinstance(b, float | np.floating) and math.isnan(b)
    return a == b and type(a) is type(b)


def assert_same_checks(new, old) -> None:
    assert list(new) == list(old)
    for key in old:
        assert list(new[key]) == ["value", "target", "met"]
        for field in ("value", "target", "met"):
            assert same(new[key][field], old[key][field]), (key, field, new[key], old[key])


#: Values at and next to every bound, plus NaN (an AUC with one class).
EDGES = (0.0, 0.02, 0.05, 0.88, 0.9, 0.92, 1.0, 1.1, float("nan"))


def near_edges():
    return st.one_of(
        st.sampled_from(EDGES),
        st.sampled_from(EDGES).map(lambda x: float(np.nextafter(x, 2.0))),
        st.sampled_from(EDGES).map(lambda x: float(np.nextafter(x, -1.0))),
        st.floats(0.0, 1.2, allow_nan=False),
    )


@st.composite
def results(draw):
    dn4 = draw(st.floats(0.5, 0.95))
    auc = draw(
        st.one_of(
            st.floats(0.5, 1.0),
            st.just(dn4 + 0.05),  # the margin, by the oracle's own sum
            st.just(dn4 + 0.05).map(lambda x: float(np.nextafter(x, 0.0))),
            st.sampled_from((float("nan"), 0.85)),
        )
    )
    lr = draw(st.one_of(st.floats(0.5, 1.0), st.just(auc)))
    as_numpy = draw(st.booleans())  # evaluate_cohort may hand over numpy floats
    wrap = np.float64 if as_numpy else float
    coverage = draw(st.one_of(st.none(), near_edges()))
    return make_result(
        wrap(auc), wrap(dn4), wrap(lr), wrap(draw(near_edges())), wrap(draw(near_edges())),
        None if coverage is None else wrap(coverage),
    )  # fmt: skip


@hypothesis_settings(max_examples=500)
@given(result=results())
def test_check_targets_matches_the_oracle(result):
    assert_same_checks(check_targets(result), oracle_check_targets(result))


@pytest.mark.parametrize(
    ("auc", "dn4"),
    [(0.85, 0.8), (0.3, 0.25), (0.7000000000000001, 0.65), (0.95, 0.9)],
)
def test_the_dn4_margin_is_compared_as_the_oracle_compares_it(auc, dn4):
    # auc - dn4 >= 0.05 and auc >= dn4 + 0.05 disagree for some of these pairs.
    result = make_result(auc, dn4, 0.5, 0.01, 1.0)
    assert check_targets(result)["auc_vs_dn4"] == oracle_check_targets(result)["auc_vs_dn4"]


def test_shipped_targets_read_as_before():
    acceptance = load_acceptance()
    assert {k: t.text for k, t in acceptance.targets.items()} == {
        "auc_vs_dn4": ">= 0.05",
        "auc_vs_logistic_regression": ">= 0",
        "ece": "<= 0.02",
        "calibration_slope": "0.9-1.1",
        "coverage_90": "0.88-0.92",
    }
    bounds = {k: (t.at_least, t.at_most) for k, t in acceptance.targets.items()}
    assert bounds == {
        "auc_vs_dn4": (ORACLE_TARGETS["auc_margin_over_dn4"], None),
        "auc_vs_logistic_regression": (0, None),
        "ece": (None, ORACLE_TARGETS["ece_max"]),
        "calibration_slope": ORACLE_TARGETS["calibration_slope"],
        "coverage_90": ORACLE_TARGETS["coverage_90"],
    }
    assert acceptance.applies_to == {"setting": "consecutive_pain_clinic", "reporting_trait": 0}
    assert acceptance.name == "consecutive clinic"
    for target in (*acceptance.targets.values(), acceptance):
        assert target.source
        assert target.tag == "S"
        assert target.reason
    assert all(t.measures for t in acceptance.targets.values())


def test_check_targets_reports_the_file_targets():
    result = make_result(0.95, 0.8, 0.9, 0.01, 1.0, coverage=0.9)
    checks = check_targets(result)
    targets = load_acceptance().targets
    assert list(checks) == list(targets)
    assert {k: c["target"] for k, c in checks.items()} == {k: t.text for k, t in targets.items()}
    assert all(c["met"] for c in checks.values())
    assert checks["auc_vs_dn4"]["value"] == pytest.approx(0.15)
    # Without credible intervals there is no coverage to check.
    del result["coverage"]
    assert "coverage_90" not in check_targets(result)


def test_shipped_targets_are_read_once_per_process():
    assert load_acceptance() is load_acceptance()
    assert load_acceptance(acceptance_path()) == load_acceptance()
    assert load_acceptance(acceptance_path()) is not load_acceptance()


# -- where the targets apply ----------------------------------------------------------------

CARDS = [
    None,
    {},
    {"setting": None},
    {"setting": {"name": "consecutive_pain_clinic"}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": None},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": 0.0}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": 0}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": None}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": 0.5}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": 1e-9}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": float("nan")}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": np.float64(0)}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": "0"}},
    {"setting": {"name": "consecutive_pain_clinic"}, "options": {"reporting_trait": False}},
    {"setting": {"name": "consecutive_pain_clinic"},
     "options": {"reporting_trait": 0.0, "mcar": 0.3, "label": "clinician"}},
    {"setting": {"name": "diabetes"}, "options": {"reporting_trait": 0.0}},
    {"setting": {"name": "case_control"}},
]  # fmt: skip


@pytest.mark.parametrize("card", CARDS)
def test_targets_apply_as_the_oracle_decides(card):
    assert targets_apply(card) is oracle_targets_apply(card)


@hypothesis_settings(max_examples=200)
@given(
    setting=st.sampled_from(("consecutive_pain_clinic", "diabetes", "low_back_pain", "")),
    trait=st.one_of(st.none(), st.floats(0.0, 1.0), st.sampled_from((0, 0.0, 1))),
    mcar=st.floats(0.0, 0.9),
)
def test_targets_apply_matches_the_oracle_on_random_cards(setting, trait, mcar):
    card = {"setting": {"name": setting}, "options": {"mcar": mcar, "reporting_trait": trait}}
    assert targets_apply(card) is oracle_targets_apply(card)


def test_the_condition_comes_from_the_file(tmp_path):
    text = acceptance_path().read_text(encoding="utf-8")
    path = tmp_path / "acceptance.toml"
    path.write_text(
        text.replace('setting = "consecutive_pain_clinic"', 'setting = "diabetes"').replace(
            "reporting_trait = 0 }", 'reporting_trait = 0, label = "clinician" }'
        ),
        encoding="utf-8",
    )
    acceptance = load_acceptance(path)
    card = {"setting": {"name": "diabetes"}, "options": {"reporting_trait": 0.0}}
    assert not targets_apply(card, acceptance=acceptance)
    card["options"]["label"] = "clinician"
    assert targets_apply(card, acceptance=acceptance)
    assert not targets_apply(card)  # the shipped scope is the consecutive clinic


def test_the_targets_come_from_the_file(tmp_path):
    text = acceptance_path().read_text(encoding="utf-8")
    path = tmp_path / "acceptance.toml"
    path.write_text(
        text.replace("at_most = 0.02", "at_most = 0.5").replace(
            "at_least = 0.9\nat_most = 1.1", "at_least = 0.95"
        ),
        encoding="utf-8",
    )
    acceptance = load_acceptance(path)
    result = make_result(0.95, 0.8, 0.9, 0.1, 0.92)
    checks = check_targets(result, acceptance=acceptance)
    assert checks["ece"] == {"value": 0.1, "target": "<= 0.5", "met": True}
    assert checks["calibration_slope"] == {"value": 0.92, "target": ">= 0.95", "met": False}
    assert check_targets(result)["ece"]["met"] is False
    assert check_targets(result)["calibration_slope"]["met"] is True


@pytest.fixture
def shipped_cache():
    report._shipped_acceptance.cache_clear()
    yield
    report._shipped_acceptance.cache_clear()


def test_the_default_is_the_shipped_file(tmp_path, monkeypatch, shipped_cache):
    path = tmp_path / "acceptance.toml"
    text = acceptance_path().read_text(encoding="utf-8")
    path.write_text(text.replace("at_least = 0.05", "at_least = 0.5"), encoding="utf-8")
    monkeypatch.setattr(resources, "acceptance_path", lambda: path)
    report._shipped_acceptance.cache_clear()
    assert check_targets(make_result(0.95, 0.8, 0.9, 0.01, 1.0))["auc_vs_dn4"]["target"] == ">= 0.5"


def test_the_markdown_names_the_scope_and_lists_the_targets(tmp_path):
    result = make_result(0.95, 0.8, 0.9, 0.03, 1.0, coverage=0.9)
    result["targets"] = check_targets(result)
    summary = {"model": {"name": "m", "kind": "prior", "n_draws": 1}, "cohorts": [result]}
    write_report(summary, {}, {}, tmp_path, plots=False)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Targets (consecutive clinic):" in text
    assert "- ece: 0.030 (target <= 0.02): **missed**" in text
    assert "- calibration_slope: 1.000 (target 0.9-1.1): met" in text


# -- malformed files ------------------------------------------------------------------------

SHIPPED = acceptance_path().read_text(encoding="utf-8")
ECE = SHIPPED[SHIPPED.index("[targets.ece]") : SHIPPED.index("[targets.calibration_slope]")]
SCOPE = SHIPPED[SHIPPED.index("[scope]") : SHIPPED.index("[targets.auc_vs_dn4]")]


def edit(old: str, new: str, *, within: str = SHIPPED) -> str:
    assert old in within, old
    return SHIPPED.replace(within, within.replace(old, new, 1), 1)


BAD_FILES = {
    "invalid TOML": ("[targets.ece\n", "invalid TOML"),
    "no scope": (SHIPPED[SHIPPED.index("[targets.auc_vs_dn4]") :], r"no \[scope\]"),
    "no targets": (SCOPE, r"no \[targets"),
    "no source": (edit('source = "npprob acceptance criteria"\n', "", within=ECE),
                  "target 'ece': missing 'source'"),
    "no tag": (edit('tag = "S"\n', "", within=ECE), "target 'ece': tag None"),
    "bad tag": (edit('tag = "S"\n', 'tag = "s"\n', within=ECE), "tag 's' is not one of"),
    "S without reason": (edit("reason =", "note =", within=ECE), "needs a 'reason'"),
    "scope without source": (edit("source =", "note =", within=SCOPE), r"\[scope\]: missing 'source'"),
    "unknown scope key": (edit("source =", "origin =", within=SCOPE),
                          r"unknown key\(s\) \['origin'\]"),
    "scope without tag": (edit('tag = "S"\n', "", within=SCOPE), r"\[scope\]: tag None"),
    "unknown target": (edit("[targets.ece]", "[targets.brier]"), "unknown target 'brier'"),
    "no bound": (edit("at_most = 0.02\n", "", within=ECE), "needs at_least, at_most or both"),
    "text bound": (edit("at_most = 0.02", 'at_most = "0.02"', within=ECE),
                   "at_most must be a finite number"),
    "boolean bound": (edit("at_most = 0.02", "at_most = true", within=ECE),
                      "at_most must be a finite number"),
    "infinite bound": (edit("at_most = 0.02", "at_most = inf", within=ECE),
                       "at_most must be a finite number"),
    "bounds reversed": (edit("at_least = 0.88\nat_most = 0.92", "at_least = 0.92\nat_most = 0.88"),
                        "at_least 0.92 is above at_most 0.88"),
    "misspelt bound": (edit("at_most = 0.02", "at_mots = 0.02", within=ECE),
                       r"unknown key\(s\) \['at_mots'\]"),
    "no measures": (edit("measures =", "note =", within=ECE), "target 'ece': missing 'measures'"),
    "blank measures": (edit('measures = "Expected', 'measures = " "\nnote = "', within=ECE),
                       "target 'ece': missing 'measures'"),
    "misspelt measures": (edit("measures =", "measured =", within=ECE),
                          r"unknown key\(s\) \['measured'\]"),
    "no applies_to": (edit("applies_to =", "note =", within=SCOPE), "needs applies_to"),
    "applies_to not a table": (edit("applies_to = {", "applies_to = [{", within=SCOPE).replace(
        "reporting_trait = 0 }", "reporting_trait = 0 }]"), "needs applies_to"),
    "applies_to without setting": (edit('setting = "consecutive_pain_clinic", ', ""),
                                   "needs applies_to"),
    "unknown option": (edit("reporting_trait = 0 }", "reporting_trait = 0, trait = 0 }"),
                       r"unknown key\(s\) \['trait'\]"),
    "unknown setting": (edit('"consecutive_pain_clinic"', '"pain_clinic"'),
                        "unknown setting 'pain_clinic'"),
    "unknown top-level key": ("targets_version = 1\n" + SHIPPED, r"unknown key\(s\)"),
}  # fmt: skip


@pytest.mark.parametrize(("text", "match"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_malformed_files_raise_data_file_error(tmp_path, text, match):
    path = tmp_path / "acceptance.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=match) as info:
        load_acceptance(path)
    assert info.value.path == str(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message


def test_a_missing_file_raises_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="Cannot read acceptance file"):
        load_acceptance(tmp_path / "absent.toml")
