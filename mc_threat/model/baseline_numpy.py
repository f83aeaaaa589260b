"""A plain, vectorized NumPy implementation of the model (MODEL.md sections 2-5).

This is the implementation a capable NumPy user would write: whole-batch array operations
over ``(count, n)`` and ``(count, n, n)`` arrays, no numba and no Python loop over systems.
It serves as the performance baseline the numba engine is measured against, and as a
second, independent implementation for cross-checking ``mc_threat.evaluate``.

The only Python loops run over the ``n`` states (sequential power sums, see below) or over
``log2(n)`` pointer-jumping rounds, each iteration vectorized over systems. Systems are
processed in chunks so the ``(chunk, n, n)`` temporaries stay small.

Arithmetic follows docs/model.md ("Decisions where the specification is silent") operation
by operation, so that results agree bit for bit with ``mc_threat.evaluate``:

* ``D = exp(-sqrt(dx*dx + dy*dy) / reach)`` with ``dx = x_i0 - x_j0``, ``dy = x_i1 - x_j1``;
* ``A = p / max p``; ``O = (o*p) / max(o*p)``, or 0 everywhere when that maximum is 0;
* ``W = ((wA + wD) + wO) + wI``; additive ``T = (((wA*A + wD*D) + wO*O) + wI*I) / W``;
  multiplicative ``T = 1``, then ``T = T * pow_(x, w/W)`` for the criteria with non-zero
  weight in the order A, D, O, I;
* principal threat = ``argmax`` over ``j != i`` (diagonal set to ``-inf``), ties to the
  smallest ``j`` as ``np.argmax`` does;
* ``S_B(t)`` and ``S_W(t)`` are summed sequentially in increasing state index (``S_W``
  starting from ``p_t``). ``np.sum`` would use pairwise summation, whose rounding differs, so
  the sums are accumulated with an explicit loop over the state axis.

``exp`` and ``pow_`` are the NumPy twins of the engine's own elementary functions
(:mod:`mc_threat.model.elementary`, MODEL.md section 9), not ``np.exp`` / ``np.power``: those are
the C library's or NumPy's SIMD code depending on the CPU and differ from each other in the
last bit for a few percent of arguments. With the twins the baseline agrees with the engine
bit for bit on every machine, and it stays whole-array NumPy code (about as fast as
``np.exp``).
"""

from __future__ import annotations

import numpy as np

from ..kernels import BALANCE, BANDWAGON, N_POWER_BINS, NEUTRAL, OUTCOMES, power_bin_edges
from .elementary import exp_np, pow_np
from .systems import Systems

__all__ = ["evaluate_numpy", "threat_matrix_numpy"]

_EDGES = power_bin_edges()
_CHUNK_ELEMENTS = 1 << 21  # chunk * n * n, about 16 MB per float64 temporary

# ------------------------------------------------------------------------------ threat
def _criteria(p, o):
    """``A`` and ``O`` (count, n)."""
    agg = p / p.max(axis=1, keepdims=True)
    op = o * p
    opmax = op.max(axis=1, keepdims=True)
    positive = opmax > 0.0
    off = np.where(positive, op / np.where(positive, opmax, 1.0), 0.0)
    return agg, off


def _threat_values(pos, intent, agg, off, form, w, reach, exp, pow_):
    """Threats ``T[s, i, j]`` (count, n, n); the diagonal holds junk (callers overwrite it)."""
    count, n = agg.shape
    wa, wd, wo, wi = w
    wsum = ((wa + wd) + wo) + wi
    dx = pos[:, :, None, 0] - pos[:, None, :, 0]
    dy = pos[:, :, None, 1] - pos[:, None, :, 1]
    d = np.sqrt(dx * dx + dy * dy)
    del dx, dy
    prox = exp(-d / reach)
    del d
    if intent.ndim == 3:
        # The dyadic diagonal is never used and may hold anything (NaN, values outside
        # [0, 1]); zero it so it raises no floating-point warnings.
        hmat = intent.copy()
        hmat[:, np.arange(n), np.arange(n)] = 0.0
    else:
        hmat = intent[:, None, :]
    if form == "additive":
        t = wa * agg[:, None, :] + wd * prox
        t += wo * off[:, None, :]
        t += wi * hmat
        t /= wsum
    else:
        t = np.ones((count, n, n))
        if wa != 0.0:
            t = t * pow_(agg, wa / wsum)[:, None, :]
        if wd != 0.0:
            t = t * pow_(prox, wd / wsum)
        if wo != 0.0:
            t = t * pow_(off, wo / wsum)[:, None, :]
        if wi != 0.0:
            t = t * pow_(hmat, wi / wsum)
    return t


