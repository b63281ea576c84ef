"""Statistics a model implies, computed exactly, beside the published ones they should match.

A published statistic (``models/published_statistics.toml``) is a probability in a
defined population: the share of neuropathic patients with brush allodynia in
post-herpetic neuralgia, the DN4's sensitivity in consecutive clinic patients, the
share of knee osteoarthritis that screens DN4-positive, the neuropathic share in a
care setting. The model implies each one exactly, in every parameter draw: a
finding or the target by a posterior marginal given the population's conditions;
a screening tool's positive rate by enumerating every pattern of the tool's
findings, each pattern's probability being P(conditions, pattern) / P(conditions)
from the engine's evidence likelihoods.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from npprob.errors import DataFileError
from npprob.evaluation.baselines import ScreeningTool, load_tools
from npprob.io.evidence import KINDS, PublishedStatistic, read_statistics
from npprob.network.evidence import UNOBSERVED, EvidenceBatch
from npprob.network.network import Network

__all__ = [
    "KINDS",
    "PublishedStatistic",
    "compare_published",
    "implied_draws",
    "load_published_statistics",
    "marginal_draws",
    "screen_positive_draws",
]

#: Most findings a screening tool may have for exact enumeration (2 ** 14 patterns).
MAX_TOOL_FINDINGS = 14


def load_published_statistics(
    network: Network, path: str | os.PathLike[str] | None = None
) -> list[PublishedStatistic]:
    """The published statistics of ``models/published_statistics.toml`` (or ``path``).

    See :func:`npprob.io.evidence.read_statistics`.
    """
    from npprob.io.resources import models_dir

    p = Path(path) if path is not None else models_dir() / "published_statistics.toml"
    return read_statistics(network, p)


def _given_codes(network: Network, given: Mapping[str, str]) -> np.ndarray:
    codes = np.full(len(network), UNOBSERVED, dtype=np.int16)
    for name, state in given.items():
        codes[network.index(name)] = network.variable(name).states.index(state)
    return codes


def marginal_draws(engine, network: Network, given: Mapping[str, str], variable: str,
                   state: str) -> np.ndarray:  # fmt: skip
    """P(variable = state | given) in every parameter draw, shape (n_draws,)."""
    batch = EvidenceBatch(network, _given_codes(network, given)[None, :])
    result = engine.query(batch, [variable], on_zero="nan")
    return result.marginal(variable)[:, 0, network.variable(variable).states.index(state)]


def screen_positive_draws(engine, network: Network, tool: ScreeningTool,
                          given: Mapping[str, str]) -> np.ndarray:  # fmt: skip
    """P(tool score >= cutoff | given) in every parameter draw, shape (n_draws,).

    Every pattern of the tool's (two-state) findings is enumerated; a pattern's
    probability is exp(log P(given, pattern) - log P(given)). Items scored from the
    condition need it in ``given``.

    Raises
    ------
    DataFileError
        When the tool has more findings than can be enumerated, or scores the
        condition while ``given`` does not fix it.
    """
    findings = sorted({f for items, _, _ in tool.items for f in items})
    if len(findings) > MAX_TOOL_FINDINGS:
        raise DataFileError(f"Tool '{tool.key}' has too many findings to enumerate.")
    scores_condition = any(causes for _, causes, _ in tool.items)
    if scores_condition and "aetiology" not in given:
        raise DataFileError(f"Tool '{tool.key}' scores the condition: give it in 'given'.")
    base = _given_codes(network, given)
    patterns = np.array(list(itertools.product((0, 1), repeat=len(findings))), dtype=bool)
    rows = np.repeat(base[None, :], len(patterns), axis=0)
    for j, name in enumerate(findings):
        var = network.variable(name)
        positive = var.positive_index
        negative = next(i for i in range(len(var.states)) if i != positive)
        rows[:, network.index(name)] = np.where(patterns[:, j], positive, negative)
    score = np.zeros(len(patterns))
    for items, causes, points in tool.items:
        hit = np.zeros(len(patterns), dtype=bool)
        for name in items:
            hit |= patterns[:, findings.index(name)]
        if causes and given.get("aetiology") in causes:
            hit[:] = True
        score += points * hit
    log_joint = engine.log_evidence(EvidenceBatch(network, rows))  # (draws, patterns)
    log_given = engine.log_evidence(EvidenceBatch(network, base[None, :]))[:, 0]
    weights = np.exp(log_joint - log_given[:, None])
    return weights[:, score >= tool.cutoff].sum(axis=1)


def implied_draws(model, statistic: PublishedStatistic, tools: Mapping[str, ScreeningTool]
                  | None = None) -> np.ndarray:  # fmt: skip
    """The statistic as the model implies it, in every parameter draw, shape (n_draws,).

    The context (chronic pain) is part of the population unless the statistic counts
    everyone (``population = "all"``); the statistic's care setting, if any,
    supplies the case mix of the condition.
    """
    m = model.in_setting(statistic.setting)
    network = m.network
    context = network.context if statistic.population == "context" else ()
    given = {**{v.name: v.states[v.positive_index] for v in context}, **statistic.given}
    if statistic.kind == "finding":
        return marginal_draws(m.engine, network, given, statistic.finding, statistic.state)
    if statistic.kind == "target":
        target = m.spec.target
        return marginal_draws(m.engine, network, given, target.name,
                              target.states[target.positive_index])  # fmt: skip
    tools = tools if tools is not None else load_tools(network)
    if statistic.tool not in tools:
        raise DataFileError(f"Statistic '{statistic.id}': unknown tool {statistic.tool!r}.")
    return screen_positive_draws(m.engine, network, tools[statistic.tool], given)


def compare_published(model, statistics: list[PublishedStatistic]) -> list[dict[str, object]]:
    """Each statistic's published value and interval beside the model's mean and 95 % interval.

    ``agrees`` is True when the two intervals overlap.
    """
    tools = load_tools(model.network)
    rows = []
    for s in statistics:
        draws = implied_draws(model, s, tools)
        low, high = np.quantile(draws, [0.025, 0.975])
        rows.append({
            "id": s.id, "description": s.description, "published": s.value,
            "published_interval": list(s.interval), "implied": float(draws.mean()),
            "implied_interval": [float(low), float(high)],
            "agrees": bool(high >= s.interval[0] and low <= s.interval[1]),
            "source": s.source, "tag": s.tag,
        })  # fmt: skip
    return rows
