"""What a diagnosis returns: plain data, ready for text, JSON and CSV."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from npprob.diagnosis.neupsig import NeuPSIGGrade

__all__ = ["DISCLAIMER", "Diagnosis", "FindingEffect"]

DISCLAIMER = (
    "npprob is a research tool, not a medical device. Its probabilities come from a model "
    "built on published figures and synthetic data; they are not validated for clinical "
    "decisions and do not replace a clinician's judgement."
)


@dataclass(frozen=True)
class FindingEffect:
    """How much one finding moved P(neuropathic).

    Attributes
    ----------
    finding, state : str
        The observed variable and its state.
    p_without : float
        P(neuropathic) with every other finding but this one (and but
        ``removed_with``).
    change : float
        ``p_neuropathic - p_without`` (probability scale).
    log_odds_change : float
        Natural-log odds with the finding minus without it (its weight of
        evidence in this patient's context).
    removed_with : tuple of str
        Recorded findings left out together with this one because they are
        judged against it: for the history, the pain distribution and the
        confirmatory test (NeuPSIG reads both against the lesion the history
        names). Empty for every other finding.
    """

    finding: str
    state: str
    p_without: float
    change: float
    log_odds_change: float
    removed_with: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Plain-data form for JSON."""
        return {
            "finding": self.finding,
            "state": self.state,
            "p_without": self.p_without,
            "change": self.change,
            "log_odds_change": self.log_odds_change,
            "removed_with": list(self.removed_with),
        }


@dataclass(frozen=True)
class Diagnosis:
    """The answer for one patient.

    Attributes
    ----------
    p_neuropathic : float
        P(neuropathic component | findings) under the posterior predictive:
        the parameter draws weighted by how well each explains the findings
        (:mod:`npprob.diagnosis.predictive`).
    credible_interval : tuple of float
        Central 95 % interval of that probability over the weighted draws.
    p_mixed, p_nociplastic, p_nociceptive : float
        Predictive probabilities of mixed pain (neuropathic and nociceptive),
        a nociplastic and a nociceptive component.
    mechanisms : dict of str to float
        Predictive probabilities of the latent mechanisms.
    neupsig : NeuPSIGGrade
        The NeuPSIG 2016 grade from the findings (not from the model).
    explanation : list of FindingEffect
        Findings ranked by the absolute change in log-odds they caused.
    findings : dict of str to str
        The observed findings.
    model : dict
        Which model answered (name, kind, number of draws, specification digests).
    id : str or None
        The record's identifier.
    p_neuropathic_draws : ndarray of shape (n_draws,), optional
        P(neuropathic component | findings) under every parameter draw: what
        the credible interval summarises and treatment ranking integrates
        over, with ``draw_weights``. Not part of :meth:`to_dict`.
    draw_weights : ndarray of shape (n_draws,), optional
        Each draw's weight in the answer, P(findings | draw) normalised to sum
        to 1 (:func:`~npprob.diagnosis.predictive.draw_weights`).
    effective_draws : float, optional
        Kish's effective number of draws behind the answer (``1 / sum w^2``);
        far below the number of draws, the findings are ones the training data
        said little about and the interval is rough.
    prediction_interval : tuple of float, optional
        Central 95 % interval of the probability in a population other than the
        ones the evidence studied (a new clinic): the credible interval widened by
        the between-study spread of neuropathic shares an evidence-synthesis fit
        learned (:mod:`npprob.diagnosis.heterogeneity`). None for models without
        that spread.
    """

    p_neuropathic: float
    credible_interval: tuple[float, float]
    p_mixed: float
    p_nociplastic: float
    p_nociceptive: float
    mechanisms: dict[str, float]
    neupsig: NeuPSIGGrade
    explanation: list[FindingEffect]
    findings: dict[str, str]
    model: dict[str, object]
    id: str | None = None
    disclaimer: str = field(default=DISCLAIMER)
    p_neuropathic_draws: np.ndarray | None = field(default=None, repr=False, compare=False)
    draw_weights: np.ndarray | None = field(default=None, repr=False, compare=False)
    effective_draws: float | None = field(default=None, compare=False)
    prediction_interval: tuple[float, float] | None = None

    @property
    def neupsig_grade(self) -> str:
        """The NeuPSIG grade as a word."""
        return self.neupsig.grade

    def to_dict(self) -> dict[str, object]:
        """Plain-data form; the keys are the ``npprob diagnose --json`` contract."""
        return {
            "id": self.id,
            "p_neuropathic": self.p_neuropathic,
            "credible_interval": list(self.credible_interval),
            "prediction_interval": (
                None if self.prediction_interval is None else list(self.prediction_interval)
            ),
            "p_mixed": self.p_mixed,
            "p_nociplastic": self.p_nociplastic,
            "p_nociceptive": self.p_nociceptive,
            "mechanisms": dict(self.mechanisms),
            "neupsig_grade": self.neupsig.grade,
            "neupsig_criteria": self.neupsig.to_dict()["criteria"],
            "explanation": [e.to_dict() for e in self.explanation],
            "findings": dict(self.findings),
            "model": dict(self.model),
            "effective_draws": self.effective_draws,
            "disclaimer": self.disclaimer,
        }
