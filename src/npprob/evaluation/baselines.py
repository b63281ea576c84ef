"""Bedside screening tools as scores over the network's findings.

The tools (DN4, DN4 interview, a LANSS-style weighted score, ID Pain) are data
in ``models/baselines.toml``; the NeuPSIG grade comes from
:func:`npprob.diagnosis.neupsig_grade_codes`. Scores are computed from the same
recorded findings npprob sees; an unrecorded finding scores 0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from npprob.errors import DataFileError
from npprob.io.screening import load_tools
from npprob.io.tomlfile import read_toml
from npprob.network.network import Network
from npprob.network.screening import ScreeningTool

__all__ = [
    "NEUPSIG_CUTOFF",
    "ScreeningTool",
    "load_hard_cases",
    "load_tools",
    "neupsig_score",
    "score_all",
    "tool_score",
]


def tool_score(tool: ScreeningTool, network: Network, codes: np.ndarray) -> np.ndarray:
    """Each patient's score, shape (n_patients,), from state codes (-1 = not recorded)."""
    codes = np.asarray(codes)
    score = np.zeros(len(codes))
    for findings, causes, points in tool.items:
        hit = np.zeros(len(codes), dtype=bool)
        for name in findings:
            hit |= codes[:, network.index(name)] == network.variable(name).positive_index
        if causes:
            states = network.variable("aetiology").states
            hit |= np.isin(codes[:, network.index("aetiology")], [states.index(c) for c in causes])
        score += points * hit
    return score


def neupsig_score(network: Network, codes: np.ndarray) -> np.ndarray:
    """NeuPSIG 2016 grade index per patient (0 unlikely ... 3 definite); positive from 2 (probable)."""
    from npprob.diagnosis.neupsig import neupsig_grade_codes

    return neupsig_grade_codes(network, np.asarray(codes)).astype(np.float64)


#: Positive-screen cut-off of :func:`neupsig_score` (grade "probable" or "definite").
NEUPSIG_CUTOFF = 2.0


#: The hard-case group evaluation adds itself: non-neuropathic patients DN4 calls positive.
SCREEN_FALSE_POSITIVES = "dn4_positive_not_neuropathic"


def load_hard_cases(
    network: Network, path: str | os.PathLike[str] | None = None
) -> dict[str, tuple[str, ...]]:
    """The hard-case groups (name to aetiology states) from the tools file.

    Raises
    ------
    DataFileError
        On an aetiology the network does not have.
    """
    from npprob.io.resources import baselines_path

    p = Path(path) if path is not None else baselines_path()
    data = read_toml(p, "tools file")
    states = set(network.variable("aetiology").states)
    out = {}
    for key, body in data.get("hard_cases", {}).items():
        causes = body.get("aetiology") if isinstance(body, dict) else None
        if not isinstance(causes, list) or not all(isinstance(c, str) for c in causes):
            raise DataFileError(f"{p}: hard case '{key}' needs aetiology = [list of states].")
        unknown = sorted(set(causes) - states)
        if not causes or unknown:
            raise DataFileError(f"{p}: hard case '{key}' has unknown or no aetiology {unknown}.")
        if key == SCREEN_FALSE_POSITIVES:
            raise DataFileError(f"{p}: '{key}' is a reserved hard-case name.")
        out[key] = tuple(causes)
    return out


def score_all(
    network: Network, codes: np.ndarray, tools: Mapping[str, ScreeningTool]
) -> dict[str, tuple[np.ndarray, float]]:
    """Every tool's scores and cut-off, plus the NeuPSIG grade, by key."""
    out = {key: (tool_score(tool, network, codes), tool.cutoff) for key, tool in tools.items()}
    out["neupsig"] = (neupsig_score(network, codes), NEUPSIG_CUTOFF)
    return out
