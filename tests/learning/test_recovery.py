"""Parameter recovery: the conjugate posterior's 95 % intervals cover a known truth.

The truth is one draw from the specification's prior; 50,000 patients are
simulated from it in a consecutive pain clinic and their complete truth is
counted. Two CPT groups are not drawn from the truth CPT in such a cohort:

* the ancestors of ``chronic_pain`` (``aetiology``, ``lesion``,
  ``neuropathic``, ``nociceptive``, ``nociplastic``) and ``chronic_pain``
  itself: every simulated patient has chronic pain (rejection sampling), which
  selects on their common child and changes their conditionals;
* ``aetiology`` also because the setting replaces it with its own case mix.

The data-generating value of those is computed here exactly from the truth
network (conditioning on chronic pain, and the setting's aetiology weights),
so that every learnable parameter has a known target; ``chronic_pain``'s own
rows (always "present" in the data) are checked separately.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from npprob.cohorts import SimulationOptions, load_settings, simulate
from npprob.io.resources import clinical_spec_path
from npprob.learning import family_counts, posterior_draws
from npprob.network.spec import load_spec

N_PATIENTS = 50_000
N_DRAWS = 1000
SEED = 4242
SETTING = "consecutive_pain_clinic"
SELECTED = ("lesion", "neuropathic", "nociceptive", "nociplastic")


@pytest.fixture(scope="module")
def spec():
    return load_spec(clinical_spec_path())


@pytest.fixture(scope="module")
def fitted(spec):
    t0 = time.perf_counter()
    setting = load_settings(spec.network)[SETTING]
    cohort = simulate(spec, setting, N_PATIENTS, SEED, SimulationOptions(truth="prior"))
    counts = family_counts(spec.network, cohort.truth)
    draws = posterior_draws(spec, counts, N_DRAWS, seed=SEED + 1)
    return cohort, setting, counts, draws, time.perf_counter() - t0


def selected_conditionals(
    spec, truth: dict[str, np.ndarray], aetiology: np.ndarray
) -> dict[str, np.ndarray]:
    """P(aet | pain), P(lesion | aet, pain), P(neuropathic | aet, lesion, pain), P(noci* | ...)."""
    net = spec.network
    assert net.parents("lesion") == ("aetiology",)
    assert net.parents("neuropathic") == ("aetiology", "lesion")
    assert net.parents("nociceptive") == ("aetiology",)
    assert net.parents("nociplastic") == ("aetiology",)
    assert net.parents("chronic_pain") == ("neuropathic", "nociceptive", "nociplastic")
    present = net.variable("chronic_pain").states.index("present")
    # joint[a, l, n, c, p] = P(a) P(l | a) P(n | a, l) P(c | a) P(p | a) P(pain | n, c, p)
    joint = np.einsum(
        "a,al,aln,ac,ap,ncp->alncp",
        aetiology,
        truth["lesion"],
        truth["neuropathic"],
        truth["nociceptive"],
        truth["nociplastic"],
        truth["chronic_pain"][..., present],
    )

    def conditional(keep: str) -> np.ndarray:
        table = np.einsum(f"alncp->{keep}", joint)
        return table / table.sum(axis=-1, keepdims=True)

    aet = np.einsum("alncp->a", joint)
    return {
        "aetiology": aet / aet.sum(),
        "lesion": conditional("al"),
        "neuropathic": conditional("aln"),
        "nociceptive": conditional("ac"),
        "nociplastic": conditional("ap"),
    }


def data_generating(spec, cohort, setting) -> dict[str, np.ndarray]:
    """The CPT each learnable variable's data were actually drawn from."""
    target = {k: np.asarray(v, dtype=float) for k, v in cohort.truth_cpts.items()}
    (group,) = setting.groups
    states = spec.network.variable("aetiology").states
    weights = np.array([group.aetiology.get(s, 0.0) for s in states])
    target.update(selected_conditionals(spec, target, weights / weights.sum()))
    return target


