"""Threat criteria, threat levels and principal threats of one system (MODEL.md section 2).

All functions work on one system and write into caller-provided arrays, so the batch
kernels can allocate scratch once per block of systems. The arithmetic follows the
reference (``tests/reference.py``) operation by operation: the principal threat is an
argmax with ties to the smallest index, so a different rounding (a multiplication by
``1/W`` instead of a division by ``W``, say) could move a tie and change an outcome.
"""

from __future__ import annotations

import math

import numpy as np

from .decorators import inline
from .elementary import exp, pow_

# Layout of one parameter row (float64), shared by every kernel.
P_FORM = 0  # 0.0 additive, 1.0 multiplicative
P_WA = 1  # weight of aggregate power
P_WD = 2  # weight of proximity
P_WO = 3  # weight of offensive capability
P_WI = 4  # weight of intentions
P_REACH = 5  # proximity reach (distance units of the positions)
P_BETA = 6  # bandwagon_ratio
P_ALPHA = 7  # viability
P_NEUTRAL = 8  # neutral_below
N_PARAMS = 9

FORM_ADDITIVE = 0.0
FORM_MULTIPLICATIVE = 1.0


@inline
def proximity_matrix(position, reach, out, flat):
    """``out[i, j] = exp(-|x_i - x_j| / reach)``; ``position`` (n, 2), ``out`` (n, n),
    ``flat`` scratch of at least ``2 n`` values.

    Every ordered pair is computed, the diagonal included (``exp(-0) = 1`` exactly):
    ``(x_i - x_j)^2 = (x_j - x_i)^2`` exactly, so the matrix is symmetric, and full rows of
    ``n`` with the coordinates copied to contiguous arrays, then the ``exp`` of each row:
    loops of length ``n`` that run as vector code (without a scalar remainder when ``n`` is
    a multiple of the vector width, 8 here); measured faster than computing each unordered
    pair once and mirroring it.
    """
    n = position.shape[0]
    px = flat[:n]
    py = flat[n:2 * n]
    for i in range(n):
        px[i] = position[i, 0]
        py[i] = position[i, 1]
    for i in range(n):
        xi = px[i]
        yi = py[i]
        row = out[i]
        for j in range(n):
            dx = xi - px[j]
            dy = yi - py[j]
            row[j] = -math.sqrt(dx * dx + dy * dy) / reach
    for i in range(n):
        row = out[i]
        for j in range(n):
            row[j] = exp(row[j])


@inline
def power_criteria(power, offense, agg, off):
    """Aggregate power ``A_j = p_j / max p`` and offensive capability ``O_j`` (n,).

    ``O_j = o_j p_j / max_k o_k p_k``, and 0 for every ``j`` when that maximum is 0.
    """
    n = power.shape[0]
    pmax = power[0]
    omax = offense[0] * power[0]
    for k in range(1, n):
        if power[k] > pmax:
            pmax = power[k]
        v = offense[k] * power[k]
        if v > omax:
            omax = v
    for j in range(n):
        agg[j] = power[j] / pmax
        if omax > 0.0:
            off[j] = (offense[j] * power[j]) / omax
        else:
            off[j] = 0.0


@inline
def threat_value(form, wa, wd, wo, wi, wsum, ea, ed, eo, ei, a, d, o, h):
    """Threat ``T_ij`` from the criteria ``a = A_j, d = D_ij, o = O_j, h = I_ij``.

    ``wsum`` is ``W``; ``ea..ei`` are the exponents ``w/W`` of the multiplicative form.
    """
    if form == FORM_ADDITIVE:
        return (((wa * a + wd * d) + wo * o) + wi * h) / wsum
    t = 1.0
    # A zero weight drops its factor entirely: 0^0 = 1 (MODEL.md section 2).
    if wa != 0.0:
        t = t * pow_(a, ea)
    if wd != 0.0:
        t = t * pow_(d, ed)
    if wo != 0.0:
        t = t * pow_(o, eo)
    if wi != 0.0:
        t = t * pow_(h, ei)
    return t


@inline
def principal_threats(params, agg, off, prox, intent, target, theta, buf):
    """Principal threat ``tau_i`` and its level ``theta_i`` of every state.

    Parameters
    ----------
    params : (N_PARAMS,) float64 parameter row.
    agg, off : (n,) criteria from :func:`power_criteria`.
    prox : (n, n) proximity matrix; symmetric, as :func:`proximity_matrix` makes it.
    intent : (1, n) monadic intent ``h_j``, or (n, n) dyadic ``h_ij``.
    target : (n,) int32 out; theta : (n,) float64 out.
    buf : (4, n) float64 scratch.

    Every threat value is bit for bit :func:`threat_value`: the same products, sums and
    quotients in the same order (multiplying by an exact 1.0 for a missing factor changes
    nothing). The common case, the additive form with monadic intent, goes to
    :func:`_additive_monadic_threats`, whose loops vectorize.
    """
    n = agg.shape[0]
    wa = params[P_WA]
    wd = params[P_WD]
    wo = params[P_WO]
    wi = params[P_WI]
    wsum = ((wa + wd) + wo) + wi
    dyadic = intent.shape[0] > 1
    additive = params[P_FORM] == FORM_ADDITIVE
    if additive and not dyadic:
        _additive_monadic_threats(wa, wd, wo, wi, wsum, agg, off, prox, intent[0],
                                  target, theta, buf[0])
        return
    ea = wa / wsum
    ed = wd / wsum
    eo = wo / wsum
    ei = wi / wsum
    ja = buf[0]
    jo = buf[1]
    jh = buf[2]
    t = buf[3]
    for j in range(n):
        if additive:
            ja[j] = wa * agg[j]
            jo[j] = wo * off[j]
        else:
            ja[j] = pow_(agg[j], ea) if wa != 0.0 else 1.0
            jo[j] = pow_(off[j], eo) if wo != 0.0 else 1.0
            jh[j] = pow_(intent[0, j], ei) if wi != 0.0 else 1.0
    for i in range(n):
        pi = prox[i]
        if additive:
            # Dyadic intent. Numerators only: the division by W is done once per row.
            hi = intent[i]
            for j in range(n):
                t[j] = ((ja[j] + wd * pi[j]) + jo[j]) + wi * hi[j]
            best, level = _first_max_of_quotients(t, i, wsum)
        else:
            for j in range(n):
                x = ja[j]
                if wd != 0.0:
                    x = x * pow_(pi[j], ed)
                x = x * jo[j]
                if dyadic:
                    if wi != 0.0:
                        x = x * pow_(intent[i, j], ei)
                else:
                    x = x * jh[j]
                t[j] = x
            best = _first_max(t, i)
            level = t[best]
        target[i] = best
        theta[i] = level


