"""Observed neutrals scored beside the belligerents (issue 16, item 4).

The shipped cases score only the states that took a side. Here the neutral states of the
record join them: 1914 the Netherlands, Switzerland, Spain, Denmark, Norway and Sweden (beside
``europe_1914``'s thirteen belligerents); 1955 Sweden, Finland, Switzerland, Austria, Ireland,
Yugoslavia and Spain (beside ``coldwar_1955``'s NATO and Warsaw Pact). The system is built by
the history rules (:mod:`.data`, 1 July of the year, offense scaled within the system), so a
state that is not a member on 1 July is left out and listed (Austria joins the COW system on
27 July 1955).

Matching of model blocs to observed sides: each belligerent side receives at most one bloc
and each bloc at most one side, as in the cases; every bloc matched to no belligerent side
counts as **neutral**, so an observed neutral is correct when its bloc is matched to no
belligerent side (a state that chooses neutrality is a bloc of its own, see MODEL.md section
4). The matching maximizes the number of correct states, belligerents and neutrals together
(``scipy.optimize.linear_sum_assignment``: blocs against the belligerent sides plus one
"unmatched" column per bloc).
"""

from __future__ import annotations

import numpy as np

NEUTRALS = {
    "europe_1914": (210, 225, 230, 390, 385, 380),
    "coldwar_1955": (380, 375, 225, 305, 205, 345, 230),
}
NEUTRAL = "neutral"


def match_with_neutrals(bloc, side, k: int) -> tuple[int, np.ndarray]:
    """``(correct, predicted side per state)``: ``side`` holds belligerent sides ``0..k-1``,
    ``k`` for an observed neutral, ``-1`` for a state not scored; the prediction is ``k``
    (neutral) for a state whose bloc is matched to no belligerent side."""
    from scipy.optimize import linear_sum_assignment

    bloc = np.asarray(bloc)
    side = np.asarray(side)
    labels = np.unique(bloc)
    B = labels.size
    counts = np.zeros((B, k + 1), np.int64)
    for li, lab in enumerate(labels):
        s = side[bloc == lab]
        for x in s[s >= 0]:
            counts[li, x] += 1
    big = -(10 ** 9)
    gain = np.full((B, k + B), big, np.int64)
    gain[:, :k] = counts[:, :k]
    gain[np.arange(B), k + np.arange(B)] = counts[:, k]
    rows, cols = linear_sum_assignment(gain, maximize=True)
    assign = {labels[r]: (c if c < k else k) for r, c in zip(rows, cols, strict=True)}
    pred = np.array([assign[b] for b in bloc], np.int64)
    correct = int(((side >= 0) & (pred == side)).sum())
    return correct, pred


def score_case_with_neutrals(name: str, params=None, permutations: int = 1000,
                             seed: int = 20260101) -> dict:
    """The case's belligerents and the record's neutrals in one system, scored under both
    theories beside the majority and permutation nulls (see the module doc)."""
    from ..cases import load_case
    from .data import build_year
    from .panel import default_params, predict

    case = load_case(name)
    params = params or default_params()
    neutral = NEUTRALS[name]
    belligerent = {c: s for c, s in zip(case.ccode, case.observed, strict=True)}
    wanted = frozenset(belligerent) | frozenset(neutral)
    s = build_year(case.year, "global", only=wanted)
    present = set(s.ccodes.tolist())
    sides = list(case.sides)
    k = len(sides)
    side = np.array([sides.index(belligerent[c]) if c in belligerent else k
                     for c in s.ccodes], np.int64)
    bt, bp = predict(s, params)
    rng = np.random.default_rng(np.random.SeedSequence([seed, case.year, 4]))
    out = {"case": name, "year": case.year, "states": [str(a) for a in s.abbs],
           "sides": [*sides, NEUTRAL],
           "observed": [sides[x] if x < k else NEUTRAL for x in side],
           "left_out": sorted(int(c) for c in wanted - present),
           "n_scored": int(s.n), "n_neutral": int((side == k).sum())}
    one = np.zeros(s.n, np.int64)
    out["majority"] = match_with_neutrals(one, side, k)[0] / s.n
    for name_, bl in (("balance_of_threat", bt[0]), ("balance_of_power", bp[0])):
        c, pred = match_with_neutrals(bl, side, k)
        neutral_ok = int(((side == k) & (pred == k)).sum())
        bell_ok = c - neutral_ok
        perm = np.array([match_with_neutrals(bl[rng.permutation(s.n)], side, k)[0]
                         for _ in range(permutations)])
        out[name_] = {
            "correct": c, "accuracy": c / s.n, "neutrals_correct": neutral_ok,
            "belligerents_correct": bell_ok,
            "predicted": [sides[x] if x < k else NEUTRAL for x in pred],
            "permutation": {"permutations": permutations,
                            "mean_accuracy": float(perm.mean() / s.n),
                            "p_value": (1 + int((perm >= c).sum())) / (1 + permutations)}}
    return out


def neutral_lines(r: dict) -> list[str]:
    out = [f"{r['case']} with the record's neutrals ({r['n_neutral']} neutral, "
           f"{r['n_scored']} scored; left out, not members on 1 July: "
           f"{', '.join(map(str, r['left_out'])) or 'none'})"]
    for k, label in (("balance_of_threat", "balance of threat"),
                     ("balance_of_power", "balance of power")):
        v = r[k]
        out.append(f"  {label}: {v['correct']}/{r['n_scored']} = {v['accuracy']:.3f} "
                   f"(neutrals {v['neutrals_correct']}/{r['n_neutral']}); permutation null "
                   f"mean {v['permutation']['mean_accuracy']:.3f}, p = "
                   f"{v['permutation']['p_value']:.3f}")
    out.append(f"  majority null (one bloc for all): {r['majority']:.3f}")
    return out
