"""Evaluating a case under one set of model parameters: balance of threat and the
balance-of-power reference side by side, scored against the observed sides (best one-to-one
matching of blocs to sides) beside the null models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..config import (
    ModelParams,
    coerce_params,
)
from ..kernels.cases import (
    case_threat_matrix,
    evaluate_points,
    match_sides,
)
from ..model.batch import params_vector
from .case import Case
from .nulls import majority_null, permutation_null
from .spec import CHOICE_NAMES, MAX_SIDES


def best_matching(bloc, side, k: int) -> tuple[int, np.ndarray]:
    """Score one prediction: ``(correct, predicted side per state)`` (see :func:`_match`).

    ``bloc``: bloc labels (n,) in ``[0, 2n)``; ``side``: observed side index (n,), -1 for a
    state that is not scored; ``k``: number of sides.
    """
    bloc = np.ascontiguousarray(bloc, dtype=np.int32)
    side = np.ascontiguousarray(side, dtype=np.int32)
    n = bloc.shape[0]
    if not 1 <= k <= MAX_SIDES:
        raise ValueError(f"k: between 1 and {MAX_SIDES} sides, got {k}")
    if n and ((bloc < 0).any() or (bloc >= 2 * n).any()):
        raise ValueError(f"bloc: labels must be in [0, {2 * n})")
    if n and ((side < -1).any() or (side >= k).any()):
        raise ValueError(f"side: must be in [-1, {k})")
    pred = np.empty(n, np.int64)
    correct = match_sides(bloc, side, k, pred)
    return int(correct), pred


def case_params(case: Case, params) -> ModelParams:
    """The case's model parameters updated with ``params`` (a mapping, partial weights ok)."""
    if params is None:
        return case.model
    if isinstance(params, ModelParams):
        return params
    base = case.model.model_dump(mode="python")
    upd = dict(params)
    if isinstance(upd.get("weights"), Mapping):
        base["weights"] = {**base["weights"], **upd.pop("weights")}
    base.update(upd)
    return coerce_params(base)


def bloc_name(label: int, case: Case) -> str:
    """Readable bloc label: ``against GMY`` (coalition node) or ``GMY (neutral)`` (root)."""
    n = case.n
    return f"against {case.abb[label - n]}" if label >= n else f"{case.abb[label]} (neutral)"


@dataclass(frozen=True)
class PassResult:
    """One pass (balance of threat or balance of power) over a case."""

    target: np.ndarray
    theta: np.ndarray
    choice: np.ndarray
    bloc: np.ndarray
    predicted: np.ndarray
    correct: int
    n_scored: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n_scored

    def matching(self, case: Case) -> dict[str, str]:
        """Bloc name -> side, for matched blocs."""
        out = {}
        for b, s in sorted({(int(b), int(s)) for b, s in zip(self.bloc, self.predicted,
                                                                strict=True) if s >= 0}):
            out[bloc_name(b, case)] = case.sides[s]
        return out


