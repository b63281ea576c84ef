"""Text and CSV rendering shared by the commands (no probability is computed here)."""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Iterable, Sequence

from npprob._text import probability_text
from npprob.decision.ranking import DISCLAIMER, INTERVAL_EXCLUDES
from npprob.io.result_files import RESULT_COLUMNS

__all__ = [
    "DIAGNOSIS_CSV_COLUMNS",
    "atomic_write_text",
    "diagnosis_csv_rows",
    "format_diagnosis",
    "format_evaluation",
    "format_treatments",
    "rows_to_csv",
]

#: Columns of ``npprob diagnose COHORT.csv``: a contract for scripts reading the results.
DIAGNOSIS_CSV_COLUMNS = RESULT_COLUMNS


#: The mechanisms of the CSV columns, in their order.
CSV_MECHANISMS = ("peripheral_sensitisation", "ectopic_activity", "central_sensitisation")

#: Below this share of the draws carrying an answer, the text output says the interval is rough.
FEW_DRAWS_SHARE = 0.1


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def format_diagnosis(d, *, top: int = 8) -> str:
    """A clinician-facing summary of one diagnosis."""
    model = d.model
    lines = []
    head = "npprob diagnosis" + (f" for {d.id}" if d.id else "")
    lines.append(
        f"{head} (model '{model['name']}', {model['kind']}, {model['n_draws']} parameter draws)"
    )
    lines.append(f"Setting: {setting_text(model)}")
    if model.get("diagnostics_passed") is False:
        lines.append(
            "WARNING: this model did not pass its sampler diagnostics (an exploratory fit, "
            "used with --allow-unconverged): its probabilities may not be reliable."
        )
    lines.append("")
    low, high = d.credible_interval
    lines.append(
        f"P(neuropathic pain component) = {probability_text(d.p_neuropathic, ends=True)}   "
        f"95% credible interval {probability_text(low, ends=True)} to "
        f"{probability_text(high, ends=True)} "
        "(parameter uncertainty only, not the model's structure)"
    )
    if d.prediction_interval is not None:
        low, high = d.prediction_interval
        lines.append(
            f"  In a clinic unlike the studies behind the model: 95% prediction interval "
            f"{probability_text(low, ends=True)} to {probability_text(high, ends=True)} "
            "(with the between-study spread of neuropathic shares)"
        )
    if d.effective_draws is not None and d.effective_draws < FEW_DRAWS_SHARE * model["n_draws"]:
        lines.append(
            f"  Only about {d.effective_draws:.0f} of the {model['n_draws']} parameter draws "
            "carry this answer: the findings are unusual for the data the model learned "
            "from, and the interval is rough."
        )
    c = d.neupsig.to_dict()["criteria"]
    marks = ", ".join(f"{k.replace('_', ' ')} {'yes' if v else 'no'}" for k, v in c.items())
    lines.append(
        f"NeuPSIG 2016 grade: {d.neupsig.grade}   ({marks}; from the findings, not the model)"
    )
    lines.append(
        f"P(mixed pain) {probability_text(d.p_mixed)}   "
        f"P(nociplastic) {probability_text(d.p_nociplastic)}   "
        f"P(nociceptive) {probability_text(d.p_nociceptive)}"
    )
    mech = "   ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in d.mechanisms.items())
    lines.append(f"Mechanisms: {mech}")
    lines.append("")
    if d.explanation:
        lines.append("Findings that moved P(neuropathic) most (leave one out):")
        width = max((len(f"{e.finding} = {e.state}") for e in d.explanation[:top]), default=0)
        for e in d.explanation[:top]:
            label = f"{e.finding} = {e.state}"
            without = "without it" + "".join(f", {r}" for r in e.removed_with)
            lines.append(
                f"  {label:<{width}}  {e.change:+.2f}  ({without} {e.p_without:.2f}; "
                f"log-odds {e.log_odds_change:+.2f})"
            )
        if len(d.explanation) > top:
            lines.append(f"  ... and {len(d.explanation) - top} more")
    else:
        lines.append("No findings were entered: the probability is the network's base rate.")
    lines.append("")
    lines.append(d.disclaimer)
    return "\n".join(lines) + "\n"


def _interval(low: float, high: float, fmt: str = "{:g}") -> str:
    return f"{fmt.format(low)} to {fmt.format(high)}"


def _number_needed(value: float, interval: tuple[float, float], tag: str) -> str:
    return f"{value:g} ({interval[0]:g}-{interval[1]:g}) [{tag}]"


def _multiplied(t) -> str:
    """The contraindications' harm multiplier on the NNH's risk, when there is one."""
    if t.harm_multiplier == 1.0:
        return ""
    return f" x {t.harm_multiplier:g} for the flags [D] (about {t.nnh / t.harm_multiplier:.3g})"


