"""NUTS on the marginal likelihood recovers a known latent-class truth.

A small network (a recorded context, a latent class, five findings, a noisy
label) is sampled from parameters drawn from its prior; the class is then
hidden and ``fit_pymc_marginal`` fits findings plus label. One fit (2 chains of
600 draws) serves every assertion, so pytest-xdist never runs it twice.

The slow test does the same on the clinical network: 3,000 clinic patients,
clinician labels, 10 % of findings missing, lesion, mechanisms and class latent,
selection on chronic pain modelled; the truth must fall inside the 95 %
intervals for at least 90 % of the parameters the data inform.
"""

from __future__ import annotations

import numpy as np
import pytest

from npprob.learning import SamplerConfig, fit_pymc_marginal
from npprob.learning.marginal import LabelModel
from npprob.network.sampling import forward_sample
from npprob.network.spec import parse_spec

pytestmark = [
    pytest.mark.pymc,
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning"),
]

FINDING = """
[variables.{name}]
role = "sign"
states = ["absent", "present"]

[cpts.{name}]
parents = ["cls"]
ess = 10
rows = [
  {{ when = {{ cls = "absent" }}, p = {low}, source = "test", tag = "S", reason = "test" }},
  {{ when = {{ cls = "present" }}, p = {high}, source = "test", tag = "S", reason = "test" }},
]
"""

SMALL = """
[network]
name = "latent-class-test"

[variables.context]
role = "history"
states = ["a", "b"]

[variables.cls]
role = "latent"
states = ["absent", "present"]

[cpts.context]
ess = 10
rows = [{ when = {}, p = 0.4, source = "test", tag = "S", reason = "test" }]

[cpts.cls]
parents = ["context"]
ess = 10
rows = [
  { when = { context = "a" }, p = 0.25, source = "test", tag = "S", reason = "test" },
  { when = { context = "b" }, p = 0.65, source = "test", tag = "S", reason = "test" },
]
""" + "".join(
    FINDING.format(name=f"f{k}", low=low, high=high)
    for k, (low, high) in enumerate([(0.1, 0.7), (0.2, 0.8), (0.3, 0.6), (0.05, 0.5), (0.4, 0.9)])
)

N_PATIENTS = 2500
DRAWS = 600


def small_problem():
    """The small network, its true parameters, and a cohort with the class hidden."""
    spec = parse_spec(SMALL, name="small")
    net = spec.network
    truth = {k: v[0] for k, v in spec.prior_draws(1, seed=21).items()}
    rng = np.random.default_rng(22)
    full = np.asarray(forward_sample(net, N_PATIENTS, rng, truth), dtype=np.int16)
    cls = full[:, net.index("cls")]
    accuracy = 0.85
    label = np.where(rng.random(N_PATIENTS) < accuracy, cls, 1 - cls).astype(np.int16)
    label[rng.random(N_PATIENTS) < 0.1] = -1
    codes = full.copy()
    codes[:, net.index("cls")] = -1
    findings = [net.index(f"f{k}") for k in range(5)]
    block = codes[:, findings]
    block[rng.random(block.shape) < 0.15] = -1
    codes[:, findings] = block
    return spec, truth, codes, label, cls


