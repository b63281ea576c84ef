"""The evidence-synthesis fit: the network's CPTs learned from published aggregate statistics.

Each published statistic is a probability in a defined population (a finding's
frequency given a condition, the neuropathic share in a care setting, a screening
tool's positive rate), reported as k events of n. The network implies it exactly:

* P(finding = state | given, chronic pain) = P(numerator row) / P(denominator row),
  two rows of partial evidence, each by the marginal graph of
  :mod:`npprob.learning.elimination` (everything unrecorded summed out);
* a tool's positive rate is the same ratio on the network extended by the screen:
  one leaf whose table is the score's tail (:mod:`npprob.learning.screen_leaf`)
  where the items are independent given their findings' parents, else the tool's
  running score (:func:`~npprob.network.screening.score_network`); either way
  "score at or above the cut-off" is one state of one variable;
* a care setting replaces P(condition) by the setting's case mix
  (:func:`~npprob.io.settings.case_mix`), as the diagnosis does.

Studies of the same quantity disagree beyond sampling error (populations,
definitions, raters), so the likelihood is beta-binomial: each study's own
probability is Beta-distributed around the implied one, with a spread (the
intra-study correlation rho, prior Beta(1, 9)): conflicting studies widen the
posterior instead of being averaged away. By default rho is shared by the
statistics of one kind (a finding's frequency, a screening tool's positive rate,
the neuropathic share), learned from every family with several studies: most
families hold one study, which cannot tell its own spread, and a spread per
family left each of them to the prior, with a funnel between a study's rho and
its implied probability that doubled the sampler's cost (``heterogeneity_by=
"family"`` keeps that variant). The Dirichlet priors of ``network.toml`` stay
the prior of every CPT row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from npprob.errors import DataFileError
from npprob.io.evidence import PublishedStatistic
from npprob.io.settings import CASE_MIX_VARIABLE, care_settings, case_mix, get_setting
from npprob.learning.elimination import FlatLayout, flat_log, flat_log_evidence
from npprob.learning.marginal import free_cpt_vector, plan_free_rows
from npprob.learning.pymc_model import RowLayout
from npprob.learning.screen_leaf import ScreenLeaf, screen_leaf_network
from npprob.network.evidence import UNOBSERVED
from npprob.network.network import Network
from npprob.network.screening import POSITIVE, SCORE, ScreeningTool, score_network
from npprob.network.spec import ClinicalSpec
from npprob.network.variable import Role

__all__ = [
    "HETEROGENEITY_GROUPS",
    "HETEROGENEITY_SCALE",
    "EvidenceLayout",
    "build_evidence_model",
    "evidence_rows",
    "implied_probability_graph",
    "study_population",
]

#: What shares one heterogeneity parameter: statistics of one kind, or of one family.
HETEROGENEITY_GROUPS = ("kind", "family")

#: Second shape of the Beta(1, b) prior of each family's intra-study correlation rho
#: (between-study variance of a study's probability = rho p (1 - p)): b = 9 gives a
#: prior median of 0.074 (90 % interval 0.006-0.28). Prevalence meta-analyses have a
#: median I^2 of 96.9 % (IQR 90.5-98.7 %, 134 meta-analyses; Migliavaca 2022, Res
#: Synth Methods 13:363), which for studies of 200 patients is rho = I^2 / (1 - I^2) / n
#: = 0.16 (IQR 0.05-0.38): the prior sits in the lower part of that range, so that a
#: single study still informs.
HETEROGENEITY_SCALE = 9.0


@dataclass
class EvidenceLayout(RowLayout):
    """Where the free rows live, plus the statistics in likelihood order."""

    statistics: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    family_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def study_population(
    network: Network, statistic: PublishedStatistic
) -> tuple[tuple[str, int] | None, dict[str, str]]:
    """The statistic's setting group and its population, the group's requirements included.

    A care setting has one group. A study design (``case_control``) has several, each
    selected on hidden states (the cases have a lesion and neuropathic pain): the
    statistic belongs to the one group whose requirements agree with its ``given``,
    and those requirements join the population.

    Returns
    -------
    group : (setting name, group index) or None
    given : dict of str to str

    Raises
    ------
    DataFileError
        When no group, or more than one, agrees with the statistic.
    """
    if statistic.setting is None:
        return None, dict(statistic.given)
    setting = get_setting(care_settings(network), statistic.setting)
    agree = [
        k
        for k, g in enumerate(setting.groups)
        if all(statistic.given.get(v, s) == s for v, s in g.require.items())
    ]
    if len(agree) != 1:
        raise DataFileError(
            f"Statistic '{statistic.id}': {len(agree)} groups of setting "
            f"'{statistic.setting}' agree with its population {statistic.given}; give the "
            "states that pick one group."
        )
    (k,) = agree
    return (statistic.setting, k), {**setting.groups[k].require, **statistic.given}


def evidence_rows(
    network: Network, statistic: PublishedStatistic, given: Mapping[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The numerator and denominator rows of one statistic on ``network``.

    ``network`` is the clinical network, extended by the tool's score for a
    ``screen_positive`` statistic. The denominator holds the population (its
    ``given``, or ``given`` when passed, and the context, chronic pain, unless the
    statistic counts everyone, ``population = "all"``); the numerator adds the event.

    Returns
    -------
    numerator, denominator : ndarray of int16, shape (n_variables,)
        Codes, :data:`~npprob.network.evidence.UNOBSERVED` where not recorded.
    """
    den = np.full(len(network), UNOBSERVED, dtype=np.int16)
    for v in network.context if statistic.population == "context" else ():
        den[network.index(v.name)] = v.positive_index
    for name, state in (statistic.given if given is None else given).items():
        den[network.index(name)] = network.variable(name).states.index(state)
    num = den.copy()
    if statistic.kind == "finding":
        event, state = statistic.finding, statistic.state
    elif statistic.kind == "target":
        (target,) = network.with_role(Role.TARGET)
        event, state = target.name, target.states[target.positive_index]
    else:
        event, state = SCORE, POSITIVE
    num[network.index(event)] = network.variable(event).states.index(state)
    return num, den


