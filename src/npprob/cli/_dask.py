"""``--scheduler local|ADDRESS``: blocks, partitions and replications run on a Dask cluster.

The commands keep their own loops; this module only connects to a cluster and runs
tasks there in order. ``local`` starts a ``distributed.LocalCluster`` of ``--workers``
processes (default: one per core) with one thread each; an address such as
``tcp://host:8786`` connects to the scheduler of a cluster started elsewhere
(``dask scheduler`` and ``dask worker``, dask-jobqueue, Kubernetes: docs/distributed.md).

- Every task runs the engine's numba kernels on one thread: a cluster is given one
  worker thread per core, and two workers then use two cores.
- A worker loads a model by its name or path, once (then keeps it, with its compiled
  engine, for every later task), and checks that it is the model the command loaded:
  workers need the same npprob version and model files.
- Results come back in input order, whichever worker finished first, with a bounded
  number of tasks in flight (memory does not grow with the input); a command's output
  is therefore the same bytes as without a cluster.

dask and distributed are imported only here and only when ``--scheduler`` is given:
without the ``dask`` extra the rest of npprob runs as before, and ``--scheduler`` is
one clear line.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npprob.errors import ModelFileError, ParameterError

__all__ = [
    "ModelRef",
    "add_scheduler_arguments",
    "check_scheduler_arguments",
    "connect",
    "diagnose_block",
    "mapper",
    "model_mapper",
    "ordered_map",
]

#: Seconds to wait for the scheduler at ``--scheduler ADDRESS``.
CONNECT_TIMEOUT = 20.0

#: Tasks in flight per worker thread: one running, one waiting (so no worker idles
#: while the next block is read), without holding the whole input in memory.
IN_FLIGHT_PER_THREAD = 2


def add_scheduler_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--scheduler`` and ``--workers`` to a command's parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    what : str
        What the workers run, for the help text ("the cohort's blocks").
    """
    parser.add_argument(
        "--scheduler", default=None, metavar="local|ADDRESS",
        help=f"run {what} on a Dask cluster: 'local' starts one on this machine (--workers "
        "processes), an address such as tcp://host:8786 uses a running one; the results are "
        "the same as without it (needs the 'dask' extra; docs/distributed.md)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=_positive, default=None, metavar="N",
        help="with --scheduler local: worker processes, one thread each (default: one per core)",
    )  # fmt: skip


def check_scheduler_arguments(args: argparse.Namespace, what: str) -> None:
    """Refuse ``--workers`` without ``--scheduler local``; check the extra is installed.

    Called before any work starts, so a missing extra costs one line, not a run.
    """
    from npprob._extras import require

    if args.workers is not None and args.scheduler != "local":
        raise ParameterError(
            "--workers: the number of workers of --scheduler local (a running cluster has its "
            "own).",
            parameter="workers",
        )
    if args.scheduler is not None:
        require("dask", f"{what} --scheduler")


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def connect(scheduler: str, workers: int | None = None) -> Iterator[object]:
    """A ``distributed.Client``: of a new local cluster, or of the scheduler at an address.

    Parameters
    ----------
    scheduler : str
        ``"local"``, a scheduler address (``tcp://host:8786``), or the JSON file
        ``dask scheduler --scheduler-file`` wrote.
    workers : int, optional
        Worker processes of the local cluster (default: one per core).

    Yields
    ------
    distributed.Client
        Closed on exit (with the local cluster; a running cluster is left running).

    Raises
    ------
    ParameterError
        When the address is malformed or no scheduler answers there within
        :data:`CONNECT_TIMEOUT` seconds.
    """
    import logging

    from distributed import Client, LocalCluster

    if scheduler == "local":
        # One thread per worker process (each task runs numba on one thread). The
        # scheduler's web server (dashboard, metrics) takes any free port on this machine
        # only: the fixed 8787 warns when another cluster has it. NUMBA_NUM_THREADS is left
        # alone: a worker process may import numba before a Nanny's env= is applied, and
        # numba then refuses the changed value at its next compilation.
        cluster = LocalCluster(
            n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
        )  # fmt: skip
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    where = {"address": scheduler}
    if scheduler.endswith(".json"):
        # The file `dask scheduler --scheduler-file` writes (on a shared file system).
        if not Path(scheduler).is_file():
            raise ParameterError(
                f"--scheduler {scheduler}: no such scheduler file.", parameter="scheduler"
            )
        where = {"scheduler_file": scheduler}
    else:
        _check_reachable(scheduler)
    try:
        client = Client(**where, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TimeoutError) as exc:
        raise ParameterError(
            f"--scheduler {scheduler}: cannot connect to a Dask scheduler there ({exc}).",
            parameter="scheduler",
        ) from None
    with client:
        yield client


def _check_reachable(address: str) -> None:
    """Fail fast, in one line, on an address where no Dask scheduler listens.

    A ``distributed.Client`` that cannot connect waits for its whole timeout, and one
    that reaches a server of another kind (a web server, say) can wait for ever. A
    scheduler sends its handshake as soon as a connection opens, so a plain socket
    tells at once: a closed port, nobody there, or a server that says nothing.
    """
    import socket

    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return  # other transports: the client's own check
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise ParameterError(
            f"--scheduler {address}: not a scheduler address ({exc}); e.g. tcp://host:8786, "
            "or 'local'.",
            parameter="scheduler",
        ) from None
    try:
        probe = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ParameterError(
            f"--scheduler {address}: cannot connect to a Dask scheduler there ({reason}).",
            parameter="scheduler",
        ) from None
    with probe:
        # TLS speaks only after its own handshake: the connection is all there is to see.
        try:
            answered = scheme == "tls" or bool(probe.recv(1))
        except OSError:  # the timeout, or a reset
            answered = False
    if not answered:
        raise ParameterError(
            f"--scheduler {address}: the server there is not a Dask scheduler (no handshake "
            f"within {CONNECT_TIMEOUT:g} s).",
            parameter="scheduler",
        )


