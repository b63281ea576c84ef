"""Synthetic cohorts with known truth, drawn from the clinical network.

A cohort is sampled from a *truth* network (the specification's literature
values, or one draw from its prior) in a clinical setting (case mix, groups).
Every patient has chronic pain. For each patient the cohort keeps the full
latent truth (lesion, neuropathic, nociceptive, nociplastic, mechanisms), the
findings a clinician would record (optionally with missing values and a
shared reporting trait), a recorded label (the truth, a noisy clinician call
or the NeuPSIG grade) and the true P(neuropathic | recorded findings) under
the truth network, computed exactly with the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from npprob import __version__
from npprob.cohorts.settings import Setting, clinician_accuracy, load_reference_standard
from npprob.diagnosis.neupsig import GRADES, neupsig_grade_codes
from npprob.errors import NetworkError
from npprob.inference.engine import Engine
from npprob.network.evidence import EvidenceBatch
from npprob.network.sampling import forward_sample
from npprob.network.spec import ClinicalSpec

__all__ = ["OBSERVABLE_ROLES", "Cohort", "SimulationOptions", "simulate"]

#: Roles of the variables a clinician records.
OBSERVABLE_ROLES = ("history", "lesion_evidence", "sign", "symptom")
#: Agreement of two clinicians on the pain class: ``[reference_standard]`` in cohort_settings.toml.
PUBLISHED_AGREEMENT = float(load_reference_standard()["agreement"])
_BATCH = 65_536
#: Smallest acceptance rate of the rejection sampler.
MIN_ACCEPTANCE = 1e-3


@dataclass(frozen=True)
class SimulationOptions:
    """Realism options; every one is off by default.

    Parameters
    ----------
    mcar : float, default=0.0
        Probability that each recorded finding (all but the aetiology) is
        missing, independently (missing completely at random).
    mar : bool, default=False
        The confirmatory test is done mostly when suspicion is high: recorded
        for 80 % of patients with a plausible distribution or sensory loss and
        15 % of the others (missing at random given recorded findings).
    reporting_trait : float, default=0.0
        Strength of a shared symptom-reporting trait that the network does not
        model: 30 % of patients carry it, and each of their absent symptoms is
        reported present with this probability (correlated items).
    label : {"truth", "clinician", "neupsig"}, default="truth"
        The recorded label: the latent truth; a clinician's call that agrees
        with a second clinician's as often as ``agreement``; or the NeuPSIG 2016
        grade probable or definite.
    agreement : float, default=0.785
        Inter-clinician agreement for ``label="clinician"``; each clinician is
        right with probability q where q**2 + (1 - q)**2 = agreement.
    truth : {"literature", "prior"}, default="literature"
        Truth parameters: the specification's values, or one draw from its
        Dirichlet prior (seeded by the cohort seed).
    """

    mcar: float = 0.0
    mar: bool = False
    reporting_trait: float = 0.0
    label: str = "truth"
    agreement: float = PUBLISHED_AGREEMENT
    truth: str = "literature"

    def __post_init__(self) -> None:
        if not 0.0 <= self.mcar < 1.0:
            raise NetworkError(f"mcar must be in [0, 1); got {self.mcar}.")
        if not 0.0 <= self.reporting_trait <= 1.0:
            raise NetworkError(f"reporting_trait must be in [0, 1]; got {self.reporting_trait}.")
        if self.label not in ("truth", "clinician", "neupsig"):
            raise NetworkError(f"label must be truth, clinician or neupsig; got {self.label!r}.")
        if not 0.5 <= self.agreement <= 1.0:
            raise NetworkError(f"agreement must be in [0.5, 1]; got {self.agreement}.")
        if self.truth not in ("literature", "prior"):
            raise NetworkError(f"truth must be literature or prior; got {self.truth!r}.")

    @property
    def clinician_accuracy(self) -> float:
        """P(one clinician's call is right), from the agreement of two."""
        return clinician_accuracy(self.agreement)


@dataclass(frozen=True)
class Cohort:
    """A simulated cohort.

    Attributes
    ----------
    truth : ndarray of int16, shape (n, n_variables)
        Every variable's true state (network order).
    recorded : EvidenceBatch
        What a clinician recorded: observable findings, -1 where missing.
    label : ndarray of int8, shape (n,)
        Recorded neuropathic label (1 = neuropathic).
    p_true : ndarray of float64, shape (n,)
        P(neuropathic | recorded findings) under the truth network.
    group : ndarray of object, shape (n,)
        Name of each patient's group.
    truth_cpts : dict of str to ndarray
        The truth parameters.
    """

    spec: ClinicalSpec
    setting: Setting
    options: SimulationOptions
    seed: int
    truth: np.ndarray
    recorded: EvidenceBatch
    label: np.ndarray
    p_true: np.ndarray
    group: np.ndarray
    truth_cpts: dict[str, np.ndarray] = field(repr=False)

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.truth.shape[0])

    def truth_hash(self) -> str:
        """SHA-256 of the truth parameters (names, shapes and float64 bytes)."""
        h = hashlib.sha256()
        for name in self.spec.network.names:
            arr = np.ascontiguousarray(self.truth_cpts[name], dtype=np.float64)
            h.update(name.encode())
            h.update(repr(arr.shape).encode())
            h.update(arr.tobytes())
        return h.hexdigest()

    def column(self, name: str) -> np.ndarray:
        """True state codes of one variable."""
        return self.truth[:, self.spec.network.index(name)]

    def card(self) -> dict[str, object]:
        """The data card: how the cohort was made and what it holds."""
        net = self.spec.network
        recorded = self.recorded.codes
        observable = [v.name for v in net.variables if v.role in OBSERVABLE_ROLES]
        missing = {n: float(np.mean(recorded[:, net.index(n)] < 0)) for n in observable}
        neuropathic = self.column("neuropathic") == 1
        return {
            "generator": f"npprob {__version__}",
            "setting": self.setting.to_dict(),
            "seed": self.seed,
            "n": self.n,
            "options": asdict(self.options),
            "clinician_accuracy": self.options.clinician_accuracy,
            "truth": self.options.truth,
            "truth_parameters_sha256": self.truth_hash(),
            "spec_sha256": self.spec.digest,
            "prevalence_true": float(neuropathic.mean()),
            "prevalence_label": float(self.label.mean()),
            "label_agreement_with_truth": float(np.mean(self.label == neuropathic)),
            "mean_p_true": float(self.p_true.mean()),
            "missing_fraction": missing,
            "groups": {g: int(np.sum(self.group == g)) for g in dict.fromkeys(self.group.tolist())},
        }


