"""mc-threat history: observed alliances, dyadic scores, null models, out-of-sample splits.

Expected values are worked out by hand in the comments (pair counts, permutation
probabilities) or come from the historical record (the alliances of 1914 and NATO in 1955),
not from the code's own output.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mc_threat import cli
from mc_threat.history import data as D
from mc_threat.history import score as S
from mc_threat.history.panel import default_params, predict, run_history, to_json
from mc_threat.history.search import out_of_sample

FRN, RUS, GMY, AUH, UKG, ITA, USA, GFR, GDR = 220, 365, 255, 300, 200, 325, 2, 260, 265
NATO_1955 = (2, 20, 200, 210, 211, 212, 220, 235, 260, 325, 350, 385, 390, 395, 640)


def run(argv, capsys):
    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def allied(system, a, b) -> bool:
    idx = {int(c): k for k, c in enumerate(system.ccodes)}
    return bool(system.allied[idx[a], idx[b]])


# ---------------------------------------------------------------------------------------------
# Observed alliances against the record
# ---------------------------------------------------------------------------------------------


def test_1914_alliances():
    s = D.build_year(1914, "europe")
    # the Franco-Russian alliance (1894) and the Dual Alliance (1879) were in force
    assert allied(s, FRN, RUS) and allied(s, RUS, FRN)
    assert allied(s, GMY, AUH)
    assert allied(s, GMY, ITA) and allied(s, AUH, ITA)  # the Triple Alliance, renewed 1912
    # Britain had ententes, not defense pledges, with France and Russia; none with Germany
    assert not allied(s, UKG, GMY) and not allied(s, FRN, GMY) and not allied(s, UKG, FRN)
    assert not allied(s, RUS, GMY)
    assert s.allied.T.tolist() == s.allied.tolist() and not s.allied.diagonal().any()


def test_1955_nato_members_are_allied():
    s = D.build_year(1955, "global")
    members = [c for c in NATO_1955 if c in set(s.ccodes.tolist())]
    assert len(members) == len(NATO_1955)  # all fifteen are system members with data
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            assert allied(s, a, b), (a, b)
    assert not allied(s, USA, RUS) and not allied(s, GFR, GDR)


def test_spells_expand_to_pairs_in_force():
    # every spell row of the shipped extract makes its pair allied in its first and last year
    # and in no year just outside it unless another spell covers that year
    rows = list(csv.DictReader(open(D.data_dir() / "atop_defense_offense_spells.csv")))
    data = D.load_history()
    spans = {}
    for r in rows:
        a, b, s, e = int(r["ccode1"]), int(r["ccode2"]), int(r["start"]), int(r["end"])
        assert a < b and s <= e
        spans.setdefault((a, b), []).append((s, e))
    for (a, b), sp in list(spans.items())[:300]:
        for s, e in sp:
            assert (a, b) in data.allied_by_year[s] and (a, b) in data.allied_by_year[e]
            if not any(s2 <= s - 1 <= e2 for s2, e2 in sp):
                assert (a, b) not in data.allied_by_year.get(s - 1, set())


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "history"


@pytest.mark.skipif(not (SHARED / "atop_alliance_dyad_years.csv").is_file(),
                    reason="the full ATOP extract is not beside the repository")
def test_spells_equal_the_atop_dyad_years():
    # the shipped spells expand to exactly the ATOP dyad-years (1816-2016, either direction)
    # with a defense or offense pledge
    want = set()
    for r in csv.DictReader(open(SHARED / "atop_alliance_dyad_years.csv")):
        y = int(r["year"])
        if (r["atop_defense"] == "1" or r["atop_offense"] == "1") and 1816 <= y <= 2016:
            a, b = int(r["ccode1"]), int(r["ccode2"])
            want.add((min(a, b), max(a, b), y))
    got = {(a, b, y) for y, pairs in D.load_history().allied_by_year.items() for a, b in pairs}
    assert got == want


def test_region_membership():
    e = D.build_year(1955, "europe")
    assert all(200 <= c <= 399 for c in e.ccodes)
    m = D.build_year(1914, "major_powers")
    # COW major powers on 1 July 1914: USA, UK, France, Germany, Austria-Hungary, Italy,
    # Russia, Japan
    assert sorted(m.ccodes.tolist()) == [2, 200, 220, 255, 300, 325, 365, 740]
    me = D.build_year(1955, "middle_east")
    assert all(600 <= c <= 699 for c in me.ccodes) and 640 in me.ccodes


def test_year_system_rules():
    s = D.build_year(1914, "europe")
    assert np.all(np.diff(s.ccodes) > 0)
    assert s.offense.max() == 1.0 and s.offense.min() >= 0.0
    assert np.allclose(s.intent.diagonal(), 0.0) and s.intent.max() <= 1.0
    # the Ottoman capital is Constantinople before October 1923 (the cases' correction)
    t = D.build_year(1914, "middle_east")
    k = list(t.ccodes).index(640)
    assert (t.lat[k], t.lon[k]) == (41.0082, 28.9784)
    # Paris-Berlin great-circle distance is about 878 km
    d = s.distance
    i, j = list(s.ccodes).index(FRN), list(s.ccodes).index(GMY)
    assert 860 < d[i, j] < 890 and d[j, i] == d[i, j]


def test_intent_sources_differ_and_combine():
    mid = D.build_year(1912, "europe", "mid")
    td = D.build_year(1912, "europe", "td")
    both = D.build_year(1912, "europe", "mid+td")
    assert set(np.unique(td.intent)) <= {0.0, 1.0}
    i, j = list(td.ccodes).index(FRN), list(td.ccodes).index(GMY)
    assert td.intent[i, j] == 1.0 and td.intent[j, i] == 1.0  # France-Germany rivalry
    assert np.array_equal(both.intent, np.maximum(mid.intent, td.intent))
    terr = D.build_year(1912, "europe", "territorial")
    off = ~np.eye(terr.n, dtype=bool)
    row_const = [np.ptp(terr.intent[k][off[k]]) for k in range(terr.n)]
    assert max(row_const) == 0.0  # perceiver-side: the same toward every other state
    with pytest.raises(ValueError, match="unknown intent source"):
        D.parse_intent("mid+nope")


# ---------------------------------------------------------------------------------------------
# Scores and null models on constructed systems
# ---------------------------------------------------------------------------------------------


def _allied(n, pairs):
    a = np.zeros((n, n), bool)
    for i, j in pairs:
        a[i, j] = a[j, i] = True
    return a


def test_counts_by_hand():
    # 4 states, blocs {0,1} {2,3}; allied: 0-1 and 0-2. Pairs: 01 same+allied (tp),
    # 23 same, not allied (fp), 02 allied, not same (fn), 03 12 13 neither (tn = 3)
    c = S.counts([5, 5, 6, 6], _allied(4, [(0, 1), (0, 2)]))
    assert tuple(c) == (1, 1, 1, 3)
    assert c.accuracy == pytest.approx(4 / 6)
    assert c.mcc == pytest.approx((1 * 3 - 1 * 1) / math.sqrt(2 * 2 * 4 * 4))
    # perfect and inverted predictions
    assert S.counts([0, 0, 1, 1], _allied(4, [(0, 1), (2, 3)])).mcc == pytest.approx(1.0)
    assert S.counts([0, 1, 2, 3], _allied(4, [])).accuracy == 1.0
    assert S.counts([0, 1, 2, 3], _allied(4, [])).mcc == 0.0  # empty margin


def test_no_alliances_and_majority():
    few = S.null_models(_allied(4, [(0, 1)]))
    assert few["no_alliances"]["dyadic_accuracy"] == pytest.approx(5 / 6)
    assert "majority" not in few  # same as no_alliances when most pairs are not allied
    most = S.null_models(_allied(3, [(0, 1), (0, 2)]))  # 2 of 3 pairs allied
    assert most["no_alliances"]["dyadic_accuracy"] == pytest.approx(1 / 3)
    assert most["majority"]["dyadic_accuracy"] == pytest.approx(2 / 3)


def test_permutation_null_known_answers():
    rng = np.random.default_rng(5)
    al = _allied(4, [(0, 1)])
    c = S.counts([5, 5, 6, 6], al)
    # the allied pair lands in one bloc for 2 of the 6 pair positions: P(tp_r = 1) = 1/3,
    # so p = P(tp_r >= 1) = 1/3 and the mean accuracy is (2 E[tp] + N - S - A) / N
    # = (2/3 + 6 - 2 - 1) / 6
    res = S.permutation_null(c, S.permutation_tp([5, 5, 6, 6], al, 20000, rng))
    assert res["p_value"] == pytest.approx(1 / 3, abs=0.01)
    assert res["mean_accuracy"] == pytest.approx((2 / 3 + 3) / 6, abs=0.005)
    # one bloc for everybody: every permutation is the prediction itself, p = 1
    one = S.permutation_null(S.counts([0, 0, 0, 0], al),
                             S.permutation_tp([0, 0, 0, 0], al, 50, rng))
    assert one["p_value"] == 1.0 and one["n_equal"] == 50


def test_permutation_p_values_are_uniform_for_random_predictions():
    # predictions independent of the observation: the observed tp is exchangeable with the
    # permuted ones, so the tie-randomized p-value is uniform on [0, 1] and the reported
    # (conservative) p-value is never below it
    ps, pr = [], []
    partition = np.repeat([0, 1, 2], [5, 4, 3])
    for seed in range(300):
        rng = np.random.default_rng(seed)
        up = np.triu(rng.random((12, 12)) < 0.3, 1)
        al = up | up.T
        bloc = rng.permutation(partition)
        c = S.counts(bloc, al)
        r = S.permutation_null(c, S.permutation_tp(bloc, al, 199, rng))
        ps.append(r["p_value"])
        pr.append((r["n_greater"] + rng.random() * (r["n_equal"] + 1)) / 200)
    assert stats.kstest(pr, "uniform").pvalue > 0.01
    assert all(p >= q - 1e-12 for p, q in zip(ps, pr, strict=True))
    for alpha in (0.05, 0.1, 0.25, 0.5):
        assert np.mean(np.asarray(ps) <= alpha) <= alpha + 0.05


def test_permutation_detects_a_true_prediction():
    # predicting the observed blocs exactly is far better than random: p at its minimum
    bloc = np.repeat([0, 1, 2, 3], 4)
    al = bloc[:, None] == bloc[None, :]
    np.fill_diagonal(al, False)
    c = S.counts(bloc, al)
    r = S.permutation_null(c, S.permutation_tp(bloc, al, 99, np.random.default_rng(1)))
    assert c.mcc == pytest.approx(1.0) and r["p_value"] == pytest.approx(1 / 100)


# ---------------------------------------------------------------------------------------------
# The panel, its JSON and its store
# ---------------------------------------------------------------------------------------------


def test_json_recomputes_from_extract_and_blocs(capsys):
    code, out, err = run(["history", "--region", "europe", "--years", "1913-1915", "--json",
                          "--permutations", "50", "--search-points", "0"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["region"] == "europe" and set(doc) >= {"years", "summary", "period"}
    assert doc["out_of_sample"] is None  # --search-points 0
    spells = [tuple(int(x) for x in (r["ccode1"], r["ccode2"], r["start"], r["end"]))
              for r in csv.DictReader(open(D.data_dir() / "atop_defense_offense_spells.csv"))]
    pooled = np.zeros(4, int)
    for y in doc["years"]:
        cc = y["ccodes"]
        expect = sorted((a, b) for a, b, s, e in spells
                        if s <= y["year"] <= e and a in cc and b in cc)
        assert sorted(map(tuple, y["observed_allied_pairs"])) == expect
        for name in ("balance_of_threat", "balance_of_power"):
            bloc = y[name]["bloc"]
            assert len(bloc) == len(cc)
            tp = fp = fn = tn = 0
            for i in range(len(cc)):
                for j in range(i + 1, len(cc)):
                    same = bloc[i] == bloc[j]
                    al = (cc[i], cc[j]) in expect
                    tp += same and al
                    fp += same and not al
                    fn += al and not same
                    tn += not al and not same
            assert (y[name]["tp"], y[name]["fp"], y[name]["fn"], y[name]["tn"]) == \
                (tp, fp, fn, tn)
            assert y[name]["dyadic_accuracy"] == pytest.approx((tp + tn) / (tp + fp + fn + tn))
            if name == "balance_of_threat":
                pooled += (tp, fp, fn, tn)
        n = len(cc)
        assert y["baselines"]["no_alliances"]["dyadic_accuracy"] == pytest.approx(
            1 - len(expect) / (n * (n - 1) / 2))
        assert 0 < y["baselines"]["permutation"]["balance_of_threat"]["p_value"] <= 1
    s = doc["summary"]["balance_of_threat"]
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == tuple(pooled)


def test_same_seed_same_result_and_year_independent_of_range():
    a = to_json(run_history("europe", (1913, 1914), permutations=30, seed=3))
    b = to_json(run_history("europe", (1913, 1914), permutations=30, seed=3))
    assert json.dumps(a) == json.dumps(b)
    c = to_json(run_history("europe", (1914, 1914), permutations=30, seed=3))
    assert c["years"][0] == a["years"][1]


def test_store_and_overwrite_rules(tmp_path, capsys):
    import xarray as xr

    out = tmp_path / "h.zarr"
    args = ["history", "--years", "1914-1915", "--permutations", "20", "--search-points", "0",
            "--out", out]
    code, _, err = run(args, capsys)
    assert code == 0, err
    ds = xr.open_zarr(out)
    assert ds.attrs["kind"] == "history" and list(ds["year"].values) == [1914, 1915]
    assert int(ds["allied_pairs"].sel(year=1914)) == 11
    assert json.loads(ds.attrs["summary"])["years_scored"] == 2
    code, _, err = run(args, capsys)
    assert code == 2 and err.count("\n") == 1 and "--overwrite" in err
    code, _, err = run(args + ["--overwrite"], capsys)
    assert code == 0, err
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, _, err = run(args[:-1] + [other, "--overwrite"], capsys)
    assert code == 2 and "not an mc-threat" in err
    assert (other / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("argv,field", [
    (["--years", "1700-1800"], "--years"),
    (["--years", "1900-1850"], "--years"),
    (["--years", "abc"], "--years"),
    (["--intent", "astrology"], "--intent"),
    (["--permutations", "-1"], "--permutations"),
    (["--weights", "1,2"], "--weights"),
    (["--reach", "-5"], "--reach"),
    (["--overwrite"], "--overwrite"),
])
def test_bad_arguments(argv, field, capsys):
    code, out, err = run(["history", "--search-points", "0", *argv], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"mc-threat: error: {field}") and err.count("\n") == 1
    assert "Traceback" not in err


def test_table_output(capsys):
    code, out, err = run(["history", "--years", "1914-1914", "--permutations", "20",
                          "--search-points", "0"], capsys)
    assert code == 0, err
    assert "1914" in out and "no alliances" in out and "permutation null" in out


# ---------------------------------------------------------------------------------------------
# Out of sample
# ---------------------------------------------------------------------------------------------


def test_out_of_sample_has_no_leakage():
    data = D.load_history()
    kw = dict(points=6, train=(1900, 1905), test=(1906, 1909), permutations=5, seed=2)
    a = out_of_sample("europe", (1900, 1909), data=data, **kw)
    # scramble the test years' alliances: the choice and the search null must not move
    scrambled = dict(data.allied_by_year)
    for y in range(1906, 1910):
        scrambled[y] = {(200, 220), (200, 230), (210, 211)}
    b = out_of_sample("europe", (1900, 1909), data=replace(data, allied_by_year=scrambled),
                      **kw)
    assert a["best_point"] == b["best_point"]
    assert a["in_sample"] == b["in_sample"] and a["search_null"] == b["search_null"]
    assert a["out_of_sample"]["tp"] + a["out_of_sample"]["fn"] != \
        b["out_of_sample"]["tp"] + b["out_of_sample"]["fn"]
    # and the test years do not enter the training score: changing a training year does
    scrambled = dict(data.allied_by_year)
    scrambled[1901] = {(200, 220)}
    c = out_of_sample("europe", (1900, 1909), data=replace(data, allied_by_year=scrambled),
                      **kw)
    assert c["in_sample"] != a["in_sample"]


def test_out_of_sample_refuses_overlap_and_empty():
    o = out_of_sample("europe", (1900, 1910), points=4, train=(1900, 1905), test=(1905, 1910))
    assert "overlap" in o["skipped"]
    o = out_of_sample("europe", (1900, 1910), points=4, train=(1816, 1850), test=(1905, 1910))
    assert "outside" in o["skipped"]


def test_search_null_is_calibrated_for_a_useless_model():
    # a model whose blocs carry no information (one bloc per state: no pair ever predicted
    # allied) has mcc 0 at every point, in the data and under every permutation: p = 1
    from mc_threat.history.search import search_permutation_test

    s = D.build_year(1905, "europe")
    blocs = np.tile(np.arange(s.n), (3, 1))
    r = search_permutation_test([(s, blocs)], 0.0, 20, 1)
    assert r["p_value"] == 1.0 and r["null_best_mcc_max"] == 0.0


def test_predict_matches_case_evaluation():
    # the history path uses the case kernels: the 1936 case's blocs from its own tables and
    # a YearSystem made of the same numbers agree
    from mc_threat.cases import evaluate_case, load_case

    case = load_case("europe_1936")
    sysm = D.YearSystem(1936, np.arange(case.n), case.abb, case.power, case.offense,
                        np.ascontiguousarray(case.intent), case.lat, case.lon,
                        np.zeros((case.n, case.n), bool))
    bt, bp = predict(sysm, case.model)
    ev = evaluate_case(case)
    same = ev.threat.bloc[:, None] == ev.threat.bloc[None, :]
    assert np.array_equal(bt[0][:, None] == bt[0][None, :], same)
    assert default_params().reach == 1000.0


# ---------------------------------------------------------------------------------------------
# Intent sources compared; Walt's claims
# ---------------------------------------------------------------------------------------------


def test_compare_intents_small():
    from mc_threat.history.panel import compare_intents

    c = compare_intents("europe", (1905, 1908), sources=("mid", "td", "mid+td"),
                        permutations=10)
    assert set(c["sources"]) == {"mid", "td", "mid+td"}
    f = c["favoured"]
    assert c["sources"][f["source"]]["mcc"] >= max(v["mcc"] for v in c["sources"].values())
    assert f["years_higher"] + f["years_lower"] + f["years_equal"] == 4


def test_claims_report(capsys):
    from mc_threat.cases import load_case
    from mc_threat.history.claims import run_claims

    r = run_claims(points=30, draws=4)
    # 1955: fifteen NATO members against eight of the Warsaw Pact (the case's coding)
    b = r["b_1955_sided_with_the_stronger"]
    assert b["record"] == {"sizes": [15, 8], "holds": True}
    assert b["power"]["USA"] > b["power"]["USSR"]
    # 1914: Entente CINC over Central Powers CINC, summed from the case table directly
    case = load_case("europe_1914")
    ent = sum(p for p, s in zip(case.power, case.observed, strict=True) if s == "entente")
    cen = sum(p for p, s in zip(case.power, case.observed, strict=True) if s == "central")
    a = r["a_coalition_against_germany"]["europe_1914"]
    assert a["record"]["power_ratio"] == pytest.approx(ent / cen)
    # 2004: the 26 NATO members alone are allied with the US, and hold far more CINC than
    # Russia and China with their allies
    c = r["c_2004_no_counterbalancing"]["record"]
    assert c["allied_with_us"] >= 26 and c["holds"]
    for e in (a, b):
        for k in ("balance_of_threat", "balance_of_power"):
            assert 0.0 <= e["calibrated_region"][k]["share_holds"] <= 1.0
            assert e["attribute_uncertainty"][k]["draws"] == 4
    code, out, err = run(["claims", "--points", "20", "--draws", "2"], capsys)
    assert code == 0, err
    assert "(a)" in out and "(b)" in out and "(c)" in out
    code, out, err = run(["claims", "--points", "0"], capsys)
    assert code == 2 and err.startswith("mc-threat: error: --points")


# ---------------------------------------------------------------------------------------------
# Neutrals
# ---------------------------------------------------------------------------------------------


def test_match_with_neutrals_by_hand():
    from mc_threat.history.neutrals import match_with_neutrals

    # blocs {0,1} {2,3} {4}: sides a a b b, state 4 neutral: everything right, bloc {4} is
    # matched to no side and so predicts neutral
    c, pred = match_with_neutrals([0, 0, 1, 1, 2], [0, 0, 1, 1, 2], 2)
    assert c == 5 and pred.tolist() == [0, 0, 1, 1, 2]
    # one bloc {0,1,2} holding one 'a' and two neutrals, bloc {3} = 'b': leaving the big bloc
    # unmatched (2 neutrals right) beats matching it to 'a' (1 right): 3 correct
    c, pred = match_with_neutrals([0, 0, 0, 1], [0, 2, 2, 1], 2)
    assert c == 3 and pred.tolist() == [2, 2, 2, 1]


def test_match_with_neutrals_equals_case_matching_without_neutrals():
    # with no observed neutral the rule is the cases' one-to-one matching
    from mc_threat.cases import best_matching
    from mc_threat.history.neutrals import match_with_neutrals

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 9))
        bloc = rng.integers(0, 2 * n, n)
        side = rng.integers(-1, 3, n)
        assert match_with_neutrals(bloc, side, 3)[0] == best_matching(bloc, side, 3)[0]


def test_neutral_cases(capsys):
    from mc_threat.history.neutrals import score_case_with_neutrals

    r = score_case_with_neutrals("coldwar_1955", permutations=20)
    # Austria joins the state system on 27 July 1955: not in the 1 July system
    assert r["left_out"] == [305] and r["n_neutral"] == 6 and r["n_scored"] == 29
    r = score_case_with_neutrals("europe_1914", permutations=20)
    assert r["n_neutral"] == 6 and r["n_scored"] == 19 and r["left_out"] == []
    assert sorted(r["observed"]).count("neutral") == 6
    v = r["balance_of_threat"]
    assert v["neutrals_correct"] + v["belligerents_correct"] == v["correct"]
    code, out, err = run(["history", "--years", "1914", "--permutations", "5",
                          "--search-points", "0", "--neutrals"], capsys)
    assert code == 0 and "with the record's neutrals" in out


def test_json_out_of_sample_section(capsys, tmp_path):
    import xarray as xr

    code, out, err = run(["history", "--years", "1900-1925", "--permutations", "10",
                          "--search-points", "4", "--search-permutations", "3", "--train",
                          "1900-1910", "--test", "1919-1925", "--json", "--out",
                          tmp_path / "h.zarr"], capsys)
    assert code == 0, err
    o = json.loads(out)["out_of_sample"]
    assert o["train"] == [1900, 1910] and o["test"] == [1919, 1925]
    assert 0 <= o["best_point"]["index"] < 4 and o["search_null"]["permutations"] == 3
    assert 0 < o["out_of_sample"]["permutation"]["p_value"] <= 1
    ds = xr.open_zarr(tmp_path / "h.zarr")
    assert json.loads(ds.attrs["out_of_sample"]) == o
