"""Findings to state codes: the one encoder behind every reader of findings.

Every reader that turns findings into :class:`~npprob.network.EvidenceBatch`
codes goes through :func:`encode_table` (patients CSV, ``npprob query``'s
evidence CSV, cohort files, scikit-learn tables) or, for one record, through
:func:`value_code` (JSON records, Python mappings). A cell is read by the rule
of its medium:

*text* (CSV cells, command-line flags)
    Surrounding spaces are ignored; an empty cell is not recorded; otherwise a
    state name (exact case) or, for a two-state variable, ``true``/``false`` in
    any case (see :attr:`~npprob.network.Variable.boolean_states`).
*values* (decoded JSON, DataFrames, arrays)
    ``None`` (and NaN in tables) is not recorded; a state name; a boolean for a
    two-state variable; in tables an integer state code where allowed.

Problems are returned, not raised, so each reader reports them its own way
(one line, every problem of a record, or a bad row kept apart from the good ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from npprob._checks import Options, check_parameters, format_choices
from npprob.network.evidence import UNOBSERVED
from npprob.network.network import Network
from npprob.network.variable import Role, Variable

__all__ = [
    "CellProblem",
    "decode_codes",
    "encode_table",
    "text_code",
    "unobservable_problem",
    "value_code",
]


class CellProblem(NamedTuple):
    """A cell that could not be read.

    Attributes
    ----------
    row : int
        0-based row of the table.
    column : int
        0-based position of the cell's column among the encoded columns.
    variable : str
        The variable of the column.
    value : object
        The cell as it arrived (text stripped).
    message : str
        What is wrong, on one line.
    expected : str
        The values the cell accepts, for readers that phrase their own message.
    """

    row: int
    column: int
    variable: str
    value: object
    message: str
    expected: str


def short(value: object, limit: int = 40) -> str:
    """``repr`` of ``value`` on one line, shortened to about ``limit`` characters."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def json_type(value: object) -> str:
    """JSON name of the type of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def unobservable_problem(variable: Variable, what: str = "finding") -> str:
    """Why a hidden variable cannot be given (``what`` names the key or column)."""
    if variable.role == Role.TARGET:
        kind = "the target (a latent variable npprob infers)"
    else:
        kind = f"a {variable.role} variable"
    return f"{what} {short(variable.name)} is {kind} and cannot be observed (leave it out)"


# -- one cell ----------------------------------------------------------------------------


def text_expected(variable: Variable) -> str:
    """What a text cell of ``variable`` accepts."""
    booleans = ", true, false" if variable.boolean_states else ""
    return f"{format_choices(variable.states)}{booleans}, or an empty cell"


def text_code(variable: Variable, text: str) -> tuple[int, str | None]:
    """``(code, None)`` for an acceptable text cell, else ``(-1, problem)``."""
    value = text.strip()
    if not value:
        return UNOBSERVED, None
    if value in variable.states:
        return variable.states.index(value), None
    pair = variable.boolean_states
    lowered = value.lower()
    if pair is not None and lowered in ("true", "false"):
        return variable.states.index(pair[lowered == "true"]), None
    return UNOBSERVED, (
        f"unknown state {short(value)} for '{variable.name}' "
        f"(expected one of: {text_expected(variable)})"
    )


def value_expected(variable: Variable) -> str:
    """What a value of ``variable`` accepts in a record."""
    return format_choices(variable.states) + (
        ", true, false" if variable.boolean_states else ""
    ) + ", or null"  # fmt: skip


def value_code(variable: Variable, value: object) -> tuple[int, str | None]:
    """``(code, None)`` for an acceptable record value, else ``(-1, problem)``."""
    key = short(variable.name)
    pair = variable.boolean_states
    if value is None:
        return UNOBSERVED, None
    if isinstance(value, bool | np.bool_):
        if pair is None:
            return UNOBSERVED, (
                f"finding {key} got boolean {str(bool(value)).lower()}, but only two-state "
                f"variables accept booleans (expected one of: {format_choices(variable.states)}, "
                "or null)"
            )
        return variable.states.index(pair[int(bool(value))]), None
    if isinstance(value, str):
        if value in variable.states:
            return variable.states.index(value), None
        if value == "":
            return UNOBSERVED, (
                f"finding {key} is an empty string (use null, or leave the key out, when it "
                f"was not observed; states are {format_choices(variable.states)})"
            )
        return UNOBSERVED, (
            f"finding {key} has invalid state {short(value)} (expected one of: "
            f"{value_expected(variable)})"
        )
    return UNOBSERVED, (
        f"finding {key} must be a state name, not {json_type(value)} {short(value)} "
        f"(expected one of: {value_expected(variable)})"
    )


def _missing(value: object) -> bool:
    """None, NaN, or a pandas missing-value scalar (``pd.NA``, ``pd.NaT``)."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    kind = type(value)
    return kind.__module__.startswith("pandas") and kind.__name__ in ("NAType", "NaTType")


