"""Simulation-based calibration (Talts et al. 2018) of the training paths.

Each replication draws every CPT from the specification's prior, simulates a
cohort from that network, fits the posterior and records the rank of the true
value of every free parameter among the posterior draws. If simulation,
likelihood and posterior agree, every parameter's ranks are uniform on
0..n_draws.

Two entry points share the parameter selection, the rank computation and the
uniformity tests:

:func:`sbc_conjugate`
    Complete-data cohorts and the exact conjugate posterior, on any
    specification (the clinical one has about 218 free parameters).
:func:`sbc_pymc`
    The PyMC paths: ``"pymc-complete"`` (NUTS on the complete-data count
    tables) and ``"pymc-marginal"`` (NUTS on the marginal likelihood, with the
    latent variables hidden and a share of the findings missing completely at
    random). NUTS on the clinical network takes minutes per fit, so these
    paths are calibrated on :func:`small_spec`, a latent-class network whose
    fits take seconds.

Cohorts are forward samples without the chronic-pain selection: the
complete-data posterior is exact only for unselected samples, and the marginal
likelihood is fitted here without a selection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from npprob._checks import Interval, Options, check_parameters
from npprob.errors import ParameterError
from npprob.network.sampling import forward_sample
from npprob.network.spec import ClinicalSpec, load_spec

__all__ = ["SBCResult", "sbc_conjugate", "sbc_pymc", "small_spec"]

#: The likelihoods :func:`sbc_pymc` calibrates.
PYMC_PATHS = ("pymc-complete", "pymc-marginal")

#: Runs ``function(*arguments)`` for each tuple of arguments and yields the results in order.
Mapper = Callable[[Callable[..., object], Sequence[tuple]], Iterable[object]]

#: Replications per worker process before :func:`sbc_pymc` starts fresh workers.
_PER_WORKER = 25


@dataclass(frozen=True)
class SBCResult:
    """Ranks and uniformity tests.

    Attributes
    ----------
    ranks : ndarray of int, shape (n_replications, n_parameters)
        Rank of the truth among ``n_draws`` posterior draws (0..n_draws).
    names : tuple of str
        ``"variable[row, state]"`` of each parameter.
    n_draws : int
        Posterior draws per replication.
    n_bins : int
        Histogram bins of the chi-square tests.
    p_values : ndarray, shape (n_parameters,)
        Chi-square test of uniform ranks per parameter (``n_bins`` bins).
    diagnostics : tuple of dict
        One entry per replication for sampler-based paths (empty for the exact
        conjugate posterior): ``r_hat_max``, ``ess_bulk_min``, ``ess_tail_min``,
        ``divergences``, ``ok`` (every convergence threshold met, no label
        switching), ``problems`` and ``seconds``.
    """

    ranks: np.ndarray
    names: tuple[str, ...]
    n_draws: int
    n_bins: int
    p_values: np.ndarray
    diagnostics: tuple[dict[str, object], ...] = ()

    def summary(self) -> dict[str, object]:
        """Plain data: the smallest p-value, Bonferroni-adjusted, and the pooled test.

        With sampler diagnostics, also the number of replications whose fit
        failed them (``diagnostics_failed``), the number whose smallest bulk or
        tail ESS fell below ``n_draws`` (``ess_below_n_draws``: their thinned
        draws are not nearly independent), the worst r-hat and ESS, and the
        total of divergent transitions.
        """
        from scipy import stats

        n_params = len(self.names)
        pooled = _binned(self.ranks.ravel(), self.n_draws, self.n_bins)
        worst = int(np.argmin(self.p_values))
        out: dict[str, object] = {
            "n_replications": int(self.ranks.shape[0]),
            "n_parameters": n_params,
            "n_draws": self.n_draws,
            "n_bins": self.n_bins,
            "min_p_value": float(self.p_values[worst]),
            "min_p_parameter": self.names[worst],
            "bonferroni_min_p": float(min(1.0, self.p_values[worst] * n_params)),
            "share_rejected_at_1pct": float(np.mean(self.p_values < 0.01)),
            "pooled_chi2_p": float(stats.chisquare(pooled).pvalue),
            "p_values_ks_p": float(stats.kstest(self.p_values, "uniform").pvalue),
        }
        if self.diagnostics:
            d = self.diagnostics
            ess = [min(float(x["ess_bulk_min"]), float(x["ess_tail_min"])) for x in d]
            out.update(
                {
                    "diagnostics_failed": sum(not x["ok"] for x in d),
                    "ess_below_n_draws": sum(e < self.n_draws for e in ess),
                    "r_hat_max": max(float(x["r_hat_max"]) for x in d),
                    "ess_bulk_min": min(float(x["ess_bulk_min"]) for x in d),
                    "ess_tail_min": min(float(x["ess_tail_min"]) for x in d),
                    "divergences": sum(int(x["divergences"]) for x in d),
                }
            )
        return out


def _binned(ranks: np.ndarray, n_draws: int, n_bins: int) -> np.ndarray:
    # Ranks take n_draws + 1 values; equal-width bins over them.
    edges = np.linspace(0, n_draws + 1, n_bins + 1)
    return np.histogram(ranks, bins=edges)[0]


def _free_parameters(spec: ClinicalSpec) -> tuple[list[str], list[tuple[str, np.ndarray]]]:
    """Names and flat CPT positions of every free parameter.

    A row's entries with positive concentration are free when the row has at
    least two of them; a two-state row contributes one number (its second state).
    """
    names: list[str] = []
    selectors: list[tuple[str, np.ndarray]] = []
    for name, alpha in spec.concentration.items():
        rows = alpha.reshape(-1, alpha.shape[-1])
        free = (rows > 0) & ((rows > 0).sum(axis=1, keepdims=True) >= 2)
        if len(rows[0]) == 2:
            free[:, 0] = False  # one number per two-state row
        flat = np.flatnonzero(free.ravel())
        selectors.append((name, flat))
        names += [f"{name}[{i // rows.shape[1]}, {i % rows.shape[1]}]" for i in flat]
    return names, selectors


def _ranks(
    truth: dict[str, np.ndarray],
    draws: dict[str, np.ndarray],
    selectors: list[tuple[str, np.ndarray]],
    rng: np.random.Generator,
) -> np.ndarray:
    """Rank of every selected true value among the draws ``(n_draws, *cpt_shape)``."""
    out = []
    for name, flat in selectors:
        true = truth[name].ravel()[flat]
        post = draws[name].reshape(len(draws[name]), -1)[:, flat]
        below = (post < true).sum(axis=0)
        ties = (post == true).sum(axis=0)
        # Ties (a truth drawn as an exact 0) are broken at random.
        out.append(below + rng.integers(0, ties + 1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _p_values(ranks: np.ndarray, n_draws: int, n_bins: int) -> np.ndarray:
    from scipy import stats

    return np.array(
        [
            stats.chisquare(_binned(ranks[:, k], n_draws, n_bins)).pvalue
            for k in range(ranks.shape[1])
        ]
    )


#: The rules of the SBC runners' arguments.
_CONSTRAINTS = {
    **dict.fromkeys(
        ("n_replications", "n_patients", "n_draws", "n_bins", "chains", "draws", "cores", "jobs"),
        Interval(int, 1),
    ),
    "likelihood": Options(PYMC_PATHS),
    "missing": Interval(float, 0.0, 1.0, closed="left"),
    "tune": Interval(int, 0),
    "seed": Interval(int, 0),
}


def sbc_conjugate(
    spec: ClinicalSpec,
    *,
    n_replications: int = 200,
    n_patients: int = 300,
    n_draws: int = 99,
    n_bins: int = 10,
    seed: int = 0,
    progress=None,
    mapper: Mapper | None = None,
) -> SBCResult:
    """Run SBC of prior -> complete-data cohort -> conjugate posterior.

    Parameters
    ----------
    spec : ClinicalSpec
    n_replications, n_patients, n_draws, n_bins : int
        Replications, cohort size, posterior draws per replication (ranks lie
        in 0..n_draws), and histogram bins of the uniformity tests.
    seed : int
        Every replication's randomness derives from it.
    progress : callable, optional
        Called with the number of finished replications.
    mapper : callable, optional
        How the replications run: ``mapper(function, arguments)`` yields
        ``function(*a)`` for each tuple ``a``, in order (default: one after the
        other, here; a Dask cluster runs them on its workers). Every replication's
        seed is the same either way, and so are the ranks.

    Returns
    -------
    SBCResult
    """
    check_parameters(_CONSTRAINTS, {"n_replications": n_replications, "n_patients": n_patients,
                                     "n_draws": n_draws, "n_bins": n_bins, "seed": seed})  # fmt: skip
    names, selectors = _free_parameters(spec)
    children = np.random.SeedSequence(seed).spawn(n_replications)
    arguments = [(spec, n_patients, n_draws, selectors, child) for child in children]
    ranks = np.empty((n_replications, len(names)), dtype=np.int64)
    for r, row in enumerate((mapper or _local_map)(_conjugate_replication, arguments)):
        ranks[r] = row
        if progress is not None:
            progress(r + 1)
    return SBCResult(ranks, tuple(names), n_draws, n_bins, _p_values(ranks, n_draws, n_bins))


def _conjugate_replication(
    spec: ClinicalSpec,
    n_patients: int,
    n_draws: int,
    selectors: list[tuple[str, np.ndarray]],
    seed: np.random.SeedSequence,
) -> np.ndarray:
    """One replication of :func:`sbc_conjugate`: the ranks of the truth."""
    from npprob.learning.conjugate import posterior_draws
    from npprob.learning.counts import family_counts

    net = spec.network
    rng = np.random.default_rng(seed)
    truth = {k: v[0] for k, v in spec.prior_draws(1, int(rng.integers(2**31))).items()}
    codes = forward_sample(net, n_patients, rng, truth)
    draws = posterior_draws(spec, family_counts(net, codes), n_draws, int(rng.integers(2**31)))
    return _ranks(truth, draws, selectors, rng)


def _local_map(function: Callable[..., object], arguments: Sequence[tuple]) -> Iterable[object]:
    return (function(*a) for a in arguments)


def sbc_pymc(
    spec: ClinicalSpec,
    *,
    likelihood: str = "pymc-marginal",
    n_replications: int = 100,
    n_patients: int = 300,
    n_draws: int = 99,
    n_bins: int = 10,
    missing: float = 0.2,
    latent: tuple[str, ...] | None = None,
    conditioned: tuple[str, ...] = (),
    chains: int = 2,
    tune: int = 500,
    draws: int = 1000,
    cores: int = 2,
    target_accept: float = 0.9,
    fit_spec: ClinicalSpec | None = None,
    seed: int = 0,
    jobs: int = 1,
    progress: Callable[[int], object] | None = None,
    mapper: Mapper | None = None,
) -> SBCResult:
    """Run SBC of prior -> cohort -> NUTS posterior (complete-data or marginal likelihood).

    Each replication draws the true CPTs from ``spec``'s prior, forward-samples
    ``n_patients`` complete patients and fits them:

    * ``"pymc-complete"``: :func:`~npprob.learning.fit.fit_pymc_complete` on
      the family counts of the complete cohort;
    * ``"pymc-marginal"``: the ``latent`` variables are hidden for every
      patient, each finding (a variable with parents that is not latent) is
      made missing completely at random with probability ``missing``, and
      :func:`~npprob.learning.fit.fit_pymc_marginal` fits the recorded codes
      without a selection.

    The ``chains * draws`` NUTS draws are then thinned to ``n_draws`` evenly
    spaced draws, so that the draws the truth is ranked among are close to
    independent (autocorrelated draws pile the ranks up at the extremes).
    This needs an effective sample size of at least ``n_draws``; the
    defaults (2 chains of 1000 draws, thinned to 99) give, on :func:`small_spec`,
    a smallest bulk ESS of about 700 or more and a smallest tail ESS of about
    300 or more, and every replication's ESS is recorded (``ess_below_n_draws``
    in :meth:`SBCResult.summary`).

    Parameters
    ----------
    spec : ClinicalSpec
        The prior the truth is drawn from; use a small network such as
        :func:`small_spec` (each replication runs NUTS).
    likelihood : {"pymc-marginal", "pymc-complete"}
    n_replications, n_patients, n_draws, n_bins : int
        Replications, cohort size, posterior draws per replication after
        thinning (ranks lie in 0..n_draws), and histogram bins of the
        uniformity tests.
    missing : float
        Share of the findings made missing completely at random (marginal only).
    latent : tuple of str, optional
        Variables hidden for every patient (marginal only); default: the
        variables whose role is ``"latent"``.
    conditioned : tuple of str
        Root variables the marginal likelihood conditions on (they get the
        exact conjugate update); default none, so every CPT goes through NUTS.
    chains, tune, draws, cores, target_accept
        NUTS settings (``draws`` per chain, before thinning).
    fit_spec : ClinicalSpec, optional
        The specification the posterior is fitted with; default ``spec``. A
        different prior here (for example a wrong prior scale) is what SBC
        should detect.
    seed : int
        Every replication's randomness (truth, cohort, missingness, sampler
        seed) derives from it; the same seed gives the same ranks, whatever
        ``jobs``.
    jobs : int
        Replications fitted at once, each in its own (spawned) process. NUTS
        compiles the marginal likelihood anew for every cohort (a few seconds
        on one core), so on a machine with two cores ``jobs=2, cores=1`` runs
        nearly twice as many replications per minute as ``jobs=1, cores=2``.
    progress : callable, optional
        Called with the number of finished replications.
    mapper : callable, optional
        Instead of ``jobs``: how the replications run, ``mapper(function,
        arguments)`` yielding ``function(*a)`` for each tuple ``a`` in order (a Dask
        cluster runs them on its workers). The seeds, and so the ranks, are the same.

    Returns
    -------
    SBCResult
        With one :attr:`~SBCResult.diagnostics` entry per replication.

    Raises
    ------
    ValueError
        On an unknown likelihood, sizes below 1, fewer NUTS draws than
        ``n_draws``, ``missing`` outside [0, 1), or unknown latent variables.
    """
    check_parameters(
        _CONSTRAINTS,
        {"likelihood": likelihood, "n_replications": n_replications, "n_patients": n_patients,
         "n_draws": n_draws, "n_bins": n_bins, "chains": chains, "draws": draws, "cores": cores,
         "jobs": jobs, "missing": missing, "tune": tune, "seed": seed},
    )  # fmt: skip
    n_total = chains * draws
    if n_total < n_draws:
        raise ParameterError(
            f"chains * draws = {n_total} NUTS draws cannot be thinned to {n_draws}.",
            parameter="n_draws",
        )
    net = spec.network
    if latent is None:
        latent = tuple(v.name for v in net.variables if v.role == "latent")
    unknown = [n for n in latent if n not in net]
    if unknown:
        raise ParameterError(
            f"Unknown latent variable(s): {', '.join(unknown)}.", parameter="latent"
        )
    names, selectors = _free_parameters(spec)
    task = _PyMCTask(
        spec=spec,
        fit_spec=spec if fit_spec is None else fit_spec,
        likelihood=likelihood,
        n_patients=n_patients,
        missing=missing,
        latent_cols=tuple(net.index(n) for n in latent),
        findings=tuple(
            net.index(v.name) for v in net.variables if v.name not in latent and net.parents(v.name)
        ),
        conditioned=tuple(conditioned),
        sampler={
            "chains": chains,
            "tune": tune,
            "draws": draws,
            "cores": cores,
            "target_accept": target_accept,
        },
        keep=np.arange(n_draws) * n_total // n_draws,  # evenly spaced over all chains
        selectors=tuple(selectors),
    )
    children = np.random.SeedSequence(seed).spawn(n_replications)
    ranks = np.empty((n_replications, len(names)), dtype=np.int64)
    diagnostics: list[dict[str, object]] = [{} for _ in range(n_replications)]
    if mapper is not None and jobs != 1:
        raise ParameterError("jobs: give jobs or a mapper, not both.", parameter="jobs")
    if jobs == 1:
        arguments = [(task, child) for child in children]
        for r, answer in enumerate((mapper or _local_map)(_pymc_replication, arguments)):
            ranks[r], diagnostics[r] = answer
            if progress is not None:
                progress(r + 1)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # Spawned workers: no inherited sampler or compiler state. Every compiled
        # model stays in a worker's memory, so each pool serves a few replications
        # per worker and is then replaced (max_tasks_per_child deadlocks: CPython gh-115634).
        context = multiprocessing.get_context("spawn")
        done = 0
        for first in range(0, n_replications, _PER_WORKER * jobs):
            batch = range(first, min(n_replications, first + _PER_WORKER * jobs))
            with ProcessPoolExecutor(jobs, mp_context=context) as pool:
                futures = {pool.submit(_pymc_replication, task, children[r]): r for r in batch}
                for future in as_completed(futures):
                    ranks[futures[future]], diagnostics[futures[future]] = future.result()
                    done += 1
                    if progress is not None:
                        progress(done)
    return SBCResult(
        ranks,
        tuple(names),
        n_draws,
        n_bins,
        _p_values(ranks, n_draws, n_bins),
        tuple(diagnostics),
    )


@dataclass(frozen=True)
class _PyMCTask:
    """What every replication of :func:`sbc_pymc` shares (picklable for worker processes)."""

    spec: ClinicalSpec
    fit_spec: ClinicalSpec
    likelihood: str
    n_patients: int
    missing: float
    latent_cols: tuple[int, ...]
    findings: tuple[int, ...]
    conditioned: tuple[str, ...]
    sampler: dict[str, object]
    keep: np.ndarray
    selectors: tuple[tuple[str, np.ndarray], ...]


def _pymc_replication(
    task: _PyMCTask, seed: np.random.SeedSequence
) -> tuple[np.ndarray, dict[str, object]]:
    """One replication of :func:`sbc_pymc`: ranks of the truth and the fit's diagnostics."""
    from npprob.learning.counts import family_counts
    from npprob.learning.fit import SamplerConfig, fit_pymc_complete, fit_pymc_marginal

    net = task.spec.network
    rng = np.random.default_rng(seed)
    truth = {k: v[0] for k, v in task.spec.prior_draws(1, int(rng.integers(2**31))).items()}
    codes = forward_sample(net, task.n_patients, rng, truth)
    config = SamplerConfig(**task.sampler, seed=int(rng.integers(2**31)))
    if task.likelihood == "pymc-complete":
        fit = fit_pymc_complete(task.fit_spec, family_counts(net, codes), config)
    else:
        recorded = codes.copy()
        recorded[:, list(task.latent_cols)] = -1
        block = recorded[:, list(task.findings)]
        block[rng.random(block.shape) < task.missing] = -1
        recorded[:, list(task.findings)] = block
        fit = fit_pymc_marginal(
            task.fit_spec, recorded, selection=None, conditioned=task.conditioned, config=config
        )
    thinned = {k: np.asarray(v)[task.keep] for k, v in fit.draws.items()}
    ranks = _ranks(truth, thinned, list(task.selectors), rng)
    report = fit.diagnostics
    return ranks, {
        "r_hat_max": report.r_hat_max,
        "ess_bulk_min": report.ess_bulk_min,
        "ess_tail_min": report.ess_tail_min,
        "divergences": report.divergences,
        "ok": report.ok,
        "problems": list(report.problems),
        "seconds": round(fit.seconds, 2),
    }


