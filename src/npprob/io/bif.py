"""Read and write networks in the Bayesian Interchange Format (BIF 0.15).

The reader is a hand-written recursive-descent parser over a regex tokenizer,
so every error can name the 1-based line of the offending token. Parsing and
checking are two passes: the parser builds a small syntax tree (keeping line
numbers), then :func:`_build_network` resolves names, fills the CPTs and
checks them. Blocks may therefore come in any order.

Dialect accepted by the reader
------------------------------
* ``//`` and ``/* ... */`` comments; Windows (``\\r\\n``) or old Mac (``\\r``)
  line endings; a UTF-8 byte-order mark; no final newline.
* ``network NAME { ... }`` is optional; the name may be quoted, made of
  several words, or absent. ``property ... ;`` statements are allowed in every
  block and ignored, except ``property role = VALUE;`` in a variable block,
  which sets :attr:`Variable.role` (the writer emits it, so roles survive a
  round trip).
* Names (of the network, variables, states) are runs of characters other than
  whitespace, ``{}[]();,|"`` and comment starts, so ``-``, ``.``, ``_``,
  ``+``, ``=``, digits and non-ASCII letters are fine; anything else can be
  double-quoted (``\\"`` and ``\\\\`` escape inside quotes). Keywords are
  case-insensitive and only recognised where a statement starts.
* ``type discrete [ N ] { a, b, c };`` with or without spaces, states separated
  by commas and/or whitespace, a trailing comma tolerated.
* Probability headers ``( child | p1, p2 )`` or the old ``( child p1 p2 )``.
* Probability statements: rows ``(s1, s2) p1, p2;``, ``default p1, p2;`` (fills
  every parent configuration without a row) and ``table ...;``. Numbers are
  separated by commas and/or whitespace, may use scientific notation, and a
  trailing comma before ``;`` is tolerated.
* A conditional ``table`` lists the values with the **child's state varying
  slowest** and the parents (in header order) varying faster, the last parent
  fastest: ``probability ( A | B ) { table a0b0 a0b1 a1b0 a1b1; }``. This is the
  BIF (JavaBayes) convention and what pgmpy's ``BIFReader`` and ``BIFWriter``
  use (``values.reshape(card(child), -1)``).

Row sums
--------
Published BIF files round their numbers, so a row may sum to 1 only to about
1e-7. A row whose sum is within :data:`ROW_SUM_TOLERANCE` (1e-9) of 1 is kept
exactly as written (so files written by :func:`write_bif` round-trip bit for
bit); a row within ``renormalize_tolerance`` (default
:data:`DEFAULT_RENORMALIZE_TOLERANCE`, 1e-6) is divided by its sum; any other
row is an error naming its line.
"""

from __future__ import annotations

import gzip
import io
import itertools
import math
import os
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

import numpy as np

from npprob._checks import format_choices, unknown_name_hint
from npprob._limits import max_network_bytes, max_table_entries
from npprob.errors import BIFSyntaxError, NetworkError
from npprob.network.network import ROW_SUM_TOLERANCE, Network
from npprob.network.variable import Variable

__all__ = [
    "DEFAULT_RENORMALIZE_TOLERANCE",
    "bif_string",
    "read_bif",
    "read_bif_string",
    "write_bif",
]

#: Rows whose sum is off 1 by more than :data:`ROW_SUM_TOLERANCE` but at most
#: this much are treated as rounding in the file and renormalised.
DEFAULT_RENORMALIZE_TOLERANCE = 1e-6

#: Role given to variables whose block carries no ``property role = ...;``
#: (the default of :class:`Variable`, which the writer therefore omits).
_DEFAULT_ROLE = Variable("_", ("_",)).role

# -- tokenizer -----------------------------------------------------------------