@inline
def _additive_monadic_threats(wa, wd, wo, wi, wsum, agg, off, prox, h, target, theta, best):
    """Principal threats of the additive form with monadic intent, column by column.

    For each candidate ``j`` in increasing order, every perceiver ``i`` compares
    ``T_ij = (((w_A A_j + w_D D_ij) + w_O O_j) + w_I h_j) / W`` with its best so far and
    takes ``j`` only if strictly greater: the first maximiser, ties to the smallest ``j``.
    ``D_ij`` is read as ``prox[j, i]`` (the matrix is symmetric, bit for bit), so the loop
    over ``i`` runs along contiguous memory and vectorizes, compare and select included.
    Threats are never negative, so a start of -1 is beaten by the first ``j != i``.
    ``best`` is (n,) float64 scratch (indices as exact floats keep the loop one type).
    """
    n = agg.shape[0]
    for i in range(n):
        theta[i] = -1.0
        best[i] = 0.0
    for j in range(n):
        cj = wa * agg[j]
        oj = wo * off[j]
        hj = wi * h[j]
        pj = prox[j]
        fj = float(j)
        for i in range(n):
            v = (((cj + wd * pj[i]) + oj) + hj) / wsum
            take = (v > theta[i]) & (i != j)
            theta[i] = v if take else theta[i]
            best[i] = fj if take else best[i]
    for i in range(n):
        target[i] = np.int32(best[i])


@inline
def _first_max(t, skip):
    """Index of the first maximum of ``t`` over ``j != skip``: ties to the smallest j."""
    best = 1 if skip == 0 else 0
    for j in range(best + 1, t.shape[0]):
        if j != skip and t[j] > t[best]:
            best = j
    return best


@inline
def _first_max_of_quotients(num, skip, w):
    """First maximiser of ``num[j] / w`` (rounded) over ``j != skip``, and that maximum.

    Exactly what dividing every numerator and taking the first maximum gives, with one
    division per row instead of one per pair. Rounded division by ``w > 0`` is monotone,
    so the maximum quotient is ``fl(M / w)`` for the largest numerator ``M`` (first at
    ``jm``). An earlier ``j`` ties with it only if ``fl(num_j / w) == fl(M / w)``, which
    needs ``num_j >= M (1 - 2^-52)``; only such near-ties are divided and compared. Below
    2^-900 relative bounds fail (subnormal quotients), so every candidate is checked.
    """
    jm = _first_max(num, skip)
    big = num[jm]
    level = big / w
    cut = big * (1.0 - 2.0**-50) if big > 2.0**-900 else -1.0
    for j in range(jm):
        if j != skip and num[j] >= cut and num[j] / w == level:
            return j, level
    return jm, level


@inline
def power_threats(agg, target, theta):
    """Principal threats under balance-of-power weights ``(1, 0, 0, 0)``.

    With those weights ``T_ij = A_j`` exactly in both forms, so every state fears the
    strongest other state: the first maximiser of ``A`` (smallest index), or for that
    state itself the first maximiser among the others. O(n) instead of O(n^2).
    """
    n = agg.shape[0]
    m1 = 0
    for j in range(1, n):
        if agg[j] > agg[m1]:
            m1 = j
    m2 = -1
    for j in range(n):
        if j != m1 and (m2 < 0 or agg[j] > agg[m2]):
            m2 = j
    for i in range(n):
        t = m1 if i != m1 else m2
        target[i] = t
        theta[i] = agg[t]


@inline
def threat_matrix_one(params, agg, off, prox, intent, out):
    """Full threat matrix of one system, NaN on the diagonal (for inspection)."""
    n = agg.shape[0]
    wa = params[P_WA]
    wd = params[P_WD]
    wo = params[P_WO]
    wi = params[P_WI]
    wsum = ((wa + wd) + wo) + wi
    dyadic = intent.shape[0] > 1
    for i in range(n):
        row = i if dyadic else 0
        for j in range(n):
            if i == j:
                out[i, j] = np.nan
                continue
            h = intent[row, j]
            out[i, j] = threat_value(
                params[P_FORM], wa, wd, wo, wi, wsum,
                wa / wsum, wd / wsum, wo / wsum, wi / wsum,
                agg[j], prox[i, j], off[j], h,
            )
