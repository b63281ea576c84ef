"""Model-implied statistics: exact against the full joint, and the published file is sound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from _oracles import joint_table, spec_of
from npprob.diagnosis import load_model
from npprob.errors import DataFileError
from npprob.evaluation.baselines import ScreeningTool
from npprob.evaluation.implied import (
    KINDS,
    compare_published,
    implied_draws,
    load_published_statistics,
    marginal_draws,
    screen_positive_draws,
)
from npprob.inference.engine import Engine
from npprob.network import Network, Variable

MODEL = load_model()


def small_network(seed: int) -> Network:
    """A cause, a hidden class, two mechanisms and four findings, random CPTs."""
    rng = np.random.default_rng(seed)
    variables = [
        Variable("aetiology", ("a", "b", "c"), role="history"),
        Variable("neuropathic", ("absent", "present"), role="target", positive="present"),
        Variable("mech1", ("absent", "present"), role="latent"),
        Variable("mech2", ("absent", "present"), role="latent"),
        *[Variable(f"f{i}", ("absent", "present"), role="symptom") for i in range(4)],
    ]
    parents = {"neuropathic": ["aetiology"], "mech1": ["neuropathic"],
               "mech2": ["neuropathic", "aetiology"], "f0": ["mech1"], "f1": ["mech1", "mech2"],
               "f2": ["mech2"], "f3": ["neuropathic"]}  # fmt: skip
    cards = {v.name: len(v.states) for v in variables}
    cpts = {v.name: rng.dirichlet(np.ones(cards[v.name]),
                                  size=tuple(cards[p] for p in parents.get(v.name, [])))
            for v in variables}  # fmt: skip
    return Network(variables, parents, cpts)


def by_enumeration(network: Network, given: dict[str, str], tool: ScreeningTool) -> float:
    """P(score >= cutoff | given) from the full joint table."""
    spec = spec_of(network)
    joint = joint_table(spec)
    names = list(spec.names)
    total = positive = 0.0
    for states in itertools.product(*(range(c) for c in spec.cards)):
        cfg = dict(zip(names, states, strict=True))
        if any(cfg[k] != network.variable(k).states.index(v) for k, v in given.items()):
            continue
        p = joint[states]
        score = sum(
            points
            for items, _, points in tool.items
            if any(cfg[f] == network.variable(f).positive_index for f in items)
        )
        total += p
        positive += p * (score >= tool.cutoff)
    return positive / total


TOOL = ScreeningTool("toy", "toy", 2.0, ((("f0",), (), 1.0), (("f1", "f2"), (), 1.0),
                                          (("f3",), (), 1.0)), "", "D")  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "given", [{}, {"neuropathic": "present"}, {"aetiology": "b"}, {"neuropathic": "absent",
                                                                   "aetiology": "c"}]
)  # fmt: skip
def test_screen_positive_rate_equals_the_full_joint(seed, given) -> None:
    network = small_network(seed)
    got = screen_positive_draws(Engine(network), network, TOOL, given)
    assert got.shape == (1,)
    assert got[0] == pytest.approx(by_enumeration(network, given, TOOL), abs=1e-12)


def test_marginals_and_screens_are_per_draw() -> None:
    networks = [small_network(s) for s in (3, 4)]
    draws = {n: np.stack([net.cpt(n) for net in networks]) for n in networks[0].names}
    engine = Engine(networks[0], draws)
    given = {"aetiology": "a"}
    screens = screen_positive_draws(engine, networks[0], TOOL, given)
    finding = marginal_draws(engine, networks[0], given, "f3", "present")
    for k, net in enumerate(networks):
        assert screens[k] == pytest.approx(by_enumeration(net, given, TOOL), abs=1e-12)
        joint = joint_table(spec_of(net))
        names = list(spec_of(net).names)
        sliced = joint.take(0, axis=names.index("aetiology"))
        keep = [n for n in names if n != "aetiology"]
        f3 = sliced.sum(axis=tuple(i for i, n in enumerate(keep) if n != "f3"))
        assert finding[k] == pytest.approx(f3[1] / f3.sum(), abs=1e-12)


def test_the_published_statistics_load_with_sources() -> None:
    stats = load_published_statistics(MODEL.network)
    assert len(stats) >= 9
    assert {s.kind for s in stats} == set(KINDS)
    for s in stats:
        assert s.source
        assert s.tag in ("F", "F2", "R", "D", "S")
        assert s.interval[0] <= s.value <= s.interval[1]


def test_a_broken_statistics_file_is_refused(tmp_path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text('[[statistics]]\nid = "x"\nkind = "finding"\nfinding = "burning"\n'
                   'state = "present"\ngiven = { aetiology = "nowhere" }\nvalue = 0.5\n'
                   'interval = [0.4, 0.6]\nsource = "s"\ntag = "F"\n')  # fmt: skip
    with pytest.raises(DataFileError, match="unknown given"):
        load_published_statistics(MODEL.network, bad)
    bad.write_text('[[statistics]]\nid = "x"\nkind = "target"\nvalue = 0.7\n'
                   'interval = [0.4, 0.6]\nsource = "s"\ntag = "F"\n')  # fmt: skip
    with pytest.raises(DataFileError, match="interval"):
        load_published_statistics(MODEL.network, bad)


def test_the_comparison_reports_every_statistic() -> None:
    stats = load_published_statistics(MODEL.network)
    rows = compare_published(MODEL, stats)
    assert [r["id"] for r in rows] == [s.id for s in stats]
    for r in rows:
        low, high = r["implied_interval"]
        assert 0.0 <= low <= r["implied"] <= high <= 1.0
        overlap = high >= r["published_interval"][0] and low <= r["published_interval"][1]
        assert r["agrees"] == overlap


def test_a_population_risk_is_implied_without_the_context() -> None:
    # Burke 2017's 53 % counts everyone with spinal cord injury, in pain or not.
    (s,) = [s for s in load_published_statistics(MODEL.network) if s.population == "all"]
    got = implied_draws(MODEL, s)
    everyone = marginal_draws(MODEL.engine, MODEL.network, s.given, "neuropathic", "present")
    in_pain = marginal_draws(MODEL.engine, MODEL.network, {**s.given, "chronic_pain": "present"},
                             "neuropathic", "present")  # fmt: skip
    assert np.array_equal(got, everyone)
    assert (in_pain > everyone).all()
