"""Training: a cohort in, posterior draws of every CPT and their card out.

One pipeline for ``npprob train`` and :class:`~npprob.estimator.NpprobClassifier`:
choose the likelihood from what the cohort holds, fit, check the sampler's
diagnostics, thin to the draws kept, handle the selection on the diagnosed
context, and describe it all in the model card. Writing the model folder is
:meth:`TrainedModel.save` (through :class:`~npprob.io.artifacts.ModelFolder`).

Likelihoods
-----------
``conjugate``
    The exact Dirichlet posterior; needs the truth of every hidden variable.
``pymc-complete``
    The same model by NUTS (a check of the sampler against the exact answer).
``pymc-marginal``
    Recorded findings and a true label of the target; the other hidden
    variables and missing findings are summed out.
``latent-class``
    No gold standard: the target is summed out too; a clinician's noisy label
    enters with its error rates (prior from the published agreement).
``auto``
    ``conjugate`` with the hidden truth, else ``pymc-marginal`` for a true label
    and ``latent-class`` otherwise.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from npprob._checks import Interval, Options, check_parameters
from npprob.errors import EvidenceError, ParameterError
from npprob.io.artifacts import ModelFolder
from npprob.io.cohort import CohortData
from npprob.learning.counts import family_counts
from npprob.learning.fit import SAMPLERS, FitResult, SamplerConfig
from npprob.network.spec import ClinicalSpec

__all__ = ["LABELS", "LIKELIHOODS", "TrainConfig", "TrainedModel", "train", "train_evidence"]

#: What :func:`train` can fit.
LIKELIHOODS = ("auto", "conjugate", "pymc-complete", "pymc-marginal", "latent-class")
#: What the recorded label is: the truth, a noisy clinician call, unused, or read from the card.
LABELS = ("auto", "truth", "noisy", "none")
_COMPLETE = ("conjugate", "pymc-complete")

_CONSTRAINTS = {
    "likelihood": Options(LIKELIHOODS),
    "label": Options(LABELS),
    "draws": Interval(int, 1),
    "chain_draws": Interval(int, 1),
    "tune": Interval(int, 0),
    "chains": Interval(int, 1),
    "target_accept": Interval(float, 0.0, 1.0, closed="neither"),
    "seed": Interval(int, 0),
    "selected": Options((False, True)),
    "nuts_sampler": Options(SAMPLERS),
    "progress": Options((None, False, True)),
}


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field is checked on construction.

    Parameters
    ----------
    name : str, default="model"
        The model's name in its card.
    label : {"auto", "truth", "noisy", "none"}, default="auto"
        What the recorded label is, for ``pymc-marginal`` and ``latent-class``;
        ``auto`` reads the cohort card (a NeuPSIG-grade label is a function of
        the findings and is not used).
    draws : int, default=400
        Posterior draws kept (evenly thinned).
    chain_draws, tune, chains : int, default=1000, 1000, 4
        NUTS draws and tuning steps per chain, and chains.
    target_accept : float, default=0.9
    seed : int, default=0
    nuts_sampler : {"pymc", "nutpie", "nutpie-jax"}, default="pymc"
        The NUTS implementation for the PyMC model (see
        :class:`~npprob.learning.fit.SamplerConfig`).
    progress : bool or None, default=None
        The sampler's progress bar (None: when standard error is a terminal) and,
        unless False, an estimate of the sampling time before it starts.
    selected : bool, default=True
        Every patient was sampled because they are in the diagnosed context
        (chronic pain), as in every clinic cohort; the selection is modelled.
    conditioned : tuple of str, optional
        Root findings the marginal likelihood conditions on (exact conjugate
        update); default: the root findings recorded for every patient, and a
        root finding recorded for some patients only is refused (see
        :func:`~npprob.learning.problem.prepare_problem`).
    """

    name: str = "model"
    label: str = "auto"
    draws: int = 400
    chain_draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    seed: int = 0
    selected: bool = True
    conditioned: tuple[str, ...] | None = None
    nuts_sampler: str = "pymc"
    progress: bool | None = None

    def __post_init__(self) -> None:
        check_parameters(_CONSTRAINTS, asdict(self))

    def sampler(self) -> SamplerConfig:
        """NUTS settings: enough draws per chain to keep :attr:`draws` after thinning."""
        return SamplerConfig(
            draws=max(self.chain_draws, -(-self.draws // self.chains)), tune=self.tune,
            chains=self.chains, cores=min(self.chains, 2), target_accept=self.target_accept,
            seed=self.seed, sampler=self.nuts_sampler, progress=self.progress,
        )  # fmt: skip


@dataclass
class TrainedModel:
    """Posterior draws of every CPT, the fit behind them and the model card.

    Attributes
    ----------
    draws : dict of str to ndarray
        ``(n_draws, *cpt_shape)`` per variable.
    card : dict
        How the model was made (the ``card.json`` of its folder).
    fit : FitResult
        The fit, with its ArviZ data and diagnostics.
    """

    draws: dict[str, np.ndarray]
    card: dict
    fit: FitResult = field(repr=False)
    spec: ClinicalSpec | None = field(default=None, repr=False)
    chains: int = 1
    kept: np.ndarray | None = field(default=None, repr=False)
    observed_counts: dict[str, np.ndarray] | None = field(default=None, repr=False)
    """Family counts of a complete-data fit: what the posterior was updated with."""

    @property
    def likelihood(self) -> str:
        """The likelihood fitted."""
        return self.fit.likelihood

    @property
    def ok(self) -> bool:
        """Whether the sampler's diagnostics passed (always for the exact posterior)."""
        return self.fit.diagnostics is None or self.fit.diagnostics.ok

    @property
    def problems(self) -> tuple[str, ...]:
        """What failed in the diagnostics, each with what to try."""
        return () if self.fit.diagnostics is None else self.fit.diagnostics.problems

    def inference_data(self):
        """The posterior as ArviZ data: the chains kept, named dims, sample stats, the prior.

        Every CPT has dims ``(chain, draw, <parent>_state..., <variable>_state)`` with the
        states as coordinates, so ``lesion.sel(aetiology_state="stroke")`` reads a row
        by name. ``sample_stats`` holds the sampler's statistics of the kept draws,
        ``prior`` as many draws of the specification's Dirichlet prior (one chain), and
        the label model's sensitivity and false-positive rate join the posterior when
        the fit had them. Attributes: npprob version, the specification's digests, the
        likelihood.
        """
        from npprob import __version__
        from npprob.learning import _arviz_compat as compat

        dims, coords = {}, {}
        spec = self.spec
        if spec is not None:
            net = spec.network
            for name in net.names:
                axes = [*net.parents(name), name]
                dims[name] = [f"{u}_state" for u in axes]
                for u in axes:
                    coords[f"{u}_state"] = list(net.variable(u).states)
        posterior = dict(self.draws)
        stats = {}
        if self.fit.idata is not None and self.kept is not None:
            for group, target in (("sample_stats", stats), ("posterior", posterior)):
                try:
                    data = compat.group(self.fit.idata, group)
                except KeyError:
                    continue
                for key, values in data.data_vars.items():
                    arr = np.asarray(values.values)
                    if group == "posterior" and not str(key).startswith("label_"):
                        continue  # the model's own parametrisation: the CPTs stand for it
                    if arr.ndim >= 2 and arr.shape[0] * arr.shape[1] > int(self.kept.max()):
                        target[str(key)] = arr.reshape(-1, *arr.shape[2:])[self.kept]
        prior = None
        if spec is not None:
            n = self.n_draws
            prior = spec.prior_draws(n, seed=int(self.card.get("seed") or 0))
        attrs = {
            "npprob_version": __version__,
            "likelihood": str(self.likelihood),
            "spec_sha256": str(self.card.get("spec_sha256", "")),
            "spec_content_sha256": str(self.card.get("spec_content_sha256", "")),
            "model_name": str(self.card.get("name", "")),
        }
        return compat.to_inference_data(
            posterior, self.chains, dims=dims, coords=coords, attrs=attrs,
            sample_stats=stats or None, prior=prior, observed_data=self.observed_counts,
        )  # fmt: skip

    def mark_exploratory(self, *, min_ess: float | None = None) -> None:
        """Record in the card that this model was written although its diagnostics failed.

        The card keeps the standard verdict (``"passed": false``) and adds
        ``"exploratory": true`` (and the ``min_ess`` gate it was written on), so
        :func:`~npprob.diagnosis.load_model` refuses it unless asked not to.
        """
        diagnostics = dict(self.card.get("diagnostics") or {})
        diagnostics.update({"passed": False, "exploratory": True})
        if min_ess is not None:
            diagnostics["min_ess"] = float(min_ess)
        self.card["diagnostics"] = diagnostics

    @property
    def n_draws(self) -> int:
        """Number of posterior draws."""
        return int(next(iter(self.draws.values())).shape[0])

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        netcdf: bool = True,
        failed: bool = False,
        replace_shipped: bool = False,
    ) -> Path:
        """Write the model folder (atomically, with checksums): draws, card, ``posterior.nc``.

        Parameters
        ----------
        path : path
        netcdf : bool, default=True
            Also write the ArviZ posterior as ``posterior.nc``.
        failed : bool, default=False
            Write even when the diagnostics failed (the card says they did).
        replace_shipped : bool, default=False
            Allow replacing a model shipped with the package (see
            :meth:`~npprob.io.artifacts.ModelFolder.save`).

        Raises
        ------
        ParameterError
            When the diagnostics failed and ``failed`` is False.
        ModelFileError
            When ``path`` exists and is not a model folder, or is a shipped model
            and ``replace_shipped`` is False (it is never replaced then).
        """
        if not self.ok and not failed:
            raise ParameterError(
                "The fit failed its diagnostics (" + "; ".join(self.problems) + "); nothing was "
                "written. Pass failed=True to write it anyway.",
                parameter="failed",
            )
        extra = {}
        if netcdf:
            from npprob.learning import _arviz_compat as compat

            idata = self.inference_data()
            if isinstance(self.card.get("diagnostics"), dict):
                # What the file itself gives: r-hat and ESS of the kept draws, so that
                # az.rhat / az.ess on posterior.nc reproduce a number of the card.
                self.card["diagnostics"]["kept_draws"] = {
                    **compat.posterior_diagnostics(idata),
                    "chains": self.chains,
                    "draws_per_chain": self.n_draws // self.chains,
                    "arviz_version": compat.arviz_version(),
                    "note": "r-hat and ESS of the CPT draws in posterior.nc (thinned), "
                    "recomputable from it; the verdict above is on every draw the sampler made",
                }

            def write_netcdf(target: Path) -> None:
                compat.write_netcdf(idata, target)

            extra["posterior.nc"] = write_netcdf
        return ModelFolder(path).save(
            self.draws, self.card, extra=extra, replace_shipped=replace_shipped
        )


def train(
    spec: ClinicalSpec,
    cohort: CohortData,
    likelihood: str = "auto",
    config: TrainConfig | None = None,
    *,
    prior: dict | None = None,
) -> TrainedModel:
    """Posterior draws of every CPT of ``spec`` from ``cohort``.

    Parameters
    ----------
    spec : ClinicalSpec
    cohort : CohortData
        From :func:`~npprob.io.cohort.read_cohort_data` (or built from a table).
    likelihood : {"auto", "conjugate", "pymc-complete", "pymc-marginal", "latent-class"}
        See the module docstring.
    config : TrainConfig, optional
    prior : dict, optional
        Where ``spec.concentration`` came from when it is not the specification's own
        prior (fine-tuning: :func:`~npprob.learning.prior.prior_from_draws`), recorded
        as the card's ``prior``.

    Returns
    -------
    TrainedModel
        Check :attr:`TrainedModel.ok` before using a sampled fit.

    Raises
    ------
    ParameterError
        When the likelihood does not fit the data (the complete-data
        likelihoods without the hidden truth; a label kind that contradicts
        the likelihood) or a setting is out of range.
    EvidenceError
        When the cohort was sampled on hidden variables (case-control), which
        the marginal likelihood cannot model.
    """
    # Looked up on the package at call time, so the NUTS fits can be stood in for.
    import npprob.learning as fits

    check_parameters(_CONSTRAINTS, {"likelihood": likelihood})
    config = config or TrainConfig()
    t0 = time.perf_counter()
    net = spec.network
    hidden = [
        i for i, v in enumerate(net.variables) if not v.observable and v.name not in spec.fixed
    ]
    complete_codes = cohort.complete_codes()
    complete = bool(hidden) and bool((complete_codes[:, hidden] >= 0).all())
    label_kind = _label_kind(config.label, cohort.card)
    if likelihood == "auto":
        if complete:
            likelihood = "conjugate"
        else:
            likelihood = "pymc-marginal" if label_kind == "truth" else "latent-class"
    if likelihood in _COMPLETE and not complete:
        raise ParameterError(
            f"--likelihood {likelihood} needs the latent truth (true_* columns), which the "
            "cohort lacks; use pymc-marginal (true label) or latent-class.",
            parameter="likelihood",
        )
    selection = dict(spec.context) if config.selected else {}
    sampler = config.sampler()
    counts = None
    if likelihood == "conjugate":
        counts = family_counts(net, complete_codes)
        fit = fits.fit_conjugate(spec, counts, config.draws, config.seed)
    elif likelihood == "pymc-complete":
        counts = family_counts(net, complete_codes)
        fit = fits.fit_pymc_complete(spec, counts, sampler)
    else:
        _check_selection(cohort.card)
        fit = _fit_marginal(fits, spec, cohort, likelihood, label_kind, selection, config, sampler)
    chains = 1 if fit.idata is None else sampler.chains
    draws, chains, kept = _thinned(fit.draws, config.draws, chains)
    if likelihood in _COMPLETE and selection:
        # Every cohort patient is in the context: the learned CPTs describe that population.
        draws = fits.fix_selection(spec, draws, selection)
    if likelihood in _COMPLETE:
        selection_note = {**selection, "handled_by": "fixed in the trained CPTs"}
    else:
        selection_note = {**selection, "handled_by": "conditioned on in the likelihood"}
    card = {
        "name": config.name,
        "kind": "posterior",
        "likelihood": fit.likelihood,
        "n_draws": int(next(iter(draws.values())).shape[0]),
        "seed": config.seed,
        "sampler": None if likelihood == "conjugate" else _sampler_entry(sampler),
        "training_cohort": {
            "path": None if cohort.path is None else str(cohort.path),
            "n": cohort.n,
            "card": cohort.card,
        },
        "label": label_kind if likelihood in ("pymc-marginal", "latent-class") else None,
        "diagnostics": fit.diagnostics.to_dict() if fit.diagnostics else None,
        "seconds": {"fit": fit.seconds, "total": time.perf_counter() - t0},
        "spec_sha256": spec.digest,
        "spec_content_sha256": spec.content_digest,
        "selection": selection_note if selection else None,
        "likelihood_details": fit.summary or None,
        "prior": prior or {"model": None, "method": "the specification's Dirichlet prior"},
        "versions": _versions(),
    }
    return TrainedModel(
        draws, card, fit, spec=spec, chains=chains, kept=kept, observed_counts=counts
    )


def train_evidence(
    spec: ClinicalSpec,
    statistics,
    tools,
    config: TrainConfig | None = None,
    *,
    evidence_path: str | os.PathLike[str] | None = None,
    prior: dict | None = None,
) -> TrainedModel:
    """Posterior draws of every CPT of ``spec`` from published aggregate statistics.

    Parameters
    ----------
    spec : ClinicalSpec
    statistics : sequence of PublishedStatistic
        With counts, family and publication
        (:func:`~npprob.io.evidence.read_statistics` with ``counts=True``).
    tools : mapping of str to ScreeningTool
    config : TrainConfig, optional
    evidence_path : path-like, optional
        Where the statistics were read from (recorded in the card with its SHA-256).
    prior : dict, optional
        Where ``spec.concentration`` came from when it is not the specification's own
        prior (see :func:`train`), recorded as the card's ``prior``.

    Returns
    -------
    TrainedModel
        ``likelihood`` ``"evidence"``; ``card["likelihood_details"]["statistics"]``
        holds every statistic's observed and implied values.
    """
    import hashlib

    import npprob.learning as fits

    config = config or TrainConfig()
    t0 = time.perf_counter()
    sampler = config.sampler()
    fit = fits.fit_evidence(spec, statistics, tools, config=sampler)
    draws, chains, kept = _thinned(fit.draws, config.draws, sampler.chains)
    source = None
    if evidence_path is not None:
        data = Path(evidence_path).read_bytes()
        source = {
            "path": _shipped_relative(evidence_path),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    card = {
        "name": config.name,
        "kind": "posterior",
        "likelihood": fit.likelihood,
        "n_draws": int(next(iter(draws.values())).shape[0]),
        "seed": config.seed,
        "sampler": _sampler_entry(sampler),
        "evidence": source,
        "training_cohort": None,
        "label": None,
        "diagnostics": fit.diagnostics.to_dict() if fit.diagnostics else None,
        "seconds": {"fit": fit.seconds, "total": time.perf_counter() - t0},
        "spec_sha256": spec.digest,
        "spec_content_sha256": spec.content_digest,
        # The statistics are probabilities among people in chronic pain: each is
        # conditioned on the context inside the likelihood.
        "selection": {**dict(spec.context), "handled_by": "conditioned on in the likelihood"},
        "likelihood_details": fit.summary or None,
        "prior": prior or {"model": None, "method": "the specification's Dirichlet prior"},
        "versions": _versions(),
    }
    return TrainedModel(draws, card, fit, spec=spec, chains=chains, kept=kept)


def _thinned(
    draws: dict[str, np.ndarray], n_keep: int, n_chains: int = 1
) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
    """At most ``n_keep`` draws, evenly spaced; the chains kept apart where they can be.

    ``draws`` are chain-major (``n_chains`` chains of equal length). When ``n_keep``
    is a multiple of the chains, every chain is thinned alike and the draws stay
    chain-major, so the model's netCDF file keeps its chains; otherwise the draws are
    spaced over all chains together and the file holds one.

    Returns
    -------
    draws : dict of str to ndarray
    chains : int
        Chains the kept draws form (1 when they were spaced over all chains).
    kept : ndarray of int
        The kept draws' positions in ``draws``.
    """
    total = next(iter(draws.values())).shape[0]
    rectangular = n_chains > 1 and total % n_chains == 0
    if total <= n_keep:
        return draws, n_chains if rectangular else 1, np.arange(total)
    if rectangular and n_keep % n_chains == 0:
        length, per_chain = total // n_chains, n_keep // n_chains
        within = np.linspace(0, length - 1, per_chain).round().astype(int)
        keep = (np.arange(n_chains)[:, None] * length + within[None, :]).ravel()
        return {k: v[keep] for k, v in draws.items()}, n_chains, keep
    keep = np.unique(np.linspace(0, total - 1, n_keep).round().astype(int))
    return {k: v[keep] for k, v in draws.items()}, 1, keep


def _sampler_entry(sampler: SamplerConfig) -> dict[str, object]:
    """How NUTS ran, for the model card."""
    return {
        "nuts": sampler.sampler,
        "chains": sampler.chains,
        "tune": sampler.tune,
        "draws_per_chain": sampler.draws,
        "target_accept": sampler.target_accept,
    }


def _label_kind(requested: str, cohort_card: dict | None) -> str:
    """What the recorded label is: truth, noisy or none."""
    if requested != "auto":
        return requested
    recorded = ((cohort_card or {}).get("options") or {}).get("label")
    return {"truth": "truth", "clinician": "noisy", "neupsig": "none"}.get(recorded, "noisy")


def _check_selection(cohort_card: dict | None) -> None:
    """Refuse cohorts sampled on hidden variables (case-control): the likelihood cannot model it."""
    setting = (cohort_card or {}).get("setting") or {}
    for group in setting.get("groups", []):
        if group.get("require"):
            raise EvidenceError(
                f"The cohort's setting '{setting.get('name')}' samples its groups on "
                f"{sorted(group['require'])}: a case-control selection on latent variables, "
                "which the marginal likelihood does not model. Train with the latent truth "
                "(--likelihood conjugate) or on a consecutive or condition-specific cohort."
            )


def _fit_marginal(fits, spec, cohort, likelihood, label_kind, selection, config, sampler):
    """pymc-marginal or latent-class on the recorded findings (the truth columns unused)."""
    from npprob.learning.label import LabelModel

    net = spec.network
    target = net.target
    codes = cohort.codes.copy()
    label = cohort.label
    label_model = None
    if likelihood == "pymc-marginal":
        if label is None or label_kind != "truth":
            raise ParameterError(
                "--likelihood pymc-marginal needs a true label (the recorded label with --label "
                "truth); use latent-class for a noisy or missing label.",
                parameter="likelihood",
            )
        # A true label of the target is its observed state.
        positive, negative = target.positive_index, 1 - target.positive_index
        codes[:, net.index(target.name)] = np.where(label < 0, -1, np.where(label == 1, positive,
                                                                             negative))  # fmt: skip
        label = None
    elif label_kind == "truth":
        raise ParameterError(
            "A true label makes the class observed: use --likelihood pymc-marginal.",
            parameter="label",
        )
    elif label_kind == "noisy" and label is not None:
        label_model = LabelModel.from_reference_standard(target.name)
    else:
        label = None
    # None leaves the choice to prepare_problem, which refuses a root finding recorded for
    # some patients only (most likely a data problem) instead of silently summing it out.
    conditioned = None if config.conditioned is None else tuple(config.conditioned)
    return fits.fit_pymc_marginal(
        spec, codes, label=label, label_model=label_model, selection=selection or None,
        conditioned=conditioned, config=sampler,
    )  # fmt: skip


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from npprob import __version__

    out = {"python": platform.python_version(), "npprob": __version__}
    for pkg in ("numpy", "numba", "pymc", "arviz", "pytensor", "xarray"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _shipped_relative(path: str | os.PathLike[str]) -> str:
    """``models/...`` for a file shipped with npprob (the same on every machine), else the path."""
    from npprob.io.resources import models_dir

    resolved = Path(path).resolve()
    try:
        return str(Path("models") / resolved.relative_to(models_dir().resolve()))
    except ValueError:
        return str(path)