def _nnt_used(t) -> str:
    """The NNTs the benefit weighed: the neuropathic one, or each component with its share."""
    shown = [e for e in t.efficacy_used if e["weight"] >= 0.005]
    # The first component is neuropathic pain: alone, it is the NNT of the table.
    if not shown or shown == t.efficacy_used[:1]:
        return f"NNT {_number_needed(t.nnt, t.nnt_interval, t.nnt_tag)}"
    return "NNT " + " + ".join(
        f"{e['weight']:.2f} x {e['component']} {_number_needed(e['nnt'], e['nnt_interval'], e['tag'])}"
        for e in shown
    )


def _dose_line(dosing: dict[str, str]) -> str:
    parts = [
        f"{key.replace('_', ' ')}: {text}"
        for key, text in dosing.items()
        if key not in ("source", "tag")
    ]
    tag = f" [{dosing['tag']}]" if "tag" in dosing else ""
    return "; ".join(parts) + tag


def setting_text(model: dict) -> str:
    """The care setting a model answered in, in words."""
    setting = model.get("setting") or {}
    if setting.get("name"):
        return (
            f"{setting['name']} ({setting['description']}; {setting['source']} [{setting['tag']}])"
        )
    return (
        "none given: "
        + str(setting.get("description", "the model's own case mix"))
        + " (choose one with --setting)"
    )


def format_treatments(ranking) -> str:
    """A clinician-facing treatment list: the ranked drugs with why, dose and evidence, then
    the drugs left out and why, the condition's advice, and what the numbers leave out."""
    shrink = (
        f", benefits shrunk by {ranking.benefit_shrinkage:.0%}" if ranking.benefit_shrinkage else ""
    )
    lines = [
        f"Treatments (P(neuropathic) {probability_text(ranking.p_neuropathic)}, evidence "
        f"{ranking.evidence_set}, harm weight {ranking.harm_weight:g}{shrink})",
        f"  Order: {ranking.order}.",
        "  Net benefit = extra patients with >= 50 % relief minus weighted adverse-event "
        "dropouts and long-term harms, per patient treated.",
    ]
    if ranking.condition:
        g = ranking.condition["guideline"]
        lines.append(
            f"  Condition rules: {ranking.condition['description']}, {g['text']} [{g['tag']}]."
        )
    if not ranking.patient_factors:
        lines.append(
            "  No patient factors given: contraindications were not checked (add them under "
            "'patient_factors' or with --factor)."
        )
    applied = [t.id for t in ranking.ranked if t.overridden]
    if applied:
        lines.append(f"  Overridden by the clinician: {', '.join(applied)}.")
    refused = sorted(set(ranking.overrides) - set(applied))
    if refused:
        lines.append(
            f"  Override requested but not applied (nothing to override, or an absolute "
            f"contraindication): {', '.join(refused)}."
        )
    if not ranking.tiered:
        lines.append(
            f"  Evidence set {ranking.evidence_set}: the optimistic 1995-2005 profile of the "
            "seed review, ranked by net benefit; not current guideline lines."
        )
    if ranking.most_likely_not_neuropathic:
        guided = (
            ranking.tiered
            and bool(ranking.condition)
            and any(
                "in " + ranking.condition["description"] in t.line_label for t in ranking.ranked
            )
        )
        below = (
            "The drugs below are ranked by their effect in this condition and "
            f"{ranking.condition['guideline']['text']}'s lines; the care outside the list comes "
            "first:"
            if guided
            else "The drugs below treat a neuropathic component; they are not the answer for "
            "this patient:"
        )
        lines += [
            "",
            f"The pain is most likely NOT neuropathic (P(neuropathic) "
            f"{probability_text(ranking.p_neuropathic)}). {below}",
        ]
        lines += [f"  - {n.text} [{n.tag}]" for n in ranking.scope_notes]
    if ranking.ranked and all(t.needs_override for t in ranking.ranked):
        lines += [
            "",
            "Every ranked drug needs a specialist's override for this patient: see the flags, "
            "and the advice at the end.",
        ]
    lines.append("")
    if ranking.ranked:
        width = max(len(t.short_name or t.id) for t in ranking.ranked)
        lines.append(
            f"  {'#':>2}  {'drug':<{width}}  {'net benefit (95% interval)':<30}  {'P(best)':>7}  "
            "NNT / NNH used [tag]"
        )
        for t in ranking.ranked:
            low, high = t.net_benefit_interval
            net = f"{t.expected_net_benefit:+.3f} ({_interval(low, high, '{:+.3f}')})"
            lines.append(
                f"  {t.rank:>2}  {t.short_name or t.id:<{width}}  {net:<30}  "
                f"{probability_text(t.p_best):>7}  {_nnt_used(t)}"
                f", NNH {_number_needed(t.nnh, t.nnh_interval, t.nnh_tag)}{_multiplied(t)}"
            )
            pad = " " * 8
            lines.append(f"{pad}why: {t.why}")
            for f in t.flags:
                lines.append(f"{pad}{f.severity.replace('_', ' ')}: {f.reason} [{f.tag}]")
            if t.long_term_harms:
                lines.append(
                    f"{pad}long-term harms counted: {', '.join(t.long_term_harms)} "
                    f"(expected {t.expected_long_term_harm:.3f})"
                )
            if t.dosing:
                lines.append(f"{pad}dose: {_dose_line(t.dosing)}")
    else:
        lines.append("  No drug can be ranked for this patient.")
        if not ranking.most_likely_not_neuropathic and ranking.scope_notes:
            lines += [f"  - {n.text} [{n.tag}]" for n in ranking.scope_notes]
    condition = ranking.condition["description"] if ranking.condition else "this condition"
    for title, items in (
        ("Excluded (absolute contraindication; never given)", ranking.excluded),
        (f"Not recommended for {condition} (an override ranks them)", ranking.not_recommended),
        ("Insufficient evidence (not ranked)", ranking.insufficient_evidence),
        ("Not indicated", ranking.not_indicated),
    ):
        if items:
            lines += ["", f"{title}:"]
            for t in items:
                sources = f" (source: {'; '.join(t.sources)})" if t.sources else ""
                lines.append(f"  {t.short_name or t.id}: {'; '.join(t.reasons)}{sources}")
    if ranking.prompts:
        lines += ["", "Also:"]
        lines += [f"  - {q.text} ({q.source}) [{q.tag}]" for q in ranking.prompts]
    lines += [
        "",
        "Tags: F found in the source, R recalled (unverified), D derived or a design choice.",
        INTERVAL_EXCLUDES,
        DISCLAIMER,
    ]
    return "\n".join(lines) + "\n"


