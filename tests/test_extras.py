"""Optional extras: the core commands run without any, and a missing one is one clear line."""

from __future__ import annotations

import importlib
import importlib.machinery
import subprocess
import sys
import types
from pathlib import Path

import pytest

from npprob._extras import EXTRAS, missing, require
from npprob.cli import EXIT_BAD_INPUT, main
from npprob.errors import MissingExtraError, NpprobError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "postherpetic_neuralgia.json"
BIF = ROOT / "tests" / "fixtures" / "networks" / "cancer.bif"

#: What the core install leaves out: every module of every extra, and what they bring.
NOT_CORE = sorted(
    {m for modules in EXTRAS.values() for m in modules}
    | {"pytensor", "xarray", "h5py", "tqdm", "pyarrow", "pgmpy", "multipart", "python_multipart"}
)


def test_require_names_the_first_missing_module_and_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymc", None)
    with pytest.raises(MissingExtraError) as caught:
        require("train", "npprob train")
    error = caught.value
    assert str(error) == (
        "npprob train needs the 'train' extra (pymc is missing): pip install 'npprob[train]'"
    )
    assert (error.extra, error.name) == ("train", "pymc")
    # Callers that only know the standard hierarchy still catch it.
    assert isinstance(error, ImportError)
    assert isinstance(error, NpprobError)


def test_require_passes_when_the_modules_are_there():
    assert missing(("json", "numpy")) is None
    require("train", "npprob train", modules=("json",))  # no error


def test_a_missing_parent_package_counts_as_missing():
    assert missing(("numpy", "no_such_package_here.sub")) == "no_such_package_here.sub"


@pytest.mark.parametrize(
    ("blocked", "extra", "argv"),
    [
        ("pymc", "train", ["train", "--likelihood", "evidence", "--name", "x"]),
        ("arviz", "train", ["train", "--likelihood", "evidence", "--name", "x"]),
        ("sklearn", "evaluate", ["evaluate", "--cohort", "c.csv"]),
        ("matplotlib", "evaluate", ["evaluate", "--cohort", "c.csv"]),
        ("starlette", "web", ["serve"]),
        ("uvicorn", "web", ["serve"]),
    ],
)
def test_a_missing_extra_is_one_line_and_exit_2(
    capsys, monkeypatch, tmp_path, blocked, extra, argv
):
    monkeypatch.setitem(sys.modules, blocked, None)
    monkeypatch.chdir(tmp_path)
    command = argv[0]
    status = main([*argv, *(["--out", str(tmp_path / "x")] if command == "train" else [])])
    out, err = capsys.readouterr()
    assert status == EXIT_BAD_INPUT
    assert out == ""
    assert err == (
        f"npprob {command}: error: npprob {command} needs the '{extra}' extra "
        f"({blocked} is missing): pip install 'npprob[{extra}]'\n"
    )
    assert not (tmp_path / "x").exists()


