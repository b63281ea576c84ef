"""A discrete random variable with named, ordered states."""

from __future__ import annotations

from dataclasses import dataclass

from npprob.errors import NetworkError

__all__ = ["Variable"]


@dataclass(frozen=True)
class Variable:
    """A discrete variable of a Bayesian network.

    Parameters
    ----------
    name : str
        Unique name within its network.
    states : tuple of str
        Ordered state names; the CPT's last axis follows this order.
    role : str, default="unspecified"
        What the variable is to a clinician (``"aetiology"``, ``"latent"``,
        ``"finding"``, ...). Inference ignores it.
    """

    name: str
    states: tuple[str, ...]
    role: str = "unspecified"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise NetworkError(f"Variable names must be non-empty strings; got {self.name!r}.")
        states = tuple(self.states)
        object.__setattr__(self, "states", states)
        if len(states) < 1:
            raise NetworkError(f"Variable '{self.name}' has no states.", variable=self.name)
        for s in states:
            if not isinstance(s, str) or not s:
                raise NetworkError(
                    f"Variable '{self.name}' has a state that is not a non-empty string: {s!r}.",
                    variable=self.name,
                )
        if len(set(states)) != len(states):
            dupes = sorted({s for s in states if states.count(s) > 1})
            raise NetworkError(
                f"Variable '{self.name}' has duplicate states: {', '.join(dupes)}.",
                variable=self.name,
            )

    @property
    def cardinality(self) -> int:
        """Number of states."""
        return len(self.states)

    def state_index(self, state: str) -> int:
        """Index of ``state``; raises :class:`KeyError` when it is not a state."""
        try:
            return self.states.index(state)
        except ValueError:
            raise KeyError(
                f"{state!r} is not a state of '{self.name}'; states are: {', '.join(self.states)}."
            ) from None
