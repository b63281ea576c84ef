"""Simulated cohorts to and from files (through :mod:`npprob.io.cohort`, the one reader and writer)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from npprob.cohorts.simulate import Cohort
from npprob.io.cohort import TRUTH_PREFIX, read_cohort_data, write_cohort_data
from npprob.io.cohort import cohort_frame as data_frame
from npprob.io.resources import clinical_spec

__all__ = ["TRUTH_PREFIX", "cohort_frame", "read_cohort", "read_label", "write_cohort"]


def cohort_frame(cohort: Cohort):
    """One row per patient: id, group, recorded findings, label, latent truth, p_true.

    Recorded findings are state names, empty where missing; the label is the
    recorded call on the target (1/0); ``true_*`` columns hold every hidden
    variable's true state; ``p_true_<target>`` is P(target | recorded findings)
    under the truth network.
    """
    return data_frame(cohort.data())


def write_cohort(
    cohort: Cohort,
    out_dir: str | os.PathLike[str],
    *,
    parquet: bool | None = None,
    extra_card: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Write ``cohort.csv`` (and ``cohort.parquet``) and ``card.json`` into ``out_dir``.

    The same cohort gives the same bytes. Returns the card, which also lists
    every file's SHA-256 (see :func:`~npprob.io.cohort.write_cohort_data`);
    ``extra_card`` entries (for example where posterior truth parameters came
    from) are added to it.
    """
    data = cohort.data()
    card = {**data.card, **(extra_card or {})}
    return write_cohort_data(data, out_dir, card=card, parquet=parquet)


def read_cohort(
    path: str | os.PathLike[str], network, *, truth: bool = True
) -> tuple[np.ndarray, dict | None]:
    """State codes of every variable of a cohort file, and its data card.

    The recorded findings fill the observable columns (-1 where empty); with
    ``truth`` the ``true_*`` columns fill the hidden ones (see
    :func:`~npprob.io.cohort.read_cohort_data`).
    """
    data = read_cohort_data(path, network, truth=truth, label=False)
    return data.complete_codes(), data.card


def read_label(path: str | os.PathLike[str], network=None) -> np.ndarray | None:
    """The recorded 0/1 label of a cohort file (-1 where empty), or None without the column.

    ``network`` defaults to the shipped clinical network (its target names the column).
    """
    net = network if network is not None else clinical_spec().network
    label = read_cohort_data(path, net, truth=False).label
    return None if label is None else label.astype(np.int16)
