"""Shared validators, their message templates, and declared argument constraints.

A public function or estimator declares its argument rules once, as data
(like scikit-learn's ``_parameter_constraints``), and calls
:func:`check_parameters`; the command line shows the same rule with the flag's
name (see :meth:`npprob.errors.ParameterError.phrase`).
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from npprob.errors import ParameterError

__all__ = [
    "Interval",
    "Options",
    "check_parameters",
    "closest_names",
    "format_choices",
    "unknown_name_hint",
]


def closest_names(name: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` valid names that look like ``name`` (for 'did you mean')."""
    valid = list(valid)
    close = difflib.get_close_matches(name, valid, n=n, cutoff=0.6)
    if not close:
        lowered = {v.lower(): v for v in valid}
        close = [
            lowered[m]
            for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
        ]
    return close


def format_choices(valid: Iterable[str], limit: int = 12) -> str:
    """Render allowed values for an error message, shortened when there are many."""
    valid = list(valid)
    shown = ", ".join(valid[:limit])
    if len(valid) > limit:
        shown += f", ... ({len(valid)} in all)"
    return shown


def unknown_name_hint(name: str, valid: Iterable[str]) -> str:
    """A ' Did you mean ...?' suffix, or an empty string when nothing is close."""
    close = closest_names(name, valid)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


# -- declared argument constraints ---------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A whole number (``kind=int``) or a real number (``kind=float``) within bounds.

    Parameters
    ----------
    kind : {int, float}
    low, high : float, optional
        Bounds; None for unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the interval.
    none : bool, default=False
        Whether None is accepted (an option left at its default).
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    none: bool = False

    def requirement(self) -> str:
        """What a value must be, as a phrase (``"must be at least 1"``)."""
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return (
                f"must be in {'[' if left else '('}{_num(self.low)}, "
                f"{_num(self.high)}{']' if right else ')'}"
            )
        if self.low is not None:
            if self.kind is int and self.low == 0 and left:
                return "must be a non-negative integer"
            return (
                f"must be at least {_num(self.low)}" if left else f"must be above {_num(self.low)}"
            )
        if self.high is not None:
            return (
                f"must be at most {_num(self.high)}"
                if right
                else f"must be below {_num(self.high)}"
            )
        return "must be a whole number" if self.kind is int else "must be a finite number"

    def problem(self, value: object) -> str | None:
        """None when ``value`` is accepted, else the requirement it breaks."""
        if value is None and self.none:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return "must be a whole number" if self.kind is int else "must be a number"
        if self.kind is int and not isinstance(value, numbers.Integral):
            return "must be a whole number"
        v = float(value)
        if not math.isfinite(v):
            bounded = self.low is not None and self.high is not None
            return self.requirement() if bounded else "must be a finite number"
        low_ok = self.low is None or (
            v >= self.low if self.closed in ("both", "left") else v > self.low
        )
        high_ok = self.high is None or (
            v <= self.high if self.closed in ("both", "right") else v < self.high
        )
        return None if low_ok and high_ok else self.requirement()


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (None too when ``none``)."""

    values: tuple
    none: bool = False

    def requirement(self) -> str:
        """``"must be a or b"``, ``"must be one of a, b or c"``."""
        shown = [str(v) for v in self.values]
        if len(shown) <= 2:
            return "must be " + " or ".join(shown)
        return f"must be one of {', '.join(shown[:-1])} or {shown[-1]}"

    def problem(self, value: object) -> str | None:
        """None when ``value`` is accepted, else the requirement it breaks."""
        if value is None and self.none:
            return None
        try:
            accepted = value in self.values
        except TypeError:  # unhashable or uncomparable values are not among the options
            accepted = False
        return None if accepted else self.requirement()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_parameters(
    constraints: Mapping[str, Interval | Options], values: Mapping[str, object]
) -> None:
    """Raise :class:`~npprob.errors.ParameterError` for the first value that breaks its rule.

    Parameters
    ----------
    constraints : mapping of str to Interval or Options
        The declared rule of every checked parameter.
    values : mapping of str to object
        The arguments by parameter name (missing names are not checked).

    Examples
    --------
    >>> check_parameters({"n": Interval(int, 1)}, {"n": 0})
    Traceback (most recent call last):
    ...
    npprob.errors.ParameterError: n must be at least 1; got 0.
    """
    for name, rule in constraints.items():
        if name not in values:
            continue
        value = values[name]
        requirement = rule.problem(value)
        if requirement is not None:
            raise ParameterError(parameter=name, requirement=requirement, value=value)