def coverage(spec, draws, target, names):
    """(inside, total, per variable) over the free parameters of ``names``."""
    inside = total = 0
    per = {}
    for name in names:
        alpha = spec.concentration[name]
        card = alpha.shape[-1]
        a = alpha.reshape(-1, card)
        t = np.asarray(target[name]).reshape(-1, card)
        d = draws[name].reshape(N_DRAWS, -1, card)
        low, high = np.quantile(d, [0.025, 0.975], axis=0)
        k = n = 0
        for r in range(a.shape[0]):
            free = np.flatnonzero(a[r] > 0)
            if len(free) < 2:
                continue
            hit = (t[r, free] >= low[r, free]) & (t[r, free] <= high[r, free])
            k += int(hit.sum())
            n += len(free)
        per[name] = (k, n)
        inside += k
        total += n
    return inside, total, per


def misses(per):
    return {k: f"{i}/{n}" for k, (i, n) in per.items() if i < n}


def test_unselected_cpts_cover_the_prior_truth(spec, fitted):
    cohort, _, _, draws, seconds = fitted
    names = [
        n
        for n in spec.concentration
        if n not in ("aetiology", "chronic_pain", *SELECTED)
        and "chronic_pain" not in spec.network.parents(n)
    ]
    assert len(names) >= 25
    inside, total, per = coverage(spec, draws, cohort.truth_cpts, names)
    rate = inside / total
    print(f"coverage of the prior truth (unselected CPTs): {inside}/{total} = {rate:.3f}")
    assert total >= 150
    assert rate >= 0.90, (
        f"coverage of the true CPT values by central 95 % intervals: {inside}/{total} = "
        f"{rate:.3f}; misses by variable: {misses(per)}"
    )
    # Not trivially wide either: intervals this wide would cover anything.
    assert rate <= 0.995, f"coverage {rate:.3f}: intervals too wide?"
    assert seconds < 30, f"simulation and fit took {seconds:.1f} s"


def test_every_learnable_cpt_covers_its_data_generating_value(spec, fitted):
    cohort, setting, _, draws, _ = fitted
    target = data_generating(spec, cohort, setting)
    names = [n for n in spec.concentration if n != "chronic_pain"]
    inside, total, per = coverage(spec, draws, target, names)
    rate = inside / total
    print(f"coverage of the data-generating values (all but chronic_pain): {inside}/{total}")
    assert rate >= 0.90, (
        f"coverage of the data-generating CPT values: {inside}/{total} = {rate:.3f}; "
        f"misses by variable: {misses(per)}"
    )
    selected = [*SELECTED, "aetiology"]
    inside_s, total_s, per_s = coverage(spec, draws, target, selected)
    assert total_s >= 150
    assert inside_s / total_s >= 0.90, (
        f"selected CPTs: {inside_s}/{total_s}; misses by variable: {misses(per_s)}"
    )


def test_selection_is_what_moves_the_selected_cpts(spec, fitted):
    # The reason the targets above differ from the truth CPTs: against the raw truth
    # the selected CPTs are far from covered (this guards the test's premise).
    cohort, _, _, draws, _ = fitted
    inside, total, per = coverage(spec, draws, cohort.truth_cpts, [*SELECTED, "aetiology"])
    assert inside / total < 0.80, (inside, total, per)


def test_chronic_pain_is_present_in_every_row_and_learnt_as_such(spec, fitted):
    _, _, counts, draws, _ = fitted
    present = spec.network.variable("chronic_pain").states.index("present")
    c = counts["chronic_pain"]
    assert c.sum() == N_PATIENTS
    assert (c[..., 1 - present] == 0).all()
    # Rows with data move towards "present"; the posterior mean there exceeds the prior's.
    alpha = spec.concentration["chronic_pain"]
    prior_mean = alpha[..., present] / alpha.sum(axis=-1)
    post_mean = draws["chronic_pain"][..., present].mean(axis=0)
    seen = c[..., present] >= 50
    assert seen.any()
    assert (post_mean[seen] > prior_mean[seen]).all()
