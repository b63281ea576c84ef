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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from npprob import __version__
from npprob._checks import Interval, Options, check_parameters
from npprob._limits import BYTES_PER_SIMULATED_PATIENT, available_memory
from npprob.cohorts.settings import (
    Realism,
    Setting,
    clinician_accuracy,
    load_realism,
    load_reference_standard,
)
from npprob.diagnosis.neupsig import GRADES, neupsig_grade_codes
from npprob.errors import DataFileError, ParameterError
from npprob.inference.engine import Engine
from npprob.io.cohort import CohortData
from npprob.network.evidence import EvidenceBatch
from npprob.network.sampling import forward_sample
from npprob.network.spec import ClinicalSpec

__all__ = ["Cohort", "Mapper", "SimulationOptions", "partition_plan", "simulate"]

#: Agreement of two clinicians on the pain class: ``[reference_standard]`` in cohort_settings.toml.
PUBLISHED_AGREEMENT = float(load_reference_standard()["agreement"])
_BATCH = 65_536
#: Smallest acceptance rate of the rejection sampler.
MIN_ACCEPTANCE = 1e-3

#: Runs ``function(*arguments)`` for each tuple of arguments and yields the results in
#: order: the built-in ``map`` over the tuples, or a distributed one (``--scheduler``).
Mapper = Callable[[Callable[..., object], Sequence[tuple]], Iterable[object]]


