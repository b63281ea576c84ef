"""A table of patients answered column by column: the batch path of ``npprob diagnose``.

:meth:`DiagnosticModel.diagnose_table` builds one :class:`~npprob.diagnosis.result.Diagnosis`
object per patient (with its draws, findings and explanation), which is what one patient
needs and what a million patients cannot afford. :func:`diagnose_columns` answers the
same questions for a whole block in arrays: one engine pass for the reported variables,
the predictive weights, the weighted means and quantiles, the NeuPSIG grade from the
state codes. Without an explanation no Python object is built per patient. With one,
the per-patient path answers and its results are laid out in the same columns, so both
paths write the same files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npprob.diagnosis.model import COMPONENTS, MECHANISMS, DiagnosticModel
from npprob.diagnosis.neupsig import GRADES, neupsig_grade_codes
from npprob.diagnosis.predictive import weighted_mean_columns, weighted_quantiles
from npprob.io.patients import PatientTable

__all__ = ["PROBABILITY_COLUMNS", "ResultColumns", "diagnose_columns"]

#: Probability columns of a results table, in order: the column to the variable answering it.
PROBABILITY_COLUMNS = {
    "p_neuropathic": None,  # the target
    "ci_low": None,
    "ci_high": None,
    "pi_low": None,
    "pi_high": None,
    **{key: variable for key, variable in COMPONENTS.items()},
    **{f"p_{m}": m for m in MECHANISMS},
}

#: Interval of the results table (central, on the probability scale).
INTERVAL_LEVEL = 0.95


@dataclass(frozen=True)
class ResultColumns:
    """One block of answers, a column per field.

    Attributes
    ----------
    ids : list of str
        Row identifiers, in input order.
    probabilities : dict of str to ndarray of float64
        Keys of :data:`PROBABILITY_COLUMNS`; NaN for rows not answered (and for a
        variable the network lacks).
    neupsig_grade : list of str
        The NeuPSIG grade, ``""`` for rows not answered.
    top_findings : list of list of (str, str, float)
        Per row the findings that moved P(target) most, as (finding, state, change);
        empty without an explanation.
    errors : dict of int to str
        0-based row in the block to what is wrong with it.
    first_row : int
        1-based number of the block's first row in its file.
    """

    ids: list[str]
    probabilities: dict[str, np.ndarray]
    neupsig_grade: list[str]
    top_findings: list[list[tuple[str, str, float]]]
    errors: dict[int, str]
    first_row: int = 1

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_answered(self) -> int:
        """Rows answered."""
        return len(self.ids) - len(self.errors)


def diagnose_columns(
    model: DiagnosticModel, table: PatientTable, *, explain: bool = False, top: int = 8
) -> ResultColumns:
    """Answer every readable row of a table; bad rows are reported, not fatal.

    Parameters
    ----------
    model : DiagnosticModel
        In the care setting wanted (:meth:`DiagnosticModel.in_setting`).
    table : PatientTable
        One block of a patients file (:func:`~npprob.io.patients.open_patients_csv`).
    explain : bool, default=False
        Rank each patient's findings by how much each moved P(target) (leave one
        out; about seven times the cost of the answer itself).
    top : int, default=8
        Findings kept per row when explaining.

    Returns
    -------
    ResultColumns
        The same numbers as :meth:`DiagnosticModel.diagnose_table`.
    """
    if explain:
        return _from_diagnoses(model, table, top)
    n = len(table)
    errors = {e.row - table.first_row: e.message for e in table.errors}
    for i in model.context_problems(table.batch.codes):
        errors.setdefault(int(i), model.context_message())
    good = np.array([i for i in range(n) if i not in errors], dtype=np.intp)
    probabilities = {key: np.full(n, np.nan) for key in PROBABILITY_COLUMNS}
    grades = np.full(n, -1, dtype=np.int8)
    if len(good):
        batch = model.with_context(table.batch.take(good))
        reported = {"p_neuropathic": model.spec.target.name}
        reported |= {k: v for k, v in PROBABILITY_COLUMNS.items() if v and v in model.network}
        variables = list(dict.fromkeys(reported.values()))
        result = model.engine.query(batch, variables, on_zero="nan")
        weights = model.draw_weights(result.log_evidence, batch.codes)
        zero = result.zero_probability
        positive = {
            key: result.column_index(v, model.network.variable(v).positive_index)
            for key, v in reported.items()
        }
        means = weighted_mean_columns(result.probabilities, weights, list(positive.values()))
        for key, mean in zip(positive, means, strict=True):
            probabilities[key][good] = mean
        values = result.probabilities[..., positive["p_neuropathic"]]
        levels = [(1 - INTERVAL_LEVEL) / 2, (1 + INTERVAL_LEVEL) / 2]
        low, high = weighted_quantiles(values, weights, levels)
        probabilities["ci_low"][good], probabilities["ci_high"][good] = low, high
        moved = model.prediction_draws(values, batch.codes)
        if moved is not None:
            low, high = weighted_quantiles(moved, weights, levels)
            probabilities["pi_low"][good], probabilities["pi_high"][good] = low, high
        grades[good] = neupsig_grade_codes(model.network, batch.codes)
        for i in good[zero]:
            errors[int(i)] = "the findings have probability zero under the model (contradictory)"
            for column in probabilities.values():
                column[i] = np.nan
            grades[i] = -1
    return ResultColumns(
        ids=list(table.ids),
        probabilities=probabilities,
        neupsig_grade=[GRADES[g] if g >= 0 else "" for g in grades.tolist()],
        top_findings=[[] for _ in range(n)],
        errors=dict(sorted(errors.items())),
        first_row=table.first_row,
    )


def _from_diagnoses(model: DiagnosticModel, table: PatientTable, top: int) -> ResultColumns:
    """The per-patient path (with explanations), laid out in columns."""
    answer = model.diagnose_table(table, explain=True)
    n = len(table)
    probabilities = {key: np.full(n, np.nan) for key in PROBABILITY_COLUMNS}
    grades: list[str] = [""] * n
    findings: list[list[tuple[str, str, float]]] = [[] for _ in range(n)]
    for i, d in enumerate(answer.diagnoses):
        if d is None:
            continue
        probabilities["p_neuropathic"][i] = d.p_neuropathic
        probabilities["ci_low"][i], probabilities["ci_high"][i] = d.credible_interval
        if d.prediction_interval is not None:
            probabilities["pi_low"][i], probabilities["pi_high"][i] = d.prediction_interval
        probabilities["p_mixed"][i] = d.p_mixed
        probabilities["p_nociplastic"][i] = d.p_nociplastic
        probabilities["p_nociceptive"][i] = d.p_nociceptive
        for m in MECHANISMS:
            probabilities[f"p_{m}"][i] = d.mechanisms.get(m, np.nan)
        grades[i] = d.neupsig.grade
        findings[i] = [(e.finding, e.state, e.change) for e in d.explanation[:top]]
    return ResultColumns(
        ids=list(answer.ids),
        probabilities=probabilities,
        neupsig_grade=grades,
        top_findings=findings,
        errors=dict(answer.errors),
        first_row=table.first_row,
    )
