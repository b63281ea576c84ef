"""Data-augmentation Gibbs sampling of the marginal posterior, against independent oracles.

* The latent draw given the tables: one patient of the clinical network, drawn
  40,000 times, against the exact conditional computed by brute force over the
  enumerated variables' joint states from the CPTs.
* The table draw given complete data: against the Dirichlet posterior's moments.
* The whole sampler on a small network with a latent class, a selection, a
  missing finding with a child and a noisy label: against NUTS on the PyMC
  marginal model (variable elimination, the selection as a denominator), a
  separate implementation of the same posterior; and a control that ignoring
  the selection moves the posterior, so the comparison has power.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, load_settings, simulate
from npprob.io.resources import clinical_spec_path
from npprob.learning.elimination import LABEL
from npprob.learning.gibbs import cpt_draws, latent_draws, prepare_gibbs, sample_gibbs
from npprob.learning.label import LabelModel
from npprob.learning.problem import prepare_problem
from npprob.network.sampling import forward_sample
from npprob.network.spec import load_spec, parse_spec


def _row(when: str, p: float) -> str:
    return f'{{ when = {{ {when} }}, p = {p}, source = "test", tag = "S", reason = "test" }}'


def _binary(name: str, role: str, parent: str | None, p: tuple[float, ...], ess: int = 10) -> str:
    head = f'[variables.{name}]\nrole = "{role}"\nstates = ["absent", "present"]\n\n'
    if parent is None:
        rows = [_row("", p[0])]
        parents = ""
    else:
        states = ("a", "b") if parent == "site" else ("absent", "present")
        rows = [_row(f'{parent} = "{s}"', q) for s, q in zip(states, p, strict=True)]
        parents = f'parents = ["{parent}"]\n'
    return (
        head + f"[cpts.{name}]\n{parents}ess = {ess}\nrows = [\n  " + ",\n  ".join(rows) + "\n]\n"
    )


SMALL = (
    '[network]\nname = "gibbs-test"\n\n'
    '[variables.site]\nrole = "history"\nstates = ["a", "b"]\n\n'
    "[cpts.site]\ness = 10\nrows = ["
    + _row("", 0.4)
    + "]\n\n"
    + _binary("cls", "latent", "site", (0.3, 0.6))
    + _binary("pain", "context", "cls", (0.35, 0.8))
    + "".join(
        _binary(f"f{k}", "sign", "cls", pq)
        for k, pq in enumerate([(0.1, 0.7), (0.2, 0.8), (0.3, 0.6)])
    )
    + _binary("g", "sign", "cls", (0.2, 0.7))
    + _binary("h", "sign", "g", (0.15, 0.75))
)


def small_cohort(n: int = 400):
    """Selected patients (pain present) of the small network, the class hidden."""
    spec = parse_spec(SMALL, name="gibbs-small")
    net = spec.network
    truth = {k: v[0] for k, v in spec.prior_draws(1, seed=5).items()}
    rng = np.random.default_rng(6)
    full = np.asarray(forward_sample(net, 4 * n, rng, truth), dtype=np.int16)
    full = full[full[:, net.index("pain")] == 1][:n]
    cls = full[:, net.index("cls")]
    label = np.where(rng.random(len(full)) < 0.85, cls, 1 - cls).astype(np.int16)
    label[rng.random(len(full)) < 0.1] = -1
    codes = full.copy()
    codes[:, net.index("cls")] = -1
    for name in ("f0", "f1", "f2", "g", "h"):
        col = net.index(name)
        codes[rng.random(len(codes)) < 0.2, col] = -1
    return spec, codes, label


# --- the latent draw given the tables --------------------------------------------


def _brute_force(spec, codes_row, label_value, label_model, enumerated, conditioned):
    """P(enumerated joint state | recorded) from the CPTs, by enumeration."""
    net = spec.network
    cards = [len(net.variable(net.names[v]).states) for v in enumerated]
    configs = list(itertools.product(*[range(c) for c in cards]))
    observed = {i: int(c) for i, c in enumerate(codes_row) if c >= 0}
    label_table = label_model.concentration / label_model.concentration.sum(axis=1, keepdims=True)
    weights = []
    for config in configs:
        state = dict(observed) | dict(zip(enumerated, config, strict=True))
        log_p = 0.0
        for v, value in state.items():
            name = net.names[v]
            if name in conditioned:
                continue
            index = (*(state[net.index(p)] for p in net.parents(name)), value)
            log_p += np.log(max(float(np.asarray(net.cpt(name))[index]), 1e-300))
        if label_value >= 0:
            log_p += np.log(label_table[state[net.index(label_model.parent)], label_value])
        weights.append(log_p)
    weights = np.exp(np.array(weights) - max(weights))
    return configs, weights / weights.sum()


@pytest.mark.parametrize("patient", [0, 7])
def test_the_latent_draw_is_the_exact_conditional(patient):
    spec = load_spec(clinical_spec_path())
    net = spec.network
    setting = load_settings(net)["consecutive_pain_clinic"]
    cohort = simulate(spec, setting, 20, 3, SimulationOptions(label="clinician", mcar=0.3))
    row = np.array(cohort.recorded.codes[patient], dtype=np.int16)
    # Recorded for one patient; missing for the other, where, having children, it
    # joins the draw.
    loss = net.index("sensory_loss")
    row[loss] = cohort.truth[patient, loss] if patient == 0 else -1
    label_value = int(cohort.label[patient])
    n = 40_000
    label_model = LabelModel.from_accuracy(spec.target.name, 0.85, 20)
    problem = prepare_problem(
        net, np.tile(row, (n, 1)), label=np.full(n, label_value), selection=spec.context
    )
    gibbs = prepare_gibbs(spec, problem, label_model)
    assert len(gibbs.blocks) == 1
    enumerated = gibbs.blocks[0].enumerated
    assert (net.index("sensory_loss") in enumerated) == (patient == 7)
    drawn = latent_draws(gibbs, gibbs.start, np.random.default_rng(8))
    codes_row = np.array(problem.codes[0])
    configs, p = _brute_force(spec, codes_row, label_value, label_model, enumerated,
                              problem.conditioned)  # fmt: skip
    joint = np.column_stack([drawn[v] for v in enumerated])
    for config, prob in zip(configs, p, strict=True):
        freq = np.mean(np.all(joint == np.array(config), axis=1))
        assert abs(freq - prob) <= 5 * np.sqrt(prob * (1 - prob) / n) + 1e-4, (config, freq, prob)


# --- the table draw given complete data --------------------------------------------


def test_complete_data_gives_the_dirichlet_posterior():
    spec = parse_spec(SMALL, name="gibbs-small")
    net = spec.network
    rng = np.random.default_rng(11)
    codes = np.asarray(forward_sample(net, 300, rng), dtype=np.int16)
    problem = prepare_problem(net, codes, conditioned=("site",))
    gibbs = prepare_gibbs(spec, problem)
    assert gibbs.blocks == [] or all(len(b.enumerated) == 0 for b in gibbs.blocks)
    draws = cpt_draws(gibbs, sample_gibbs(gibbs, draws=4000, tune=0, chains=1, seed=2)[0])
    for name in ("cls", "pain", "f0", "h"):
        parents = [net.index(p) for p in net.parents(name)]
        col = net.index(name)
        for parent_state in (0, 1):
            rows = codes[:, parents[0]] == parent_state
            k = np.sum(codes[rows, col] == 1)
            a, b = spec.concentration[name][parent_state][::-1]  # (present, absent)
            alpha, beta = a + k, b + rows.sum() - k
            mean = alpha / (alpha + beta)
            var = mean * (1 - mean) / (alpha + beta + 1)
            got = draws[name][:, parent_state, 1]
            assert abs(got.mean() - mean) < 5 * np.sqrt(var / len(got)), name
            assert abs(got.var() / var - 1) < 0.15, name


# --- the whole sampler against NUTS ------------------------------------------------


def _gibbs_tables(spec, codes, label, selection, seed=4):
    problem = prepare_problem(
        spec.network, codes, label=label, selection=selection, conditioned=("site",)
    )
    gibbs = prepare_gibbs(spec, problem, LabelModel.from_accuracy("cls", 0.85, 20))
    flat = sample_gibbs(gibbs, draws=3000, tune=300, chains=2, seed=seed)
    return cpt_draws(gibbs, flat)


@pytest.mark.pymc
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_gibbs_and_nuts_give_the_same_posterior():
    import arviz as az

    from npprob.learning import SamplerConfig, fit_pymc_marginal

    spec, codes, label = small_cohort()
    nuts = fit_pymc_marginal(
        spec, codes, label=label, label_model=LabelModel.from_accuracy("cls", 0.85, 20),
        selection=spec.context, conditioned=("site",),
        config=SamplerConfig(draws=1500, tune=1000, chains=2, cores=2, seed=3),
    )  # fmt: skip
    assert nuts.diagnostics.ok, nuts.diagnostics.problems
    gibbs = _gibbs_tables(spec, codes, label, spec.context)

    def moments(draws_2d):  # (chains, draws)
        ess = float(az.ess(np.asarray(draws_2d)))
        return draws_2d.mean(), draws_2d.std(), draws_2d.std() / np.sqrt(ess)

    compared = 0
    for name in ("cls", "pain", "f0", "f1", "f2", "g", "h"):
        for row in (0, 1):
            g_mean, _, g_se = moments(gibbs[name][:, :, row, 1])
            n_draws = nuts.draws[name][:, row, 1].reshape(2, -1)
            n_mean, n_sd, n_se = moments(n_draws)
            assert abs(g_mean - n_mean) < 5 * np.hypot(g_se, n_se) + 0.01 * n_sd, (name, row)
            compared += 1
    label_post = nuts.summary["label_model"]
    g_sens = gibbs[LABEL][:, :, 1, 1]
    assert abs(g_sens.mean() - label_post["label_sensitivity"]["mean"]) < 0.03
    g_fpr = gibbs[LABEL][:, :, 0, 1]
    assert abs(g_fpr.mean() - label_post["label_false_positive_rate"]["mean"]) < 0.03
    assert compared == 14


def test_ignoring_the_selection_moves_the_posterior():
    spec, codes, label = small_cohort()
    with_ghosts = _gibbs_tables(spec, codes, label, spec.context)
    # Every patient has pain: without the selection, P(pain | class) is pulled to 1.
    without = _gibbs_tables(spec, codes, label, None)
    p_with = with_ghosts["pain"][..., 1].mean(axis=(0, 1))
    p_without = without["pain"][..., 1].mean(axis=(0, 1))
    assert (p_without > 0.9).all()
    assert (p_without - p_with > 0.1).all()


def test_the_same_seed_gives_the_same_draws():
    spec, codes, label = small_cohort(120)
    problem = prepare_problem(
        spec.network, codes, label=label, selection=spec.context, conditioned=("site",)
    )
    gibbs = prepare_gibbs(spec, problem, LabelModel.from_accuracy("cls", 0.85, 20))
    first = sample_gibbs(gibbs, draws=20, tune=5, chains=2, seed=9)
    again = sample_gibbs(gibbs, draws=20, tune=5, chains=2, seed=9)
    other = sample_gibbs(gibbs, draws=20, tune=5, chains=2, seed=10)
    assert first.tobytes() == again.tobytes()
    assert not np.array_equal(first, other)
    assert not np.array_equal(first[0], first[1])  # the chains differ


THREE_STATES = (
    '[network]\nname = "gibbs-three"\n\n'
    '[variables.site]\nrole = "history"\nstates = ["a", "b"]\n\n'
    "[cpts.site]\ness = 10\nrows = [" + _row("", 0.4) + "]\n\n"
    '[variables.grade]\nrole = "latent"\nstates = ["low", "mid", "high"]\n\n'
    '[cpts.grade]\nkind = "table"\nparents = ["site"]\ness = 10\nrows = [\n'
    '  { when = { site = "a" }, p = [0.5, 0.3, 0.2], source = "test", tag = "S", reason = "t" },\n'
    '  { when = { site = "b" }, p = [0.2, 0.3, 0.5], source = "test", tag = "S", reason = "t" },\n'
    "]\n\n"
    '[variables.stage]\nrole = "sign"\nstates = ["one", "two", "three"]\n\n'
    '[cpts.stage]\nkind = "table"\nparents = ["grade"]\ness = 10\nrows = [\n'
    '  { when = { grade = "low" }, p = [0.7, 0.2, 0.1], source = "test", tag = "S", reason = "t" },\n'
    '  { when = { grade = "mid" }, p = [0.2, 0.6, 0.2], source = "test", tag = "S", reason = "t" },\n'
    '  { when = { grade = "high" }, p = [0.1, 0.3, 0.6], source = "test", tag = "S", reason = "t" },\n'
    "]\n\n"
    '[variables.f0]\nrole = "sign"\nstates = ["absent", "present"]\n\n'
    '[cpts.f0]\nkind = "table"\nparents = ["stage", "grade"]\ness = 10\nrows = [\n'
    + ",\n".join(
        f'  {{ when = {{ stage = "{s}", grade = "{g}" }}, p = [{1 - q:.2f}, {q:.2f}], '
        'source = "test", tag = "S", reason = "t" }'
        for (s, g), q in zip(
            itertools.product(("one", "two", "three"), ("low", "mid", "high")),
            (0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.5, 0.7, 0.9),
            strict=True,
        )
    )
    + "\n]\n"
)


@pytest.mark.parametrize("stage", [-1, 2])
def test_three_state_variables_are_drawn_exactly(stage):
    """A three-state latent, and a three-state finding with a child when it is missing."""
    spec = parse_spec(THREE_STATES, name="gibbs-three")
    net = spec.network
    row = np.array([1, -1, stage, 1], dtype=np.int16)
    n = 30_000
    problem = prepare_problem(net, np.tile(row, (n, 1)), conditioned=("site",))
    gibbs = prepare_gibbs(spec, problem)
    enumerated = gibbs.blocks[0].enumerated
    expected = (1,) if stage >= 0 else (1, 2)
    assert enumerated == expected
    drawn = latent_draws(gibbs, gibbs.start, np.random.default_rng(3))
    no_label = LabelModel.from_accuracy("grade", 0.9, 1)  # unused: no label recorded
    configs, p = _brute_force(spec, problem.codes[0], -1, no_label, enumerated, ("site",))
    joint = np.column_stack([drawn[v] for v in enumerated])
    assert len(configs) == 3 ** len(enumerated)
    for config, prob in zip(configs, p, strict=True):
        freq = np.mean(np.all(joint == np.array(config), axis=1))
        assert abs(freq - prob) <= 5 * np.sqrt(prob * (1 - prob) / n) + 1e-4, (config, freq, prob)
