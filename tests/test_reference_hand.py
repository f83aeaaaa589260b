"""Hand-worked examples, run through the reference AND the kernels.

Every expected value below was derived by hand from MODEL.md (sections 2-5) in the comments,
NOT by running the code.  Codes: BALANCE=0, BANDWAGON=1, NEUTRAL=2.  Relative-power bin edges
(10 ** (-3 + 0.3 k)):  k=5: 0.0316, k=6: 0.0631, k=7: 0.1259, k=8: 0.2512, k=9: 0.5012.
So r = 1/16 = 0.0625 -> bin 5, r = 0.05 -> bin 5, r = 0.25 -> bin 7, r = 0.5 -> bin 8,
r = 1 -> bin 9.

Each example test runs once per implementation (the ``impl`` fixture):

* ``reference``: ``tests/reference.py``, the plain-Python statement of MODEL.md;
* ``kernels``: ``mc_threat.evaluate`` and ``mc_threat.threat_matrix`` on a batch of one;
* ``case``: the historical-case path (``mc_threat.cases.evaluate_case``), which runs the
  kernels' building blocks on a distance matrix; here the matrix holds the examples' planar
  distances. It computes threats, choices and blocs (both passes) but not the outcomes of
  MODEL.md section 5 or the power bins, so those checks are left out for it.
"""

import math

import numpy as np
import pytest
from reference import (
    BALANCE,
    BANDWAGON,
    NEUTRAL,
    OUTCOME_NAMES,
    ref_evaluate,
    ref_threat_matrix,
)

B, W, N = BALANCE, BANDWAGON, NEUTRAL
FIELDS = ("target", "choice", "bloc", "bop_target", "bop_choice")


@pytest.fixture(params=["reference", "kernels", "case"])
def impl(request):
    return request.param


def _batch_of_one(power, position, offense, intent):
    from mc_threat import Systems

    return Systems(power=np.array([power], float), position=np.array([position], float),
                   offense=np.array([offense], float), intent=np.array([intent], float))


def _planar_case(power, position, offense, intent, params):
    """A case whose distance matrix is the planar one the engine computes from positions."""
    from mc_threat.cases import make_case

    pos = np.asarray(position, float)
    n = len(power)
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dist[i, j] = dist[j, i] = math.sqrt(dx * dx + dy * dy)
    case = make_case([f"S{i}" for i in range(n)], power, [0.0] * n, [0.0] * n, offense,
                     np.array(intent, float), ["x"] * n, model=params)
    # Case.distance caches its matrix here; set it instead of great-circle distances.
    object.__setattr__(case, "_distance", dist)
    return case


def evaluate_with(impl, power, position, offense, intent, params):
    """One system through ``impl``, as the reference's result dict (outcomes and
    choice_by_power are None for the case path, which does not compute them)."""
    if impl == "reference":
        return ref_evaluate(power, position, offense, intent, params)
    if impl == "kernels":
        from mc_threat import evaluate

        res = evaluate(_batch_of_one(power, position, offense, intent), params)
        out = {f: np.asarray(getattr(res, f))[0].tolist() for f in FIELDS}
        out["outcomes"] = {k: float(np.asarray(v)[0]) for k, v in res.outcomes.items()}
        out["choice_by_power"] = np.asarray(res.choice_by_power).tolist()
        return out
    from mc_threat.cases import evaluate_case

    ev = evaluate_case(_planar_case(power, position, offense, intent, params), params)
    return {"target": ev.threat.target.tolist(), "choice": ev.threat.choice.tolist(),
            "bloc": ev.threat.bloc.tolist(), "bop_target": ev.power.target.tolist(),
            "bop_choice": ev.power.choice.tolist(), "outcomes": None, "choice_by_power": None}


def threat_matrix_with(impl, power, position, offense, intent, params):
    """The (n, n) threat matrix of one system through ``impl``, as nested lists."""
    if impl == "reference":
        return ref_threat_matrix(power, position, offense, intent, params)
    if impl == "kernels":
        from mc_threat import threat_matrix

        return np.asarray(threat_matrix(_batch_of_one(power, position, offense, intent),
                                        params))[0].tolist()
    from mc_threat.cases import evaluate_case

    case = _planar_case(power, position, offense, intent, params)
    return evaluate_case(case, params).threat_matrix.tolist()


def params(form="additive", power=1.0, proximity=1.0, offense=1.0, intent=1.0, reach=0.25,
           bandwagon_ratio=0.1, viability=0.5, neutral_below=0.0):
    return {
        "form": form,
        "weights": {"power": power, "proximity": proximity, "offense": offense,
                    "intent": intent},
        "reach": reach,
        "bandwagon_ratio": bandwagon_ratio,
        "viability": viability,
        "neutral_below": neutral_below,
    }


def cbp(**cells):
    """choice_by_power from cells like b7_W=1 (bin 7, BANDWAGON, count 1)."""
    m = [[0, 0, 0] for _ in range(10)]
    code = {"B": B, "W": W, "N": N}
    for key, v in cells.items():
        b, c = key[1:].split("_")
        m[int(b)][code[c]] = v
    return m


def check(res, target, choice, bloc, bop_target, bop_choice, outcomes, choice_by_power):
    assert res["target"] == target
    assert res["choice"] == choice
    assert res["bloc"] == bloc
    assert res["bop_target"] == bop_target
    assert res["bop_choice"] == bop_choice
    if res["outcomes"] is None:  # the case path
        return
    assert set(res["outcomes"]) == set(OUTCOME_NAMES)
    for name in OUTCOME_NAMES:
        got = res["outcomes"][name]
        assert isinstance(got, float), name
        assert got == outcomes[name], (name, got, outcomes[name])
    assert res["choice_by_power"] == choice_by_power


