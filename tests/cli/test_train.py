"""``npprob train`` end to end: model folder, card, determinism, errors, PyMC diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from npprob.cli import main
from npprob.cohorts import read_cohort
from npprob.diagnosis import load_model
from npprob.io.artifacts import CHECKSUMS, read_model_dir
from npprob.io.resources import clinical_spec_path
from npprob.learning import family_counts, posterior_draws
from npprob.network.spec import load_spec

SPEC = load_spec(clinical_spec_path())
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postherpetic_neuralgia.json"
N_PATIENTS = 3000
MODEL_FILES = {"draws.npz", "card.json", "posterior.nc", CHECKSUMS}


def train_args(cohort: Path, models: Path, name: str, *extra: str) -> list[str]:
    return ["train", "--cohort", str(cohort), "--name", name, "--models-dir", str(models), *extra]


@pytest.fixture(scope="module")
def cohort_csv(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort") / "clinic"
    flags = ["--n", str(N_PATIENTS), "--seed", "5", "--no-parquet", "--no-progress"]
    status = main(["simulate", *flags, "--out-dir", str(out)])
    assert status == 0
    return out / "cohort.csv"


@pytest.fixture(scope="module")
def trained(cohort_csv, tmp_path_factory) -> Path:
    models = tmp_path_factory.mktemp("models")
    status = main(train_args(cohort_csv, models, "t1", "--draws", "200"))
    assert status == 0
    return models / "t1"


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("npprob train: error: "), err
    return lines[0]


def test_train_writes_a_model_folder_that_diagnoses(trained):
    assert {p.name for p in trained.iterdir()} == MODEL_FILES
    listed = {ln.split()[1] for ln in (trained / CHECKSUMS).read_text().splitlines()}
    assert listed == MODEL_FILES - {CHECKSUMS}
    model = load_model(str(trained))
    assert (model.name, model.kind, model.n_draws) == ("t1", "posterior", 200)
    record = {
        k: v
        for k, v in json.loads(EXAMPLE.read_text(encoding="utf-8")).items()
        if k not in ("id", "comment", "notes", "$schema")
    }
    diagnosis = model.diagnose(record)
    assert 0.0 < diagnosis.p_neuropathic < 1.0
    low, high = diagnosis.credible_interval
    assert 0.0 <= low <= diagnosis.p_neuropathic <= high <= 1.0
    assert diagnosis.model["name"] == "t1"
    assert diagnosis.model["n_draws"] == 200


def test_card_describes_the_training(trained, cohort_csv):
    card = json.loads((trained / "card.json").read_text(encoding="utf-8"))
    assert card["name"] == "t1"
    assert card["kind"] == "posterior"
    assert card["likelihood"] == "conjugate"
    assert card["n_draws"] == 200
    assert card["seed"] == 0
    assert card["diagnostics"] is None
    assert card["spec_sha256"] == SPEC.digest
    cohort = card["training_cohort"]
    assert cohort["n"] == N_PATIENTS
    assert cohort["path"] == str(cohort_csv)
    assert cohort["card"]["n"] == N_PATIENTS  # the cohort's own data card travels along
    assert cohort["card"]["setting"]["name"] == "consecutive_pain_clinic"
    versions = card["versions"]
    for pkg in ("python", "npprob", "numpy", "pymc", "arviz"):
        assert isinstance(versions[pkg], str), pkg
        assert versions[pkg], pkg
    seconds = card["seconds"]
    assert 0 <= seconds["fit"] <= seconds["total"]


def test_draws_are_the_conjugate_posterior_of_the_cohort(trained, cohort_csv):
    arrays, card = read_model_dir(trained)
    codes, _ = read_cohort(cohort_csv, SPEC.network)
    want = posterior_draws(SPEC, family_counts(SPEC.network, codes), 200, seed=0)
    assert set(arrays) == set(SPEC.network.names)
    # The cohort is selected on chronic pain: that CPT is certain, every other is the posterior.
    assert card["selection"] == {
        "chronic_pain": "present",
        "handled_by": "fixed in the trained CPTs",
    }
    for name in SPEC.network.names:
        if name == "chronic_pain":
            np.testing.assert_array_equal(arrays[name][..., 1], 1.0)
            np.testing.assert_array_equal(arrays[name][..., 0], 0.0)
        else:
            np.testing.assert_array_equal(arrays[name], want[name], err_msg=name)


def test_a_folder_that_is_not_a_model_is_never_replaced(cohort_csv, tmp_path, capsys):
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "precious.txt").write_text("keep me")
    assert main(train_args(cohort_csv, tmp_path, "notes", "--draws", "5")) == 2
    assert "is not a model folder" in capsys.readouterr().err
    assert (keep / "precious.txt").read_text() == "keep me"


def test_retraining_with_the_same_seed_gives_the_same_bytes(trained, cohort_csv, tmp_path):
    assert main(train_args(cohort_csv, tmp_path, "again", "--draws", "200")) == 0
    assert (tmp_path / "again" / "draws.npz").read_bytes() == (trained / "draws.npz").read_bytes()
    assert main(train_args(cohort_csv, tmp_path, "other", "--draws", "200", "--seed", "1")) == 0
    assert (tmp_path / "other" / "draws.npz").read_bytes() != (trained / "draws.npz").read_bytes()


def test_no_netcdf_flag(cohort_csv, tmp_path, capsys):
    assert main(train_args(cohort_csv, tmp_path, "plain", "--draws", "5", "--no-netcdf")) == 0
    out, _ = capsys.readouterr()
    assert "5 draws" in out
    assert "conjugate" in out
    assert {p.name for p in (tmp_path / "plain").iterdir()} == MODEL_FILES - {"posterior.nc"}
    assert load_model(str(tmp_path / "plain")).n_draws == 5


def test_conjugate_without_the_latent_truth_exits_2(cohort_csv, tmp_path, capsys):
    import pandas as pd

    frame = pd.read_csv(cohort_csv, dtype=str, keep_default_na=False)
    truth = [c for c in frame.columns if c.startswith("true_")]
    assert truth
    stripped = tmp_path / "stripped" / "cohort.csv"
    stripped.parent.mkdir()
    frame.drop(columns=truth).to_csv(stripped, index=False)
    capsys.readouterr()
    status = main(
        train_args(stripped, tmp_path / "models", "nolatent", "--likelihood", "conjugate")
    )
    out, err = capsys.readouterr()
    assert status == 2
    assert "latent truth" in one_line_error(err)
    assert out == ""
    assert not (tmp_path / "models" / "nolatent").exists()


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["--draws", "0"], "--draws"),
        (["--draws", "-3"], "--draws"),
        (["--chains", "0"], "--chains"),
        (["--tune", "-1"], "--tune"),
        (["--chain-draws", "0"], "--chain-draws"),
    ],
)
def test_bad_numbers_exit_2(cohort_csv, tmp_path, capsys, flags, phrase):
    status = main(train_args(cohort_csv, tmp_path / "models", "bad", *flags))
    _, err = capsys.readouterr()
    assert status == 2
    assert phrase in one_line_error(err)
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("name", ["prior", "a/b", "..", ""])
def test_bad_model_names_exit_2(cohort_csv, tmp_path, capsys, name):
    status = main(train_args(cohort_csv, tmp_path / "models", name))
    _, err = capsys.readouterr()
    assert status == 2
    assert "model name" in one_line_error(err)


def test_missing_cohort_file_exits_2(tmp_path, capsys):
    status = main(train_args(tmp_path / "nowhere.csv", tmp_path / "models", "x"))
    _, err = capsys.readouterr()
    assert status == 2
    assert "nowhere.csv" in one_line_error(err)


# -- PyMC and ArviZ (also run on Python 3.12) ---------------------------------------------


def test_failed_diagnostics_exit_1_and_write_nothing(cohort_csv, tmp_path, capsys, monkeypatch):
    # The CLI contract on a failed fit, made deterministic: the fit reports failing
    # diagnostics (the diagnostics themselves are tested in tests/learning).
    import npprob.learning as learning
    from npprob.learning import FitResult, check

    def failing_fit(spec, counts, config):
        draws = learning.posterior_draws(spec, counts, config.draws * config.chains, config.seed)
        report = check({"r_hat_max": 1.2, "ess_bulk_min": 50.0, "ess_tail_min": 30.0,
                        "divergences": 3})  # fmt: skip
        return FitResult(draws, "pymc-complete", 0.0, report)

    monkeypatch.setattr(learning, "fit_pymc_complete", failing_fit)
    models = tmp_path / "models"
    flags = ["--likelihood", "pymc-complete", "--draws", "40", "--seed", "0"]
    status = main(train_args(cohort_csv, models, "p1", *flags))
    out, err = capsys.readouterr()
    assert status == 1
    problems = [ln for ln in err.splitlines() if ln.startswith("npprob train: diagnostics failed:")]
    assert len(problems) == 4, err
    assert any("--draws" in ln or "--tune" in ln for ln in problems), err
    assert any("--target-accept" in ln for ln in problems), err
    assert "no model written" in err
    assert "wrote" not in out
    assert not (models / "p1").exists()


@pytest.mark.pymc
def test_posterior_netcdf_opens_with_arviz_and_holds_every_cpt(cohort_csv, tmp_path):
    import arviz as az

    from npprob.learning import _arviz_compat as compat

    assert main(train_args(cohort_csv, tmp_path, "nc", "--draws", "30", "--seed", "3")) == 0
    folder = tmp_path / "nc"
    arrays, _ = read_model_dir(folder)  # posterior.nc is covered by the checksums
    idata = az.from_netcdf(str(folder / "posterior.nc"))
    try:
        posterior = compat.posterior_arrays(idata)
    finally:
        if hasattr(idata, "close"):
            idata.close()
    assert set(posterior) == set(SPEC.network.names)
    for name in SPEC.network.names:
        assert posterior[name].shape == (1, 30, *SPEC.network.cpt_shape(name)), name
        np.testing.assert_array_equal(posterior[name][0], arrays[name], err_msg=name)


def test_trained_model_reproduces_its_cohort_by_aetiology(tmp_path):
    # Every cohort patient has chronic pain, so the model's P(neuropathic | aetiology,
    # chronic pain) must match the cohort's rate of true neuropathic pain in each group
    # (20,000 patients: the posterior is within a few binomial SEs of the data).
    import pandas as pd

    cohort = tmp_path / "big_cohort"
    flags = ["--n", "20000", "--seed", "6", "--no-parquet", "--no-progress"]
    assert main(["simulate", *flags, "--out-dir", str(cohort)]) == 0
    args = train_args(cohort / "cohort.csv", tmp_path, "big", "--draws", "100", "--no-netcdf")
    assert main(args) == 0
    model = load_model(str(tmp_path / "big"))
    frame = pd.read_csv(cohort / "cohort.csv", dtype=str, keep_default_na=False)
    groups = [("(all)", frame)] + [(a, g) for a, g in frame.groupby("aetiology") if len(g) >= 300]
    assert len(groups) >= 10
    off = []
    for aetiology, group in groups:
        rate = float((group["true_neuropathic"] == "present").mean())
        se = np.sqrt(max(rate * (1 - rate), 0.01) / len(group))
        record = {} if aetiology == "(all)" else {"aetiology": aetiology}
        p = model.diagnose(record, explain=False).p_neuropathic
        if abs(p - rate) > 3 * se + 0.005:
            off.append(f"{aetiology}: model {p:.3f}, cohort {rate:.3f} (n={len(group)})")
    assert not off, "P(neuropathic | aetiology) is off the training cohort's:\n" + "\n".join(off)


# -- Marginal likelihoods: CLI wiring (the fits themselves are tested in tests/learning) ----


def fake_marginal_fit(calls: list):
    """Stands in for fit_pymc_marginal: records its inputs, returns prior draws."""
    from npprob.learning import FitResult, check

    def fit(spec, codes, *, label=None, label_model=None, selection=None, config=None, **_):
        calls.append({"codes": codes, "label": label, "label_model": label_model,
                      "selection": selection, "config": config})  # fmt: skip
        draws = spec.prior_draws(config.draws * config.chains, seed=0)
        report = check({"r_hat_max": 1.0, "ess_bulk_min": 900.0, "ess_tail_min": 800.0,
                        "divergences": 0})  # fmt: skip
        latent = (codes[:, spec.network.index("neuropathic")] < 0).all()
        kind = "latent-class" if latent else "pymc-marginal"
        return FitResult(draws, kind, 0.0, report, summary={"n_patients": len(codes)})

    return fit


@pytest.fixture(scope="module")
def clinician_cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort") / "noisy"
    flags = ["--n", "400", "--seed", "6", "--no-parquet", "--no-progress", "--label", "clinician"]
    assert main(["simulate", *flags, "--mcar", "0.2", "--out-dir", str(out)]) == 0
    return out / "cohort.csv"


def without_truth(cohort: Path, where: Path) -> Path:
    """A copy of the cohort as a study would have it: no true_* columns (card kept)."""
    import shutil

    import pandas as pd

    frame = pd.read_csv(cohort, dtype=str, keep_default_na=False)
    where.mkdir(parents=True)
    frame.drop(columns=[c for c in frame.columns if c.startswith("true_")]).to_csv(
        where / "cohort.csv", index=False
    )
    shutil.copy(cohort.parent / "card.json", where / "card.json")
    return where / "cohort.csv"


def test_auto_without_truth_and_a_clinician_label_is_latent_class(
    clinician_cohort, tmp_path, capsys, monkeypatch
):
    import pandas as pd

    import npprob.learning as learning
    from npprob.cohorts import read_label

    calls: list = []
    monkeypatch.setattr(learning, "fit_pymc_marginal", fake_marginal_fit(calls))
    models = tmp_path / "models"
    study = without_truth(clinician_cohort, tmp_path / "study")
    status = main(train_args(study, models, "lc", "--draws", "50", "--chain-draws", "30"))
    assert status == 0, capsys.readouterr().err
    (call,) = calls
    net = SPEC.network
    # The truth columns are not used: every latent variable is hidden, the class too.
    for name in ("lesion", "neuropathic", "central_sensitisation"):
        assert (call["codes"][:, net.index(name)] == -1).all()
    frame = pd.read_csv(clinician_cohort, dtype=str, keep_default_na=False)
    recorded = frame["burning"].map({"": -1, "absent": 0, "present": 1}).to_numpy()
    np.testing.assert_array_equal(call["codes"][:, net.index("burning")], recorded)
    assert (recorded == -1).any()
    np.testing.assert_array_equal(call["label"], read_label(clinician_cohort))
    # The label prior comes from the published agreement (q**2 + (1-q)**2 = 0.785).
    q = call["label_model"].concentration[1, 1] / call["label_model"].concentration[1].sum()
    assert q**2 + (1 - q) ** 2 == pytest.approx(0.785)
    assert call["selection"] == {"chronic_pain": "present"}
    assert call["config"].chains * call["config"].draws >= 50
    card = json.loads((models / "lc" / "card.json").read_text())
    assert card["likelihood"] == "latent-class"
    assert card["label"] == "noisy"
    assert card["selection"]["handled_by"] == "conditioned on in the likelihood"
    assert card["n_draws"] == 50
    # The selection is modelled, not fixed: chronic_pain keeps its learned table.
    draws, _ = read_model_dir(models / "lc")
    assert not np.all(draws["chronic_pain"][..., 1] == 1.0)


def test_true_label_without_truth_columns_is_pymc_marginal(
    cohort_csv, tmp_path, capsys, monkeypatch
):
    import npprob.learning as learning
    from npprob.cohorts import read_label

    calls: list = []
    monkeypatch.setattr(learning, "fit_pymc_marginal", fake_marginal_fit(calls))
    study = without_truth(cohort_csv, tmp_path / "study")
    status = main(train_args(study, tmp_path / "m", "pm", "--draws", "20", "--chain-draws", "10"))
    assert status == 0, capsys.readouterr().err
    (call,) = calls
    net = SPEC.network
    np.testing.assert_array_equal(
        call["codes"][:, net.index("neuropathic")], read_label(cohort_csv)
    )
    assert (call["codes"][:, net.index("lesion")] == -1).all()
    assert call["label"] is None
    card = json.loads((tmp_path / "m" / "pm" / "card.json").read_text())
    assert (card["likelihood"], card["label"]) == ("pymc-marginal", "truth")


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["--likelihood", "pymc-marginal", "--label", "noisy"], "true label"),
        (["--likelihood", "latent-class", "--label", "truth"], "pymc-marginal"),
    ],
)
def test_label_and_likelihood_that_disagree_exit_2(cohort_csv, tmp_path, capsys, flags, phrase):
    status = main(train_args(cohort_csv, tmp_path / "models", "x", *flags))
    _, err = capsys.readouterr()
    assert status == 2
    assert phrase in one_line_error(err)
    assert not (tmp_path / "models" / "x").exists()


def test_case_control_cohort_is_refused_by_the_marginal_likelihood(tmp_path, capsys):
    out = tmp_path / "cc"
    flags = ["--setting", "case_control", "--n", "200", "--seed", "1", "--no-parquet"]
    assert main(["simulate", *flags, "--no-progress", "--out-dir", str(out)]) == 0
    capsys.readouterr()
    status = main(train_args(out / "cohort.csv", tmp_path / "models", "cc", "--likelihood",
                             "latent-class"))  # fmt: skip
    _, err = capsys.readouterr()
    assert status == 2
    assert "case-control" in one_line_error(err)


@pytest.mark.slow
@pytest.mark.pymc
def test_latent_class_training_end_to_end(clinician_cohort, tmp_path, capsys):
    """A real latent-class fit from the CLI passes its diagnostics and diagnoses."""
    models = tmp_path / "models"
    study = without_truth(clinician_cohort, tmp_path / "study")
    flags = ["--draws", "100", "--chain-draws", "1000", "--tune", "1000", "--seed", "3"]
    status = main(train_args(study, models, "lcreal", *flags))
    _, err = capsys.readouterr()
    assert status == 0, err
    card = json.loads((models / "lcreal" / "card.json").read_text())
    assert card["likelihood"] == "latent-class"
    details = card["likelihood_details"]
    assert details["n_patients"] == 400
    sens = details["label_model"]["label_sensitivity"]["mean"]
    fpr = details["label_model"]["label_false_positive_rate"]["mean"]
    assert sens > fpr
    assert card["diagnostics"]["passed"]
    model = load_model(str(models / "lcreal"))
    assert model.n_draws == 100
    record = {
        k: v
        for k, v in json.loads(EXAMPLE.read_text(encoding="utf-8")).items()
        if k not in ("id", "comment", "notes", "$schema")
    }
    # Post-herpetic neuralgia with lesion evidence: clearly neuropathic under any fit.
    assert model.diagnose(record, explain=False).p_neuropathic > 0.5


def test_a_bad_label_value_exits_2_naming_the_row(clinician_cohort, tmp_path, capsys):
    import pandas as pd

    frame = pd.read_csv(clinician_cohort, dtype=str, keep_default_na=False)
    frame.loc[7, "label_neuropathic"] = "yes"
    bad = tmp_path / "bad" / "cohort.csv"
    bad.parent.mkdir()
    frame.drop(columns=[c for c in frame if c.startswith("true_")]).to_csv(bad, index=False)
    status = main(train_args(bad, tmp_path / "models", "badlabel", "--likelihood", "latent-class"))
    _, err = capsys.readouterr()
    assert status == 2
    line = one_line_error(err)
    assert "data row 8" in line
    assert "label_neuropathic" in line
    assert not (tmp_path / "models" / "badlabel").exists()


# -- where the model folder goes --------------------------------------------------------


def test_default_out_is_models_name_under_the_working_directory(cohort_csv, tmp_path, monkeypatch):
    from npprob.io.resources import models_dir

    shipped_before = sorted(p.name for p in models_dir().iterdir())
    monkeypatch.chdir(tmp_path)
    args = ["train", "--cohort", str(cohort_csv), "--name", "here", "--draws", "5", "--no-netcdf"]
    assert main(args) == 0
    assert (tmp_path / "models" / "here" / CHECKSUMS).is_file()
    assert sorted(p.name for p in models_dir().iterdir()) == shipped_before  # package untouched
    # The name finds it again from the same working directory.
    assert load_model("here").n_draws == 5


def test_out_names_the_folder(cohort_csv, tmp_path):
    out = tmp_path / "deep" / "folder"
    args = ["train", "--cohort", str(cohort_csv), "--name", "n1", "--draws", "5", "--out", str(out)]
    assert main([*args, "--no-netcdf"]) == 0
    arrays, card = read_model_dir(out)
    assert set(arrays) == set(SPEC.network.names)
    assert card["name"] == "n1"
    assert card["spec_content_sha256"] == SPEC.content_digest
    assert load_model(str(out)).n_draws == 5


def test_a_history_missing_for_some_patients_is_refused_by_the_marginal_likelihood(
    clinician_cohort, tmp_path, capsys
):
    # The likelihood conditions on the recorded aetiology; blanks in it are a data problem
    # to fix, not something to sum out silently.
    import pandas as pd

    frame = pd.read_csv(clinician_cohort, dtype=str, keep_default_na=False)
    frame = frame.drop(columns=[c for c in frame if c.startswith("true_")])
    frame.loc[[3, 9], "aetiology"] = ""
    bad = tmp_path / "gaps" / "cohort.csv"
    bad.parent.mkdir()
    frame.to_csv(bad, index=False)
    status = main(train_args(bad, tmp_path / "models", "gaps", "--likelihood", "latent-class"))
    _, err = capsys.readouterr()
    assert status == 2
    assert "'aetiology' is missing in 2 patient(s)" in one_line_error(err)
    assert not (tmp_path / "models" / "gaps").exists()


def test_the_shipped_default_model_is_not_replaced_by_accident(cohort_csv, capsys):
    from npprob.io.resources import models_dir

    shipped = models_dir() / "default"
    before = (shipped / CHECKSUMS).read_bytes()
    args = ["train", "--cohort", str(cohort_csv), "--name", "default", "--draws", "5",
            "--out", str(shipped), "--no-netcdf"]  # fmt: skip
    assert main(args) == 2
    assert "shipped with npprob" in one_line_error(capsys.readouterr().err)
    assert (shipped / CHECKSUMS).read_bytes() == before


def test_a_model_trained_on_a_cohort_without_its_card_diagnoses(cohort_csv, tmp_path, capsys):
    # A study's own file has no card.json: the model's card records none, and diagnosing
    # with the model must still name where its case mix comes from.
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "cohort.csv").write_bytes(cohort_csv.read_bytes())
    models = tmp_path / "models"
    assert main(train_args(bare / "cohort.csv", models, "bare", "--likelihood", "conjugate")) == 0
    card = json.loads((models / "bare" / "card.json").read_text())
    assert card["training_cohort"]["card"] is None
    capsys.readouterr()
    assert main(["diagnose", str(EXAMPLE), "--model", str(models / "bare"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["setting"]["description"] == "the case mix of the model's training data"
