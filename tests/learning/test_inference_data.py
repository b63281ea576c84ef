"""The models' netCDF files: conventional ArviZ data (chains, named dims, prior, sample stats)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from npprob.cli import main
from npprob.io.artifacts import read_model_dir
from npprob.io.resources import clinical_spec, models_dir
from npprob.learning import _arviz_compat as compat

pytestmark = pytest.mark.pymc
SPEC = clinical_spec()


def _open(path: Path):
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's own notices
        return az.from_netcdf(str(path))


def _check_named(idata, arrays: dict, chains: int) -> None:
    net = SPEC.network
    posterior = compat.group(idata, "posterior")
    for name in net.names:
        var = posterior[name]
        parents = net.parents(name)
        assert var.dims == ("chain", "draw", *[f"{u}_state" for u in (*parents, name)]), name
        assert list(var.coords[f"{name}_state"].values) == list(net.variable(name).states)
        values = np.asarray(var.values)
        assert values.shape[0] == chains
        np.testing.assert_array_equal(values.reshape(-1, *values.shape[2:]), arrays[name])
    assert posterior.attrs["npprob_version"]
    assert posterior.attrs["spec_content_sha256"] == SPEC.content_digest
    prior = compat.group(idata, "prior")
    assert set(prior.data_vars) == set(net.names)


def test_the_shipped_default_keeps_its_four_chains_with_named_dims():
    folder = models_dir() / "default"
    arrays, card = read_model_dir(folder)
    idata = _open(folder / "posterior.nc")
    _check_named(idata, arrays, card["sampler"]["chains"])
    lesion = compat.group(idata, "posterior")["lesion"]
    row = lesion.sel(aetiology_state="stroke", lesion_state="present").values
    assert row.shape == (4, 100)
    assert np.allclose(
        row.ravel(),
        arrays["lesion"][:, SPEC.network.variable("aetiology").states.index("stroke"), 1],
    )


def test_a_nuts_fit_keeps_its_chains_and_sample_stats(tmp_path):
    out = tmp_path / "cohort"
    flags = ["--n", "150", "--seed", "4", "--no-parquet", "--no-progress"]
    assert main(["simulate", *flags, "--out-dir", str(out)]) == 0
    status = main(["train", "--cohort", str(out / "cohort.csv"), "--likelihood", "pymc-complete",
                   "--name", "nuts", "--models-dir", str(tmp_path), "--chains", "2",
                   "--chain-draws", "60", "--tune", "60", "--draws", "20", "--exploratory",
                   "--no-progress", "--seed", "2"])  # fmt: skip
    assert status == 0
    arrays, _ = read_model_dir(tmp_path / "nuts")
    idata = _open(tmp_path / "nuts" / "posterior.nc")
    _check_named(idata, arrays, 2)
    stats = compat.group(idata, "sample_stats")
    assert "diverging" in stats
    assert np.asarray(stats["diverging"].values).shape == (2, 10)
    assert json.loads((tmp_path / "nuts" / "card.json").read_text())["n_draws"] == 20
