"""The latent-trait generator: its own structure, its stated rates, an exact true probability.

Oracles: the file's item rates (the generator must reproduce them averaged over the
trait), adaptive numerical integration over the trait (scipy ``quad``, not the
generator's Gauss-Hermite rule) for the true P(neuropathic | findings), and the
sampled truth itself (calibration of the true probability).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit

from npprob.cli import main
from npprob.cohorts.latent_trait import load_generator, simulate_latent_trait
from npprob.errors import DataFileError, ParameterError
from npprob.io.resources import clinical_spec
from npprob.io.settings import get_setting, load_settings

NET = clinical_spec().network
SETTINGS = load_settings(NET)
CLINIC = get_setting(SETTINGS, "consecutive_pain_clinic")
GENERATOR = load_generator(NET)
ITEMS = list(GENERATOR.items)


@pytest.fixture(scope="module")
def big():
    return simulate_latent_trait(NET, CLINIC, 100_000, 1, label="truth")


def column(data, name):
    return data.codes[:, NET.index(name)]


def test_item_rates_match_the_file_averaged_over_the_trait(big) -> None:
    condition = column(big, "aetiology")
    states = NET.variable("aetiology").states
    for name in ITEMS:
        item = column(big, name)
        rate_not = item[big.truth == 0].mean()
        assert rate_not == pytest.approx(GENERATOR.items[name]["p_not"], abs=0.01), name
        # Among neuropathic patients of one condition with enough of them.
        rows = (big.truth == 1) & (condition == states.index("polyneuropathy_diabetic"))
        expected = GENERATOR.items[name]["p_neuropathic"]["polyneuropathy_diabetic"]
        assert item[rows].mean() == pytest.approx(expected, abs=0.02), name
    # Brush allodynia is condition-specific: post-herpetic against radicular.
    brush = column(big, "brush_allodynia")
    for state, rate in (("herpes_zoster", 0.50), ("root_compression", 0.08)):
        rows = (big.truth == 1) & (condition == states.index(state))
        assert brush[rows].mean() == pytest.approx(rate, abs=0.03), state


def test_the_trait_correlates_the_self_reported_items_only(big) -> None:
    rows = big.truth == 0
    burning, tingling = column(big, "burning")[rows], column(big, "tingling")[rows]
    touch, pinprick = column(big, "hypoaesthesia_touch")[rows], column(big, "hypoaesthesia_pinprick")[rows]  # fmt: skip
    assert np.corrcoef(burning, tingling)[0, 1] > 0.08
    assert abs(np.corrcoef(touch, pinprick)[0, 1]) < 0.01  # independent given the class


def quad_p_true(generator, condition_state: str, findings: dict[str, int]) -> float:
    """P(neuropathic | condition, findings) by adaptive quadrature over the trait."""
    from npprob.cohorts.latent_trait import _intercept

    def lik(y: int) -> float:
        terms = []
        for name, x in findings.items():
            item = generator.items[name]
            loading = generator.trait_loading if item["trait"] else 0.0
            rate = item["p_neuropathic"][condition_state] if y else item["p_not"]
            terms.append((_intercept(rate, loading), loading, x))

        def integrand(t: float) -> float:
            value = stats.norm.pdf(t)
            for intercept, loading, x in terms:
                p = expit(intercept + loading * t)
                value *= p if x else 1 - p
            return value

        return integrate.quad(integrand, -12, 12, epsabs=1e-14, epsrel=1e-12)[0]

    prior = generator.p_neuropathic[condition_state]
    yes, no = prior * lik(1), (1 - prior) * lik(0)
    return yes / (yes + no)


def test_true_probability_equals_adaptive_quadrature() -> None:
    data = simulate_latent_trait(NET, CLINIC, 40, 3, mcar=0.3)
    states = NET.variable("aetiology").states
    for i in range(12):
        findings = {n: int(column(data, n)[i]) for n in ITEMS if column(data, n)[i] >= 0}
        expected = quad_p_true(GENERATOR, states[column(data, "aetiology")[i]], findings)
        assert data.p_true[i] == pytest.approx(expected, abs=1e-9)


def test_true_probability_is_calibrated_against_the_sampled_truth(big) -> None:
    order = np.argsort(big.p_true)
    for chunk in np.array_split(order, 10):
        assert big.p_true[chunk].mean() == pytest.approx(big.truth[chunk].mean(), abs=0.01)


def test_same_seed_same_bytes_and_evaluate_pairs_it(tmp_path, capsys) -> None:
    paths = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["simulate", "--generator", "latent-trait", "--n", "1500", "--seed", "9",
                "--label", "clinician", "--mcar", "0.1", "--no-parquet", "--out-dir", str(out)]  # fmt: skip
        assert main(args) == 0
        paths.append(out)
    assert (paths[0] / "cohort.csv").read_bytes() == (paths[1] / "cohort.csv").read_bytes()
    header = (paths[0] / "cohort.csv").read_text().splitlines()[0].split(",")
    assert "true_neuropathic" in header
    assert "true_lesion" not in header
    card = json.loads((paths[0] / "card.json").read_text())
    assert card["options"]["generator"] == "latent-trait"
    network_cohort = tmp_path / "net"
    assert main(["simulate", "--n", "1500", "--seed", "9", "--label", "clinician",
                 "--no-parquet", "--out-dir", str(network_cohort)]) == 0  # fmt: skip
    report = tmp_path / "report"
    assert main(["evaluate", "--cohort", str(network_cohort / "cohort.csv"),
                 "--cohort", str(paths[0] / "cohort.csv"), "--model", "prior",
                 "--out-dir", str(report), "--no-progress", "--no-plots"]) == 0  # fmt: skip
    summary = json.loads((report / "evaluation.json").read_text())
    (entry,) = summary["misspecification"]
    assert (entry["cohort"], entry["reference"], entry["generator"]) == ("a", "net", "latent-trait")
    by_name = {r["cohort"]: r for r in summary["cohorts"]}
    assert "targets" in by_name["net"]
    assert "targets" not in by_name["a"]  # acceptance targets are for network cohorts
    assert "coverage" in by_name["a"]  # the true probability is known
    capsys.readouterr()


def test_refusals(tmp_path, capsys) -> None:
    with pytest.raises(ParameterError, match="select"):
        simulate_latent_trait(NET, get_setting(SETTINGS, "case_control"), 10, 0)
    status = main(["simulate", "--generator", "latent-trait", "--mar", "--n", "10",
                   "--out-dir", str(tmp_path / "x")])  # fmt: skip
    assert status == 2
    assert "--mar" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    bad = tmp_path / "g.toml"
    with open(GENERATOR.path, encoding="utf-8") as fh:
        text = fh.read().replace("p_not = 0.35\ntrait = true", "p_not = 1.35\ntrait = true", 1)
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match="p_not"):
        load_generator(NET, bad)
    bad.write_text(text.replace("[items.burning]", "[items.gout]", 1).replace("1.35", "0.35"))
    with pytest.raises(DataFileError, match="gout"):
        load_generator(NET, bad)
