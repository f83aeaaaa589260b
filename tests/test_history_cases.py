"""Null models beside the case accuracies (``mc-threat case``, ``case --calibrate``) and the
leave-one-case-out scores. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mc_threat import cases as C
from mc_threat import cli


def run(argv, capsys):
    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def four(sides=("a", "a", "b", "b")):
    return C.make_case(["P", "Q", "S", "T"], [4, 3, 2, 1], [0, 0, 0, 0], [0, 1, 2, 3],
                       [0.5] * 4, [0.5] * 4, list(sides))


def test_majority_null_1914_is_the_entente():
    # the observation: "every state is in the Entente" scores 9/13 in 1914
    m = C.majority_null(C.load_case("europe_1914"))
    assert (m["side"], m["correct"], m["accuracy"]) == ("entente", 9, pytest.approx(9 / 13))


def test_permutation_null_known_answer():
    # blocs {P,Q} {S,T} against sides a a b b: correct 4. A random relabelling keeps the
    # 2 + 2 split; 2 of the 6 ways to pick the first bloc's pair give 4 correct, the other 4
    # give one a and one b per bloc, 2 correct. p = 1/3, mean accuracy (4/3 + 4/3) / 4 = 2/3
    case = four()
    r = C.permutation_null(case, [4, 4, 5, 5], 4, permutations=6000, seed=3)
    assert r["p_value"] == pytest.approx(1 / 3, abs=0.02)
    assert r["mean_accuracy"] == pytest.approx(2 / 3, abs=0.01)
    # one bloc for all: every permutation scores the same, p = 1
    assert C.permutation_null(case, [4, 4, 4, 4], 2, permutations=50)["p_value"] == 1.0


def test_search_null_known_answers():
    case = four()
    # every point predicts one bloc for all: the best is 2/4 under every permutation, p = 1
    r = C.search_null(case, np.full((5, 4), 4), 2, permutations=40, seed=1)
    assert r["p_value"] == 1.0 and r["best_accuracy_max"] == 0.5
    # a search that holds both 2 + 2 splits that can match ({P,Q}{S,T} and {P,S}{Q,T}) and
    # {P,T}{Q,S}: every permutation of a a b b is one of these three splits, so some point
    # scores 4/4 under every permutation: the best of the search is always perfect, p = 1
    blocs = np.array([[4, 4, 5, 5], [4, 5, 4, 5], [4, 5, 5, 4]])
    r = C.search_null(case, blocs, 4, permutations=40, seed=1)
    assert r["best_accuracy_median"] == 1.0 and r["p_value"] == 1.0
    # only one split: the permuted sides match it for 2 of the 6 arrangements: p near 1/3
    r = C.search_null(case, blocs[:1], 4, permutations=3000, seed=2)
    assert r["p_value"] == pytest.approx(1 / 3, abs=0.03)


def test_case_json_and_text_carry_nulls(capsys):
    code, out, err = run(["case", "europe_1914", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    nm = doc["null_models"]
    assert nm["majority"]["correct"] == 9
    assert set(nm["permutation"]) == {"balance_of_threat", "balance_of_power"}
    assert 0 < nm["permutation"]["balance_of_threat"]["p_value"] <= 1
    # the existing accuracy numbers are unchanged by the nulls
    ev = C.evaluate_case(C.load_case("europe_1914"))
    assert doc["accuracy"]["balance_of_threat"]["correct"] == ev.threat.correct
    code, out, err = run(["case", "europe_1914"], capsys)
    assert code == 0 and "majority (one bloc for all" in out and "permutation" in out


def test_calibration_summary_carries_nulls(tmp_path, capsys):
    code, out, err = run(["case", "europe_1914", "--calibrate", "--samples", "20", "--draws",
                          "2", "--out", tmp_path / "c.zarr", "--json"], capsys)
    assert code == 0, err
    s = json.loads(out)
    nm = s["null_models"]
    assert nm["majority"]["accuracy"] == pytest.approx(9 / 13)
    assert nm["search"]["permutations"] == C.SEARCH_NULL_PERMUTATIONS
    assert 0 < nm["search"]["p_value"] <= 1 and 0 < nm["permutation_at_best"]["p_value"] <= 1
    code, out, err = run(["case", "europe_1914", "--calibrate", "--samples", "20", "--draws",
                          "2", "--out", tmp_path / "d.zarr"], capsys)
    assert code == 0 and "null of the search" in out


def test_leave_one_case_out_never_sees_the_held_out_case(tmp_path):
    from mc_threat.history.search import leave_one_case_out

    r = leave_one_case_out(points=40)
    for name, v in r["held_out"].items():
        assert name not in v["trained_on"] and len(v["trained_on"]) == 2
        # the held-out score can never beat that case's own best over the same design
        assert v["held_out_accuracy"] <= v["held_out_in_sample_best"]
    # the chosen point depends only on the other cases: flipping the held-out case's
    # observed sides changes its score, never the point chosen for it
    import shutil

    d = tmp_path / "cases"
    d.mkdir()
    for f in (C.REPO_ROOT / "configs" / "cases").glob("coldwar_1955*"):
        shutil.copy(f, d / f.name)
    states = d / "coldwar_1955_states.csv"
    text = states.read_text().replace(",nato,", ",XX,").replace(",warsaw,", ",nato,")
    states.write_text(text.replace(",XX,", ",warsaw,"))
    flipped = leave_one_case_out(points=40, cases=("europe_1914", "europe_1936",
                                                   str(d / "coldwar_1955.yaml")))
    a, b = r["held_out"]["coldwar_1955"], flipped["held_out"]["coldwar_1955"]
    assert a["best_point"] == b["best_point"] and a["params"] == b["params"]
    assert C.load_case(d / "coldwar_1955.yaml").observed != \
        C.load_case("coldwar_1955").observed