def small_spec() -> ClinicalSpec:
    """A small latent-class network for SBC of the PyMC paths (14 free parameters).

    Structure: a latent binary root ``cls`` (P(present) = 0.35), a recorded
    binary root ``context`` (P(b) = 0.4), four binary findings ``f0``..``f3``
    with parent ``cls`` and a fifth, ``f4``, with parents ``context`` and
    ``cls``. Every row has an effective sample size of 20 (``context``: 10).

    Identification: with ``cls`` latent, relabelling its states (and swapping
    the rows of every finding) leaves the likelihood unchanged. The prior is
    not symmetric under that relabelling: ``cls`` is asymmetric and every
    finding is much more often present given ``cls = present`` (prior contrasts
    0.45 to 0.6, several prior standard deviations), so the mirrored mode has
    negligible posterior mass, NUTS started at the prior mean stays on the
    intended labelling, and :func:`~npprob.learning.marginal.orientation_problems`
    checks every finding's contrast chain by chain.

    The network is the shipped file ``models/sbc_latent_class.toml``
    (:func:`npprob.io.resources.sbc_spec_path`).

    Returns
    -------
    ClinicalSpec

    Examples
    --------
    >>> spec = small_spec()
    >>> spec.network.names
    ('context', 'cls', 'f0', 'f1', 'f2', 'f3', 'f4')
    >>> [v.name for v in spec.network.variables if v.role == "latent"]
    ['cls']
    """
    from npprob.io.resources import sbc_spec_path

    return load_spec(sbc_spec_path())