#: The rules of every simulation option, checked on construction.
_OPTION_CONSTRAINTS = {
    "mcar": Interval(float, 0.0, 1.0, closed="left"),
    "mar": Options((False, True)),
    "reporting_trait": Interval(float, 0.0, 1.0),
    "label": Options(("truth", "clinician", "neupsig")),
    "agreement": Interval(float, 0.5, 1.0),
    "truth": Options(("literature", "prior", "posterior")),
}


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
    record : tuple of str, optional
        Record only these findings (the context is always recorded); default:
        every finding a clinic records. A cohort recording what another generator
        records (``npprob simulate --generator latent-trait`` records the
        condition and the ten DN4 items) is that generator's matched cohort.
    truth : {"literature", "prior", "posterior"}, default="literature"
        Truth parameters: the specification's values, one draw from its
        Dirichlet prior (seeded by the cohort seed), or one draw of a trained
        model's posterior (passed to :func:`simulate` as ``truth_cpts``): the
        truth then carries the parameter uncertainty the model admits.
    """

    mcar: float = 0.0
    mar: bool = False
    reporting_trait: float = 0.0
    label: str = "truth"
    agreement: float = PUBLISHED_AGREEMENT
    truth: str = "literature"
    record: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_parameters(_OPTION_CONSTRAINTS, asdict(self))
        if self.record is not None:
            if isinstance(self.record, str) or not all(isinstance(r, str) for r in self.record):
                raise ParameterError(
                    "record must be a sequence of finding names.", parameter="record"
                )
            object.__setattr__(self, "record", tuple(dict.fromkeys(self.record)))
            if not self.record:
                raise ParameterError("record must name at least one finding.", parameter="record")

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
    partition_size : int or None
        Patients per partition when the cohort was drawn in partitions (each with
        its own seed, see :func:`partition_plan`); None when drawn in one piece.
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
    partition_size: int | None = None

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

    def data(self) -> CohortData:
        """The cohort as files hold it (:class:`~npprob.io.cohort.CohortData`)."""
        net = self.spec.network
        hidden = np.full_like(self.truth, -1)
        columns = [i for i, v in enumerate(net.variables) if not v.observable]
        hidden[:, columns] = self.truth[:, columns]
        target = net.target
        return CohortData(
            network=net,
            codes=self.recorded.codes,
            truth=(self.column(target.name) == target.positive_index).astype(np.int64),
            label=self.label.astype(np.int64),
            p_true=self.p_true,
            card=self.card(),
            hidden=hidden,
            ids=np.array([f"{self.setting.name}-{self.seed}-{i:07d}" for i in range(self.n)],
                         dtype=object),
            groups=self.group,
        )  # fmt: skip

    def card(self) -> dict[str, object]:
        """The data card: how the cohort was made and what it holds."""
        net = self.spec.network
        recorded = self.recorded.codes
        missing = {v.name: float(np.mean(recorded[:, net.index(v.name)] < 0)) for v in net.findings}
        target = net.target
        neuropathic = self.column(target.name) == target.positive_index
        return {
            "generator": f"npprob {__version__}",
            "setting": self.setting.to_dict(),
            "seed": self.seed,
            "n": self.n,
            # ``record`` appears only when set: the cards of earlier cohorts stay the same.
            "options": {
                k: v for k, v in asdict(self.options).items() if k != "record" or v is not None
            },
            "clinician_accuracy": self.options.clinician_accuracy,
            "truth": self.options.truth,
            "truth_parameters_sha256": self.truth_hash(),
            "spec_sha256": self.spec.digest,
            "spec_content_sha256": self.spec.content_digest,
            "prevalence_true": float(neuropathic.mean()),
            "prevalence_label": float(self.label.mean()),
            "label_agreement_with_truth": float(np.mean(self.label == neuropathic)),
            "mean_p_true": float(self.p_true.mean()),
            "missing_fraction": missing,
            "groups": {g: int(np.sum(self.group == g)) for g in dict.fromkeys(self.group.tolist())},
            # Only for a partitioned cohort: the cards of cohorts drawn in one piece stay the same.
            **({} if self.partition_size is None else {"partition_size": self.partition_size}),
        }


def simulate(
    spec: ClinicalSpec,
    setting: Setting,
    n: int,
    seed: int,
    options: SimulationOptions | None = None,
    *,
    truth_cpts: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[int], None] | None = None,
    partition_size: int | None = None,
    mapper: Mapper | None = None,
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
    truth_cpts : mapping of str to ndarray, optional
        The truth parameters (every CPT), required with ``options.truth ==
        "posterior"`` and refused otherwise.
    progress : callable, optional
        Called with the number of patients finished so far.
    partition_size : int, optional
        Draw the cohort in partitions of this many patients (the last one holds the
        rest), each from its own seed derived from ``seed`` and its index (see
        :func:`partition_plan`), and concatenate them in order. The truth
        parameters are the cohort's, shared by every partition. The same seed and
        partition size give the same cohort however the partitions are run; without a
        partition size the cohort is drawn in one piece, as before partitions existed
        (another cohort for the same seed).
    mapper : callable, optional
        With ``partition_size``: how the partitions run, ``mapper(function,
        arguments)`` yielding ``function(*a)`` for each tuple ``a`` in order (default:
        one after the other, here; a Dask cluster runs them on its workers).

    Returns
    -------
    Cohort
    """
    options = options or SimulationOptions()
    check_parameters(_SIMULATE_CONSTRAINTS, {"n": n, "seed": seed})
    if partition_size is not None:
        check_parameters({"partition_size": Interval(int, 1)}, {"partition_size": partition_size})
    elif mapper is not None:
        raise ParameterError("mapper runs partitions: give partition_size.", parameter="mapper")
    n = int(n)
    net = spec.network
    _check_fits_in_memory(n, len(net))
    if options.record is not None:
        findings = {v.name for v in net.variables if v.is_finding}
        unknown = [name for name in options.record if name not in findings]
        if unknown:
            raise ParameterError(
                f"record: unknown finding(s) {unknown}; findings are "
                f"{', '.join(sorted(findings))}.",
                parameter="record",
            )
    if (truth_cpts is not None) != (options.truth == "posterior"):
        raise ParameterError(
            "truth_cpts are the truth exactly when options.truth is 'posterior'.",
            parameter="truth_cpts",
        )
    if options.truth == "posterior":
        truth_cpts = {k: np.array(truth_cpts[k], dtype=np.float64) for k in net.names}
        net.with_cpts(truth_cpts)  # refuses a wrong shape or a row that is not a distribution
    elif options.truth == "prior":
        draws = spec.prior_draws(1, seed=int(seed))
        truth_cpts = {k: v[0] for k, v in draws.items()}
    else:
        truth_cpts = {k: np.array(net.cpt(k)) for k in net.names}

    if partition_size is None:
        rng = np.random.default_rng([int(seed), 0x5EED])
        part = _draw(spec, setting, n, rng, options, truth_cpts, progress)
    else:
        plan = partition_plan(n, seed, partition_size)
        arguments = [(spec, setting, size, child, options, truth_cpts) for size, child in plan]
        parts, done = [], 0
        for result in (mapper or _local_map)(_draw_partition, arguments):
            parts.append(result)
            done += len(result.p_true)
            if progress is not None:
                progress(done)
        part = _Part(*(np.concatenate(column) for column in zip(*parts, strict=True)))
    return Cohort(
        spec=spec,
        setting=setting,
        options=options,
        seed=int(seed),
        truth=part.truth,
        recorded=EvidenceBatch(net, part.recorded),
        label=part.label,
        p_true=part.p_true,
        group=part.group,
        truth_cpts=truth_cpts,
        partition_size=None if partition_size is None else int(partition_size),
    )


