"""Slow, plain-Python reference of MODEL.md sections 2-5 (threat, choices, blocs, outcomes).

Written from the specification alone, independently of the numba kernels in ``mc_threat``,
except for the elementary functions of MODEL.md section 9, which the specification makes the
engine's own: the reference calls their plain-Python twins (``mc_threat.model.elementary``,
which share the kernels' constants and are checked against mpmath in tests/test_elementary.py).
Everything here uses python floats, lists and loops; numpy is touched only to turn inputs into
lists via ``.tolist()``. The arithmetic follows the conventions agreed with the fast path so that
both agree to the last bit (IEEE doubles; the elementary functions are the engine's own, MODEL.md
section 9, through their plain-Python twins ``exp_py`` and ``pow_py``):

* ``d_ij = math.sqrt(dx*dx + dy*dy)``, ``dx = x_i0 - x_j0``, ``dy = x_i1 - x_j1``;
  ``D_ij = exp_py(-d_ij / reach)``.
* ``A_j = p_j / max_k p_k``; ``O_j = (o_j * p_j) / max_k (o_k * p_k)`` or 0.0 for all j when
  that maximum is 0.
* ``W = ((wA + wD) + wO) + wI``; additive ``T = (((wA*A + wD*D) + wO*O) + wI*I) / W``;
  multiplicative ``T = 1.0`` then ``T = T * pow_py(x, w / W)`` for A, D, O, I in that order,
  skipping criteria whose weight is 0 (``0^0 = 1``).
* Sums of power run in increasing state index; ``S_W(t)`` starts from ``p_t``.

Choices made where MODEL.md is silent (also listed in the report / docs):

1. ``t*`` (the most-named principal threat) counts the ``tau_i`` of ALL states, neutral ones
   included: a neutral state still perceives a principal threat, it just does not act on it.
2. ``alignment_change`` compares the pair ``(tau_i, final choice_i)`` literally, so two neutral
   states whose (unacted-on) principal threats differ count as a change.
3. ``bop_contained`` / ``bop_hegemon_favoured`` / ``bop_share_balance`` recompute the whole
   outcome machinery under BoP weights: BoP ``t*`` from the BoP taus, BoP final choices, BoP
   blocs.  The hegemon ``h`` does not depend on the weights, so it is shared.
4. ``hegemon_allies`` counts states in the hegemon's bloc literally (``bloc_i == bloc_h``),
   whatever that bloc is: a coalition node if the hegemon balances, the hegemon itself if it is a
   neutral root, or the root of its bandwagon chain.
5. ``coalition_ratio`` never divides by zero because ``S_W(t*) >= p_t* > 0``; with no balancer
   against ``t*`` it is 0.0.
6. The viability pass uses a strict ``S_B(t) < alpha * S_W(t)`` (product computed as
   ``alpha * S_W``); with ``alpha = 0`` this is never true, which is the "switched off" case.
7. ``neutral_below`` is strict (``theta_i < neutral_below``): ``neutral_below = 0`` makes nobody
   neutral, a threat exactly at the threshold is still acted on.
8. The intent diagonal ``h_ii`` (dyadic input) is never read.
"""

from __future__ import annotations

import math

from mc_threat.model.elementary import exp_py, pow_py

BALANCE = 0
BANDWAGON = 1
NEUTRAL = 2

