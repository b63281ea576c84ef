"""``--scheduler``: the Dask paths give the bytes of the local paths.

One two-worker ``distributed.LocalCluster`` (threads, one per worker, over TCP) serves
the module; each command runs once here and once through the cluster's address, and
the files must be the same bytes: diagnose (CSV, JSON Lines, Parquet; bad rows, exit
status 2, --strict), simulate with partitions, SBC replications, evaluate's cohorts.
One test starts ``--scheduler local`` itself (worker processes).
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from npprob.cli import EXIT_BAD_INPUT, main

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def address():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
        host="127.0.0.1", dashboard_address="127.0.0.1:0",
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """A simulated clinic cohort with bad rows among the good ones."""
    folder = tmp_path_factory.mktemp("cohort")
    assert main(["simulate", "--n", "700", "--seed", "5", "--mcar", "0.2", "--out-dir",
                 str(folder / "sim"), "--no-parquet", "--no-progress"]) == 0  # fmt: skip
    # The context column, recorded for one patient only: outside the diagnosed context.
    lines = [line + "," for line in (folder / "sim" / "cohort.csv").read_text().splitlines()]
    lines[0] += "chronic_pain"
    lines[400] += "absent"
    header = lines[0].split(",")
    bad_state = lines[10].split(",")
    bad_state[header.index("burning")] = "sometimes"  # not a state
    lines[10] = ",".join(bad_state)
    path = folder / "cohort.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 128 rows, so that a small cohort spreads over both workers."""
    import npprob.io.patients

    monkeypatch.setattr(npprob.io.patients, "BLOCK_SIZE", 128)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_diagnose_on_the_cluster_writes_the_same_bytes(
    capsys, tmp_path, address, cohort, small_blocks, suffix
):
    outputs, reports = [], []
    for scheduler in ([], ["--scheduler", address]):
        out = tmp_path / f"results{len(outputs)}{suffix}"
        status, text, err = run(
            capsys, ["diagnose", str(cohort), "--no-explain", "--out", str(out), *scheduler]
        )
        assert status == EXIT_BAD_INPUT  # the two bad rows
        assert text == ""
        outputs.append(out.read_bytes())
        reports.append(err)
    assert outputs[0] == outputs[1]
    assert reports[0] == reports[1]
    assert "row 10: unknown state 'sometimes' for 'burning'" in reports[0]
    assert "2 bad row(s) skipped; 698 patient(s) answered" in reports[0]


def test_diagnose_with_explanations_on_the_cluster(capsys, tmp_path, address, cohort, monkeypatch):
    import npprob.io.patients

    monkeypatch.setattr(npprob.io.patients, "BLOCK_SIZE", 16)
    head = tmp_path / "head.csv"
    head.write_text(
        "".join(cohort.read_text(encoding="utf-8").splitlines(keepends=True)[:41]),
        encoding="utf-8",
    )
    local = run(capsys, ["diagnose", str(head), "--top", "3"])
    remote = run(capsys, ["diagnose", str(head), "--top", "3", "--scheduler", address])
    assert local == remote
    assert local[0] == EXIT_BAD_INPUT
    assert local[1].count("\n") == 41


def test_strict_fails_the_same_way_and_writes_nothing(
    capsys, tmp_path, address, cohort, small_blocks
):
    answers = []
    for scheduler in ([], ["--scheduler", address]):
        out = tmp_path / f"strict{len(answers)}.csv"
        answers.append(run(capsys, ["diagnose", str(cohort), "--no-explain", "--strict",
                                    "--out", str(out), *scheduler]))  # fmt: skip
        assert not out.exists()
    assert answers[0] == answers[1]
    assert answers[0][0] == EXIT_BAD_INPUT
    assert answers[0][2].count("\n") == 1
    assert "row 10" in answers[0][2]


