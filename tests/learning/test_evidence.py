"""The evidence-synthesis likelihood: implied statistics against independent oracles.

* On a small network, every kind of statistic (a finding, the target, a tool's
  positive rate with a condition-scored item and negative points) equals the ratio
  of two sums over the full joint table (brute force, no npprob inference).
* On the clinical network, at the specification's means, every published
  statistic equals the exact engine's answer (the tool's positive rate by
  enumerating every pattern of its findings), care settings included.
* The tool's score as network variables equals enumeration for every shipped tool.
* A statistics file for the fit is refused without counts, family or publication.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from _oracles import joint_table, spec_of
from npprob.errors import DataFileError
from npprob.evaluation.implied import marginal_draws, screen_positive_draws
from npprob.inference.engine import Engine
from npprob.io.evidence import PublishedStatistic, read_statistics
from npprob.io.resources import clinical_spec, evidence_path, models_dir
from npprob.io.screening import load_tools
from npprob.io.settings import care_settings, case_mix, get_setting
from npprob.learning.elimination import FlatLayout
from npprob.learning.evidence import implied_probability_graph
from npprob.learning.screen_leaf import screen_leaf_network
from npprob.network import Network, Variable
from npprob.network.screening import SCORE, ScreeningTool, score_network

pytestmark = pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")


def toy_network(seed: int) -> Network:
    """A condition, the target, a mechanism, the context (pain) and four findings."""
    rng = np.random.default_rng(seed)
    variables = [
        Variable("aetiology", ("a", "b", "c"), role="history"),
        Variable("neuropathic", ("absent", "present"), role="target", positive="present"),
        Variable("mech", ("absent", "present"), role="latent"),
        Variable("pain", ("absent", "present"), role="context", positive="present"),
        *[Variable(f"f{i}", ("absent", "present"), role="symptom") for i in range(4)],
    ]
    parents = {"neuropathic": ["aetiology"], "mech": ["neuropathic", "aetiology"],
               "pain": ["neuropathic", "mech"], "f0": ["mech"], "f1": ["mech", "neuropathic"],
               "f2": ["neuropathic"], "f3": ["aetiology"]}  # fmt: skip
    card = {v.name: len(v.states) for v in variables}
    cpts = {v.name: rng.dirichlet(np.ones(card[v.name]) * 2,
                                  size=tuple(card[p] for p in parents.get(v.name, [])))
            for v in variables}  # fmt: skip
    return Network(variables, parents, cpts)


#: Points per item, a condition-scored item with negative points, a cut-off of 2.
TOY_TOOL = ScreeningTool("toy", "toy", 2.0, ((("f0",), (), 1.0), (("f1", "f2"), (), 1.5),
                                             ((), ("c",), -1.0), (("f3",), (), 1.0)), "", "D")  # fmt: skip


def brute(network: Network, given: dict[str, str], event, population: str = "context") -> float:
    """P(event | given, pain) over the full joint; ``event`` maps a configuration to bool.

    ``population = "all"`` leaves pain out of the population (a population risk).
    """
    spec = spec_of(network)
    joint = joint_table(spec)
    names = list(spec.names)
    given = {**given, "pain": "present"} if population == "context" else dict(given)
    total = hit = 0.0
    for states in itertools.product(*(range(c) for c in spec.cards)):
        cfg = {n: network.variable(n).states[s] for n, s in zip(names, states, strict=True)}
        if any(cfg[k] != v for k, v in given.items()):
            continue
        total += joint[states]
        hit += joint[states] * event(cfg)
    return hit / total


def toy_score(cfg: dict[str, str]) -> float:
    score = 0.0
    for findings, causes, points in TOY_TOOL.items:
        if any(cfg[f] == "present" for f in findings) or cfg["aetiology"] in causes:
            score += points
    return score


def stat(kind: str, given: dict[str, str], **kw) -> PublishedStatistic:
    return PublishedStatistic("s", "", kind, given, 0.5, (0.0, 1.0), "test", "D", **kw)


CASES = [
    (stat("finding", {"aetiology": "b"}, finding="f0", state="present"),
     lambda c: c["f0"] == "present"),
    (stat("finding", {"neuropathic": "present"}, finding="f1", state="absent"),
     lambda c: c["f1"] == "absent"),
    (stat("target", {"aetiology": "c"}), lambda c: c["neuropathic"] == "present"),
    (stat("target", {"f2": "present"}), lambda c: c["neuropathic"] == "present"),
    (stat("screen_positive", {}, tool="toy"), lambda c: toy_score(c) >= 2.0),
    (stat("screen_positive", {"neuropathic": "absent"}, tool="toy"),
     lambda c: toy_score(c) >= 2.0),
    (stat("screen_positive", {"aetiology": "c"}, tool="toy"), lambda c: toy_score(c) >= 2.0),
    # Population risks: everyone with the given states, in pain or not.
    (stat("target", {"aetiology": "c"}, population="all"), lambda c: c["neuropathic"] == "present"),
    (stat("finding", {"aetiology": "b"}, finding="pain", state="present", population="all"),
     lambda c: c["pain"] == "present"),
    (stat("screen_positive", {}, tool="toy", population="all"), lambda c: toy_score(c) >= 2.0),
]  # fmt: skip


@pytest.mark.parametrize("screen_leaf", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_implied_statistics_equal_the_full_joint(seed, screen_leaf) -> None:
    network = toy_network(seed)
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    statistics = [c[0] for c in CASES]
    got = np.exp(
        implied_probability_graph(
            network, flat, statistics, {"toy": TOY_TOOL}, screen_leaf=screen_leaf
        ).eval()
    )
    for value, (s, event) in zip(got, CASES, strict=True):
        expected = brute(network, s.given, event, s.population)
        assert value == pytest.approx(expected, abs=1e-10), s


@pytest.fixture(scope="module")
def clinical():
    spec = clinical_spec()
    return spec.network, load_tools(spec.network)


def test_published_statistics_equal_the_engine_at_the_prior_means(clinical) -> None:
    network, tools = clinical
    statistics = read_statistics(network, models_dir() / "published_statistics.toml")
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    got = np.exp(implied_probability_graph(network, flat, statistics, tools).eval())
    settings = care_settings(network)
    context = {v.name: v.states[v.positive_index] for v in network.context}
    for value, s in zip(got, statistics, strict=True):
        engine = Engine(network)
        if s.setting is not None:
            mix = case_mix(network, get_setting(settings, s.setting))
            engine = engine.with_root_distribution("aetiology", mix)
        given = {**context, **s.given} if s.population == "context" else dict(s.given)
        if s.kind == "screen_positive":
            expected = screen_positive_draws(engine, network, tools[s.tool], given)[0]
        elif s.kind == "target":
            expected = marginal_draws(engine, network, given, "neuropathic", "present")[0]
        else:
            expected = marginal_draws(engine, network, given, s.finding, s.state)[0]
        assert value == pytest.approx(expected, abs=1e-9), s.id


@pytest.mark.parametrize("tool", ["dn4", "dn4_interview", "lanss", "id_pain"])
@pytest.mark.parametrize("given", [{"aetiology": "osteoarthritis"},
                                   {"aetiology": "herpes_zoster", "neuropathic": "present"}])  # fmt: skip
def test_the_score_as_variables_equals_enumeration(clinical, tool, given) -> None:
    network, tools = clinical
    given = {"chronic_pain": "present", **given}
    extended = score_network(network, tools[tool])
    got = marginal_draws(Engine(extended), extended, given, SCORE, "positive")[0]
    expected = screen_positive_draws(Engine(network), network, tools[tool], given)[0]
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.0 < got < 1.0


@pytest.mark.parametrize("tool", ["dn4", "dn4_interview", "lanss", "id_pain"])
@pytest.mark.parametrize("given", [{"aetiology": "osteoarthritis"},
                                   {"aetiology": "herpes_zoster", "neuropathic": "present"},
                                   {"aetiology": "root_compression", "neuropathic": "absent"}])  # fmt: skip
def test_the_screen_as_one_leaf_equals_enumeration(clinical, tool, given) -> None:
    network, tools = clinical
    given = {"chronic_pain": "present", **given}
    leaf = screen_leaf_network(network, tools[tool])
    assert leaf is not None  # the shipped tools score leaves, each in one item
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    table = leaf.table(flat, FlatLayout(network).offset).eval()
    assert table.shape == (*leaf.cards, 2)
    extended = leaf.network.with_cpts({SCORE: table})
    got = marginal_draws(Engine(extended), extended, given, SCORE, "positive")[0]
    expected = screen_positive_draws(Engine(network), network, tools[tool], given)[0]
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.0 < got < 1.0


@pytest.mark.parametrize("seed", [0, 3])
def test_a_recorded_item_falls_back_to_the_score_chain(seed) -> None:
    # A population that records a scored finding ties its item to the evidence: the
    # items are no longer independent given their parents, and the chain serves.
    network = toy_network(seed)
    assert screen_leaf_network(network, TOY_TOOL, {"f0"}) is None
    assert screen_leaf_network(network, TOY_TOOL, {"neuropathic"}) is not None
    cases = [c for c in CASES if c[0].kind == "screen_positive"] + [
        (stat("screen_positive", {"f0": "present"}, tool="toy"), lambda c: toy_score(c) >= 2.0),
        (stat("screen_positive", {"f2": "absent", "aetiology": "c"}, tool="toy"),
         lambda c: toy_score(c) >= 2.0),
    ]  # fmt: skip
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    got = np.exp(
        implied_probability_graph(network, flat, [c[0] for c in cases], {"toy": TOY_TOOL}).eval()
    )
    for value, (s, event) in zip(got, cases, strict=True):
        assert value == pytest.approx(brute(network, s.given, event, s.population), abs=1e-10), s


def _tool(key: str, cutoff: float, *items) -> ScreeningTool:
    return ScreeningTool(key, key, cutoff, tuple(items), "", "D")


def _score(tool: ScreeningTool, cfg: dict[str, str]) -> float:
    # Brute force of a tool on a configuration: every item's points where it fires.
    return sum(
        points
        for findings, causes, points in tool.items
        if any(cfg[f] == "present" for f in findings) or cfg["aetiology"] in causes
    )


@pytest.mark.parametrize(
    ("tool", "leaf"),
    [
        # Exact as one leaf: the items' order matters for the cap (2 and 1 before -1).
        (_tool("order", 2.0, (("f0",), (), 2.0), (("f1",), (), 1.0), (("f2",), (), -1.0)), True),
        # Out of reach: never positive.
        (_tool("unreachable", 5.0, (("f0",), (), 1.0), (("f1",), (), 1.0)), True),
        # A scored variable with children (mech), one scored twice, the context (pain,
        # recorded by every population counted among people in pain): the chain.
        (_tool("child", 1.0, (("mech",), (), 1.0), (("f0",), (), 1.0)), False),
        (_tool("twice", 2.0, (("f0",), (), 1.0), (("f0", "f2"), (), 1.0)), False),
        (_tool("context", 1.5, (("pain",), (), 1.0), (("f2",), (), 1.0)), False),
    ],
    ids=lambda x: x.key if isinstance(x, ScreeningTool) else str(x),
)
@pytest.mark.parametrize("seed", [0, 4])
def test_the_screen_leaf_only_where_it_is_exact(seed, tool, leaf, monkeypatch) -> None:
    import npprob.learning.evidence as evidence

    network = toy_network(seed)
    chains = []
    chain = evidence.score_network
    monkeypatch.setattr(evidence, "score_network", lambda *a: chains.append(1) or chain(*a))
    statistics = [stat("screen_positive", {}, tool=tool.key),
                  stat("screen_positive", {"aetiology": "c"}, tool=tool.key),
                  stat("screen_positive", {"neuropathic": "absent"}, tool=tool.key,
                       population="all")]  # fmt: skip
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    got = np.exp(implied_probability_graph(network, flat, statistics, {tool.key: tool}).eval())
    assert (not chains) == leaf  # the leaf where exact, the score's chain elsewhere
    for value, s in zip(got, statistics, strict=True):
        expected = brute(network, s.given, lambda c: _score(tool, c) >= tool.cutoff, s.population)
        assert value == pytest.approx(expected, abs=1e-10), s
    if tool.key == "unreachable":
        assert np.allclose(got, 0.0, atol=1e-12)


def test_the_screen_leaf_reads_the_positive_state_and_takes_root_findings() -> None:
    # f0 has its positive state first and no parents; f1 keeps it last.
    rng = np.random.default_rng(7)
    variables = [
        Variable("aetiology", ("a", "b"), role="history"),
        Variable("neuropathic", ("absent", "present"), role="target", positive="present"),
        Variable("pain", ("absent", "present"), role="context", positive="present"),
        Variable("f0", ("present", "absent"), role="symptom", positive="present"),
        Variable("f1", ("absent", "present"), role="symptom", positive="present"),
    ]
    parents = {"neuropathic": ["aetiology"], "pain": ["neuropathic"], "f1": ["neuropathic"]}
    card = {v.name: len(v.states) for v in variables}
    cpts = {v.name: rng.dirichlet(np.ones(card[v.name]) * 2,
                                  size=tuple(card[p] for p in parents.get(v.name, [])))
            for v in variables}  # fmt: skip
    network = Network(variables, parents, cpts)
    tool = _tool("roots", 2.0, (("f0",), (), 1.0), (("f1",), (), 1.0))
    assert screen_leaf_network(network, tool) is not None
    lonely = _tool("lonely", 1.0, (("f0",), (), 1.0))
    assert screen_leaf_network(network, lonely).cards == ()  # no parents at all
    statistics = [stat("screen_positive", {}, tool="roots"),
                  stat("screen_positive", {"aetiology": "b"}, tool="lonely")]  # fmt: skip
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    got = np.exp(
        implied_probability_graph(
            network, flat, statistics, {"roots": tool, "lonely": lonely}
        ).eval()
    )
    for value, s, t in zip(got, statistics, (tool, lonely), strict=True):
        expected = brute(network, s.given, lambda c, t=t: _score(t, c) >= t.cutoff)
        assert value == pytest.approx(expected, abs=1e-10)


def test_the_shipped_tools_are_screen_leaves_in_the_fit(clinical, monkeypatch) -> None:
    # The fit's speed rests on it: no shipped statistic falls back to the score's chain.
    import npprob.learning.evidence as evidence

    network, tools = clinical
    monkeypatch.setattr(evidence, "score_network", lambda *a: pytest.fail("score chain used"))
    statistics = read_statistics(network, evidence_path(), counts=True)
    assert any(s.kind == "screen_positive" for s in statistics)
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    implied_probability_graph(network, flat, statistics, tools)


EVIDENCE = """[[statistics]]
id = "x"
kind = "target"
given = {{ aetiology = "herpes_zoster" }}
value = 0.5
interval = [0.4, 0.6]
source = "s"
tag = "F"
{extra}
"""


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [("", "needs integers 0 <= k <= n"),
     ('k = 5\nn = 4\nfamily = "f"\npublication = "p"', "needs integers 0 <= k <= n"),
     ("k = 5\nn = 10", "needs a family and a publication")],
)  # fmt: skip
def test_evidence_without_counts_or_family_is_refused(clinical, tmp_path, extra, phrase) -> None:
    network, _ = clinical
    path = tmp_path / "e.toml"
    path.write_text(EVIDENCE.format(extra=extra))
    with pytest.raises(DataFileError, match=phrase):
        read_statistics(network, path, counts=True)


def test_an_unknown_population_is_refused(clinical, tmp_path) -> None:
    network, _ = clinical
    path = tmp_path / "e.toml"
    path.write_text(EVIDENCE.format(extra='population = "pain_free"'))
    with pytest.raises(DataFileError, match="population must be one of"):
        read_statistics(network, path)


def test_shipped_population_risks_equal_the_engine_without_the_context(clinical) -> None:
    # A population risk (Burke 2017's 53 % of everyone with SCI) is implied without
    # conditioning on chronic pain; the same quantity among those in pain is larger.
    from npprob.io.resources import evidence_path

    network, tools = clinical
    every = [s for s in read_statistics(network, evidence_path(), counts=True)
             if s.population == "all"]  # fmt: skip
    assert {s.id for s in every} >= {"neuropathic_share_spinal_cord_injury",
                                     "chronic_pain_spinal_cord_injury"}  # fmt: skip
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    got = np.exp(implied_probability_graph(network, flat, every, tools).eval())
    engine = Engine(network)
    for value, s in zip(got, every, strict=True):
        event = (s.finding, s.state) if s.kind == "finding" else ("neuropathic", "present")
        expected = marginal_draws(engine, network, s.given, *event)[0]
        in_pain = marginal_draws(engine, network, {**s.given, "chronic_pain": "present"}, *event)[0]
        assert value == pytest.approx(expected, abs=1e-9), s.id
        assert in_pain > expected + 0.01, s.id


def test_a_repeated_statistic_id_is_refused(clinical, tmp_path) -> None:
    network, _ = clinical
    path = tmp_path / "e.toml"
    one = EVIDENCE.format(extra='k = 5\nn = 10\nfamily = "f"\npublication = "p"')
    path.write_text(one + "\n" + one)
    with pytest.raises(DataFileError, match="used twice"):
        read_statistics(network, path, counts=True)


@pytest.mark.parametrize(("given", "group"), [({"neuropathic": "present"}, 0),
                                              ({"neuropathic": "absent"}, 1)])  # fmt: skip
def test_a_case_control_statistic_takes_its_group(clinical, given, group) -> None:
    # The DN4's development study: cases with a definite lesion and neuropathic pain,
    # controls with somatic pain, each with its own case mix.
    network, tools = clinical
    s = PublishedStatistic("dn4_cc", "", "screen_positive", given, 0.5, (0.0, 1.0), "s", "D",
                           setting="case_control", tool="dn4")  # fmt: skip
    flat = np.concatenate([np.asarray(network.cpt(n)).ravel() for n in network.names])
    got = np.exp(implied_probability_graph(network, flat, [s], tools).eval())[0]
    setting = get_setting(care_settings(network), "case_control")
    engine = Engine(network).with_root_distribution("aetiology", case_mix(network, setting, group))
    population = {"chronic_pain": "present", **setting.groups[group].require, **given}
    expected = screen_positive_draws(engine, network, tools["dn4"], population)[0]
    assert got == pytest.approx(expected, abs=1e-9)


def test_a_study_design_statistic_must_pick_one_group(clinical) -> None:
    network, tools = clinical
    s = PublishedStatistic("dn4_cc", "", "screen_positive", {}, 0.5, (0.0, 1.0), "s", "D",
                           setting="case_control", tool="dn4")  # fmt: skip
    with pytest.raises(DataFileError, match="2 groups of setting 'case_control'"):
        implied_probability_graph(network, np.zeros(1), [s], tools)


TOY_SPEC = """
[network]
name = "evidence-toy"

