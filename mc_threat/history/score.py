"""Dyadic scores of predicted blocs against observed alliances, and the null models.

A prediction is a bloc label per state (MODEL.md section 4); the observation is a symmetric
"allied" matrix. Every unordered pair of states is one case: predicted "same bloc" against
observed "allied". From the four counts (``tp``: same bloc and allied, ``fp``: same bloc, not
allied, ``fn``: allied, not same bloc, ``tn``: neither) come the accuracy ``(tp + tn) / N``
and the Matthews correlation ``(tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))``
(0 when a margin is empty, the usual convention, e.g. scikit-learn's).

Null models
-----------
* ``no_alliances``: no pair allied: accuracy ``(N - A) / N`` with ``A`` allied pairs, MCC 0.
* ``majority``: every pair predicted as the more common observed class; it differs from
  ``no_alliances`` only where most pairs are allied, and is reported only there.
* ``permutation``: the predicted blocs, with their sizes kept, assigned to the states at
  random (a uniformly random permutation of the bloc vector). With the numbers of
  predicted-same pairs and of allied pairs fixed, accuracy and MCC both increase with ``tp``
  alone, so one p-value serves both: ``p = (1 + #{r : tp_r >= tp}) / (1 + R)`` over ``R``
  seeded permutations (the permutation itself counts once, so ``p > 0``). Over a panel of
  years the r-th permutation of every year is pooled, and the pooled ``tp`` is compared.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Counts", "counts", "mcc", "null_models", "permutation_tp", "permutation_null",
           "pooled"]


class Counts(tuple):
    """``(tp, fp, fn, tn)`` with the scores as properties."""

    __slots__ = ()

    def __new__(cls, tp, fp, fn, tn):
        return super().__new__(cls, (int(tp), int(fp), int(fn), int(tn)))

    tp = property(lambda s: s[0])
    fp = property(lambda s: s[1])
    fn = property(lambda s: s[2])
    tn = property(lambda s: s[3])

    @property
    def pairs(self) -> int:
        return sum(self)

    @property
    def accuracy(self) -> float | None:
        return None if self.pairs == 0 else (self.tp + self.tn) / self.pairs

    @property
    def mcc(self) -> float:
        return mcc(*self)

    def __add__(self, other):
        return Counts(*(a + b for a, b in zip(self, other, strict=True)))

    def as_dict(self) -> dict:
        return {"dyadic_accuracy": self.accuracy, "mcc": self.mcc, "tp": self.tp,
                "fp": self.fp, "fn": self.fn, "tn": self.tn}


def mcc(tp, fp, fn, tn) -> float:
    """Matthews correlation from the four counts (0 when a margin is empty)."""
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if den == 0:
        return 0.0
    return float((tp * tn - fp * fn) / math.sqrt(den))


def _pair_index(n: int):
    return np.triu_indices(n, 1)


def counts(bloc, allied) -> Counts:
    """The four counts of one prediction: ``bloc`` (n,) labels, ``allied`` (n, n) bool."""
    bloc = np.asarray(bloc)
    i, j = _pair_index(bloc.shape[0])
    same = bloc[i] == bloc[j]
    obs = np.asarray(allied, bool)[i, j]
    tp = int((same & obs).sum())
    s, a = int(same.sum()), int(obs.sum())
    return Counts(tp, s - tp, a - tp, i.size - s - a + tp)


def counts_many(blocs, allied) -> np.ndarray:
    """(P, 4) counts of ``P`` predictions (``blocs`` (P, n)) against one observation."""
    blocs = np.asarray(blocs)
    i, j = _pair_index(blocs.shape[1])
    same = blocs[:, i] == blocs[:, j]
    obs = np.asarray(allied, bool)[i, j]
    tp = (same & obs).sum(axis=1)
    s = same.sum(axis=1)
    a = int(obs.sum())
    return np.stack([tp, s - tp, a - tp, i.size - s - a + tp], axis=1).astype(np.int64)


def null_models(allied) -> dict:
    """``no_alliances`` and, where most pairs are allied, ``majority`` (see module doc)."""
    n = np.asarray(allied).shape[0]
    i, j = _pair_index(n)
    a = int(np.asarray(allied, bool)[i, j].sum())
    total = i.size
    out = {"no_alliances": Counts(0, 0, a, total - a).as_dict()}
    if a > total - a:
        out["majority"] = Counts(a, total - a, 0, 0).as_dict()
    return out


def permutation_tp(bloc, allied, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``tp`` of ``permutations`` random reassignments of ``bloc`` to the states (R,)."""
    bloc = np.asarray(bloc)
    n = bloc.shape[0]
    a, b = np.nonzero(np.triu(np.asarray(allied, bool), 1))
    perms = rng.permuted(np.tile(np.arange(n), (permutations, 1)), axis=1)
    pb = bloc[perms]
    return (pb[:, a] == pb[:, b]).sum(axis=1).astype(np.int64)


def permutation_null(c: Counts, tp_perm: np.ndarray) -> dict:
    """Mean accuracy and MCC of the permuted predictions and the permutation p-value of
    ``c`` (its ``tp`` against ``tp_perm``, the tp of each permutation; same margins)."""
    R = int(tp_perm.shape[0])
    if R == 0:
        return {"permutations": 0, "mean_accuracy": None, "mean_mcc": None, "p_value": None}
    s, a = c.tp + c.fp, c.tp + c.fn
    total = c.pairs
    accs, mccs = [], []
    for tp in tp_perm:
        tp = int(tp)
        cc = Counts(tp, s - tp, a - tp, total - s - a + tp)
        accs.append(cc.accuracy)
        mccs.append(cc.mcc)
    ge = int((tp_perm >= c.tp).sum())
    gt = int((tp_perm > c.tp).sum())
    return {"permutations": R, "mean_accuracy": float(np.mean(accs)),
            "mean_mcc": float(np.mean(mccs)), "p_value": (1 + ge) / (1 + R),
            "n_greater": gt, "n_equal": ge - gt}


def pooled(rows) -> Counts:
    """The sum of a sequence of Counts."""
    out = Counts(0, 0, 0, 0)
    for r in rows:
        out = out + Counts(*r)
    return out
