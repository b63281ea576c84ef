"""The engine against brute-force enumeration of the joint distribution.

Every expected number comes from :mod:`_oracles` (enumeration) or from a
log-space computation written in this file, never from the engine.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from _oracles import NetSpec, brute_force, joint_table, spec_of
from npprob.errors import EvidenceError, ZeroProbabilityEvidenceError
from npprob.inference import Engine, _kernels
from npprob.network import EvidenceBatch, Network, Variable
from strategies import (
    base_seed,
    draw_cpts,
    random_codes,
    random_cpts,
    random_network,
    sample_evidence,
)

ATOL_POSTERIOR = 1e-10
ATOL_LOG_EVIDENCE = 1e-9
N_RANDOM_NETWORKS = 220
N_ZERO_NETWORKS = 40

# Run on every supported Python line (CI: also Python 3.12 / numba 0.68).
pytestmark = pytest.mark.compat


def evidence_argument(kind: int, network: Network, codes: np.ndarray):
    """The same evidence in one of the accepted forms."""
    if kind == 0:
        return np.asarray(codes, dtype=np.int64)
    if kind == 1:
        return EvidenceBatch(network, codes)
    records = []
    for row in codes:
        rec: dict[str, str | None] = {}
        for col, (var, code) in enumerate(zip(network.variables, row, strict=True)):
            if code >= 0:
                rec[var.name] = var.states[code]
            elif col % 2:  # spell "unobserved" both ways: missing key and None
                rec[var.name] = None
        records.append(rec)
    return records


def expected_columns(spec: NetSpec, targets) -> tuple[str, ...]:
    return tuple(f"{t}={s}" for t in targets for s in spec.states[t])


def check_against_oracle(engine: Engine, network: Network, cpts, n_draws, codes, targets, kind):
    spec = spec_of(network)
    result = engine.query(evidence_argument(kind, network, codes), targets)
    n_patients = codes.shape[0]
    n_cols = sum(len(spec.states[t]) for t in targets)
    assert result.probabilities.shape == (n_draws, n_patients, n_cols)
    assert result.log_evidence.shape == (n_draws, n_patients)
    assert result.targets == tuple(targets)
    assert result.columns == expected_columns(spec, targets)
    assert not result.zero_probability.any()
    log_ev = engine.log_evidence(evidence_argument((kind + 1) % 3, network, codes))
    for d in range(n_draws):
        spec_d = spec if cpts is None else spec.with_cpts(draw_cpts(cpts, network, d))
        expected = brute_force(spec_d, codes, targets)
        assert np.all(expected.p_evidence > 0)  # sampled evidence is possible
        np.testing.assert_allclose(
            result.probabilities[d], expected.stacked(targets), rtol=0, atol=ATOL_POSTERIOR
        )
        for t in targets:
            np.testing.assert_allclose(
                result.marginal(t)[d], expected.marginals[t], rtol=0, atol=ATOL_POSTERIOR
            )
        np.testing.assert_allclose(
            result.log_evidence[d], np.log(expected.p_evidence), rtol=0, atol=ATOL_LOG_EVIDENCE
        )
        np.testing.assert_allclose(
            log_ev[d], np.log(expected.p_evidence), rtol=0, atol=ATOL_LOG_EVIDENCE
        )


@pytest.mark.parametrize("seed", range(N_RANDOM_NETWORKS))
def test_random_network_matches_brute_force(seed):
    rng = np.random.default_rng([base_seed(), seed])
    n_vars = int(rng.integers(2, 9))
    max_card = int(rng.integers(2, 6))
    max_parents = int(rng.integers(0, 4))
    network = random_network(rng, n_vars, max_card, max_parents)
    spec = spec_of(network)
    print(f"seed {seed}: {n_vars} vars, cards {spec.cards}, parents {dict(spec.parents)}")

    n_patients = int(rng.integers(3, 9))
    codes = sample_evidence(rng, spec, n_patients)
    if rng.random() < 0.3:
        codes[rng.integers(n_patients)] = -1  # a patient with nothing observed
    if rng.random() < 0.3:
        # two patients with the same missing pattern but other states
        full = sample_evidence(rng, spec, 1, observe=1.0)[0]
        codes[-1] = np.where(codes[0] >= 0, full, -1)

    engine = Engine(network)
    for n_draws in (1, 3):
        n_targets = int(rng.integers(1, n_vars + 1))
        targets = [str(t) for t in rng.permutation(network.names)[:n_targets]]
        if n_draws == 1:
            cpts = None
        else:
            cpts = random_cpts(rng, network, n_draws)
            # half the time through with_parameters, which shares the plan cache
            # the first query filled
            engine = engine.with_parameters(cpts) if seed % 2 else Engine(network, cpts=cpts)
        assert engine.n_draws == n_draws
        kind = int(rng.integers(3))
        check_against_oracle(engine, network, cpts, n_draws, codes, targets, kind)


@pytest.mark.parametrize(
    ("seed", "n_draws", "n_patients"),
    [(s, d, p) for s, (d, p) in enumerate([(17, 3), (70, 2), (2, 50), (5, 40), (64, 5), (1, 130)])],
)
def test_many_draws_and_patients_match_brute_force(seed, n_draws, n_patients):
    """Batches that span several blocks of (patient, draw) lanes, in every layout."""
    rng = np.random.default_rng([base_seed(), 20_000 + seed])
    network = random_network(rng, int(rng.integers(3, 7)), 4, 3)
    spec = spec_of(network)
    codes = sample_evidence(rng, spec, n_patients)
    targets = [str(t) for t in rng.permutation(network.names)[: int(rng.integers(1, 4))]]
    cpts = random_cpts(rng, network, n_draws)
    check_against_oracle(
        Engine(network, cpts=cpts), network, cpts, n_draws, codes, targets, seed % 3
    )


def test_large_batches_mix_pattern_groups(rng):
    """Big groups sharing one missing pattern next to small, varied ones, in one batch.

    Whatever the engine does per group (a plan per pattern, plans shared by
    several patterns, cached plans from an earlier query), every row must
    match brute force.
    """
    network = random_network(rng, 6, 3, 2)
    spec = spec_of(network)
    n_draws = 64
    cpts = random_cpts(rng, network, n_draws, stacked_fraction=1.0)
    specs = [spec.with_cpts(draw_cpts(cpts, network, d)) for d in range(n_draws)]
    pattern_a = np.array([True, False, True, False, False, True])
    pattern_b = np.array([False, True, True, True, False, False])

    def rows_with(pattern, n):
        full = sample_evidence(rng, spec, n, observe=1.0)
        return np.where(pattern[None, :], full, -1)

    varied = sample_evidence(rng, spec, 12)
    first = rows_with(pattern_a, 48)  # one pattern only
    second = np.vstack([rows_with(pattern_a, 3), rows_with(pattern_b, 40), varied])
    second = second[rng.permutation(len(second))]
    targets = [str(t) for t in rng.permutation(network.names)[:3]]
    engine = Engine(network, cpts=cpts)
    for codes in (first, second):
        result = engine.query(codes, targets)
        for d in range(n_draws):
            expected = brute_force(specs[d], codes, targets)
            np.testing.assert_allclose(
                result.probabilities[d], expected.stacked(targets), rtol=0, atol=ATOL_POSTERIOR
            )
            np.testing.assert_allclose(
                result.log_evidence[d],
                np.log(expected.p_evidence),
                rtol=0,
                atol=ATOL_LOG_EVIDENCE,
            )


def _zero_row(rng: np.random.Generator, spec: NetSpec) -> np.ndarray | None:
    """Evidence selecting a zero CPT entry (probability 0), or None if there is none."""
    axis = {n: i for i, n in enumerate(spec.names)}
    for n in rng.permutation(spec.names):
        zeros = np.argwhere(spec.cpts[n] == 0)
        if len(zeros):
            pick = zeros[rng.integers(len(zeros))]
            row = np.full(len(spec.names), -1, dtype=np.int64)
            for var, state in zip((*spec.parents[n], n), pick, strict=True):
                row[axis[var]] = state
            return row
    return None


@pytest.mark.parametrize("seed", range(N_ZERO_NETWORKS))
def test_zero_probability_evidence(seed):
    rng = np.random.default_rng([base_seed(), 10_000 + seed])
    n_draws = 1 if seed % 2 else 3
    zero_row = None
    while zero_row is None:
        n_vars = int(rng.integers(2, 7))
        network = random_network(rng, n_vars, 4, 3, zero_fraction=0.4)
        cpts = random_cpts(rng, network, n_draws, zero_fraction=0.4) if n_draws > 1 else None
        spec = spec_of(network)
        specs = [
            spec if cpts is None else spec.with_cpts(draw_cpts(cpts, network, d))
            for d in range(n_draws)
        ]
        zero_row = _zero_row(rng, specs[0])

    codes = random_codes(rng, spec, 10, observe=float(rng.uniform(0.2, 1.0)))
    codes = np.vstack([codes, zero_row, np.full(len(spec.names), -1)])
    codes = codes[rng.permutation(len(codes))]
    n_targets = int(rng.integers(1, n_vars + 1))
    targets = [str(t) for t in rng.permutation(network.names)[:n_targets]]

    expected = [brute_force(s, codes, targets) for s in specs]
    p_e = np.stack([e.p_evidence for e in expected])  # (n_draws, n_patients)
    zero_rows = (p_e == 0).any(axis=0)
    # the batch was built to hold both kinds of rows
    assert zero_rows.any()
    assert not zero_rows.all()

    engine = Engine(network, cpts=cpts)
    with pytest.raises(ZeroProbabilityEvidenceError) as info:
        engine.query(codes, targets)
    assert isinstance(info.value, EvidenceError)
    np.testing.assert_array_equal(np.asarray(info.value.rows), np.flatnonzero(zero_rows))

    result = engine.query(codes, targets, on_zero="nan")
    np.testing.assert_array_equal(result.zero_probability, zero_rows)
    for d in range(n_draws):
        zero_d = p_e[d] == 0
        assert np.isnan(result.probabilities[d, zero_d]).all()
        assert np.isneginf(result.log_evidence[d, zero_d]).all()
        np.testing.assert_allclose(
            result.probabilities[d, ~zero_d],
            expected[d].stacked(targets)[~zero_d],
            rtol=0,
            atol=ATOL_POSTERIOR,
        )
        np.testing.assert_allclose(
            result.log_evidence[d, ~zero_d],
            np.log(p_e[d, ~zero_d]),
            rtol=0,
            atol=ATOL_LOG_EVIDENCE,
        )
    log_ev = engine.log_evidence(codes)  # never raises
    np.testing.assert_array_equal(np.isneginf(log_ev), p_e == 0)
    np.testing.assert_allclose(
        log_ev[p_e > 0], np.log(p_e[p_e > 0]), rtol=0, atol=ATOL_LOG_EVIDENCE
    )


def test_zero_probability_rows_reported_in_input_order():
    # P(b=s1 | a) = 0 for both states of a: observing b=s1 is impossible.
    net = Network(
        [Variable("a", ("s0", "s1")), Variable("b", ("s0", "s1"))],
        {"b": ["a"]},
        {"a": [0.3, 0.7], "b": [[1.0, 0.0], [1.0, 0.0]]},
    )
    codes = np.array([[-1, 0], [-1, 1], [0, -1], [1, 1], [-1, -1]])
    with pytest.raises(ZeroProbabilityEvidenceError) as info:
        Engine(net).query(codes, ["a"])
    np.testing.assert_array_equal(np.asarray(info.value.rows), [1, 3])
    assert "1, 3" in str(info.value)


# -- tiny probabilities: P(e) below the smallest float64 -----------------------------


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def hidden_chain(rng: np.random.Generator, n: int, likelihood: float):
    """H0 -> H1 -> ... -> H(n-1), each H_i with one binary finding F_i.

    P(F_i = present | H_i) is ``likelihood`` times a factor in [0.5, 5].
    Returns the network and the numbers the log-space oracle needs.
    """
    prior = rng.dirichlet([2.0, 2.0])
    trans = [rng.dirichlet([2.0, 2.0], size=2) for _ in range(1, n)]
    present = likelihood * rng.uniform(0.5, 5.0, size=(n, 2))
    variables = [Variable(f"H{i}", ("a", "b")) for i in range(n)]
    variables += [Variable(f"F{i}", ("absent", "present"), role="finding") for i in range(n)]
    parents = {f"H{i}": [f"H{i - 1}"] for i in range(1, n)}
    parents.update({f"F{i}": [f"H{i}"] for i in range(n)})
    cpts = {"H0": prior}
    cpts.update({f"H{i}": trans[i - 1] for i in range(1, n)})
    cpts.update({f"F{i}": np.stack([1.0 - present[i], present[i]], axis=1) for i in range(n)})
    return Network(variables, parents, cpts, name="chain"), (prior, trans, present)


def chain_log_oracle(numbers, observed: np.ndarray):
    """Forward-backward in log space. ``observed[i]`` is F_i's state or -1.

    Returns posteriors of every H_i, shape (n, 2), and log P(evidence).
    """
    prior, trans, present = numbers
    n = len(present)
    log_emit = np.zeros((n, 2))
    for i, code in enumerate(observed):
        if code == 1:
            log_emit[i] = np.log(present[i])
        elif code == 0:
            log_emit[i] = np.log1p(-present[i])
    log_t = [np.log(t) for t in trans]
    alpha = np.empty((n, 2))
    alpha[0] = np.log(prior) + log_emit[0]
    for i in range(1, n):
        alpha[i] = _logsumexp(alpha[i - 1][:, None] + log_t[i - 1], axis=0) + log_emit[i]
    beta = np.zeros((n, 2))
    for i in range(n - 2, -1, -1):
        beta[i] = _logsumexp(log_t[i] + (log_emit[i + 1] + beta[i + 1])[None, :], axis=1)
    log_z = _logsumexp(alpha[-1], axis=0)
    return np.exp(alpha + beta - log_z), log_z


def _chain_codes(network: Network, findings: np.ndarray) -> np.ndarray:
    """Codes (network order) with F_i set to ``findings[:, i]`` and every H hidden."""
    codes = np.full((findings.shape[0], len(network)), -1, dtype=np.int64)
    for i in range(findings.shape[1]):
        codes[:, network.index(f"F{i}")] = findings[:, i]
    return codes


def _check_chain(engine, network, numbers, findings, targets, rel=1e-8, atol=1e-9):
    """Compare with :func:`chain_log_oracle`; ``numbers`` may be a list, one per draw."""
    per_draw = numbers if isinstance(numbers, list) else [numbers]
    codes = _chain_codes(network, findings)
    result = engine.query(codes, targets)
    assert result.n_draws == len(per_draw)
    assert not result.zero_probability.any()
    assert np.isfinite(result.log_evidence).all()
    for d, numbers_d in enumerate(per_draw):
        for r, row in enumerate(findings):
            post, log_z = chain_log_oracle(numbers_d, row)
            assert result.log_evidence[d, r] == pytest.approx(log_z, rel=rel, abs=0)
            for t in targets:
                i = int(t[1:])
                np.testing.assert_allclose(
                    result.marginal(t)[d, r], post[i], rtol=0, atol=atol, err_msg=f"{d=} {r=}"
                )
    return result


def _chain_findings(n: int) -> np.ndarray:
    findings = np.ones((4, n), dtype=np.int64)  # every finding present: P(e) ~ 1e-700
    findings[1, ::2] = -1  # half of them: P(e) ~ 1e-350, still below float64's range
    findings[2, : n // 2] = 0  # mixed absent / present
    findings[3, 5:] = -1  # five findings: P(e) ~ 1e-60, an ordinary number
    return findings


def test_tiny_likelihoods_hidden_chain(rng):
    n = 60
    network, numbers = hidden_chain(rng, n, likelihood=1e-12)
    findings = _chain_findings(n)
    targets = ["H0", "H17", "H30", "H59"]
    result = _check_chain(Engine(network), network, numbers, findings, targets)
    # the evidence really does underflow float64 without rescaling
    assert result.log_evidence[0, 0] < np.log(np.finfo(float).tiny)
    assert result.log_evidence[0, 1] < np.log(np.finfo(float).tiny)
    assert result.log_evidence[0, 3] > np.log(np.finfo(float).tiny)


@pytest.mark.parametrize("n_draws", [3, 20])
def test_tiny_likelihoods_hidden_chain_stacked_draws(rng, n_draws):
    """Each draw is its own chain; tiny and ordinary evidence mixed in one batch."""
    n = 60
    chains = [hidden_chain(rng, n, likelihood=1e-12) for _ in range(n_draws)]
    network = chains[0][0]
    stacked = {v: np.stack([net.cpt(v) for net, _ in chains]) for v in network.names}
    findings = _chain_findings(n)
    _check_chain(
        Engine(network, cpts=stacked),
        network,
        [numbers for _, numbers in chains],
        findings,
        ["H0", "H31", "H59"],
    )


def test_careful_lanes_of_a_backward_plan_are_answered_by_elimination_programs(rng):
    """P(evidence) ~ 1e-700: the fast path hands the lanes over; the answers stay exact."""
    chain, numbers = hidden_chain(rng, 20, likelihood=1e-30)
    engine = Engine(chain)
    targets = ["H0", "H10", "H19"]
    _check_chain(engine, chain, numbers, _chain_findings(20), targets)
    plans = dict(engine._plans)
    assert any(p.backward for p in plans.values())
    # The careful lanes ran the plan compiled with programs="auto" for the same pattern.
    assert any(key[-1] == "auto" and not p.backward for key, p in plans.items())


def test_tiny_likelihoods_many_findings_of_one_cause(rng):
    """One hidden cause with 60 findings, all observed present at likelihood ~1e-12.

    The shape of a diagnostic network (a condition and its findings). P(e) is
    about 1e-720, so no single product of the findings' likelihoods is
    representable in float64.
    """
    n = 60
    prior = rng.dirichlet([2.0, 2.0, 2.0])
    present = 1e-12 * rng.uniform(0.5, 5.0, size=(n, 3))
    variables = [Variable("D", ("d0", "d1", "d2"))]
    variables += [Variable(f"F{i}", ("absent", "present")) for i in range(n)]
    parents = {f"F{i}": ["D"] for i in range(n)}
    cpts = {"D": prior}
    cpts.update({f"F{i}": np.stack([1.0 - present[i], present[i]], axis=1) for i in range(n)})
    network = Network(variables, parents, cpts)

    n_present = np.array([n, 40, 0])
    codes = np.full((3, len(network)), -1, dtype=np.int64)
    for r, k in enumerate(n_present):
        for i in range(k):
            codes[r, network.index(f"F{i}")] = 1
    log_joint = np.stack(
        [np.log(prior) + np.log(present[:k]).sum(axis=0) for k in n_present]
    )  # (rows, states of D)
    log_z = _logsumexp(log_joint, axis=1)
    posterior = np.exp(log_joint - log_z[:, None])

    result = Engine(network).query(codes, ["D"], on_zero="nan")
    assert not result.zero_probability.any()
    np.testing.assert_allclose(result.log_evidence[0], log_z, rtol=1e-8, atol=0)
    np.testing.assert_allclose(result.marginal("D")[0], posterior, rtol=0, atol=1e-9)


# -- the numba kernels and their pure-Python twins ---------------------------------


def _small_case(rng):
    network = random_network(rng, 6, 3, 2)
    spec = spec_of(network)
    codes = sample_evidence(rng, spec, 7)
    cpts = random_cpts(rng, network, 2)
    return network, spec, codes, cpts


def _numba_kernels() -> dict[str, object]:
    """Every compiled kernel of :mod:`npprob.inference._kernels` (numba dispatchers)."""
    return {name: obj for name, obj in vars(_kernels).items() if hasattr(obj, "py_func")}


@pytest.mark.parametrize("path", ["compiled", "python"])
def test_kernels_compiled_and_python_agree_with_brute_force(path, monkeypatch):
    """The numba kernels and their pure-Python originals (``.py_func``) both match.

    In the Python path every dispatcher in the module (``run_op``,
    ``run_constant_ops``, ``run_patients`` or whatever the module holds) is
    replaced by its ``py_func``; kernels call each other by module-global
    name, so the whole call tree runs as Python.
    """
    rng = np.random.default_rng([base_seed(), 777])
    kernels = _numba_kernels()
    assert "run_op" in kernels
    assert "run_constant_ops" in kernels
    calls: Counter[str] = Counter()
    if path == "python":
        for name, dispatcher in kernels.items():
            monkeypatch.setattr(_kernels, name, _counting(dispatcher.py_func, name, calls))
        assert not _numba_kernels()
    network, spec, codes, cpts = _small_case(rng)
    targets = list(network.names)
    engine = Engine(network, cpts=cpts)
    result = engine.query(codes, targets)
    for d in range(2):
        expected = brute_force(spec.with_cpts(draw_cpts(cpts, network, d)), codes, targets)
        np.testing.assert_allclose(
            result.probabilities[d], expected.stacked(targets), rtol=0, atol=ATOL_POSTERIOR
        )
        np.testing.assert_allclose(
            result.log_evidence[d], np.log(expected.p_evidence), rtol=0, atol=ATOL_LOG_EVIDENCE
        )

    # rescaling branch: P(e) ~ 1e-600 for a 20-link chain with likelihoods ~1e-30
    chain, numbers = hidden_chain(rng, 20, likelihood=1e-30)
    findings = np.ones((2, 20), dtype=np.int64)
    findings[1, 5:12] = -1
    _check_chain(Engine(chain), chain, numbers, findings, ["H0", "H10", "H19"])
    if path == "python":
        assert calls["run_op_log"] > 0  # the Python twins really ran (the careful path)
        assert sum(calls.values()) > calls["run_op"]


def _counting(func, name: str, calls: Counter[str]):
    def wrapper(*args):
        calls[name] += 1
        return func(*args)

    return wrapper


def test_brute_force_oracle_sanity():
    """The oracle itself, on a network small enough to check by hand."""
    spec = NetSpec(
        names=("wet", "rain"),  # not topological on purpose
        states={"rain": ("no", "yes"), "wet": ("no", "yes")},
        parents={"rain": (), "wet": ("rain",)},
        cpts={"rain": np.array([0.8, 0.2]), "wet": np.array([[0.9, 0.1], [0.2, 0.8]])},
    )
    joint = joint_table(spec)
    assert joint.sum() == pytest.approx(1.0)
    assert joint[1, 1] == pytest.approx(0.2 * 0.8)  # wet=yes, rain=yes
    res = brute_force(spec, np.array([[1, -1], [-1, -1], [0, 1]]), ["rain", "wet"])
    # P(rain=yes | wet=yes) = 0.16 / (0.08 + 0.16)
    np.testing.assert_allclose(res.marginals["rain"][0], [0.08 / 0.24, 0.16 / 0.24])
    np.testing.assert_allclose(res.p_evidence, [0.24, 1.0, 0.2 * 0.2])
    np.testing.assert_allclose(
        res.marginals["wet"][1], [0.8 * 0.9 + 0.2 * 0.2, 0.8 * 0.1 + 0.2 * 0.8]
    )
    np.testing.assert_array_equal(res.marginals["rain"][2], [0.0, 1.0])


@pytest.mark.parametrize("programs", ["backward", "auto", "shared", "separate"])
@pytest.mark.parametrize("seed", range(40))
def test_several_targets_by_either_kind_of_program(seed, programs, monkeypatch):
    """Marginals of several targets from one shared program or one program each."""
    from npprob.inference import plan

    monkeypatch.setattr(plan, "MARGINAL_PROGRAMS", programs)
    rng = np.random.default_rng([base_seed(), 30_000 + seed])
    network = random_network(rng, int(rng.integers(3, 8)), 3, 3)
    spec = spec_of(network)
    codes = sample_evidence(rng, spec, int(rng.integers(2, 7)))
    n_targets = int(rng.integers(2, len(network.names) + 1))
    targets = [str(t) for t in rng.permutation(network.names)[:n_targets]]
    cpts = random_cpts(rng, network, 2)
    check_against_oracle(Engine(network, cpts=cpts), network, cpts, 2, codes, targets, seed % 3)
