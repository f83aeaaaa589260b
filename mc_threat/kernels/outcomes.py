"""Outcomes of one system (MODEL.md section 5) and the choice-by-power counts."""

from __future__ import annotations

from .alignment import BALANCE, BANDWAGON
from .decorators import inline

OUTCOMES = (
    "share_balance",
    "share_bandwagon",
    "share_neutral",
    "bop_agreement",
    "top_threat_is_hegemon",
    "coalition_ratio",
    "contained",
    "n_coalitions",
    "hegemon_allies",
    "hegemon_opposed",
    "hegemon_favoured",
    "alignment_change",
    "bop_share_balance",
    "bop_contained",
    "bop_hegemon_favoured",
)
N_OUTCOMES = len(OUTCOMES)
N_POWER_BINS = 10
N_CHOICES = 3

(
    O_SHARE_BALANCE,
    O_SHARE_BANDWAGON,
    O_SHARE_NEUTRAL,
    O_BOP_AGREEMENT,
    O_TOP_IS_HEGEMON,
    O_COALITION_RATIO,
    O_CONTAINED,
    O_N_COALITIONS,
    O_HEGEMON_ALLIES,
    O_HEGEMON_OPPOSED,
    O_HEGEMON_FAVOURED,
    O_ALIGNMENT_CHANGE,
    O_BOP_SHARE_BALANCE,
    O_BOP_CONTAINED,
    O_BOP_HEGEMON_FAVOURED,
) = range(N_OUTCOMES)


POWER_BIN_EDGES = (0.001, 0.001995262314968879, 0.003981071705534973, 0.007943282347242814,
                   0.015848931924611134, 0.03162277660168379, 0.0630957344480193,
                   0.12589254117941676, 0.25118864315095796, 0.501187233627272)
"""Lower edges of the 10 relative-power bins, ``10^(-3 + 0.3 k)``, as binary64 literals
(the values ``10.0 ** (-3 + 0.3 * k)`` gives in binary64 with a correctly rounded power),
so that no machine's C library decides which bin a ratio on an edge falls in."""


def power_bin_edges():
    """Lower edges of the 10 relative-power bins (:data:`POWER_BIN_EDGES`) as an array."""
    import numpy as np

    return np.array(POWER_BIN_EDGES)


@inline
def hegemon_of(power):
    """Index of the strongest state, ties to the smallest index."""
    h = 0
    for k in range(1, power.shape[0]):
        if power[k] > power[h]:
            h = k
    return h


@inline
def top_threat(target, counts):
    """State named principal threat by the most states, ties to the smallest index."""
    n = target.shape[0]
    for t in range(n):
        counts[t] = 0
    for i in range(n):
        counts[target[i]] += 1
    best = 0
    for t in range(1, n):
        if counts[t] > counts[best]:
            best = t
    return best


@inline
def pass_outcomes(power, target, choice, bloc, s_bal, s_wag, n_bal, h, counts):
    """Summary of one pass (threat or balance of power).

    Returns ``(n_balance, n_bandwagon, t_star, coalition_ratio, n_coalitions,
    allies, opposed)``, where allies and opposed are the hegemon's counts.
    """
    n = power.shape[0]
    n_balance = 0
    n_bandwagon = 0
    opposed = 0
    allies = 0
    n_coal = 0
    for i in range(n):
        c = choice[i]
        if c == BALANCE:
            n_balance += 1
            if target[i] == h:
                opposed += 1
        elif c == BANDWAGON:
            n_bandwagon += 1
        if i != h and bloc[i] == bloc[h]:
            allies += 1
        if n_bal[i] > 0:
            n_coal += 1
    t_star = top_threat(target, counts)
    ratio = s_bal[t_star] / s_wag[t_star]
    return n_balance, n_bandwagon, t_star, ratio, n_coal, allies, opposed


@inline
def bop_summary(power, target, choice, bloc, s_bal, s_wag, n_bal, h, counts, out):
    """The balance-of-power pass's share of balancers, containment and whether the hegemon
    is favoured, into ``out`` (3,): computed once and shared by every weight vector."""
    nb, _nw, _t, ratio, _nc, allies, opposed = pass_outcomes(
        power, target, choice, bloc, s_bal, s_wag, n_bal, h, counts
    )
    n = power.shape[0]
    out[0] = nb / float(n)
    out[1] = 1.0 if ratio >= 1.0 else 0.0
    out[2] = 1.0 if allies > opposed else 0.0


@inline
def system_outcomes(power, target, choice, bloc, s_bal, s_wag, n_bal, h,
                    bop_target, bop_choice, bop, counts, out):
    """Write the ``N_OUTCOMES`` outcomes of one system into ``out`` (order of OUTCOMES).

    ``bop`` holds :func:`bop_summary` of the balance-of-power pass; ``h`` is the hegemon.
    """
    n = power.shape[0]
    nb, nw, t_star, ratio, n_coal, allies, opposed = pass_outcomes(
        power, target, choice, bloc, s_bal, s_wag, n_bal, h, counts
    )
    agree = 0
    change = 0
    for i in range(n):
        same_target = target[i] == bop_target[i]
        agree += same_target
        change += (not same_target) or choice[i] != bop_choice[i]
    fn = float(n)
    out[O_SHARE_BALANCE] = nb / fn
    out[O_SHARE_BANDWAGON] = nw / fn
    out[O_SHARE_NEUTRAL] = (n - nb - nw) / fn
    out[O_BOP_AGREEMENT] = agree / fn
    out[O_TOP_IS_HEGEMON] = 1.0 if t_star == h else 0.0
    out[O_COALITION_RATIO] = ratio
    out[O_CONTAINED] = 1.0 if ratio >= 1.0 else 0.0
    out[O_N_COALITIONS] = float(n_coal)
    out[O_HEGEMON_ALLIES] = allies / (fn - 1.0)
    out[O_HEGEMON_OPPOSED] = opposed / (fn - 1.0)
    out[O_HEGEMON_FAVOURED] = 1.0 if allies > opposed else 0.0
    out[O_ALIGNMENT_CHANGE] = change / fn
    out[O_BOP_SHARE_BALANCE] = bop[0]
    out[O_BOP_CONTAINED] = bop[1]
    out[O_BOP_HEGEMON_FAVOURED] = bop[2]


@inline
def power_bins(power, h, edges, bins):
    """Relative-power bin of every state: the largest ``k`` with ``p_i / p_h >= edges[k]``,
    0 below ``edges[0]``."""
    n = power.shape[0]
    ph = power[h]
    nbins = edges.shape[0]
    for i in range(n):
        r = power[i] / ph
        # The edges increase, so that k is the number of edges[1:] at or below r: a count
        # without branches, which the compiler runs as vector code across states.
        k = 0
        for b in range(1, nbins):
            k += 1 if r >= edges[b] else 0
        bins[i] = k
