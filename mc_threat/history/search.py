"""Out-of-sample scores and the permutation test of a parameter search.

A *search* evaluates the panel at every point of a design (a Latin hypercube over the
factors of the shipped cases' calibration, :data:`mc_threat.cases.DEFAULT_SWEEP`) and
chooses the point with the highest pooled Matthews correlation on the **training** years
(MCC rather than accuracy: accuracy rewards predicting few alliances, see docs/history.md).
The chosen point is then scored on the **test** years, which took no part in the choice.

The in-sample best is an optimistic number: the best of many tries. Beside it,
:func:`out_of_sample` runs the same search against permuted observations (in each training
year the states are relabelled at random, which keeps the number and pattern of alliances
but breaks their link to the states) and reports the distribution of the best MCC under this
null, and the share of permuted searches that do at least as well as the real one.

:func:`leave_one_case_out` does the same over the three shipped cases: each case is scored
at the point that is best on the other two.
"""

from __future__ import annotations

import numpy as np

from .data import build_year
from .score import Counts, counts_many, permutation_null, permutation_tp

DEFAULT_POINTS = 64
DEFAULT_SEARCH_PERMUTATIONS = 100
DEFAULT_TRAIN = (1816, 1913)
DEFAULT_TEST = (1919, 2014)


def design_rows(base, points: int, seed: int = 1):
    """``points`` LHS rows (P, N_PARAMS) over the cases' calibration factors, and their
    parameter values (P dicts)."""
    from ..cases import DEFAULT_SWEEP, resolve_design
    from ..model.batch import params_vector

    sweep = {**DEFAULT_SWEEP, "samples": points, "seed": seed}
    names, values, configs, *_ = resolve_design(base, sweep)
    rows = np.stack([params_vector(c.model) for c in configs])
    pts = [{n: float(values[p, j]) for j, n in enumerate(names)} for p in range(len(configs))]
    return rows, pts


def _mccs(c: np.ndarray) -> np.ndarray:
    return np.array([Counts(*r).mcc for r in c])


def _clip(period, years):
    lo, hi = max(period[0], years[0]), min(period[1], years[1])
    return (lo, hi) if lo <= hi else None


def out_of_sample(region, years, *, intent="mid", data=None, base=None,
                  points: int = DEFAULT_POINTS, train=DEFAULT_TRAIN, test=DEFAULT_TEST,
                  permutations: int = DEFAULT_SEARCH_PERMUTATIONS, seed: int = 20260101,
                  design_seed: int = 1) -> dict:
    """Calibrate on ``train`` years, score on ``test`` years (both clipped to ``years``),
    with the permutation test of the search on the training years. See the module doc."""
    from .predict import default_params, predict

    base = base or default_params()
    tr, te = _clip(train, years), _clip(test, years)
    out = {"criterion": "pooled mcc, balance of threat", "points": points,
           "design_seed": design_seed, "train": list(tr) if tr else None,
           "test": list(te) if te else None, "search_permutations": permutations}
    if tr is None or te is None:
        out["skipped"] = "the training or the test period lies outside --years"
        return out
    if tr[1] >= te[0] and tr[0] <= te[1]:
        out["skipped"] = "the training and test periods overlap"
        return out
    rows, pts = design_rows(base, points, design_seed)
    per = {"train": [], "test": []}
    for period, (lo, hi) in (("train", tr), ("test", te)):
        for y in range(lo, hi + 1):
            s = build_year(y, region, intent, data)
            if s.n < 2:
                continue
            bt, bp = predict(s, rows)
            per[period].append((s, bt, bp, counts_many(bt, s.allied), counts_many(bp, s.allied)))
    if not per["train"] or not per["test"]:
        out["skipped"] = "no year with two or more states in the training or test period"
        return out
    tr_c = sum(x[3] for x in per["train"])
    tr_m = _mccs(tr_c)
    best = int(np.argmax(tr_m))
    te_c = sum(x[3] for x in per["test"])
    te_bop = sum(x[4] for x in per["test"])
    te_m = _mccs(te_c)
    te_def = Counts(0, 0, 0, 0)
    for s, *_ in per["test"]:
        bt, _bp = predict(s, base)
        te_def = te_def + Counts(*counts_many(bt, s.allied)[0])
    # permutation null of the chosen point on the test years (pooled over years)
    R = 1000
    tp_r = np.zeros(R, np.int64)
    for s, bt, *_ in per["test"]:
        rng = np.random.default_rng(np.random.SeedSequence([seed, s.year]))
        tp_r += permutation_tp(bt[best], s.allied, R, rng)
    chosen = Counts(*te_c[best])
    A = chosen.tp + chosen.fn
    N = chosen.pairs
    out.update({
        "best_point": {"index": best, "params": pts[best]},
        "in_sample": {"train_mcc": float(tr_m[best]), **{f"train_{k}": v for k, v in
                                                         Counts(*tr_c[best]).as_dict().items()},
                      "train_median_mcc_over_points": float(np.median(tr_m))},
        "out_of_sample": {**chosen.as_dict(),
                          "balance_of_power": Counts(*te_bop[best]).as_dict(),
                          "defaults": te_def.as_dict(),
                          "no_alliances": Counts(0, 0, A, N - A).as_dict(),
                          "permutation": permutation_null(chosen, tp_r),
                          "best_point_on_test_itself": {"index": int(np.argmax(te_m)),
                                                        "mcc": float(te_m.max())},
                          "rank_of_chosen_on_test": int((te_m > te_m[best]).sum()) + 1},
    })
    out["search_null"] = search_permutation_test(per["train"], tr_m[best], permutations, seed)
    return out


