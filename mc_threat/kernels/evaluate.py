"""Batch kernels: evaluate many systems, in parallel over blocks of systems.

Parallelism is over *blocks* of systems (``prange`` over blocks, a plain loop inside), so
scratch arrays are allocated once per block rather than once per system. Every system
is computed independently of the others, so results do not depend on the number of
blocks or threads; only the choice-by-power counts are reduced, and integer sums are
exact in any order.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .alignment import blocs, choose
from .decorators import inline, parallel_kernel
from .outcomes import bop_summary, hegemon_of, power_bins, system_outcomes
from .threat import (
    P_ALPHA,
    P_BETA,
    P_NEUTRAL,
    P_REACH,
    power_criteria,
    power_threats,
    principal_threats,
    proximity_matrix,
    threat_matrix_one,
)


@inline
def workspace(n):
    """Scratch arrays for one system of ``n`` states, reused from system to system.

    ``theta`` and the threat buffers are arrays of their own, not rows of ``f``: the
    principal-threat loop stores into both, and the compiler vectorizes it only when it
    can see that the stores do not overlap what the loop reads (rows of one array might).
    """
    # rows: agg, off, s_bal, s_wag, b_theta, b_s_bal, b_s_wag
    f = np.empty((7, n), np.float64)
    # rows: n_bal, counts, b_n_bal, b_target, b_bloc, power bin
    k = np.empty((6, n), np.int32)
    c = np.empty((1, n), np.int8)  # b_choice
    prox = np.empty((n, n), np.float64)
    bop = np.empty(3, np.float64)  # balance-of-power summary (see bop_summary)
    theta = np.empty(n, np.float64)
    tbuf = np.empty((4, n), np.float64)
    pflat = np.empty(2 * n, np.float64)  # proximity scratch (see proximity_matrix)
    return f, k, c, prox, bop, theta, tbuf, pflat


@inline
def prepare_system(power, offense, edges, ws):
    """Per-system work shared by every parameter row: criteria, hegemon, power bins.

    Returns the hegemon's index.
    """
    f, k = ws[0], ws[1]
    power_criteria(power, offense, f[0], f[1])
    h = hegemon_of(power)
    power_bins(power, h, edges, k[5])
    return h


@inline
def bop_pass(power, params, h, ws):
    """Balance-of-power pass of one system (after :func:`prepare_system`).

    Leaves target, choice and bloc in the ``b_*`` rows of ``ws`` and the pass's outcomes
    in ``ws``'s summary. It depends on the parameters only through ``bandwagon_ratio``,
    ``viability`` and ``neutral_below``, so callers share it across weight vectors.
    """
    f, k, c, bop = ws[0], ws[1], ws[2], ws[4]
    power_threats(f[0], k[3], f[4])
    choose(power, k[3], f[4], params[P_BETA], params[P_ALPHA], params[P_NEUTRAL],
           c[0], f[5], f[6], k[2])
    blocs(k[3], c[0], k[4])
    bop_summary(power, k[3], c[0], k[4], f[5], f[6], k[2], h, k[1], bop)


@inline
def threat_pass(power, intent, params, ws, target, choice, bloc):
    """Balance-of-threat pass of one system into ``target``, ``choice``, ``bloc`` (n,).

    ``ws`` must hold the criteria and the proximity matrix for ``params``' reach.
    """
    threats_of(intent, params, ws, target)
    alignment_of(power, params, ws, target, choice, bloc)


@inline
def threats_of(intent, params, ws, target):
    """Principal threats into ``target``, their levels into the workspace's ``theta``."""
    f, prox, theta = ws[0], ws[3], ws[5]
    principal_threats(params, f[0], f[1], prox, intent, target, theta, ws[6])


@inline
def alignment_of(power, params, ws, target, choice, bloc):
    """Choices and blocs for the principal threats in ``target`` (after :func:`threats_of`)."""
    f, k, theta = ws[0], ws[1], ws[5]
    choose(power, target, theta, params[P_BETA], params[P_ALPHA], params[P_NEUTRAL],
           choice, f[2], f[3], k[0])
    blocs(target, choice, bloc)


@inline
def finish_system(power, ws, h, target, choice, bloc, out, cbp):
    """Outcomes of one system after both passes; adds its choices to ``cbp``."""
    f, k, c, bop = ws[0], ws[1], ws[2], ws[4]
    system_outcomes(power, target, choice, bloc, f[2], f[3], k[0], h, k[3], c[0], bop, k[1],
                    out)
    count_choices(ws, choice, cbp)


@inline
def count_choices(ws, choice, cbp):
    """Add the choices of one system to the choice-by-power counts ``cbp`` (10, 3)."""
    bins = ws[1][5]
    for i in range(choice.shape[0]):
        cbp[bins[i], choice[i]] += 1


@parallel_kernel
def evaluate_batch(power, position, offense, intent, params, edges, nblocks,
                   target, choice, bloc, bop_target, bop_choice, outcomes, cbp):
    """Evaluate ``count`` systems under one parameter row.

    Parameters
    ----------
    power, offense : (count, n) float64
    position : (count, n, 2) float64
    intent : (count, 1, n) monadic or (count, n, n) dyadic float64
    params : (N_PARAMS,) float64 parameter row
    edges : (10,) lower edges of the relative-power bins
    nblocks : number of parallel blocks (any value >= 1 gives the same results)
    target, bloc, bop_target : (count, n) int32 out
    choice, bop_choice : (count, n) int8 out
    outcomes : (count, N_OUTCOMES) float64 out
    cbp : (nblocks, 10, 3) int64 out, choice-by-power counts per block
    """
    count, n = power.shape
    for b in prange(nblocks):
        lo = b * count // nblocks
        hi = (b + 1) * count // nblocks
        ws = workspace(n)
        k = ws[1]
        c = ws[2]
        cbp[b, :, :] = 0
        for s in range(lo, hi):
            p = power[s]
            h = prepare_system(p, offense[s], edges, ws)
            proximity_matrix(position[s], params[P_REACH], ws[3], ws[7])
            bop_pass(p, params, h, ws)
            threat_pass(p, intent[s], params, ws, target[s], choice[s], bloc[s])
            finish_system(p, ws, h, target[s], choice[s], bloc[s], outcomes[s], cbp[b])
            bop_target[s, :] = k[3]
            bop_choice[s, :] = c[0]


@parallel_kernel
def threat_matrix_batch(power, position, offense, intent, params, out):
    """Threat matrices (count, n, n) of ``count`` systems, NaN on the diagonal."""
    count, n = power.shape
    for s in prange(count):
        agg = np.empty(n)
        off = np.empty(n)
        prox = np.empty((n, n))
        power_criteria(power[s], offense[s], agg, off)
        proximity_matrix(position[s], params[P_REACH], prox, np.empty(2 * n))
        threat_matrix_one(params, agg, off, prox, intent[s], out[s])

