"""The evaluation report: targets, misspecification, a Markdown summary and PNG figures."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["TARGETS", "check_targets", "misspecification", "write_report"]

#: The acceptance targets on a consecutive-clinic cohort (against the latent truth).
TARGETS = {
    "auc_margin_over_dn4": 0.05,
    "ece_max": 0.02,
    "calibration_slope": (0.9, 1.1),
    "coverage_90": (0.88, 0.92),
}


def _setting(result: Mapping[str, object]) -> str | None:
    card = result.get("card") or {}
    return (card.get("setting") or {}).get("name")


def _trait(result: Mapping[str, object]) -> float:
    card = result.get("card") or {}
    return float((card.get("options") or {}).get("reporting_trait", 0.0))


def check_targets(result: Mapping[str, object]) -> dict[str, object]:
    """Each target met or not, with the measured value (against the latent truth)."""
    methods = result["methods"]
    npprob = methods["npprob"]["truth"]
    dn4_auc = methods["dn4"]["auc_raw"]
    checks = {
        "auc_vs_dn4": {
            "value": npprob["auc"] - dn4_auc,
            "target": f">= {TARGETS['auc_margin_over_dn4']}",
            "met": npprob["auc"] >= dn4_auc + TARGETS["auc_margin_over_dn4"],
        },
        "auc_vs_logistic_regression": {
            "value": npprob["auc"] - methods["logistic_regression"]["truth"]["auc"],
            "target": ">= 0",
            "met": npprob["auc"] >= methods["logistic_regression"]["truth"]["auc"],
        },
        "ece": {
            "value": npprob["ece"],
            "target": f"<= {TARGETS['ece_max']}",
            "met": npprob["ece"] <= TARGETS["ece_max"],
        },
        "calibration_slope": {
            "value": npprob["calibration_slope"],
            "target": "0.9-1.1",
            "met": 0.9 <= npprob["calibration_slope"] <= 1.1,
        },
    }
    if "coverage" in result:
        low, high = TARGETS["coverage_90"]
        value = result["coverage"]["0.9"]
        checks["coverage_90"] = {"value": value, "target": "0.88-0.92", "met": low <= value <= high}
    return checks


def misspecification(results: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """For each cohort with the reporting trait, each method's change against a trait-free cohort.

    Pairs cohorts of the same setting; positive ``delta_auc`` = the method got worse.
    """
    out = []
    for spoiled in results:
        if _trait(spoiled) <= 0:
            continue
        clean = next(
            (r for r in results if _trait(r) == 0 and _setting(r) == _setting(spoiled)), None
        )
        if clean is None:
            continue
        deltas = {}
        for key, m in spoiled["methods"].items():
            base = clean["methods"][key]["truth"]
            deltas[key] = {
                "delta_auc": base["auc"] - m["truth"]["auc"],
                "delta_ece": m["truth"]["ece"] - base["ece"],
            }
        out.append({"cohort": spoiled["cohort"], "reference": clean["cohort"], "methods": deltas})
    return out


def write_report(
    summary: Mapping[str, object],
    probabilities: Mapping[str, Mapping[str, np.ndarray]],
    truths: Mapping[str, np.ndarray],
    out_dir: str | os.PathLike[str],
    *,
    plots: bool = True,
) -> list[Path]:
    """Write ``evaluation.json``, ``report.md`` and (with ``plots``) PNG figures.

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
        lines += [
            f"## {name}",
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
        if "coverage" in result:
            cov = ", ".join(f"{k}: {v:.3f}" for k, v in result["coverage"].items())
            lines += [
                "",
                f"Credible-interval coverage of the true P(neuropathic | findings): {cov}.",
            ]
        if "targets" in result:
            lines += ["", "Targets (consecutive clinic):", ""]
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
            lines += ["", f"![{figure}]({figure})"]
        lines.append("")
    if summary.get("misspecification"):
        lines += ["## Misspecification (correlated reporting trait)", ""]
        for entry in summary["misspecification"]:
            lines += [
                f"{entry['cohort']} against {entry['reference']} (positive = worse):",
                "",
                "| method | AUC loss | ECE increase |",
                "|---|---|---|",
            ]
            for key, d in entry["methods"].items():
                lines.append(f"| {key} | {_fmt(d['delta_auc'])} | {_fmt(d['delta_ece'])} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def _plots(summary, probabilities, truths, out: Path) -> dict[str, list[str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    shown = ("npprob", "logistic_regression", "naive_bayes", "dn4", "neupsig")
    figures: dict[str, list[str]] = {}
    for result in summary["cohorts"]:
        name = result["cohort"]
        y = truths[name]
        probs = probabilities[name]
        files = []
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        ax = axes[0]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for key in shown:
            p = probs[key]
            ok = np.isfinite(p)
            frac, mean = calibration_curve(y[ok], p[ok], n_bins=10, strategy="quantile")
            ax.plot(mean, frac, marker="o", ms=3, label=key)
        ax.set(title="Reliability (equal-mass bins)", xlabel="predicted", ylabel="observed")
        ax.legend(fontsize=8)
        ax = axes[1]
        for key in shown:
            p = probs[key]
            ok = np.isfinite(p)
            fpr, tpr, _ = roc_curve(y[ok], p[ok])
            ax.plot(fpr, tpr, label=f"{key} ({result['methods'][key]['truth']['auc']:.3f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        ax.set(title="ROC (truth)", xlabel="1 - specificity", ylabel="sensitivity")
        ax.legend(fontsize=8)
        ax = axes[2]
        curve = result["decision_curve"]
        t = curve["thresholds"]
        ax.plot(t, curve["treat_all"], color="grey", ls=":", label="treat all")
        ax.axhline(0, color="black", lw=0.8, label="treat none")
        for key in shown:
            ax.plot(t, curve[key], label=key)
        ax.set(title="Decision curve", xlabel="threshold probability", ylabel="net benefit")
        ax.set_ylim(-0.05, max(0.05, max(curve["npprob"]) * 1.1))
        ax.legend(fontsize=8)
        fig.tight_layout()
        file = f"{name}_curves.png"
        fig.savefig(out / file, dpi=100, metadata={"Software": None})
        plt.close(fig)
        files.append(file)
        if "coverage" in result:
            fig, ax = plt.subplots(figsize=(4.5, 4))
            levels = [float(k) for k in result["coverage"]]
            ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
            ax.plot(levels, list(result["coverage"].values()), marker="o")
            ax.set(title="Interval coverage of the true P", xlabel="nominal", ylabel="observed",
                   xlim=(0.4, 1), ylim=(0, 1))  # fmt: skip
            fig.tight_layout()
            file = f"{name}_coverage.png"
            fig.savefig(out / file, dpi=100, metadata={"Software": None})
            plt.close(fig)
            files.append(file)
        figures[name] = files
    return figures
