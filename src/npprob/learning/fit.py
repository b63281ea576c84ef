"""Fitting: the conjugate fast path and PyMC sampling, both returning CPT draws."""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from npprob.learning.conjugate import posterior_draws
from npprob.learning.counts import family_counts
from npprob.learning.diagnostics import DiagnosticsReport, check
from npprob.learning.label import LabelModel
from npprob.network.network import Network
from npprob.network.spec import ClinicalSpec, dirichlet_draws
from npprob.network.variable import Role

__all__ = [
    "FitResult",
    "SamplerConfig",
    "fit_conjugate",
    "fit_evidence",
    "fit_pymc_complete",
    "fit_pymc_marginal",
    "fix_selection",
    "one_fit_at_a_time",
]

#: PyTensor's configuration belongs to the whole process, and PyTensor changes it for a
#: moment while it builds some graphs (``config.change_flags(cxx="")`` while inferring a
#: static shape): a fit compiling in another thread then sees no C compiler (seen as a
#: warning from a Dask worker thread). Fits in threads of one process take turns.
_FIT_LOCK = threading.RLock()


@contextmanager
def one_fit_at_a_time() -> Iterator[None]:
    """Hold the process's fit lock: PyMC fits in threads of one process run one at a time.

    Every PyMC fit of this module (model building, compiling and sampling) holds it,
    so callers on worker threads (simulation studies on Dask workers with several
    threads, or several workers in one process) need nothing of their own; a process
    with one fit at a time pays nothing. Re-entrant.
    """
    with _FIT_LOCK:
        yield