def search_permutation_test(train, best_mcc: float, permutations: int, seed: int) -> dict:
    """The distribution of the best pooled MCC over the design when each training year's
    observed alliances are relabelled at random (``train``: (system, blocs (P, n), ...))."""
    if permutations == 0:
        return {"permutations": 0}
    P = train[0][1].shape[0]
    best_null = np.empty(permutations)
    prep = []
    for s, bt, *_ in train:
        a, b = np.nonzero(np.triu(s.allied, 1))
        i, j = np.triu_indices(s.n, 1)
        S = (bt[:, i] == bt[:, j]).sum(axis=1)
        rng = np.random.default_rng(np.random.SeedSequence([seed, s.year, 1]))
        prep.append((bt, a, b, S, i.size, rng, s.n))
    for r in range(permutations):
        tp = np.zeros(P, np.int64)
        S_tot = np.zeros(P, np.int64)
        A_tot = N_tot = 0
        for bt, a, b, S, N, rng, n in prep:
            pi = rng.permutation(n)
            tp += (bt[:, pi[a]] == bt[:, pi[b]]).sum(axis=1)
            S_tot += S
            A_tot += a.size
            N_tot += N
        m = _mccs(np.stack([tp, S_tot - tp, A_tot - tp, N_tot - S_tot - A_tot + tp], axis=1))
        best_null[r] = m.max()
    return {"permutations": permutations, "observed_best_mcc": float(best_mcc),
            "null_best_mcc_median": float(np.median(best_null)),
            "null_best_mcc_q95": float(np.quantile(best_null, 0.95)),
            "null_best_mcc_max": float(best_null.max()),
            "p_value": (1 + int((best_null >= best_mcc).sum())) / (1 + permutations)}


def leave_one_case_out(points: int = 4000, design_seed: int = 1,
                       cases=("europe_1914", "europe_1936", "coldwar_1955")) -> dict:
    """Each shipped case scored at the design point best on the other cases (mean accuracy,
    ties to the lower index), beside its in-sample best, its defaults and its majority null
    (every state on the largest observed side)."""
    from ..cases import evaluate_case, evaluate_points, load_case

    loaded = [load_case(c) for c in cases]
    rows, pts = design_rows(loaded[0].model, points, design_seed)
    acc = {}
    for c in loaded:
        P, n, k = rows.shape[0], c.n, len(c.sides)
        o = {x: np.empty((P, n), dt) for x, dt in (
            ("t", np.int32), ("th", np.float64), ("ch", np.int8), ("b", np.int32),
            ("p", np.int64))}
        correct = np.empty(P, np.int64)
        bo = {x: np.empty((P, n), dt) for x, dt in (
            ("t", np.int32), ("th", np.float64), ("ch", np.int8), ("b", np.int32),
            ("p", np.int64))}
        bcorrect = np.empty(P, np.int64)
        evaluate_points(rows, c.power, c.offense, np.ascontiguousarray(c.intent_matrix()),
                         c.distance, c.side_codes, k, o["t"], o["th"], o["ch"], o["b"], o["p"],
                         correct, bo["t"], bo["th"], bo["ch"], bo["b"], bo["p"], bcorrect)
        acc[c.name] = (correct / c.n_scored, bcorrect / c.n_scored)
    out = {"points": int(rows.shape[0]), "design_seed": design_seed, "held_out": {}}
    for c in loaded:
        others = [x.name for x in loaded if x is not c]
        train = np.mean([acc[o][0] for o in others], axis=0)
        best = int(np.argmax(train))
        side = c.side_codes
        majority = max(int((side == s).sum()) for s in range(len(c.sides))) / c.n_scored
        ev = evaluate_case(c)
        out["held_out"][c.name] = {
            "trained_on": others, "best_point": best, "params": pts[best],
            "train_mean_accuracy": float(train[best]),
            "held_out_accuracy": float(acc[c.name][0][best]),
            "held_out_bop_accuracy": float(acc[c.name][1][best]),
            "held_out_in_sample_best": float(acc[c.name][0].max()),
            "held_out_defaults": ev.threat.accuracy,
            "majority_null": majority,
        }
    return out
