"""A cohort generator with another structure than the clinical network: a latent class and a reporting trait.

npprob is calibrated on cohorts its own network generates almost by construction. This
generator is written apart from the network (its numbers are in
``models/latent_trait_generator.toml``, taken from the clinical sources, not from
``network.toml``): the condition sets P(neuropathic) directly; the ten DN4 items depend
on the class alone, except that a continuous reporting trait T ~ N(0, 1) shifts the
log-odds of every self-reported item; brush allodynia has condition-specific rates. No
mechanisms, no lesion, no nociplastic class. Each item's two intercepts are solved so
that, averaged over the trait, P(item | class) is the file's rate. The true
P(neuropathic | recorded items, condition) is computed by Gauss-Hermite quadrature over
the trait (64 nodes: exact to rounding for these smooth integrands).

Cohorts are written in the format of ``npprob simulate`` (only the condition and the
ten items recorded; ``true_neuropathic`` and ``p_true_neuropathic`` the truth), so
``npprob evaluate`` reads them like any other.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npprob import __version__
from npprob._checks import Interval, Options, check_parameters
from npprob.errors import DataFileError, ParameterError
from npprob.io.cohort import CohortData
from npprob.io.settings import CASE_MIX_VARIABLE, Setting
from npprob.io.tomlfile import read_toml
from npprob.network.network import Network

__all__ = ["GENERATOR_NAME", "LatentTraitGenerator", "load_generator", "simulate_latent_trait"]

#: The generator's name in the data card's options.
GENERATOR_NAME = "latent-trait"
#: Gauss-Hermite nodes of the quadrature over the trait.
QUADRATURE_NODES = 64
_LABELS = ("truth", "clinician")
#: Patients per block of the quadrature (memory: block x items x nodes floats per table).
_BLOCK = 4096


def _logistic(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(T)], T ~ N(0, 1)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    return nodes, weights / weights.sum()


@functools.lru_cache(maxsize=4096)
def _intercept(rate: float, loading: float) -> float:
    """The intercept b with E_T[logistic(b + loading T)] = rate."""
    from scipy.optimize import brentq

    nodes, weights = _quadrature()
    return float(
        brentq(lambda b: weights @ _logistic(b + loading * nodes) - rate, -30.0, 30.0, xtol=1e-12)
    )


@dataclass(frozen=True)
class LatentTraitGenerator:
    """The generator's numbers, read from its TOML file.

    Attributes
    ----------
    trait_loading : float
        Log-odds shift of a self-reported item per SD of the reporting trait.
    label_error : float
        P(a clinician's label is wrong), either class.
    p_neuropathic : dict of str to float
        P(neuropathic) by condition state (every state of the network's ``aetiology``).
    items : dict of str to dict
        Per item: ``trait`` (bool), ``p_neuropathic`` by condition state, ``p_not``.
    path : str
    """

    trait_loading: float
    label_error: float
    p_neuropathic: dict[str, float]
    items: dict[str, dict]
    path: str

    def intercepts(self, states: tuple[str, ...]) -> dict[str, tuple[np.ndarray, float, float]]:
        """Per item: intercepts when neuropathic (one per condition), when not, and the loading."""
        out = {}
        for name, item in self.items.items():
            loading = self.trait_loading if item["trait"] else 0.0
            yes = np.array([_intercept(item["p_neuropathic"][s], loading) for s in states])
            out[name] = (yes, _intercept(item["p_not"], loading), loading)
        return out


def _fail(path: str, message: str) -> DataFileError:
    return DataFileError(f"{path}: {message}")


def _probability(value: object, where: str, path: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    if not ok:
        raise _fail(path, f"{where} must be a probability strictly between 0 and 1, not {value!r}.")
    return float(value)


def load_generator(
    network: Network, path: str | os.PathLike[str] | None = None
) -> LatentTraitGenerator:
    """Read ``models/latent_trait_generator.toml`` (or ``path``) against ``network``'s states.

    Raises
    ------
    DataFileError
        On a missing or malformed file, an unknown condition or item, a rate outside
        (0, 1), or an entry without its source and tag.
    """
    from npprob.io.resources import models_dir

    p = str(Path(path) if path is not None else models_dir() / "latent_trait_generator.toml")
    data = read_toml(Path(p), "generator file")
    head = data.get("generator") or {}
    try:
        loading = float(head["trait_loading"])
        label_error = _probability(head["label_error"], "label_error", p)
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(p, f"[generator] needs trait_loading and label_error ({exc}).") from None
    if not 0 <= loading <= 5:
        raise _fail(p, f"trait_loading must lie in [0, 5], not {loading}.")
    states = network.variable(CASE_MIX_VARIABLE).states
    rows = data.get("target") or {}
    unknown = sorted(set(rows) - set(states) - {"default"})
    if unknown or "default" not in rows:
        raise _fail(p, f"[target] needs 'default' and known conditions (unknown: {unknown}).")
    for key, row in rows.items():
        if not isinstance(row, dict) or not row.get("source") or not row.get("tag"):
            raise _fail(p, f"[target] {key}: needs p, source and tag.")
    p_neuropathic = {
        s: _probability(rows.get(s, rows["default"]).get("p"), f"[target] {s}", p) for s in states
    }
    items = {}
    for name, body in (data.get("items") or {}).items():
        if name not in network or not network.variable(name).is_finding:
            raise _fail(p, f"[items] {name}: not a finding of the network.")
        if network.variable(name).states != ("absent", "present"):
            raise _fail(p, f"[items] {name}: needs states absent/present.")
        if not body.get("source") or not body.get("tag"):
            raise _fail(p, f"[items] {name}: needs source and tag.")
        base = _probability(body.get("p_neuropathic"), f"[items] {name} p_neuropathic", p)
        by_condition = body.get("p_neuropathic_by_condition") or {}
        bad = sorted(set(by_condition) - set(states))
        if bad:
            raise _fail(p, f"[items] {name}: unknown conditions {bad}.")
        items[name] = {
            "trait": bool(body.get("trait", False)),
            "p_neuropathic": {
                s: _probability(by_condition.get(s, base), f"[items] {name} {s}", p) for s in states
            },
            "p_not": _probability(body.get("p_not"), f"[items] {name} p_not", p),
        }
    if not items:
        raise _fail(p, "no [items].")
    return LatentTraitGenerator(loading, label_error, p_neuropathic, items, p)


def _likelihoods(x: np.ndarray, yes: np.ndarray, no: np.ndarray, loading: np.ndarray):
    """P(recorded items | class, condition), integrated over the trait; shape (n, 2).

    ``x``: (n, items) 0/1/-1; ``yes``: (n, items) intercepts when neuropathic; ``no``:
    (items,) when not; ``loading``: (items,).
    """
    nodes, weights = _quadrature()
    out = np.empty((len(x), 2))
    # In blocks of patients: the (patients, items, nodes) tables stay a few MB each.
    for start in range(0, len(x), _BLOCK):
        rows = slice(start, start + _BLOCK)
        block, recorded = x[rows], x[rows] >= 0
        for column, intercept in ((0, np.broadcast_to(no, block.shape)), (1, yes[rows])):
            p = _logistic(intercept[:, :, None] + loading[None, :, None] * nodes[None, None, :])
            per_item = np.where((block == 1)[:, :, None], p, 1.0 - p)
            log_lik = np.where(recorded[:, :, None], np.log(per_item), 0.0).sum(axis=1)
            out[rows, column] = np.exp(log_lik) @ weights
    return out


def simulate_latent_trait(
    network: Network,
    setting: Setting,
    n: int,
    seed: int,
    *,
    mcar: float = 0.0,
    label: str = "clinician",
    generator: LatentTraitGenerator | None = None,
) -> CohortData:
    """A cohort from the latent-trait generator in a care setting.

    Parameters
    ----------
    network : Network
        The clinical network, whose variables name the columns.
    setting : Setting
        Supplies the case mix (its weights taken as the mix of patients seen); settings
        that select on latent variables (case-control groups) are refused.
    n, seed : int
        Patients, and the seed (the same seed gives the same cohort).
    mcar : float, default=0
        P(each item is not recorded); the condition is always recorded.
    label : {"truth", "clinician"}, default="clinician"
        The recorded label: the truth, or a clinician wrong with ``label_error``.
    generator : LatentTraitGenerator, optional
        Default: :func:`load_generator`.

    Returns
    -------
    CohortData
        With the truth, the label and the true P(neuropathic | recorded items).
    """
    check_parameters(
        {"n": Interval(int, 1, 10_000_000), "seed": Interval(int, 0),
         "mcar": Interval(float, 0.0, 1.0), "label": Options(_LABELS)},
        {"n": n, "seed": seed, "mcar": float(mcar), "label": label},
    )  # fmt: skip
    generator = generator or load_generator(network)
    if any(g.require for g in setting.groups):
        raise ParameterError(
            f"The latent-trait generator has no latent variables to select on; setting "
            f"'{setting.name}' selects its groups on them.",
            parameter="setting",
        )
    states = network.variable(CASE_MIX_VARIABLE).states
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n, [g.fraction for g in setting.groups])
    condition = np.concatenate([
        rng.choice(len(states), size=size, p=_mix(group.aetiology, states, network))
        for group, size in zip(setting.groups, sizes, strict=True)
    ])  # fmt: skip
    group = np.concatenate(
        [np.full(size, g.name, dtype=object) for g, size in zip(setting.groups, sizes, strict=True)]
    )
    order = rng.permutation(n)
    condition, group = condition[order], group[order]
    p_np = np.array([generator.p_neuropathic[s] for s in states])
    truth = (rng.random(n) < p_np[condition]).astype(np.int64)
    trait = rng.standard_normal(n)
    intercepts = generator.intercepts(states)
    names = list(generator.items)
    yes = np.stack([intercepts[k][0][condition] for k in names], axis=1)
    no = np.array([intercepts[k][1] for k in names])
    loading = np.array([intercepts[k][2] for k in names])
    eta = np.where(truth[:, None] == 1, yes, no[None, :]) + loading[None, :] * trait[:, None]
    items = (rng.random((n, len(names))) < _logistic(eta)).astype(np.int64)
    items[rng.random(items.shape) < mcar] = -1
    if label == "truth":
        recorded_label = truth.copy()
    else:
        wrong = rng.random(n) < generator.label_error
        recorded_label = np.where(wrong, 1 - truth, truth)
    lik = _likelihoods(items, yes, no, loading)
    prior = p_np[condition]
    joint_yes, joint_no = prior * lik[:, 1], (1.0 - prior) * lik[:, 0]
    p_true = joint_yes / (joint_yes + joint_no)
    codes = np.full((n, len(network)), -1, dtype=np.int16)
    codes[:, network.index(CASE_MIX_VARIABLE)] = condition
    for j, name in enumerate(names):
        codes[:, network.index(name)] = items[:, j]
    target = network.target
    hidden = np.full((n, len(network)), -1, dtype=np.int16)
    positive = target.positive_index
    hidden[:, network.index(target.name)] = np.where(truth == 1, positive, 1 - positive)
    card = {
        "generator": f"npprob {__version__} ({GENERATOR_NAME})",
        "generator_file": Path(generator.path).name,
        "setting": setting.to_dict(),
        "options": {"generator": GENERATOR_NAME, "mcar": float(mcar), "label": label},
        "seed": seed,
        "n": n,
        "prevalence_true": float(truth.mean()),
        "recorded": [CASE_MIX_VARIABLE, *names],
        "trait_loading": generator.trait_loading,
        "label_agreement_with_truth": float((recorded_label == truth).mean()),
        "mean_p_true": float(p_true.mean()),
        "groups": {g: int(np.sum(group == g)) for g in dict.fromkeys(group.tolist())},
    }
    return CohortData(
        network, codes, truth=truth, label=recorded_label, p_true=p_true, card=card,
        hidden=hidden, ids=np.array([f"{setting.name}-lt-{seed}-{i:07d}" for i in range(n)],
                                    dtype=object),
        groups=group, recorded=(CASE_MIX_VARIABLE, *names),
    )  # fmt: skip


def _mix(weights: Mapping[str, float] | None, states: tuple[str, ...], network: Network):
    # A setting without weights keeps the network's own P(condition).
    if weights is None:
        return np.asarray(network.cpt(CASE_MIX_VARIABLE), dtype=np.float64)
    w = np.array([weights.get(s, 0.0) for s in states], dtype=np.float64)
    return w / w.sum()