def diagnosis_csv_rows(answer, *, top: int = 8) -> list[list[str]]:
    """One row of :data:`DIAGNOSIS_CSV_COLUMNS` per patient of a table's diagnosis."""
    rows = []
    for i, d in enumerate(answer.diagnoses):
        if d is None:
            blank = [""] * (len(DIAGNOSIS_CSV_COLUMNS) - 2)
            rows.append([answer.ids[i], *blank, answer.errors.get(i, "invalid row")])
            continue
        findings = ";".join(f"{e.finding}={e.state}:{e.change:+.3f}" for e in d.explanation[:top])
        rows.append(
            [
                answer.ids[i], f"{d.p_neuropathic:.6f}", f"{d.credible_interval[0]:.6f}",
                f"{d.credible_interval[1]:.6f}",
                *(("", "") if d.prediction_interval is None
                  else (f"{d.prediction_interval[0]:.6f}", f"{d.prediction_interval[1]:.6f}")),
                f"{d.p_mixed:.6f}", f"{d.p_nociplastic:.6f}",
                f"{d.p_nociceptive:.6f}",
                # A network without a mechanism leaves its column blank.
                *(f"{d.mechanisms[m]:.6f}" if m in d.mechanisms else "" for m in CSV_MECHANISMS),
                d.neupsig.grade, findings, "",
            ]
        )  # fmt: skip
    return rows


def format_evaluation(summary) -> str:
    """One line per evaluated cohort (npprob, DN4 and logistic regression), and its targets."""
    lines = []
    for result in summary["cohorts"]:
        m = result["methods"]
        reference = result.get("reference", "truth")
        npprob = m["npprob"]
        line = f"{result['cohort']}: "
        if reference == "truth":
            line += f"npprob AUC {npprob['truth']['auc']:.3f}, ECE {npprob['truth']['ece']:.3f}"
        else:
            auc = npprob.get("label_ci", {}).get("auc")
            interval = f" ({auc['low']:.3f} to {auc['high']:.3f})" if auc else ""
            line += (
                f"against the recorded label: npprob AUC {npprob['label']['auc']:.3f}{interval}, "
                f"ECE {npprob['label']['ece']:.3f}"
            )
        line += f"; DN4 AUC {m['dn4']['auc_raw']:.3f}"
        if "logistic_regression" in m:
            line += f"; logistic regression AUC {m['logistic_regression'][reference]['auc']:.3f}"
        if "coverage" in result:
            line += f"; 90% interval coverage {result['coverage']['0.9']:.3f}"
        if "coverage_prediction" in result:
            line += f" (prediction interval {result['coverage_prediction']['0.9']:.3f})"
        lines.append(line)
        if "targets" in result:
            missed = [k for k, c in result["targets"].items() if not c["met"]]
            lines.append(
                f"  targets missed: {', '.join(missed)}" if missed else "  all targets met"
            )
    return "".join(f"{line}\n" for line in lines)


def rows_to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (see :mod:`npprob.io.outputs`)."""
    from npprob.io.outputs import atomic_text_writer

    with atomic_text_writer(path) as fh:
        fh.write(text)


class ProgressBar:
    """A small stderr progress bar (tqdm when installed), called with the number done."""

    def __init__(self, total: int | None, *, unit: str, disable: bool) -> None:
        self._bar = None
        if disable:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = _PlainBar(total, unit)
        else:
            self._bar = tqdm(total=total, unit=unit, file=sys.stderr)

    def __call__(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _PlainBar:
    def __init__(self, total: int, unit: str) -> None:
        self.total, self.n, self.unit = total, 0, unit

    def update(self, step: int) -> None:
        self.n += step
        done = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        print(f"\r{done} {self.unit}", end="", file=sys.stderr)

    def close(self) -> None:
        print(file=sys.stderr)