def _threat_targets(pos, intent, agg, off, form, w, reach, exp, pow_):
    """Principal threats ``tau`` (count, n) int and their levels ``theta`` (count, n)."""
    t = _threat_values(pos, intent, agg, off, form, w, reach, exp, pow_)
    diag = np.arange(agg.shape[1])
    t[:, diag, diag] = -np.inf  # j != i
    tau = np.argmax(t, axis=2)  # ties to the smallest j
    theta = np.take_along_axis(t, tau[:, :, None], axis=2)[:, :, 0]
    return tau, theta


def _power_targets(agg):
    """Principal threats under balance-of-power weights (1, 0, 0, 0), where ``T_ij = A_j``
    exactly in both forms: the first maximiser of ``A`` for every state but itself, which
    fears the first maximiser among the others. Note ``A``, not ``p``: two different
    powers can round to the same ``A``, and then the smaller index wins."""
    count, n = agg.shape
    rows = np.arange(count)
    m1 = np.argmax(agg, axis=1)
    rest = agg.copy()
    rest[rows, m1] = -np.inf
    m2 = np.argmax(rest, axis=1)
    tau = np.where(np.arange(n)[None, :] == m1[:, None], m2[:, None], m1[:, None])
    theta = np.take_along_axis(agg, tau, axis=1)
    return tau, theta


# ----------------------------------------------------------------------------- choices
def _coalition_sums(p, tau, choice):
    """``S_B(t)``, ``S_W(t)`` (count, n) float64 and ``|B_t|`` (count, n) int, sums in
    increasing state index (``S_W(t)`` starts from ``p_t``). Adding ``0.0`` for a state that
    does not contribute leaves a non-negative sum unchanged, so masking is exact."""
    count, n = p.shape
    rows = np.arange(count)
    bal = choice == BALANCE
    wag = choice == BANDWAGON
    pb = np.where(bal, p, 0.0)
    pw = np.where(wag, p, 0.0)
    s_bal = np.zeros((count, n))
    s_wag = p.copy()
    for i in range(n):  # sequential over states, vectorized over systems
        t = tau[:, i]
        s_bal[rows, t] += pb[:, i]
        s_wag[rows, t] += pw[:, i]
    n_bal = _row_bincount(np.where(bal, tau, n), n + 1)[:, :n]
    return s_bal, s_wag, n_bal


def _row_bincount(idx, size):
    """Per-row counts of the integers in ``idx`` (count, m), each in ``[0, size)``."""
    count = idx.shape[0]
    flat = idx + (np.arange(count) * size)[:, None]
    return np.bincount(flat.ravel(), minlength=count * size).reshape(count, size)


def _choose(p, tau, theta, beta, alpha, neutral_below):
    """Final choices (count, n) int8 and the final ``S_B``, ``S_W``, ``|B_t|``."""
    p_tau = np.take_along_axis(p, tau, axis=1)
    first = np.where(theta < neutral_below, NEUTRAL,
                     np.where(p < beta * p_tau, BANDWAGON, BALANCE)).astype(np.int8)
    s_bal, s_wag, n_bal = _coalition_sums(p, tau, first)
    # A balancer's own B_t is non-empty (it is in it), so no separate test for that.
    weak = np.take_along_axis(s_bal, tau, axis=1) < alpha * np.take_along_axis(s_wag, tau, axis=1)
    switch = (first == BALANCE) & weak & (p < p_tau)
    if not switch.any():
        return first, s_bal, s_wag, n_bal
    final = np.where(switch, np.int8(BANDWAGON), first)
    s_bal, s_wag, n_bal = _coalition_sums(p, tau, final)
    return final, s_bal, s_wag, n_bal