def simulate(
    spec: ClinicalSpec,
    setting: Setting,
    n: int,
    seed: int,
    options: SimulationOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> Cohort:
    """Simulate ``n`` patients with chronic pain in ``setting``.

    Parameters
    ----------
    spec : ClinicalSpec
        The clinical network specification.
    setting : Setting
        Case mix and groups (see :mod:`npprob.cohorts.settings`).
    n : int
        Number of patients (at least 1).
    seed : int
        Seed; the same seed, setting and options give the same cohort.
    options : SimulationOptions, optional
        Realism options (all off by default).
    progress : callable, optional
        Called with the number of patients finished so far.

    Returns
    -------
    Cohort
    """
    options = options or SimulationOptions()
    if int(n) < 1:
        raise NetworkError(f"n must be at least 1; got {n}.")
    if int(seed) < 0:
        raise NetworkError(f"seed must be a non-negative integer; got {seed}.")
    n = int(n)
    net = spec.network
    rng = np.random.default_rng([int(seed), 0x5EED])
    if options.truth == "prior":
        draws = spec.prior_draws(1, seed=int(seed))
        truth_cpts = {k: v[0] for k, v in draws.items()}
    else:
        truth_cpts = {k: np.array(net.cpt(k)) for k in net.names}

    counts = _group_sizes(setting, n)
    parts, names = [], []
    done = 0
    for group, size in zip(setting.groups, counts, strict=True):
        cpts = dict(truth_cpts)
        if group.aetiology is not None:
            states = net.variable("aetiology").states
            weights = np.array([group.aetiology.get(s, 0.0) for s in states])
            cpts["aetiology"] = weights / weights.sum()
        rows = _sample_group(net, cpts, group.require, size, rng, progress, done)
        parts.append(rows)
        names.extend([group.name] * size)
        done += size
    truth = np.concatenate(parts)
    order = rng.permutation(n)
    truth = truth[order]
    group_names = np.array(names, dtype=object)[order]

    recorded = _record(net, truth, options, rng)
    label = _label(net, truth, recorded, options, rng)
    engine = Engine(net, truth_cpts)
    p_true = engine.query(EvidenceBatch(net, recorded), ["neuropathic"]).marginal("neuropathic")
    return Cohort(
        spec=spec,
        setting=setting,
        options=options,
        seed=int(seed),
        truth=truth,
        recorded=EvidenceBatch(net, recorded),
        label=label,
        p_true=np.ascontiguousarray(p_true[0, :, 1]),
        group=group_names,
        truth_cpts=truth_cpts,
    )


def _group_sizes(setting: Setting, n: int) -> list[int]:
    sizes = [round(g.fraction * n) for g in setting.groups]
    sizes[-1] = n - sum(sizes[:-1])
    if min(sizes) < 0:
        raise NetworkError(f"Cannot split {n} patients into the groups of '{setting.name}'.")
    return sizes


def _sample_group(net, cpts, require, size, rng, progress, done) -> np.ndarray:
    """Rejection-sample ``size`` patients in pain who meet ``require``."""
    conditions = [(net.index("chronic_pain"), net.variable("chronic_pain").states.index("present"))]
    conditions += [(net.index(v), net.variable(v).states.index(s)) for v, s in require.items()]
    # The acceptance rate is P(conditions), known exactly: refuse hopeless groups up front.
    evidence = np.full((1, len(net)), -1, dtype=np.int16)
    for col, code in conditions:
        evidence[0, col] = code
    acceptance = float(np.exp(Engine(net, cpts).log_evidence(evidence)[0, 0]))
    if acceptance < MIN_ACCEPTANCE:
        raise NetworkError(
            f"Patients in chronic pain with {require or 'this case mix'} have probability "
            f"{acceptance:.2g} under the network: too rare to sample (or impossible)."
        )
    kept: list[np.ndarray] = []
    have = 0
    tries = 0
    while have < size:
        batch = forward_sample(net, _BATCH, rng, cpts)
        keep = np.ones(len(batch), dtype=bool)
        for col, code in conditions:
            keep &= batch[:, col] == code
        accepted = batch[keep][: size - have]
        kept.append(accepted)
        have += len(accepted)
        tries += 1
        if progress is not None:
            progress(done + have)
        if tries >= 200 and have < MIN_ACCEPTANCE * tries * _BATCH:
            raise NetworkError(
                f"Sampling is too slow: fewer than {MIN_ACCEPTANCE:.1%} of draws meet {require} "
                "with chronic pain."
            )
    return np.concatenate(kept) if kept else np.empty((0, len(net)), dtype=np.int16)


def _record(net, truth: np.ndarray, options: SimulationOptions, rng) -> np.ndarray:
    """What a clinician records: observable findings with the realism options applied."""
    n = len(truth)
    recorded = np.full_like(truth, -1)
    observable = [i for i, v in enumerate(net.variables) if v.role in OBSERVABLE_ROLES]
    recorded[:, observable] = truth[:, observable]
    if options.reporting_trait > 0:
        carriers = rng.random(n) < 0.3
        symptoms = [i for i, v in enumerate(net.variables) if v.role == "symptom"]
        flip = (rng.random((n, len(symptoms))) < options.reporting_trait) & carriers[:, None]
        block = recorded[:, symptoms]
        block[flip & (block == 0)] = 1
        recorded[:, symptoms] = block
    if options.mcar > 0:
        aetiology = net.index("aetiology")
        columns = [i for i in observable if i != aetiology]
        lost = rng.random((n, len(columns))) < options.mcar
        block = recorded[:, columns]
        block[lost] = -1
        recorded[:, columns] = block
    if options.mar:
        test = net.index("confirmatory_test")
        plausible = recorded[:, net.index("distribution_plausible")] == 1
        loss = recorded[:, net.index("sensory_loss")] == 1
        suspicion = plausible | loss
        done = rng.random(n) < np.where(suspicion, 0.80, 0.15)
        recorded[~done, test] = -1
    recorded[:, net.index("chronic_pain")] = net.variable("chronic_pain").states.index("present")
    return recorded


def _label(net, truth, recorded, options: SimulationOptions, rng) -> np.ndarray:
    neuropathic = (truth[:, net.index("neuropathic")] == 1).astype(np.int8)
    if options.label == "truth":
        return neuropathic
    if options.label == "clinician":
        wrong = rng.random(len(truth)) >= options.clinician_accuracy
        return np.where(wrong, 1 - neuropathic, neuropathic).astype(np.int8)
    grade = neupsig_grade_codes(net, recorded)
    return (grade >= GRADES.index("probable")).astype(np.int8)