# ---------------------------------------------------------------------------------------------
# Example 1: n = 2, additive, one bandwagoner.
#   p = [1, 4]  -> A = [0.25, 1]
#   both at the origin -> d = 0, D = 1
#   o = [0.5, 0.5] -> o*p = [0.5, 2] -> O = [0.25, 1]
#   monadic h = [1, 0]: I_01 = h_1 = 0, I_10 = h_0 = 1
#   equal weights, W = 4:
#     T_01 = (A_1 + D + O_1 + I_01)/4 = (1 + 1 + 1 + 0)/4 = 0.75
#     T_10 = (A_0 + D + O_0 + I_10)/4 = (0.25 + 1 + 0.25 + 1)/4 = 0.625
#   n = 2 so tau = [1, 0] whatever T is.
#   beta = 0.5: state 0: 1 < 0.5*4 = 2 -> BANDWAGON; state 1: 4 < 0.5*1 ? no -> BALANCE.
#   viability (alpha 0.5): t=0: B_0={1}, S_B=4, S_W=p_0=1, 4 < 0.5? no.  t=1: B_1 empty.
#   final choice = [W, B].
#   blocs: 1 balances against 0 -> node n+0 = 2; 0 bandwagons with 1 -> follows 1 -> 2.
#   h = 1.  t*: 0 and 1 named once each -> tie -> t* = 0.  top_threat_is_hegemon = 0.
#   coalition_ratio = S_B(0)/S_W(0) = 4/1 = 4 -> contained.  n_coalitions = 1 (B_0).
#   hegemon_allies = #{i != 1 : bloc 2} = 1 -> 1/1; opposed = #{tau=1, BALANCE} = 0 -> favoured.
#   BoP: T = A, tau = [1, 0] again, same choices -> agreement 1, change 0; bop outcomes as BoT.
#   bins: r = [0.25, 1] -> bin 7 (W), bin 9 (B).
# ---------------------------------------------------------------------------------------------
EX1 = dict(power=[1.0, 4.0], position=[[0.0, 0.0], [0.0, 0.0]], offense=[0.5, 0.5],
           intent=[1.0, 0.0])


def test_ex1_threat_matrix_additive(impl):
    T = threat_matrix_with(impl, **EX1, params=params())
    assert math.isnan(T[0][0]) and math.isnan(T[1][1])
    assert T[0][1] == 0.75
    assert T[1][0] == 0.625


def test_ex1_bandwagoner_n2(impl):
    res = evaluate_with(impl, **EX1, params=params(bandwagon_ratio=0.5))
    check(
        res,
        target=[1, 0], choice=[W, B], bloc=[2, 2], bop_target=[1, 0], bop_choice=[W, B],
        outcomes=dict(share_balance=0.5, share_bandwagon=0.5, share_neutral=0.0,
                      bop_agreement=1.0, top_threat_is_hegemon=0.0, coalition_ratio=4.0,
                      contained=1.0, n_coalitions=1.0, hegemon_allies=1.0, hegemon_opposed=0.0,
                      hegemon_favoured=1.0, alignment_change=0.0, bop_share_balance=0.5,
                      bop_contained=1.0, bop_hegemon_favoured=1.0),
        choice_by_power=cbp(b7_W=1, b9_B=1),
    )


def test_ex1_bandwagon_ratio_zero_means_nobody_bandwagons(impl):
    # beta = 0: p_i < 0 is impossible -> both balance.  blocs: 0 -> node 2+1 = 3, 1 -> node 2.
    # t* = 0 (tie); S_B(0) = 4, S_W(0) = 1 -> 4.0; coalitions B_0={1}, B_1={0} -> 2.
    # hegemon h=1: bloc_h = 2, state 0 has bloc 3 -> allies 0; opposed: tau_0 = 1, BALANCE -> 1.
    # (viability switched off: with alpha = 0.5, t = 1 has B_1 = {0}, S_B = 1 < 0.5 * 4 and
    # state 0 (1 < 4) would be switched to BANDWAGON by the viability pass instead.)
    res = evaluate_with(impl, **EX1, params=params(bandwagon_ratio=0.0, viability=0.0))
    check(
        res,
        target=[1, 0], choice=[B, B], bloc=[3, 2], bop_target=[1, 0], bop_choice=[B, B],
        outcomes=dict(share_balance=1.0, share_bandwagon=0.0, share_neutral=0.0,
                      bop_agreement=1.0, top_threat_is_hegemon=0.0, coalition_ratio=4.0,
                      contained=1.0, n_coalitions=2.0, hegemon_allies=0.0, hegemon_opposed=1.0,
                      hegemon_favoured=0.0, alignment_change=0.0, bop_share_balance=1.0,
                      bop_contained=1.0, bop_hegemon_favoured=0.0),
        choice_by_power=cbp(b7_B=1, b9_B=1),
    )


def test_ex1_viability_makes_the_weak_balancer_bandwagon(impl):
    # beta = 0 again, alpha = 0.5 (see above): first choices [B, B]; t = 0: B_0 = {1},
    # S_B = 4, S_W = 1 -> keeps; t = 1: B_1 = {0}, S_B = 1 < 0.5 * 4 = 2 -> 0 switches.
    res = evaluate_with(impl, **EX1, params=params(bandwagon_ratio=0.0, viability=0.5))
    assert res["choice"] == [W, B]
    assert res["bloc"] == [2, 2]


