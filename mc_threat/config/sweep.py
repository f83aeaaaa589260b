"""The ``sweep`` section of a config: which factors a sweep varies and how (the five designs
``grid``, ``points``, ``lhs``, ``sobol``, ``morris``; see :mod:`mc_threat.design` for what each
makes). This is the schema only; drawing the points is :func:`mc_threat.design.design_points`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from .base import Frozen, python_scalar


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
    value = python_scalar(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {_kind_of(value)}")
    return value


def _scalar(value):
    """A grid or points value: a number or a string (for ``model.form``), not a boolean,
    null, list or mapping."""
    value = python_scalar(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"must be a number or a string, got {_kind_of(value)}")
    return value


Number = Annotated[StrictInt | StrictFloat, BeforeValidator(_number)]
Value = Annotated[StrictInt | StrictFloat | StrictStr, BeforeValidator(_scalar)]
Count = Annotated[StrictInt, BeforeValidator(python_scalar)]
"""An int (as in the rest of a config, not a boolean, float or string)."""


def _check_names(names) -> None:
    known = factor_names()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown factor {name!r}; known factors: {', '.join(sorted(known))}")


class GridDesign(Frozen):
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


class PointsDesign(Frozen):
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


class _SampledDesign(Frozen):
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
    from .params import GeneratorParams, ModelParams

    return {**_leaf_types(ModelParams, "model."), **_leaf_types(GeneratorParams, "generator.")}


FACTOR_TYPES: dict[str, type] = {}


def factor_names() -> set[str]:
    """Every dotted name a sweep may vary (model and generator fields)."""
    if not FACTOR_TYPES:
        FACTOR_TYPES.update(_factor_types())
    return set(FACTOR_TYPES)
