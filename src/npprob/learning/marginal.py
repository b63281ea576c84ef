"""The marginal likelihood of partly observed patients, as a PyMC model.

Training without the latent truth: every learnable CPT row the likelihood
touches becomes a Beta or Dirichlet random variable, and the likelihood of
the distinct patient rows (:mod:`npprob.learning.problem`) is the exact
variable elimination of :mod:`npprob.learning.elimination`, divided by the
probability of the selection when the cohort was selected on the
specification's context.

Noisy labels. A recorded label (a clinician's call) enters as an extra child
of the target with its own 2 x 2 table (:class:`LabelModel`): the clinician's
sensitivity and false-positive rate, with a Beta prior from the published
inter-rater agreement. A label that is a deterministic function of the
findings (the NeuPSIG grade) carries no information beyond them and is not
used. Label switching is checked after sampling
(:mod:`npprob.learning.orientation`).

The names this module exported before it was split are still importable from
it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from npprob.learning.elimination import (
    LABEL,
    FlatLayout,
    flat_log,
    flat_log_evidence,
    log_evidence_graph,
)
from npprob.learning.label import LabelModel
from npprob.learning.orientation import orientation_problems
from npprob.learning.problem import MarginalProblem, denominator_rows, prepare_problem
from npprob.learning.pymc_model import RowLayout
from npprob.learning.reachability import unreachable_rows
from npprob.network.spec import ClinicalSpec

__all__ = [
    "LABEL",
    "FlatLayout",
    "LabelModel",
    "MarginalLayout",
    "MarginalProblem",
    "build_marginal_model",
    "flat_log_evidence",
    "log_evidence_graph",
    "orientation_problems",
    "prepare_problem",
]


@dataclass
class MarginalLayout(RowLayout):
    """Where the free rows live, plus what the likelihood left to exact updates."""

    conditioned: tuple[str, ...] = ()
    """Fully observed root variables the likelihood conditions on (conjugate update)."""
    label: LabelModel | None = None
    n_rows: int = 0
    """Distinct patient rows in the likelihood."""
    n_patients: int = 0
    latent: tuple[str, ...] = ()
    """Variables recorded for no patient (summed out, or dropped when barren)."""


def build_marginal_model(
    spec: ClinicalSpec, problem: MarginalProblem, *, label: LabelModel | None = None
):
    """The marginal-likelihood model: returns ``(pymc.Model, MarginalLayout)``.

    Every learnable CPT row the likelihood touches becomes a Beta (two states)
    or Dirichlet random variable with the specification's prior; rows it never
    touches (for example the rows of aetiologies absent from the cohort), rows
    no patient can reach (:func:`~npprob.learning.reachability.unreachable_rows`) and
    the conditioned variables are left to exact draws (see
    :meth:`RowLayout.assemble`).

    Parameters
    ----------
    spec : ClinicalSpec
        The network and its Dirichlet priors (whose means start every chain).
    problem : MarginalProblem
        From :func:`~npprob.learning.problem.prepare_problem`.
    label : LabelModel, optional
        Prior of the recorded label's error rates; used when ``problem`` has a label.

    Returns
    -------
    model : pymc.Model
        Free rows as random variables, the log-likelihood as one potential.
    layout : MarginalLayout
        Where each free row lives, for :meth:`RowLayout.assemble`.
    """
    import pymc as pm
    import pytensor.tensor as pt

    net = spec.network
    codes = problem.codes
    layout = MarginalLayout(conditioned=problem.conditioned, n_rows=len(codes))
    layout.n_patients = problem.n_patients
    layout.label = label if problem.label is not None else None
    skip = set(problem.conditioned)
    observed_roots = {n: np.unique(codes[:, net.index(n)]) for n in problem.conditioned}

    def touched(parents, config) -> bool:
        return all(
            config[k] in observed_roots[p] for k, p in enumerate(parents) if p in observed_roots
        )

    rows = plan_free_rows(spec, layout, skip=skip, touched=touched)
    with_label = layout.label is not None
    flat_layout = FlatLayout(net, with_label=with_label)
    # The specification's CPTs are its prior means: the start of every free row.
    base = np.concatenate(
        [np.asarray(net.cpt(n), dtype=np.float64).ravel() for n in net.names]
        + ([np.zeros(4)] if with_label else [])
    )
    with pm.Model() as model:
        flat = free_cpt_vector(base, flat_layout, rows)
        label_codes = None
        if with_label:
            c = layout.label.concentration
            sens = pm.Beta("label_sensitivity", alpha=c[1, 1], beta=c[1, 0])
            fpr = pm.Beta("label_false_positive_rate", alpha=c[0, 1], beta=c[0, 0])
            at = flat_layout.offset[LABEL]
            flat = pt.set_subtensor(flat[at : at + 4], pt.stack([1.0 - fpr, fpr, 1.0 - sens, sens]))
            label_codes = (layout.label.parent, problem.label)
        log_flat = flat_log(flat)
        numerator = flat_log_evidence(
            net, log_flat, flat_layout, codes, skip=list(skip), label=label_codes
        )
        loglik = pt.dot(problem.weights, numerator)
        if problem.selection:
            den_codes, den_index = denominator_rows(net, problem)
            denominator = flat_log_evidence(net, log_flat, flat_layout, den_codes, skip=list(skip))
            den_weights = np.bincount(den_index, weights=problem.weights, minlength=len(den_codes))
            loglik = loglik - pt.dot(den_weights, denominator)
        pm.Potential("marginal_loglik", loglik)
    layout.latent = tuple(n for n in net.names if (codes[:, net.index(n)] < 0).all())
    return model, layout


@dataclass
class FreeRows:
    """The CPT rows sampled by NUTS, planned by :func:`plan_free_rows`."""

    a: list = field(default_factory=list)
    b: list = field(default_factory=list)
    where: list = field(default_factory=list)
    dirichlet: list = field(default_factory=list)


def plan_free_rows(spec: ClinicalSpec, layout: RowLayout, *, skip, touched) -> FreeRows:
    """Choose the rows NUTS samples; record them, and the rows left exact, in ``layout``.

    A row is free when it has at least two possible states, is reachable
    (:func:`~npprob.learning.reachability.unreachable_rows`), its variable is not in
    ``skip`` and ``touched(parents, parent_configuration)`` holds.
    """
    net = spec.network
    impossible = unreachable_rows(spec)
    rows = FreeRows()
    for name, alpha in spec.concentration.items():
        if name in skip:
            continue
        parents = net.parents(name)
        shape = net.cpt_shape(name)
        n_states = shape[-1]
        alpha_rows = alpha.reshape(-1, n_states)
        parent_index = np.indices(shape[:-1]).reshape(len(parents), -1).T if parents else [()]
        for r, (arow, config) in enumerate(zip(alpha_rows, parent_index, strict=True)):
            positive = np.flatnonzero(arow > 0)
            if len(positive) < 2:
                continue
            if not touched(parents, config) or (name, r) in impossible:
                layout.exact_rows.append((name, r))
                continue
            if len(positive) == 2:
                first, second = (int(i) for i in positive)
                layout.binary_rows.append((name, r, first, second))
                rows.a.append(arow[second])
                rows.b.append(arow[first])
                rows.where.append((name, r * n_states + first, r * n_states + second))
            else:
                var = f"{name}__row{r}"
                layout.dirichlet_rows.append((name, r, positive, var))
                rows.dirichlet.append((var, arow[positive], name, r * n_states + positive))
    return rows


def free_cpt_vector(base: np.ndarray, flat_layout: FlatLayout, rows: FreeRows):
    """The flat CPT vector with the free rows as PyMC variables (call inside a model).

    ``base`` (the specification's CPT means) fills every other entry.
    """
    import pymc as pm
    import pytensor.tensor as pt

    # One flat vector holds every CPT: two scatters place the Beta rows, one the
    # Dirichlet rows, so the graph stays small whatever the number of rows.
    flat = pt.as_tensor_variable(base)
    if rows.a:
        theta = _binary_rows(np.array(rows.a), np.array(rows.b))
        first = np.array([flat_layout.offset[w[0]] + w[1] for w in rows.where])
        second = np.array([flat_layout.offset[w[0]] + w[2] for w in rows.where])
        flat = pt.set_subtensor(flat[first], 1.0 - theta)
        flat = pt.set_subtensor(flat[second], theta)
    if rows.dirichlet:
        values = [pm.Dirichlet(var, a=alpha_row) for var, alpha_row, _, _ in rows.dirichlet]
        cells = np.concatenate([flat_layout.offset[name] + c for _, _, name, c in rows.dirichlet])
        flat = pt.set_subtensor(flat[cells], pt.concatenate(values))
    return flat


def _binary_rows(a: np.ndarray, b: np.ndarray):
    """P(second state) of every two-state row, Beta(a, b) a priori, as ``binary_theta``.

    Rows with both concentrations at least 1 are plain Beta variables. A row
    with a concentration c below 1 on one side has, in the sampler's log-odds
    space, an exponential tail as slow as exp(c * y), which NUTS explores with
    divergences. Such a row is sampled as w = p**c instead (p the small-side
    probability), which has the bounded density (1 - w**(1/c))**(d - 1) on
    (0, 1) (d the other side's concentration): the same Beta prior, a
    geometry NUTS handles.
    """
    import pymc as pm
    import pytensor.tensor as pt

    plain = np.flatnonzero((a >= 1) & (b >= 1))
    small_second = np.flatnonzero((a < 1) & (a <= b))
    small_first = np.flatnonzero((b < 1) & (b < a))
    theta = pt.zeros(len(a))
    if len(plain):
        beta = pm.Beta("binary_beta", alpha=a[plain], beta=b[plain], shape=len(plain))
        theta = pt.set_subtensor(theta[plain], beta)
    power = np.concatenate([small_second, small_first])
    if len(power):
        small = np.concatenate([a[small_second], b[small_first]])
        other = np.concatenate([b[small_second], a[small_first]])
        w = pm.Uniform("binary_power", lower=0.0, upper=1.0, shape=len(power))
        p = w ** (1.0 / small)
        pm.Potential("binary_power_prior", pt.sum((other - 1.0) * pt.log1p(-p)))
        k = len(small_second)
        theta = pt.set_subtensor(theta[small_second], p[:k])
        theta = pt.set_subtensor(theta[small_first], 1.0 - p[k:])
    return pm.Deterministic("binary_theta", theta)