def _taking_turns(fit):
    """``fit`` under :func:`one_fit_at_a_time`."""

    @functools.wraps(fit)
    def wrapper(*args, **kwargs):
        with one_fit_at_a_time():
            return fit(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class SamplerConfig:
    """NUTS settings. ``draws`` per chain; total draws = chains * draws."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 2
    target_accept: float = 0.9
    seed: int = 0
    sampler: str = "pymc"
    """``"pymc"`` (PyMC's own NUTS), ``"nutpie"`` (nutpie's NUTS on the same PyMC
    model, compiled with the numba backend) or ``"nutpie-jax"`` (nutpie with the
    model compiled by JAX: graphs of many small operations, such as the
    evidence-synthesis fit's, compile in seconds instead of many minutes); the
    nutpie samplers need the ``fast`` extra."""

    progress: bool | None = None
    """Show the sampler's progress bar; ``None``: when standard error is a terminal, so
    logs stay clean. Unless False, an estimate of the sampling time is printed to
    standard error before sampling (PyMC's NUTS; nutpie shows its own progress)."""

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")


SAMPLERS = ("pymc", "nutpie", "nutpie-jax")


@dataclass
class FitResult:
    """CPT draws ``(n_draws, *cpt_shape)`` and how they were obtained."""

    draws: dict[str, np.ndarray]
    likelihood: str
    seconds: float
    diagnostics: DiagnosticsReport | None = None
    idata: object = field(default=None, repr=False)
    layout: object = field(default=None, repr=False)
    summary: dict = field(default_factory=dict)
    """Extra numbers for the model card (for example the label model's posterior)."""


def fit_conjugate(
    spec: ClinicalSpec, counts: Mapping[str, np.ndarray], n_draws: int, seed: int
) -> FitResult:
    """The exact Dirichlet posterior (labelled, complete data)."""
    t0 = time.perf_counter()
    draws = posterior_draws(spec, counts, n_draws, seed)
    return FitResult(draws, "conjugate", time.perf_counter() - t0)


@_taking_turns
def fit_pymc_complete(
    spec: ClinicalSpec, counts: Mapping[str, np.ndarray], config: SamplerConfig | None = None
) -> FitResult:
    """NUTS on the complete-data count-table model; diagnostics checked, not enforced here."""

    from npprob.learning import _arviz_compat as compat
    from npprob.learning.pymc_model import build_complete_model

    config = config or SamplerConfig()
    t0 = time.perf_counter()
    model, layout = build_complete_model(spec, counts)
    idata = _sample(model, config)
    n_total = config.draws * config.chains
    exact = posterior_draws(spec, counts, n_total, config.seed)
    draws = layout.assemble(exact, compat.posterior_arrays(idata))
    report = check(compat.diagnostics(idata))
    result = FitResult(draws, "pymc-complete", time.perf_counter() - t0, report, idata)
    result.layout = layout
    return result


@_taking_turns
def fit_pymc_marginal(
    spec: ClinicalSpec,
    codes: np.ndarray,
    *,
    label: np.ndarray | None = None,
    label_model: LabelModel | None = None,
    selection: Mapping[str, str] | None = None,
    conditioned: tuple[str, ...] | None = None,
    config: SamplerConfig | None = None,
) -> FitResult:
    """NUTS on the marginal likelihood: missing findings and latent variables summed out.

    Parameters
    ----------
    spec : ClinicalSpec
    codes : ndarray of int, shape (n_patients, n_variables)
        Recorded states, -1 where not recorded; every variable left at -1 for
        all patients (lesion, mechanisms, and the target without a gold
        standard) is latent.
    label : ndarray of int, shape (n_patients,), optional
        A recorded noisy label of ``label_model.parent`` (0/1, -1 missing).
    label_model : LabelModel, optional
        Prior of the label's error rates; required with ``label``.
    selection : mapping of str to str, optional
        What every patient was selected on: the specification's context
        (:attr:`~npprob.network.spec.ClinicalSpec.context`).
    conditioned : tuple of str, optional
        Root variables the likelihood conditions on (recorded for everyone);
        their distribution gets the exact conjugate update and, with a
        selection, is turned back into the population's (see Notes). With a
        selection, at most one. Default: the root findings recorded for every
        patient (:func:`~npprob.learning.problem.default_conditioned`); a root
        finding recorded for some patients only is refused.
    config : SamplerConfig, optional

    Returns
    -------
    FitResult
        ``likelihood`` is ``"latent-class"`` when the target is recorded for
        no patient, else ``"pymc-marginal"``; ``diagnostics`` includes the per-chain
        label-switching check.

    Notes
    -----
    The conditioned root is learned as P(root | selected); the network needs
    P(root) such that conditioning on the selection gives it back:
    P(root) is proportional to P(root | selected) / P(selected | root), with
    the second factor computed exactly for every draw.
    """

    from npprob.learning import _arviz_compat as compat
    from npprob.learning.marginal import build_marginal_model
    from npprob.learning.orientation import orientation_problems
    from npprob.learning.problem import prepare_problem

    if (label is None) != (label_model is None):
        raise ValueError("Pass both label and label_model, or neither.")
    if selection and conditioned is not None and len(conditioned) > 1:
        raise ValueError("With a selection, condition on at most one root variable.")
    config = config or SamplerConfig()
    net = spec.network
    t0 = time.perf_counter()
    problem = prepare_problem(net, codes, label=label, selection=selection, conditioned=conditioned)
    conditioned = problem.conditioned
    model, layout = build_marginal_model(spec, problem, label=label_model)
    # The numba backend compiles this graph in seconds (the C backend takes minutes).
    idata = _sample(model, config, mode="NUMBA")
    n_total = config.draws * config.chains
    # Rows the likelihood never touches keep their prior; conditioned roots get
    # their exact conjugate update.
    exact = dirichlet_draws(spec, spec.concentration, n_total, config.seed)
    root_counts = family_counts(net, codes)
    counts = {
        n: (root_counts[n] if n in conditioned else np.zeros(net.cpt_shape(n)))
        for n in spec.concentration
    }
    exact.update(
        {
            n: v
            for n, v in posterior_draws(spec, counts, n_total, config.seed).items()
            if n in conditioned
        }
    )
    posterior = compat.posterior_arrays(idata)
    draws = layout.assemble(exact, posterior)
    if selection and conditioned:
        draws[conditioned[0]] = population_root(net, draws, conditioned[0], selection)
    report = check(compat.diagnostics(idata))
    chain_means = {
        k: v.reshape(config.chains, config.draws, *v.shape[1:]).mean(axis=1)
        for k, v in draws.items()
    }
    label_means = None
    summary: dict[str, object] = {
        "n_patients": int(problem.n_patients),
        "n_distinct_rows": len(problem.codes),
        "latent": [n for n in net.names if (codes[:, net.index(n)] < 0).all()],
        "conditioned": list(conditioned),
        "selection": dict(selection or {}),
    }
    summary["posterior_to_prior_sd"] = _shrinkage(spec, draws, skip=conditioned)
    if layout.label is not None:
        label_means = {
            k: posterior[k].mean(axis=1) for k in ("label_sensitivity", "label_false_positive_rate")
        }
        summary["label_model"] = {
            "parent": layout.label.parent,
            "prior_source": layout.label.source,
            **{
                k: {
                    "mean": float(posterior[k].mean()),
                    "interval_95": [float(q) for q in np.quantile(posterior[k], [0.025, 0.975])],
                }
                for k in ("label_sensitivity", "label_false_positive_rate")
            },
        }
    flipped = orientation_problems(spec, chain_means, label_chain_means=label_means)
    if flipped:
        report = DiagnosticsReport(
            r_hat_max=report.r_hat_max,
            ess_bulk_min=report.ess_bulk_min,
            ess_tail_min=report.ess_tail_min,
            divergences=report.divergences,
            problems=(*report.problems, *flipped),
        )
    targets = net.with_role(Role.TARGET)
    latent_class = bool(targets) and bool((codes[:, net.index(targets[0].name)] < 0).all())
    result = FitResult(
        draws,
        "latent-class" if latent_class else "pymc-marginal",
        time.perf_counter() - t0,
        report,
        idata,
        layout,
        summary,
    )
    return result


@_taking_turns
def fit_evidence(
    spec: ClinicalSpec,
    statistics,
    tools,
    *,
    config: SamplerConfig | None = None,
    heterogeneity_scale: float | None = None,
    heterogeneity_by: str = "kind",
) -> FitResult:
    """NUTS on published aggregate statistics (:mod:`npprob.learning.evidence`).

    Parameters
    ----------
    spec : ClinicalSpec
    statistics : sequence of PublishedStatistic
        Each with its counts (``k`` of ``n``) and family.
    tools : mapping of str to ScreeningTool
        The tools the statistics name.
    config : SamplerConfig, optional
    heterogeneity_scale : float, optional
        Second shape b of the Beta(1, b) prior of each family's intra-study
        correlation; default :data:`~npprob.learning.evidence.HETEROGENEITY_SCALE`.
    heterogeneity_by : {"kind", "family"}, default="kind"
        What shares one heterogeneity parameter (see
        :func:`~npprob.learning.evidence.build_evidence_model`).

    Returns
    -------
    FitResult
        ``likelihood`` is ``"evidence"``; ``summary["statistics"]`` lists every
        statistic with its observed proportion, the implied probability (posterior
        mean and 90 % interval), the study-level posterior predictive 90 % interval
        and whether the observed proportion falls outside it.
    """
    from npprob.learning import _arviz_compat as compat
    from npprob.learning.evidence import HETEROGENEITY_SCALE, build_evidence_model
    from npprob.learning.lopo import (
        PARETO_K_RELIABLE,
        leave_one_publication_out,
        study_predictive,
    )

    config = config or SamplerConfig()
    scale = HETEROGENEITY_SCALE if heterogeneity_scale is None else heterogeneity_scale
    t0 = time.perf_counter()
    model, layout = build_evidence_model(
        spec, statistics, tools, heterogeneity_scale=scale, heterogeneity_by=heterogeneity_by
    )
    idata = _sample(model, config, mode="NUMBA")
    n_total = config.draws * config.chains
    exact = dirichlet_draws(spec, spec.concentration, n_total, config.seed)
    posterior = compat.posterior_arrays(idata)
    draws = layout.assemble(exact, posterior)
    report = check(compat.diagnostics(idata))
    implied = posterior["implied"].reshape(n_total, -1)
    rho = posterior["heterogeneity"].reshape(n_total, -1)
    k = np.array([s.k for s in statistics])
    n = np.array([s.n for s in statistics])
    # A new study of the same quantity: its own probability drawn around the implied one.
    predictive = study_predictive(
        implied, rho, layout.family_of, n, np.random.default_rng(config.seed)
    )
    held_out = leave_one_publication_out(
        implied, rho, layout.family_of, k, n, [s.publication or s.id for s in statistics],
        seed=config.seed,
    )  # fmt: skip
    rows = []
    for i, s in enumerate(statistics):
        low, high = np.quantile(implied[:, i], [0.05, 0.95])
        p_low, p_high = np.quantile(predictive[:, i], [0.05, 0.95])
        observed = s.k / s.n
        rows.append({
            "id": s.id, "family": s.family, "publication": s.publication,
            "observed": round(observed, 4), "k": s.k, "n": s.n,
            "implied_mean": round(float(implied[:, i].mean()), 4),
            "implied_90": [round(float(low), 4), round(float(high), 4)],
            "predictive_90": [round(float(p_low), 4), round(float(p_high), 4)],
            "outside": bool(not p_low <= observed <= p_high),
            "lopo_90": [round(float(v), 4) for v in held_out["intervals"][i]],
            "lopo_outside": bool(not held_out["covered"][i]),
            "lopo_pareto_k": round(float(held_out["pareto_k"][i]), 3),
        })  # fmt: skip
    summary: dict[str, object] = {
        "n_statistics": len(statistics),
        "n_publications": len({s.publication for s in statistics}),
        "heterogeneity_scale": scale,
        "heterogeneity_by": heterogeneity_by,
        "heterogeneity": {
            f: round(float(rho[:, j].mean()), 4) for j, f in enumerate(layout.families)
        },
        "coverage_90": round(float(np.mean([not r["outside"] for r in rows])), 4),
        "leave_one_publication_out": {
            "method": "PSIS (Pareto-smoothed importance sampling) of the full posterior",
            "coverage_90": round(held_out["coverage"], 4),
            "coverage_90_reliable_k": round(held_out["coverage_reliable"], 4),
            "pareto_k_threshold": PARETO_K_RELIABLE,
            "n_unreliable_publications": held_out["n_unreliable_publications"],
            "pareto_k": {p: round(v, 3) for p, v in held_out["publications"].items()},
        },
        "statistics": rows,
    }
    summary["posterior_to_prior_sd"] = _shrinkage(spec, draws, skip=())
    return FitResult(draws, "evidence", time.perf_counter() - t0, report, idata, layout, summary)


def _shrinkage(
    spec: ClinicalSpec, draws: Mapping[str, np.ndarray], skip: tuple[str, ...]
) -> dict[str, float]:
    """Median posterior/prior standard deviation of each CPT's free entries.

    Near 1: the data left the prior as it was (not identified without the
    latent truth); near 0: the data decided.
    """
    out = {}
    for name, alpha in spec.concentration.items():
        if name in skip:
            continue
        total = alpha.sum(axis=-1, keepdims=True)
        mean = np.where(total > 0, alpha / np.where(total > 0, total, 1), 0.0)
        prior_sd = np.sqrt(mean * (1 - mean) / (total + 1))
        free = (alpha > 0) & (alpha < total)
        if not free.any():
            continue
        post_sd = np.asarray(draws[name]).std(axis=0)
        out[name] = round(float(np.median(post_sd[free] / prior_sd[free])), 4)
    return out


def _sample(model, config: SamplerConfig, mode: str | None = None):
    """NUTS with ``config``; ``mode`` also covers the start-point checks pm.sample compiles.

    BLAS runs single-threaded while sampling: the chains already use every core,
    and each matrix product would otherwise wake a BLAS thread that competes with
    them (measured with nutpie, whose chains are threads of this process).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _sample_chains(model, config, mode)


def _sample_chains(model, config: SamplerConfig, mode: str | None):
    import contextlib

    import pymc as pm
    import pytensor

    progress = sys.stderr.isatty() if config.progress is None else bool(config.progress)
    common = {
        "draws": config.draws,
        "tune": config.tune,
        "chains": config.chains,
        "target_accept": config.target_accept,
        "random_seed": config.seed,
        "progressbar": progress,
        "compute_convergence_checks": False,
    }
    if config.sampler.startswith("nutpie"):
        backend = "jax" if config.sampler == "nutpie-jax" else "numba"
        if backend == "jax":
            # nutpie's chains are threads of this process and already use every core;
            # XLA's own intra-operation threads would compete with them. Read when JAX
            # starts, so a user's own setting wins.
            os.environ.setdefault(
                "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            )
        from npprob._extras import require

        modules = ("nutpie", "jax") if backend == "jax" else ("nutpie",)
        require("fast", f"sampler {config.sampler!r}", modules=modules)
        # The same PyMC model, sampled by nutpie; its mass-matrix adaptation needs
        # about half the leapfrog steps per draw of PyMC's NUTS here.
        specific = {
            "nuts_sampler": "nutpie",
            "nuts_sampler_kwargs": {
                "backend": backend,
                "gradient_backend": backend,
                "cores": config.cores,
            },
        }
        flags = contextlib.nullcontext()
        if config.progress is not False:
            print(
                f"npprob train: sampling {config.chains} chains x ({config.tune} + "
                f"{config.draws}) iterations with nutpie ({backend}); compiling first "
                "(nutpie reports its own progress on a terminal).",
                file=sys.stderr,
            )
    else:
        specific = {"cores": config.cores, "compile_kwargs": {"mode": mode} if mode else None}
        flags = pytensor.config.change_flags(mode=mode) if mode else contextlib.nullcontext()
        if config.progress is not False:
            print(
                f"npprob train: sampling {config.chains} chains x ({config.tune} + "
                f"{config.draws}) iterations on {config.cores} cores; compiling first. An "
                "estimate of the time follows once the first iterations are in.",
                file=sys.stderr,
            )
            specific["callback"] = PaceEstimate(config)
    with model, flags:
        return pm.sample(**common, **specific)


class PaceEstimate:
    """A ``pm.sample`` callback that prints, once, how long sampling will take.

    After :attr:`after` iterations of the first chain the pace so far (iterations per
    second, over all chains) gives the time left for every chain's tuning and draws.
    No gradient is compiled for it, so it costs nothing: compiling one apart, with
    the numba backend, took as long as a small fit.
    """

    def __init__(self, config: SamplerConfig, *, after: int = 20, stream=None) -> None:
        self.total = (config.tune + config.draws) * config.chains
        self.after = min(after, max(1, config.tune + config.draws))
        self.stream = stream
        self.seen = 0
        self.start: float | None = None
        self.done = False

    def __call__(self, trace=None, draw=None) -> None:
        now = time.perf_counter()
        if self.start is None:
            self.start = now  # the first iteration arrives once compiling is over
            return
        self.seen += 1
        if self.done or self.seen < self.after:
            return
        self.done = True
        rate = self.seen / max(now - self.start, 1e-9)
        left = max(self.total - self.seen - 1, 0) / rate
        print(
            f"npprob train: {self.seen + 1} of {self.total} iterations in "
            f"{_duration(now - self.start)}; about {_duration(left)} to go at this pace "
            "(tuning steps slow down or speed up as the step size adapts).",
            file=self.stream or sys.stderr,
        )


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def population_root(
    network: Network, draws: Mapping[str, np.ndarray], root: str, selection: Mapping[str, str]
) -> np.ndarray:
    """P(root) whose conditioning on ``selection`` gives back the learned P(root | selected).

    Returns
    -------
    ndarray, shape (n_draws, n_states)
        Proportional to P(root | selected) / P(selected | root) per draw.
    """
    from npprob.inference.engine import Engine

    var = network.variable(root)
    evidence = np.full((len(var.states), len(network)), -1, dtype=np.int16)
    evidence[:, network.index(root)] = np.arange(len(var.states))
    engine = Engine(network, draws, validate=False)
    log_p_root = np.log(np.asarray(draws[root], dtype=np.float64))
    for name, state in selection.items():
        evidence[:, network.index(name)] = network.variable(name).states.index(state)
    # log P(root = k, selection) - log P(root = k) = log P(selection | root = k).
    log_sel_given_root = engine.log_evidence(evidence) - log_p_root
    weights = np.exp(log_p_root - log_sel_given_root)
    weights = np.where(np.isfinite(weights), weights, 0.0)
    return weights / weights.sum(axis=1, keepdims=True)


def fix_selection(
    spec: ClinicalSpec, draws: Mapping[str, np.ndarray], selected: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Make selection variables certain in trained draws.

    A training cohort holds only patients selected on ``selected`` (every
    simulated patient has chronic pain), so the CPTs learned from it already
    describe the selected population. Conditioning on the selection again at
    diagnosis would count it twice; setting ``P(variable = state | parents) = 1``
    in every draw makes that conditioning a no-op.
    """
    out = dict(draws)
    for name, state in selected.items():
        var = spec.network.variable(name)
        fixed = np.zeros_like(np.asarray(out[name]))
        fixed[..., var.states.index(state)] = 1.0
        out[name] = fixed
    return out