@dataclass
class _Rows:
    """The rows of one network (the clinical one, or extended by a tool's score)."""

    network: Network
    leaf: ScreenLeaf | None = None
    codes: list[np.ndarray] = field(default_factory=list)
    known: dict[bytes, int] = field(default_factory=dict)

    def add(self, row: np.ndarray) -> int:
        # Statistics of one population share their denominator, and every condition's
        # own rows recur across settings: each distinct row is eliminated once.
        key = row.tobytes()
        if key not in self.known:
            self.known[key] = len(self.codes)
            self.codes.append(row.copy())
        return self.known[key]


def implied_probability_graph(
    network: Network,
    flat,
    statistics: Sequence[PublishedStatistic],
    tools: Mapping[str, ScreeningTool],
    *,
    screen_leaf: bool = True,
):
    """The statistics as the network implies them, one PyTensor graph, shape (n_statistics,).

    Every row records the condition (``aetiology``), whose distribution is then
    mixed in outside the elimination: the statistic's own condition when it has
    one, else the case mix of its care setting (a constant) or the network's own
    P(condition) (a parameter). So one elimination graph serves every setting,
    and the condition, the widest variable, is never summed inside it.

    Parameters
    ----------
    network : Network
    flat : TensorVariable or ndarray
        Every CPT of ``network`` laid out by :class:`~npprob.learning.elimination.FlatLayout`.
    statistics : sequence of PublishedStatistic
    tools : mapping of str to ScreeningTool
        Definitions of the tools the statistics name.
    screen_leaf : bool, default=True
        A tool's screen as one leaf (:mod:`npprob.learning.screen_leaf`) where its
        items allow; False always eliminates the running score's chain (the same
        values, a larger graph: kept for the benchmark that compares them).

    Returns
    -------
    TensorVariable
        Log of each implied probability, in the order of ``statistics``.
    """
    import pytensor.tensor as pt

    flat = pt.as_tensor_variable(flat)
    condition = network.variable(CASE_MIX_VARIABLE)
    at = FlatLayout(network).offset[CASE_MIX_VARIABLE]
    log_prior = pt.log(pt.maximum(flat[at : at + len(condition.states)], 1e-300))
    row_sets: dict[str | None, _Rows] = {}
    populations = [study_population(network, s) for s in statistics]
    recorded: dict[str | None, set[str]] = {}
    for s, (_, given) in zip(statistics, populations, strict=True):
        # Every variable a row of the statistic records but its event: the population
        # and, unless it counts everyone, the context (as evidence_rows writes them).
        context = [v.name for v in network.context] if s.population == "context" else []
        recorded.setdefault(s.tool, set()).update(given, context)
    plans = []
    for s, (where, given) in zip(statistics, populations, strict=True):
        if s.tool not in row_sets:
            # A tool's screen is one leaf where its items allow (far cheaper to
            # eliminate), else the running score's chain of variables.
            leaf = (
                screen_leaf_network(network, tools[s.tool], recorded[s.tool])
                if s.tool is not None and screen_leaf
                else None
            )
            if leaf is not None:
                row_sets[s.tool] = _Rows(leaf.network, leaf=leaf)
            else:
                extended = network if s.tool is None else score_network(network, tools[s.tool])
                row_sets[s.tool] = _Rows(extended)
        if None not in row_sets:
            row_sets[None] = _Rows(network)
        rows, base_rows = row_sets[s.tool], row_sets[None]
        num, den = evidence_rows(rows.network, s, given)
        # A denominator records no score: the tool's variables are barren in it, so it
        # is a row of the clinical network, shared with every other statistic.
        if (den[len(network) :] != UNOBSERVED).any():
            raise AssertionError("a statistic's population records a screening score")
        den = den[: len(network)].copy()
        column = rows.network.index(CASE_MIX_VARIABLE)
        if CASE_MIX_VARIABLE in given:
            states = np.array([condition.states.index(given[CASE_MIX_VARIABLE])])
            log_weights = np.zeros(1)
        elif where is not None:
            mix = case_mix(network, get_setting(care_settings(network), where[0]), where[1])
            # Conditions outside the setting's mix add nothing: no rows for them.
            states = np.flatnonzero(mix > 0)
            log_weights = np.log(mix[states])
        else:
            states = np.arange(len(condition.states))
            log_weights = None  # the network's own P(condition)
        pairs = []
        for k in states:
            num[column] = den[column] = k
            pairs.append((rows.add(num), base_rows.add(den)))
        plans.append((s.tool, np.array(pairs), states, log_weights))
    # Every row of every network in one vector; each statistic then gathers its rows
    # into one padded (statistics x conditions) table, so the graph stays small.
    parts, start = [], {}
    offset = 0
    for tool, rows in row_sets.items():
        if rows.leaf is not None:
            extra = [rows.leaf.table(flat, FlatLayout(network).offset).ravel()]
        else:
            extra = [
                pt.as_tensor_variable(np.asarray(rows.network.cpt(n), dtype=np.float64).ravel())
                for n in rows.network.names[len(network) :]
            ]
        vector = pt.concatenate([flat, *extra]) if extra else flat
        log_vector = flat_log(vector)
        codes = np.stack(rows.codes)
        # Rows that record the same variables share one elimination, pruned to what they
        # record: most statistics name two or three variables, and a graph over the
        # union of every statistic's variables would make each of them pay for all.
        patterns, group_of = np.unique(codes >= 0, axis=0, return_inverse=True)
        group_of = group_of.ravel()
        values = []
        order = []
        for g in range(len(patterns)):
            members = np.flatnonzero(group_of == g)
            values.append(
                flat_log_evidence(
                    rows.network,
                    log_vector,
                    FlatLayout(rows.network),
                    codes[members],
                    skip=[CASE_MIX_VARIABLE],
                )
            )
            order.append(members)
        position = np.empty(len(codes), dtype=np.int64)
        position[np.concatenate(order)] = np.arange(len(codes))
        parts.append(pt.concatenate(values)[position])
        start[tool] = offset
        offset += len(rows.codes)
    log_rows = pt.concatenate([*parts, pt.zeros(1)])  # the last entry pads
    pad = offset
    n, width = len(plans), len(condition.states)
    num = np.full((n, width), pad, dtype=np.int64)
    den = np.full((n, width), pad, dtype=np.int64)
    state = np.zeros((n, width), dtype=np.int64)
    constant = np.full((n, width), -np.inf)
    from_prior = np.zeros((n, width))
    for i, (tool, pairs, states, log_weights) in enumerate(plans):
        k = len(states)
        num[i, :k] = start[tool] + pairs[:, 0]
        den[i, :k] = start[None] + pairs[:, 1]
        state[i, :k] = states
        if log_weights is None:
            from_prior[i, :k] = 1.0
            constant[i, :k] = 0.0
        else:
            constant[i, :k] = log_weights
    weights = constant + from_prior * log_prior[state]
    log_num = pt.logsumexp(weights + log_rows[num], axis=1)
    log_den = pt.logsumexp(weights + log_rows[den], axis=1)
    return log_num - log_den


