"""Convergence checks of PyMC fits: pass/fail with what to try."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["THRESHOLDS", "DiagnosticsReport", "check"]

#: The acceptance rules: r-hat at most 1.01, bulk and tail ESS at least 400, no divergences.
THRESHOLDS = {"r_hat_max": 1.01, "ess_bulk_min": 400.0, "ess_tail_min": 400.0, "divergences": 0}


@dataclass(frozen=True)
class DiagnosticsReport:
    """Diagnostics of one fit and whether they pass :data:`THRESHOLDS`."""

    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every threshold is met."""
        return not self.problems

    def passes(self, *, min_ess: float | None = None) -> bool:
        """Whether the diagnostics pass with ESS judged against ``min_ess`` instead of 400.

        Problems that are not about the sampler's numbers (chains that settled on
        opposite labellings) fail whatever the gate.
        """
        numbers = {"r_hat_max": self.r_hat_max, "ess_bulk_min": self.ess_bulk_min,
                   "ess_tail_min": self.ess_tail_min, "divergences": self.divergences}  # fmt: skip
        own = set(check(numbers).problems)
        other = [p for p in self.problems if p not in own]
        return not other and check(numbers, min_ess=min_ess).ok

    def to_dict(self) -> dict[str, object]:
        """Plain data for the model card."""
        return {
            "r_hat_max": self.r_hat_max,
            "ess_bulk_min": self.ess_bulk_min,
            "ess_tail_min": self.ess_tail_min,
            "divergences": self.divergences,
            "thresholds": THRESHOLDS,
            "passed": self.ok,
            "problems": list(self.problems),
        }


def check(values: dict[str, float], *, min_ess: float | None = None) -> DiagnosticsReport:
    """Compare diagnostics with :data:`THRESHOLDS`; each problem says what to try.

    ``min_ess`` replaces the ESS threshold (an exploratory gate: a model written
    on it still records the standard verdict in its card).
    """
    floor = THRESHOLDS["ess_bulk_min"] if min_ess is None else float(min_ess)
    problems = []
    if not values["r_hat_max"] <= THRESHOLDS["r_hat_max"]:
        problems.append(
            f"r-hat {values['r_hat_max']:.4f} > 1.01: chains disagree; run more tuning and draws "
            "(--tune, --chain-draws) or more chains."
        )
    for key, label in (("ess_bulk_min", "bulk"), ("ess_tail_min", "tail")):
        if not values[key] >= floor:
            problems.append(
                f"{label} ESS {values[key]:.1f} < {floor:g}: too few effective draws; "
                "increase --chain-draws."
            )
    if values["divergences"] > 0:
        problems.append(
            f"{int(values['divergences'])} divergent transitions: raise --target-accept "
            "(e.g. 0.95) or reparametrise."
        )
    return DiagnosticsReport(
        r_hat_max=float(values["r_hat_max"]),
        ess_bulk_min=float(values["ess_bulk_min"]),
        ess_tail_min=float(values["ess_tail_min"]),
        divergences=int(values["divergences"]),
        problems=tuple(problems),
    )
