"""Optional extras: which modules each one brings, and one clear error when one is missing.

The core install (numpy, numba, scipy) answers ``diagnose``, ``treat``, ``query`` and
``simulate``; the other commands need an extra (``pyproject.toml`` lists them). A
command checks its extra before any work starts, so a missing one costs one line,
not a traceback after minutes of sampling.
"""

from __future__ import annotations

import importlib.util

from npprob.errors import MissingExtraError

__all__ = ["EXTRAS", "missing", "require"]

#: The importable modules of each extra, as ``pyproject.toml`` installs them (the module,
#: not the distribution: scikit-learn is ``sklearn``). Modules that are merely nice to
#: have (tqdm: a plain progress line stands in) are left out, and so are h5py and
#: pytensor, which h5netcdf and pymc bring.
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("pymc", "arviz", "h5netcdf", "threadpoolctl"),
    "evaluate": ("sklearn", "matplotlib", "pandas"),
    "dask": ("dask", "distributed"),
    # python-multipart is left out: its module was renamed (multipart, python_multipart).
    "web": ("starlette", "jinja2", "uvicorn"),
    "fast": ("nutpie", "jax"),
}


def missing(modules: tuple[str, ...] | list[str]) -> str | None:
    """The first of ``modules`` that cannot be imported, or None when all can.

    Only the import system's finders are asked (nothing is imported), so checking
    PyMC costs microseconds, not seconds.
    """
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            # A parent package that is itself missing, or a module without a spec.
            found = False
        if not found:
            return name
    return None


def require(extra: str, what: str, modules: tuple[str, ...] | list[str] | None = None) -> None:
    """Raise :class:`~npprob.errors.MissingExtraError` unless ``extra``'s modules import.

    Parameters
    ----------
    extra : str
        A key of :data:`EXTRAS`: ``"train"``, ``"evaluate"``, ``"web"``...
    what : str
        Who needs it, as the message starts: ``"npprob train"``, ``"NpprobClassifier"``.
    modules : sequence of str, optional
        The modules actually needed (default: all of the extra's).

    Raises
    ------
    MissingExtraError
        Naming the missing module and the install command, on one line.

    Examples
    --------
    >>> require("evaluate", "npprob evaluate", modules=["a_module_that_is_not_there"])
    Traceback (most recent call last):
    ...
    npprob.errors.MissingExtraError: npprob evaluate needs the 'evaluate' extra (a_module_that_is_not_there is missing): pip install 'npprob[evaluate]'
    """
    name = missing(EXTRAS[extra] if modules is None else modules)
    if name is not None:
        raise MissingExtraError(
            f"{what} needs the '{extra}' extra ({name} is missing): pip install 'npprob[{extra}]'",
            extra=extra,
            name=name,
        )