OUTCOME_NAMES = (
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

N_BINS = 10
BOP_WEIGHTS = {"power": 1.0, "proximity": 0.0, "offense": 0.0, "intent": 0.0}


# ----------------------------------------------------------------------------------- inputs
def _tolist(x):
    return x.tolist() if hasattr(x, "tolist") else x


def _inputs(power, position, offense, intent):
    p = [float(v) for v in _tolist(power)]
    n = len(p)
    pos = [[float(c) for c in row] for row in _tolist(position)]
    o = [float(v) for v in _tolist(offense)]
    h_raw = _tolist(intent)
    if n < 2:
        raise ValueError("power: need n >= 2 states")
    if len(pos) != n or any(len(row) != 2 for row in pos):
        raise ValueError("position: must be (n, 2)")
    if len(o) != n:
        raise ValueError("offense: must be (n,)")
    if any(not (v > 0.0) or not math.isfinite(v) for v in p):
        raise ValueError("power: must be finite and > 0")
    if len(h_raw) != n:
        raise ValueError("intent: must be (n,) or (n, n)")
    if isinstance(h_raw[0], list):
        # dyadic: I[i][j] = how aggressive j looks to i
        if any(len(row) != n for row in h_raw):
            raise ValueError("intent: must be (n,) or (n, n)")
        I = [[float(v) for v in row] for row in h_raw]
    else:
        # monadic: h_ij = h_j for every perceiver i
        hj = [float(v) for v in h_raw]
        I = [list(hj) for _ in range(n)]
    return p, pos, o, I


def _weights(params, override=None):
    w = override if override is not None else params["weights"]
    wA = float(w["power"])
    wD = float(w["proximity"])
    wO = float(w["offense"])
    wI = float(w["intent"])
    if min(wA, wD, wO, wI) < 0.0:
        raise ValueError("weights: must be >= 0")
    if wA == 0.0 and wD == 0.0 and wO == 0.0 and wI == 0.0:
        raise ValueError("weights: must not all be zero")
    return wA, wD, wO, wI


# ----------------------------------------------------------------------------------- threat
def _threat(p, pos, o, I, form, weights, reach):
    """T[i][j] per MODEL.md section 2; T[i][i] = nan."""
    n = len(p)
    wA, wD, wO, wI = weights
    W = ((wA + wD) + wO) + wI
    if not (reach > 0.0):
        raise ValueError("reach: must be > 0")

    pmax = p[0]
    for k in range(1, n):
        if p[k] > pmax:
            pmax = p[k]
    A = [p[j] / pmax for j in range(n)]

    op = [o[k] * p[k] for k in range(n)]
    opmax = op[0]
    for k in range(1, n):
        if op[k] > opmax:
            opmax = op[k]
    if opmax == 0.0:
        O = [0.0] * n
    else:
        O = [op[j] / opmax for j in range(n)]

    T = [[float("nan")] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            dx = pos[i][0] - pos[j][0]
            dy = pos[i][1] - pos[j][1]
            d = math.sqrt(dx * dx + dy * dy)
            D = exp_py(-d / reach)
            if form == "additive":
                t = (((wA * A[j] + wD * D) + wO * O[j]) + wI * I[i][j]) / W
            elif form == "multiplicative":
                t = 1.0
                for x, w in ((A[j], wA), (D, wD), (O[j], wO), (I[i][j], wI)):
                    if w == 0.0:
                        continue  # 0^0 = 1: a criterion with zero weight plays no part
                    t = t * pow_py(x, w / W)
            else:
                raise ValueError(f"form: unknown form {form!r}")
            T[i][j] = t
    return T


def ref_threat_matrix(power, position, offense, intent, params):
    p, pos, o, I = _inputs(power, position, offense, intent)
    return _threat(p, pos, o, I, params["form"], _weights(params), float(params["reach"]))


# ---------------------------------------------------------------------------------- choices
def _principal_threats(T):
    n = len(T)
    tau = []
    theta = []
    for i in range(n):
        best = -1
        best_val = 0.0
        for j in range(n):
            if j == i:
                continue
            if best < 0 or T[i][j] > best_val:  # strict >: ties go to the smallest j
                best = j
                best_val = T[i][j]
        tau.append(best)
        theta.append(best_val)
    return tau, theta


def _coalition_sums(p, tau, choice, t):
    """(S_B(t), S_W(t)), sums in increasing state index, S_W starting from p_t."""
    s_b = 0.0
    s_w = p[t]
    for i in range(len(p)):
        if tau[i] != t:
            continue
        if choice[i] == BALANCE:
            s_b = s_b + p[i]
        elif choice[i] == BANDWAGON:
            s_w = s_w + p[i]
    return s_b, s_w


def _choices(p, tau, theta, beta, alpha, neutral_below):
    n = len(p)
    first = []
    for i in range(n):
        if theta[i] < neutral_below:
            first.append(NEUTRAL)
        elif p[i] < beta * p[tau[i]]:
            first.append(BANDWAGON)
        else:
            first.append(BALANCE)

    # Ally availability: one pass, every target judged on FIRST choices, independently.
    final = list(first)
    for t in range(n):
        members = [i for i in range(n) if tau[i] == t and first[i] == BALANCE]
        if not members:
            continue
        s_b, s_w = _coalition_sums(p, tau, first, t)
        if s_b < alpha * s_w:
            for i in members:
                if p[i] < p[t]:
                    final[i] = BANDWAGON  # too weak to resist t with this coalition
                # members at least as strong as t keep balancing
    return first, final


def _blocs(tau, choice):
    """Follow the pointers: bandwagoner -> state tau_i, balancer -> node n+tau_i, neutral = root."""
    n = len(tau)
    bloc = []
    for i in range(n):
        node = i
        steps = 0
        while True:
            if node >= n:  # coalition node: always a root
                break
            c = choice[node]
            if c == NEUTRAL:
                break
            if c == BALANCE:
                node = n + tau[node]
            else:
                node = tau[node]
            steps += 1
            if steps > n + 1:
                raise AssertionError("alignment pointers contain a cycle")
        bloc.append(node)
    return bloc


def _run_pass(p, pos, o, I, form, weights, reach, beta, alpha, neutral_below):
    T = _threat(p, pos, o, I, form, weights, reach)
    tau, theta = _principal_threats(T)
    first, final = _choices(p, tau, theta, beta, alpha, neutral_below)
    bloc = _blocs(tau, final)
    return {"T": T, "tau": tau, "theta": theta, "first": first, "choice": final, "bloc": bloc}


# --------------------------------------------------------------------------------- outcomes
def _argmax_first(values):
    best = 0
    for k in range(1, len(values)):
        if values[k] > values[best]:
            best = k
    return best


def _most_named(tau, n):
    counts = [0] * n
    for t in tau:
        counts[t] += 1
    return _argmax_first(counts)  # ties to the smallest index


def _pass_outcomes(p, h, ps):
    """Outcomes that are defined for one pass (BoT or BoP)."""
    n = len(p)
    tau, choice, bloc = ps["tau"], ps["choice"], ps["bloc"]
    n_bal = sum(1 for c in choice if c == BALANCE)
    n_bw = sum(1 for c in choice if c == BANDWAGON)
    n_neu = sum(1 for c in choice if c == NEUTRAL)

    t_star = _most_named(tau, n)
    s_b, s_w = _coalition_sums(p, tau, choice, t_star)
    ratio = s_b / s_w

    n_coal = 0
    for t in range(n):
        if any(tau[i] == t and choice[i] == BALANCE for i in range(n)):
            n_coal += 1

    allies = sum(1 for i in range(n) if i != h and bloc[i] == bloc[h])
    opposed = sum(1 for i in range(n) if tau[i] == h and choice[i] == BALANCE)
    return {
        "share_balance": n_bal / n,
        "share_bandwagon": n_bw / n,
        "share_neutral": n_neu / n,
        "t_star": t_star,
        "top_threat_is_hegemon": 1.0 if t_star == h else 0.0,
        "coalition_ratio": ratio,
        "contained": 1.0 if ratio >= 1.0 else 0.0,
        "n_coalitions": float(n_coal),
        "hegemon_allies": allies / (n - 1),
        "hegemon_opposed": opposed / (n - 1),
        "hegemon_favoured": 1.0 if allies > opposed else 0.0,
    }


def bin_edges():
    # 10^(-3 + 0.3 k) as binary64 literals (docs/model.md): no library computes them.
    return [0.001, 0.001995262314968879, 0.003981071705534973, 0.007943282347242814,
            0.015848931924611134, 0.03162277660168379, 0.0630957344480193,
            0.12589254117941676, 0.25118864315095796, 0.501187233627272]


def power_bin(r, edges=None):
    edges = bin_edges() if edges is None else edges
    b = 0
    for k in range(N_BINS):
        if r >= edges[k]:
            b = k
    return b


def ref_details(power, position, offense, intent, params):
    """Everything computed for one system, intermediate quantities included."""
    p, pos, o, I = _inputs(power, position, offense, intent)
    form = params["form"]
    reach = float(params["reach"])
    beta = float(params["bandwagon_ratio"])
    alpha = float(params["viability"])
    nb = float(params["neutral_below"])
    n = len(p)

    bot = _run_pass(p, pos, o, I, form, _weights(params), reach, beta, alpha, nb)
    bop = _run_pass(p, pos, o, I, form, _weights(params, BOP_WEIGHTS), reach, beta, alpha, nb)

    h = _argmax_first(p)
    out_bot = _pass_outcomes(p, h, bot)
    out_bop = _pass_outcomes(p, h, bop)

    agree = sum(1 for i in range(n) if bot["tau"][i] == bop["tau"][i])
    change = sum(
        1
        for i in range(n)
        if bot["tau"][i] != bop["tau"][i] or bot["choice"][i] != bop["choice"][i]
    )
    outcomes = {
        "share_balance": out_bot["share_balance"],
        "share_bandwagon": out_bot["share_bandwagon"],
        "share_neutral": out_bot["share_neutral"],
        "bop_agreement": agree / n,
        "top_threat_is_hegemon": out_bot["top_threat_is_hegemon"],
        "coalition_ratio": out_bot["coalition_ratio"],
        "contained": out_bot["contained"],
        "n_coalitions": out_bot["n_coalitions"],
        "hegemon_allies": out_bot["hegemon_allies"],
        "hegemon_opposed": out_bot["hegemon_opposed"],
        "hegemon_favoured": out_bot["hegemon_favoured"],
        "alignment_change": change / n,
        "bop_share_balance": out_bop["share_balance"],
        "bop_contained": out_bop["contained"],
        "bop_hegemon_favoured": out_bop["hegemon_favoured"],
    }
    assert tuple(outcomes) == OUTCOME_NAMES

    edges = bin_edges()
    cbp = [[0, 0, 0] for _ in range(N_BINS)]
    for i in range(n):
        cbp[power_bin(p[i] / p[h], edges)][bot["choice"][i]] += 1

    return {
        "p": p,
        "h": h,
        "bot": bot,
        "bop": bop,
        "t_star": out_bot["t_star"],
        "bop_t_star": out_bop["t_star"],
        "outcomes": outcomes,
        "choice_by_power": cbp,
    }


def ref_evaluate(power, position, offense, intent, params):
    d = ref_details(power, position, offense, intent, params)
    return {
        "target": list(d["bot"]["tau"]),
        "choice": list(d["bot"]["choice"]),
        "bloc": list(d["bot"]["bloc"]),
        "bop_target": list(d["bop"]["tau"]),
        "bop_choice": list(d["bop"]["choice"]),
        "outcomes": d["outcomes"],
        "choice_by_power": d["choice_by_power"],
    }


def ref_evaluate_batch(systems, params):
    """Loop ``ref_evaluate`` over a batch given as a dict of arrays with a leading count axis.

    Returns lists: target/choice/bloc/bop_target/bop_choice (count x n), outcomes[name] (count),
    choice_by_power (10 x 3) summed over the batch.
    """
    count = len(systems["power"])
    out = {k: [] for k in ("target", "choice", "bloc", "bop_target", "bop_choice")}
    out["outcomes"] = {name: [] for name in OUTCOME_NAMES}
    cbp = [[0, 0, 0] for _ in range(N_BINS)]
    for s in range(count):
        r = ref_evaluate(
            systems["power"][s],
            systems["position"][s],
            systems["offense"][s],
            systems["intent"][s],
            params,
        )
        for k in ("target", "choice", "bloc", "bop_target", "bop_choice"):
            out[k].append(r[k])
        for name in OUTCOME_NAMES:
            out["outcomes"][name].append(r["outcomes"][name])
        for b in range(N_BINS):
            for c in range(3):
                cbp[b][c] += r["choice_by_power"][b][c]
    out["choice_by_power"] = cbp
    return out