# One alternative per token kind, tried in order at each position. Every
# character starts some alternative, so the tokenizer never gets stuck: a lone
# '/' is part of a word unless it starts a comment, a lone '"' is reported as
# an unterminated string, and '/*' without '*/' as an unclosed comment.
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<open_comment>/\*)
  | (?P<punct>[{}\[\]();,|])
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<open_string>")
  | (?P<word>(?:[^\s{}\[\]();,|"/]|/(?![/*]))+)
    """,
    re.VERBOSE | re.DOTALL,
)

# A name the writer may emit without quotes: exactly what the tokenizer reads
# back as one word.
_BARE_NAME_RE = re.compile(r"(?:[^\s{}\[\]();,|\"/]|/(?![/*]))+")

# Deliberately stricter than float(): no 'nan', 'inf', or '1_000'.
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

_COUNT_RE = re.compile(r"[1-9][0-9]{0,8}")

_ROLE_RE = re.compile(r"role\s*=\s*(.*)", re.DOTALL | re.IGNORECASE)
_POSITIVE_RE = re.compile(r"positive\s*=\s*(.*)", re.DOTALL | re.IGNORECASE)

_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "punct", "word", "string" or "eof"
    text: str  # punctuation character, word, or unescaped string contents
    line: int
    start: int
    end: int


def _describe(tok: _Token) -> str:
    """How a token is quoted in 'expected ..., found ...' messages."""
    if tok.kind == "eof":
        return "end of file"
    text = tok.text if len(tok.text) <= 40 else tok.text[:37] + "..."
    if tok.kind == "string":
        return f'"{text}"'
    return f"'{text}'"


def _tokenize(text: str, path: str | None) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    line = 1
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        # Unreachable by construction of _TOKEN_RE; kept so a regex edit can
        # never turn into an infinite loop.
        if m is None or m.end() == pos:  # pragma: no cover
            raise BIFSyntaxError(f"unexpected character {text[pos]!r}", line=line, path=path)
        kind = m.lastgroup
        chunk = m.group()
        if kind == "open_comment":
            raise BIFSyntaxError(
                "unclosed comment: '/*' has no matching '*/'", line=line, path=path
            )
        if kind == "open_string":
            raise BIFSyntaxError(
                "unterminated string: '\"' has no closing quote on the same line",
                line=line,
                path=path,
            )
        if kind == "punct" or kind == "word":
            tokens.append(_Token(kind, chunk, line, m.start(), m.end()))
        elif kind == "string":
            tokens.append(
                _Token("string", _ESCAPE_RE.sub(r"\1", chunk[1:-1]), line, m.start(), m.end())
            )
        line += chunk.count("\n")
        pos = m.end()
    # The end of file is reported on the last line that has any text, which
    # is where a missing '}' or ';' belongs.
    eof_line = text.rstrip().count("\n") + 1
    tokens.append(_Token("eof", "", eof_line, n, n))
    return tokens


# -- syntax tree ---------------------------------------------------------------


@dataclass(slots=True)
class _Name:
    text: str
    line: int


@dataclass(slots=True)
class _VariableDecl:
    name: _Name
    states: list[_Name]
    count_line: int  # line of the N in '[ N ]'
    count: int
    role: str = _DEFAULT_ROLE
    positive: str | None = None


@dataclass(slots=True)
class _Entry:
    kind: str  # "row", "default" or "table"
    line: int
    states: list[_Name]  # parent states of a row; empty otherwise
    values: list[float]
    value_lines: list[int]


@dataclass(slots=True)
class _ProbabilityBlock:
    line: int
    child: _Name
    parents: list[_Name]
    entries: list[_Entry] = field(default_factory=list)


@dataclass(slots=True)
class _Document:
    name: str | None
    variables: list[_VariableDecl]
    blocks: list[_ProbabilityBlock]
    eof_line: int


# -- parser --------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str, path: str | None) -> None:
        self.text = text
        self.path = path
        self.tokens = _tokenize(text, path)
        self.pos = 0

    # -- token helpers ----------------------------------------------------------
    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        # The eof token is never consumed, so peek() stays in range.
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def fail(self, expected: str, tok: _Token) -> NoReturn:
        raise BIFSyntaxError(
            f"expected {expected}, found {_describe(tok)}", line=tok.line, path=self.path
        )

    def is_punct(self, tok: _Token, char: str) -> bool:
        return tok.kind == "punct" and tok.text == char

    def is_keyword(self, tok: _Token, word: str) -> bool:
        # Quoted words are names, never keywords.
        return tok.kind == "word" and tok.text.lower() == word

    def expect_punct(self, char: str, expected: str) -> _Token:
        tok = self.peek()
        if not self.is_punct(tok, char):
            self.fail(expected, tok)
        return self.advance()

    def expect_name(self, expected: str) -> _Name:
        tok = self.peek()
        if tok.kind not in ("word", "string"):
            self.fail(expected, tok)
        self.advance()
        return _Name(tok.text, tok.line)

    # -- grammar ----------------------------------------------------------------
    def parse(self) -> _Document:
        if self.peek().kind == "eof":
            raise BIFSyntaxError(
                "the file is empty: expected 'network', 'variable' or 'probability', "
                "found end of file",
                line=self.peek().line,
                path=self.path,
            )
        name: str | None = None
        network_line: int | None = None
        variables: list[_VariableDecl] = []
        blocks: list[_ProbabilityBlock] = []
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                break
            if self.is_keyword(tok, "network"):
                if network_line is not None:
                    raise BIFSyntaxError(
                        f"second 'network' block (the first is on line {network_line})",
                        line=tok.line,
                        path=self.path,
                    )
                network_line = tok.line
                name = self.network()
            elif self.is_keyword(tok, "variable"):
                variables.append(self.variable())
            elif self.is_keyword(tok, "probability"):
                blocks.append(self.probability())
            else:
                self.fail("'network', 'variable' or 'probability'", tok)
        return _Document(name, variables, blocks, self.peek().line)

    def network(self) -> str | None:
        opening = self.advance()
        words: list[str] = []
        while self.peek().kind in ("word", "string"):
            words.append(self.advance().text)
        self.expect_punct("{", "'{' after the network name" if words else "a network name or '{'")
        while True:
            tok = self.peek()
            if self.is_punct(tok, "}"):
                self.advance()
                break
            if self.is_keyword(tok, "property"):
                self.property()
            elif tok.kind == "eof":
                self.fail(f"'}}' to close the network block opened on line {opening.line}", tok)
            else:
                self.fail("'property' or '}' in the network block", tok)
        return " ".join(words) if words else None

    def property(self) -> str:
        """Skip ``property ... ;`` and return the text between keyword and ';'.

        The text is free-form; braces inside it must balance, so that an
        unbalanced '}' can be taken as the end of the block whose property
        forgot its ';' (swallowing it would misplace the error blocks later).
        """
        keyword = self.advance()
        depth = 0
        while True:
            tok = self.peek()
            if depth == 0 and self.is_punct(tok, ";"):
                self.advance()
                return self.text[keyword.end : tok.start].strip()
            if self.is_punct(tok, "{"):
                depth += 1
            elif self.is_punct(tok, "}"):
                if depth == 0:
                    self.fail(f"';' to end the property started on line {keyword.line}", tok)
                depth -= 1
            elif tok.kind == "eof":
                self.fail(f"';' to end the property started on line {keyword.line}", tok)
            self.advance()

    def variable(self) -> _VariableDecl:
        self.advance()
        name = self.expect_name("a variable name after 'variable'")
        opening = self.expect_punct("{", f"'{{' to open the block of variable '{name.text}'")
        decl: _VariableDecl | None = None
        role = _DEFAULT_ROLE
        positive: str | None = None
        while True:
            tok = self.peek()
            if self.is_punct(tok, "}"):
                self.advance()
                break
            if self.is_keyword(tok, "type"):
                if decl is not None:
                    raise BIFSyntaxError(
                        f"variable '{name.text}' has a second 'type' declaration",
                        line=tok.line,
                        path=self.path,
                        variable=name.text,
                    )
                decl = self.type_declaration(name)
            elif self.is_keyword(tok, "property"):
                text = self.property()
                m = _ROLE_RE.fullmatch(text)
                if m:
                    role = _unquote(m.group(1).strip())
                m = _POSITIVE_RE.fullmatch(text)
                if m:
                    positive = _unquote(m.group(1).strip())
            elif tok.kind == "eof":
                self.fail(
                    f"'}}' to close the block of variable '{name.text}' opened on line "
                    f"{opening.line}",
                    tok,
                )
            else:
                self.fail(f"'type', 'property' or '}}' in the block of variable '{name.text}'", tok)
        if decl is None:
            raise BIFSyntaxError(
                f"variable '{name.text}' has no 'type discrete [ N ] {{ ... }};' declaration",
                line=name.line,
                path=self.path,
                variable=name.text,
            )
        decl.role = role
        if positive is not None and positive not in [s.text for s in decl.states]:
            raise BIFSyntaxError(
                f"variable '{name.text}': positive state {positive!r} is not one of its states",
                line=name.line,
                path=self.path,
                variable=name.text,
            )
        decl.positive = positive
        return decl

    def type_declaration(self, name: _Name) -> _VariableDecl:
        self.advance()
        kind = self.peek()
        if not self.is_keyword(kind, "discrete"):
            self.fail("'discrete' after 'type' (only discrete variables are supported)", kind)
        self.advance()
        self.expect_punct("[", "'[' before the number of states")
        count_tok = self.peek()
        # ASCII digits only, and short: int() would raise on '²' or on
        # thousands of digits, and no variable has a billion states.
        digits = count_tok.text.lstrip("0") if count_tok.kind == "word" else ""
        if not _COUNT_RE.fullmatch(digits):
            self.fail("the number of states (a positive integer)", count_tok)
        self.advance()
        self.expect_punct("]", "']' after the number of states")
        opening = self.expect_punct("{", "'{' to open the list of states")
        states = self.name_list(
            "}",
            "a state name",
            f"a state name, ',' or '}}' to close the list of states opened on line {opening.line}",
        )
        closing = self.advance()
        if not states:
            raise BIFSyntaxError(
                f"variable '{name.text}' lists no states",
                line=closing.line,
                path=self.path,
                variable=name.text,
            )
        self.expect_punct(";", f"';' after the list of states of variable '{name.text}'")
        return _VariableDecl(name, states, count_tok.line, int(digits))

    def probability(self) -> _ProbabilityBlock:
        keyword = self.advance()
        self.expect_punct("(", "'(' after 'probability'")
        child = self.expect_name("a variable name after 'probability ('")
        parents: list[_Name] = []
        if self.is_punct(self.peek(), "|"):
            self.advance()
        # Parents may be comma- or space-separated (the old '( child p1 p2 )'
        # form has no '|'); a trailing comma is harmless.
        after_comma = False
        while True:
            tok = self.peek()
            if self.is_punct(tok, ")"):
                break
            if self.is_punct(tok, ",") and not after_comma and parents:
                after_comma = True
                self.advance()
            elif tok.kind in ("word", "string"):
                parents.append(_Name(tok.text, tok.line))
                after_comma = False
                self.advance()
            else:
                self.fail(
                    f"a parent name or ')' in the header of the probability block of '{child.text}'",
                    tok,
                )
        self.advance()
        opening = self.expect_punct("{", f"'{{' to open the probability block of '{child.text}'")
        block = _ProbabilityBlock(keyword.line, child, parents)
        while True:
            tok = self.peek()
            if self.is_punct(tok, "}"):
                self.advance()
                break
            if self.is_punct(tok, "("):
                block.entries.append(self.row())
            elif self.is_keyword(tok, "table") or self.is_keyword(tok, "default"):
                self.advance()
                values, lines = self.numbers(f"'{tok.text}' on line {tok.line}")
                block.entries.append(_Entry(tok.text.lower(), tok.line, [], values, lines))
            elif self.is_keyword(tok, "property"):
                self.property()
            elif tok.kind == "eof":
                self.fail(
                    f"'}}' to close the probability block of '{child.text}' opened on line "
                    f"{opening.line}",
                    tok,
                )
            else:
                self.fail(
                    f"'(', 'table', 'default', 'property' or '}}' in the probability block of "
                    f"'{child.text}'",
                    tok,
                )
        return block

    def name_list(self, closer: str, item: str, otherwise: str) -> list[_Name]:
        """Names separated by commas and/or spaces, up to (not including) ``closer``."""
        names: list[_Name] = []
        after_comma = True  # a list may not start with ','
        while True:
            tok = self.peek()
            if self.is_punct(tok, closer):
                return names
            if self.is_punct(tok, ","):
                if after_comma:
                    self.fail(item, tok)
                after_comma = True
                self.advance()
            elif tok.kind in ("word", "string"):
                names.append(_Name(tok.text, tok.line))
                after_comma = False
                self.advance()
            else:
                self.fail(otherwise, tok)

    def row(self) -> _Entry:
        opening = self.advance()
        states = self.name_list(
            ")", "a parent state", f"a parent state or ')' to close the '(' on line {opening.line}"
        )
        self.advance()
        values, lines = self.numbers(f"row started on line {opening.line}")
        return _Entry("row", opening.line, states, values, lines)

    def numbers(self, context: str) -> tuple[list[float], list[int]]:
        """One or more numbers separated by commas and/or whitespace, then ';'."""
        values: list[float] = []
        lines: list[int] = []
        after_comma = False
        while True:
            tok = self.peek()
            if self.is_punct(tok, ";"):
                if not values:
                    self.fail(f"at least one probability in the {context}", tok)
                self.advance()
                return values, lines
            if self.is_punct(tok, ",") and values and not after_comma:
                after_comma = True
                self.advance()
                continue
            if tok.kind == "word" and _NUMBER_RE.fullmatch(tok.text):
                value = float(tok.text)
                if not math.isfinite(value):
                    raise BIFSyntaxError(
                        f"probability {tok.text} is not a finite number",
                        line=tok.line,
                        path=self.path,
                    )
                values.append(value)
                lines.append(tok.line)
                after_comma = False
                self.advance()
                continue
            if not values or after_comma:
                self.fail(f"a probability (a number such as 0.25 or 1e-3) in the {context}", tok)
            self.fail(f"a probability, ',' or ';' to end the {context}", tok)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return _ESCAPE_RE.sub(r"\1", text[1:-1])
    return text


# -- semantic pass -------------------------------------------------------------


def _build_network(
    doc: _Document,
    *,
    path: str | None,
    name: str | None,
    renormalize_tolerance: float,
) -> Network:
    def error(message: str, line: int | None, variable: str | None = None) -> NoReturn:
        raise BIFSyntaxError(message, line=line, path=path, variable=variable)

    if not doc.variables:
        error("the file declares no variables", doc.eof_line)

    decls: dict[str, _VariableDecl] = {}
    variables: list[Variable] = []
    for decl in doc.variables:
        vname = decl.name.text
        if vname in decls:
            error(
                f"variable '{vname}' is declared twice (first on line {decls[vname].name.line})",
                decl.name.line,
                vname,
            )
        seen: dict[str, int] = {}
        for s in decl.states:
            if s.text in seen:
                error(f"variable '{vname}' lists state '{s.text}' twice", s.line, vname)
            seen[s.text] = s.line
        if decl.count != len(decl.states):
            error(
                f"variable '{vname}' declares {decl.count} states in '[ ]' but lists "
                f"{len(decl.states)}",
                decl.count_line,
                vname,
            )
        try:
            variables.append(
                Variable(vname, tuple(s.text for s in decl.states), decl.role, decl.positive)
            )
        except NetworkError as exc:  # e.g. an empty quoted name ""
            error(str(exc), decl.name.line, vname)
        decls[vname] = decl
    by_name = {v.name: v for v in variables}

    blocks: dict[str, _ProbabilityBlock] = {}
    for block in doc.blocks:
        child = block.child.text
        if child not in by_name:
            error(
                f"probability block for unknown variable '{child}'."
                f"{unknown_name_hint(child, by_name)}",
                block.child.line,
                child,
            )
        if child in blocks:
            error(
                f"second probability block for '{child}' (the first is on line "
                f"{blocks[child].line})",
                block.line,
                child,
            )
        names_seen: set[str] = set()
        for p in block.parents:
            if p.text not in by_name:
                error(
                    f"unknown parent '{p.text}' in the probability block of '{child}'."
                    f"{unknown_name_hint(p.text, by_name)}",
                    p.line,
                    child,
                )
            if p.text == child:
                error(f"variable '{child}' is listed as its own parent", p.line, child)
            if p.text in names_seen:
                error(f"parent '{p.text}' of '{child}' is listed twice", p.line, child)
            names_seen.add(p.text)
        blocks[child] = block

    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    for v in variables:
        block = blocks.get(v.name)
        if block is None:
            error(
                f"variable '{v.name}' (declared on line {decls[v.name].name.line}) has no "
                "probability block",
                decls[v.name].name.line,
                v.name,
            )
        parent_vars = [by_name[p.text] for p in block.parents]
        parents[v.name] = tuple(p.name for p in parent_vars)
        cpts[v.name] = _fill_cpt(v, parent_vars, block, error, renormalize_tolerance)

    try:
        return Network(variables, parents, cpts, name=name or "network")
    except NetworkError as exc:
        # Cycles are only visible on the whole graph; point at the block of the
        # variable the Network blames.
        line = blocks[exc.variable].line if exc.variable in blocks else None
        raise BIFSyntaxError(str(exc), line=line, path=path, variable=exc.variable) from exc


def _fill_cpt(
    child: Variable,
    parents: Sequence[Variable],
    block: _ProbabilityBlock,
    error: Callable[..., NoReturn],
    renormalize_tolerance: float,
) -> np.ndarray:
    """The CPT of ``child`` (parents' axes, then the child's) from its block."""
    card = child.cardinality
    parent_shape = tuple(p.cardinality for p in parents)
    n_configs = math.prod(parent_shape)
    if n_configs * card > max_table_entries():
        error(
            f"the table of '{child.name}' would have {n_configs * card:,} entries "
            f"({card} states x {n_configs:,} parent configurations), above the limit of "
            f"{max_table_entries():,} (NPPROB_MAX_TABLE_ENTRIES)",
            block.line,
            child.name,
        )
    cpt = np.zeros((*parent_shape, card))
    # Line of the statement that supplied each parent configuration (0 = none).
    source_line = np.zeros(parent_shape, dtype=np.int64)
    parent_list = ", ".join(p.name for p in parents)

    table = next((e for e in block.entries if e.kind == "table"), None)
    default: _Entry | None = None
    row_lines: dict[tuple[int, ...], int] = {}
    for entry in block.entries:
        if table is not None and entry is not table:
            error(
                f"the probability block of '{child.name}' has a 'table' (line {table.line}); "
                f"it cannot also have a '{entry.kind}' entry",
                entry.line,
                child.name,
            )
        if entry.kind == "table":
            expected = card * n_configs
            if len(entry.values) != expected:
                detail = (
                    f"{card} states x {n_configs} parent configurations"
                    if parents
                    else f"{card} states"
                )
                error(
                    f"'table' of '{child.name}' has {len(entry.values)} probabilities; expected "
                    f"{expected} ({detail})",
                    entry.line,
                    child.name,
                )
            # Child state slowest, then the parents with the last fastest:
            # the BIF convention, also pgmpy's.
            cpt = np.moveaxis(np.array(entry.values).reshape((card, *parent_shape)), 0, -1)
            lines = np.array(entry.value_lines).reshape((card, *parent_shape))
            source_line = lines[0]
            continue
        if len(entry.values) != card:
            error(
                f"expected {card} probabilities (one per state of '{child.name}'), found "
                f"{len(entry.values)}",
                entry.line,
                child.name,
            )
        if entry.kind == "default":
            if default is not None:
                error(
                    f"second 'default' in the probability block of '{child.name}' (the first "
                    f"is on line {default.line})",
                    entry.line,
                    child.name,
                )
            default = entry
            continue
        if len(entry.states) != len(parents):
            error(
                f"row gives {_plural(len(entry.states), 'parent state')} but "
                f"'{child.name}' has {_plural(len(parents), 'parent')} ({parent_list or 'none'})",
                entry.line,
                child.name,
            )
        index = []
        for state, parent in zip(entry.states, parents, strict=True):
            if state.text not in parent.states:
                error(
                    f"'{state.text}' is not a state of parent '{parent.name}' (states: "
                    f"{format_choices(parent.states)}).{unknown_name_hint(state.text, parent.states)}",
                    state.line,
                    child.name,
                )
            index.append(parent.states.index(state.text))
        key = tuple(index)
        if key in row_lines:
            error(
                f"parent configuration ({', '.join(s.text for s in entry.states)}) of "
                f"'{child.name}' is given twice (first on line {row_lines[key]})",
                entry.line,
                child.name,
            )
        row_lines[key] = entry.line
        cpt[key] = entry.values
        source_line[key] = entry.line

    if default is not None:
        missing = source_line == 0
        cpt[missing] = default.values
        source_line[missing] = default.line

    if table is None and (source_line == 0).any():
        key = tuple(int(i) for i in np.argwhere(source_line == 0)[0])
        error(
            f"no probabilities for '{child.name}' given {_config_text(parents, key)} "
            "(and no 'default' entry)",
            block.line,
            child.name,
        )

    negative = np.argwhere(cpt < 0)
    if len(negative):
        key = tuple(int(i) for i in negative[0])
        line = (
            int(source_line[key[:-1]])
            if table is None
            else table.value_lines[_table_pos(key, cpt.shape)]
        )
        error(f"negative probability {float(cpt[key])!r} for '{child.name}'", line, child.name)

    sums = cpt.sum(axis=-1)
    deviation = np.abs(sums - 1.0)
    bad = deviation > renormalize_tolerance
    # Also reject rows that are exactly on the edge but cannot be rescaled.
    bad |= ~(sums > 0)
    if bad.any():
        key = tuple(int(i) for i in np.argwhere(bad)[0])
        error(
            f"probabilities for '{child.name}' given {_config_text(parents, key)} sum to "
            f"{float(sums[key]):.12g}, not 1 (rows within {renormalize_tolerance:g} of 1 are "
            "renormalised)",
            int(source_line[key]),
            child.name,
        )
    # Keep rows Network already accepts untouched, so written files round-trip
    # bit for bit; rescale only the rows that are merely rounded.
    rescale = deviation > ROW_SUM_TOLERANCE
    if rescale.any():
        cpt[rescale] = cpt[rescale] / sums[rescale][:, None]
    return cpt


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _table_pos(key: tuple[int, ...], shape: tuple[int, ...]) -> int:
    """Position in a 'table' list of CPT entry ``key`` (child axis last)."""
    return int(np.ravel_multi_index((key[-1], *key[:-1]), (shape[-1], *shape[:-1])))


def _config_text(parents: Sequence[Variable], key: tuple[int, ...]) -> str:
    if not parents:
        return "no parents"
    return (
        "(" + ", ".join(f"{p.name}={p.states[i]}" for p, i in zip(parents, key, strict=True)) + ")"
    )


# -- public reader -------------------------------------------------------------


def read_bif_string(
    text: str,
    path: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    renormalize_tolerance: float = DEFAULT_RENORMALIZE_TOLERANCE,
) -> Network:
    """Parse BIF text into a :class:`~npprob.network.Network`.

    Parameters
    ----------
    text : str
        The contents of a BIF file.
    path : str or path-like, optional
        Where the text came from; only used in error messages.
    name : str, optional
        Name of the network. Defaults to the name in the ``network`` block, then
        to the file name without its ``.bif``/``.gz`` suffixes, then ``"network"``.
    renormalize_tolerance : float, default=1e-6
        Rows whose probabilities sum to within this of 1 are divided by their
        sum (rows within ``ROW_SUM_TOLERANCE`` = 1e-9 are kept as written);
        rows further off are an error.

    Returns
    -------
    Network
        Variables in a topological order, ties kept in declaration order.

    Raises
    ------
    BIFSyntaxError
        On any syntax or semantic error, with the 1-based line number of the
        offending token in ``line`` and in the message.

    See Also
    --------
    read_bif : read a file, plain or gzip-compressed.

    Notes
    -----
    See the module documentation for the accepted dialect.

    Examples
    --------
    >>> net = read_bif_string('''
    ... variable rain { type discrete [2] { yes, no }; }
    ... variable wet { type discrete [2] { yes, no }; }
    ... probability ( rain ) { table 0.2, 0.8; }
    ... probability ( wet | rain ) { (yes) 0.9, 0.1; (no) 0.1, 0.9; }
    ... ''')
    >>> net.parents("wet")
    ('rain',)
    >>> net.cpt("wet").tolist()
    [[0.9, 0.1], [0.1, 0.9]]
    """
    if not isinstance(text, str):
        raise TypeError(f"read_bif_string expects str, got {type(text).__name__}")
    if not (renormalize_tolerance >= 0 and math.isfinite(renormalize_tolerance)):
        raise ValueError(
            f"renormalize_tolerance must be a finite non-negative number, got {renormalize_tolerance!r}"
        )
    path_str = None if path is None else os.fspath(path)
    # One newline convention, so line numbers match what editors show.
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    doc = _Parser(text, path_str).parse()
    if name is None:
        name = doc.name
    if name is None and path_str is not None:
        name = _stem(path_str)
    return _build_network(
        doc, path=path_str, name=name, renormalize_tolerance=renormalize_tolerance
    )


def read_bif(
    source: str | os.PathLike[str] | IO[str] | IO[bytes],
    *,
    name: str | None = None,
    renormalize_tolerance: float = DEFAULT_RENORMALIZE_TOLERANCE,
) -> Network:
    """Read a BIF file into a :class:`~npprob.network.Network`.

    Parameters
    ----------
    source : str, path-like or file object
        Path of a ``.bif`` file, or of a gzip-compressed one (recognised by its
        content, whatever its suffix), or an open text or binary file.
    name : str, optional
        Name of the network; see :func:`read_bif_string`.
    renormalize_tolerance : float, default=1e-6
        See :func:`read_bif_string`.

    Returns
    -------
    Network

    Raises
    ------
    BIFSyntaxError
        On malformed content (with line number and path) or a corrupted gzip
        stream, or when ``source`` looks like BIF text rather than a path.
    OSError
        When the file cannot be opened.

    Notes
    -----
    Bytes are decoded as UTF-8 (a byte-order mark is dropped), falling back
    to Latin-1, which some old BIF files use.
    """
    limit = max_network_bytes()
    if hasattr(source, "read"):
        raw = source.read(limit + 1)  # type: ignore[union-attr]
        path_str = getattr(source, "name", None)
        path_str = path_str if isinstance(path_str, str) else None
    else:
        if isinstance(source, str) and ("\n" in source or "{" in source):
            raise BIFSyntaxError(
                "read_bif expects a path or a file; use read_bif_string() for BIF text"
            )
        path_str = os.fspath(source)
        with open(path_str, "rb") as fh:
            raw = fh.read(limit + 1)
    _check_size(raw, limit, path_str)
    if isinstance(raw, bytes):
        raw = _decode(raw, path_str, limit)
    return read_bif_string(raw, path_str, name=name, renormalize_tolerance=renormalize_tolerance)


def _check_size(raw: str | bytes, limit: int, path: str | None) -> None:
    """Refuse a network file longer than ``limit`` (read up to one byte past it)."""
    if len(raw) > limit:
        raise BIFSyntaxError(
            f"the network file is larger than {limit:,} bytes (NPPROB_MAX_NETWORK_BYTES); not read",
            path=path,
        )


def _decode(raw: bytes, path: str | None, limit: int) -> str:
    if raw[:2] == b"\x1f\x8b":
        try:
            # Decompressed up to one byte past the limit: a small file cannot unpack to gigabytes.
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                raw = fh.read(limit + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise BIFSyntaxError(f"corrupted gzip data: {exc}", path=path) from None
        _check_size(raw, limit, path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _stem(path: str) -> str:
    base = Path(path).name
    for suffix in (".gz", ".bif"):
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
    return base


# -- writer --------------------------------------------------------------------


def _format_name(text: str, what: str) -> str:
    """``text`` bare when the reader reads it back as one word, else quoted."""
    if "\n" in text or "\r" in text:
        raise NetworkError(f"{what} {text!r} contains a line break; BIF cannot store it.")
    if _BARE_NAME_RE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bif_string(network: Network) -> str:
    """The BIF text of ``network``, as :func:`write_bif` writes it.

    Parameters
    ----------
    network : Network
        The network to serialise.

    Returns
    -------
    str
        A canonical BIF: the ``network`` block, one ``variable`` block per
        variable and one ``probability`` block per variable, in topological
        order, with one row per parent configuration (the last parent varying
        fastest) and every probability written with :func:`repr`, so reading
        it back gives bit-identical CPTs. Names that are not plain words are
        double-quoted. A non-default :attr:`Variable.role` is written as
        ``property role = ...;``.

    Raises
    ------
    NetworkError
        When a name contains a line break, which BIF cannot represent.

    Examples
    --------
    >>> net = read_bif_string(
    ...     "variable a { type discrete [2] { y, n }; } probability (a) { table 0.25, 0.75; }"
    ... )
    >>> print(bif_string(net), end="")
    network network {
    }
    variable a {
      type discrete [ 2 ] { y, n };
    }
    probability ( a ) {
      table 0.25, 0.75;
    }
    """
    out: list[str] = [f"network {_format_name(network.name, 'network name')} {{", "}"]
    for v in network.variables:
        name = _format_name(v.name, "variable name")
        states = ", ".join(_format_name(s, f"state of '{v.name}'") for s in v.states)
        out.append(f"variable {name} {{")
        out.append(f"  type discrete [ {v.cardinality} ] {{ {states} }};")
        if v.role != _DEFAULT_ROLE:
            out.append(f"  property role = {_format_name(v.role, f'role of {v.name!r}')};")
        if v.positive is not None:
            positive = _format_name(v.positive, f"positive state of {v.name!r}")
            out.append(f"  property positive = {positive};")
        out.append("}")
    for v in network.variables:
        name = _format_name(v.name, "variable name")
        parents = [network.variable(p) for p in network.parents(v.name)]
        # tolist() yields Python floats, whose repr is the shortest exact form.
        cpt = network.cpt(v.name)
        if not parents:
            out.append(f"probability ( {name} ) {{")
            out.append(f"  table {_format_values(cpt.tolist())};")
        else:
            header = ", ".join(_format_name(p.name, "variable name") for p in parents)
            out.append(f"probability ( {name} | {header} ) {{")
            for key in itertools.product(*(range(p.cardinality) for p in parents)):
                states = ", ".join(
                    _format_name(p.states[i], "state") for p, i in zip(parents, key, strict=True)
                )
                out.append(f"  ({states}) {_format_values(cpt[key].tolist())};")
        out.append("}")
    return "\n".join(out) + "\n"


def _format_values(values: list[float]) -> str:
    return ", ".join(repr(float(x)) for x in values)


def write_bif(network: Network, path_or_file: str | os.PathLike[str] | IO[str] | IO[bytes]) -> None:
    """Write ``network`` as BIF.

    Parameters
    ----------
    network : Network
        The network to write.
    path_or_file : str, path-like or file object
        Destination. A path ending in ``.gz`` is gzip-compressed. A file object
        opened in text mode receives text, one opened in binary mode UTF-8
        bytes.

    Raises
    ------
    NetworkError
        When a name cannot be stored in BIF (see :func:`bif_string`).
    OSError
        When the file cannot be written.

    See Also
    --------
    bif_string : the text that is written.
    """
    text = bif_string(network)
    if hasattr(path_or_file, "write"):
        f = path_or_file
        binary = isinstance(f, io.RawIOBase | io.BufferedIOBase) or "b" in getattr(f, "mode", "")
        f.write(text.encode("utf-8") if binary else text)  # type: ignore[arg-type]
        return
    path = os.fspath(path_or_file)
    if path.lower().endswith(".gz"):
        # No file name and mtime=0 in the header: the bytes depend on the
        # network only.
        with (
            open(path, "wb") as fh,
            gzip.GzipFile(filename="", fileobj=fh, mode="wb", mtime=0) as gz,
        ):
            gz.write(text.encode("utf-8"))
    else:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