def test_train_without_netcdf_does_not_need_h5netcdf(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5netcdf", None)
    # With the netCDF file, h5netcdf is asked for before any work.
    argv = ["train", "--likelihood", "evidence", "--name", "x", "--out", str(tmp_path / "x")]
    assert main(argv) == EXIT_BAD_INPUT
    assert "(h5netcdf is missing)" in capsys.readouterr().err
    # Without it, the check passes and the next complaint is about the arguments.
    argv = ["train", "--name", "x", "--out", str(tmp_path / "x"), "--no-netcdf"]
    assert main([*argv, "--prior-weight", "2"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "extra" not in err
    assert "--prior-weight needs --prior" in err


def test_evaluate_without_figures_does_not_need_matplotlib(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status = main(["evaluate", "--cohort", str(tmp_path / "none.csv"), "--no-plots"])
    err = capsys.readouterr().err
    assert status == EXIT_BAD_INPUT
    assert "extra" not in err
    assert "none.csv" in err  # it got as far as reading the cohort


def test_the_classifier_without_scikit_learn_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.delitem(sys.modules, "npprob.estimator", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'npprob\[evaluate\]'"):
        importlib.import_module("npprob.estimator")


def test_a_dataframe_without_pandas_names_the_extra(monkeypatch, tmp_path):
    from npprob.io.cohort import read_cohort_data
    from npprob.io.resources import clinical_spec

    network = clinical_spec().network
    names = [v.name for v in network.findings][:2]
    (tmp_path / "c.csv").write_text(",".join(names) + "\n,\n", encoding="utf-8")
    data = read_cohort_data(tmp_path / "c.csv", network, truth=False, label=False)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"\(pandas is missing\)"):
        data.findings_frame()


def test_core_commands_run_with_every_extra_blocked(tmp_path):
    """diagnose, treat, query, simulate and --help in a fresh process that cannot import any
    extra's module: nothing on their path imports one, at module level or later."""
    evidence = tmp_path / "evidence.csv"
    evidence.write_text("Smoker,Pollution\nTrue,low\n,high\n", encoding="utf-8")
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(
        "id,aetiology,burning,brush_allodynia\np1,herpes_zoster,present,present\np2,,absent,\n",
        encoding="utf-8",
    )
    runs = [
        ["diagnose", str(EXAMPLE)],
        ["diagnose", "--json", str(EXAMPLE)],
        ["diagnose", str(cohort), "--out", str(tmp_path / "results.csv")],
        ["treat", str(EXAMPLE)],
        ["query", "--network", str(BIF), "--target", "Cancer", "--evidence", str(evidence),
         "--out", str(tmp_path / "q.csv")],
        ["simulate", "--n", "50", "--out-dir", str(tmp_path / "sim"), "--no-progress"],
    ]  # fmt: skip
    code = (
        "import sys\n"
        f"for name in {NOT_CORE!r}:\n"
        "    sys.modules[name] = None\n"
        "from npprob.cli import main\n"
        f"for argv in {runs!r}:\n"
        "    status = main(argv)\n"
        "    print('STATUS', argv[0], status)\n"
        "leaked = sorted(m for m in sys.modules if sys.modules[m] is not None\n"
        f"                and m.split('.')[0] in {NOT_CORE!r})\n"
        "print('LEAKED', leaked)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    statuses = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("STATUS")]
    assert statuses == [[argv[0], "0"] for argv in runs], done.stderr[-2000:]
    assert "LEAKED []" in done.stdout
    assert "P(neuropathic pain component) = 0.9" in done.stdout
    assert (tmp_path / "results.csv").read_text().count("\n") == 3
    assert (tmp_path / "sim" / "cohort.csv").read_text().count("\n") == 51
    assert not (tmp_path / "sim" / "cohort.parquet").exists()  # pandas and pyarrow are blocked
    help_text = subprocess.run(
        [sys.executable, "-c", code.split("from npprob.cli")[0] + "import npprob.cli as c; "
         "c.main(['--help'])"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert help_text.returncode == 0, help_text.stderr[-2000:]
    assert "simulate" in help_text.stdout


@pytest.mark.pymc
@pytest.mark.parametrize(("sampler", "blocked"), [("nutpie", "nutpie"), ("nutpie-jax", "jax")])
def test_a_nutpie_sampler_without_the_fast_extra_names_it(monkeypatch, sampler, blocked):
    from npprob.learning.fit import SamplerConfig, _sample_chains

    monkeypatch.setitem(sys.modules, blocked, None)
    if blocked == "jax":
        # nutpie itself may be installed or not; the message must name what is missing.
        stand_in = types.ModuleType("nutpie")
        stand_in.__spec__ = importlib.machinery.ModuleSpec("nutpie", None)
        monkeypatch.setitem(sys.modules, "nutpie", sys.modules.get("nutpie") or stand_in)
    with pytest.raises(MissingExtraError) as caught:
        _sample_chains(None, SamplerConfig(sampler=sampler), None)  # refused before the model
    assert caught.value.extra == "fast"
    assert str(caught.value) == (
        f"sampler '{sampler}' needs the 'fast' extra ({blocked} is missing): "
        "pip install 'npprob[fast]'"
    )
