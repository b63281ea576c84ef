"""What a benchmark ran on: commit, CPU, Python and library versions; pinned peers.

Every ``bench_*.py`` puts :func:`environment` under ``"environment"`` in its JSON, so a
result can be traced to the code, the machine and the libraries that produced it.

Ratio floors in ``floors.json`` that compare npprob with another library (a *peer*,
such as pgmpy) were set against the peer version pinned in ``requirements.txt`` beside
this file. :func:`peer_version_problem` says, in one line, when the installed peer
differs; a benchmark then refuses to check its floors unless ``--allow-peer-version``
is given, since a faster or slower peer moves the ratio without any change in npprob.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = HERE / "requirements.txt"

#: Libraries every benchmark's timings depend on (the engine's kernels and arrays).
BASE_LIBRARIES = ("numpy", "numba", "scipy")

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def git_commit(root: Path = ROOT) -> dict[str, object]:
    """The checked-out commit and whether tracked files differ from it.

    Parameters
    ----------
    root : Path
        A folder inside the checkout.

    Returns
    -------
    dict
        ``{"commit": <40 hex digits>, "dirty": bool}``, or ``{"commit": "unknown",
        "dirty": None}`` outside a git checkout or without git.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``), else what :mod:`platform` says.

    Parameters
    ----------
    cpuinfo : Path
        The file to read on Linux.

    Returns
    -------
    str
        For example ``"Intel(R) Xeon(R) Processor"``; ``"unknown"`` when nothing says.
    """
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def installed_version(name: str) -> str | None:
    """The installed distribution's version without importing it, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def npprob_version() -> str:
    """The version of the npprob being measured (the imported one, not the installed one)."""
    import npprob

    return npprob.__version__


def pinned_versions(path: Path | None = None) -> dict[str, str]:
    """Exact pins (``name==version``) of a requirements file, by normalised name.

    Parameters
    ----------
    path : Path, optional
        The requirements file (default ``benchmarks/requirements.txt``).

    Returns
    -------
    dict
        ``{"pgmpy": "1.1.2", ...}``; lines that are not exact pins are left out.
    """
    path = REQUIREMENTS if path is None else path
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def environment(peers: Iterable[str] = (), libraries: Iterable[str] = ()) -> dict[str, object]:
    """Everything a result needs to be traced: code, machine and library versions.

    Parameters
    ----------
    peers : iterable of str
        Libraries npprob is compared with (their versions decide a floor's meaning).
    libraries : iterable of str
        Further libraries the benchmark's timings depend on.

    Returns
    -------
    dict
        ``commit``, ``dirty``, ``cpu_model``, ``cpu_count``, ``machine``, ``system``,
        ``python``, ``npprob``, ``versions`` (every library and peer: installed version,
        None when absent) and ``pinned`` (the peers' pins from ``requirements.txt``).
    """
    peers = tuple(peers)
    names = dict.fromkeys((*BASE_LIBRARIES, *libraries, *peers))
    pins = pinned_versions() if REQUIREMENTS.exists() else {}
    return {
        **git_commit(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "npprob": npprob_version(),
        "versions": {name: installed_version(name) for name in names},
        "pinned": {name: pins.get(_normalise(name)) for name in peers},
    }


def peer_version_problem(
    peers: Iterable[str], script: str, requirements: Path | None = None
) -> str | None:
    """One line saying which peer differs from its pin, or None when all match.

    Parameters
    ----------
    peers : iterable of str
        The libraries the benchmark's floors compare npprob with.
    script : str
        The benchmark's name, to start the message.
    requirements : Path, optional
        The requirements file holding the pins (default ``benchmarks/requirements.txt``).

    Returns
    -------
    str or None
        For example ``"bench_engine: the floors were set against pgmpy 1.1.2
        (benchmarks/requirements.txt) but 1.0.0 is installed; pip install -r
        benchmarks/requirements.txt, or pass --allow-peer-version to check them anyway"``.
    """
    requirements = REQUIREMENTS if requirements is None else requirements
    pins = pinned_versions(requirements)
    try:
        shown = requirements.resolve().relative_to(ROOT)
    except ValueError:
        shown = requirements
    for peer in peers:
        pinned = pins.get(_normalise(peer))
        if pinned is None:
            return f"{script}: {shown} pins no version of {peer}, the peer its floors compare with"
        installed = installed_version(peer)
        if installed != pinned:
            have = "it is not installed" if installed is None else f"{installed} is installed"
            return (
                f"{script}: the floors were set against {peer} {pinned} ({shown}) but {have}; "
                f"pip install -r {shown}, or pass --allow-peer-version to check them anyway"
            )
    return None


def add_peer_option(parser) -> None:
    """The ``--allow-peer-version`` flag of benchmarks whose floors compare with a peer."""
    parser.add_argument(
        "--allow-peer-version",
        action="store_true",
        help="check the floors even when a peer's installed version differs from its pin "
        "in benchmarks/requirements.txt",
    )


if __name__ == "__main__":  # a quick look: python3 benchmarks/_meta.py
    import json

    sys.stdout.write(json.dumps(environment(peers=("pgmpy",)), indent=2) + "\n")
