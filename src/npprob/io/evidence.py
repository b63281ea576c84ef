"""Reading published aggregate statistics: probabilities in defined populations.

A statistic is a probability in a population defined in the network's own terms:
a finding's frequency given a condition, the neuropathic share given a condition or
a care setting, a screening tool's positive rate. ``models/published_statistics.toml``
holds the ones the model card compares with; ``models/evidence/`` holds the evidence
the evidence-synthesis fit learns from, each with its counts (k of n), its family
(the same quantity across studies) and its publication.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from npprob.errors import DataFileError
from npprob.io.tomlfile import read_toml
from npprob.network.network import Network

__all__ = ["KINDS", "POPULATIONS", "PublishedStatistic", "read_statistics"]

#: What a statistic is a probability of.
KINDS = ("finding", "target", "screen_positive")

#: Who a statistic counts: people in the network's context (with chronic pain), or
#: everyone with the ``given`` states (a population risk such as "neuropathic pain in
#: 53 % of people with spinal cord injury", which is not a share among those in pain).
POPULATIONS = ("context", "all")


@dataclass(frozen=True)
class PublishedStatistic:
    """One published probability in a defined population.

    Attributes
    ----------
    id, description : str
    kind : str
        ``"finding"`` (P(finding = state | given)), ``"target"`` (P(target positive
        | given)) or ``"screen_positive"`` (P(tool score >= cutoff | given)).
    given : dict of str to str
        The population: states of any variables (hidden ones included, e.g.
        ``neuropathic = "present"``).
    setting : str or None
        A care setting whose case mix applies (``models/cohort_settings.toml``).
    finding, state, tool : str or None
    value : float
        The published estimate (probability scale).
    interval : tuple of float
        Its 95 % interval (or a range the source gives).
    source, tag, note : str
    k, n : int or None
        Events and denominator: published counts, or an effective sample size
        derived from the interval (tagged D).
    family : str
        Statistics that measure the same quantity in different studies share a
        family (their between-study spread is modelled).
    publication : str
        A short key of the publication (leave-one-publication-out).
    population : str
        ``"context"`` (default): the statistic counts people in the network's
        context, those with chronic pain; ``"all"``: everyone with the ``given``
        states, in pain or not (a population risk).
    """

    id: str
    description: str
    kind: str
    given: dict[str, str]
    value: float
    interval: tuple[float, float]
    source: str
    tag: str
    setting: str | None = None
    finding: str | None = None
    state: str | None = None
    tool: str | None = None
    note: str = ""
    k: int | None = None
    n: int | None = None
    family: str = ""
    publication: str = ""
    population: str = "context"


def read_statistics(
    network: Network, path: str | os.PathLike[str], *, counts: bool = False
) -> list[PublishedStatistic]:
    """Read and check published statistics against ``network``.

    Parameters
    ----------
    network : Network
    path : path-like
        A TOML file of ``[[statistics]]`` tables.
    counts : bool, default=False
        Require what a likelihood needs: ``k`` of ``n``, a ``family`` and a
        ``publication`` for every statistic (the evidence of
        ``models/evidence/``).

    Raises
    ------
    DataFileError
        On invalid TOML, an unknown kind, population, variable, state or tool, a value outside
        its interval or [0, 1], counts that are not 0 <= k <= n with n >= 1, a
        repeated id, or a statistic without source and tag.
    """
    p = Path(path)
    data = read_toml(p, "statistics file")
    out: list[PublishedStatistic] = []
    seen: set[str] = set()
    for k, body in enumerate(data.get("statistics", [])):
        where = f"{p}: statistic {k + 1} ({body.get('id', '?')})"
        kind = body.get("kind")
        if kind not in KINDS:
            raise DataFileError(f"{where}: kind must be one of {KINDS}.", path=str(p))
        given = {str(a): str(b) for a, b in dict(body.get("given", {})).items()}
        for name, state in given.items():
            if name not in network or state not in network.variable(name).states:
                raise DataFileError(f"{where}: unknown given {name} = {state!r}.", path=str(p))
        finding, state = body.get("finding"), body.get("state")
        if kind == "finding" and (
            finding not in network or state not in network.variable(finding).states
        ):
            raise DataFileError(f"{where}: unknown finding {finding} = {state!r}.", path=str(p))
        value, interval = body.get("value"), body.get("interval")
        if (
            not isinstance(value, (int, float))
            or not isinstance(interval, list)
            or len(interval) != 2
            or not 0.0 <= interval[0] <= value <= interval[1] <= 1.0
        ):
            raise DataFileError(
                f"{where}: needs 0 <= interval[0] <= value <= interval[1] <= 1.", path=str(p)
            )
        if not body.get("source") or not body.get("tag"):
            raise DataFileError(f"{where}: needs a source and a tag.", path=str(p))
        k_events, n_total = body.get("k"), body.get("n")
        if (counts or k_events is not None or n_total is not None) and not (
            isinstance(k_events, int)
            and isinstance(n_total, int)
            and 0 <= k_events <= n_total
            and n_total >= 1
        ):
            raise DataFileError(f"{where}: needs integers 0 <= k <= n, n >= 1.", path=str(p))
        if counts and not (body.get("family") and body.get("publication")):
            raise DataFileError(f"{where}: needs a family and a publication.", path=str(p))
        if body.get("tool") is not None and kind != "screen_positive":
            raise DataFileError(f"{where}: a tool belongs to kind screen_positive.", path=str(p))
        population = body.get("population", "context")
        if population not in POPULATIONS:
            raise DataFileError(f"{where}: population must be one of {POPULATIONS}.", path=str(p))
        ident = str(body.get("id", f"statistic_{k + 1}"))
        if ident in seen:
            raise DataFileError(f"{where}: id {ident!r} is used twice.", path=str(p))
        seen.add(ident)
        out.append(
            PublishedStatistic(
                id=ident,
                description=str(body.get("description", "")),
                kind=kind,
                given=given,
                value=float(value),
                interval=(float(interval[0]), float(interval[1])),
                source=str(body["source"]),
                tag=str(body["tag"]),
                setting=body.get("setting"),
                finding=finding,
                state=state,
                tool=body.get("tool"),
                note=str(body.get("note", "")),
                k=k_events,
                n=n_total,
                family=str(body.get("family", "")),
                publication=str(body.get("publication", "")),
                population=population,
            )
        )
    return out