@dataclass(frozen=True)
class CaseEvaluation:
    """A case evaluated under one parameter set: balance of threat (``threat``) and balance
    of power (``power``), the threat matrix and the scores."""

    case: Case
    params: ModelParams
    threat_matrix: np.ndarray
    threat: PassResult
    power: PassResult

    def null_models(self, permutations: int = 1000) -> dict:
        """The majority null and the permutation null of both passes (seed: the case's
        ``calibrate.seed``), see :func:`majority_null` and :func:`permutation_null`."""
        cached = self.__dict__.get("_nulls")
        if cached is None or cached[0] != permutations:
            seed = self.case.calibrate.seed
            cached = (permutations, {
                "majority": majority_null(self.case),
                "permutation": {
                    "balance_of_threat": permutation_null(self.case, self.threat.bloc,
                                                          self.threat.correct, permutations,
                                                          seed),
                    "balance_of_power": permutation_null(self.case, self.power.bloc,
                                                         self.power.correct, permutations,
                                                         seed)}})
            object.__setattr__(self, "_nulls", cached)
        return cached[1]

    def to_dict(self) -> dict:
        """Everything as plain JSON-ready Python objects."""
        c = self.case
        p = self.params
        n = c.n

        def side(k):
            return None if k < 0 else c.sides[k]

        def pass_dict(r: PassResult):
            return {"correct": r.correct, "scored": r.n_scored, "accuracy": r.accuracy,
                    "matching": r.matching(c)}

        tm = [[None if i == j else float(self.threat_matrix[i, j]) for j in range(n)]
              for i in range(n)]
        states = []
        for i in range(n):
            t, bt = int(self.threat.target[i]), int(self.power.target[i])
            states.append({
                "abb": c.abb[i], "name": c.names[i], "ccode": c.ccode[i],
                "power": float(c.power[i]), "offense": float(c.offense[i]),
                "observed": c.observed[i],
                "threat": {"principal_threat": c.abb[t], "threat_level": float(
                    self.threat.theta[i]), "choice": CHOICE_NAMES[self.threat.choice[i]],
                    "bloc": bloc_name(int(self.threat.bloc[i]), c),
                    "predicted": side(int(self.threat.predicted[i]))},
                "power_reference": {"principal_threat": c.abb[bt],
                                    "choice": CHOICE_NAMES[self.power.choice[i]],
                                    "bloc": bloc_name(int(self.power.bloc[i]), c),
                                    "predicted": side(int(self.power.predicted[i]))},
            })
        return {
            "case": c.name, "title": c.title, "year": c.year, "coding": c.coding,
            "sides": list(c.sides), "n_states": n,
            "params": params_dict(p),
            "accuracy": {"balance_of_threat": pass_dict(self.threat),
                         "balance_of_power": pass_dict(self.power)},
            "null_models": self.null_models(),
            "states": states,
            "threat_matrix": {"states": list(c.abb), "rows": "perceiver i", "columns":
                              "candidate j", "values": tm},
            "distance_km": [[float(v) for v in row] for row in c.distance],
        }


def params_dict(p: ModelParams) -> dict:
    """A ModelParams as a plain dict, without ``n_states`` (a case fixes n)."""
    d = p.model_dump(mode="json")
    d.pop("n_states", None)
    return d


def evaluate_case(case: Case, params=None) -> CaseEvaluation:
    """Evaluate a case under ``params`` (the case's own model section, updated by a partial
    mapping such as ``{"weights": {"intent": 3}}``, or a full ModelParams).

    Balance of power is the same procedure with weights (1, 0, 0, 0) and the same
    ``bandwagon_ratio``, ``viability`` and ``neutral_below`` (docs/model.md, decision 1).
    """
    p = case_params(case, params)
    row = params_vector(p)[None, :]
    n = case.n
    k = len(case.sides)
    intent = np.ascontiguousarray(case.intent_matrix())
    out = {name: np.empty((1, n), dt) for name, dt in (
        ("target", np.int32), ("theta", np.float64), ("choice", np.int8), ("bloc", np.int32),
        ("pred", np.int64), ("bop_target", np.int32), ("bop_theta", np.float64),
        ("bop_choice", np.int8), ("bop_bloc", np.int32), ("bop_pred", np.int64))}
    correct = np.empty(1, np.int64)
    bop_correct = np.empty(1, np.int64)
    evaluate_points(row, case.power, case.offense, intent, case.distance, case.side_codes, k,
                     out["target"], out["theta"], out["choice"], out["bloc"], out["pred"],
                     correct, out["bop_target"], out["bop_theta"], out["bop_choice"],
                     out["bop_bloc"], out["bop_pred"], bop_correct)
    tm = np.empty((n, n))
    case_threat_matrix(case.power, case.offense, intent, case.distance, row[0], tm)
    m = case.n_scored
    threat = PassResult(out["target"][0], out["theta"][0], out["choice"][0], out["bloc"][0],
                        out["pred"][0], int(correct[0]), m)
    power = PassResult(out["bop_target"][0], out["bop_theta"][0], out["bop_choice"][0],
                       out["bop_bloc"][0], out["bop_pred"][0], int(bop_correct[0]), m)
    return CaseEvaluation(case, p, tm, threat, power)
