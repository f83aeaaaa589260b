"""Sweep designs: which parameter sets ("points") a sweep evaluates.

The ``sweep`` section of a config names factors by their dotted path in the config
(``model.weights.intent``, ``model.n_states``, ``generator.power_sigma``, ...) and one of
five designs:

``grid``    full factorial over listed values; the first factor varies slowest, except that
            factors changing the systems (``model.n_states``, ``generator.*``) come first.
``points``  an explicit list of points, each a mapping of factor -> value.
``lhs``     Latin hypercube over bounds (SALib ``latin.sample``).
``sobol``   Saltelli/Sobol' sequence over bounds (SALib ``sobol.sample``), for Sobol indices.
``morris``  Morris trajectories over bounds (SALib ``morris.sample``), for elementary effects.

Every point is resolved to a full, validated :class:`~mc_threat.config.Config`; a value that
is invalid at some point is reported with the point and the field.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)


def _kind_of(value) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def _number(value):
    """A sweep bound: an int or a float, as in the rest of a config (booleans and strings
    such as ``'0.5'`` are not numbers). One clear message instead of one per union member."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {_kind_of(value)}")
    return value


def _scalar(value):
    """A grid or points value: a number or a string (for ``model.form``), not a boolean,
    null, list or mapping."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"must be a number or a string, got {_kind_of(value)}")
    return value


def _item(value):
    """A NumPy scalar as the Python number it holds (``np.bool_`` stays a boolean)."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


Number = Annotated[StrictInt | StrictFloat, BeforeValidator(_number)]
Value = Annotated[StrictInt | StrictFloat | StrictStr, BeforeValidator(_scalar)]
Count = Annotated[StrictInt, BeforeValidator(_item)]
"""An int (as in the rest of a config, not a boolean, float or string)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_names(names) -> None:
    known = factor_names()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown factor {name!r}; known factors: {', '.join(sorted(known))}")


class GridDesign(_Strict):
    """Full factorial over listed values of each factor."""

    design: Literal["grid"]
    factors: dict[str, list[Value]] = Field(min_length=1)

    @field_validator("factors")
    @classmethod
    def _values(cls, v):
        _check_names(v)
        for name, values in v.items():
            if not values:
                raise ValueError(f"{name}: needs at least one value")
            if len(set(values)) != len(values):
                dup = next(x for x in values if values.count(x) > 1)
                raise ValueError(f"{name}: duplicate value {dup!r}")
        return v


class PointsDesign(_Strict):
    """An explicit list of points."""

    design: Literal["points"]
    points: list[dict[str, Value]] = Field(min_length=1)

    @field_validator("points")
    @classmethod
    def _same_factors(cls, v):
        names = list(v[0])
        if not names:
            raise ValueError("point 0 sets no factor; every point must set at least one")
        _check_names(names)
        for k, pt in enumerate(v):
            if sorted(pt) != sorted(names):
                raise ValueError(f"point {k} sets {sorted(pt)}, point 0 sets {sorted(names)}; "
                                 "every point must set the same factors")
        return v


def _check_bounds(v: dict[str, list[float]]) -> dict[str, list[float]]:
    _check_names(v)
    for name, b in v.items():
        if FACTOR_TYPES.get(name) is not float:
            raise ValueError(f"{name}: a sampled design needs a real-valued factor; "
                             "use a grid or points design for it")
        if len(b) != 2:
            raise ValueError(f"{name}: bounds must be [low, high], got {b}")
        if not all(np.isfinite(b)):
            raise ValueError(f"{name}: bounds must be finite, got {b}")
        if not b[0] < b[1]:
            raise ValueError(f"{name}: low bound must be below the high bound, got {b}")
    return v


Bounds = dict[str, list[Number]]


class _SampledDesign(_Strict):
    """Common fields of the sampled designs: bounds per factor and the sampler's seed."""

    factors: Bounds = Field(min_length=1)
    seed: Annotated[Count, Field(ge=0, lt=2**32)] = 0

    @field_validator("factors")
    @classmethod
    def _bounds(cls, v):
        return _check_bounds(v)


class LHSDesign(_SampledDesign):
    """Latin hypercube sample of ``samples`` points."""

    design: Literal["lhs"]
    samples: Annotated[Count, Field(ge=1, le=10_000_000)]


class SobolDesign(_SampledDesign):
    """Saltelli's extension of the Sobol' sequence: ``samples * (D + 2)`` points
    (``samples * (2 D + 2)`` with second-order indices); ``samples`` a power of 2."""

    design: Literal["sobol"]
    samples: Annotated[Count, Field(ge=2, le=2**22)]
    second_order: StrictBool = False

    @field_validator("samples")
    @classmethod
    def _pow2(cls, v):
        if v & (v - 1):
            raise ValueError(f"must be a power of 2 (Sobol' sequences balance only then), got {v}")
        return v


class MorrisDesign(_SampledDesign):
    """Morris trajectories: ``trajectories * (D + 1)`` points on a ``levels``-grid."""

    design: Literal["morris"]
    trajectories: Annotated[Count, Field(ge=2, le=100_000)]
    levels: Annotated[Count, Field(ge=2, le=64)] = 4


SWEEP_DESIGNS = ("grid", "points", "lhs", "sobol", "morris")

SweepConfig = Annotated[
    GridDesign | PointsDesign | LHSDesign | SobolDesign | MorrisDesign,
    Field(discriminator="design"),
]


