"""The kernels' rules, checked where they decide: exact ties and values on the thresholds.

``tests/test_kernels_vs_reference.py`` compares the kernels with the reference on random
systems, every third draw of which is a boundary draw (``adversarial.agreement_draws``).
Here, independently of the reference, every kernel result of those draws is checked against
the rules of MODEL.md stated directly in NumPy, from the kernels' own threat matrix:

* principal threat: the first maximiser of the threat row over ``j != i``;
* first choice: NEUTRAL iff ``theta_i < neutral_below``, else BANDWAGON iff
  ``p_i < beta p_tau``, else BALANCE; ally availability on the first choices: a balancer
  switches iff ``S_B(t) < alpha S_W(t)`` and ``p_i < p_t``;
* blocs: a bandwagoner shares its threat's bloc, a balancer is in ``n + tau_i``, a neutral
  state is its own root;
* choice by power: bin ``k`` is the largest with ``p_i / p_h >= edge_k``;
* balance of power: the same with ``T_ij = A_j``.

The same pass counts how often each rule was decided exactly at its boundary in the boundary
draws, and requires every count to be large, so that "the boundaries are tested" is a
measured fact.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from adversarial import BIN_EDGES, agreement_draws, boundary_params, boundary_systems
from test_kernels_vs_reference import N_RANDOM_CHUNKS

from mc_threat import Systems, evaluate, threat_matrix

B, W, N = 0, 1, 2


def first_max(row, i):
    """First maximiser of ``row`` over ``j != i`` and the maximum."""
    best = -1
    for j in range(len(row)):
        if j != i and (best < 0 or row[j] > row[best]):
            best = j
    return best, row[best]


def expected_choices(p, target, theta, beta, alpha, nb, events, tag):
    """Final choices by the rules, and the sums S_B, S_W over the first choices."""
    n = len(p)
    first = np.full(n, B)
    for i in range(n):
        t = target[i]
        if theta[i] < nb:
            first[i] = N
        elif p[i] < beta * p[t]:
            first[i] = W
        if nb > 0 and theta[i] == nb:
            events[tag + "neutral_below == theta"] += 1
        if first[i] != N and p[i] == beta * p[t]:
            events[tag + "p_i == beta p_tau"] += 1
    s_b = np.zeros(n)
    s_w = p.astype(float).copy()
    for i in range(n):  # in increasing index, as the model sums
        if first[i] == B:
            s_b[target[i]] += p[i]
        elif first[i] == W:
            s_w[target[i]] += p[i]
    final = first.copy()
    for i in range(n):
        t = target[i]
        if first[i] != B:
            continue
        short = s_b[t] < alpha * s_w[t]
        if s_b[t] == alpha * s_w[t] and alpha > 0:
            events[tag + "S_B == alpha S_W"] += 1
        if short and p[i] < p[t]:
            final[i] = W
        elif short and p[i] == p[t]:
            events[tag + "balancer as strong as its threat"] += 1
    return final


def check_system(res, tm, batch, params, s, events):
    """Every rule on system ``s`` of a batch (see the module docstring)."""
    p = batch["power"][s]
    n = len(p)
    beta, alpha, nb = params["bandwagon_ratio"], params["viability"], params["neutral_below"]
    where = f"system {s} of the batch, params={params}"
    pos = batch["position"][s]
    events["coincident capitals"] += n - len(np.unique(pos, axis=0))
    h = int(np.argmax(p))
    events["hegemon tie"] += int(np.sum(p == p[h]) > 1)

    # balance of threat: principal threats from the threat matrix
    T = tm[s]
    target = np.empty(n, int)
    theta = np.empty(n)
    for i in range(n):
        target[i], theta[i] = first_max(T[i], i)
        events["threat tie"] += int(np.sum(np.delete(T[i], i) == theta[i]) > 1)
    assert res.target[s].tolist() == target.tolist(), f"principal threats, {where}"
    final = expected_choices(p, target, theta, beta, alpha, nb, events, "")
    assert res.choice[s].tolist() == final.tolist(), f"choices, {where}"

    # balance of power: T_ij = A_j = p_j / max p
    agg = p / p[h]
    bop_target = np.empty(n, int)
    bop_theta = np.empty(n)
    for i in range(n):
        bop_target[i], bop_theta[i] = first_max(agg, i)
    assert res.bop_target[s].tolist() == bop_target.tolist(), f"BoP threats, {where}"
    bop_final = expected_choices(p, bop_target, bop_theta, beta, alpha, nb, events, "BoP ")
    assert res.bop_choice[s].tolist() == bop_final.tolist(), f"BoP choices, {where}"

    # blocs of the balance-of-threat pass
    bloc = res.bloc[s]
    for i in range(n):
        if final[i] == W:
            assert bloc[i] == bloc[target[i]], f"bandwagoner {i}'s bloc, {where}"
        elif final[i] == B:
            assert bloc[i] == n + target[i], f"balancer {i}'s bloc, {where}"
        else:
            assert bloc[i] == i, f"neutral {i}'s bloc, {where}"

    # relative-power bins
    bins = np.zeros(n, int)
    for i in range(n):
        r = p[i] / p[h]
        bins[i] = max([k for k in range(10) if r >= BIN_EDGES[k]], default=0)
        events["p_i / p_h on a bin edge"] += int(bool(np.any(r == BIN_EDGES[1:])))
    cbp = np.zeros((10, 3), int)
    np.add.at(cbp, (bins, final), 1)

    o = {k: float(v[s]) for k, v in res.outcomes.items()}
    votes = np.bincount(target, minlength=n)
    events["most-named tie"] += int(np.sum(votes == votes.max()) > 1)
    events["coalition_ratio == 1"] += int(o["coalition_ratio"] == 1.0)
    events["hegemon allies == opposed"] += int(o["hegemon_allies"] == o["hegemon_opposed"])
    return cbp


def check_batch(batch, params, events):
    res = evaluate(Systems(**batch), params)
    tm = np.asarray(threat_matrix(Systems(**batch), params))
    cbp = np.zeros((10, 3), int)
    for s in range(len(batch["power"])):
        cbp += check_system(res, tm, batch, params, s, events)
    assert np.asarray(res.choice_by_power).tolist() == cbp.tolist(), \
        f"choice_by_power, params={params}"


# Each boundary must be met at least this often in one run of the agreement tests.
MIN_EVENTS = 20
RULES = ("threat tie", "p_i == beta p_tau", "S_B == alpha S_W",
         "balancer as strong as its threat", "neutral_below == theta",
         "p_i / p_h on a bin edge", "coincident capitals", "hegemon tie", "most-named tie",
         "coalition_ratio == 1", "hegemon allies == opposed", "BoP p_i == beta p_tau",
         "BoP S_B == alpha S_W", "BoP balancer as strong as its threat")


def test_the_agreement_draws_obey_the_rules_and_meet_every_boundary_often():
    events = Counter()
    for chunk in range(N_RANDOM_CHUNKS):
        for label, batch, params in agreement_draws(chunk):
            if not label.startswith("boundary"):
                continue  # the random draws are left to the reference
            try:
                check_batch(batch, params, events)
            except AssertionError as e:
                raise AssertionError(f"{label}: {e}") from None
    rare = {rule: events[rule] for rule in RULES if events[rule] < MIN_EVENTS}
    assert not rare, f"boundaries met fewer than {MIN_EVENTS} times: {rare}; all: {events}"


@pytest.mark.parametrize("form", ["additive", "multiplicative"])
@pytest.mark.parametrize("dyadic", [False, True])
def test_boundary_systems_obey_the_rules(form, dyadic):
    """Small boundary systems (n = 2..6) in every form and intent layout."""
    rng = np.random.default_rng([13, form == "additive", dyadic])
    events = Counter()
    for n in (2, 3, 4, 6):
        for _ in range(8):
            check_batch(boundary_systems(rng, 16, n, dyadic=dyadic),
                        boundary_params(rng, form), events)
    assert events["threat tie"] > 0 and events["S_B == alpha S_W"] > 0


def test_checker_catches_a_wrong_choice():
    """The rule checker must be able to fail: flip one kernel choice and it objects."""
    rng = np.random.default_rng(5)
    batch = boundary_systems(rng, 4, 5)
    params = boundary_params(rng, "additive")
    res = evaluate(Systems(**batch), params)
    tm = np.asarray(threat_matrix(Systems(**batch), params))
    res.choice[0, 0] = (res.choice[0, 0] + 1) % 3
    with pytest.raises(AssertionError, match="choices"):
        check_system(res, tm, batch, params, 0, Counter())


def test_blocs_stop_on_a_cycle_instead_of_hanging():
    """Bandwagon pointers in a cycle (the choice rules never make one) end the walk with the
    label -1 after n steps; states outside the cycle keep their labels."""
    from mc_threat.kernels.alignment import blocs

    target = np.array([1, 0, 0, 2], np.int32)  # 0 -> 1 -> 0 ... ; 3 bandwagons with 2
    choice = np.array([W, W, B, W], np.int8)  # 2 balances against 0
    bloc = np.zeros(4, np.int32)
    blocs(target, choice, bloc)
    assert bloc.tolist() == [-1, -1, 4, 4]


def test_evaluate_raises_on_a_cycle(monkeypatch):
    """``mc_threat.evaluate`` turns the kernels' cycle mark into an error."""
    import mc_threat.model.batch as model

    def cyclic(*args):
        args[9][:] = -1  # the bloc output, as blocs leaves it on a cycle

    monkeypatch.setattr(model, "evaluate_batch", cyclic)
    batch = boundary_systems(np.random.default_rng(1), 2, 3)
    with pytest.raises(RuntimeError, match="cycle"):
        evaluate(Systems(**batch), {})
