"""Every exception and warning class npprob raises.

Errors about bad input also subclass :class:`ValueError`, so ``except ValueError``
keeps working for callers who do not know npprob's hierarchy.
"""

from __future__ import annotations

__all__ = [
    "BIFSyntaxError",
    "DataFileError",
    "EvidenceError",
    "MissingExtraError",
    "ModelFileError",
    "NetworkError",
    "NpprobError",
    "ParameterError",
    "ZeroProbabilityEvidenceError",
]


class NpprobError(Exception):
    """Base class of every error npprob raises on purpose."""


class NetworkError(NpprobError, ValueError):
    """A network is malformed: cycle, unknown parent, bad CPT, duplicate name...

    Attributes
    ----------
    variable : str or None
        The variable the problem concerns, when there is one.
    """

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class BIFSyntaxError(NetworkError):
    """A BIF file could not be parsed.

    Attributes
    ----------
    path : str or None
        The file that was read, when it came from a file.
    line : int or None
        1-based line number of the offending token.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        path: str | None = None,
        variable: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:"
        if line is not None:
            where = f"{where}{line}: " if where else f"line {line}: "
        elif where:
            where = f"{where} "
        super().__init__(f"{where}{message}", variable=variable)
        self.line = line
        self.path = path


class EvidenceError(NpprobError, ValueError):
    """Evidence is invalid: unknown variable, unknown state, malformed table.

    Attributes
    ----------
    variable : str or None
        The offending variable (column), when known.
    row : int or None
        The offending patient row (0-based index into the batch; CSV readers
        report 1-based data-row numbers in the message), when known.
    """

    def __init__(
        self, message: str, *, variable: str | None = None, row: int | None = None
    ) -> None:
        super().__init__(message)
        self.variable = variable
        self.row = row


class ZeroProbabilityEvidenceError(EvidenceError):
    """The evidence of one or more patients has probability zero under the network.

    Attributes
    ----------
    rows : numpy.ndarray
        0-based indices of the offending patients, in input order.
    """

    def __init__(self, message: str, *, rows) -> None:
        super().__init__(message)
        self.rows = rows


class ParameterError(NpprobError, ValueError):
    """An argument, option or command-line flag has a value the function does not accept.

    Attributes
    ----------
    parameter : str or None
        The parameter's name as the function spells it (the command line shows
        the matching flag instead).
    requirement : str
        What the value must be, as a phrase: ``"must be at least 1"``.
    value : object
        The value that arrived.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        parameter: str | None = None,
        requirement: str = "",
        value: object = None,
    ) -> None:
        self.parameter = parameter
        self.requirement = requirement
        self.value = value
        if message is None:
            message = self.phrase(parameter or "the value")
        super().__init__(message)

    def phrase(self, name: str) -> str:
        """The message with the parameter called ``name`` (e.g. its command-line flag)."""
        if not self.requirement:
            return str(self.args[0]) if self.args else name
        return f"{name} {self.requirement}; got {self.value!r}."


class DataFileError(NpprobError, ValueError):
    """A data file the package reads (TOML or JSON knowledge, settings, tools) is
    unreadable or malformed.

    Attributes
    ----------
    path : str or None
        The file, when known.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ModelFileError(DataFileError):
    """A model artifact or shipped model file is missing, corrupted, truncated or fails
    its checksum."""


class MissingExtraError(NpprobError, ImportError):
    """A command or function needs an optional extra (``pip install 'npprob[EXTRA]'``) that is
    not installed.

    Also an :class:`ImportError`, so ``except ImportError`` keeps working.

    Attributes
    ----------
    extra : str
        The extra to install: ``"train"``, ``"evaluate"``, ``"web"``...
    """

    def __init__(self, message: str, *, extra: str, name: str | None = None) -> None:
        super().__init__(message, name=name)
        self.extra = extra
