"""The data of a marginal likelihood: distinct patient rows, the selection, the conditioned roots.

Selection. Cohort patients are drawn conditional on the selection (the
specification's context, every diagnosed patient's shared state), so the
likelihood of a patient is ``P(findings | root, selected)``, i.e.
``P(findings, selected | root) / P(selected | root)`` for the conditioned
root findings (in the shipped network, the aetiology). The denominator is the
same elimination on one row per distinct conditioned context
(:func:`denominator_rows`). Conditioning on the roots makes the model
indifferent to the setting's case mix and leaves their distribution to an
exact conjugate update.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from npprob.errors import EvidenceError, ParameterError
from npprob.network.network import Network

__all__ = ["MarginalProblem", "default_conditioned", "denominator_rows", "prepare_problem"]


@dataclass(frozen=True)
class MarginalProblem:
    """Distinct patient rows with their multiplicities, ready for the marginal model."""

    codes: np.ndarray
    weights: np.ndarray
    label: np.ndarray | None
    selection: dict[str, str]
    conditioned: tuple[str, ...]
    n_patients: int = field(default=0)


def default_conditioned(
    network: Network, codes: np.ndarray, selection: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The root findings recorded for every patient: what the likelihood conditions on by default.

    A finding is an observable variable other than the context
    (:attr:`~npprob.network.variable.Variable.is_finding`); a root has no
    parents. In the shipped clinical network that is the aetiology.

    Parameters
    ----------
    network : Network
    codes : ndarray of int, shape (n_patients, n_variables)
        State codes, -1 where not recorded.
    selection : mapping of str to str, optional
        What every patient was selected on (the specification's context).

    Returns
    -------
    tuple of str
        In network order.

    Raises
    ------
    ParameterError
        With a selection, when more than one root finding qualifies: turning
        the learned P(root | selected) back into the population's works for
        one root only, so the caller must choose.
    """
    codes = np.asarray(codes)
    roots = tuple(
        v.name
        for v in network.findings
        if not network.parents(v.name) and (codes[:, network.index(v.name)] >= 0).all()
    )
    if selection and len(roots) > 1:
        raise ParameterError(
            f"Several root findings are recorded for every patient ({', '.join(roots)}); with a "
            "selection the likelihood conditions on at most one: choose it with conditioned=.",
            parameter="conditioned",
        )
    return roots


def prepare_problem(
    network: Network,
    codes: np.ndarray,
    *,
    label: np.ndarray | None = None,
    selection: Mapping[str, str] | None = None,
    conditioned: Sequence[str] | None = None,
) -> MarginalProblem:
    """Check the data and collapse identical patients into weighted rows.

    Parameters
    ----------
    network : Network
    codes : ndarray of int, shape (n_patients, n_variables)
        State codes, -1 where not recorded (latent variables are all -1).
    label : ndarray of int, shape (n_patients,), optional
        Recorded 0/1 label, -1 where missing.
    selection : mapping of str to str, optional
        What every patient was selected on: the selection (the
        specification's context, :attr:`~npprob.network.spec.ClinicalSpec.context`).
    conditioned : sequence of str, optional
        Root variables the likelihood conditions on; they must be recorded for
        every patient. Default: the root findings recorded for every patient
        (:func:`default_conditioned`); a root finding recorded for some
        patients only is then refused rather than silently left to the
        likelihood (pass ``conditioned`` to choose).

    Returns
    -------
    MarginalProblem

    Raises
    ------
    EvidenceError
        On an empty cohort, a conditioned variable with missing values or
        parents, or a label that is not 0, 1 or -1.
    ParameterError
        With a selection and the default ``conditioned``, when several root
        findings qualify.
    """
    codes = np.array(codes, dtype=np.int16, copy=True)
    if codes.ndim != 2 or codes.shape[1] != len(network) or len(codes) == 0:
        raise EvidenceError(f"Need a non-empty (n_patients, {len(network)}) array of codes.")
    selection = dict(selection or {})
    for name, state in selection.items():
        codes[:, network.index(name)] = network.variable(name).states.index(state)
    if conditioned is None:
        conditioned = default_conditioned(network, codes, selection)
        # Recorded for some patients but not all: most likely a data problem, and
        # the caller should decide between conditioning (after fixing it) and not.
        conditioned += tuple(
            v.name
            for v in network.findings
            if not network.parents(v.name)
            and v.name not in conditioned
            and (codes[:, network.index(v.name)] >= 0).any()
        )
    for name in conditioned:
        if network.parents(name):
            raise EvidenceError(f"Can only condition on root variables; '{name}' has parents.")
        missing = int((codes[:, network.index(name)] < 0).sum())
        if missing:
            raise EvidenceError(
                f"'{name}' is missing in {missing} patient(s); the marginal likelihood "
                "conditions on it, so it must be recorded for every patient."
            )
    table = codes
    if label is not None:
        label = np.asarray(label).astype(np.int16).reshape(-1)
        if len(label) != len(codes) or not np.isin(label, (-1, 0, 1)).all():
            raise EvidenceError("The label must hold 0, 1 or -1 (missing), one per patient.")
        table = np.column_stack([codes, label])
    unique, counts = np.unique(table, axis=0, return_counts=True)
    return MarginalProblem(
        codes=unique[:, : len(network)].astype(np.int16),
        weights=counts.astype(np.float64),
        label=None if label is None else unique[:, -1].astype(np.int16),
        selection=selection,
        conditioned=tuple(conditioned),
        n_patients=len(codes),
    )


def denominator_rows(network: Network, problem: MarginalProblem) -> tuple[np.ndarray, np.ndarray]:
    """One row per distinct conditioned context with only the selection observed.

    Returns
    -------
    codes : ndarray of int16, shape (n_contexts, n_variables)
        The rows of P(selected | conditioned roots).
    index : ndarray of int, shape (n_rows,)
        For each row of ``problem``, its context's row in ``codes``.
    """
    codes = problem.codes
    cols = [network.index(n) for n in problem.conditioned]
    context = codes[:, cols] if cols else np.zeros((len(codes), 0), dtype=codes.dtype)
    unique, inverse = np.unique(context, axis=0, return_inverse=True)
    den = np.full((len(unique), len(network)), -1, dtype=np.int16)
    den[:, cols] = unique
    for name, state in problem.selection.items():
        den[:, network.index(name)] = network.variable(name).states.index(state)
    return den, np.asarray(inverse).reshape(-1)
