"""One system-year predicted: :func:`predict` gives the blocs of balance of threat and of
balance of power under rows of model parameters, with the case kernels
(:func:`mc_threat.kernels.cases.evaluate_points`); :func:`default_params` is the model the
shipped cases use. Shared by the panel (:mod:`.panel`) and the search (:mod:`.search`).
"""

from __future__ import annotations

import json

import numpy as np

from ..config import ModelParams, coerce_params
from ..model.batch import params_vector

DEFAULT_MODEL = {"form": "additive",
                 "weights": {"power": 1.0, "proximity": 1.0, "offense": 1.0, "intent": 1.0},
                 "reach": 1000.0, "bandwagon_ratio": 0.1, "viability": 0.5,
                 "neutral_below": 0.0}
"""The shipped cases' default model (reach in km), used unless options change it."""


def default_params(**updates) -> ModelParams:
    base = json.loads(json.dumps(DEFAULT_MODEL))
    w = updates.pop("weights", None)
    if w:
        base["weights"].update(w)
    base.update(updates)
    return coerce_params(base)


def predict(system, params) -> tuple[np.ndarray, np.ndarray]:
    """Blocs ``(P, n)`` of balance of threat and of balance of power for ``P`` parameter rows
    (``params``: a ModelParams or a (P, N_PARAMS) array of :func:`params_vector` rows)."""
    from ..cases import evaluate_points

    rows = params_vector(params)[None, :] if isinstance(params, ModelParams) else \
        np.ascontiguousarray(params, dtype=np.float64)
    P, n = rows.shape[0], system.n
    out = {k: np.empty((P, n), dt) for k, dt in (
        ("target", np.int32), ("theta", np.float64), ("choice", np.int8), ("bloc", np.int32),
        ("pred", np.int64), ("btarget", np.int32), ("btheta", np.float64),
        ("bchoice", np.int8), ("bbloc", np.int32), ("bpred", np.int64))}
    correct = np.empty(P, np.int64)
    bcorrect = np.empty(P, np.int64)
    side = np.full(n, -1, np.int32)
    evaluate_points(rows, system.power, system.offense, system.intent, system.distance, side,
                     1, out["target"], out["theta"], out["choice"], out["bloc"], out["pred"],
                     correct, out["btarget"], out["btheta"], out["bchoice"], out["bbloc"],
                     out["bpred"], bcorrect)
    return out["bloc"], out["bbloc"]