def test_partitioned_simulation_on_the_cluster_is_the_local_one(capsys, tmp_path, address):
    flags = ["simulate", "--n", "900", "--seed", "3", "--mcar", "0.1", "--label", "clinician",
             "--partition-size", "250", "--no-parquet", "--no-progress"]  # fmt: skip
    assert main([*flags, "--out-dir", str(tmp_path / "here")]) == 0
    assert main([*flags, "--out-dir", str(tmp_path / "there"), "--scheduler", address]) == 0
    assert main([*flags[:-4], "--no-parquet", "--no-progress", "--out-dir",
                 str(tmp_path / "whole")]) == 0  # fmt: skip
    capsys.readouterr()
    for name in ("cohort.csv", "card.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes()
    card = json.loads((tmp_path / "here" / "card.json").read_text())
    assert card["partition_size"] == 250
    assert card["n"] == 900
    whole = json.loads((tmp_path / "whole" / "card.json").read_text())
    assert "partition_size" not in whole  # drawn in one piece, as before partitions
    # Four partitions, four seeds: another cohort than the one drawn in one piece.
    here = (tmp_path / "here" / "cohort.csv").read_text().splitlines()
    assert here[0] == (tmp_path / "whole" / "cohort.csv").read_text().splitlines()[0]
    assert here[1:] != (tmp_path / "whole" / "cohort.csv").read_text().splitlines()[1:]


def test_simulate_on_a_local_cluster_of_worker_processes(capsys, tmp_path):
    flags = ["simulate", "--n", "300", "--seed", "8", "--partition-size", "100",
             "--no-parquet", "--no-progress"]  # fmt: skip
    assert main([*flags, "--out-dir", str(tmp_path / "here")]) == 0
    status = main([*flags, "--out-dir", str(tmp_path / "local"), "--scheduler", "local",
                   "--workers", "2"])  # fmt: skip
    assert status == 0
    capsys.readouterr()
    for name in ("cohort.csv", "card.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def _sbc_script():
    spec = importlib.util.spec_from_file_location("npprob_sbc_script", ROOT / "scripts" / "sbc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sbc_replications_on_the_cluster_give_the_same_report(capsys, tmp_path, address):
    sbc = _sbc_script()
    flags = ["--replications", "12", "--patients", "80", "--draws", "19", "--bins", "4",
             "--seed", "2"]  # fmt: skip
    assert sbc.main([*flags, "--out-dir", str(tmp_path / "here")]) == 0
    assert sbc.main([*flags, "--out-dir", str(tmp_path / "there"), "--scheduler", address]) == 0
    capsys.readouterr()
    reports = []
    for where in ("here", "there"):
        report = json.loads((tmp_path / where / "sbc_conjugate.json").read_text())
        assert report["settings"].pop("seconds") >= 0  # the one entry that differs
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["n_replications"] == 12
    png = [(tmp_path / w / "sbc_conjugate_ecdf.png").read_bytes() for w in ("here", "there")]
    assert png[0] == png[1]


@pytest.mark.pymc
def test_pymc_sbc_replications_on_the_cluster_give_the_same_ranks(capsys, tmp_path, address):
    sbc = _sbc_script()
    flags = ["--path", "pymc-complete", "--replications", "2", "--patients", "50", "--draws",
             "9", "--bins", "2", "--chains", "2", "--tune", "50", "--sampler-draws", "50"]  # fmt: skip
    assert sbc.main([*flags, "--cores", "1", "--out-dir", str(tmp_path / "here")]) == 0
    assert sbc.main([*flags, "--out-dir", str(tmp_path / "there"), "--scheduler", address]) == 0
    capsys.readouterr()
    reports = []
    for where in ("here", "there"):
        report = json.loads((tmp_path / where / "sbc_pymc-complete.json").read_text())
        report["settings"].pop("seconds")
        for replication in report["replications"]:
            assert replication.pop("seconds") > 0  # each fit's own time: the one difference
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["settings"]["sampler"]["cores"] == 1


def test_sbc_refuses_jobs_with_a_scheduler(capsys, address):
    with pytest.raises(SystemExit) as caught:
        _sbc_script().main(["--path", "pymc-marginal", "--jobs", "2", "--scheduler", address])
    assert caught.value.code == 2
    assert "leave out --jobs and --cores" in capsys.readouterr().err


def test_evaluate_scores_the_cohorts_on_the_cluster(capsys, tmp_path, address):
    pytest.importorskip("sklearn")
    cohorts = []
    for name, extra in (("clean", []), ("trait", ["--reporting-trait", "0.5"])):
        folder = tmp_path / name
        assert main(["simulate", "--n", "400", "--seed", str(len(cohorts) + 11), *extra,
                     "--out-dir", str(folder), "--no-parquet", "--no-progress"]) == 0  # fmt: skip
        cohorts += ["--cohort", str(folder / "cohort.csv")]
    for where, scheduler in (("here", []), ("there", ["--scheduler", address])):
        argv = ["evaluate", *cohorts, "--no-plots", "--no-progress",
                "--out-dir", str(tmp_path / where), *scheduler]  # fmt: skip
        assert main(argv) == 0
    capsys.readouterr()
    for name in ("evaluation.json", "report.md"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes()
    summary = json.loads((tmp_path / "here" / "evaluation.json").read_text())
    assert [m["cohort"] for m in summary["misspecification"]] == ["trait"]


# -- the glue: order, bounded memory, the model on the workers ------------------------------


def test_results_come_back_in_input_order_with_few_in_flight(address):
    from npprob.cli._dask import ordered_map

    pulled = []

    def arguments():
        for i in range(8):
            pulled.append(i)
            yield (i,)

    with distributed.Client(address) as client:
        results = ordered_map(client, _slower_first, arguments(), in_flight=3)
        first = next(results)
        assert len(pulled) == 3  # the rest is read as results are taken
        assert [first, *results] == [i * i for i in range(8)]


def _slower_first(i: int) -> int:
    time.sleep(0.05 * (3 - i % 4))  # later tasks tend to finish first
    return i * i


def test_a_task_runs_its_kernels_on_one_thread(address):
    from npprob.cli._dask import ordered_map

    with distributed.Client(address) as client:
        assert list(ordered_map(client, _threads, [(), ()])) == [1, 1]


def _threads() -> int:
    import numba

    return numba.get_num_threads()


def test_a_worker_refuses_a_model_other_than_the_commands(address):
    from npprob.cli._dask import ModelRef, diagnose_block, ordered_map
    from npprob.errors import ModelFileError

    wrong = ModelRef(name=None, setting=None, allow_unconverged=False, fingerprint="0" * 64)
    codes = np.full((1, 3), -1, dtype=np.int16)
    task = (wrong, codes, ["a"], [True], [], 1, False, 8)
    with (
        distributed.Client(address) as client,
        pytest.raises(ModelFileError, match="same npprob version and model files"),
    ):
        list(ordered_map(client, diagnose_block, [task]))


def test_a_worker_loads_the_model_once(address):
    from npprob.cli import _dask
    from npprob.diagnosis import load_model

    model = load_model().in_setting(None)
    ref = _dask.ModelRef.of(model, None, None, False)
    with distributed.Client(address) as client:
        ids = list(_dask.ordered_map(client, _model_id, [(ref,)] * 6))
    # Threads of one process here: one model for all of them, loaded once.
    assert len(set(ids)) == 1


def _model_id(ref) -> int:
    return id(ref.load())


# -- errors: one line, before any work -------------------------------------------------------


@pytest.mark.parametrize("command", ["diagnose", "simulate", "evaluate"])
def test_without_dask_scheduler_is_one_line(capsys, monkeypatch, tmp_path, cohort, command):
    monkeypatch.setitem(sys.modules, "distributed", None)
    argv = {
        "diagnose": ["diagnose", str(cohort), "--out", str(tmp_path / "r.csv")],
        "simulate": ["simulate", "--n", "50", "--out-dir", str(tmp_path / "sim")],
        "evaluate": ["evaluate", "--cohort", str(cohort), "--out-dir", str(tmp_path / "ev")],
    }[command]
    status, out, err = run(capsys, [*argv, "--scheduler", "local"])
    assert status == EXIT_BAD_INPUT
    assert out == ""
    assert err == (
        f"npprob {command}: error: npprob {command} --scheduler needs the 'dask' extra "
        "(distributed is missing): pip install 'npprob[dask]'\n"
    )
    assert not any(tmp_path.iterdir())


def test_without_dask_the_local_paths_still_run(capsys, monkeypatch, tmp_path, cohort):
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.setitem(sys.modules, "dask", None)
    status, _, err = run(capsys, ["diagnose", str(cohort), "--no-explain", "--out",
                                  str(tmp_path / "r.csv")])  # fmt: skip
    assert status == EXIT_BAD_INPUT
    assert "bad row(s) skipped" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("scheduler", "message"),
    [
        ("tcp://127.0.0.1:{port}", "cannot connect to a Dask scheduler there"),
        ("no-port-here", "not a scheduler address"),
        ("missing-scheduler.json", "no such scheduler file"),
    ],
)
def test_a_scheduler_that_cannot_be_reached_is_one_line(capsys, tmp_path, cohort, scheduler,
                                                        message):  # fmt: skip
    scheduler = scheduler.format(port=_closed_port())
    status, out, err = run(capsys, ["diagnose", str(cohort), "--out", str(tmp_path / "r.csv"),
                                    "--scheduler", scheduler])  # fmt: skip
    assert (status, out) == (EXIT_BAD_INPUT, "")
    assert err.startswith(f"npprob diagnose: error: --scheduler {scheduler}: {message}")
    assert err.count("\n") == 1
    assert not (tmp_path / "r.csv").exists()


def test_a_server_that_is_not_a_scheduler_is_one_line(capsys, monkeypatch, tmp_path, cohort):
    from npprob.cli import _dask

    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 0.5)
    with socket.socket() as server:  # listens, never answers (as a web server would not)
        server.bind(("127.0.0.1", 0))
        server.listen()
        scheduler = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        status, out, err = run(capsys, ["diagnose", str(cohort), "--out", str(tmp_path / "r.csv"),
                                        "--scheduler", scheduler])  # fmt: skip
    assert (status, out) == (EXIT_BAD_INPUT, "")
    assert err == (
        f"npprob diagnose: error: --scheduler {scheduler}: the server there is not a Dask "
        "scheduler (no handshake within 0.5 s).\n"
    )


def test_workers_only_with_a_local_cluster(capsys, tmp_path, cohort):
    status, _, err = run(capsys, ["diagnose", str(cohort), "--workers", "2"])
    assert status == EXIT_BAD_INPUT
    assert "--workers: the number of workers of --scheduler local" in err


def test_the_latent_trait_generator_is_drawn_in_one_piece(capsys, tmp_path):
    status, _, err = run(capsys, ["simulate", "--generator", "latent-trait", "--partition-size",
                                  "10", "--out-dir", str(tmp_path / "x")])  # fmt: skip
    assert status == EXIT_BAD_INPUT
    assert "--partition-size: the latent-trait generator draws its cohort in one piece" in err
