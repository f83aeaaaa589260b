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
from typing import Any

import numpy as np

from .config import ConfigError, config_from_dict
from .config.sweep import (  # noqa: F401  (re-exported: the sweep schema was defined here)
    FACTOR_TYPES,
    SWEEP_DESIGNS,
    GridDesign,
    LHSDesign,
    MorrisDesign,
    PointsDesign,
    SobolDesign,
    SweepConfig,
    factor_names,
)


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


def checked_design_size(sweep) -> tuple[int, str]:
    """:func:`design_size`, refusing a design of more than :data:`MAX_POINTS` points.

    Raises
    ------
    ConfigError
        naming the field that decides the size.
    """
    size, where = design_size(sweep)
    if size > MAX_POINTS:
        raise ConfigError(f"{where}: the {sweep.design} design makes {size:,} points; at most "
                          f"{MAX_POINTS:,}")
    return size, where


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
    sweep = config.sweep
    checked_design_size(sweep)  # refused before drawing: an absurd design would exhaust memory
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
