"""The fields npprob reads from a model card or a cohort's data card, checked before use.

Cards are JSON written by ``npprob train`` and ``npprob simulate``, but a card read
back may have been edited, or made by hand for a study's own cohort. Every field the
package reads later (to name a model's case mix, to decide whether acceptance targets
apply, to report published statistics) is checked here once, by type, so that a card
with a wrong type is refused with one clear line instead of failing deep inside a
report. Fields are optional unless a reader needs them; fields npprob never reads are
free.

A field is named by its path: ``a.b`` is key ``b`` of the object at ``a``, ``a[]``
every element of the list at ``a``. A field whose parent is absent or null is not
checked.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping

__all__ = ["COHORT_CARD_FIELDS", "MODEL_CARD_FIELDS", "card_problem"]


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_interval(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)


#: Kinds of value, each with its test and the words an error uses for it.
_KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (_is_int, "an integer"),
    "number": (_is_number, "a number"),
    "interval": (_is_interval, "a list of two numbers"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "null": (lambda v: v is None, "null"),
}

#: Fields of a cohort's data card that npprob reads (setting, simulation options).
COHORT_CARD_FIELDS: dict[str, tuple[str, ...]] = {
    "setting": ("object", "null"),
    "setting.name": ("str", "null"),
    "setting.groups": ("list", "null"),
    "setting.groups[]": ("object",),
    "setting.groups[].require": ("object", "null"),
    "options": ("object", "null"),
    "options.generator": ("str", "null"),
    "options.label": ("str", "null"),
    "options.reporting_trait": ("number", "null"),
    "options.mcar": ("number", "null"),
    "options.record": ("list", "null"),
    "options.record[]": ("str",),
    "recorded": ("list", "null"),
    "recorded[]": ("str",),
}

_STATISTIC_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("str",),
    "family": ("str", "null"),
    "publication": ("str", "null"),
    "k": ("number", "null"),
    "n": ("number", "null"),
    "observed": ("number",),
    "implied_mean": ("number",),
    "implied_90": ("interval",),
    "predictive_90": ("interval",),
    "outside": ("bool",),
    "lopo_90": ("interval", "null"),
    "lopo_outside": ("bool", "null"),
    "lopo_pareto_k": ("number", "null"),
}

#: Fields of a model card that npprob reads (a trained model's ``card.json``).
MODEL_CARD_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("str",),
    "kind": ("str", "null"),
    "spec_sha256": ("str", "null"),
    "spec_content_sha256": ("str", "null"),
    "n_draws": ("int", "null"),
    "likelihood": ("str", "null"),
    "label": ("str", "null"),
    "diagnostics": ("object", "null"),
    "diagnostics.passed": ("bool", "null"),
    "diagnostics.problems": ("list", "null"),
    "diagnostics.problems[]": ("str",),
    "prior": ("object", "null"),
    "training_cohort": ("object", "null"),
    "training_cohort.card": ("object", "null"),
    **{f"training_cohort.card.{k}": v for k, v in COHORT_CARD_FIELDS.items()},
    "likelihood_details": ("object", "null"),
    "likelihood_details.n_statistics": ("int", "null"),
    "likelihood_details.n_publications": ("int", "null"),
    "likelihood_details.coverage_90": ("number", "null"),
    "likelihood_details.statistics": ("list", "null"),
    "likelihood_details.statistics[]": ("object",),
    **{f"likelihood_details.statistics[].{k}": v for k, v in _STATISTIC_FIELDS.items()},
    "likelihood_details.leave_one_publication_out": ("object", "null"),
    "likelihood_details.leave_one_publication_out.coverage_90": ("number", "null"),
    "likelihood_details.leave_one_publication_out.coverage_90_reliable_k": ("number", "null"),
    "likelihood_details.leave_one_publication_out.pareto_k_threshold": ("number", "null"),
    "likelihood_details.leave_one_publication_out.n_unreliable_publications": ("int", "null"),
}


def _values(card: object, path: str) -> list[tuple[str, object]]:
    """Every value at ``path`` (with its concrete location), skipping absent parents."""
    found: list[tuple[str, object]] = [("", card)]
    for part in path.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        step: list[tuple[str, object]] = []
        for where, value in found:
            # A parent that is not an object is its own entry's problem, or null.
            if not isinstance(value, dict) or key not in value:
                continue
            here = f"{where}.{key}" if where else key
            item = value[key]
            if not each:
                step.append((here, item))
            elif isinstance(item, list):
                step.extend((f"{here}[{i}]", v) for i, v in enumerate(item))
        found = step
    return found


def card_problem(card: object, fields: Mapping[str, tuple[str, ...]]) -> str | None:
    """The first field of ``card`` whose value has the wrong type, as a sentence; None if none.

    Parameters
    ----------
    card : object
        A parsed JSON card.
    fields : mapping of str to tuple of str
        Field paths and the kinds of value each may hold
        (:data:`MODEL_CARD_FIELDS`, :data:`COHORT_CARD_FIELDS`).

    Examples
    --------
    >>> card_problem({"options": {"reporting_trait": "high"}}, COHORT_CARD_FIELDS)
    "field 'options.reporting_trait' is 'high', not a number or null"
    >>> card_problem({"options": None}, COHORT_CARD_FIELDS) is None
    True
    """
    if not isinstance(card, dict):
        return "it is not a JSON object"
    for path, kinds in fields.items():
        for where, value in _values(card, path):
            if not any(_KINDS[k][0](value) for k in kinds):
                shown = repr(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                wanted = " or ".join(_KINDS[k][1] for k in kinds)
                return f"field '{where}' is {shown}, not {wanted}"
    return None
