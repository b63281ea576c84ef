"""The evaluation report: targets, misspecification, a Markdown summary and figures (PNG and SVG).

The acceptance targets, and which cohorts they apply to, are data:
``models/acceptance.toml`` (:func:`npprob.io.resources.acceptance_path`), read
once per process by :func:`load_acceptance`. This module computes the measures
the targets bound.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from npprob.errors import DataFileError
from npprob.io.tomlfile import read_toml
from npprob.network.spec import TAGS

__all__ = [
    "Acceptance",
    "AcceptanceTarget",
    "check_targets",
    "load_acceptance",
    "misspecification",
    "targets_apply",
    "write_report",
]


def _npprob_truth(result: Mapping[str, object]) -> Mapping[str, float]:
    return result["methods"]["npprob"]["truth"]


#: What each target bounds, by target name: ``(measured, reference)`` from an
#: evaluation result, the target's value being ``measured - reference`` (or
#: ``measured`` without a reference); None when the result lacks the measure.
_MEASURES: dict[str, Callable[[Mapping[str, object]], tuple[float, float | None] | None]] = {
    "auc_vs_dn4": lambda r: (_npprob_truth(r)["auc"], r["methods"]["dn4"]["auc_raw"]),
    "auc_vs_logistic_regression": lambda r: (
        (_npprob_truth(r)["auc"], r["methods"]["logistic_regression"]["truth"]["auc"])
        if "logistic_regression" in r["methods"]
        else None
    ),
    "ece": lambda r: (_npprob_truth(r)["ece"], None),
    "calibration_slope": lambda r: (_npprob_truth(r)["calibration_slope"], None),
    "coverage_90": lambda r: (r["coverage"]["0.9"], None) if "coverage" in r else None,
}


@dataclass(frozen=True)
class AcceptanceTarget:
    """One acceptance target: inclusive bounds on one measure.

    Attributes
    ----------
    key : str
        The measure's name (a key of :func:`check_targets`' result).
    measures : str
        What the measure is, in words.
    at_least, at_most : int or float or None
        Inclusive bounds (at least one is set), as written in the file.
    source, tag, reason : str
    """

    key: str
    measures: str
    at_least: float | None
    at_most: float | None
    source: str
    tag: str
    reason: str = ""

    @property
    def text(self) -> str:
        """The bound as reports show it: ``">= 0.05"``, ``"<= 0.02"`` or ``"0.9-1.1"``."""
        if self.at_most is None:
            return f">= {self.at_least}"
        if self.at_least is None:
            return f"<= {self.at_most}"
        return f"{self.at_least}-{self.at_most}"

    def met(self, measured: float, reference: float | None = None) -> bool:
        """Whether ``measured`` (minus ``reference``, when given) lies within the bounds."""
        low, high = self.at_least, self.at_most
        if reference is not None:
            # Compared as measured >= reference + bound, not as a difference against the
            # bound: the two round differently, and the report has always done the former.
            low = None if low is None else reference + low
            high = None if high is None else reference + high
        if high is None:
            return measured >= low
        if low is None:
            return measured <= high
        return low <= measured <= high


@dataclass(frozen=True)
class Acceptance:
    """The acceptance targets and the cohorts they apply to.

    Attributes
    ----------
    name : str
        How reports name the cohorts the targets apply to.
    applies_to : dict
        ``setting`` (a setting's name) and simulation options the cohort's
        card must match.
    targets : dict of str to AcceptanceTarget
        In file order.
    source, tag, reason : str
        Provenance of the scope (``applies_to``).
    path : str
        The file they were read from.
    """

    name: str
    applies_to: dict[str, object]
    targets: dict[str, AcceptanceTarget]
    source: str
    tag: str
    reason: str
    path: str


def load_acceptance(path: str | os.PathLike[str] | None = None) -> Acceptance:
    """Read the acceptance targets and their scope.

    Parameters
    ----------
    path : path-like, optional
        An acceptance file; default the shipped ``models/acceptance.toml``,
        read once per process.

    Returns
    -------
    Acceptance

    Raises
    ------
    DataFileError
        On an unreadable file or invalid TOML, an unknown target or scope key,
        bounds that are missing, not numbers or in the wrong order, or a
        missing ``source``, ``tag`` or ``measures`` (or ``reason`` for tag ``S``).
    """
    return _shipped_acceptance() if path is None else _read_acceptance(Path(path))


@functools.cache
def _shipped_acceptance() -> Acceptance:
    from npprob.io.resources import acceptance_path

    return _read_acceptance(acceptance_path())


def _fail(p: Path, message: str) -> DataFileError:
    return DataFileError(f"{p}: {message}", path=str(p))


def _provenance(body: Mapping, where: str, p: Path) -> tuple[str, str, str]:
    source, tag, reason = body.get("source"), body.get("tag"), body.get("reason", "")
    if not isinstance(source, str) or not source.strip():
        raise _fail(p, f"{where}: missing 'source'.")
    if tag not in TAGS:
        raise _fail(p, f"{where}: tag {tag!r} is not one of {', '.join(TAGS)}.")
    if tag == "S" and not str(reason).strip():
        raise _fail(p, f"{where}: a suggested default (tag S) needs a 'reason'.")
    return source.strip(), tag, str(reason).strip()


def _check_keys(body: Mapping, allowed: set[str], where: str, p: Path) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _fail(
            p, f"{where}: unknown key(s) {unknown} (allowed: {', '.join(sorted(allowed))})."
        )


def _bound(body: Mapping, key: str, where: str, p: Path) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(p, f"{where}: {key} must be a finite number; got {value!r}.")
    return value


def _read_acceptance(p: Path) -> Acceptance:
    data = read_toml(p, "acceptance file")
    _check_keys(data, {"scope", "targets"}, "top level", p)
    scope = data.get("scope")
    if not isinstance(scope, dict):
        raise _fail(p, "no [scope] table.")
    _check_keys(scope, {"name", "applies_to", "source", "tag", "reason", "note"}, "[scope]", p)
    source, tag, reason = _provenance(scope, "[scope]", p)
    applies_to = scope.get("applies_to")
    if not isinstance(applies_to, dict) or not isinstance(applies_to.get("setting"), str):
        raise _fail(p, '[scope] needs applies_to = { setting = "name", option = value, ... }.')
    _check_scope(applies_to, p)
    table = data.get("targets")
    if not isinstance(table, dict) or not table:
        raise _fail(p, "no [targets.*] tables.")
    targets = {}
    for key, body in table.items():
        where = f"target '{key}'"
        if key not in _MEASURES:
            raise _fail(p, f"unknown {where} (known: {', '.join(_MEASURES)}).")
        if not isinstance(body, dict):
            raise _fail(p, f"{where} must be a table.")
        _check_keys(
            body, {"measures", "at_least", "at_most", "source", "tag", "reason", "note"}, where, p
        )
        low, high = _bound(body, "at_least", where, p), _bound(body, "at_most", where, p)
        if low is None and high is None:
            raise _fail(p, f"{where}: needs at_least, at_most or both.")
        if low is not None and high is not None and low > high:
            raise _fail(p, f"{where}: at_least {low} is above at_most {high}.")
        measures = body.get("measures")
        if not isinstance(measures, str) or not measures.strip():
            raise _fail(p, f"{where}: missing 'measures' (what the target bounds).")
        targets[key] = AcceptanceTarget(
            key, measures.strip(), low, high, *_provenance(body, where, p)
        )
    return Acceptance(
        str(scope.get("name") or applies_to["setting"]), dict(applies_to), targets,
        source, tag, reason, str(p),
    )  # fmt: skip


def _check_scope(applies_to: Mapping[str, object], p: Path) -> None:
    from npprob.cohorts.simulate import SimulationOptions
    from npprob.io.resources import cohort_settings_path

    options = {f.name for f in fields(SimulationOptions)}
    unknown = sorted(set(applies_to) - options - {"setting"})
    if unknown:
        raise _fail(
            p, f"[scope] applies_to: unknown key(s) {unknown} (setting or a simulation option: "
            f"{', '.join(sorted(options))})."
        )  # fmt: skip
    settings = read_toml(cohort_settings_path(), "settings file").get("settings", {})
    if applies_to["setting"] not in settings:
        raise _fail(
            p, f"[scope] applies_to: unknown setting {applies_to['setting']!r} "
            f"(known: {', '.join(settings)})."
        )  # fmt: skip


def _option_matches(recorded: object, wanted: object) -> bool:
    # A card that does not record an option (None) ran with it off.
    if recorded is None:
        recorded = False if isinstance(wanted, bool) else 0
    if isinstance(wanted, bool):
        return isinstance(recorded, numbers.Real) and bool(recorded) == wanted
    if isinstance(wanted, numbers.Real):
        return isinstance(recorded, numbers.Real) and recorded == wanted
    return recorded == wanted


def targets_apply(
    card: Mapping[str, object] | None, *, acceptance: Acceptance | None = None
) -> bool:
    """Whether the acceptance targets apply to a cohort, from its data card.

    Parameters
    ----------
    card : mapping or None
        The cohort's ``card.json`` (``setting.name`` and ``options``).
    acceptance : Acceptance, optional
        Default: the shipped targets (:func:`load_acceptance`).

    Returns
    -------
    bool
        True when the card's setting and every listed option match
        ``applies_to``.

    Examples
    --------
    >>> targets_apply({"setting": {"name": "consecutive_pain_clinic"},
    ...                "options": {"reporting_trait": 0.0}})
    True
    >>> targets_apply({"setting": {"name": "consecutive_pain_clinic"},
    ...                "options": {"reporting_trait": 0.5}})
    False
    """
    acceptance = acceptance or load_acceptance()
    card = card or {}
    setting = (card.get("setting") or {}).get("name")
    options = card.get("options") or {}
    if options.get("generator", "network") != "network":
        return False  # the targets are for cohorts the network itself generates
    if options.get("record"):
        return False  # ... recording every finding a clinic records
    return all(
        setting == wanted if key == "setting" else _option_matches(options.get(key), wanted)
        for key, wanted in acceptance.applies_to.items()
    )


def _setting(result: Mapping[str, object]) -> str | None:
    card = result.get("card") or {}
    return (card.get("setting") or {}).get("name")


def _trait(result: Mapping[str, object]) -> float:
    card = result.get("card") or {}
    return float((card.get("options") or {}).get("reporting_trait", 0.0))


def _generator(result: Mapping[str, object]) -> str:
    card = result.get("card") or {}
    return str((card.get("options") or {}).get("generator", "network"))


def _recorded(result: Mapping[str, object]) -> frozenset[str] | None:
    """The findings a cohort records, when its card restricts them (None: every one)."""
    card = result.get("card") or {}
    listed = card.get("recorded") or (card.get("options") or {}).get("record")
    return frozenset(listed) if listed else None


def _misspecified(result: Mapping[str, object]) -> bool:
    """Drawn with a reporting trait, or by a generator other than the network."""
    return _trait(result) > 0 or _generator(result) != "network"


def check_targets(
    result: Mapping[str, object], *, acceptance: Acceptance | None = None
) -> dict[str, object]:
    """Each target met or not, with the measured value (against the latent truth).

    Parameters
    ----------
    result : mapping
        One cohort's result from :func:`~npprob.evaluation.evaluate.evaluate_cohort`.
    acceptance : Acceptance, optional
        Default: the shipped targets (:func:`load_acceptance`).

    Returns
    -------
    dict
        By target name, in the file's order: ``value`` (the measure; a
        difference for targets against another method), ``target`` (the bound
        as text, e.g. ``">= 0.05"``) and ``met``. A target whose measure the
        result lacks (coverage without credible intervals) is left out.
    """
    acceptance = acceptance or load_acceptance()
    checks: dict[str, object] = {}
    for key, target in acceptance.targets.items():
        measure = _MEASURES[key](result)
        if measure is None:
            continue
        measured, reference = measure
        checks[key] = {
            "value": measured if reference is None else measured - reference,
            "target": target.text,
            "met": target.met(measured, reference),
        }
    return checks


def misspecification(results: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """For each misspecified cohort, each method's change against a matched cohort.

    A cohort is misspecified when drawn with the reporting trait or by another generator
    (``options.generator``, e.g. ``latent-trait``); it is paired with a cohort of the same
    setting drawn by the network without the trait, preferring one that records the same
    findings (``npprob simulate --record``), so that the change measures the
    misspecification and not the findings left unrecorded (``same_findings`` says which).
    Positive ``delta_auc`` = the method got worse.
    """
    out = []
    results = [r for r in results if r.get("reference", "truth") == "truth"]
    for spoiled in results:
        if not _misspecified(spoiled):
            continue
        candidates = [
            r for r in results if not _misspecified(r) and _setting(r) == _setting(spoiled)
        ]
        same = [r for r in candidates if _recorded(r) is not None and _recorded(r) == _recorded(spoiled)]  # fmt: skip
        clean = (same or candidates or [None])[0]
        if clean is None:
            continue
        deltas = {}
        for key, m in spoiled["methods"].items():
            if key not in clean["methods"]:
                continue
            base = clean["methods"][key]["truth"]
            deltas[key] = {
                "delta_auc": base["auc"] - m["truth"]["auc"],
                "delta_ece": m["truth"]["ece"] - base["ece"],
            }
        out.append({
            "cohort": spoiled["cohort"], "reference": clean["cohort"],
            "same_findings": bool(same),
            "generator": _generator(spoiled), "reporting_trait": _trait(spoiled),
            "methods": deltas,
        })  # fmt: skip
    return out


def write_report(
    summary: Mapping[str, object],
    probabilities: Mapping[str, Mapping[str, np.ndarray]],
    truths: Mapping[str, np.ndarray],
    out_dir: str | os.PathLike[str],
    *,
    plots: bool = True,
) -> list[Path]:
    """Write ``evaluation.json``, ``report.md`` and (with ``plots``) figures as PNG and SVG.

    Parameters
    ----------
    summary : mapping
        ``{"model": ..., "cohorts": [result, ...], "misspecification": [...]}``.
    probabilities, truths : mapping of cohort name to arrays
        Per cohort, each method's probabilities and the latent truth (for plots).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "evaluation.json"]
    written[0].write_text(
        json.dumps(summary, indent=2, sort_keys=True, default=_plain) + "\n", encoding="utf-8"
    )
    figures: dict[str, list[str]] = {}
    if plots:
        figures = _plots(summary, probabilities, truths, out)
        written += [out / f for fs in figures.values() for f in fs]
    (out / "report.md").write_text(_markdown(summary, figures), encoding="utf-8")
    written.append(out / "report.md")
    return written


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def _rate(value, count, total) -> str:
    return "n/a" if value is None else f"{value:.3f} ({count}/{total})"


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _markdown(summary: Mapping[str, object], figures: Mapping[str, list[str]]) -> str:
    model = summary.get("model", {})
    lines = [
        "# npprob evaluation",
        "",
        f"Model: `{model.get('name')}` ({model.get('kind')}, {model.get('n_draws')} draws). "
        "Metrics against the latent truth unless marked *label* (the recorded, noisy label). "
        "Bedside-tool probabilities come from 5-fold cross-validated logistic recalibration of "
        "their scores; `auc raw` is the score's own AUC.",
        "",
    ]
    for result in summary["cohorts"]:
        name = result["cohort"]
        if result.get("reference") == "label":
            lines += _label_only_section(result)
        else:
            lines += _truth_table(result)
        if "coverage" in result:
            cov = ", ".join(f"{k}: {v:.3f}" for k, v in result["coverage"].items())
            lines += [
                "",
                f"Credible-interval coverage of the true P(neuropathic | findings): {cov}.",
            ]
        if "coverage_prediction" in result:
            cov = ", ".join(f"{k}: {v:.3f}" for k, v in result["coverage_prediction"].items())
            lines += [
                "",
                "Prediction-interval coverage (a population unlike the studies, with the "
                f"evidence fit's between-study spread): {cov}.",
            ]
        if "targets" in result:
            lines += ["", f"Targets ({load_acceptance().name}):", ""]
            for key, check in result["targets"].items():
                status = "met" if check["met"] else "**missed**"
                lines.append(
                    f"- {key}: {_fmt(check['value'])} (target {check['target']}): {status}"
                )
        if result.get("subgroups"):
            lines += ["", "| aetiology | n | prevalence | npprob AUC | npprob ECE | DN4 AUC |",
                      "|---|---|---|---|---|---|"]  # fmt: skip
            for state, g in result["subgroups"].items():
                lines.append(
                    f"| {state} | {g['n']} | {_fmt(g['prevalence'])} | {_fmt(g['npprob']['auc'])} "
                    f"| {_fmt(g['npprob']['ece'])} | {_fmt(g['dn4']['auc'])} |"
                )
        if result.get("hard_cases"):
            lines += ["", "Hard cases (npprob called at 0.5, DN4 at its cut-off; sensitivity / "
                      "false-positive rate):", "",
                      "| group | n | neuropathic | npprob sens | npprob FPR | DN4 sens | DN4 FPR "
                      "| npprob AUC |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
            for group, g in result["hard_cases"].items():
                npp, dn4 = g["npprob"], g.get("dn4", {})
                n_pos, n_neg = g["n_neuropathic"], g["n"] - g["n_neuropathic"]
                lines.append(
                    f"| {group} | {g['n']} | {n_pos} "
                    f"| {_rate(npp['sensitivity'], npp['true_positives'], n_pos)} "
                    f"| {_rate(npp['false_positive_rate'], npp['false_positives'], n_neg)} "
                    f"| {_rate(dn4.get('sensitivity'), dn4.get('true_positives'), n_pos)} "
                    f"| {_rate(dn4.get('false_positive_rate'), dn4.get('false_positives'), n_neg)} "
                    f"| {_fmt(npp['auc'])} |"
                )
            lines += ["", "The groups are chosen by recorded aetiology, which npprob reads and "
                      "the DN4 does not: the comparison shows what that information is worth."]  # fmt: skip
        for figure in figures.get(name, []):
            if figure.endswith(".png"):
                svg = figure[: -len(".png")] + ".svg"
                lines += ["", f"![{figure}]({figure}) ([SVG]({svg}))"]
        lines.append("")
    if summary.get("misspecification"):
        lines += ["## Misspecification (reporting trait; another generator)", ""]
        for entry in summary["misspecification"]:
            how = entry.get("generator", "network")
            how = (
                f"generator {how}" if how != "network" else f"trait {entry.get('reporting_trait')}"
            )
            basis = (
                "the same findings recorded"
                if entry.get("same_findings")
                else "which records other findings: the change mixes in the findings not recorded"
            )
            lines += [
                f"{entry['cohort']} ({how}) against {entry['reference']} ({basis}; "
                "positive = worse):",
                "",
                "| method | AUC loss | ECE increase |",
                "|---|---|---|",
            ]
            for key, d in entry["methods"].items():
                lines.append(f"| {key} | {_fmt(d['delta_auc'])} | {_fmt(d['delta_ece'])} |")
            lines.append("")
    if summary.get("evidence"):
        lines += evidence_markdown(summary["evidence"], figures.get("evidence", []))
    return "\n".join(lines) + "\n"


def _or_nan(value: object) -> float:
    """A reported number, or NaN where the card has none."""
    return float("nan") if value is None else float(value)


def evidence_markdown(evidence: Mapping[str, object], figures: Sequence[str]) -> list[str]:
    """The model's published statistics: fitted and leave-one-publication-out coverage."""
    lopo = evidence.get("leave_one_publication_out") or {}
    lines = [
        "## Published statistics (evidence-synthesis model)",
        "",
        f"{evidence['n_statistics']} statistics from {evidence['n_publications']} publications. "
        f"Share of observed proportions inside the 90 % posterior predictive interval: "
        f"{_fmt(evidence['coverage_90'])}; inside the interval predicted without their "
        f"publication (leave-one-publication-out, PSIS): {_fmt(lopo.get('coverage_90'))} "
        f"({_fmt(lopo.get('coverage_90_reliable_k'))} over publications with Pareto k <= "
        f"{lopo.get('pareto_k_threshold')}; {lopo.get('n_unreliable_publications')} above).",
        "",
        "| statistic | observed | implied (90 %) | predictive 90 % | without its publication |",
        "|---|---|---|---|---|",
    ]
    for r in evidence["statistics"]:
        lo, hi = r["implied_90"]
        flag = " **outside**" if r["outside"] else ""
        held = r.get("lopo_90")
        held_text = (
            "n/a"
            if held is None
            else f"{held[0]:.2f}-{held[1]:.2f}{' **outside**' if r.get('lopo_outside') else ''}"
        )
        lines.append(
            f"| {r['id']} | {r['observed']:.3f} ({r['k']}/{r['n']}) | "
            f"{r['implied_mean']:.3f} ({lo:.2f}-{hi:.2f}) | "
            f"{r['predictive_90'][0]:.2f}-{r['predictive_90'][1]:.2f}{flag} | {held_text} |"
        )
    for figure in figures:
        if figure.endswith(".png"):
            lines += ["", f"![{figure}]({figure}) ([SVG]({figure[: -len('.png')]}.svg))"]
    return [*lines, ""]


def _truth_table(result: Mapping[str, object]) -> list[str]:
    lines = [
        f"## {result['cohort']}",
        "",
        f"{result['n']} patients, prevalence {result['prevalence_truth']:.3f} (truth), "
        f"{result['prevalence_label']:.3f} (label).",
        "",
        "| method | AUC | AUC raw | Brier | log loss | ECE | cal. intercept | cal. slope "
        "| AUC *label* | ECE *label* |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, m in result["methods"].items():
        t, lab = m["truth"], m["label"]
        lines.append(
            f"| {key} | {_fmt(t['auc'])} | {_fmt(m.get('auc_raw'))} | {_fmt(t['brier'])} | "
            f"{_fmt(t['log_loss'])} | {_fmt(t['ece'])} | {_fmt(t['calibration_intercept'])} "
            f"| {_fmt(t['calibration_slope'])} | {_fmt(lab['auc'])} | {_fmt(lab['ece'])} |"
        )
    return lines


def _ci(entry: Mapping[str, float]) -> str:
    return f"{entry['estimate']:.3f} ({entry['low']:.3f} to {entry['high']:.3f})"


def _label_only_section(result: Mapping[str, object]) -> list[str]:
    """A cohort scored against its recorded label: every metric with its bootstrap interval."""
    methods = result["methods"]
    first = next((m["label_ci"] for m in methods.values() if "label_ci" in m), None)
    lines = [
        f"## {result['cohort']}",
        "",
        f"{result['n']} patients ({result['n_unlabelled']} without a recorded label, left out), "
        f"prevalence {result['prevalence_label']:.3f} by the recorded label. No latent truth: "
        "every metric is against the recorded label, which carries the recording clinician's "
        "own errors.",
        "",
    ]
    if first is None:
        return [
            *lines,
            "| method | AUC | Brier | ECE | cal. intercept | cal. slope |",
            "|---|---|---|---|---|---|",
            *(
                f"| {key} | {_fmt(m['label']['auc'])} | {_fmt(m['label']['brier'])} | "
                f"{_fmt(m['label']['ece'])} | {_fmt(m['label']['calibration_intercept'])} | "
                f"{_fmt(m['label']['calibration_slope'])} |"
                for key, m in methods.items()
            ),
        ]
    level = f"{100 * first['level']:g} %"
    shown = [t for t in (0.2, 0.3, 0.5) if t in first["net_benefit"]["thresholds"]]
    lines += [
        f"Estimates with stratified bootstrap {level} intervals ({first['replicates']} "
        "replicates, percentile). The ECE's bootstrap distribution lies above its estimate "
        "(resampling adds binning noise); read its interval as a range of plausible values "
        "of the binned statistic, not as centred on the estimate.",
        "",
        "| method | AUC | Brier | ECE | cal. intercept | cal. slope | "
        + " | ".join(f"net benefit at {t:g}" for t in shown)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(shown),
    ]
    for key, m in methods.items():
        ci = m.get("label_ci")
        if ci is None:
            continue
        nb = ci["net_benefit"]
        cells = [
            _ci({k: nb[k][nb["thresholds"].index(t)] for k in ("estimate", "low", "high")})
            for t in shown
        ]
        lines.append(
            f"| {key} | {_ci(ci['auc'])} | {_ci(ci['brier'])} | {_ci(ci['ece'])} | "
            f"{_ci(ci['calibration_intercept'])} | {_ci(ci['calibration_slope'])} | "
            + " | ".join(cells)
            + " |"
        )
    if "dn4" in methods:
        lines += [
            "",
            f"DN4 raw-score AUC against the label: {_fmt(methods['dn4'].get('auc_raw'))}.",
        ]
    return lines


def _save(fig, out: Path, stem: str) -> list[str]:
    """The figure as PNG and SVG, the same bytes for the same figure."""
    import matplotlib

    files = []
    with matplotlib.rc_context({"svg.hashsalt": "npprob"}):
        fig.savefig(out / f"{stem}.png", dpi=100, metadata={"Software": None})
        fig.savefig(out / f"{stem}.svg", metadata={"Date": None, "Creator": None})
    files += [f"{stem}.png", f"{stem}.svg"]
    return files


def _reliability(name: str, y: np.ndarray, probs: Mapping[str, np.ndarray], shown):
    """Reliability diagram (equal-mass bins) over a histogram of the predictions."""
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
    )
    top.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    bins = np.linspace(0, 1, 21)
    for key in shown:
        p = probs[key]
        ok = np.isfinite(p) & (y >= 0)
        frac, mean = calibration_curve(y[ok], p[ok], n_bins=10, strategy="quantile")
        (line,) = top.plot(mean, frac, marker="o", ms=3, label=key)
        bottom.hist(p[ok], bins=bins, histtype="step", color=line.get_color(), label=key)
    top.set(title=f"Reliability: {name}", ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1))
    top.legend(fontsize=8)
    bottom.set(xlabel="predicted probability", ylabel="patients")
    fig.tight_layout()
    return fig


