"""From a diagnosis (or a model and a record) to a ranked treatment list."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping

import numpy as np

from npprob.decision.conditions import condition_rules
from npprob.decision.factors import parse_overrides, parse_patient_factors
from npprob.decision.ranking import DEFAULT_SAMPLES, TreatmentRanking, rank_treatments
from npprob.decision.treatments import treatment_files
from npprob.diagnosis.model import setting_of
from npprob.diagnosis.result import Diagnosis
from npprob.errors import EvidenceError
from npprob.io.findings import decode_codes
from npprob.io.patient_record import PatientRecord

__all__ = ["recommend", "recommend_treatments"]


def recommend(
    diagnosis: Diagnosis,
    patient_factors: Mapping[str, object] | None = None,
    *,
    model=None,
    overrides: Collection[str] | None = None,
    harm_weight: float = 1.0,
    benefit_shrinkage: float = 0.0,
    evidence_set: str | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    treatments_path: str | os.PathLike[str] | None = None,
    contraindications_path: str | os.PathLike[str] | None = None,
    conditions_path: str | os.PathLike[str] | None = None,
) -> TreatmentRanking:
    """Rank treatments for a diagnosed patient, from the diagnosis's posterior draws.

    Parameters
    ----------
    diagnosis : Diagnosis
        From :func:`npprob.diagnose`; its ``p_neuropathic_draws`` and
        ``findings`` are used.
    patient_factors : mapping, optional
        Factor name to true/false/null or an integer (see
        ``models/contraindications.toml``), as a record carries them.
    model : DiagnosticModel, optional
        The model that made the diagnosis. With it, one more engine pass gives
        P(nociplastic | findings, not neuropathic) per draw, which splits the
        non-neuropathic effect between nociplastic and nociceptive pain; without
        it the split is the ratio of the diagnosis's P(nociplastic) and
        P(nociceptive) (an approximation, said so in ``nociplastic_split``).
    overrides : collection of str, optional
        Drug ids to rank normally despite a strong relative contraindication or
        the condition's guideline (a record's ``"treatment_overrides"``).
    harm_weight, benefit_shrinkage, evidence_set, n_samples, seed
        See :func:`~npprob.decision.ranking.rank_treatments`.
    treatments_path, contraindications_path, conditions_path : path, optional
        Files other than the shipped ones.

    Returns
    -------
    TreatmentRanking

    Examples
    --------
    >>> import npprob
    >>> from npprob.decision import recommend
    >>> d = npprob.diagnose({"aetiology": "trigeminal_neuralgia", "paroxysmal_pain": "present",
    ...                      "electric_shocks": "present"}, explain=False)
    >>> recommend(d).ranked[0].id in ("carbamazepine", "oxcarbazepine")
    True
    """
    if diagnosis.p_neuropathic_draws is None:
        raise EvidenceError("The diagnosis carries no posterior draws; diagnose the patient again.")
    draws = diagnosis.p_neuropathic_draws
    options = {"draw_weights": diagnosis.draw_weights}
    if model is not None:
        record = PatientRecord.from_mapping(model.network, diagnosis.findings)
        split = _nociplastic_split(model, record.evidence, treatments_path)
    else:
        non = diagnosis.p_nociplastic + diagnosis.p_nociceptive
        share = diagnosis.p_nociplastic / non if non > 0 else 0.0
        split = np.full_like(np.asarray(draws, dtype=float), min(max(share, 0.0), 1.0))
    ranking = _ranking(
        draws, diagnosis.findings, patient_factors, overrides, split,
        diagnosis.model if model is None else model.info(),
        network=None if model is None else model.network,
        harm_weight=harm_weight, benefit_shrinkage=benefit_shrinkage, evidence_set=evidence_set,
        n_samples=n_samples, seed=seed, treatments_path=treatments_path,
        contraindications_path=contraindications_path, conditions_path=conditions_path,
        **options,
    )  # fmt: skip
    if model is None and ranking.nociplastic_split == "exact":
        # The split came from the diagnosis's marginal means, not from a conditional query.
        ranking = dataclasses.replace(ranking, nociplastic_split="approximate")
    return ranking


def recommend_treatments(
    model,
    record: Mapping[str, object] | PatientRecord,
    *,
    patient_factors: Mapping[str, object] | None = None,
    overrides: Collection[str] | None = None,
    **options,
) -> TreatmentRanking:
    """Rank treatments for one patient record with a model (no explanation).

    Parameters
    ----------
    model : DiagnosticModel
        From :func:`npprob.load_model`; supplies the draws of P(neuropathic) and
        of P(nociplastic | not neuropathic).
    record : PatientRecord or mapping
        Findings (state names); its ``"patient_factors"`` and
        ``"treatment_overrides"`` are used when the arguments are not given;
        ``"id"``, ``"comment"``, ``"notes"`` are ignored.
    patient_factors : mapping, optional
        Overrides the record's.
    overrides : collection of str, optional
        Overrides the record's treatment overrides.
    **options
        See :func:`recommend`.

    Returns
    -------
    TreatmentRanking

    Examples
    --------
    >>> from npprob import load_model
    >>> ranking = recommend_treatments(
    ...     load_model(), {"aetiology": "trigeminal_neuralgia", "paroxysmal_pain": "present",
    ...                    "electric_shocks": "present"})
    >>> ranking.ranked[0].id in ("carbamazepine", "oxcarbazepine")
    True
    """
    rec = record if isinstance(record, PatientRecord) else PatientRecord.from_mapping(
        model.network, record
    )  # fmt: skip
    factors = patient_factors if patient_factors is not None else rec.patient_factors
    chosen = overrides if overrides is not None else rec.treatment_overrides
    # The record's care setting, unless the model was already put in one.
    model = model.in_setting(None if model.setting else setting_of(rec))
    batch = model.evidence(rec)
    draws, weights = model.weighted_draws(batch)
    draws, options["draw_weights"] = draws[:, 0], weights[:, 0]
    if not np.isfinite(draws).all():
        raise EvidenceError(
            "The findings have probability zero under the model (they contradict each "
            "other); no treatment can be ranked."
        )
    split = _nociplastic_split(model, batch, options.get("treatments_path"))
    return _ranking(draws, decode_codes(model.network, batch.codes[0]), factors, chosen, split,
                    model.info(), network=model.network, **options)  # fmt: skip


def _nociplastic_variable(model, treatments_path) -> str | None:
    """The variable whose probability splits non-neuropathic pain, if the model has it."""
    evidence, _ = treatment_files(None if treatments_path is None else str(treatments_path))
    variable = evidence.nociplastic_variable
    return variable if variable is not None and variable in model.network else None


def _nociplastic_split(model, batch, treatments_path) -> np.ndarray | None:
    """P(nociplastic | findings, not neuropathic) per draw (0.5 where undefined), or None."""
    variable = _nociplastic_variable(model, treatments_path)
    if variable is None:
        return None
    split = model.p_draws_if_not_target(batch, variable)[:, 0]
    # Undefined where P(not neuropathic) is zero; the split then has no weight.
    return np.where(np.isfinite(split), split, 0.5)


def _ranking(
    draws: np.ndarray,
    findings: Mapping[str, str],
    patient_factors: Mapping[str, object] | None,
    overrides: object,
    split: np.ndarray | None,
    info: dict | None,
    *,
    network=None,
    treatments_path: str | os.PathLike[str] | None = None,
    contraindications_path: str | os.PathLike[str] | None = None,
    conditions_path: str | os.PathLike[str] | None = None,
    **options,
) -> TreatmentRanking:
    evidence, contraindications = treatment_files(
        None if treatments_path is None else str(treatments_path),
        None if contraindications_path is None else str(contraindications_path),
    )
    factors = parse_patient_factors(patient_factors, contraindications.factors)
    chosen = parse_overrides(overrides, evidence.drugs)
    states = _condition_states(evidence, network)
    # A network without the condition variable (a user's own) gets no condition rules.
    conditions = (
        condition_rules(
            tuple(evidence.drugs), states, None if conditions_path is None else str(conditions_path)
        )
        if states
        else None
    )
    ranking = rank_treatments(
        draws, findings, factors, evidence, contraindications, conditions=conditions,
        overrides=chosen, p_nociplastic_draws=split, **options,
    )  # fmt: skip
    return dataclasses.replace(ranking, model=info)


def _condition_states(evidence, network) -> tuple[str, ...]:
    """States of the treatments file's condition variable (shipped network by default)."""
    if network is None:
        from npprob.io.resources import clinical_spec

        network = clinical_spec().network
    if evidence.condition_variable not in network:
        return ()
    return tuple(network.variable(evidence.condition_variable).states)
