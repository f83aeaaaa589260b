"""Historical cases: the case format, the COW builder, evaluation, scoring and calibration.

Expected values of the hand-made cases are worked out by hand in the comments from MODEL.md
sections 2-4 and the scoring rule of docs/cases.md, not copied from the code's output.
Shipped cases are checked for structure (states, codes, sides, sources, tables up to date).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import mc_threat as mt
from mc_threat import cases as C
from mc_threat.config import ConfigError
from mc_threat.store import StoreError

ROOT = Path(__file__).resolve().parents[1]
SHARED_COW = ROOT.parent / "shared" / "data" / "cow"
R = C.EARTH_RADIUS_KM
DEG_KM = R * math.pi / 180.0  # one degree of longitude on the equator, 111.19508 km
B, W, N = mt.BALANCE, mt.BANDWAGON, mt.NEUTRAL


# ---------------------------------------------------------------------------------------------
# Running the command line: through mc_threat.cli.main once `case` is wired in, otherwise
# through a parser built the same way (add_case_parser + cmd_case + main's error handling).
# ---------------------------------------------------------------------------------------------


def _case_is_wired(cli) -> bool:
    parser = cli.build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return bool(subs) and "case" in subs[0].choices


def run_case_cli(argv, capsys):
    from mc_threat import cli

    capsys.readouterr()
    argv = [str(a) for a in argv]
    try:
        if _case_is_wired(cli):
            code = cli.main(argv)
        else:
            from mc_threat.cli.case import add_case_parser, cmd_case

            parser = argparse.ArgumentParser(prog="mc-threat")
            sub = parser.add_subparsers(dest="command", required=True)
            add_case_parser(sub)
            args = parser.parse_args(argv)
            try:
                code = cmd_case(args)
            except (ConfigError, StoreError) as exc:
                for line in str(exc).splitlines():
                    print(f"mc-threat: error: {line}", file=__import__("sys").stderr)
                code = 2
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err):
    return [line for line in err.splitlines() if line.startswith("mc-threat: error:")]


# ---------------------------------------------------------------------------------------------
# Hand-made case A: four states, proximity weight 0, monadic intent.
#
#   state   p   o     o*p   A = p/8   O = op/4   h
#   P       8   0.25  2     1         0.5        0
#   Q       4   1     4     0.5       1          1
#   S       2   0.5   1     0.25      0.25       0
#   T       1   0.5   0.5   0.125     0.125      0
#
# weights A=1, D=0, O=1, I=1, W = 3; T_ij does not depend on i:
#   T_.P = (1 + 0.5 + 0)/3     = 0.5
#   T_.Q = (0.5 + 1 + 1)/3     = 0.8333...
#   T_.S = (0.25 + 0.25 + 0)/3 = 0.1666...
#   T_.T = (0.125 + 0.125)/3   = 0.0833...
# principal threats: P -> Q, Q -> P (best of P, S, T), S -> Q, T -> Q.
# beta = 0.1: nobody is below 0.1 x its threat (T: 1 >= 0.4), all balance.
# alpha = 0.5: B_Q = {P, S, T}, S_B = 11 >= 0.5 * 4; B_P = {Q}, S_B = 4 >= 0.5 * 8 = 4
#   (strict <, so Q keeps balancing).
# blocs (n = 4): P, S, T -> 4 + 1 = 5 (against Q); Q -> 4 + 0 = 4 (against P).
# observed: P, S, T "west", Q "east" -> bloc 5 -> west (3), bloc 4 -> east (1): 4/4.
#
# Balance of power (A only): P fears the second strongest, Q; Q, S, T fear P.
# All balance (beta), viability: B_P = {Q, S, T}, S_B = 7 >= 4; B_Q = {P} fine.
# blocs: P -> 5, Q, S, T -> 4. Counts: bloc 4 {west 2 (S, T), east 1 (Q)}, bloc 5 {west 1}.
# Matchings: 4->west (2) [5 cannot take east: no east member]  = 2
#            4->east (1) + 5->west (1)                         = 2
# Tie at 2: bloc 4 (smaller label) takes the first listed side that keeps the optimum, west.
# So BoP: 2/4; Q, S, T predicted west, P on no side.
# ---------------------------------------------------------------------------------------------

A_WEIGHTS = {"power": 1.0, "proximity": 0.0, "offense": 1.0, "intent": 1.0}


def case_a(**model):
    m = {"weights": A_WEIGHTS, "reach": 500.0, "bandwagon_ratio": 0.1, "viability": 0.5}
    m.update(model)
    return C.make_case(["P", "Q", "S", "T"], [8, 4, 2, 1], [50, 50, 45, 40], [0, 10, 20, 30],
                       [0.25, 1, 0.5, 0.5], [0, 1, 0, 0], ["west", "east", "west", "west"],
                       sides=["west", "east"], model=m)


def test_hand_case_a_threat_matrix():
    ev = C.evaluate_case(case_a())
    T = ev.threat_matrix
    assert np.isnan(np.diag(T)).all()
    for i in range(4):
        for j, want in enumerate([0.5, 2.5 / 3, 0.5 / 3, 0.25 / 3]):
            if i != j:
                assert T[i, j] == pytest.approx(want, rel=1e-15)


def test_hand_case_a_choices_blocs_and_scores():
    ev = C.evaluate_case(case_a())
    t = ev.threat
    assert t.target.tolist() == [1, 0, 1, 1]
    assert t.choice.tolist() == [B, B, B, B]
    assert t.bloc.tolist() == [5, 4, 5, 5]
    assert t.correct == 4 and t.accuracy == 1.0
    assert t.predicted.tolist() == [0, 1, 0, 0]
    p = ev.power
    assert p.target.tolist() == [1, 0, 0, 0]
    assert p.choice.tolist() == [B, B, B, B]
    assert p.bloc.tolist() == [5, 4, 4, 4]
    assert p.correct == 2 and p.accuracy == 0.5
    assert p.predicted.tolist() == [-1, 0, 0, 0]
    assert p.matching(ev.case) == {"against P": "west"}


def test_hand_case_a_viability_switch():
    # alpha = 0.6: B_P = {Q}: S_B = 4 < 0.6 * S_W(P) = 0.6 * 8 = 4.8 and p_Q = 4 < p_P = 8,
    # so Q switches to BANDWAGON with P. Q's bloc is then P's: P balances against Q -> 5.
    # Every state is in bloc 5: 5 -> west (3 of 4 right), Q (east) wrong: 3/4.
    ev = C.evaluate_case(case_a(), {"viability": 0.6})
    assert ev.threat.choice.tolist() == [B, W, B, B]
    assert ev.threat.bloc.tolist() == [5, 5, 5, 5]
    assert ev.threat.correct == 3


def test_hand_case_a_bandwagon_ratio():
    # beta = 0.6: T (1 < 0.6*4 = 2.4), S (2 < 2.4) and Q (4 < 0.6*8 = 4.8) bandwagon; P (8 >=
    # 0.6*4) balances against Q. Viability: B_Q = {P}, S_B = 8 >= 0.5*(4+2+1). All states end
    # in P's bloc 5 (bandwagon chains S -> Q -> P): 3/4.
    ev = C.evaluate_case(case_a(), {"bandwagon_ratio": 0.6})
    assert ev.threat.choice.tolist() == [B, W, W, W]
    assert ev.threat.bloc.tolist() == [5, 5, 5, 5]
    assert ev.threat.correct == 3


def test_hand_case_a_neutral():
    # neutral_below = 0.6: theta_P = T_PQ = 0.833 >= 0.6 acts; theta_Q = T_QP = 0.5 < 0.6 is
    # NEUTRAL; S, T (theta 0.833) balance against Q. Blocs: P, S, T -> 5; Q is a neutral
    # root with label 1. Bloc 1 {east} -> east, bloc 5 -> west: 4/4.
    ev = C.evaluate_case(case_a(), {"neutral_below": 0.6})
    assert ev.threat.choice.tolist() == [B, N, B, B]
    assert ev.threat.bloc.tolist() == [5, 1, 5, 5]
    assert ev.threat.correct == 4
    assert C.bloc_name(1, ev.case) == "Q (neutral)"


# ---------------------------------------------------------------------------------------------
# Great-circle distances and hand-made case B on the equator (distances are exact there).
# ---------------------------------------------------------------------------------------------


def test_great_circle_hand_values():
    # R = 6371.0088 km. On the equator one degree of longitude is R pi / 180 =
    # 6371 * .01745329 + .0088 * .01745329 = 111.19493 + .00015 = 111.19508 km; pole to
    # equator a quarter circle, R pi / 2 = 10007.5432 + .0138 = 10007.557 km; antipodes
    # pi R = 20015.0868 + .0276 = 20015.114 km.
    d = C.great_circle_km([0, 0, 90, 0], [0, 1, 0, 180])
    assert d[0, 1] == pytest.approx(111.19508, abs=1e-4)
    assert d[0, 2] == pytest.approx(10007.557, abs=1e-3)
    assert d[0, 3] == pytest.approx(20015.114, abs=1e-3)
    assert d[1, 3] == pytest.approx(179 * DEG_KM, rel=1e-12)
    assert (np.diag(d) == 0).all() and (d == d.T).all()


def test_great_circle_london_paris():
    # London (51.5074, -0.1278) - Paris (48.8566, 2.3522): about 344 km (a published value;
    # haversine on the mean sphere gives 343.5 km).
    d = C.great_circle_km([51.5074, 48.8566], [-0.1278, 2.3522])
    assert 340 < d[0, 1] < 347


def test_hand_case_b_equator_power_and_proximity():
    # X (p 4) at lon 0, Y (p 1) at lon 1, Z (p 2) at lon 3; reach = one degree (km), so
    # D = exp(-degrees): D_XY = e^-1 = .36788, D_XZ = e^-3 = .04979, D_YZ = e^-2 = .13534.
    # A = (1, .25, .5); weights power = proximity = 1 (W = 2):
    #   X: T_XY = (.25 + .36788)/2 = .30894, T_XZ = (.5 + .04979)/2 = .27489 -> Y
    #   Y: T_YX = (1 + .36788)/2 = .68394, T_YZ = (.5 + .13534)/2 = .31767 -> X
    #   Z: T_ZX = (1 + .04979)/2 = .52489, T_ZY = (.25 + .13534)/2 = .19267 -> X
    # Balance of power: X fears Z (second strongest), Y and Z fear X.
    # All balance (beta 0.1: 1 >= 0.4); viability: B_X = {Y, Z}: 3 >= 0.5 * 4.
    # Blocs (n = 3): X -> 3 + 1 = 4, Y, Z -> 3; BoP: X -> 5, Y, Z -> 3.
    # Observed X "a", Y "b", Z "a": threat: bloc 3 {b: 1, a: 1}, bloc 4 {a: 1}:
    #   3->b + 4->a = 2 (best; 3->a leaves 4 nothing: 1). Same for BoP with bloc 5: 2/3.
    case = C.make_case(["X", "Y", "Z"], [4, 1, 2], [0, 0, 0], [0, 1, 3], [0.5] * 3,
                       [0.0] * 3, ["a", "b", "a"],
                       model={"weights": {"power": 1, "proximity": 1, "offense": 0,
                                          "intent": 0}, "reach": DEG_KM})
    ev = C.evaluate_case(case)
    T = ev.threat_matrix
    e = math.exp
    assert T[0, 1] == pytest.approx((0.25 + e(-1)) / 2, rel=1e-12)
    assert T[0, 2] == pytest.approx((0.5 + e(-3)) / 2, rel=1e-12)
    assert T[1, 0] == pytest.approx((1 + e(-1)) / 2, rel=1e-12)
    assert T[1, 2] == pytest.approx((0.5 + e(-2)) / 2, rel=1e-12)
    assert T[2, 0] == pytest.approx((1 + e(-3)) / 2, rel=1e-12)
    assert T[2, 1] == pytest.approx((0.25 + e(-2)) / 2, rel=1e-12)
    assert ev.threat.target.tolist() == [1, 0, 0]
    assert ev.threat.bloc.tolist() == [4, 3, 3]
    assert ev.power.target.tolist() == [2, 0, 0]
    assert ev.power.bloc.tolist() == [5, 3, 3]
    assert ev.threat.correct == 2 and ev.power.correct == 2
    assert ev.threat.predicted.tolist() == [0, 1, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dyadic", [False, True])
def test_equator_cases_agree_with_the_public_engine(seed, dyadic):
    # On the equator the great-circle distance is R |dlon| (radians), so the case path must
    # give what mt.evaluate gives for planar positions (R lon, 0): same threats, choices,
    # blocs, and the same balance-of-power pass.
    r = np.random.default_rng(seed)
    n = 9
    lon = np.sort(r.uniform(-80, 80, n))
    p = r.lognormal(0, 1, n)
    o = r.uniform(0, 1, n)
    h = r.uniform(0, 1, (n, n) if dyadic else n)
    params = {"weights": {"power": 1.0, "proximity": 2.0, "offense": 0.5, "intent": 1.5},
              "reach": 1500.0, "bandwagon_ratio": 0.3, "viability": 0.8}
    case = C.make_case([f"S{i}" for i in range(n)], p, np.zeros(n), lon, o, h,
                       ["a" if i % 2 else "b" for i in range(n)], model=params)
    ev = C.evaluate_case(case)
    pos = np.stack([R * np.radians(lon), np.zeros(n)], axis=1)
    sys_ = mt.Systems(power=p, position=pos, offense=o, intent=h)
    ref = mt.evaluate(sys_, params)
    assert ev.threat.target.tolist() == ref.target[0].tolist()
    assert ev.threat.choice.tolist() == ref.choice[0].tolist()
    assert ev.threat.bloc.tolist() == ref.bloc[0].tolist()
    assert ev.power.target.tolist() == ref.bop_target[0].tolist()
    assert ev.power.choice.tolist() == ref.bop_choice[0].tolist()
    tm = mt.threat_matrix(sys_, params)[0]
    np.testing.assert_allclose(ev.threat_matrix, tm, rtol=1e-12, equal_nan=True)


def test_multiplicative_form_hand():
    # Two states, multiplicative, weights power = proximity = 1: T_ij = A_j^.5 D_ij^.5.
    # p = (1, 4) -> A = (.25, 1); distance one degree with reach one degree -> D = e^-1.
    # T_01 = 1 * e^-.5 = .60653; T_10 = .5 * e^-.5 = .30327.
    case = C.make_case(["U", "V"], [1, 4], [0, 0], [0, 1], [0, 0], [0, 0], ["a", "b"],
                       model={"form": "multiplicative", "reach": DEG_KM,
                              "weights": {"power": 1, "proximity": 1, "offense": 0,
                                          "intent": 0}})
    T = C.evaluate_case(case).threat_matrix
    assert T[0, 1] == pytest.approx(math.exp(-0.5), rel=1e-12)
    assert T[1, 0] == pytest.approx(0.5 * math.exp(-0.5), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# The matching of blocs to sides (worked by hand)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bloc", "side", "k", "correct", "pred"), [
    # two blocs, two sides: 5 -> side 0 (2 states), 6 -> side 1; the unscored state 3 gets
    # its bloc's side.
    ([5, 5, 6, 6], [0, 0, 1, -1], 2, 3, [0, 0, 1, 1]),
    # three blocs, two sides (n = 5, labels < 10): 5 {0: 2}, 6 {0: 1}, 7 {1: 2} -> 5 -> 0,
    # 7 -> 1 (4 right); bloc 6 gets no side (its side is taken), so state 2 is wrong.
    ([5, 5, 6, 7, 7], [0, 0, 0, 1, 1], 2, 4, [0, 0, -1, 1, 1]),
    # one bloc, two sides 2 + 2: optimum 2, the first listed side wins the tie.
    ([4, 4, 4, 4], [0, 1, 1, 0], 2, 2, [0, 0, 0, 0]),
    # two mixed blocs: 4 {0: 1, 1: 1}, 5 {0: 1, 1: 1}; optimum 2 either way, bloc 4 (smaller
    # label) takes side 0.
    ([4, 4, 5, 5], [0, 1, 0, 1], 2, 2, [0, 0, 1, 1]),
    # 4 {0: 1}, 5 {0: 2, 1: 1}: {4->0, 5->1} = 2 and {5->0} = 2 tie; bloc 4 first takes 0.
    ([4, 5, 5, 5], [0, 0, 0, 1], 2, 2, [0, 1, 1, 1]),
    # a bloc with no scored member gets no side.
    ([3, 3, 4], [0, 0, -1], 2, 2, [0, 0, -1]),
    # three sides, a neutral root (label 1) as its own bloc: 1 {2: 1}, 4 {0: 2}, 5 {1: 1}.
    ([4, 1, 4, 5], [0, 2, 0, 1], 3, 4, [0, 2, 0, 1]),
])
def test_best_matching_hand(bloc, side, k, correct, pred):
    got, p = C.best_matching(bloc, side, k)
    assert got == correct
    assert p.tolist() == pred


def test_best_matching_rejects_bad_input():
    with pytest.raises(ValueError, match="labels"):
        C.best_matching([0, 9], [0, 0], 2)
    with pytest.raises(ValueError, match="side"):
        C.best_matching([2, 2], [0, 2], 2)
    with pytest.raises(ValueError, match="sides"):
        C.best_matching([2, 2], [0, 0], 0)


def test_landscape_prediction_scores_15_of_17():
    # Axelrod and Bennett's landscape prediction, read as two blocs, scored against their
    # observed WWII sides with the project's rule: Poland and Portugal are the only misses.
    case = C.load_case("europe_1936")
    land = case.tables["codings"]["landscape"]
    bloc = np.array([case.n + (0 if s == "allies" else 1) for s in land])
    correct, _ = C.best_matching(bloc, case.side_codes, 2)
    assert correct == 15


# ---------------------------------------------------------------------------------------------
# The case file format
# ---------------------------------------------------------------------------------------------

CASE_YAML = {
    "title": "Hand case A",
    "year": 2000,
    "states": "a_states.csv",
    "power": "cinc",
    "observed": {"sides": ["west", "east"], "column": "side",
                 "codings": {"alt": "everyone west but T"}},
    "model": {"weights": A_WEIGHTS, "reach": 500.0},
    "sources": ["made by hand for the tests"],
}
STATES_CSV = """abb,name,ccode,side,alt,lat,lon,cinc,offense,intent
P,Pland,1,west,west,50,0,8,0.25,0
Q,Qland,2,east,west,50,10,4,1,1
S,Sland,,west,west,45,20,2,0.5,0
T,Tland,4,west,,40,30,1,0.5,0
"""


def write_case(tmp_path, data=None, states=STATES_CSV, intent=None, name="a"):
    d = dict(CASE_YAML if data is None else data)
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    (tmp_path / "a_states.csv").write_text(states)
    if intent is not None:
        (tmp_path / "a_intent.csv").write_text(intent)
    return tmp_path / f"{name}.yaml"


def test_case_file_loads_and_matches_make_case(tmp_path):
    case = C.load_case(write_case(tmp_path))
    assert case.name == "a" and case.n == 4 and case.year == 2000
    assert case.abb == ("P", "Q", "S", "T") and case.names[0] == "Pland"
    assert case.ccode == (1, 2, None, 4)
    assert case.observed == ("west", "east", "west", "west")
    ev = C.evaluate_case(case)
    # the same system as case_a(): 4/4 and 2/4 (worked above)
    assert (ev.threat.correct, ev.power.correct) == (4, 2)
    assert ev.threat.bloc.tolist() == [5, 4, 5, 5]


def test_case_file_alternative_coding(tmp_path):
    # coding "alt": P, Q, S west, T unscored. Threat blocs: 5 {P, S}, 4 {Q}: 5 -> west (2),
    # bloc 4 has only a west member and west is taken -> none: 2 of 3 scored.
    case = C.load_case(write_case(tmp_path), coding="alt")
    assert case.observed == ("west", "west", "west", None) and case.n_scored == 3
    ev = C.evaluate_case(case)
    assert ev.threat.correct == 2 and ev.threat.accuracy == pytest.approx(2 / 3)
    assert C.load_case(write_case(tmp_path)).with_coding("alt").observed == case.observed
    with pytest.raises(ConfigError, match="not a coding"):
        C.load_case(write_case(tmp_path), coding="nope")


def test_case_file_dyadic_intent(tmp_path):
    # Dyadic intent equal to the monadic column for everyone except T, to whom P looks fully
    # hostile (h_TP = 1): T_TP = (1 + .5 + 1)/3 = .8333 = T_TQ; the tie goes to the smaller
    # index, P. So T balances against P -> bloc 4 with Q; bloc 4 {east: Q, west: T},
    # bloc 5 {west: P, S}: 5 -> west (2) + 4 -> east (1) = 3/4.
    data = dict(CASE_YAML, intent="a_intent.csv")
    states = "\n".join(line.rsplit(",", 1)[0] for line in STATES_CSV.splitlines()) + "\n"
    intent = ("perceiver,P,Q,S,T\n"
              "P,,1,0,0\n"
              "Q,0,,0,0\n"
              "S,0,1,,0\n"
              "T,1,1,0,\n")
    case = C.load_case(write_case(tmp_path, data, states, intent))
    assert case.dyadic and case.intent[3, 0] == 1.0
    ev = C.evaluate_case(case)
    assert ev.threat.target.tolist() == [1, 0, 1, 0]
    assert ev.threat.correct == 3


def test_case_file_power_components(tmp_path):
    # Case-relative CINC from components. X: milex 1, milper 3, irst 0, pec 2, tpop 1, upop 1;
    # Y: 3, 1, 5, 2, 1, 3. Shares of X: 1/4, 3/4, 0, 1/2, 1/2, 1/4 -> mean 2.25/6 = 0.375;
    # Y: 1 - 0.375 = 0.625.
    data = dict(CASE_YAML, power="components", observed={"sides": ["a", "b"]})
    states = ("abb,name,side,lat,lon,milex,milper,irst,pec,tpop,upop,offense,intent\n"
              "X,Xland,a,0,0,1,3,0,2,1,1,0.5,0.5\n"
              "Y,Yland,b,0,5,3,1,5,2,1,3,0.5,0.5\n")
    case = C.load_case(write_case(tmp_path, data, states))
    assert case.power.tolist() == pytest.approx([0.375, 0.625], abs=1e-15)


def expect_errors(tmp_path, *fragments, data=None, states=STATES_CSV, intent=None):
    path = write_case(tmp_path, data, states, intent)
    with pytest.raises(ConfigError) as info:
        C.load_case(path)
    text = str(info.value)
    for f in fragments:
        assert f in text, text
    return info.value.errors


def test_case_errors_name_file_and_field(tmp_path):
    errs = expect_errors(tmp_path, "a.yaml: model.reach: required",
                         data=dict(CASE_YAML, model={"weights": A_WEIGHTS}))
    assert len(errs) == 1
    expect_errors(tmp_path, "a.yaml: model.reach: must be > 0, got -5.0",
                  data=dict(CASE_YAML, model={"reach": -5.0}))
    expect_errors(tmp_path, "a.yaml: sourcs: unknown key (did you mean 'sources'?)",
                  data={**CASE_YAML, "sourcs": ["x"]})
    expect_errors(tmp_path, "a.yaml: sources: required key is missing",
                  data={k: v for k, v in CASE_YAML.items() if k != "sources"})
    expect_errors(tmp_path, "uncertainty.power: must be < 1",
                  data={**CASE_YAML, "uncertainty": {"power": 1.0}})
    expect_errors(tmp_path, "calibrate.sweep.factors.generator.power_sigma: a case calibrates "
                  "model parameters only",
                  data={**CASE_YAML, "calibrate": {"sweep": {"design": "grid", "factors": {
                      "generator.power_sigma": [1.0]}}}})
    expect_errors(tmp_path, "model.n_states: not used by a case",
                  data=dict(CASE_YAML, model={"reach": 1.0, "n_states": 4}))


def test_case_table_errors(tmp_path):
    bad = STATES_CSV.replace("Q,Qland,2,east,west,50,10,4,1,1", "Q,Qland,2,north,west,95,10,-4,"
                             "1.5,x")
    errs = expect_errors(tmp_path, "a_states.csv: line 3 (Q): side: 'north' is not one of",
                         "line 3 (Q): lat: must be <= 90, got 95",
                         "line 3 (Q): cinc: must be > 0, got -4",
                         "line 3 (Q): offense: must be <= 1, got 1.5",
                         "line 3 (Q): intent: must be a number, got 'x'", states=bad)
    assert len(errs) == 5
    expect_errors(tmp_path, "a_states.csv: missing column(s) offense",
                  states=STATES_CSV.replace(",offense,", ",offence,"))
    expect_errors(tmp_path, "line 4 (P): abb: duplicate state 'P'",
                  states=STATES_CSV.replace("S,Sland", "P,Sland"))
    expect_errors(tmp_path, "a_states.csv: a case needs at least 2 states",
                  states="\n".join(STATES_CSV.splitlines()[:2]) + "\n")
    expect_errors(tmp_path, "a_states.csv: line 2 (P): cinc: must be finite",
                  states=STATES_CSV.replace("50,0,8,", "50,0,nan,"))
    expect_errors(tmp_path, "missing.csv: file not found",
                  data=dict(CASE_YAML, states="missing.csv"))


def test_case_intent_matrix_errors(tmp_path):
    data = dict(CASE_YAML, intent="a_intent.csv")
    states = "\n".join(line.rsplit(",", 1)[0] for line in STATES_CSV.splitlines()) + "\n"
    expect_errors(tmp_path, "a_intent.csv: no column for state(s) T",
                  data=data, states=states, intent="who,P,Q,S\nP,,0,0\n")
    expect_errors(tmp_path, "a_intent.csv: line 3: 'Z' (first column) is not a state",
                  "a_intent.csv: line 4: perceiver 'P' appears twice",
                  data=data, states=states,
                  intent="who,P,Q,S,T\nP,,0,0,0\nZ,0,0,0,0\nP,,0,0,0\n")
    expect_errors(tmp_path, "a_intent.csv: line 2 (P): Q: must be <= 1, got 2",
                  "a_intent.csv: no row for perceiver(s) S, T", data=data, states=states,
                  intent="who,P,Q,S,T\nP,,2,0,0\nQ,0,,0,0\n")
    # both a column and a matrix
    expect_errors(tmp_path, "has an 'intent' column but the case also gives an intent matrix",
                  data=data, intent="who,P,Q,S,T\nP,,0,0,0\nQ,0,,0,0\nS,0,0,,0\nT,0,0,0,\n")


def test_find_case_unknown_name_lists_shipped():
    with pytest.raises(ConfigError, match="europe_1936"):
        C.load_case("no_such_case")


def test_make_case_validation():
    with pytest.raises(ConfigError) as info:
        C.make_case(["A", "A"], [1, -1], [0, 0], [0, 200], [0, 2], [0, 0], ["x", "y"])
    text = str(info.value)
    for frag in ("abb: state keys must be unique", "power: must be > 0",
                 "lon: must be in [-180, 180]", "offense: must be in [0, 1]"):
        assert frag in text


# ---------------------------------------------------------------------------------------------
# The builder, on hand-made COW tables
# ---------------------------------------------------------------------------------------------


def fake_cow(tmp_path):
    d = tmp_path / "cow"
    d.mkdir()
    (d / "states.csv").write_text("ccode,stateabb,statenme\n1,AAA,Aland\n2,BBB,Bland\n"
                                  "3,CCC,Cland\n")
    (d / "state_system_membership.csv").write_text(
        "stateabb,ccode,statenme,styear,stmonth,stday,endyear,endmonth,endday,version\n"
        "AAA,1,Aland,1900,1,1,2000,12,31,1\nBBB,2,Bland,1900,1,1,2000,12,31,1\n"
        "CCC,3,Cland,1925,1,1,2000,12,31,1\n")
    (d / "nmc_1890_1960.csv").write_text(
        "ccode,stateabb,statenme,year,milex,milper,irst,pec,tpop,upop,cinc\n"
        "1,AAA,Aland,1930,10,20,5,5,100,10,0.3\n"
        "2,BBB,Bland,1930,10,5,5,5,100,10,0.1\n"
        "3,CCC,Cland,1930,10,,5,5,100,10,0.05\n"
        "1,AAA,Aland,1929,10,20,5,5,100,10,0.3\n"
        "2,BBB,Bland,1929,10,5,5,5,100,10,0.1\n")
    (d / "capitals.csv").write_text(
        "ccode,statenme,capital,stdate,enddate,lat,lng\n"
        "1,Aland,Old,1900-01-01,1930-03-31,10,10\n1,Aland,New,1930-04-01,2000-12-31,20,20\n"
        "2,Bland,Bcity,1900-01-01,2000-12-31,30,30\n")
    # A (1) against B (2): war (5) in 1929 and a display (3) in 1927; B against A: threat (2)
    # in 1925, as side B. A against B also a use of force (4) in 1930 (the case year).
    (d / "mid_dir_dispute_years_1870_1960.csv").write_text(
        "dispnum,ccode1,ccode2,year,sidea1,sidea2,hostlev1,hostlev2,orig1,orig2\n"
        "10,1,2,1929,1,0,5,5,1,1\n10,2,1,1929,0,1,5,5,1,1\n"
        "11,1,2,1927,1,0,3,2,1,1\n11,2,1,1927,0,1,2,3,1,1\n"
        "12,2,1,1925,0,1,2,1,1,1\n12,1,2,1925,1,0,1,2,1,1\n"
        "13,1,2,1930,1,0,4,1,1,1\n13,2,1,1930,0,1,1,4,1,1\n")
    return d


def spec(**kw):
    s = {"year": 1930, "states": [{"ccode": 1, "side": "x"}, {"ccode": 2, "side": "y"}]}
    s.update(kw)
    return s


def test_builder_capital_power_and_offense(tmp_path):
    from mc_threat.cases.cow import build_tables

    d = fake_cow(tmp_path)
    built = build_tables(spec(intent={"method": "constant", "value": 0.5}), data_dir=d)
    rows = [r.split(",") for r in built.states_csv.splitlines()]
    head = rows[0]
    a = dict(zip(head, rows[1], strict=True))
    b = dict(zip(head, rows[2], strict=True))
    # capital in force on 1930-07-01: New (from 1930-04-01)
    assert (a["capital"], a["lat"], a["lon"]) == ("New", "20", "20")
    assert a["cinc"] == "0.3" and b["cinc"] == "0.1"
    # militarization: A 20/100 = 0.2, B 5/100 = 0.05 -> scaled by the max: 1 and 0.25
    assert (a["offense"], b["offense"]) == ("1", "0.25")
    assert (a["intent"], b["intent"]) == ("0.5", "0.5") and not built.dyadic


def test_builder_military_share(tmp_path):
    from mc_threat.cases.cow import build_tables

    d = fake_cow(tmp_path)
    built = build_tables(spec(offense={"method": "military_share"},
                              intent={"method": "constant", "value": 0.0}), data_dir=d)
    # case shares: milex 1/2, 1/2; milper 20/25 = .8, .2; irst, pec, tpop, upop 1/2 each.
    # A: overall = (.5 + .8 + 2)/6 = 3.3/6 = .55, military = (.5 + .8)/2 = .65 -> x = 1.1818
    # B: overall = (.5 + .2 + 2)/6 = .45, military = .35 -> x = .7778; o_B = .7778/1.1818
    #    = .6581
    rows = built.states_csv.splitlines()
    assert rows[1].endswith(",1,0") and rows[2].endswith(",0.6581,0")


def test_builder_mid_hostility(tmp_path):
    from mc_threat.cases.cow import build_tables

    d = fake_cow(tmp_path)
    # window 1920-1929 (10 years before 1930), no decay: how aggressive A looks to B is A's
    # highest level against B: war (5) -> (5 - 1)/4 = 1; B to A: max(war 1929 -> 1) = 1.
    built = build_tables(spec(intent={"method": "mid_hostility", "years": 10}), data_dir=d)
    assert built.intent_csv == "perceiver,AAA,BBB\nAAA,,1\nBBB,1,\n"
    # window 1926-1929 initiator only: B was never on side A, so h_AB (B to A) = 0;
    # A initiated the 1929 war: h_BA = 1.
    built = build_tables(spec(intent={"method": "mid_hostility", "years": 4,
                                      "initiator_only": True}), data_dir=d)
    assert built.intent_csv == "perceiver,AAA,BBB\nAAA,,0\nBBB,1,\n"
    # case year 1929, window 1920-1928 (last year 1928), half-life 1 year: A against B:
    # 1927 display (3 -> .5) weighted 0.5^((1928 - 1927)/1) = .5 -> .25, 1925 no action
    # (1 -> 0); B against A: 1927 threat (2 -> .25) * .5 = .125, 1925 threat (2 -> .25) *
    # 0.5^3 = .03125 -> max .125.
    built = build_tables(spec(year=1929, intent={"method": "mid_hostility", "years": 9,
                                                 "half_life": 1.0}), data_dir=d)
    assert built.intent_csv == "perceiver,AAA,BBB\nAAA,,0.125\nBBB,0.25,\n"
    # include_year with a one-year window: only 1930 counts: A used force (4 -> .75) against
    # B; B took no militarized action (1 -> 0).
    built = build_tables(spec(intent={"method": "mid_hostility", "years": 1,
                                      "include_year": True}), data_dir=d)
    assert built.intent_csv == "perceiver,AAA,BBB\nAAA,,0\nBBB,0.75,\n"


def test_builder_mid_initiations(tmp_path):
    from mc_threat.cases.cow import build_tables

    d = fake_cow(tmp_path)
    # 1920-1929: A originated disputes 10, 11, 12 on side A (3); B none -> A 1, B 0.
    built = build_tables(spec(intent={"method": "mid_initiations", "years": 10}), data_dir=d)
    rows = built.states_csv.splitlines()
    assert rows[1].endswith(",1") and rows[2].endswith(",0")


def test_builder_errors(tmp_path):
    from mc_threat.cases.cow import build_tables

    d = fake_cow(tmp_path)
    with pytest.raises(ConfigError) as info:
        build_tables(spec(states=[{"ccode": 1}, {"ccode": 3}, {"ccode": 9}]), data_dir=d)
    text = str(info.value)
    assert "build.states[1] (ccode 3): no capital of Cland in force on 1930-07-01" in text
    assert "build.states[2] (ccode 9): not a COW state code" in text
    with pytest.raises(ConfigError, match="needs milper of state 3"):
        build_tables(spec(states=[{"ccode": 1}, {"ccode": 3}],
                          capitals=[{"ccode": 3, "capital": "C", "lat": 0, "lon": 0,
                                     "source": "test"}]), data_dir=d)
    with pytest.raises(ConfigError, match="not a member of the state system on 1920-07-01"):
        build_tables(spec(year=1920, states=[{"ccode": 1}, {"ccode": 3}]), data_dir=d)
    with pytest.raises(ConfigError, match=r"build.offense.value: required by method"):
        build_tables(spec(offense={"method": "constant"}), data_dir=d)
    with pytest.raises(ConfigError, match=r"build.states\[1\].ccode: duplicate state 1"):
        build_tables(spec(states=[{"ccode": 1}, {"ccode": 1}]), data_dir=d)
    with pytest.raises(ConfigError, match=r"build.intent.years: must be >= 1"):
        build_tables(spec(intent={"years": 0}), data_dir=d)


def test_build_command_writes_and_checks(tmp_path, capsys):
    d = fake_cow(tmp_path)
    case = {"title": "built", "states": "b_states.csv", "intent": "b_intent.csv",
            "observed": {"sides": ["x", "y"]}, "model": {"reach": 1000.0},
            "sources": ["test"], "build": spec(intent={"method": "mid_hostility"})}
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(case))
    code, out, err = run_case_cli(["case", path, "--build", "--data-dir", d], capsys)
    assert code == 0, err
    assert "b_states.csv: written" in out and "b_intent.csv: written" in out
    code, out, _ = run_case_cli(["case", path, "--build", "--check", "--data-dir", d], capsys)
    assert code == 0 and out.count("up to date") == 2
    (tmp_path / "b_intent.csv").write_text("perceiver,AAA,BBB\nAAA,,0\nBBB,0,\n")
    code, out, _ = run_case_cli(["case", path, "--build", "--check", "--data-dir", d], capsys)
    assert code == 1 and "b_intent.csv: differs from the build" in out
    # a monadic build with an intent file named: a clear error
    case["build"] = spec(intent={"method": "constant", "value": 0.1})
    path.write_text(yaml.safe_dump(case))
    code, _, err = run_case_cli(["case", path, "--build", "--data-dir", d], capsys)
    assert code == 2 and "intent: the build makes a monadic intent column" in err


# ---------------------------------------------------------------------------------------------
# Shipped data and cases
# ---------------------------------------------------------------------------------------------


SHIPPED = ("europe_1936", "europe_1914", "coldwar_1955")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_case_tables_are_what_the_build_gives(name):
    from mc_threat.cases.cow import write_case_tables

    report = write_case_tables(name, check=True)
    assert report.up_to_date, report.lines


@pytest.mark.skipif(not SHARED_COW.is_dir(), reason="shared COW extracts not present")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cases_rebuild_from_the_original_extracts(name):
    from mc_threat.cases.cow import write_case_tables

    assert write_case_tables(name, data_dir=SHARED_COW, check=True).up_to_date


@pytest.mark.skipif(not SHARED_COW.is_dir(), reason="shared COW extracts not present")
def test_shipped_tables_equal_the_original_extracts():
    import csv

    from mc_threat.cases.cow import TABLES, default_data_dir

    ours = default_data_dir()
    for key, fname in TABLES.items():
        mine = list(csv.DictReader((ours / fname).open(encoding="utf-8")))
        theirs = list(csv.DictReader((SHARED_COW / fname).open(encoding="utf-8")))
        assert len(mine) == len(theirs), fname
        cols = list(mine[0])
        assert [[r[c] for c in cols] for r in mine] == [[r[c] for c in cols] for r in theirs]
        if key != "mids":  # the MID table ships a subset of the columns
            assert (ours / fname).read_bytes() == (SHARED_COW / fname).read_bytes()
    assert (ours / "README.md").is_file()


def test_europe_1936_structure():
    case = C.load_case("europe_1936")
    assert case.n == 17 and case.n_scored == 17 and case.dyadic
    codes = dict(zip(case.abb, case.ccode, strict=True))
    allies = {200, 315, 390, 220, 350, 365, 345, 290, 235}
    axis = {366, 375, 255, 310, 325, 367, 368, 360}
    assert {codes[a] for a, s in zip(case.abb, case.observed, strict=True)
            if s == "allies"} == allies
    assert {codes[a] for a, s in zip(case.abb, case.observed, strict=True)
            if s == "axis"} == axis
    land = case.tables["codings"]["landscape"]
    differ = {case.abb[i] for i in range(case.n) if land[i] != case.observed[i]}
    assert differ == {"POL", "POR"}
    # CINC 1936 in the shipped NMC table (mc_threat/data/cow/nmc_1890_1960.csv): Germany
    # 0.11511528, USSR 0.1481709, UK 0.076583385
    cinc = dict(zip(case.abb, case.power, strict=True))
    assert round(cinc["GMY"], 4) == 0.1151 and round(cinc["RUS"], 4) == 0.1482
    assert round(cinc["UKG"], 4) == 0.0766
    # Berlin-Moscow is about 1,600 km; London-Paris about 340 km
    i = {a: k for k, a in enumerate(case.abb)}
    assert 1550 < case.distance[i["GMY"], i["RUS"]] < 1650
    assert 330 < case.distance[i["UKG"], i["FRN"]] < 350
    assert any("Axelrod" in s for s in case.sources)
    assert case.model.reach == 1000.0


def test_europe_1914_structure():
    case = C.load_case("europe_1914")
    assert case.n == 13 and case.n_scored == 13
    side = dict(zip(case.abb, case.observed, strict=True))
    assert {a for a, s in side.items() if s == "central"} == {"GMY", "AUH", "TUR", "BUL"}
    july = dict(zip(case.abb, case.tables["codings"]["july_1914"], strict=True))
    assert side["ITA"] == "entente" and july["ITA"] == "central"  # Italy's switch
    assert july["ROM"] == "central" and july["SRB"] is None
    i = case.abb.index("TUR")
    assert case.names[i] == "Ottoman Empire"
    assert (case.lat[i], case.lon[i]) == (41.0082, 28.9784)  # Constantinople, not Ankara
    assert case.names[case.abb.index("SRB")] == "Serbia"


def test_coldwar_1955_structure():
    case = C.load_case("coldwar_1955")
    assert case.n == 23
    side = dict(zip(case.ccode, case.observed, strict=True))
    assert sum(s == "nato" for s in side.values()) == 15
    assert {c for c, s in side.items() if s == "warsaw"} == {365, 290, 315, 310, 360, 355,
                                                              339, 265}
    assert side[260] == "nato" and side[2] == "nato"
    # the United States is the strongest state, the USSR second (why BoP fails here)
    order = np.argsort(-case.power)
    assert case.abb[order[0]] == "USA" and case.abb[order[1]] == "RUS"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cases_validity(name):
    case = C.load_case(name)
    assert case.sources and all(len(s) > 20 for s in case.sources)
    assert (case.power > 0).all() and ((case.offense >= 0) & (case.offense <= 1)).all()
    assert ((case.intent >= 0) & (case.intent <= 1)).all()
    assert (np.diag(case.intent) == 0).all()
    assert case.offense.max() == 1.0  # militarization is scaled by the case maximum
    assert len(case.sides) == 2 and all(s in case.sides for s in case.observed if s)
    ev = C.evaluate_case(case)
    assert 0 <= ev.threat.accuracy <= 1 and 0 <= ev.power.accuracy <= 1
    text = (ROOT / "docs" / "cases.md").read_text()
    assert name in text


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


def test_cli_case_text(tmp_path, capsys):
    code, out, err = run_case_cli(["case", write_case(tmp_path)], capsys)
    assert code == 0, err
    assert "balance of threat: 4/4 = 1.000" in out and "balance of power: 2/4 = 0.500" in out
    assert "threat summary" in out and "against Q" in out
    code, out, _ = run_case_cli(["case", write_case(tmp_path), "--matrix"], capsys)
    assert code == 0 and "threat matrix T[i, j]" in out and "0.833" in out


def test_cli_case_json(tmp_path, capsys):
    code, out, err = run_case_cli(["case", write_case(tmp_path), "--json",
                                   "--weights", "1,0,0,0"], capsys)
    assert code == 0, err
    d = json.loads(out)
    # weights (1, 0, 0, 0): balance of threat is balance of power, both 2/4
    assert d["accuracy"]["balance_of_threat"]["correct"] == 2
    assert d["accuracy"]["balance_of_power"]["correct"] == 2
    assert d["params"]["weights"] == {"power": 1.0, "proximity": 0.0, "offense": 0.0,
                                      "intent": 0.0}
    assert [s["abb"] for s in d["states"]] == ["P", "Q", "S", "T"]
    assert d["states"][1]["threat"]["principal_threat"] == "P"
    assert d["threat_matrix"]["values"][0][0] is None
    code, out, _ = run_case_cli(["case", write_case(tmp_path), "--json", "--weights",
                                 "intent=0,offense=0"], capsys)
    # power = 1 and proximity = 0 from the case: again balance of power
    assert code == 0 and json.loads(out)["accuracy"]["balance_of_threat"]["correct"] == 2


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--weights", "1,2"], "--weights: give four numbers"),
    (["--weights", "power=x"], "--weights: power: must be a number"),
    (["--weights", "powr=1"], "--weights: unknown weight 'powr'"),
    (["--weights", "0,0,0,0"], "--weights: at least one weight must be > 0"),
    (["--weights=-1,0,0,1"], "--weights: power: must be >= 0"),
    (["--reach", "-3"], "--reach: must be > 0"),
    (["--bandwagon-ratio", "2"], "--bandwagon-ratio: must be <= 1"),
    (["--observed", "nope"], "observed coding 'nope'"),
    (["--draws", "5"], "--draws: only with --calibrate"),
    (["--calibrate", "--matrix"], "--matrix: not with --calibrate"),
    (["--build", "--json"], "--json: not with --build"),
    (["--build"], "build: the case has no build section"),
])
def test_cli_case_errors(tmp_path, capsys, argv, fragment):
    code, out, err = run_case_cli(["case", write_case(tmp_path), *argv], capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = error_lines(err)
    assert lines and any(fragment in line for line in lines), err


def test_cli_case_missing(capsys, tmp_path):
    code, _, err = run_case_cli(["case", tmp_path / "none.yaml"], capsys)
    assert code == 2 and "none.yaml: case file not found" in err


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------

GRID = {"design": "grid", "factors": {"model.bandwagon_ratio": [0.1, 0.6]}}


def test_calibration_hand_grid(tmp_path):
    # Case A over bandwagon_ratio {0.1, 0.6}, nominal attributes only (draws 0):
    # threat: 4/4 at 0.1, 3/4 at 0.6 (worked above); balance of power: 2/4 at 0.1; at 0.6
    # Q (4 < 0.6*8), S, T bandwagon with P, P balances against Q (8 >= 2.4): one bloc,
    # matched to west: 3/4.
    out = tmp_path / "a.zarr"
    cal = C.calibrate_case(case_a(), out, sweep=GRID, draws=0)
    ds = cal.dataset
    assert ds["correct"].values.tolist() == [4, 3]
    assert ds["bop_correct"].values.tolist() == [2, 3]
    assert ds["model.bandwagon_ratio"].values.tolist() == [0.1, 0.6]
    s = cal.summary
    assert s["best"]["point"] == 0 and s["best"]["correct"] == 4
    assert s["best"]["params"]["bandwagon_ratio"] == 0.1
    assert s["best"]["weight_shares"] == pytest.approx(
        {"power": 1 / 3, "proximity": 0.0, "offense": 1 / 3, "intent": 1 / 3})
    assert s["robustness"]["points_at_best"] == 1 and s["robustness"]["share_at_best"] == 0.5
    assert s["robustness"]["points_within_one"] == 2
    bop = s["balance_of_power"]
    assert bop["at_best"]["correct"] == 2 and bop["best_over_sweep"]["correct"] == 3
    assert bop["share_points_threat_better"] == 0.5 and bop["share_points_power_better"] == 0
    # draws = 0: side probabilities are the nominal prediction
    sp = ds["side_probability"].sel(point=0).values
    assert sp.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]]
    assert s["best"]["states"][1] == {**s["best"]["states"][1], "abb": "Q", "observed": "east",
                                      "predicted": "east", "p_observed": 1.0}
    # the store: zarr v3, opened with xarray; never overwritten without overwrite=True
    import zarr

    assert zarr.open_group(out, mode="r").metadata.zarr_format == 3
    back = C.open_calibration(out)
    assert back["correct"].values.tolist() == [4, 3]
    assert json.loads(back.attrs["summary"])["best"]["point"] == 0
    with pytest.raises(StoreError, match="already exists"):
        C.calibrate_case(case_a(), out, sweep=GRID, draws=0)
    C.calibrate_case(case_a(), out, sweep=GRID, draws=0, overwrite=True)


def test_calibration_grid_drops_all_zero_weights():
    sweep = {"design": "grid", "factors": {"model.weights.power": [0.0, 1.0],
                                           "model.weights.offense": [0.0, 1.0],
                                           "model.weights.intent": [0.0, 1.0]}}
    # case A has proximity 0, so (0, 0, 0) has every weight 0: 8 - 1 = 7 points remain
    cal = C.calibrate_case(case_a(), None, sweep=sweep, draws=0)
    assert cal.dataset.sizes["point"] == 7 and cal.dataset.attrs["grid_points_dropped"] == 1


def test_perturbations_stay_within_bounds_and_are_prefix_stable():
    case = case_a()
    pw, of, it = C.perturbed_attributes(case, 300, seed=5)
    u = case.uncertainty  # defaults: power 0.2 relative, offense and intent 0.1 absolute
    assert ((pw >= case.power * (1 - u.power)) & (pw <= case.power * (1 + u.power))).all()
    assert ((of >= np.maximum(0, case.offense - 0.1)) &
            (of <= np.minimum(1, case.offense + 0.1))).all()
    assert (it >= 0).all() and (it <= 1).all()
    # Q's offense is 1: it can only go down, by at most 0.1; P's intent 0 only up
    assert of[:, 1].max() <= 1.0 and of[:, 1].min() >= 0.9
    assert it[:, 0, 0].min() >= 0 and it[:, 0, 0].max() <= 0.1
    # the spread is real: it uses most of the interval
    assert pw[:, 0].max() > 8 * 1.15 and pw[:, 0].min() < 8 * 0.85
    pw2, of2, it2 = C.perturbed_attributes(case, 100, seed=5)
    assert (pw2 == pw[:100]).all() and (of2 == of[:100]).all() and (it2 == it[:100]).all()
    pw3, _, _ = C.perturbed_attributes(case, 100, seed=6)
    assert not (pw3 == pw2).all()


def test_calibration_draws_consistent_with_evaluate_case():
    # Each perturbed draw, evaluated alone with evaluate_case, must give the counts the
    # calibration stored (two points, 25 draws).
    case = C.load_case("europe_1914")
    sweep = {"design": "points", "points": [{"model.reach": 500.0},
                                            {"model.reach": 2000.0}]}
    cal = C.calibrate_case(case, None, sweep=sweep, draws=25, seed=3)
    ds = cal.dataset
    pw, of, it = C.perturbed_attributes(case, 25, seed=3)
    from dataclasses import replace

    for p, reach in enumerate((500.0, 2000.0)):
        counts = np.zeros((case.n, 3))
        for d in range(25):
            c2 = replace(case, power=pw[d], offense=of[d], intent=it[d, 0] if it.shape[1] == 1
                         else it[d])
            ev = C.evaluate_case(c2, {"reach": reach})
            assert ds["correct_draws"].values[p, d] == ev.threat.correct
            assert ds["bop_correct_draws"].values[p, d] == ev.power.correct
            for i, s in enumerate(ev.threat.predicted):
                counts[i, 2 if s < 0 else s] += 1
        np.testing.assert_allclose(ds["side_probability"].values[p], counts / 25)
        mc = ds["accuracy_mc"].sel(point=p)
        assert float(mc.sel(stat="mean")) == pytest.approx(
            ds["correct_draws"].values[p].mean() / case.n_scored)
        assert float(mc.sel(stat="count")) == 25
        # nominal accuracy equals evaluate_case at that point
        assert ds["correct"].values[p] == C.evaluate_case(case, {"reach": reach}).threat.correct


def test_calibration_results_do_not_depend_on_threads_or_chunks():
    case = C.load_case("europe_1936")
    sweep = {"design": "lhs", "samples": 40, "seed": 2,
             "factors": {"model.weights.intent": [0.0, 1.0], "model.reach": [200.0, 2000.0]}}
    a = C.calibrate_case(case, None, sweep=sweep, draws=20, threads=1, chunk=7).dataset
    b = C.calibrate_case(case, None, sweep=sweep, draws=20, threads=2, chunk=64).dataset
    for v in ("correct_draws", "bop_correct_draws", "side_probability", "correct"):
        assert (a[v].values == b[v].values).all(), v


def test_cli_calibrate_small(tmp_path, capsys):
    out = tmp_path / "c.zarr"
    argv = ["case", "europe_1936", "--calibrate", "--samples", "30", "--draws", "10",
            "--out", out]
    code, stdout, err = run_case_cli(argv, capsys)
    assert code == 0, err
    assert "best point #" in stdout and "balance of power: best over the sweep" in stdout
    assert "robustness" in stdout and "P(allies)" in stdout
    code, _, err = run_case_cli(argv, capsys)
    assert code == 2 and "already exists; use --overwrite" in err
    code, stdout, err = run_case_cli([*argv, "--overwrite", "--json"], capsys)
    assert code == 0, err
    s = json.loads(stdout)
    assert s["points"] == 30 and s["draws"] == 10 and s["store"] == str(out)
    assert len(s["best"]["states"]) == 17
    code, _, err = run_case_cli(["case", "europe_1936", "--calibrate", "--samples", "0"],
                                capsys)
    assert code == 2 and "--samples: must be >= 1" in err


def test_default_calibration_of_a_shipped_case(tmp_path):
    # The default calibration of the largest shipped case: 4000 points x 200 draws.
    case = C.load_case("coldwar_1955")
    cal = C.calibrate_case(case, tmp_path / "cw.zarr")
    assert cal.summary["points"] == 4000 and cal.summary["draws"] == 200
    assert 0 < cal.summary["best"]["accuracy"] <= 1


@pytest.mark.bench
def test_default_calibration_of_a_shipped_case_is_fast(tmp_path):
    # Timing (benchmark only: a shared machine can be slow from load alone): the default
    # calibration of the largest shipped case runs in well under a minute on 2 cores once
    # the kernels are compiled (the small calibration first compiles them).
    case = C.load_case("coldwar_1955")
    C.calibrate_case(case, None, sweep={"design": "lhs", "samples": 2, "seed": 0,
                                        "factors": {"model.reach": [100.0, 200.0]}}, draws=2)
    t = time.perf_counter()
    C.calibrate_case(case, tmp_path / "cw.zarr")
    elapsed = time.perf_counter() - t
    assert elapsed < 60, elapsed


def test_calibrate_overwrite_never_deletes_user_files(tmp_path, capsys):
    """--overwrite replaces a calibration store or an empty directory, never a directory of
    someone else's files (it once deleted a thesis): refused before any work, untouched."""
    from conftest import snapshot

    theirs = tmp_path / "thesis"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("\\documentclass{article}")
    before = snapshot(theirs)
    argv = ["case", "europe_1936", "--calibrate", "--samples", "8", "--draws", "0",
            "--overwrite", "--out", theirs]
    code, _, err = run_case_cli(argv, capsys)
    assert code == 2 and "not an mc-threat results store" in err, err
    assert err.count("mc-threat: error:") == 1 and "Traceback" not in err
    assert snapshot(theirs) == before
    # a calibration store and an empty directory are replaced
    store = tmp_path / "cal.zarr"
    assert run_case_cli([*argv[:-1], store], capsys)[0] == 0
    assert run_case_cli([*argv[:-1], store], capsys)[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_case_cli([*argv[:-1], empty], capsys)[0] == 0
