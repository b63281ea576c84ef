"""Absolute effects with uncertainty, and net benefit per draw.

Effects are modelled on the risk-difference scale, never on the NNT scale
(NNTs are undefined at zero effect and their intervals are awkward; Katz 2015):
ARR = 1/NNT with a two-piece logit-normal distribution whose median is the
reciprocal of the published NNT and whose 2.5 % and 97.5 % quantiles are the
reciprocals of its interval (1/upper, 1/lower). The same
for ARI = 1/NNH. Expected values are computed by Gauss-Legendre quadrature, so
they do not depend on a seed; intervals, P(best) and SUCRA use seeded draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from npprob.decision.treatments import Effect

__all__ = ["RiskDifference", "net_benefit"]

_Z975 = 1.959963984540054
# Each half of the two-piece distribution is a half-normal in z: Gauss-Legendre with the
# half-normal density in the weights integrates its smooth integrand to ~1e-12 (Gauss-Hermite
# on |z| is only ~1e-4 accurate: the integrand has a kink at 0), and a capped risk is split
# at the point where it reaches 1.
_LEGENDRE = np.polynomial.legendre.leggauss(96)
_Z_MAX = 12.0
NORMAL = NormalDist()


def _half_normal_rule(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of E[f(Z) 1{a <= Z <= b}] for Z half-normal, 0 <= a < b."""
    x, w = _LEGENDRE
    nodes = a + (b - a) * (x + 1.0) / 2.0
    return nodes, (b - a) / 2.0 * w * 2.0 * np.exp(-0.5 * nodes**2) / np.sqrt(2.0 * np.pi)


def _half_mean(mu: float, slope: float, scale: float) -> float:
    """E[min(scale * expit(mu + slope * Z), 1)] for Z half-normal (slope of either sign)."""

    def value(z: np.ndarray) -> np.ndarray:
        return scale / (1.0 + np.exp(-(mu + slope * z)))

    kink = (_logit(1.0 / scale) - mu) / slope if scale > 1.0 and slope != 0.0 else None
    if kink is None or not 0.0 < kink < _Z_MAX:
        nodes, weights = _half_normal_rule(0.0, _Z_MAX)
        return float(np.sum(weights * np.minimum(value(nodes), 1.0)))
    # Capped on one side of the kink: that side contributes its probability mass,
    # P(0 <= Z <= kink) = erf(kink / sqrt 2) for Z half-normal.
    below, above = _half_normal_rule(0.0, kink), _half_normal_rule(kink, _Z_MAX)
    mass_below = math.erf(kink / math.sqrt(2.0))
    if slope > 0:
        return float(np.sum(below[1] * value(below[0])) + (1.0 - mass_below))
    return float(mass_below + np.sum(above[1] * value(above[0])))


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def _normal_quantile(q) -> np.ndarray:
    """Standard-normal quantiles of ``q`` (-inf at 0, inf at 1, nan outside [0, 1]).

    The standard library's (Wichura's AS241, full double precision) rather than
    scipy's: importing scipy.special costs a tenth of a second of every ``npprob
    diagnose``.
    """
    q = np.asarray(q, dtype=float)
    flat = [
        NORMAL.inv_cdf(x)
        if 0.0 < x < 1.0
        else (-np.inf if x == 0 else np.inf if x == 1 else np.nan)
        for x in q.ravel().tolist()
    ]
    return np.array(flat, dtype=float).reshape(q.shape)


@dataclass(frozen=True)
class RiskDifference:
    """A two-piece logit-normal distribution of an absolute risk difference.

    On the logit scale the median is the published point value and the two
    halves have their own spread, so the 2.5 % and 97.5 % quantiles are the
    published interval's bounds even when the interval is skewed around the
    point (as NNT intervals usually are).
    """

    mu: float
    sigma_low: float
    sigma_high: float

    @classmethod
    def from_number_needed(cls, effect: Effect) -> RiskDifference:
        """From an NNT or NNH and its 95 % interval (reciprocals become the quantiles).

        Examples
        --------
        >>> from npprob.decision.treatments import Effect
        >>> arr = RiskDifference.from_number_needed(Effect(3.6, (3.0, 4.4), "", "F"))
        >>> [round(float(q), 4) for q in arr.quantiles([0.025, 0.5, 0.975])]
        [0.2273, 0.2778, 0.3333]
        """
        low, point, high = 1.0 / effect.interval[1], 1.0 / effect.point, 1.0 / effect.interval[0]
        mu = _logit(point)
        return cls(
            mu=mu,
            sigma_low=max((mu - _logit(low)) / _Z975, 1e-12),
            sigma_high=max((_logit(high) - mu) / _Z975, 1e-12),
        )

    def _logits(self, z: np.ndarray) -> np.ndarray:
        return self.mu + np.where(z < 0, self.sigma_low, self.sigma_high) * z

    def mean(self, scale: float = 1.0) -> float:
        """E[min(scale x risk difference, 1)], by quadrature (each half integrated separately).

        ``scale`` is a harm multiplier; the cap keeps a multiplied risk a probability.
        """
        low = _half_mean(self.mu, -self.sigma_low, scale)
        high = _half_mean(self.mu, self.sigma_high, scale)
        return (low + high) / 2.0

    def quantiles(self, q) -> np.ndarray:
        """Quantiles on the probability scale."""
        return 1.0 / (1.0 + np.exp(-self._logits(_normal_quantile(q))))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws on the probability scale."""
        return self.at(rng.standard_normal(n))

    def at(self, z: np.ndarray) -> np.ndarray:
        """The values at standard-normal quantiles ``z`` (common random numbers)."""
        return 1.0 / (1.0 + np.exp(-self._logits(np.asarray(z, dtype=float))))


def net_benefit(
    p_neuropathic: np.ndarray,
    arr_neuropathic: np.ndarray,
    arr_non_neuropathic: np.ndarray,
    ari: np.ndarray,
    *,
    harm_multiplier: float,
    serious_harm_risk: float | np.ndarray,
    harm_weight: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Benefit, harm and net benefit (extra responders minus weighted harms per patient).

    benefit = p * ARR_NP + (1 - p) * ARR_nonNP;
    harm = harm_weight * (min(ARI * harm_multiplier, 1) + serious_harm_risk), where the
    serious-harm risk may be a draw per sample (long-term harms);
    net = benefit - harm. Arrays broadcast (draws).
    """
    p = np.asarray(p_neuropathic, dtype=float)
    benefit = p * arr_neuropathic + (1.0 - p) * arr_non_neuropathic
    # A multiplied adverse-event risk is still a probability: capped at 1.
    risk = np.minimum(np.asarray(ari) * harm_multiplier, 1.0)
    harm = harm_weight * (risk + serious_harm_risk)
    return benefit, harm, benefit - harm
