"""Alignment choices, the ally-availability pass and the bloc forest (MODEL.md sections 3-4).

One system at a time, writing into caller-provided arrays.
"""

from __future__ import annotations

import numpy as np

from .decorators import inline

BALANCE = 0
BANDWAGON = 1
NEUTRAL = 2


@inline
def coalition_sums(power, target, choice, s_bal, s_wag, n_bal):
    """Per target ``t``: ``S_B(t)``, ``S_W(t)`` and ``|B_t|`` for the given choices.

    Sums run over states in increasing index (``S_W(t)`` starts from ``p_t``), the order
    the reference uses, so the floating-point result is the same.
    """
    n = power.shape[0]
    for t in range(n):
        s_bal[t] = 0.0
        s_wag[t] = power[t]
        n_bal[t] = 0
    # Without branches (a choice is a coin flip to the branch predictor): every state adds
    # its power to both sums, multiplied by 1 or 0. Adding +0.0 leaves a sum of positive
    # powers unchanged to the bit, so the sums are those of the branching loop.
    for i in range(n):
        t = target[i]
        c = choice[i]
        bal = 1.0 if c == BALANCE else 0.0
        wag = 1.0 if c == BANDWAGON else 0.0
        s_bal[t] += power[i] * bal
        s_wag[t] += power[i] * wag
        n_bal[t] += np.int32(c == BALANCE)


@inline
def choose(power, target, theta, beta, alpha, neutral_below, choice, s_bal, s_wag, n_bal):
    """Final choices of every state; leaves the final ``S_B``, ``S_W``, ``|B_t|`` behind.

    First choices: NEUTRAL if ``theta_i < neutral_below``, BANDWAGON if
    ``p_i < beta p_tau``, else BALANCE. Then one availability pass over the first
    choices: where ``B_t`` is non-empty and ``S_B(t) < alpha S_W(t)``, members weaker than
    ``t`` switch to BANDWAGON (``alpha = 0`` never switches anyone).
    """
    n = power.shape[0]
    for i in range(n):
        t = target[i]
        wag = BANDWAGON if power[i] < beta * power[t] else BALANCE
        choice[i] = NEUTRAL if theta[i] < neutral_below else wag
    coalition_sums(power, target, choice, s_bal, s_wag, n_bal)
    changed = False
    for i in range(n):
        if choice[i] == BALANCE:
            t = target[i]
            # n_bal[t] > 0 holds here since i itself is in B_t.
            if s_bal[t] < alpha * s_wag[t] and power[i] < power[t]:
                choice[i] = BANDWAGON
                changed = True
    if changed:
        coalition_sums(power, target, choice, s_bal, s_wag, n_bal)


@inline
def blocs(target, choice, bloc):
    """Root label of every state in the alignment forest (MODEL.md section 4).

    Bandwagoners point at their threat, balancers at the coalition node ``n + tau_i``,
    neutral states are roots labelled by their own index. Bandwagon edges rise strictly
    in power, so following them ends within ``n - 1`` steps. A walk that takes more has met
    a cycle, which only a broken choice rule can make: it stops and labels the state -1
    (never a valid label) instead of looping forever, and ``mc_threat.evaluate`` raises on
    it. (Raising here would serialise the callers' ``prange`` loops.)
    """
    n = target.shape[0]
    for i in range(n):
        cur = i
        steps = 0
        while choice[cur] == BANDWAGON and steps <= n:
            cur = target[cur]
            steps += 1
        if steps > n:
            bloc[i] = -1
        elif choice[cur] == BALANCE:
            bloc[i] = n + target[cur]
        else:
            bloc[i] = cur