def _table_value_code(
    variable: Variable, value: object, integer_codes: bool
) -> tuple[int, str | None]:
    """:func:`value_code` for table cells: NaN and pandas' NA are missing, integer codes where
    allowed."""
    if _missing(value):
        return UNOBSERVED, None
    numeric = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if integer_codes and numeric:
        if float(value).is_integer() and 0 <= int(value) < variable.cardinality:
            return int(value), None
        return UNOBSERVED, (
            f"finding {variable.name} has value {value!r}; expected a state name, an integer "
            f"code 0..{variable.cardinality - 1}, or missing"
        )
    return value_code(variable, value)


# -- tables ------------------------------------------------------------------------------


def encode_table(
    network: Network,
    names: Sequence[str],
    cells: Sequence[Sequence[object]] | np.ndarray,
    *,
    medium: str = "text",
    integer_codes: bool = False,
) -> tuple[np.ndarray, list[CellProblem]]:
    """State codes of a findings table, and every cell that could not be read.

    Parameters
    ----------
    network : Network
    names : sequence of str
        The network variable of each column (checked by the caller).
    cells : sequence of rows, or 2-d array
        One row per patient, one cell per column of ``names``.
    medium : {"text", "values"}, default="text"
        How cells are read (see the module docstring).
    integer_codes : bool, default=False
        With ``medium="values"``, also accept integer state codes.

    Returns
    -------
    codes : ndarray of int16, shape (n_rows, n_variables)
        -1 where not recorded or unreadable.
    problems : list of CellProblem
        In row order, then column order.

    Examples
    --------
    >>> from npprob.network import Network, Variable
    >>> net = Network([Variable("pain", ("absent", "present"))], {}, {"pain": [0.5, 0.5]})
    >>> codes, problems = encode_table(net, ["pain"], [["present"], [" TRUE "], [""], ["maybe"]])
    >>> codes[:, 0].tolist(), problems[0].row
    ([1, 1, -1, -1], 3)
    """
    check_parameters({"medium": Options(("text", "values"))}, {"medium": medium})
    table = np.empty((len(cells), len(names)), dtype=object)
    for i, row in enumerate(cells):
        table[i, :] = list(row)
    codes = np.full((len(table), len(network)), UNOBSERVED, dtype=np.int16)
    problems: list[CellProblem] = []
    for k, name in enumerate(names):
        var = network.variable(name)
        column = table[:, k]
        if medium == "text":
            # Each distinct cell is read once, however many patients share it.
            uniques, inverse = np.unique(column.astype(str), return_inverse=True)
            results = [text_code(var, u) for u in uniques.tolist()]
            expected = text_expected(var)
        else:
            # Each distinct value is read once; booleans are keyed apart from numbers.
            seen: dict[object, int] = {}
            distinct: list[object] = []
            inverse = np.empty(len(column), dtype=np.int64)
            for i, value in enumerate(column):
                k = seen.setdefault(_value_key(value), len(distinct))
                if k == len(distinct):
                    distinct.append(value)
                inverse[i] = k
            results = [_table_value_code(var, v, integer_codes) for v in distinct]
            expected = value_expected(var)
        lookup = np.array([code for code, _ in results], dtype=np.int16).reshape(-1)
        codes[:, network.index(name)] = lookup[inverse] if len(lookup) else UNOBSERVED
        bad = [u for u, (_, problem) in enumerate(results) if problem is not None]
        for i in np.flatnonzero(np.isin(inverse, bad)) if bad else ():
            value = str(column[i]).strip() if medium == "text" else column[i]
            problems.append(CellProblem(int(i), k, name, value, results[inverse[i]][1], expected))
    problems.sort(key=lambda p: (p.row, p.column))
    return codes, problems


def _value_key(value: object) -> object:
    """A dictionary key for a table value: booleans apart from numbers, NaN as one key."""
    if isinstance(value, bool | np.bool_):
        return ("bool", bool(value))
    if _missing(value):
        return ("missing",)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (type(value).__name__, value)


def decode_codes(network: Network, codes: np.ndarray) -> dict[str, str]:
    """The observed states of one patient's codes, ``{variable: state}`` in network order."""
    return {
        v.name: v.states[int(c)] for v, c in zip(network.variables, codes, strict=True) if c >= 0
    }
