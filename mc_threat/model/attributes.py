"""Attributes of a state system that do not depend on the model's parameters: how power is
concentrated, how strong, offensive and aggressive the hegemon is, how far apart states are.

They describe the systems kept in a sweep's reservoir (``run.reservoir``), so that
``mc-threat features`` can ask which properties of a system make balance of threat and
balance of power disagree. ``h`` is the hegemon, the strongest state (ties to the smallest
index, as in MODEL.md section 5); distances are Euclidean, ``|x_i - x_j|``.

Every sum runs left to right over states (and over pairs ``i < j`` in lexicographic order),
one rounding per addition, so the values are the same on every machine; ``tests`` compare
them with a plain-Python loop bit for bit.
"""

from __future__ import annotations

import numpy as np

SYSTEM_ATTRIBUTES = {
    "hegemon_share": ("hegemon's share of the system's power, p_h / sum p", "fraction"),
    "power_hhi": ("power concentration, sum of squared power shares (Herfindahl)", "fraction"),
    "runner_up_ratio": ("power of the second-strongest state over the hegemon's", "ratio"),
    "hegemon_offense": ("hegemon's offensive capability o_h", "[0, 1]"),
    "hegemon_intent": ("hegemon's offensive intentions (monadic intent of h)", "[0, 1]"),
    "others_offense": ("mean offensive capability of the other states", "[0, 1]"),
    "others_intent": ("mean offensive intentions of the other states", "[0, 1]"),
    "hegemon_distance": ("mean distance from the hegemon to the other states",
                         "position units"),
    "mean_distance": ("mean distance between two states (all pairs)", "position units"),
}
"""Name -> (description, units), in the order of :func:`system_attributes`' columns."""


def _seq_sum(x: np.ndarray) -> np.ndarray:
    """Sum along the last axis strictly left to right (``cumsum`` is sequential; NumPy's
    ``sum`` adds pairwise, in an order that depends on the memory layout)."""
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1])
    return np.cumsum(x, axis=-1)[..., -1]


def system_attributes(systems) -> np.ndarray:
    """``(count, len(SYSTEM_ATTRIBUTES))`` float64: the attributes of each system, in the
    order of :data:`SYSTEM_ATTRIBUTES`. Monadic intent only (generated systems)."""
    power = np.asarray(systems.power, np.float64)
    pos = np.asarray(systems.position, np.float64)
    offense = np.asarray(systems.offense, np.float64)
    intent = np.asarray(systems.intent, np.float64)
    if intent.ndim != 2:
        raise ValueError("system_attributes: monadic intent (count, n) only")
    count, n = power.shape
    rows = np.arange(count)
    h = np.argmax(power, axis=1)  # first maximum: ties to the smallest index
    others = np.ones((count, n), bool)
    others[rows, h] = False
    total = _seq_sum(power)
    p_h = power[rows, h]
    share = power / total[:, None]
    runner_up = np.where(others, power, -np.inf).max(axis=1)
    dx = pos[:, :, None, 0] - pos[:, None, :, 0]
    dy = pos[:, :, None, 1] - pos[:, None, :, 1]
    d = np.sqrt(dx * dx + dy * dy)  # (count, n, n), each entry rounded once per operation
    iu, ju = np.triu_indices(n, 1)  # pairs i < j in lexicographic order
    others_only = n - 1
    out = np.empty((count, len(SYSTEM_ATTRIBUTES)))
    out[:, 0] = p_h / total
    out[:, 1] = _seq_sum(share * share)
    out[:, 2] = runner_up / p_h
    out[:, 3] = offense[rows, h]
    out[:, 4] = intent[rows, h]
    out[:, 5] = _seq_sum(np.where(others, offense, 0.0)) / others_only
    out[:, 6] = _seq_sum(np.where(others, intent, 0.0)) / others_only
    out[:, 7] = _seq_sum(np.where(others, d[rows, h], 0.0)) / others_only
    out[:, 8] = _seq_sum(d[:, iu, ju]) / len(iu)
    return out