def _blocs(tau, choice):
    """Bloc labels (count, n) by pointer jumping on the forest of states and coalition
    nodes: bandwagoner -> ``tau_i``, balancer -> ``n + tau_i``, neutral state and every
    coalition node -> itself. Paths have at most ``n`` edges (bandwagon edges rise strictly
    in power, then one edge into a coalition node), so ``ceil(log2(n + 1))`` doublings reach
    every root."""
    count, n = tau.shape
    own = np.broadcast_to(np.arange(n), (count, n))
    parent = np.concatenate(
        [np.where(choice == BANDWAGON, tau, np.where(choice == BALANCE, n + tau, own)),
         np.broadcast_to(np.arange(n, 2 * n), (count, n))], axis=1)
    for _ in range(int(n).bit_length()):
        parent = np.take_along_axis(parent, parent, axis=1)
    return parent[:, :n]


# ---------------------------------------------------------------------------- outcomes
def _pass_summary(p, tau, choice, bloc, s_bal, s_wag, n_bal, h):
    """Per-system summary of one pass (threat or balance of power)."""
    count, n = p.shape
    rows = np.arange(count)
    states = np.arange(n)[None, :]
    bal = choice == BALANCE
    n_balance = bal.sum(axis=1)
    n_bandwagon = (choice == BANDWAGON).sum(axis=1)
    t_star = np.argmax(_row_bincount(tau, n), axis=1)  # ties to the smallest index
    ratio = s_bal[rows, t_star] / s_wag[rows, t_star]
    n_coal = (n_bal > 0).sum(axis=1)
    hh = h[:, None]
    allies = ((bloc == bloc[rows, h][:, None]) & (states != hh)).sum(axis=1)
    opposed = (bal & (tau == hh)).sum(axis=1)
    return {"n_balance": n_balance, "n_bandwagon": n_bandwagon, "t_star": t_star,
            "ratio": ratio, "n_coal": n_coal, "allies": allies, "opposed": opposed}


def _evaluate_chunk(p, pos, o, intent, prm, w, exp, pow_):
    count, n = p.shape
    beta, alpha, nb = prm.bandwagon_ratio, prm.viability, prm.neutral_below
    agg, off = _criteria(p, o)
    h = np.argmax(p, axis=1)  # the hegemon: the first strongest state

    b_tau, b_theta = _power_targets(agg)
    b_choice, b_sb, b_sw, b_nb = _choose(p, b_tau, b_theta, beta, alpha, nb)
    b_bloc = _blocs(b_tau, b_choice)
    bop = _pass_summary(p, b_tau, b_choice, b_bloc, b_sb, b_sw, b_nb, h)

    tau, theta = _threat_targets(pos, intent, agg, off, prm.form, w, prm.reach, exp, pow_)
    choice, sb, sw, nbal = _choose(p, tau, theta, beta, alpha, nb)
    bloc = _blocs(tau, choice)
    bot = _pass_summary(p, tau, choice, bloc, sb, sw, nbal, h)

    fn = float(n)
    same = tau == b_tau
    agree = same.sum(axis=1)
    change = (~same | (choice != b_choice)).sum(axis=1)
    out = {
        "share_balance": bot["n_balance"] / fn,
        "share_bandwagon": bot["n_bandwagon"] / fn,
        "share_neutral": (n - bot["n_balance"] - bot["n_bandwagon"]) / fn,
        "bop_agreement": agree / fn,
        "top_threat_is_hegemon": (bot["t_star"] == h).astype(np.float64),
        "coalition_ratio": bot["ratio"],
        "contained": (bot["ratio"] >= 1.0).astype(np.float64),
        "n_coalitions": bot["n_coal"].astype(np.float64),
        "hegemon_allies": bot["allies"] / (fn - 1.0),
        "hegemon_opposed": bot["opposed"] / (fn - 1.0),
        "hegemon_favoured": (bot["allies"] > bot["opposed"]).astype(np.float64),
        "alignment_change": change / fn,
        "bop_share_balance": bop["n_balance"] / fn,
        "bop_contained": (bop["ratio"] >= 1.0).astype(np.float64),
        "bop_hegemon_favoured": (bop["allies"] > bop["opposed"]).astype(np.float64),
    }

    rel = p / p[np.arange(count), h][:, None]
    bins = np.clip(np.searchsorted(_EDGES, rel, side="right") - 1, 0, N_POWER_BINS - 1)
    cbp = np.bincount((bins * 3 + choice).ravel(), minlength=N_POWER_BINS * 3)
    return tau, choice, bloc, b_tau, b_choice, out, cbp.reshape(N_POWER_BINS, 3)


