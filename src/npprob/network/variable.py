"""A discrete random variable with named, ordered states, and the roles it can play."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from npprob._limits import MAX_STATES
from npprob.errors import NetworkError

__all__ = ["AFFIRMATIVE_STATES", "HIDDEN_ROLES", "Role", "Variable"]


class Role(StrEnum):
    """What a variable is to a clinician; inference ignores it.

    A clinical specification gives every variable one of these; networks read
    from BIF files may carry any other word (kept as a plain string, observable).
    """

    #: Recorded history: the condition the pain is attributed to, latency.
    HISTORY = "history"
    #: Evidence of a lesion: sensory deficit, distribution, confirmatory tests.
    LESION_EVIDENCE = "lesion_evidence"
    #: A sign on examination.
    SIGN = "sign"
    #: A symptom the patient reports.
    SYMPTOM = "symptom"
    #: A state every diagnosed patient is in (chronic pain): observed for everyone.
    CONTEXT = "context"
    #: The question the network answers; never observed.
    TARGET = "target"
    #: A hidden mechanism or component; never observed.
    LATENT = "latent"
    #: A deterministic function of other variables; never observed.
    DERIVED = "derived"
    #: No role given (networks from BIF files).
    UNSPECIFIED = "unspecified"


#: Roles of the variables no patient record may give.
HIDDEN_ROLES = frozenset({Role.TARGET, Role.LATENT, Role.DERIVED})

#: State names that say which state of a two-state variable is the affirmative one.
AFFIRMATIVE_STATES = frozenset({"true", "t", "yes", "y", "present", "positive", "pos", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "absent", "negative", "neg", "0"})


@dataclass(frozen=True)
class Variable:
    """A discrete variable of a Bayesian network.

    Parameters
    ----------
    name : str
        Unique name within its network.
    states : tuple of str
        Ordered state names; the CPT's last axis follows this order.
    role : Role or str, default="unspecified"
        What the variable is to a clinician (:class:`Role`); any other word is
        kept as given. Inference ignores it.
    positive : str, optional
        The state meaning the variable's condition holds (declared for a
        target or context variable); must be one of ``states``.
    """

    name: str
    states: tuple[str, ...]
    role: str = Role.UNSPECIFIED
    positive: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise NetworkError(f"Variable names must be non-empty strings; got {self.name!r}.")
        states = tuple(self.states)
        object.__setattr__(self, "states", states)
        if len(states) < 1:
            raise NetworkError(f"Variable '{self.name}' has no states.", variable=self.name)
        if len(states) > MAX_STATES:
            raise NetworkError(
                f"Variable '{self.name}' has {len(states)} states; at most {MAX_STATES} are "
                "supported.",
                variable=self.name,
            )
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
        if self.role in Role._value2member_map_:
            object.__setattr__(self, "role", Role(self.role))
        if self.positive is not None and self.positive not in states:
            raise NetworkError(
                f"Variable '{self.name}': positive state {self.positive!r} is not one of its "
                f"states ({', '.join(states)}).",
                variable=self.name,
            )

    @property
    def cardinality(self) -> int:
        """Number of states."""
        return len(self.states)

    @property
    def observable(self) -> bool:
        """Whether a patient record may give this variable (its role is not hidden)."""
        return self.role not in HIDDEN_ROLES

    @property
    def is_finding(self) -> bool:
        """Whether it is a clinical finding: observable and not a context every patient shares."""
        return self.observable and self.role != Role.CONTEXT

    @property
    def boolean_states(self) -> tuple[str, str] | None:
        """The states ``false`` and ``true`` stand for, or None when booleans are not accepted.

        Only two-state variables accept booleans. When the state names say which
        is which (``yes``/``no``, ``true``/``false``, ``present``/``absent``,
        ``positive``/``negative``, ``1``/``0``, any case), ``true`` is the
        affirmative state whatever its position; otherwise ``false`` is the
        first state and ``true`` the second. A declared :attr:`positive` state
        is ``true``.
        """
        if self.cardinality != 2:
            return None
        first, second = self.states
        if self.positive is not None:
            return (second, first) if self.positive == first else (first, second)
        if first.lower() in AFFIRMATIVE_STATES and second.lower() in _FALSE_WORDS:
            return (second, first)
        return (first, second)

    @property
    def positive_index(self) -> int:
        """Index of the state meaning the condition holds: :attr:`positive`, else the
        affirmative state of a two-state variable.

        Raises
        ------
        NetworkError
            For a variable of more than two states without a declared positive state.
        """
        if self.positive is not None:
            return self.states.index(self.positive)
        pair = self.boolean_states
        if pair is None:
            raise NetworkError(
                f"Variable '{self.name}' has {self.cardinality} states and no declared positive "
                "state.",
                variable=self.name,
            )
        return self.states.index(pair[1])

    def state_index(self, state: str) -> int:
        """Index of ``state``; raises :class:`KeyError` when it is not a state."""
        try:
            return self.states.index(state)
        except ValueError:
            raise KeyError(
                f"{state!r} is not a state of '{self.name}'; states are: {', '.join(self.states)}."
            ) from None