def ordered_map(
    client, function: Callable[..., object], arguments: Iterable[tuple], *,
    in_flight: int | None = None,
) -> Iterator[object]:  # fmt: skip
    """``function(*a)`` for each tuple ``a``, run on the cluster, yielded in input order.

    ``arguments`` is read lazily: at most ``in_flight`` tasks (default
    :data:`IN_FLIGHT_PER_THREAD` per worker thread) are submitted and not yet yielded,
    so a stream of blocks is never held whole. A task's exception is raised here, when
    its turn comes; tasks still pending are then released (cancelled).
    """
    if in_flight is None:
        threads = sum(client.nthreads().values()) or 1
        in_flight = IN_FLIGHT_PER_THREAD * threads
    pending: deque = deque()
    try:
        for args in arguments:
            with warnings.catch_warnings():
                # A task carries its own data (a cohort to evaluate can pass 10 MB), sent
                # once to the one worker that needs it: nothing to share or load with Dask.
                warnings.filterwarnings("ignore", message="Sending large graph")
                pending.append(client.submit(_one_thread, function, *args, pure=False))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.release()


def mapper(client) -> Callable[[Callable[..., object], Sequence[tuple]], Iterator[object]]:
    """A ``mapper(function, arguments)`` for the API's ``mapper=`` parameters (in order)."""

    def run(function: Callable[..., object], arguments: Sequence[tuple]) -> Iterator[object]:
        return ordered_map(client, function, arguments)

    return run


def _one_thread(function: Callable[..., object], *args: object) -> object:
    """Run a task with the engine's kernels on this worker thread alone."""
    import numba

    # numba's setting is per thread: each worker thread is one core's worth of work,
    # whatever size of thread pool numba started in the worker process.
    numba.set_num_threads(1)
    return function(*args)


# -- the model on the workers -------------------------------------------------------------


@dataclass(frozen=True)
class ModelRef:
    """How a worker loads the model a command loaded, and checks it got the same one.

    Attributes
    ----------
    name : str or None
        The model's name or folder (``--model``); an existing folder given by a relative
        path is made absolute, for workers started elsewhere on a shared file system.
    setting : str or None
        ``--setting``.
    allow_unconverged : bool
    fingerprint : str
        SHA-256 of the npprob version, the specification and every parameter draw of
        the model in its setting.
    """

    name: str | None
    setting: str | None
    allow_unconverged: bool
    fingerprint: str

    @classmethod
    def of(cls, model, name: str | None, setting: str | None, allow_unconverged: bool) -> ModelRef:
        """The reference of ``model`` (loaded from ``name``, put in ``setting``)."""
        if name is not None and Path(name).is_dir():
            name = str(Path(name).resolve())
        return cls(name, setting, bool(allow_unconverged), fingerprint(model))

    def load(self):
        """The model, loaded once per worker process and kept.

        Raises
        ------
        ModelFileError
            When the worker's model is not the command's (another npprob version, other
            model files).
        """
        key = (self.name, self.setting, self.allow_unconverged, self.fingerprint)
        with _LOCK:
            model = _MODELS.get(key)
            if model is None:
                from npprob.diagnosis import load_model

                model = load_model(self.name, allow_unconverged=self.allow_unconverged)
                model = model.in_setting(self.setting)
                if fingerprint(model) != self.fingerprint:
                    raise ModelFileError(
                        f"A Dask worker's model '{model.name}' differs from the one loaded "
                        "here: workers need the same npprob version and model files."
                    )
                _MODELS[key] = model
        return model


_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def fingerprint(model) -> str:
    """SHA-256 of the npprob version, the specification and the model's parameter draws."""
    from npprob import __version__

    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(model.spec.digest.encode())
    h.update(np.ascontiguousarray(model.engine.params_t).tobytes())
    return h.hexdigest()


def diagnose_block(
    ref: ModelRef, codes: np.ndarray, ids: list[str], valid: np.ndarray, errors: list,
    first_row: int, explain: bool, top: int,
):  # fmt: skip
    """One block of ``npprob diagnose COHORT``, answered on a worker.

    The block travels as its state codes (the network is the worker's model's, the
    same by the fingerprint), and comes back as its
    :class:`~npprob.diagnosis.columns.ResultColumns`.
    """
    from npprob.diagnosis.columns import diagnose_columns
    from npprob.io.patients import PatientTable
    from npprob.network.evidence import EvidenceBatch

    model = ref.load()
    table = PatientTable(EvidenceBatch(model.network, codes), ids, valid, errors, first_row)
    return diagnose_columns(model, table, explain=explain, top=top)


def model_mapper(
    client, model, ref: ModelRef
) -> Callable[[Callable[..., object], Sequence[tuple]], Iterator[object]]:
    """A ``mapper(function, arguments)`` whose tasks get ``model`` loaded on their worker.

    Every argument that is ``model`` travels as ``ref`` (a name and a fingerprint, not
    the draws) and is the worker's own copy of the model when the task runs.
    """

    def run(function: Callable[..., object], arguments: Sequence[tuple]) -> Iterator[object]:
        tasks = ((function, *(ref if a is model else a for a in args)) for args in arguments)
        return ordered_map(client, _with_model, tasks)

    return run


def _with_model(function: Callable[..., object], *args: object) -> object:
    """``function(*args)`` on a worker, each :class:`ModelRef` replaced by its model."""
    return function(*(a.load() if isinstance(a, ModelRef) else a for a in args))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value
