"""Condition rules: what a guideline for the patient's condition says about each drug.

``models/condition_rules.toml`` holds, per condition (states of the treatments
file's condition variable, e.g. ``aetiology``), the guideline's line of therapy
for some drugs, the drugs it advises against, drugs it indicates outside their
usual scope, whether unlisted drugs count as insufficient evidence there, and
prompts (imaging, referral). It also holds the notes shown when the pain is
most likely not neuropathic: the care that matters then lies outside the drug
list. Every entry carries its source and tag; this module only reads and checks.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from npprob.errors import ModelFileError

__all__ = [
    "COMPONENTS",
    "ConditionRule",
    "ConditionRules",
    "Statement",
    "condition_rules",
    "load_condition_rules",
]

#: The non-neuropathic pain components a scope note can address.
COMPONENTS = ("nociceptive", "nociplastic")
_OTHERS = ("ranked", "insufficient")


@dataclass(frozen=True)
class Statement:
    """One sourced statement: text (or reason), source and provenance tag."""

    text: str
    source: str
    tag: str

    def to_dict(self) -> dict[str, str]:
        """Plain data for JSON."""
        return {"text": self.text, "source": self.source, "tag": self.tag}


@dataclass(frozen=True)
class ConditionRule:
    """A guideline's rules for one condition.

    Attributes
    ----------
    id, description : str
    states : tuple of str
        States of the condition variable the rule applies to.
    guideline : Statement
        The guideline itself (its text is its short name).
    lines : dict of str to int
        Line of therapy of some drugs in this condition (1 first line, ...).
    line_names : dict of int to str
        What the guideline calls its lines (e.g. CanPain's grades), when not "first line" ...
    against : dict of str to Statement
        Drugs the guideline advises against in this condition, with the reason.
    indicated : tuple of str
        Drugs indicated here whatever their scope (e.g. botulinum toxin A in
        trigeminal neuralgia); unless the patient factor ``indicated_unless_false``
        is false.
    others : str
        ``"ranked"`` (unlisted drugs keep their usual line) or ``"insufficient"``
        (the guideline's list is complete: unlisted drugs lack evidence here).
    prompts : tuple of Statement
        Advice beside the drug list (imaging, referral, non-drug care).
    """

    id: str
    description: str
    states: tuple[str, ...]
    guideline: Statement
    lines: Mapping[str, int] = field(default_factory=dict)
    against: Mapping[str, Statement] = field(default_factory=dict)
    indicated: tuple[str, ...] = ()
    indicated_unless_false: str | None = None
    others: str = "ranked"
    prompts: tuple[Statement, ...] = ()
    line_names: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScopeNote:
    """Care outside the drug list for a mostly non-neuropathic pain component."""

    component: str
    states: tuple[str, ...]
    statement: Statement


@dataclass(frozen=True)
class ConditionRules:
    """Every condition rule and the out-of-scope notes."""

    conditions: tuple[ConditionRule, ...]
    scope_notes: tuple[ScopeNote, ...]
    path: Path | None = None

    def for_state(self, state: str | None) -> ConditionRule | None:
        """The rule for one state of the condition variable, if any."""
        for rule in self.conditions:
            if state in rule.states:
                return rule
        return None

    def notes(self, component: str, state: str | None) -> tuple[Statement, ...]:
        """Scope notes for a component: the condition's own, else the general ones."""
        specific = [n for n in self.scope_notes if n.component == component and state in n.states]
        general = [n for n in self.scope_notes if n.component == component and not n.states]
        return tuple(n.statement for n in (specific or general))


def _statement(table: Mapping, where: str, key: str = "text") -> Statement:
    text, source, tag = table.get(key), table.get("source"), table.get("tag")
    if not all(isinstance(v, str) and v for v in (text, source, tag)):
        raise ModelFileError(f"{where}: needs a non-empty '{key}', 'source' and 'tag'.")
    return Statement(text, source, tag)


def _drugs(names: object, known: Collection[str], where: str) -> tuple[str, ...]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelFileError(f"{where}: must be a list of drug ids.")
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ModelFileError(f"{where}: unknown drugs {unknown}.")
    return tuple(names)


def load_condition_rules(
    drugs: Collection[str],
    states: Collection[str],
    path: str | os.PathLike[str] | None = None,
) -> ConditionRules:
    """Read and check the condition rules (default: the shipped file).

    Parameters
    ----------
    drugs : collection of str
        Drug ids of the treatments file.
    states : collection of str
        States of the condition variable.
    path : path, optional

    Raises
    ------
    ModelFileError
        On invalid TOML, an unknown drug or state, a line that is not 1-4, or a
        rule or note without its source and tag.
    """
    from npprob.decision.treatments import read_toml
    from npprob.io.resources import models_dir

    p = Path(path) if path is not None else models_dir() / "condition_rules.toml"
    data = read_toml(p, "condition rules file")
    rules = []
    seen: dict[str, str] = {}
    for k, body in enumerate(data.get("conditions", [])):
        where = f"{p}: condition {k + 1} ({body.get('id', '?')})"
        cond_states = body.get("states")
        if not isinstance(cond_states, list) or not cond_states:
            raise ModelFileError(f"{where}: needs a list of 'states'.")
        unknown = sorted(set(cond_states) - set(states))
        if unknown:
            raise ModelFileError(f"{where}: unknown states {unknown}.")
        for s in cond_states:
            if s in seen:
                raise ModelFileError(f"{where}: state {s!r} already belongs to '{seen[s]}'.")
            seen[s] = str(body.get("id"))
        lines = body.get("lines", {})
        _drugs(list(lines), drugs, f"{where}, lines")
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4 for v in lines.values()
        ):
            raise ModelFileError(f"{where}: every line must be 1, 2, 3 or 4.")
        against = {}
        for j, entry in enumerate(body.get("against", [])):
            at = f"{where}, against {j + 1}"
            statement = _statement(entry, at, "reason")
            for drug in _drugs(entry.get("drugs"), drugs, at):
                against[drug] = statement
        both = sorted(set(against) & set(lines))
        if both:
            raise ModelFileError(f"{where}: drugs both given a line and advised against: {both}.")
        try:
            line_names = {int(k): str(v) for k, v in body.get("line_names", {}).items()}
        except ValueError:
            raise ModelFileError(f"{where}: 'line_names' keys are line numbers.") from None
        others = body.get("others", "ranked")
        if others not in _OTHERS:
            raise ModelFileError(f"{where}: 'others' must be one of {_OTHERS}.")
        rules.append(
            ConditionRule(
                id=str(body.get("id", "")),
                description=str(body.get("description", body.get("id", ""))),
                states=tuple(cond_states),
                guideline=_statement(body, where, "guideline"),
                lines=dict(lines),
                against=against,
                indicated=_drugs(body.get("indicated", []), drugs, f"{where}, indicated"),
                indicated_unless_false=body.get("indicated_unless_false"),
                others=others,
                line_names=line_names,
                prompts=tuple(
                    _statement(q, f"{where}, prompt {j + 1}")
                    for j, q in enumerate(body.get("prompts", []))
                ),
            )
        )
    notes = []
    for k, body in enumerate(data.get("outside_scope", [])):
        where = f"{p}: outside_scope {k + 1}"
        if body.get("component") not in COMPONENTS:
            raise ModelFileError(f"{where}: 'component' must be one of {COMPONENTS}.")
        note_states = body.get("states", [])
        unknown = sorted(set(note_states) - set(states))
        if unknown:
            raise ModelFileError(f"{where}: unknown states {unknown}.")
        notes.append(ScopeNote(body["component"], tuple(note_states), _statement(body, where)))
    return ConditionRules(tuple(rules), tuple(notes), p)


@functools.lru_cache(maxsize=8)
def condition_rules(
    drugs: tuple[str, ...], states: tuple[str, ...], path: str | None = None
) -> ConditionRules:
    """The condition rules, parsed once per process (frozen, shared)."""
    return load_condition_rules(drugs, states, path)
