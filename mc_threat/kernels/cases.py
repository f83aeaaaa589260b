"""Kernels of the historical cases: one case system under many parameter rows and perturbed
attributes (:mod:`mc_threat.cases`).

A case's positions are capitals, its distances great-circle kilometres, so a case does not go
through the engine's planar proximity; these kernels compose the same building blocks the
engine uses (``power_criteria``, ``principal_threats``, ``power_threats``, ``choose``,
``blocs``) with a proximity matrix ``D_ij = exp(-d_ij / reach)`` made from the distance
matrix, then score the predicted blocs against the observed sides (best one-to-one matching).
"""

from __future__ import annotations

import numpy as np

from .alignment import blocs, choose
from .decorators import kernel
from .elementary import exp
from .threat import (
    P_ALPHA,
    P_BETA,
    P_NEUTRAL,
    P_REACH,
    power_criteria,
    power_threats,
    principal_threats,
    threat_matrix_one,
)


@kernel(nogil=True)
def proximity_from_distance(dist, reach, out):
    """``out[i, j] = exp(-d_ij / reach)`` from a distance matrix (the engine's formula and
    its own ``exp``)."""
    n = dist.shape[0]
    for i in range(n):
        out[i, i] = 1.0
        for j in range(i + 1, n):
            v = exp(-dist[i, j] / reach)
            out[i, j] = v
            out[j, i] = v


@kernel(nogil=True)
def _alignment(power, params, target, theta, choice, bloc, s_bal, s_wag, n_bal):
    choose(power, target, theta, params[P_BETA], params[P_ALPHA], params[P_NEUTRAL],
           choice, s_bal, s_wag, n_bal)
    blocs(target, choice, bloc)


@kernel(nogil=True)
def _match(bloc, side, k, counts, labels, best, assign, pred):
    """Best one-to-one matching of bloc labels to sides; returns the number of correct states.

    ``bloc`` (n,) labels in ``[0, 2n)``; ``side`` (n,) observed side or -1 (not scored);
    ``k`` sides. Scratch: ``counts`` (2n, k), ``labels`` (2n,), ``best`` (n + 1, 2^k),
    ``assign`` (2n,). Writes the predicted side of every state (-1: none) to ``pred``.

    Dynamic programme over the blocs present, in increasing label order, with the set of
    sides already taken as a bit mask; the reconstruction takes, bloc by bloc, the first side
    (in listed order) with a scored member that keeps the optimum, else no side.
    """
    n = bloc.shape[0]
    m = 2 * n
    for b in range(m):
        labels[b] = 0
        assign[b] = -1
        for s in range(k):
            counts[b, s] = 0
    for i in range(n):
        labels[bloc[i]] = 1
        if side[i] >= 0:
            counts[bloc[i], side[i]] += 1
    nb = 0
    for b in range(m):
        if labels[b] == 1:
            labels[nb] = b
            nb += 1
    full = 1 << k
    for mask in range(full):
        best[nb, mask] = 0
    for r in range(nb - 1, -1, -1):
        b = labels[r]
        for mask in range(full):
            v = best[r + 1, mask]
            for s in range(k):
                bit = 1 << s
                if (mask & bit) == 0 and counts[b, s] > 0:
                    w = counts[b, s] + best[r + 1, mask | bit]
                    if w > v:
                        v = w
            best[r, mask] = v
    mask = 0
    for r in range(nb):
        b = labels[r]
        goal = best[r, mask]
        for s in range(k):
            bit = 1 << s
            if (mask & bit) == 0 and counts[b, s] > 0 and \
                    counts[b, s] + best[r + 1, mask | bit] == goal:
                assign[b] = s
                mask |= bit
                break
    correct = 0
    for i in range(n):
        p = assign[bloc[i]]
        pred[i] = p
        if side[i] >= 0 and p == side[i]:
            correct += 1
    return correct


@kernel(nogil=True)
def _threat_targets(params, agg, off, prox, intent, target, theta, buf):
    principal_threats(params, agg, off, prox, intent, target, theta, buf)


@kernel(nogil=True)
def _power_targets(agg, target, theta):
    power_threats(agg, target, theta)


@kernel(nogil=True)
def _criteria(power, offense, agg, off):
    power_criteria(power, offense, agg, off)


@kernel
def case_threat_matrix(power, offense, intent, dist, params, out):
    n = power.shape[0]
    agg = np.empty(n)
    off = np.empty(n)
    prox = np.empty((n, n))
    power_criteria(power, offense, agg, off)
    proximity_from_distance(dist, params[P_REACH], prox)
    threat_matrix_one(params, agg, off, prox, intent, out)