def build_evidence_model(
    spec: ClinicalSpec,
    statistics: Sequence[PublishedStatistic],
    tools: Mapping[str, ScreeningTool],
    *,
    heterogeneity_scale: float = HETEROGENEITY_SCALE,
    heterogeneity_by: str = "kind",
    screen_leaf: bool = True,
):
    """The evidence-synthesis model: returns ``(pymc.Model, EvidenceLayout)``.

    Every learnable CPT row of a variable that some statistic depends on (an
    ancestor of what it records) is a Beta or Dirichlet random variable with the
    specification's prior; the other rows are left to exact prior draws.
    ``implied`` (a deterministic) holds each statistic's probability in the
    network, ``heterogeneity`` the intra-study correlation of each group of
    :data:`HETEROGENEITY_GROUPS` (``heterogeneity_by``: the statistic's kind, or
    its family); the layout's ``families`` name the groups. ``screen_leaf`` is
    passed to :func:`implied_probability_graph`.
    """
    if heterogeneity_by not in HETEROGENEITY_GROUPS:
        raise ValueError(
            f"heterogeneity_by must be one of {HETEROGENEITY_GROUPS}, got {heterogeneity_by!r}"
        )
    import pymc as pm
    import pytensor.tensor as pt

    from npprob.inference.pruning import ancestral_set

    net = spec.network
    names = list(net.names)
    recorded = {v.name for v in net.context}
    for s in statistics:
        recorded |= set(s.given)
        if s.kind == "finding":
            recorded.add(s.finding)
        elif s.kind == "target":
            recorded |= {v.name for v in net.with_role(Role.TARGET)}
        else:
            recorded |= {f for items, _, _ in tools[s.tool].items for f in items}
            if any(causes for _, causes, _ in tools[s.tool].items):
                recorded.add(CASE_MIX_VARIABLE)
    informed = set(ancestral_set({n: net.parents(n) for n in names}, sorted(recorded)))
    # The condition is recorded in every row and mixed in outside the elimination: its
    # own CPT is informed only by statistics without a condition or a care setting.
    if all(s.setting is not None or CASE_MIX_VARIABLE in s.given for s in statistics):
        informed.discard(CASE_MIX_VARIABLE)
    group = {"family": lambda s: s.family or s.id, "kind": lambda s: s.kind}[heterogeneity_by]
    families = sorted({group(s) for s in statistics})
    family_of = np.array([families.index(group(s)) for s in statistics])
    layout = EvidenceLayout(
        statistics=tuple(s.id for s in statistics), families=tuple(families), family_of=family_of
    )
    rows = plan_free_rows(spec, layout, skip=set(names) - set(informed), touched=_always)
    base = np.concatenate([np.asarray(net.cpt(n), dtype=np.float64).ravel() for n in names])
    k = np.array([s.k for s in statistics], dtype=np.int64)
    n = np.array([s.n for s in statistics], dtype=np.int64)
    with pm.Model() as model:
        flat = free_cpt_vector(base, FlatLayout(net), rows)
        log_p = implied_probability_graph(net, flat, statistics, tools, screen_leaf=screen_leaf)
        p = pt.clip(pt.exp(log_p), 1e-12, 1.0 - 1e-12)
        pm.Deterministic("implied", p)
        # Beta-binomial: each study's own probability is Beta around the implied one,
        # with the family's intra-study correlation rho = 1 / (1 + concentration);
        # integrating the study effect out leaves no ridge for NUTS to run along.
        rho = pm.Beta("heterogeneity", alpha=1.0, beta=heterogeneity_scale, shape=len(families))
        concentration = 1.0 / rho[family_of] - 1.0
        pm.BetaBinomial(
            "events", alpha=p * concentration, beta=(1.0 - p) * concentration, n=n, observed=k
        )
    return model, layout


def _always(parents, config) -> bool:
    return True