def fit_small(spec, codes, label, sampler: str = "pymc", chains: int = 2):
    return fit_pymc_marginal(
        spec, codes, label=label,
        label_model=LabelModel.from_accuracy("cls", 0.85, 20),
        conditioned=("context",),
        config=SamplerConfig(
            draws=DRAWS, tune=DRAWS, chains=chains, cores=2, seed=3, sampler=sampler
        ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def small_fit():
    spec, truth, codes, label, cls = small_problem()
    return spec, truth, fit_small(spec, codes, label), codes, label, cls


def test_small_fit_passes_its_diagnostics(small_fit):
    _, _, fit, _, _, _ = small_fit
    assert fit.diagnostics.ok, fit.diagnostics.problems
    assert fit.likelihood == "pymc-marginal"  # the class here is not called neuropathic
    assert fit.summary["n_patients"] == N_PATIENTS
    assert fit.summary["latent"] == ["cls"]


def test_small_fit_recovers_the_truth(small_fit):
    spec, truth, fit, _, _, _ = small_fit
    net = spec.network
    for name in ["cls", *[f"f{k}" for k in range(5)]]:
        draws = fit.draws[name][..., 1]  # P(second state | parent)
        assert draws.shape == (2 * DRAWS, *net.cpt_shape(name)[:-1])
        mean, sd = draws.mean(axis=0), draws.std(axis=0)
        np.testing.assert_array_less(np.abs(mean - truth[name][..., 1]), 4 * sd + 1e-3)
        assert (sd < 0.1).all(), name  # the data, not the prior, decide


def test_small_fit_learns_the_label_error_rates(small_fit):
    _, _, fit, _, label, cls = small_fit
    model = fit.summary["label_model"]
    seen = label >= 0
    true_sens = np.mean(label[seen & (cls == 1)])
    true_fpr = np.mean(label[seen & (cls == 0)])
    low, high = model["label_sensitivity"]["interval_95"]
    assert low - 0.02 <= true_sens <= high + 0.02
    low, high = model["label_false_positive_rate"]["interval_95"]
    assert low - 0.02 <= true_fpr <= high + 0.02
    assert model["label_sensitivity"]["mean"] > model["label_false_positive_rate"]["mean"]


def test_an_unknown_sampler_is_refused():
    with pytest.raises(ValueError, match="sampler must be one of"):
        SamplerConfig(sampler="stan")


@pytest.mark.slow
def test_nutpie_gives_the_same_posterior_as_pymc(small_fit):
    # The same PyMC model sampled by nutpie: every CPT entry's posterior mean agrees
    # with PyMC's NUTS within Monte Carlo error (4 combined standard errors, with the
    # effective sample size taken as a quarter of the draws to allow for autocorrelation).
    spec, _, reference, codes, label, _ = small_fit
    # Four chains: r-hat from two chains of 600 draws is too noisy for the 1.01 rule.
    fit = fit_small(spec, codes, label, sampler="nutpie", chains=4)
    assert fit.diagnostics.ok, fit.diagnostics.problems
    for name in ["cls", *[f"f{k}" for k in range(5)]]:
        a, b = reference.draws[name][..., 1], fit.draws[name][..., 1]
        se = np.sqrt(a.var(axis=0) / (len(a) / 4) + b.var(axis=0) / (len(b) / 4))
        np.testing.assert_array_less(np.abs(a.mean(axis=0) - b.mean(axis=0)), 4 * se)
    for key in ("label_sensitivity", "label_false_positive_rate"):
        low, high = reference.summary["label_model"][key]["interval_95"]
        assert low <= fit.summary["label_model"][key]["mean"] <= high


def test_small_fit_root_is_the_exact_conjugate_update(small_fit):
    spec, _, fit, codes, _, _ = small_fit
    net = spec.network
    n_b = int((codes[:, net.index("context")] == 1).sum())
    alpha = spec.concentration["context"]
    expected = (alpha[1] + n_b) / (alpha.sum() + len(codes))
    assert fit.draws["context"][:, 1].mean() == pytest.approx(expected, abs=0.01)


@pytest.mark.slow
def test_clinical_latent_class_recovery():
    from npprob.cohorts import SimulationOptions, load_settings, simulate
    from npprob.io.resources import clinical_spec_path
    from npprob.network.spec import load_spec

    spec = load_spec(clinical_spec_path())
    net = spec.network
    setting = load_settings(net)["consecutive_pain_clinic"]
    cohort = simulate(spec, setting, 3000, 31, SimulationOptions(label="clinician", mcar=0.1))
    fit = fit_pymc_marginal(
        spec, cohort.recorded.codes, label=cohort.label,
        label_model=LabelModel.from_accuracy("neuropathic", 0.877, 20),
        selection={"chronic_pain": "present"},
        config=SamplerConfig(draws=500, tune=500, chains=4, cores=2, seed=4),
    )  # fmt: skip
    assert fit.likelihood == "latent-class"
    assert fit.diagnostics.divergences == 0
    assert not [p for p in fit.diagnostics.problems if "label switching" in p]
    inside, total = 0, 0
    for name, alpha in spec.concentration.items():
        if name in ("aetiology", "chronic_pain"):
            continue
        draws = fit.draws[name].reshape(fit.draws[name].shape[0], -1)
        prior_sd = np.sqrt(
            (alpha / alpha.sum(-1, keepdims=True))
            * (1 - alpha / alpha.sum(-1, keepdims=True))
            / (alpha.sum(-1, keepdims=True) + 1)
        ).ravel()
        post_sd = draws.std(axis=0)
        truth = np.asarray(net.cpt(name)).ravel()
        low, high = np.quantile(draws, [0.025, 0.975], axis=0)
        # Parameters the data inform: the posterior is at least 20 % narrower than the prior.
        informed = (alpha.ravel() > 0) & (post_sd < 0.8 * prior_sd)
        inside += int(((truth >= low) & (truth <= high))[informed].sum())
        total += int(informed.sum())
    assert total >= 40
    assert inside / total >= 0.90, (inside, total)