# ------------------------------------------------------------------------------ public
def _systems_of(systems) -> Systems:
    if isinstance(systems, dict):
        return Systems(**systems)
    if not isinstance(systems, Systems):
        raise TypeError(f"systems: expected a Systems object or a dict of arrays, got "
                        f"{type(systems).__name__}")
    return systems


def threat_matrix_numpy(systems, params=None) -> np.ndarray:
    """Threat matrices ``T[s, i, j]`` (count, n, n), NaN on the diagonal, like
    ``mc_threat.threat_matrix`` (for inspection and for checking the threat arithmetic)."""
    from ..config import coerce_params

    sys_ = _systems_of(systems)
    prm = coerce_params(params)
    w = tuple(float(v) for v in prm.weight_vector())
    exp, pow_ = exp_np, pow_np
    agg, off = _criteria(sys_.power, sys_.offense)
    t = _threat_values(sys_.position, sys_.intent, agg, off, prm.form, w, prm.reach, exp, pow_)
    diag = np.arange(sys_.n_states)
    t[:, diag, diag] = np.nan
    return t


def evaluate_numpy(systems, params=None, *, chunk: int | None = None) -> dict:
    """Evaluate a batch of systems with vectorized NumPy; same results as ``evaluate``.

    Parameters
    ----------
    systems : Systems (or a dict of its arrays)
    params : ModelParams, dict or None
        Model parameters; ``n_states`` is ignored (the systems fix ``n``).
    chunk : int or None
        Systems per vectorized chunk; by default about ``2**21 / n**2`` (16 MB temporaries).
        Results do not depend on it.

    Returns
    -------
    dict
        ``target``, ``bloc``, ``bop_target`` (count, n) int32; ``choice``, ``bop_choice``
        (count, n) int8; ``outcomes`` name -> (count,) float64 for every name of
        ``mc_threat.OUTCOMES``; ``choice_by_power`` (10, 3) int64.
    """
    from ..config import coerce_params

    systems = _systems_of(systems)
    prm = coerce_params(params)
    w = tuple(float(v) for v in prm.weight_vector())
    exp, pow_ = exp_np, pow_np

    count, n = systems.power.shape
    res = {
        "target": np.empty((count, n), np.int32),
        "choice": np.empty((count, n), np.int8),
        "bloc": np.empty((count, n), np.int32),
        "bop_target": np.empty((count, n), np.int32),
        "bop_choice": np.empty((count, n), np.int8),
    }
    outcomes = {name: np.empty(count) for name in OUTCOMES}
    cbp = np.zeros((N_POWER_BINS, 3), np.int64)
    step = chunk if chunk is not None else max(1, _CHUNK_ELEMENTS // (n * n))
    if step < 1:
        raise ValueError(f"chunk: must be >= 1, got {chunk}")
    for lo in range(0, count, step):
        hi = min(count, lo + step)
        tau, choice, bloc, b_tau, b_choice, out, c = _evaluate_chunk(
            systems.power[lo:hi], systems.position[lo:hi], systems.offense[lo:hi],
            systems.intent[lo:hi], prm, w, exp, pow_)
        res["target"][lo:hi] = tau
        res["choice"][lo:hi] = choice
        res["bloc"][lo:hi] = bloc
        res["bop_target"][lo:hi] = b_tau
        res["bop_choice"][lo:hi] = b_choice
        for name in OUTCOMES:
            outcomes[name][lo:hi] = out[name]
        cbp += c
    res["outcomes"] = outcomes
    res["choice_by_power"] = cbp
    return res