def partition_plan(
    n: int, seed: int, partition_size: int
) -> list[tuple[int, np.random.SeedSequence]]:
    """The partitions of a cohort drawn in pieces: each one's size and seed.

    ``n`` patients in ``ceil(n / partition_size)`` partitions of ``partition_size``
    (the last one holds the rest). Partition ``i`` draws from the ``i``-th child of
    ``SeedSequence([seed, 0x5EED])`` (:meth:`numpy.random.SeedSequence.spawn`):
    independent streams that depend only on the seed and the index, not on where or
    in which order the partitions run.
    """
    sizes = [partition_size] * (n // partition_size)
    if n % partition_size:
        sizes.append(n % partition_size)
    children = np.random.SeedSequence([int(seed), 0x5EED]).spawn(len(sizes))
    return list(zip(sizes, children, strict=True))


def _local_map(function: Callable[..., object], arguments: Sequence[tuple]) -> Iterable[object]:
    return (function(*a) for a in arguments)


class _Part(NamedTuple):
    """Patients drawn in one piece: a whole cohort or one partition of it."""

    truth: np.ndarray
    recorded: np.ndarray
    label: np.ndarray
    p_true: np.ndarray
    group: np.ndarray


def _draw_partition(
    spec: ClinicalSpec,
    setting: Setting,
    size: int,
    seed: np.random.SeedSequence,
    options: SimulationOptions,
    truth_cpts: Mapping[str, np.ndarray],
) -> _Part:
    """One partition of a partitioned cohort (run here, or on a Dask worker)."""
    return _draw(spec, setting, size, np.random.default_rng(seed), options, truth_cpts, None)


def _draw(spec, setting, n, rng, options, truth_cpts, progress) -> _Part:
    """``n`` patients of ``setting`` drawn with ``rng``: truth, records, labels, P(true)."""
    net = spec.network
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

    recorded = _record(net, truth, options, load_realism(net), rng)
    label = _label(net, truth, recorded, options, rng)
    target = net.target
    engine = Engine(net, truth_cpts)
    p_true = engine.query(EvidenceBatch(net, recorded), [target.name]).marginal(target.name)
    return _Part(
        truth, recorded, label, np.ascontiguousarray(p_true[0, :, target.positive_index]),
        group_names,
    )  # fmt: skip


#: The rules of :func:`simulate`'s size and seed.
_SIMULATE_CONSTRAINTS = {"n": Interval(int, 1), "seed": Interval(int, 0)}


def _group_sizes(setting: Setting, n: int) -> list[int]:
    sizes = [round(g.fraction * n) for g in setting.groups]
    sizes[-1] = n - sum(sizes[:-1])
    if min(sizes) < 0:
        raise DataFileError(f"Cannot split {n} patients into the groups of '{setting.name}'.")
    return sizes


def _sample_group(net, cpts, require, size, rng, progress, done) -> np.ndarray:
    """Rejection-sample ``size`` patients in pain who meet ``require``."""
    conditions = [(net.index(v.name), v.positive_index) for v in net.context]
    conditions += [(net.index(v), net.variable(v).states.index(s)) for v, s in require.items()]
    # The acceptance rate is P(conditions), known exactly: refuse hopeless groups up front.
    evidence = np.full((1, len(net)), -1, dtype=np.int16)
    for col, code in conditions:
        evidence[0, col] = code
    acceptance = float(np.exp(Engine(net, cpts).log_evidence(evidence)[0, 0]))
    if acceptance < MIN_ACCEPTANCE:
        raise DataFileError(
            f"Patients in the diagnosed context with {require or 'this case mix'} have "
            f"probability {acceptance:.2g} under the network: too rare to sample (or impossible)."
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
            raise DataFileError(
                f"Sampling is too slow: fewer than {MIN_ACCEPTANCE:.1%} of draws meet {require} "
                "in the diagnosed context."
            )
    return np.concatenate(kept) if kept else np.empty((0, len(net)), dtype=np.int16)


def _record(
    net, truth: np.ndarray, options: SimulationOptions, realism: Realism, rng
) -> np.ndarray:
    """What a clinician records: the findings with the realism options applied."""
    n = len(truth)
    recorded = np.full_like(truth, -1)
    unrecorded = {net.index(name) for name in realism.never_recorded}
    findings = [i for i, v in enumerate(net.variables) if v.is_finding and i not in unrecorded]
    if options.record is not None:
        findings = [net.index(name) for name in options.record]
    recorded[:, findings] = truth[:, findings]
    if options.reporting_trait > 0:
        carriers = rng.random(n) < realism.reporting_trait_share
        symptoms = [
            i for i, v in enumerate(net.variables) if v.role == realism.reporting_trait_role
        ]
        flip = (rng.random((n, len(symptoms))) < options.reporting_trait) & carriers[:, None]
        positive = np.array([net.variables[i].positive_index for i in symptoms])
        block = recorded[:, symptoms]
        turned = flip & (block >= 0) & (block != positive[None, :])
        block[turned] = np.broadcast_to(positive, block.shape)[turned]
        recorded[:, symptoms] = block
    if options.mcar > 0:
        kept = {net.index(name) for name in realism.never_missing}
        columns = [i for i in findings if i not in kept]
        lost = rng.random((n, len(columns))) < options.mcar
        block = recorded[:, columns]
        block[lost] = -1
        recorded[:, columns] = block
    if options.mar:
        suspicion = np.zeros(n, dtype=bool)
        for name, state in realism.mar_suspicion.items():
            suspicion |= recorded[:, net.index(name)] == net.variable(name).states.index(state)
        suspected, otherwise = realism.mar_p_recorded
        done = rng.random(n) < np.where(suspicion, suspected, otherwise)
        recorded[~done, net.index(realism.mar_variable)] = -1
    for var in net.context:
        recorded[:, net.index(var.name)] = var.positive_index
    return recorded


def _label(net, truth, recorded, options: SimulationOptions, rng) -> np.ndarray:
    target = net.target
    neuropathic = (truth[:, net.index(target.name)] == target.positive_index).astype(np.int8)
    if options.label == "truth":
        return neuropathic
    if options.label == "clinician":
        wrong = rng.random(len(truth)) >= options.clinician_accuracy
        return np.where(wrong, 1 - neuropathic, neuropathic).astype(np.int8)
    grade = neupsig_grade_codes(net, recorded)
    return (grade >= GRADES.index("probable")).astype(np.int8)


def _check_fits_in_memory(n: int, n_variables: int) -> None:
    """Refuse a cohort that cannot be held in memory, before drawing any of it."""
    available = available_memory()
    need = n * BYTES_PER_SIMULATED_PATIENT * max(n_variables, 1) // 53
    if available is not None and need > available:
        raise ParameterError(
            f"n = {n:,} patients need about {need / 2**30:.1f} GiB of memory and "
            f"{available / 2**30:.1f} GiB are available; simulate fewer, or several cohorts "
            "with different seeds.",
            parameter="n",
        )
