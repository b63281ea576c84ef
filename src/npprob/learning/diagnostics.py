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


def check(values: dict[str, float]) -> DiagnosticsReport:
    """Compare diagnostics with :data:`THRESHOLDS`; each problem says what to try."""
    problems = []
    if not values["r_hat_max"] <= THRESHOLDS["r_hat_max"]:
        problems.append(
            f"r-hat {values['r_hat_max']:.4f} > 1.01: chains disagree; run more tuning and draws "
            "(--tune, --draws) or more chains."
        )
    for key, label in (("ess_bulk_min", "bulk"), ("ess_tail_min", "tail")):
        if not values[key] >= THRESHOLDS[key]:
            problems.append(
                f"{label} ESS {values[key]:.1f} < 400: too few effective draws; increase --draws."
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