def _plots(summary, probabilities, truths, out: Path) -> dict[str, list[str]]:
    """Per cohort: reliability with a histogram, ROC and decision curves, coverage; PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    figures: dict[str, list[str]] = {}
    for result in summary["cohorts"]:
        name = result["cohort"]
        reference = result.get("reference", "truth")
        y = truths[name]
        probs = probabilities[name]
        shown = [k for k in ("npprob", "logistic_regression", "naive_bayes", "dn4", "neupsig")
                 if k in probs]  # fmt: skip
        files = []
        fig = _reliability(f"{name} (against the {reference})", y, probs, shown)
        files += _save(fig, out, f"{name}_reliability")
        plt.close(fig)
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        ax = axes[0]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for key in shown:
            p = probs[key]
            ok = np.isfinite(p) & (y >= 0)
            frac, mean = calibration_curve(y[ok], p[ok], n_bins=10, strategy="quantile")
            ax.plot(mean, frac, marker="o", ms=3, label=key)
        ax.set(title="Reliability (equal-mass bins)", xlabel="predicted", ylabel="observed")
        ax.legend(fontsize=8)
        ax = axes[1]
        for key in shown:
            p = probs[key]
            ok = np.isfinite(p) & (y >= 0)
            fpr, tpr, _ = roc_curve(y[ok], p[ok])
            auc = result["methods"][key][reference]["auc"]
            ax.plot(fpr, tpr, label=f"{key} ({auc:.3f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        ax.set(title=f"ROC ({reference})", xlabel="1 - specificity", ylabel="sensitivity")
        ax.legend(fontsize=8)
        ax = axes[2]
        curve = result["decision_curve"]
        t = curve["thresholds"]
        ax.plot(t, curve["treat_all"], color="grey", ls=":", label="treat all")
        ax.axhline(0, color="black", lw=0.8, label="treat none")
        for key in shown:
            if key in curve:
                ax.plot(t, curve[key], label=key)
        ax.set(title="Decision curve", xlabel="threshold probability", ylabel="net benefit")
        ax.set_ylim(-0.05, max(0.05, max(curve["npprob"]) * 1.1))
        ax.legend(fontsize=8)
        fig.tight_layout()
        files += _save(fig, out, f"{name}_curves")
        plt.close(fig)
        if "coverage" in result:
            fig, ax = plt.subplots(figsize=(4.5, 4))
            levels = [float(k) for k in result["coverage"]]
            ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
            ax.plot(levels, list(result["coverage"].values()), marker="o", label="credible")
            if "coverage_prediction" in result:
                ax.plot(levels, list(result["coverage_prediction"].values()), marker="s",
                        label="prediction (new population)")  # fmt: skip
                ax.legend(fontsize=8, loc="lower right")
            ax.set(title="Interval coverage of the true P", xlabel="nominal", ylabel="observed",
                   xlim=(0.4, 1), ylim=(0, 1))  # fmt: skip
            fig.tight_layout()
            files += _save(fig, out, f"{name}_coverage")
            plt.close(fig)
        figures[name] = files
    if summary.get("evidence"):
        fig = _evidence_figure(summary["evidence"])
        figures["evidence"] = _save(fig, out, "evidence_statistics")
        plt.close(fig)
    return figures


def _evidence_figure(evidence: Mapping[str, object]):
    """Each published statistic against its in-sample and leave-one-publication-out intervals."""
    import matplotlib.pyplot as plt

    rows = sorted(evidence["statistics"], key=lambda r: r["observed"])
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.16 * len(rows) + 1.8), sharey=True)
    panels = (
        ("predictive_90", "outside", f"Fitted: 90 % predictive ({_or_nan(evidence.get('coverage_90')):.2f} cover)"),
        ("lopo_90", "lopo_outside", "Without its publication (PSIS): "
         f"{_or_nan((evidence.get('leave_one_publication_out') or {}).get('coverage_90')):.2f} cover"),
    )  # fmt: skip
    for ax, (key, flag, title) in zip(axes, panels, strict=True):
        for j, r in enumerate(rows):
            if r.get(key) is None:
                continue
            low, high = r[key]
            colour = "tab:red" if r.get(flag) else "tab:blue"
            ax.plot([low, high], [j, j], color=colour, lw=2, solid_capstyle="butt")
        ax.scatter(
            [r["observed"] for r in rows], y, s=8, color="black", zorder=3, label="observed k/n"
        )
        ax.set(title=title, xlabel="proportion", xlim=(0, 1))
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_yticks(y, [r["id"] for r in rows], fontsize=5)
    fig.tight_layout()
    return fig