@kernel(nogil=True)
def evaluate_points(params, power, offense, intent, dist, side, k,
                     target, theta, choice, bloc, pred, correct,
                     bop_target, bop_theta, bop_choice, bop_bloc, bop_pred, bop_correct):
    """The nominal case under ``P`` parameter rows, with every per-state detail.

    ``params`` (P, N_PARAMS); ``power``, ``offense`` (n,); ``intent`` (1, n) or (n, n);
    ``dist`` (n, n) km; outputs (P, n) per state and (P,) correct counts.
    """
    P = params.shape[0]
    n = power.shape[0]
    for p in range(P):
        agg = np.empty(n)
        off = np.empty(n)
        prox = np.empty((n, n))
        buf = np.empty((4, n))
        s_bal = np.empty(n)
        s_wag = np.empty(n)
        n_bal = np.empty(n, np.int32)
        counts = np.empty((2 * n, k), np.int64)
        labels = np.empty(2 * n, np.int64)
        best = np.empty((n + 1, 1 << k), np.int64)
        assign = np.empty(2 * n, np.int64)
        prm = params[p]
        _criteria(power, offense, agg, off)
        proximity_from_distance(dist, prm[P_REACH], prox)
        _threat_targets(prm, agg, off, prox, intent, target[p], theta[p], buf)
        _alignment(power, prm, target[p], theta[p], choice[p], bloc[p], s_bal, s_wag, n_bal)
        correct[p] = _match(bloc[p], side, k, counts, labels, best, assign, pred[p])
        _power_targets(agg, bop_target[p], bop_theta[p])
        _alignment(power, prm, bop_target[p], bop_theta[p], bop_choice[p], bop_bloc[p],
                   s_bal, s_wag, n_bal)
        bop_correct[p] = _match(bop_bloc[p], side, k, counts, labels, best, assign,
                                bop_pred[p])


@kernel(nogil=True)
def evaluate_draws(params, power, offense, intent, dist, side, k,
                    correct, bop_correct, side_count, bop_side_count, choice_count):
    """The case under ``P`` parameter rows x ``D`` perturbed attribute draws.

    ``power``, ``offense`` (D, n); ``intent`` (D, 1, n) or (D, n, n). Writes the correct
    counts (P, D) of both passes, and accumulates per point and state the draws ending on
    each side (P, n, k + 1; index ``k`` = no side) and with each choice (P, n, 3).
    """
    P = params.shape[0]
    D, n = power.shape
    for p in range(P):
        agg = np.empty(n)
        off = np.empty(n)
        prox = np.empty((n, n))
        buf = np.empty((4, n))
        theta = np.empty(n)
        s_bal = np.empty(n)
        s_wag = np.empty(n)
        n_bal = np.empty(n, np.int32)
        target = np.empty(n, np.int32)
        choice = np.empty(n, np.int8)
        bloc = np.empty(n, np.int32)
        pred = np.empty(n, np.int64)
        counts = np.empty((2 * n, k), np.int64)
        labels = np.empty(2 * n, np.int64)
        best = np.empty((n + 1, 1 << k), np.int64)
        assign = np.empty(2 * n, np.int64)
        prm = params[p]
        proximity_from_distance(dist, prm[P_REACH], prox)
        side_count[p, :, :] = 0
        bop_side_count[p, :, :] = 0
        choice_count[p, :, :] = 0
        for d in range(D):
            pw = power[d]
            _criteria(pw, offense[d], agg, off)
            _threat_targets(prm, agg, off, prox, intent[d], target, theta, buf)
            _alignment(pw, prm, target, theta, choice, bloc, s_bal, s_wag, n_bal)
            correct[p, d] = _match(bloc, side, k, counts, labels, best, assign, pred)
            for i in range(n):
                side_count[p, i, k if pred[i] < 0 else pred[i]] += 1
                choice_count[p, i, choice[i]] += 1
            _power_targets(agg, target, theta)
            _alignment(pw, prm, target, theta, choice, bloc, s_bal, s_wag, n_bal)
            bop_correct[p, d] = _match(bloc, side, k, counts, labels, best, assign, pred)
            for i in range(n):
                bop_side_count[p, i, k if pred[i] < 0 else pred[i]] += 1


@kernel
def match_sides(bloc, side, k, pred):
    n = bloc.shape[0]
    counts = np.empty((2 * n, k), np.int64)
    labels = np.empty(2 * n, np.int64)
    best = np.empty((n + 1, 1 << k), np.int64)
    assign = np.empty(2 * n, np.int64)
    return _match(bloc, side, k, counts, labels, best, assign, pred)


@kernel
def score_rows(blocs, side, k, out):
    """Best-matching correct count of every row of ``blocs`` (R, n) against ``side``."""
    R, n = blocs.shape
    counts = np.empty((2 * n, k), np.int64)
    labels = np.empty(2 * n, np.int64)
    best = np.empty((n + 1, 1 << k), np.int64)
    assign = np.empty(2 * n, np.int64)
    pred = np.empty(n, np.int64)
    for r in range(R):
        out[r] = _match(blocs[r], side, k, counts, labels, best, assign, pred)
