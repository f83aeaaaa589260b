"""The null models beside every case accuracy: one bloc for all (:func:`majority_null`),
the predicted blocs assigned at random (:func:`permutation_null`) and the permutation test of
the calibration search itself (:func:`search_null`); see docs/history.md."""

from __future__ import annotations

import numpy as np

from ..kernels.cases import (
    score_rows,
)
from .case import Case

NULL_PERMUTATIONS = 1000
"""Random bloc assignments behind the permutation null of ``mc-threat case``."""


SEARCH_NULL_PERMUTATIONS = 200
"""Permuted observations behind the permutation test of a calibration search."""


def majority_null(case: Case) -> dict:
    """Every state in one bloc: matched to the largest observed side, so the correct count is
    that side's number of scored states (``europe_1914``: "everyone is in the Entente")."""
    side = case.side_codes
    k = len(case.sides)
    counts_ = [int((side == s).sum()) for s in range(k)]
    best = int(np.argmax(counts_))
    return {"side": case.sides[best], "correct": counts_[best],
            "accuracy": counts_[best] / case.n_scored}


def permutation_null(case: Case, bloc, correct: int, permutations: int = NULL_PERMUTATIONS,
                     seed: int = 0) -> dict:
    """The prediction's blocs, sizes kept, assigned to the states at random (``R`` seeded
    permutations of the bloc vector), each scored by the best matching: their mean accuracy
    and ``p = (1 + #{r : correct_r >= correct}) / (1 + R)``."""
    side = np.ascontiguousarray(case.side_codes, np.int32)
    bloc = np.ascontiguousarray(bloc, np.int32)
    k = len(case.sides)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    perms = rng.permuted(np.tile(np.arange(case.n), (permutations, 1)), axis=1)
    got = np.empty(permutations, np.int64)
    score_rows(np.ascontiguousarray(bloc[perms]), side, k, got)
    m = case.n_scored
    return {"permutations": permutations, "seed": seed,
            "mean_accuracy": float(got.mean() / m) if permutations else None,
            "p_value": (1 + int((got >= correct).sum())) / (1 + permutations)}


def search_null(case: Case, blocs, best_correct: int,
                permutations: int = SEARCH_NULL_PERMUTATIONS, seed: int = 0) -> dict:
    """The permutation test of a search: the observed sides are permuted among the scored
    states (``R`` seeded permutations), every point's nominal blocs (``blocs`` (P, n)) are
    scored against them, and the best correct count over the points is kept. Returns the
    null distribution's median, 95th percentile and maximum accuracy and
    ``p = (1 + #{r : best_r >= best}) / (1 + R)``."""
    side = case.side_codes
    scored = np.nonzero(side >= 0)[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 17]))
    blocs = np.ascontiguousarray(blocs, np.int32)
    k = len(case.sides)
    best = np.empty(permutations, np.int64)
    got = np.empty(blocs.shape[0], np.int64)
    for r in range(permutations):
        s = side.copy()
        s[scored] = side[rng.permutation(scored)]
        score_rows(blocs, np.ascontiguousarray(s, np.int32), k, got)
        best[r] = got.max()
    m = case.n_scored
    if permutations == 0:
        return {"permutations": 0}
    return {"permutations": permutations, "seed": seed,
            "best_accuracy_median": float(np.median(best) / m),
            "best_accuracy_q95": float(np.quantile(best, 0.95) / m),
            "best_accuracy_max": float(best.max() / m),
            "p_value": (1 + int((best >= best_correct).sum())) / (1 + permutations)}