[variables.aetiology]
role = "history"
states = ["a", "b"]

[variables.neuropathic]
role = "target"
positive = "present"
states = ["absent", "present"]

[variables.pain]
role = "context"
positive = "present"
states = ["absent", "present"]

[variables.f0]
role = "symptom"
states = ["absent", "present"]

[cpts.aetiology]
ess = 10
rows = [{ when = {}, p = 0.5, source = "test", tag = "S", reason = "test" }]

[cpts.neuropathic]
parents = ["aetiology"]
ess = 10
rows = [
  { when = { aetiology = "a" }, p = 0.3, source = "test", tag = "S", reason = "test" },
  { when = { aetiology = "b" }, p = 0.6, source = "test", tag = "S", reason = "test" },
]

[cpts.pain]
parents = ["neuropathic"]
ess = 10
rows = [
  { when = { neuropathic = "absent" }, p = 0.5, source = "test", tag = "S", reason = "test" },
  { when = { neuropathic = "present" }, p = 0.9, source = "test", tag = "S", reason = "test" },
]

[cpts.f0]
parents = ["neuropathic"]
ess = 10
rows = [
  { when = { neuropathic = "absent" }, p = 0.2, source = "test", tag = "S", reason = "test" },
  { when = { neuropathic = "present" }, p = 0.5, source = "test", tag = "S", reason = "test" },
]
"""


def finding_statistic(ident: str, family: str, k: int, n: int) -> PublishedStatistic:
    return PublishedStatistic(ident, "", "finding", {"neuropathic": "present"}, k / n, (0.0, 1.0),
                              "test", "D", finding="f0", state="present", k=k, n=n,
                              family=family, publication=ident)  # fmt: skip


@pytest.mark.pymc
def test_the_evidence_fit_learns_the_statistic_and_widens_on_conflict() -> None:
    # P(f0 | neuropathic) has prior mean 0.5 (ess 10). Two agreeing studies at 0.8 pull
    # it most of the way there (with two studies the between-study spread is barely
    # known, so each study counts for less than its n); two studies of the same family at
    # 0.6 and 0.95 disagree beyond sampling error, so the family's spread grows and the
    # implied value is less certain.
    from npprob.learning import SamplerConfig, fit_evidence
    from npprob.network.spec import parse_spec

    spec = parse_spec(TOY_SPEC, name="toy")
    config = SamplerConfig(draws=1000, tune=1000, chains=2, cores=2, seed=4)
    agree = fit_evidence(spec, [finding_statistic("s1", "f", 160, 200),
                                finding_statistic("s2", "f", 161, 200)], {}, config=config)  # fmt: skip
    conflict = fit_evidence(spec, [finding_statistic("s1", "f", 120, 200),
                                   finding_statistic("s2", "f", 190, 200)], {}, config=config)  # fmt: skip
    for fit in (agree, conflict):
        assert fit.diagnostics.ok, fit.diagnostics.problems
        assert fit.likelihood == "evidence"
    p_agree = agree.draws["f0"][:, 1, 1]
    p_conflict = conflict.draws["f0"][:, 1, 1]
    assert 0.65 < p_agree.mean() < 0.85
    assert p_conflict.std() > 1.1 * p_agree.std()
    rows = agree.summary["statistics"]
    assert [r["id"] for r in rows] == ["s1", "s2"]
    assert all(not r["outside"] for r in rows)
    assert agree.summary["heterogeneity"]["finding"] < conflict.summary["heterogeneity"]["finding"]


def test_the_shipped_evidence_loads_with_counts_and_sources(clinical) -> None:
    from npprob.io.resources import evidence_path

    network, tools = clinical
    statistics = read_statistics(network, evidence_path(), counts=True)
    assert len(statistics) >= 60
    assert len({s.publication for s in statistics}) >= 20
    for s in statistics:
        assert s.source
        assert s.tag in ("F", "F2", "R", "D", "S")
        assert 0 <= s.k <= s.n
        assert s.tool is None or s.tool in tools
    # Studies of the same quantity share a family: at least some families repeat.
    families = [s.family for s in statistics]
    assert len(set(families)) < len(families)


def target_statistic(ident: str, condition: str, k: int, n: int) -> PublishedStatistic:
    return PublishedStatistic(ident, "", "target", {"aetiology": condition}, k / n, (0.0, 1.0),
                              "test", "D", k=k, n=n, family=ident, publication=ident)  # fmt: skip


@pytest.mark.pymc
def test_removing_a_source_widens_what_it_informed_and_lopo_predicts_without_it() -> None:
    # Two sources inform two different quantities: P(f0 | neuropathic) and
    # P(neuropathic | a). Dropping the first leaves its quantity to the prior (and to
    # what the second implies about it, nothing here): its posterior widens, while the
    # other quantity keeps its width.
    from npprob.learning import SamplerConfig, fit_evidence
    from npprob.network.spec import parse_spec

    spec = parse_spec(TOY_SPEC, name="toy")
    # target_accept 0.95: the toy's funnel between the spread and the rows gave one
    # divergent transition in 3,000 under PyMC 6.4 at the default.
    config = SamplerConfig(draws=1500, tune=1000, chains=2, cores=2, seed=5, target_accept=0.95)
    both_stats = [finding_statistic("s1", "f", 240, 300), target_statistic("t1", "a", 60, 300)]
    both = fit_evidence(spec, both_stats, {}, config=config)
    fewer = fit_evidence(spec, both_stats[1:], {}, config=config)
    for fit in (both, fewer):
        assert fit.diagnostics.ok, fit.diagnostics.problems
    assert fewer.draws["f0"][:, 1, 1].std() > 1.15 * both.draws["f0"][:, 1, 1].std()
    # The other quantity's width barely moves (P(neuropathic | a) against its own source).
    ratio = fewer.draws["neuropathic"][:, 0, 1].std() / both.draws["neuropathic"][:, 0, 1].std()
    assert 0.8 < ratio < 1.25
    # Leave-one-publication-out: without s1 its prediction is the prior's, wider than the
    # fitted predictive interval, and the share covered is reported.
    (s1,) = [r for r in both.summary["statistics"] if r["id"] == "s1"]
    width = s1["predictive_90"][1] - s1["predictive_90"][0]
    assert s1["lopo_90"][1] - s1["lopo_90"][0] > width
    lopo = both.summary["leave_one_publication_out"]
    assert set(lopo["pareto_k"]) == {"s1", "t1"}
    assert 0.0 <= lopo["coverage_90"] <= 1.0
