"""What a historical case is made of: its constants, the great-circle geometry of capitals
and the schema of a case file (``configs/cases/NAME.yaml``, documented in docs/cases.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, StrictInt, ValidationError

from ..config import (
    ConfigError,
    FiniteFloat,
    Frozen,
    ModelParams,
    config_from_dict,
)

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), the sphere on which distances between capitals are measured."""


MAX_SIDES = 8
"""Most observed sides a case may have (the matching enumerates subsets of sides)."""


POWER_COMPONENTS = ("milex", "milper", "irst", "pec", "tpop", "upop")


CHOICE_NAMES = ("balance", "bandwagon", "neutral")


NO_SIDE = "none"


STATS = ("mean", "std", "sem", "count", "min", "max")


CRITERIA = ("power", "proximity", "offense", "intent")


DEFAULT_SWEEP = {
    "design": "lhs",
    "samples": 4000,
    "seed": 1,
    "factors": {
        "model.weights.power": [0.0, 1.0],
        "model.weights.proximity": [0.0, 1.0],
        "model.weights.offense": [0.0, 1.0],
        "model.weights.intent": [0.0, 1.0],
        "model.reach": [100.0, 2500.0],
        "model.bandwagon_ratio": [0.0, 0.5],
        "model.viability": [0.0, 1.5],
    },
}
"""The calibration design used when a case file gives none (``calibrate.sweep``)."""


REPO_ROOT = Path(__file__).resolve().parents[2]


SHIPPED_CASES = Path(__file__).resolve().parents[1] / "data" / "configs" / "cases"
"""The cases installed with the package (``configs/cases/`` of the repository, package data
through the ``mc_threat/data/configs`` symlink), found from any directory."""


def great_circle_km(lat, lon, radius: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Great-circle distances (km) between points given in decimal degrees.

    Haversine formula, ``d = 2 R asin(sqrt(a))`` with
    ``a = sin^2(dphi/2) + cos(phi_i) cos(phi_j) sin^2(dlambda/2)``; symmetric, 0 on the
    diagonal.
    """
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    n = phi.shape[0]
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            a = (math.sin((phi[j] - phi[i]) / 2.0) ** 2
                 + math.cos(phi[i]) * math.cos(phi[j]) * math.sin((lam[j] - lam[i]) / 2.0) ** 2)
            v = 2.0 * radius * math.asin(math.sqrt(min(1.0, max(0.0, a))))
            d[i, j] = v
            d[j, i] = v
    return d


Bound = Annotated[FiniteFloat, Field(ge=0, le=1)]


NonEmpty = Annotated[str, Field(min_length=1)]


class ObservedSpec(Frozen):
    """The observed alignment: the side labels and the column(s) of the state table."""

    sides: list[NonEmpty] = Field(min_length=1, max_length=MAX_SIDES)
    column: NonEmpty = "side"
    coding: str = ""
    codings: dict[str, str] = Field(default_factory=dict)


class UncertaintySpec(Frozen):
    """Half-widths of the attribute perturbations used by the calibration.

    ``power``: relative, ``p' = p U(1 - b, 1 + b)`` (``b < 1``); ``offense`` and ``intent``:
    absolute, ``x' ~ U(max(0, x - b), min(1, x + b))``.
    """

    power: Annotated[FiniteFloat, Field(ge=0, lt=1)] = 0.2
    offense: Bound = 0.1
    intent: Bound = 0.1


class CalibrateSpec(Frozen):
    """Defaults of ``mc-threat case CASE --calibrate``."""

    draws: Annotated[StrictInt, Field(ge=0, le=100_000)] = 200
    seed: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] = 20260101
    sweep: dict[str, Any] | None = None


class CaseFile(Frozen):
    """The YAML of a case (see docs/cases.md)."""

    name: NonEmpty | None = None
    title: NonEmpty
    year: StrictInt | None = None
    description: str = ""
    states: NonEmpty
    intent: NonEmpty | None = None
    power: Literal["cinc", "components", "power"] = "cinc"
    observed: ObservedSpec
    model: dict[str, Any]
    uncertainty: UncertaintySpec = Field(default_factory=UncertaintySpec)
    calibrate: CalibrateSpec = Field(default_factory=CalibrateSpec)
    sources: list[NonEmpty] = Field(min_length=1)
    notes: str = ""
    build: dict[str, Any] | None = None


def validate_case_file(data: Any, source: str) -> CaseFile:
    from ..config import format_validation_error, unknown_key_message

    if not isinstance(data, Mapping):
        kind = "nothing" if data is None else type(data).__name__
        raise ConfigError(f"{source}: a case file must be a mapping of keys (title, states, "
                          f"observed, model, sources, ...), got {kind}")
    try:
        return CaseFile.model_validate(dict(data))
    except ValidationError as exc:
        lines = format_validation_error(exc)
        for k, err in enumerate(exc.errors(include_url=False)):
            if err["type"] == "extra_forbidden":
                path = lines[k].split(": unknown key", 1)[0]
                lines[k] = f"{path}: {unknown_key_message(CaseFile, tuple(err['loc']))}"
        raise ConfigError([f"{source}: {line}" for line in lines], source) from None


def check_calibration_sweep(model: ModelParams, sweep: Any, prefix: str = "calibrate.") -> None:
    """Validate a calibration design (the ``sweep`` of configs, ``model.*`` factors only)."""
    if not isinstance(sweep, Mapping):
        raise ConfigError(f"{prefix}sweep: must be a mapping (a sweep design as in configs)")
    factors = sweep.get("factors")
    if isinstance(factors, Mapping):
        bad = [f for f in factors if not str(f).startswith("model.") or f == "model.n_states"]
        if bad:
            raise ConfigError([f"{prefix}sweep.factors.{f}: a case calibrates model "
                               "parameters only (model.weights.*, model.reach, "
                               "model.bandwagon_ratio, model.viability, model.neutral_below, "
                               "model.form)" for f in bad])
    points = sweep.get("points")
    if isinstance(points, list):
        bad = sorted({str(f) for pt in points if isinstance(pt, Mapping) for f in pt
                      if not str(f).startswith("model.") or f == "model.n_states"})
        if bad:
            raise ConfigError([f"{prefix}sweep.points: {f}: a case calibrates model "
                               "parameters only" for f in bad])
    try:
        config_from_dict({"model": model.model_dump(mode="python"), "sweep": dict(sweep)})
    except ConfigError as exc:
        raise ConfigError([f"{prefix}{line}" for line in exc.errors]) from None
