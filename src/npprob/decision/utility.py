"""Absolute effects with uncertainty, and net benefit per draw.

Effects are modelled on the risk-difference scale, never on the NNT scale
(NNTs are undefined at zero effect and their intervals are awkward; Katz 2015):
ARR = 1/NNT with a logit-normal distribution whose 2.5 % and 97.5 % quantiles
are the reciprocals of the published NNT interval (1/upper, 1/lower). The same
for ARI = 1/NNH. Expected values are computed by Gauss-Hermite quadrature, so
they do not depend on a seed; intervals, P(best) and SUCRA use seeded draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npprob.decision.treatments import Effect

__all__ = ["RiskDifference", "net_benefit"]

_Z975 = 1.959963984540054
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


@dataclass(frozen=True)
class RiskDifference:
    """A logit-normal distribution of an absolute risk difference (probability scale)."""

    mu: float
    sigma: float

    @classmethod
    def from_number_needed(cls, effect: Effect) -> RiskDifference:
        """From an NNT or NNH and its 95 % interval (reciprocals become the quantiles).

        Examples
        --------
        >>> from npprob.decision.treatments import Effect
        >>> arr = RiskDifference.from_number_needed(Effect(3.6, (3.0, 4.4), "", "F"))
        >>> [round(float(q), 4) for q in arr.quantiles([0.025, 0.975])]
        [0.2273, 0.3333]
        """
        low, high = 1.0 / effect.interval[1], 1.0 / effect.interval[0]
        # An NNT of exactly 1 is a risk difference of 1: keep it inside (0, 1).
        high = min(high, 1.0 - 1e-9)
        a, b = _logit(low), _logit(high)
        return cls(mu=(a + b) / 2.0, sigma=max((b - a) / (2.0 * _Z975), 1e-12))

    def mean(self) -> float:
        """E[risk difference], by quadrature."""
        x = self.mu + self.sigma * _NODES
        return float(np.sum(_WEIGHTS / (1.0 + np.exp(-x))))

    def quantiles(self, q) -> np.ndarray:
        """Quantiles on the probability scale."""
        from scipy.special import expit, ndtri

        return expit(self.mu + self.sigma * ndtri(np.asarray(q, dtype=float)))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws on the probability scale."""
        return 1.0 / (1.0 + np.exp(-(self.mu + self.sigma * rng.standard_normal(n))))


def net_benefit(
    p_neuropathic: np.ndarray,
    arr_neuropathic: np.ndarray,
    arr_non_neuropathic: np.ndarray,
    ari: np.ndarray,
    *,
    harm_multiplier: float,
    serious_harm_risk: float,
    harm_weight: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Benefit, harm and net benefit (extra responders minus weighted harms per patient).

    benefit = p * ARR_NP + (1 - p) * ARR_nonNP;
    harm = harm_weight * (ARI * harm_multiplier + serious_harm_risk);
    net = benefit - harm. Arrays broadcast (draws).
    """
    p = np.asarray(p_neuropathic, dtype=float)
    benefit = p * arr_neuropathic + (1.0 - p) * arr_non_neuropathic
    harm = harm_weight * (np.asarray(ari) * harm_multiplier + serious_harm_risk)
    return benefit, harm, benefit - harm