def _leaf_types(model_cls, prefix: str) -> dict[str, type]:
    """Dotted names of every scalar field below ``model_cls`` and their types."""
    out: dict[str, type] = {}
    for name, field in model_cls.model_fields.items():
        ann = field.annotation
        path = f"{prefix}{name}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(_leaf_types(ann, path + "."))
        elif ann is int:
            out[path] = int
        elif ann is float:
            out[path] = float
        else:
            out[path] = str
    return out


def _factor_types() -> dict[str, type]:
    from .config import GeneratorParams, ModelParams

    return {**_leaf_types(ModelParams, "model."), **_leaf_types(GeneratorParams, "generator.")}


FACTOR_TYPES: dict[str, type] = {}


def factor_names() -> set[str]:
    """Every dotted name a sweep may vary (model and generator fields)."""
    if not FACTOR_TYPES:
        FACTOR_TYPES.update(_factor_types())
    return set(FACTOR_TYPES)


@dataclass(frozen=True)
class Design:
    """The resolved points of a sweep.

    Attributes
    ----------
    factors : names of the swept factors, in design order
    values : (n_points, n_factors) object array of factor values per point
    configs : a validated Config per point (the base config with the factor values set)
    problem : SALib problem dict for sampled designs, else None
    kind : design name
    """

    factors: tuple[str, ...]
    values: np.ndarray
    configs: tuple[Any, ...]
    problem: dict | None
    kind: str

    @property
    def n_points(self) -> int:
        return len(self.configs)


MAX_POINTS = 1_000_000
"""Most points a design may make (each becomes a validated config held in memory)."""


def design_size(sweep) -> tuple[int, str]:
    """Number of points the ``sweep`` section makes, and the field that decides it, from the
    section alone (without drawing the points)."""
    if sweep is None:
        return 1, "sweep"
    d = len(getattr(sweep, "factors", None) or {})
    if sweep.design == "grid":
        return math.prod(len(v) for v in sweep.factors.values()), "sweep.factors"
    if sweep.design == "points":
        return len(sweep.points), "sweep.points"
    if sweep.design == "lhs":
        return sweep.samples, "sweep.samples"
    if sweep.design == "sobol":
        return sweep.samples * (2 * d + 2 if sweep.second_order else d + 2), "sweep.samples"
    return sweep.trajectories * (d + 1), "sweep.trajectories"


def _set_dotted(d: dict, name: str, value) -> None:
    *parents, leaf = name.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[leaf] = value


def design_points(config) -> Design:
    """Resolve the sweep of ``config`` into points (a single point when it has no sweep).

    Raises :class:`~mc_threat.config.ConfigError` naming the point and the field when a
    value is invalid at some point.
    """
    from .config import ConfigError, config_from_dict

    sweep = config.sweep
    size, where = design_size(sweep)
    if size > MAX_POINTS:  # refused before drawing: an absurd design would exhaust memory
        raise ConfigError(f"{where}: the {sweep.design} design makes {size:,} points; at most "
                          f"{MAX_POINTS:,}")
    base = config.model_dump(mode="python")
    base.pop("sweep", None)
    problem = None
    if sweep is None:
        return Design((), np.empty((1, 0), object), (config,), None, "single")
    if sweep.design == "grid":
        # Factors that change the systems vary slowest, so that points sharing generated
        # systems are adjacent and are evaluated together (common random numbers).
        names = tuple(sorted(sweep.factors, key=lambda k: not _changes_systems(k)))
        rows = list(itertools.product(*(sweep.factors[k] for k in names)))
    elif sweep.design == "points":
        names = tuple(sweep.points[0])
        rows = [tuple(pt[k] for k in names) for pt in sweep.points]
    else:
        names = tuple(sweep.factors)
        problem = {
            "num_vars": len(names),
            "names": list(names),
            "bounds": [[float(v) for v in sweep.factors[k]] for k in names],
        }
        rows = [tuple(float(x) for x in r) for r in _sample(sweep, problem)]
    factor_names()
    rows = [tuple(_typed(n, v) for n, v in zip(names, row, strict=True)) for row in rows]
    configs = []
    for k, row in enumerate(rows):
        d = _deep_copy(base)
        for name, value in zip(names, row, strict=True):
            _set_dotted(d, name, value)
        try:
            configs.append(config_from_dict(d))
        except ConfigError as exc:
            where = ", ".join(f"{n}={v!r}" for n, v in zip(names, row, strict=True))
            lines = [f"sweep point {k} ({where}): {line}" for line in exc.errors]
            raise ConfigError(lines) from None
    values = np.empty((len(rows), len(names)), object)
    for k, row in enumerate(rows):
        values[k, :] = row
    return Design(names, values, tuple(configs), problem, sweep.design)


def _changes_systems(name: str) -> bool:
    return name == "model.n_states" or name.startswith("generator.")


def _typed(name: str, value):
    """A float factor's integer value as a float (``1`` -> ``1.0``), so coordinates are typed
    by the factor, not by how the YAML happened to spell the value."""
    if FACTOR_TYPES.get(name) is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _deep_copy(d):
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    return d


def _sample(sweep, problem) -> np.ndarray:
    if sweep.design == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, sweep.samples, seed=sweep.seed)
    if sweep.design == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, sweep.samples, calc_second_order=sweep.second_order,
                            seed=sweep.seed)
    from SALib.sample import morris

    return morris.sample(problem, sweep.trajectories, num_levels=sweep.levels, seed=sweep.seed)