# ---------------------------------------------------------------------------------------------
# Example 2: n = 3, multiplicative vs additive; BoP differs from BoT under multiplicative.
#   p = [4, 2, 1] -> A = [1, 0.5, 0.25]; monadic h = [0, 0.25, 0.25]; weights power=1, intent=1,
#   proximity = offense = 0 (so positions/offense are irrelevant), W = 2.
#   multiplicative: T_ij = A_j^0.5 * h_j^0.5
#     T_.0 = 1 * 0 = 0;  T_.1 = sqrt(0.5 * 0.25) = 0.3536;  T_.2 = sqrt(0.25 * 0.25) = 0.25
#     state 0: {1: 0.354, 2: 0.25} -> 1;  state 1: {0: 0, 2: 0.25} -> 2;
#     state 2: {0: 0, 1: 0.354} -> 1.      tau = [1, 2, 1]
#   additive: T_.0 = (1 + 0)/2 = 0.5; T_.1 = (0.5 + 0.25)/2 = 0.375; T_.2 = (0.25+0.25)/2 = 0.25
#     state 0: {1: .375, 2: .25} -> 1; state 1: {0: .5, 2: .25} -> 0; state 2: {0: .5, 1: .375} -> 0
#     tau = [1, 0, 0]   (= BoP)
#   BoP (T = A): state 0 -> 1 (0.5 > 0.25), states 1, 2 -> 0.  bop tau = [1, 0, 0].
#   beta = 0.1: 4 < 0.2? 2 < 0.1 / 2 < 0.4? 1 < 0.4 / 1 < 0.2? none bandwagon; alpha = 0: no
#   viability switch.  All BALANCE in every pass.
#   multiplicative blocs: 0 -> node 3+1 = 4, 1 -> node 3+2 = 5, 2 -> node 4.
#     h = 0, t* = 1 (named by 0 and 2).  S_B(1) = 4 + 1 = 5, S_W(1) = 2 -> 2.5, contained.
#     n_coalitions = 2 (B_1 = {0, 2}, B_2 = {1}).  hegemon_allies: bloc_0 = 4, state 2 -> 1/2.
#     hegemon_opposed: nobody targets 0 -> 0.  favoured.
#     bop_agreement: only state 0 (tau 1 both) -> 1/3; alignment_change: states 1, 2 -> 2/3.
#     BoP outcomes: t* = 0 (named by 1, 2): S_B(0) = 2 + 1 = 3, S_W(0) = 4 -> 0.75, not
#     contained.  BoP blocs: 0 -> 4, 1 -> node 3, 2 -> node 3: no ally of 0; opposed = 2 ->
#     not favoured.  bop_share_balance = 1.
#   bins: r = [1, .5, .25] -> 9, 8, 7 all BALANCE.
# ---------------------------------------------------------------------------------------------
EX2 = dict(power=[4.0, 2.0, 1.0], position=[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
           offense=[0.3, 0.6, 0.9], intent=[0.0, 0.25, 0.25])
EX2_PARAMS = dict(power=1.0, proximity=0.0, offense=0.0, intent=1.0, viability=0.0)


def test_ex2_multiplicative_threat_values(impl):
    T = threat_matrix_with(impl, **EX2, params=params("multiplicative", **EX2_PARAMS))
    for i in range(3):
        assert T[i][(i + 1) % 3] == pytest.approx(
            [0.0, math.sqrt(0.125), 0.25][(i + 1) % 3], abs=1e-15)
        assert T[i][(i + 2) % 3] == pytest.approx(
            [0.0, math.sqrt(0.125), 0.25][(i + 2) % 3], abs=1e-15)
    assert T[1][0] == 0.0  # zero intent kills the threat multiplicatively


def test_ex2_multiplicative_bop_differs(impl):
    res = evaluate_with(impl, **EX2, params=params("multiplicative", **EX2_PARAMS))
    check(
        res,
        target=[1, 2, 1], choice=[B, B, B], bloc=[4, 5, 4], bop_target=[1, 0, 0],
        bop_choice=[B, B, B],
        outcomes=dict(share_balance=1.0, share_bandwagon=0.0, share_neutral=0.0,
                      bop_agreement=1 / 3, top_threat_is_hegemon=0.0, coalition_ratio=2.5,
                      contained=1.0, n_coalitions=2.0, hegemon_allies=0.5, hegemon_opposed=0.0,
                      hegemon_favoured=1.0, alignment_change=2 / 3, bop_share_balance=1.0,
                      bop_contained=0.0, bop_hegemon_favoured=0.0),
        choice_by_power=cbp(b7_B=1, b8_B=1, b9_B=1),
    )


def test_ex2_additive_equals_bop(impl):
    # additive taus = [1, 0, 0] = BoP, all BALANCE -> every outcome is the BoP one:
    # t* = 0 = h -> top_threat_is_hegemon 1; ratio 3/4; blocs [4, 3, 3];
    # allies 0, opposed 2/2 = 1.
    T = threat_matrix_with(impl, **EX2, params=params("additive", **EX2_PARAMS))
    assert T[1][0] == 0.5 and T[0][1] == 0.375 and T[0][2] == 0.25
    res = evaluate_with(impl, **EX2, params=params("additive", **EX2_PARAMS))
    check(
        res,
        target=[1, 0, 0], choice=[B, B, B], bloc=[4, 3, 3], bop_target=[1, 0, 0],
        bop_choice=[B, B, B],
        outcomes=dict(share_balance=1.0, share_bandwagon=0.0, share_neutral=0.0,
                      bop_agreement=1.0, top_threat_is_hegemon=1.0, coalition_ratio=0.75,
                      contained=0.0, n_coalitions=2.0, hegemon_allies=0.0, hegemon_opposed=1.0,
                      hegemon_favoured=0.0, alignment_change=0.0, bop_share_balance=1.0,
                      bop_contained=0.0, bop_hegemon_favoured=0.0),
        choice_by_power=cbp(b7_B=1, b8_B=1, b9_B=1),
    )


# ---------------------------------------------------------------------------------------------
# Example 3: n = 4, the viability pass.  Additive, intent weight only -> T_ij = h_j exactly.
#   p = [4, 1, 1, 4], h = [0, 0, 0.5, 1].
#   tau: states 0, 1, 2 -> 3 (h_3 = 1); state 3 -> 2 (h_2 = 0.5 > 0).  tau = [3, 3, 3, 2].
#   beta = 0.1: nobody bandwagons (1 < 0.4? no).  First choices all BALANCE.
#   alpha = 2: t = 3: B_3 = {0,1,2}, S_B = 4+1+1 = 6, S_W = p_3 = 4; 6 < 8 -> switch members
#     with p_i < p_3 = 4: states 1, 2 -> BANDWAGON; state 0 (p = 4, as strong) keeps balancing.
#     t = 2: B_2 = {3}, S_B = 4, S_W = 1: 4 < 2? no.
#   final = [B, W, W, B].  blocs: 0 -> node 4+3 = 7; 3 -> node 4+2 = 6; 1, 2 -> state 3 -> 6.
#   h: p_0 = p_3 = 4 -> tie -> h = 0.  t* = 3 (3 votes) != h.
#   S_B(3) = 4 (state 0), S_W(3) = 4 + 1 + 1 = 6 -> 4/6, not contained.
#   n_coalitions = 2 (B_3 = {0}, B_2 = {3}).  allies: bloc_0 = 7 alone -> 0; opposed 0 ->
#   not favoured (0 > 0 false).  shares 0.5 / 0.5 / 0.
#   BoP: A = [1, .25, .25, 1]: state 0 -> 3; state 1: {0: 1, 2: .25, 3: 1} -> tie -> 0;
#   state 2 -> 0 (tie with 3); state 3 -> 0.  bop tau = [3, 0, 0, 0], all BALANCE first.
#     t = 0: B_0 = {1, 2, 3}, S_B = 6, S_W = 4 -> 6 < 8: 1, 2 switch; 3 (p = 4) keeps.
#     t = 3: B_3 = {0}, S_B = 4, S_W = 4 -> 4 < 8: but p_0 = 4 is not < 4 -> keeps.
#     bop final = [B, W, W, B].  bop t* = 0; S_B(0) = 4, S_W(0) = 4+1+1 = 6 -> not contained.
#     bop blocs: 0 -> node 7, 1, 2 -> state 0 -> 7, 3 -> node 4.  allies of 0 = {1, 2} = 2,
#     opposed = {3} = 1 -> bop_hegemon_favoured.
#   agreement: only state 0 -> 1/4.  change: (3,B)=(3,B); 1, 2 tau differ; 3 tau differs -> 3/4.
#   bins: r = [1, .25, .25, 1] -> bin 9: B x2, bin 7: W x2.
# ---------------------------------------------------------------------------------------------
EX3 = dict(power=[4.0, 1.0, 1.0, 4.0],
           position=[[0.0, 0.0], [0.5, 0.5], [1.0, 0.0], [0.2, 0.9]],
           offense=[0.1, 0.2, 0.3, 0.4], intent=[0.0, 0.0, 0.5, 1.0])
EX3_W = dict(power=0.0, proximity=0.0, offense=0.0, intent=1.0)


def test_ex3_viability_switches_weaker_keeps_as_strong(impl):
    res = evaluate_with(impl, **EX3, params=params(**EX3_W, viability=2.0))
    check(
        res,
        target=[3, 3, 3, 2], choice=[B, W, W, B], bloc=[7, 6, 6, 6], bop_target=[3, 0, 0, 0],
        bop_choice=[B, W, W, B],
        outcomes=dict(share_balance=0.5, share_bandwagon=0.5, share_neutral=0.0,
                      bop_agreement=0.25, top_threat_is_hegemon=0.0, coalition_ratio=4 / 6,
                      contained=0.0, n_coalitions=2.0, hegemon_allies=0.0, hegemon_opposed=0.0,
                      hegemon_favoured=0.0, alignment_change=0.75, bop_share_balance=0.5,
                      bop_contained=0.0, bop_hegemon_favoured=1.0),
        choice_by_power=cbp(b7_W=2, b9_B=2),
    )


def test_ex3_viability_zero_switches_off(impl):
    # alpha = 0: nobody switches; all BALANCE.  blocs: 0,1,2 -> node 7; 3 -> node 6.
    # t* = 3: S_B(3) = 4+1+1 = 6, S_W(3) = 4 -> 1.5 contained.  coalitions B_3, B_2 -> 2.
    # allies of h = 0 (bloc 7): 1, 2 -> 2/3; opposed: nobody targets 0 -> 0 -> favoured.
    # BoP: all balance, tau [3,0,0,0]; t* = 0: S_B(0) = 1+1+4 = 6, S_W = 4 -> contained.
    # BoP blocs: 0 -> 7, 1,2,3 -> node 4: allies 0, opposed 3/3 -> not favoured.
    # change: only taus (choices equal) -> states 1, 2, 3 -> 3/4.
    res = evaluate_with(impl, **EX3, params=params(**EX3_W, viability=0.0))
    check(
        res,
        target=[3, 3, 3, 2], choice=[B, B, B, B], bloc=[7, 7, 7, 6], bop_target=[3, 0, 0, 0],
        bop_choice=[B, B, B, B],
        outcomes=dict(share_balance=1.0, share_bandwagon=0.0, share_neutral=0.0,
                      bop_agreement=0.25, top_threat_is_hegemon=0.0, coalition_ratio=1.5,
                      contained=1.0, n_coalitions=2.0, hegemon_allies=2 / 3,
                      hegemon_opposed=0.0, hegemon_favoured=1.0, alignment_change=0.75,
                      bop_share_balance=1.0, bop_contained=1.0, bop_hegemon_favoured=0.0),
        choice_by_power=cbp(b7_B=2, b9_B=2),
    )


def test_ex3_viability_uses_strict_less_than(impl):
    # alpha = 1.5: t = 3: 6 < 1.5*4 = 6 is false -> no switch (same as alpha = 0 above).
    res = evaluate_with(impl, **EX3, params=params(**EX3_W, viability=1.5))
    assert res["choice"] == [B, B, B, B]


# ---------------------------------------------------------------------------------------------
# Example 4: n = 3, neutral_below, a first-choice bandwagoner and a viability switch.
#   Additive, intent weight only -> T_ij = h_j.  h = [0.2, 0.6, 0.9], p = [1, 5, 20].
#   tau: 0 -> 2 (0.9), 1 -> 2 (0.9), 2 -> 1 (0.6 > 0.2).  theta = [0.9, 0.9, 0.6].
#   neutral_below = 0.7: state 2 NEUTRAL (0.6 < 0.7).  beta = 0.1: state 0: 1 < 2 -> BANDWAGON;
#   state 1: 5 < 2? no -> BALANCE.
#   alpha = 0.5: t = 2: B_2 = {1}, S_B = 5, S_W = 20 + 1 = 21 -> 5 < 10.5 -> 1 (5 < 20) switches.
#   final = [W, W, N].  blocs: 2 is a neutral root -> 2; 0, 1 bandwagon with 2 -> 2.
#   h = 2, t* = 2 (two votes) = h.  S_B(2) = 0, S_W(2) = 20 + 1 + 5 = 26 -> 0.0, not contained.
#   n_coalitions = 0.  allies = {0, 1} -> 2/2; opposed 0 -> favoured.
#   shares: 0, 2/3, 1/3.
#   BoP: A = [.05, .25, 1]: 0 -> 2 (theta 1), 1 -> 2 (1), 2 -> 1 (theta .25 < .7 -> NEUTRAL).
#   Same taus and the same choices -> agreement 1, change 0; bop outcomes equal BoT ones.
#   bins: r = [.05, .25, 1] -> 5 (W), 7 (W), 9 (N).
# ---------------------------------------------------------------------------------------------
EX4 = dict(power=[1.0, 5.0, 20.0], position=[[0.1, 0.1], [0.2, 0.3], [0.9, 0.9]],
           offense=[0.5, 0.5, 0.5], intent=[0.2, 0.6, 0.9])


def test_ex4_neutral_below(impl):
    res = evaluate_with(impl, **EX4, params=params(**EX3_W, neutral_below=0.7, viability=0.5))
    check(
        res,
        target=[2, 2, 1], choice=[W, W, N], bloc=[2, 2, 2], bop_target=[2, 2, 1],
        bop_choice=[W, W, N],
        outcomes=dict(share_balance=0.0, share_bandwagon=2 / 3, share_neutral=1 / 3,
                      bop_agreement=1.0, top_threat_is_hegemon=1.0, coalition_ratio=0.0,
                      contained=0.0, n_coalitions=0.0, hegemon_allies=1.0, hegemon_opposed=0.0,
                      hegemon_favoured=1.0, alignment_change=0.0, bop_share_balance=0.0,
                      bop_contained=0.0, bop_hegemon_favoured=1.0),
        choice_by_power=cbp(b5_W=1, b7_W=1, b9_N=1),
    )


def test_ex4_neutral_threshold_is_strict(impl):
    # neutral_below = 0.6 = theta_2 exactly -> not neutral; state 2 balances against 1 (20 >= 0.5).
    # viability: t = 2 as before -> state 1 switches; t = 1: B_1 = {2}, S_B = 20, S_W = 5 -> no.
    # BoP: theta_2 = 0.25 < 0.6 -> NEUTRAL there.
    res = evaluate_with(impl, **EX4, params=params(**EX3_W, neutral_below=0.6, viability=0.5))
    assert res["choice"] == [W, W, B]
    assert res["bloc"] == [4, 4, 4]  # 0,1 -> 2 -> node 3+1
    assert res["bop_choice"] == [W, W, N]


def test_ex4_everyone_neutral(impl):
    # neutral_below = 1.0 > every theta (0.9, 0.9, 0.6 and BoP 1, 1, .25 -> 1 is not < 1!).
    # BoT: all NEUTRAL, each its own root.  BoP: states 0, 1 have theta 1 -> not neutral:
    #   0: 1 < 0.1*20 -> W; 1: 5 < 2 no -> B, then viability switches 1 as above; 2 neutral.
    res = evaluate_with(impl, **EX4, params=params(**EX3_W, neutral_below=1.0, viability=0.5))
    assert res["choice"] == [N, N, N]
    assert res["bloc"] == [0, 1, 2]
    assert res["bop_choice"] == [W, W, N]
    if impl == "case":
        return  # no outcomes on the case path
    o = res["outcomes"]
    # t* = 2 (2 votes); S_B = 0, S_W = 20 (nobody bandwagons in BoT) -> 0.
    assert o["share_neutral"] == 1.0 and o["coalition_ratio"] == 0.0
    assert o["n_coalitions"] == 0.0 and o["hegemon_allies"] == 0.0
    assert o["hegemon_favoured"] == 0.0
    # change: all taus equal, choices all differ except state 2 -> 2/3
    assert o["alignment_change"] == 2 / 3 and o["bop_agreement"] == 1.0
    assert o["bop_hegemon_favoured"] == 1.0  # BoP allies of 2 = {0, 1}


# ---------------------------------------------------------------------------------------------
# Example 5: n = 3, dyadic intent and a bandwagon chain of depth 2.
#   Additive, intent weight only -> T_ij = intent[i][j].  Diagonal set to 1 (must be ignored).
#     row 0: [1, 0.9, 0.1] -> tau_0 = 1;  row 1: [0.3, 1, 0.8] -> tau_1 = 2;
#     row 2: [0.7, 0.2, 1] -> tau_2 = 0.    (monadic reading of any row would differ)
#   p = [1, 4, 16], beta = 0.5: 0: 1 < 2 -> W; 1: 4 < 8 -> W; 2: 16 < 0.5 no -> B.
#   alpha = 0.5: t = 0: B_0 = {2}, S_B = 16, S_W = 1 -> no switch.
#   final [W, W, B].  blocs: 0 -> 1 -> 2 -> node 3+0 = 3; 1 -> 2 -> 3; 2 -> 3.
#   h = 2.  taus [1, 2, 0]: all named once -> t* = 0 != h.  S_B(0) = 16, S_W(0) = 1 -> 16.
#   n_coalitions 1.  allies of 2 (bloc 3): 0, 1 -> 1.0; opposed (tau = 2 and B): none -> 0.
#   BoP: A = [1/16, 1/4, 1]: 0 -> 2, 1 -> 2, 2 -> 1.  choices: 0: 1 < 8 W; 1: 4 < 8 W; 2: B.
#     t = 1: B_1 = {2}: 16 < 0.5*4 no.  bop final [W, W, B].
#     agreement: state 1 only -> 1/3.  change: 0 (tau 1 vs 2), 2 (0 vs 1) -> 2/3.
#     bop t* = 2: S_B(2) = 0, S_W = 16 + 1 + 4 = 21 -> 0, not contained.  bop blocs: 0 -> 2 ->
#     node 3+1 = 4, 1 -> 4, 2 -> 4: allies 2/2, opposed 0 -> favoured.
#   bins: r = [.0625, .25, 1] -> 5 (W), 7 (W), 9 (B).
# ---------------------------------------------------------------------------------------------
EX5 = dict(power=[1.0, 4.0, 16.0], position=[[0.0, 0.0], [0.3, 0.0], [0.6, 0.0]],
           offense=[0.2, 0.2, 0.2],
           intent=[[1.0, 0.9, 0.1], [0.3, 1.0, 0.8], [0.7, 0.2, 1.0]])


def test_ex5_dyadic_threat_matrix(impl):
    T = threat_matrix_with(impl, **EX5, params=params(**EX3_W))
    assert T[0][1] == 0.9 and T[0][2] == 0.1
    assert T[1][0] == 0.3 and T[1][2] == 0.8
    assert T[2][0] == 0.7 and T[2][1] == 0.2


def test_ex5_dyadic_chain(impl):
    res = evaluate_with(impl, **EX5, params=params(**EX3_W, bandwagon_ratio=0.5, viability=0.5))
    check(
        res,
        target=[1, 2, 0], choice=[W, W, B], bloc=[3, 3, 3], bop_target=[2, 2, 1],
        bop_choice=[W, W, B],
        outcomes=dict(share_balance=1 / 3, share_bandwagon=2 / 3, share_neutral=0.0,
                      bop_agreement=1 / 3, top_threat_is_hegemon=0.0, coalition_ratio=16.0,
                      contained=1.0, n_coalitions=1.0, hegemon_allies=1.0, hegemon_opposed=0.0,
                      hegemon_favoured=1.0, alignment_change=2 / 3, bop_share_balance=1 / 3,
                      bop_contained=0.0, bop_hegemon_favoured=1.0),
        choice_by_power=cbp(b5_W=1, b7_W=1, b9_B=1),
    )


def test_ex5_chain_ends_at_neutral_root(impl):
    # neutral_below = 0.75: theta = [0.9, 0.8, 0.7] -> only state 2 NEUTRAL; chain 0 -> 1 -> 2.
    res = evaluate_with(impl, **EX5, params=params(**EX3_W, bandwagon_ratio=0.5, viability=0.5,
                                            neutral_below=0.75))
    assert res["choice"] == [W, W, N]
    assert res["bloc"] == [2, 2, 2]


# ---------------------------------------------------------------------------------------------
# Example 6: n = 3, additive with proximity: a close weak state outranks a distant strong one.
#   p = [1, 2, 4] -> A = [.25, .5, 1]; x0 = (0, 0), x1 = (0.3, 0.4), x2 = (3, 4);
#   d01 = 0.5, d02 = 5, d12 = sqrt(2.7^2 + 3.6^2) = 4.5; reach 0.25:
#   D01 = e^-2 = 0.1353, D02 = e^-20 ~ 2e-9, D12 = e^-18 ~ 1.5e-8.  weights power 1,
#   proximity 9 (W = 10):
#     T_01 = (.5 + 9*.1353)/10 = .1718 > T_02 = (1 + ~0)/10 = .1   -> tau_0 = 1
#     T_10 = (.25 + 1.218)/10 = .1468 > T_12 = ~.1                  -> tau_1 = 0
#     T_20 = ~.025 < T_21 = ~.05                                    -> tau_2 = 1
#   beta 0.1: nobody bandwagons.  alpha 0.5: t=0: B_0={1}: 2 < .5 no; t=1: B_1={0,2}: 5 < 1 no.
#   All BALANCE.  blocs: 0 -> node 3+1 = 4, 1 -> node 3, 2 -> node 4.
#   h = 2, t* = 1 (2 votes): S_B(1) = 1 + 4 = 5, S_W = 2 -> 2.5, contained; 2 coalitions.
#   allies of 2 (bloc 4): {0} -> 1/2; opposed 0 -> favoured.
#   BoP: tau = [2, 2, 1], all B (t=2: S_B = 3 vs .5*4 = 2 -> no switch).  agreement 1/3,
#   change 2/3.  bop t* = 2: 3/4 not contained; bop blocs [5, 5, 4]: allies 0, opposed 1.
# ---------------------------------------------------------------------------------------------
EX6 = dict(power=[1.0, 2.0, 4.0], position=[[0.0, 0.0], [0.3, 0.4], [3.0, 4.0]],
           offense=[0.0, 0.0, 0.0], intent=[0.0, 0.0, 0.0])


def test_ex6_proximity(impl):
    P = params(power=1.0, proximity=9.0, offense=0.0, intent=0.0, reach=0.25)
    T = threat_matrix_with(impl, **EX6, params=P)
    assert T[0][1] == pytest.approx((0.5 + 9 * math.exp(-2.0)) / 10, rel=1e-14)
    assert T[0][2] == pytest.approx(0.1, rel=1e-7)
    res = evaluate_with(impl, **EX6, params=P)
    check(
        res,
        target=[1, 0, 1], choice=[B, B, B], bloc=[4, 3, 4], bop_target=[2, 2, 1],
        bop_choice=[B, B, B],
        outcomes=dict(share_balance=1.0, share_bandwagon=0.0, share_neutral=0.0,
                      bop_agreement=1 / 3, top_threat_is_hegemon=0.0, coalition_ratio=2.5,
                      contained=1.0, n_coalitions=2.0, hegemon_allies=0.5, hegemon_opposed=0.0,
                      hegemon_favoured=1.0, alignment_change=2 / 3, bop_share_balance=1.0,
                      bop_contained=0.0, bop_hegemon_favoured=0.0),
        choice_by_power=cbp(b7_B=1, b8_B=1, b9_B=1),
    )


# ---------------------------------------------------------------------------------------------
# Example 7: degenerate criteria.  p = [1, 2, 3], offense all zero.
#   multiplicative, weights offense = 1 only: O = 0 for all -> every T = 0^1 = 0 -> all ties ->
#   tau_i = smallest j != i: [1, 0, 0].
#   multiplicative, weights power = 1, offense = 0: the zero-weight zero criterion is skipped
#   (0^0 = 1), T = A -> tau = [2, 2, 1] (BoP), so agreement = 1.
# ---------------------------------------------------------------------------------------------
EX7 = dict(power=[1.0, 2.0, 3.0], position=[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
           offense=[0.0, 0.0, 0.0], intent=[0.5, 0.5, 0.5])


def test_ex7_zero_offense_all_ties(impl):
    P = params("multiplicative", power=0.0, proximity=0.0, offense=1.0, intent=0.0)
    T = threat_matrix_with(impl, **EX7, params=P)
    assert all(T[i][j] == 0.0 for i in range(3) for j in range(3) if i != j)
    res = evaluate_with(impl, **EX7, params=P)
    assert res["target"] == [1, 0, 0]
    assert res["bop_target"] == [2, 2, 1]


def test_ex7_zero_weight_zero_criterion_is_skipped(impl):
    P = params("multiplicative", power=1.0, proximity=0.0, offense=0.0, intent=0.0)
    T = threat_matrix_with(impl, **EX7, params=P)
    assert T[0][1] == 2 / 3 and T[0][2] == 1.0 and T[2][0] == 1 / 3
    res = evaluate_with(impl, **EX7, params=P)
    assert res["target"] == [2, 2, 1] and res["bop_target"] == [2, 2, 1]
    if impl == "case":
        return  # no outcomes on the case path
    assert res["outcomes"]["bop_agreement"] == 1.0
    assert res["outcomes"]["alignment_change"] == 0.0


# Sanity on the hand tests themselves: they must be able to fail.
def test_check_helper_detects_a_wrong_expectation(impl):
    res = evaluate_with(impl, **EX1, params=params(bandwagon_ratio=0.5))
    with pytest.raises(AssertionError):
        check(res, target=[1, 0], choice=[B, B], bloc=[2, 2], bop_target=[1, 0],
              bop_choice=[W, B], outcomes={}, choice_by_power=cbp())


def test_ex1_bandwagon_threshold_is_strict(impl):
    # beta = 0.25: p_0 = 1 = 0.25 * 4 exactly -> not "<" -> BALANCE (viability off).
    res = evaluate_with(impl, **EX1, params=params(bandwagon_ratio=0.25, viability=0.0))
    assert res["choice"] == [B, B]
    # one ulp more of beta makes it bandwagon
    res = evaluate_with(impl, **EX1, params=params(bandwagon_ratio=math.nextafter(0.25, 1.0),
                                            viability=0.0))
    assert res["choice"] == [W, B]


# ---------------------------------------------------------------------------------------------
# Example 8: n = 4, neutral states' principal threats count for t* (choice documented in
# reference.py).  Additive, intent only, dyadic: T_ij = intent[i][j].
#   row 0: [0, .1, .1, .2] -> tau 3, theta .2;   row 1: [.1, 0, .1, .3] -> tau 3, theta .3
#   row 2: [.1, .8, 0, .2] -> tau 1, theta .8;   row 3: [.1, .2, .9, 0] -> tau 2, theta .9
#   neutral_below = .5: 0, 1 NEUTRAL.  p = [1, 2, 3, 4], beta .1: 2, 3 BALANCE; alpha 0.
#   final [N, N, B, B]; blocs 0 -> 0, 1 -> 1, 2 -> node 4+1 = 5, 3 -> node 4+2 = 6.
#   h = 3.  votes: 3 <- {0, 1}, 1 <- {2}, 2 <- {3} -> t* = 3 = h.  (Counting only the states
#   that act would give a tie 1/2 -> t* = 1, ratio 1.5, contained.)
#   S_B(3) = 0 (neutrals do not balance), S_W(3) = 4 -> 0.0, not contained.
#   n_coalitions 2 (B_1 = {2}, B_2 = {3}); allies of 3 (bloc 6): none; opposed: none.
#   BoP: A = [.25, .5, .75, 1]: 0, 1, 2 -> 3 (theta 1), 3 -> 2 (.75); nobody neutral, all B.
#   agreement: states 0, 1, 3 -> 3/4.  change: 0, 1 (choice N vs B), 2 (tau) -> 3/4.
#   bop t* = 3: S_B = 1+2+3 = 6, S_W = 4 -> contained.  bop blocs [7, 7, 7, 6]: allies of 3
#   none, opposed 3/3 -> not favoured.
#   bins: r = [.25, .5, .75, 1] -> 7 (N), 8 (N), 9 (B), 9 (B).
# ---------------------------------------------------------------------------------------------
EX8 = dict(power=[1.0, 2.0, 3.0, 4.0],
           position=[[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [0.3, 0.0]],
           offense=[0.5, 0.5, 0.5, 0.5],
           intent=[[0.0, 0.1, 0.1, 0.2], [0.1, 0.0, 0.1, 0.3], [0.1, 0.8, 0.0, 0.2],
                   [0.1, 0.2, 0.9, 0.0]])


def test_ex8_neutral_states_count_for_top_threat(impl):
    res = evaluate_with(impl, **EX8, params=params(**EX3_W, neutral_below=0.5, viability=0.0))
    check(
        res,
        target=[3, 3, 1, 2], choice=[N, N, B, B], bloc=[0, 1, 5, 6], bop_target=[3, 3, 3, 2],
        bop_choice=[B, B, B, B],
        outcomes=dict(share_balance=0.5, share_bandwagon=0.0, share_neutral=0.5,
                      bop_agreement=0.75, top_threat_is_hegemon=1.0, coalition_ratio=0.0,
                      contained=0.0, n_coalitions=2.0, hegemon_allies=0.0, hegemon_opposed=0.0,
                      hegemon_favoured=0.0, alignment_change=0.75, bop_share_balance=1.0,
                      bop_contained=1.0, bop_hegemon_favoured=0.0),
        choice_by_power=cbp(b7_N=1, b8_N=1, b9_B=2),
    )


# ---------------------------------------------------------------------------------------------
# Example 9: n = 3, exact ties everywhere, and a coalition exactly at the viability threshold.
#   intent weight only, monadic h = [.5, .5, .5]: T_ij = 0.5 for every j != i in both forms
#   (additive 1 * .5 / 1; multiplicative .5^1), so every row is a tie -> smallest j != i:
#   tau = [1, 0, 0], theta = .5 each.  p = [1, 2, 2]: the hegemon is a tie -> h = 1.
#   beta .1: nobody bandwagons (1 < .2? no).  alpha .5: t = 0: B_0 = {1, 2}, S_B = 4,
#   S_W = p_0 = 1 -> keeps; t = 1: B_1 = {0}, S_B = 1, S_W = p_1 = 2: 1 < .5 * 2 = 1 is
#   false -> state 0 keeps balancing (one step below, it would bandwagon).  All BALANCE.
#   blocs: 0 -> node 3+1 = 4; 1, 2 -> node 3.
#   t* = 0 (two votes) != h.  S_B(0) = 2 + 2 = 4, S_W(0) = 1 -> 4.0, contained.
#   n_coalitions 2 (B_0, B_1).  allies of h = 1 (bloc 3): state 2 -> 1/2; opposed: state 0
#   (tau 1, BALANCE) -> 1/2; allies > opposed is false -> not favoured.
#   BoP: A = [.5, 1, 1]: state 0: A_1 = A_2 tie -> 1; 1 -> 2; 2 -> 1.  bop tau = [1, 2, 1],
#   theta 1 each; all BALANCE (t = 1: S_B = 1 + 2 = 3 vs .5 * 2; t = 2: S_B = 2 vs 1).
#   agreement: state 0 -> 1/3; change: states 1, 2 -> 2/3.  bop t* = 1 (two votes):
#   S_B(1) = 3, S_W(1) = 2 -> contained; bop blocs [4, 5, 4]: allies of 1 none, opposed 2.
#   bins: r = [.5, 1, 1] -> 8 (.5 < .5012), 9, 9; all BALANCE.
# ---------------------------------------------------------------------------------------------
EX9 = dict(power=[1.0, 2.0, 2.0], position=[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
           offense=[0.5, 0.5, 0.5], intent=[0.5, 0.5, 0.5])


@pytest.mark.parametrize("form", ["additive", "multiplicative"])
def test_ex9_ties_go_to_the_smallest_index_and_viability_is_strict(impl, form):
    res = evaluate_with(impl, **EX9, params=params(form, **EX3_W, viability=0.5))
    check(
        res,
        target=[1, 0, 0], choice=[B, B, B], bloc=[4, 3, 3], bop_target=[1, 2, 1],
        bop_choice=[B, B, B],
        outcomes=dict(share_balance=1.0, share_bandwagon=0.0, share_neutral=0.0,
                      bop_agreement=1 / 3, top_threat_is_hegemon=0.0, coalition_ratio=4.0,
                      contained=1.0, n_coalitions=2.0, hegemon_allies=0.5, hegemon_opposed=0.5,
                      hegemon_favoured=0.0, alignment_change=2 / 3, bop_share_balance=1.0,
                      bop_contained=1.0, bop_hegemon_favoured=0.0),
        choice_by_power=cbp(b8_B=1, b9_B=2),
    )
    # one step more of viability and state 0 (1 < 2) is too weak for its coalition
    res = evaluate_with(impl, **EX9, params=params(form, **EX3_W,
                                                   viability=math.nextafter(0.5, 1.0)))
    assert res["choice"] == [W, B, B] and res["bloc"] == [3, 3, 3]


@pytest.mark.parametrize("impl", ["reference", "kernels"])  # the case path has no bins
def test_power_bins_on_the_edges(impl):
    # r exactly equal to an edge 10 ** (-3 + 0.3 k) goes to bin k; one ulp below to bin k - 1;
    # below 1e-3 to bin 0; the hegemon (r = 1) to bin 9.  p_h = 1 so r_i = p_i exactly.
    e = [10.0 ** (-3 + 0.3 * k) for k in range(10)]
    p = [1.0, e[8], math.nextafter(e[8], 0.0), e[3], 1e-4, e[0], e[9]]
    n = len(p)
    res = evaluate_with(impl, p, [[0.0, 0.0]] * n, [0.5] * n, [0.5] * n,
                       params(neutral_below=2.0))  # everybody NEUTRAL -> column 2
    per_bin = [row[N] for row in res["choice_by_power"]]
    assert per_bin == [2, 0, 0, 1, 0, 0, 0, 1, 1, 2]


# ---------------------------------------------------------------------------------------------
# Structural invariants of the reference on every adversarial family (no fast path needed).
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(__import__("adversarial").FAMILIES))
def test_reference_invariants_on_adversarial_families(family):
    import numpy as np
    from adversarial import FAMILIES, family_cases
    from reference import ref_details

    rng = np.random.default_rng([99, sorted(FAMILIES).index(family)])
    for batch, prm in family_cases(family, rng, count=4, params_per_size=1):
        for k in range(len(batch["power"])):
            d = ref_details(batch["power"][k], batch["position"][k], batch["offense"][k],
                            batch["intent"][k], prm)
            p, h = d["p"], d["h"]
            n = len(p)
            for ps in (d["bot"], d["bop"]):
                tau, first, fin, bloc = ps["tau"], ps["first"], ps["choice"], ps["bloc"]
                for i in range(n):
                    assert tau[i] != i and 0 <= tau[i] < n
                    if fin[i] == W:
                        assert p[i] < p[tau[i]]  # bandwagon edges go strictly up in power
                        assert bloc[i] == bloc[tau[i]]
                    elif fin[i] == B:
                        assert bloc[i] == n + tau[i]
                    else:
                        assert bloc[i] == i
                    # the viability pass only ever turns balancers into bandwagoners
                    assert fin[i] == first[i] or (first[i] == B and fin[i] == W)
                    if bloc[i] < n:
                        assert fin[bloc[i]] == N
            o = d["outcomes"]
            counts = [sum(1 for c in d["bot"]["choice"] if c == x) for x in (B, W, N)]
            assert [o["share_balance"], o["share_bandwagon"], o["share_neutral"]] == [
                c / n for c in counts]
            assert sum(map(sum, d["choice_by_power"])) == n
            assert d["choice_by_power"][9][d["bot"]["choice"][h]] >= 1  # hegemon in bin 9
            assert (o["contained"] == 1.0) == (o["coalition_ratio"] >= 1.0)
            assert 0.0 <= o["hegemon_allies"] <= 1.0 and 0.0 <= o["hegemon_opposed"] <= 1.0
