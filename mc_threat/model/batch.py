"""The Python face of one evaluation: ``evaluate(systems, params)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import N_OUTCOMES, N_PARAMS, N_POWER_BINS, OUTCOMES, power_bin_edges
from ..kernels.evaluate import evaluate_batch, threat_matrix_batch
from ..kernels.threat import FORM_ADDITIVE, FORM_MULTIPLICATIVE
from .systems import Systems

POWER_BIN_EDGES = power_bin_edges()


def params_vector(params) -> np.ndarray:
    """A model parameter set (``ModelParams`` or dict) as the kernels' float64 row."""
    from ..config import coerce_params

    p = coerce_params(params)
    w = p.weights
    row = np.empty(N_PARAMS)
    row[:] = (
        FORM_ADDITIVE if p.form == "additive" else FORM_MULTIPLICATIVE,
        w.power,
        w.proximity,
        w.offense,
        w.intent,
        p.reach,
        p.bandwagon_ratio,
        p.viability,
        p.neutral_below,
    )
    return row


@dataclass(frozen=True)
class Evaluation:
    """Everything one evaluation computes for a batch of systems.

    Attributes
    ----------
    target : (count, n) int32, principal threat ``tau_i`` of each state
    choice : (count, n) int8, final choice (BALANCE = 0, BANDWAGON = 1, NEUTRAL = 2)
    bloc : (count, n) int32, bloc label (``n + t`` for the coalition against ``t``,
        ``r`` for a neutral root state ``r``)
    bop_target, bop_choice : (count, n), the same under balance-of-power weights
    outcomes : dict of name -> (count,) float64, every outcome of MODEL.md section 5
    choice_by_power : (10, 3) int64, final choices counted per relative-power bin
    """

    target: np.ndarray
    choice: np.ndarray
    bloc: np.ndarray
    bop_target: np.ndarray
    bop_choice: np.ndarray
    outcomes: dict[str, np.ndarray]
    choice_by_power: np.ndarray

    @property
    def outcome_matrix(self) -> np.ndarray:
        """Outcomes stacked as (count, n_outcomes) in the order of ``OUTCOMES``."""
        return np.stack([self.outcomes[k] for k in OUTCOMES], axis=1)


def _as_systems(systems) -> Systems:
    if isinstance(systems, Systems):
        return systems
    if isinstance(systems, dict):
        return Systems(**systems)
    raise TypeError(f"systems: expected a Systems object or a dict of arrays, got "
                    f"{type(systems).__name__}")


def evaluate(systems, params=None) -> Evaluation:
    """Evaluate a batch of systems under one model parameter set.

    Parameters
    ----------
    systems : Systems (or a dict of its arrays)
    params : ModelParams, dict or None
        Model parameters (MODEL.md sections 2-3); a dict may give any subset, the rest
        take their defaults. ``n_states`` is ignored: the systems fix ``n``.

    Returns
    -------
    Evaluation
    """
    from .generate import n_blocks

    sys_ = _as_systems(systems)
    row = params_vector(params if params is not None else {})
    count, n = sys_.power.shape
    target = np.empty((count, n), np.int32)
    bloc = np.empty((count, n), np.int32)
    bop_target = np.empty((count, n), np.int32)
    choice = np.empty((count, n), np.int8)
    bop_choice = np.empty((count, n), np.int8)
    out = np.empty((count, N_OUTCOMES))
    nb = n_blocks(count)
    cbp = np.zeros((nb, N_POWER_BINS, 3), np.int64)
    if count:
        evaluate_batch(sys_.power, sys_.position, sys_.offense, sys_.intent_matrix_view(), row,
                       POWER_BIN_EDGES, nb, target, choice, bloc, bop_target, bop_choice, out, cbp)
        if (bloc < 0).any():  # kernels/alignment.py: blocs marks a bandwagon cycle with -1
            raise RuntimeError("evaluate: a system's bandwagon pointers form a cycle, which "
                               "the choice rules must never make")
    outcomes = {name: out[:, k].copy() for k, name in enumerate(OUTCOMES)}
    return Evaluation(target, choice, bloc, bop_target, bop_choice, outcomes, cbp.sum(axis=0))


def outcome_rows(systems, rows: np.ndarray) -> np.ndarray:
    """Every outcome of every system under each parameter row: ``(P, count, N_OUTCOMES)``
    for ``rows (P, N_PARAMS)`` (the rows of :func:`params_vector`), in ``OUTCOMES`` order.
    The same numbers as :func:`evaluate` row by row (and as the sweep kernel's)."""
    from .generate import n_blocks

    sys_ = _as_systems(systems)
    count, n = sys_.power.shape
    out = np.empty((rows.shape[0], count, N_OUTCOMES))
    if not count:
        return out
    nb = n_blocks(count)
    target = np.empty((count, n), np.int32)
    bloc = np.empty((count, n), np.int32)
    bop_target = np.empty((count, n), np.int32)
    choice = np.empty((count, n), np.int8)
    bop_choice = np.empty((count, n), np.int8)
    cbp = np.zeros((nb, N_POWER_BINS, 3), np.int64)
    intent = sys_.intent_matrix_view()
    for p in range(rows.shape[0]):
        evaluate_batch(sys_.power, sys_.position, sys_.offense, intent,
                       np.ascontiguousarray(rows[p], np.float64), POWER_BIN_EDGES, nb, target,
                       choice, bloc, bop_target, bop_choice, out[p], cbp)
        if (bloc < 0).any():
            raise RuntimeError("outcome_rows: a system's bandwagon pointers form a cycle, "
                               "which the choice rules must never make")
    return out


def threat_matrix(systems, params=None) -> np.ndarray:
    """Threat matrices ``T[s, i, j]`` (count, n, n), NaN on the diagonal, for inspection."""
    sys_ = _as_systems(systems)
    row = params_vector(params if params is not None else {})
    count, n = sys_.power.shape
    out = np.empty((count, n, n))
    if count:
        threat_matrix_batch(sys_.power, sys_.position, sys_.offense, sys_.intent_matrix_view(),
                            row, out)
    return out
