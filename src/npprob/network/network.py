"""The Bayesian network: variables, parents and conditional probability tables.

No inference lives here; :mod:`npprob.inference` compiles a network into plans.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Mapping, Sequence

import numpy as np

from npprob._checks import unknown_name_hint
from npprob.errors import NetworkError
from npprob.network.variable import Role, Variable

__all__ = ["ROW_SUM_TOLERANCE", "Network", "check_probability_table"]

#: Largest accepted deviation of a CPT row sum from 1.
ROW_SUM_TOLERANCE = 1e-9


class Network:
    """A discrete Bayesian network with one parameter set.

    Parameters
    ----------
    variables : sequence of Variable
        The variables, in any order; names must be unique.
    parents : mapping of str to sequence of str
        Parents of each variable, in the order of the CPT's leading axes.
        Variables missing from the mapping have no parents.
    cpts : mapping of str to array_like
        ``cpts[v]`` has shape ``(card(parent_1), ..., card(parent_k), card(v))``;
        the last axis is a distribution over ``v``'s states for every parent
        configuration, so it sums to 1 within :data:`ROW_SUM_TOLERANCE`.
    name : str, default="network"
        A label for messages and files.

    Raises
    ------
    NetworkError
        On duplicate names, unknown parents, cycles, CPT shapes that do not
        match, negative or non-finite probabilities, or rows not summing to 1.

    Notes
    -----
    Variables are stored in a topological order (parents first), ties kept
    in the order given, so ``network.names`` is stable for a given input.
    """

    def __init__(
        self,
        variables: Sequence[Variable],
        parents: Mapping[str, Sequence[str]],
        cpts: Mapping[str, np.typing.ArrayLike],
        name: str = "network",
    ) -> None:
        self.name = str(name)
        variables = list(variables)
        seen: set[str] = set()
        for v in variables:
            if not isinstance(v, Variable):
                raise NetworkError(f"Expected Variable objects; got {type(v).__name__}.")
            if v.name in seen:
                raise NetworkError(f"Duplicate variable name '{v.name}'.", variable=v.name)
            seen.add(v.name)
        by_name = {v.name: v for v in variables}

        for child in parents:
            if child not in by_name:
                raise NetworkError(
                    f"Parents given for unknown variable '{child}'.{unknown_name_hint(child, by_name)}",
                    variable=child,
                )
        parent_map: dict[str, tuple[str, ...]] = {}
        for v in variables:
            pa = tuple(parents.get(v.name, ()))
            for p in pa:
                if p not in by_name:
                    raise NetworkError(
                        f"Variable '{v.name}' has unknown parent '{p}'.{unknown_name_hint(p, by_name)}",
                        variable=v.name,
                    )
                if p == v.name:
                    raise NetworkError(f"Variable '{v.name}' is its own parent.", variable=v.name)
            if len(set(pa)) != len(pa):
                raise NetworkError(
                    f"Variable '{v.name}' lists a parent twice: {pa}.", variable=v.name
                )
            parent_map[v.name] = pa

        order = _topological_order([v.name for v in variables], parent_map)
        self._variables: tuple[Variable, ...] = tuple(by_name[n] for n in order)
        self._index = {v.name: i for i, v in enumerate(self._variables)}
        self._parents = {n: parent_map[n] for n in order}
        children: dict[str, list[str]] = {n: [] for n in order}
        for n in order:
            for p in parent_map[n]:
                children[p].append(n)
        self._children = {n: tuple(c) for n, c in children.items()}

        for c in cpts:
            if c not in by_name:
                raise NetworkError(
                    f"CPT given for unknown variable '{c}'.{unknown_name_hint(c, by_name)}",
                    variable=c,
                )
        self._cpts: dict[str, np.ndarray] = {}
        for n in order:
            if n not in cpts:
                raise NetworkError(f"Variable '{n}' has no CPT.", variable=n)
            self._cpts[n] = self._checked_cpt(n, cpts[n])

    # -- construction helpers -------------------------------------------------
    def cpt_shape(self, name: str) -> tuple[int, ...]:
        """Shape of ``name``'s CPT: parent cardinalities, then its own."""
        return (
            *tuple(self.variable(p).cardinality for p in self._parents[name]),
            self.variable(name).cardinality,
        )

    def _checked_cpt(self, name: str, table: np.typing.ArrayLike) -> np.ndarray:
        try:
            arr = np.array(table, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise NetworkError(f"CPT of '{name}' is not numeric: {exc}", variable=name) from None
        expected = self.cpt_shape(name)
        if arr.shape != expected:
            raise NetworkError(
                f"CPT of '{name}' has shape {arr.shape}; expected {expected} "
                f"(parents {list(self._parents[name])} then the variable itself).",
                variable=name,
            )
        check_probability_table(arr, name)
        arr.setflags(write=False)
        return arr

    # -- accessors ------------------------------------------------------------
    @property
    def variables(self) -> tuple[Variable, ...]:
        """Variables in topological order."""
        return self._variables

    @property
    def names(self) -> tuple[str, ...]:
        """Variable names in topological order."""
        return tuple(v.name for v in self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        return f"Network(name={self.name!r}, n_variables={len(self)})"

    def index(self, name: str) -> int:
        """Position of ``name`` in :attr:`names`; raises NetworkError if unknown."""
        try:
            return self._index[name]
        except KeyError:
            raise NetworkError(
                f"Unknown variable '{name}'.{unknown_name_hint(name, self._index)}", variable=name
            ) from None

    def variable(self, name: str) -> Variable:
        """The :class:`Variable` called ``name``."""
        return self._variables[self.index(name)]

    def parents(self, name: str) -> tuple[str, ...]:
        """Parents of ``name`` in CPT axis order."""
        self.index(name)
        return self._parents[name]

    def children(self, name: str) -> tuple[str, ...]:
        """Children of ``name``."""
        self.index(name)
        return self._children[name]

    def cpt(self, name: str) -> np.ndarray:
        """Read-only CPT of ``name``, shape :meth:`cpt_shape`."""
        self.index(name)
        return self._cpts[name]

    @property
    def cpts(self) -> dict[str, np.ndarray]:
        """All CPTs by variable name (read-only arrays)."""
        return dict(self._cpts)

    # -- roles -----------------------------------------------------------------
    def with_role(self, role: Role | str) -> tuple[Variable, ...]:
        """Variables of one role, in :attr:`names` order."""
        return tuple(v for v in self._variables if v.role == role)

    @property
    def target(self) -> Variable:
        """The variable whose role is :attr:`Role.TARGET`: the question the network answers.

        Raises
        ------
        NetworkError
            When the network declares no target, or more than one.
        """
        found = self.with_role(Role.TARGET)
        if len(found) != 1:
            raise NetworkError(
                f"Network '{self.name}' declares {len(found)} target variables "
                f"({', '.join(v.name for v in found) or 'none'}); a diagnosis needs exactly one "
                f'(role = "target").'
            )
        return found[0]

    @property
    def context(self) -> tuple[Variable, ...]:
        """Variables every diagnosed patient shares (role :attr:`Role.CONTEXT`), each
        observed in its :attr:`~Variable.positive_index` state."""
        return self.with_role(Role.CONTEXT)

    @property
    def observable(self) -> tuple[Variable, ...]:
        """Variables a patient record may give (:attr:`Variable.observable`)."""
        return tuple(v for v in self._variables if v.observable)

    @property
    def findings(self) -> tuple[Variable, ...]:
        """Clinical findings: observable variables other than the shared context."""
        return tuple(v for v in self._variables if v.is_finding)

    @property
    def cardinalities(self) -> np.ndarray:
        """Cardinality of every variable, in :attr:`names` order."""
        cards = self.__dict__.get("_cardinalities")
        if cards is None:
            cards = np.array([v.cardinality for v in self._variables], dtype=np.int64)
            cards.setflags(write=False)
            self._cardinalities = cards
        return cards

    def structure_digest(self) -> str:
        """SHA-256 of names, states and parents (not the probabilities).

        Two networks with the same digest compile to the same inference plans.
        """
        h = hashlib.sha256()
        for v in self._variables:
            h.update(repr((v.name, v.states, self._parents[v.name])).encode())
        return h.hexdigest()

    def with_cpts(self, cpts: Mapping[str, np.typing.ArrayLike]) -> Network:
        """A copy with some CPTs replaced (validated like the constructor)."""
        merged = {**self._cpts, **cpts}
        return Network(self._variables, self._parents, merged, name=self.name)

    def add_variable(
        self, variable: Variable, parents: Sequence[str], cpt: np.typing.ArrayLike
    ) -> Network:
        """A copy with one more variable."""
        return Network(
            (*self._variables, variable),
            {**self._parents, variable.name: tuple(parents)},
            {**self._cpts, variable.name: cpt},
            name=self.name,
        )


def check_probability_table(arr: np.ndarray, name: str) -> None:
    """Raise :class:`NetworkError` unless the last axis of ``arr`` holds distributions.

    ``arr`` may carry leading axes (draws, parent configurations).
    """
    if not np.all(np.isfinite(arr)):
        raise NetworkError(f"CPT of '{name}' contains NaN or infinite values.", variable=name)
    if np.any(arr < 0):
        raise NetworkError(f"CPT of '{name}' contains negative probabilities.", variable=name)
    sums = arr.sum(axis=-1)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NetworkError(
            f"CPT of '{name}': row {where} sums to {sums[where]!r}, not 1 "
            f"(tolerance {ROW_SUM_TOLERANCE:g}).",
            variable=name,
        )


def _topological_order(names: list[str], parents: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Kahn's algorithm, ties broken by input order; raises on a cycle."""
    position = {n: i for i, n in enumerate(names)}
    indegree = {n: len(parents[n]) for n in names}
    children: dict[str, list[str]] = {n: [] for n in names}
    for n in names:
        for p in parents[n]:
            children[p].append(n)
    ready = [(position[n], n) for n in names if indegree[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for c in children[n]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(ready, (position[c], c))
    if len(order) != len(names):
        stuck = [n for n in names if indegree[n] > 0]
        cycle = _find_cycle(stuck, parents)
        raise NetworkError(
            "The network has a cycle: " + " -> ".join(cycle) + ".", variable=cycle[0]
        )
    return order


def _find_cycle(candidates: list[str], parents: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One directed cycle among ``candidates``, as parent -> child names."""
    cand = set(candidates)
    start = candidates[0]
    path: list[str] = []
    on_path: dict[str, int] = {}
    node = start
    # Every stuck node has a stuck parent, so walking parents must revisit a node.
    while node not in on_path:
        on_path[node] = len(path)
        path.append(node)
        node = next(p for p in parents[node] if p in cand)
    cycle = [*path[on_path[node] :], node]
    return list(reversed(cycle))
