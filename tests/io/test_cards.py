"""Card fields are checked by type where they are read: model cards and cohort data cards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from npprob.diagnosis import load_model
from npprob.errors import EvidenceError, ModelFileError
from npprob.io.artifacts import write_model_dir
from npprob.io.cards import COHORT_CARD_FIELDS, MODEL_CARD_FIELDS, card_problem
from npprob.io.cohort import read_cohort_data
from npprob.io.resources import clinical_spec, models_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["default", "latent_class_synthetic"])
def test_shipped_model_cards_pass(name):
    card = json.loads((models_dir() / name / "card.json").read_text())
    assert card_problem(card, MODEL_CARD_FIELDS) is None


@pytest.mark.parametrize("card_path", sorted((ROOT / "data" / "synthetic").glob("*/card.json")))
def test_shipped_cohort_cards_pass(card_path):
    assert card_problem(json.loads(card_path.read_text()), COHORT_CARD_FIELDS) is None


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"options": {"reporting_trait": "high"}}, "options.reporting_trait"),
        ({"options": {"reporting_trait": True}}, "options.reporting_trait"),
        ({"setting": ["consecutive_pain_clinic"]}, "setting"),
        ({"setting": {"groups": [{"require": "lesion"}]}}, "setting.groups[0].require"),
        ({"recorded": ["burning", 3]}, "recorded[1]"),
        ({"options": {"record": "aetiology,burning"}}, "options.record"),
    ],
)
def test_a_cohort_card_field_of_the_wrong_type_is_named(card, field):
    assert f"field '{field}'" in card_problem(card, COHORT_CARD_FIELDS)


def test_absent_and_null_parents_are_not_checked():
    assert card_problem({}, COHORT_CARD_FIELDS) is None
    assert card_problem({"setting": None, "options": None}, COHORT_CARD_FIELDS) is None
    assert card_problem([], COHORT_CARD_FIELDS) == "it is not a JSON object"


def test_a_model_card_statistic_of_the_wrong_type_is_named():
    card = json.loads((models_dir() / "default" / "card.json").read_text())
    card["likelihood_details"]["statistics"][5]["implied_90"] = [0.1]
    assert "'likelihood_details.statistics[5].implied_90'" in card_problem(card, MODEL_CARD_FIELDS)


def test_a_model_folder_with_a_bad_card_is_refused_with_one_line(tmp_path):
    with np.load(models_dir() / "default" / "draws.npz") as npz:
        arrays = {k: npz[k][:2].copy() for k in npz.files}
    card = json.loads((models_dir() / "default" / "card.json").read_text())
    card["training_cohort"] = {"card": {"setting": "clinic"}}
    write_model_dir(tmp_path / "m", arrays, card)
    with pytest.raises(ModelFileError, match=r"training_cohort\.card\.setting"):
        load_model(str(tmp_path / "m"))
    card["training_cohort"] = None
    write_model_dir(tmp_path / "m", arrays, card)
    assert load_model(str(tmp_path / "m")).n_draws == 2


def test_a_cohort_with_a_bad_data_card_is_refused(tmp_path):
    folder = sorted((ROOT / "data" / "synthetic").glob("*/card.json"))[0].parent
    shutil.copy(folder / "cohort.csv", tmp_path / "cohort.csv")
    card = json.loads((folder / "card.json").read_text())
    card["options"]["reporting_trait"] = "none"
    (tmp_path / "card.json").write_text(json.dumps(card))
    network = clinical_spec().network
    with pytest.raises(EvidenceError, match=r"options\.reporting_trait"):
        read_cohort_data(tmp_path / "cohort.csv", network)
