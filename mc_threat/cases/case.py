"""Historical cases: real state systems, scored against the alignment that history produced.

A case is a YAML file (``configs/cases/NAME.yaml``) with CSV tables beside it; the format is
documented in ``docs/cases.md``. This module reads and validates cases, evaluates them under
any model parameters (balance of threat and the balance-of-power reference side by side),
scores the predicted blocs against the observed sides, and calibrates the parameters with
attribute uncertainty, writing the results to a zarr store.

Distances
---------
Positions in a case are capitals (latitude, longitude); ``d_ij`` is the great-circle
(haversine) distance in kilometres on a sphere of radius :data:`EARTH_RADIUS_KM`, and
``reach`` is in kilometres. Great-circle distances cannot be embedded exactly in the plane,
so a case does not go through :func:`mc_threat.evaluate` (which takes planar positions).
Instead this module composes the same numba building blocks the engine uses -
``power_criteria``, ``principal_threats``, ``power_threats``, ``choose`` and ``blocs`` from
``mc_threat.kernels`` - with a proximity matrix ``D_ij = exp(-d_ij / reach)`` computed from the
distance matrix. Everything after the proximity matrix is the engine's own code, so the
threat formulas, tie rules and alignment steps are exactly MODEL.md's.

Scoring
-------
The observed alignment gives each scored state a side label. A prediction is a set of blocs
(MODEL.md section 4). The accuracy is the share of scored states on the correct side under
the best one-to-one matching of blocs to sides (each side receives at most one bloc, each
bloc at most one side; states of an unmatched bloc are on no side, hence wrong). Among equally
good matchings the first is taken with blocs in increasing label order and sides in their
listed order, and a bloc is only matched to a side it has a scored member of.

Null models
-----------
Every accuracy comes with its nulls (:func:`majority_null`: one bloc for all, matched to the
largest side; :func:`permutation_null`: the predicted blocs, sizes kept, assigned to the
states at random) and, after a calibration, the permutation test of the search itself
(:func:`search_null`: the best accuracy over the sweep against permuted observed sides). See
docs/history.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..config import (
    ConfigError,
    ModelParams,
    coerce_params,
)
from .spec import (
    MAX_SIDES,
    NO_SIDE,
    SHIPPED_CASES,
    CalibrateSpec,
    UncertaintySpec,
    check_calibration_sweep,
    great_circle_km,
    validate_case_file,
)
from .tables import case_model_params, read_intent_matrix, read_states


@dataclass(frozen=True, eq=False)
class Case:
    """A validated historical (or hand-made) case.

    Attributes
    ----------
    name, title, year, description
    abb : state keys (abbreviations), in table order
    names : state names
    ccode : COW codes (None where the table gives none)
    power, offense : (n,) float64
    lat, lon : (n,) capital coordinates in decimal degrees
    intent : (n,) monadic or (n, n) dyadic (diagonal 0)
    observed : side label of each state (None: not scored), in the selected coding
    sides : the observed side labels, in display order
    coding : name of the selected coding (the state-table column)
    codings : every coding of the case, column -> description
    model : the case's default model parameters (``reach`` in km)
    uncertainty, calibrate : calibration settings
    sources : citations
    path : the YAML file (None for a case made in Python)
    text : the YAML text (stored with calibration results)
    """

    name: str
    title: str
    abb: tuple[str, ...]
    names: tuple[str, ...]
    ccode: tuple[int | None, ...]
    power: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    offense: np.ndarray
    intent: np.ndarray
    observed: tuple[str | None, ...]
    sides: tuple[str, ...]
    model: ModelParams
    year: int | None = None
    description: str = ""
    coding: str = "side"
    codings: dict = field(default_factory=dict)
    uncertainty: UncertaintySpec = field(default_factory=UncertaintySpec)
    calibrate: CalibrateSpec = field(default_factory=CalibrateSpec)
    sources: tuple[str, ...] = ()
    power_source: str = "power"
    path: Path | None = None
    text: str = ""
    tables: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.abb)

    @property
    def dyadic(self) -> bool:
        return self.intent.ndim == 2

    @property
    def distance(self) -> np.ndarray:
        """(n, n) great-circle distances between capitals, km."""
        cached = self.__dict__.get("_distance")
        if cached is None:
            cached = great_circle_km(self.lat, self.lon)
            object.__setattr__(self, "_distance", cached)
        return cached

    @property
    def side_codes(self) -> np.ndarray:
        """(n,) int32: index of each state's observed side in ``sides``, -1 if not scored."""
        return np.array([-1 if s is None else self.sides.index(s) for s in self.observed],
                        np.int32)

    @property
    def n_scored(self) -> int:
        return sum(s is not None for s in self.observed)

    def intent_matrix(self) -> np.ndarray:
        """Intent in the kernels' layout: (1, n) monadic or (n, n) dyadic."""
        return self.intent if self.dyadic else self.intent[None, :]

    def with_coding(self, column: str) -> Case:
        """The same case scored against another of its codings (``observed.codings``)."""
        if column == self.coding:
            return self
        if column not in self.tables.get("codings", {}):
            known = ", ".join([self.tables.get("default_coding", self.coding),
                               *self.codings]) or self.coding
            raise ConfigError(f"observed coding {column!r}: not a coding of case {self.name} "
                              f"(codings: {known})")
        from dataclasses import replace

        return replace(self, observed=self.tables["codings"][column], coding=column)

    def fingerprint(self) -> str:
        """SHA-256 of the case's numbers and labels (what an evaluation depends on)."""
        h = hashlib.sha256()
        for arr in (self.power, self.lat, self.lon, self.offense, self.intent):
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        h.update(json.dumps([self.abb, self.observed, self.sides]).encode())
        return h.hexdigest()


def shipped_cases() -> list[str]:
    """Names of the cases in ``configs/cases/`` of the working directory and of the
    installed package."""
    names = set()
    for base in (Path.cwd() / "configs" / "cases", SHIPPED_CASES):
        if base.is_dir():
            names.update(p.stem for p in base.glob("*.yaml"))
    return sorted(names)


def find_case(spec: str | os.PathLike[str]) -> Path:
    """The YAML of a case given by path or by name (``europe_1936``).

    A name is looked up in ``configs/cases/`` of the working directory, then among the
    cases installed with the package (:data:`SHIPPED_CASES`).
    """
    p = Path(spec)
    if p.suffix in (".yaml", ".yml") or p.exists() or len(p.parts) > 1:
        return p
    for base in (Path.cwd() / "configs" / "cases", SHIPPED_CASES):
        cand = base / f"{spec}.yaml"
        if cand.is_file():
            return cand
    raise ConfigError(f"{spec}: no such case (a case is a YAML path or one of: "
                      f"{', '.join(shipped_cases()) or 'no shipped cases found'})")


def load_case(spec: str | os.PathLike[str], coding: str | None = None) -> Case:
    """Read and validate a case (a path or a shipped case's name).

    Parameters
    ----------
    spec : path of the YAML, or the name of a case in ``configs/cases/``
    coding : score against this coding of the observed alignment (default ``observed.column``)

    Raises
    ------
    ConfigError
        One ``file: path: message`` line per problem.
    """
    path = find_case(spec)
    source = os.fspath(path)
    if path.is_dir():
        raise ConfigError(f"{source}: is a directory, not a case file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{source}: case file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not a UTF-8 text file (bad byte at offset "
                          f"{exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    spec_ = validate_case_file(data, source)
    model = case_model_params(spec_.model, source)
    columns = [spec_.observed.column, *spec_.observed.codings]
    if len(set(columns)) != len(columns):
        raise ConfigError(f"{source}: observed.codings: repeats the main column "
                          f"{spec_.observed.column!r}")
    if len(set(spec_.observed.sides)) != len(spec_.observed.sides):
        raise ConfigError(f"{source}: observed.sides: side labels must be unique")
    if NO_SIDE in spec_.observed.sides:
        raise ConfigError(f"{source}: observed.sides: {NO_SIDE!r} is reserved (states on no "
                          "side are left empty in the table)")
    base = path.parent
    states_path = base / spec_.states
    abbs, names, ccodes, vals, sides = read_states(
        states_path, os.fspath(states_path), spec_, columns)
    if spec_.intent is not None:
        ipath = base / spec_.intent
        intent = read_intent_matrix(ipath, os.fspath(ipath), abbs)
    else:
        intent = np.array(vals["intent"], dtype=np.float64)
    calib = spec_.calibrate
    if calib.sweep is not None:
        check_calibration_sweep(model, calib.sweep, f"{source}: calibrate.")
    sel = coding or spec_.observed.column
    if sel not in columns:
        raise ConfigError(f"observed coding {sel!r}: not a coding of case {path.stem} "
                          f"(codings: {', '.join(columns)})")
    codings = {spec_.observed.column: spec_.observed.coding, **spec_.observed.codings}
    case = Case(
        name=spec_.name or path.stem,
        title=spec_.title,
        year=spec_.year,
        description=spec_.description.strip(),
        abb=tuple(abbs),
        names=tuple(names),
        ccode=tuple(ccodes),
        power=np.array(vals["power"], dtype=np.float64),
        lat=np.array(vals["lat"], dtype=np.float64),
        lon=np.array(vals["lon"], dtype=np.float64),
        offense=np.array(vals["offense"], dtype=np.float64),
        intent=intent,
        observed=tuple(sides[sel]),
        sides=tuple(spec_.observed.sides),
        model=model,
        coding=sel,
        codings=codings,
        uncertainty=spec_.uncertainty,
        calibrate=calib,
        sources=tuple(spec_.sources),
        power_source=spec_.power,
        path=path,
        text=text,
        tables={"codings": {c: tuple(sides[c]) for c in columns},
                "default_coding": spec_.observed.column, "build": spec_.build},
    )
    if case.n_scored == 0:
        raise ConfigError(f"{source}: coding {sel!r} scores no state (every side is empty)")
    return case


def make_case(abb, power, lat, lon, offense, intent, observed, sides=None, *, model=None,
              names=None, name: str = "case", title: str = "", sources=()) -> Case:
    """A case made in Python (validated like a case file).

    ``observed`` holds a side label per state (None: not scored); ``sides`` gives their order
    (default: order of first appearance); ``model`` is a ModelParams or mapping with ``reach``
    in km; ``intent`` is (n,) or (n, n).
    """
    problems = []
    abb = tuple(str(a) for a in abb)
    n = len(abb)
    if n < 2:
        problems.append(f"abb: a case needs at least 2 states, got {n}")
    if len(set(abb)) != n:
        problems.append("abb: state keys must be unique")
    arrays = {}
    for key, val, lo, hi in (("power", power, 0.0, None), ("lat", lat, -90, 90),
                             ("lon", lon, -180, 180), ("offense", offense, 0, 1)):
        a = np.asarray(val, dtype=np.float64)
        if a.shape != (n,):
            problems.append(f"{key}: must have shape ({n},), got {a.shape}")
            continue
        if not np.isfinite(a).all():
            problems.append(f"{key}: must be finite")
        elif key == "power" and (a <= 0).any():
            problems.append("power: must be > 0")
        elif (lo is not None and (a < lo).any()) or (hi is not None and (a > hi).any()):
            problems.append(f"{key}: must be in [{lo}, {hi}]")
        arrays[key] = a
    h = np.array(intent, dtype=np.float64)
    if h.shape not in ((n,), (n, n)):
        problems.append(f"intent: must have shape ({n},) or ({n}, {n}), got {h.shape}")
    else:
        if h.ndim == 2:
            np.fill_diagonal(h, 0.0)
        if not np.isfinite(h).all() or (h < 0).any() or (h > 1).any():
            problems.append("intent: must be finite and in [0, 1]")
    obs = tuple(None if s is None else str(s) for s in observed)
    if len(obs) != n:
        problems.append(f"observed: must have {n} entries, got {len(obs)}")
    if sides is None:
        sides = tuple(dict.fromkeys(s for s in obs if s is not None))
    sides = tuple(sides)
    if not 1 <= len(sides) <= MAX_SIDES:
        problems.append(f"sides: between 1 and {MAX_SIDES} side labels, got {len(sides)}")
    bad = [s for s in obs if s is not None and s not in sides]
    if bad:
        problems.append(f"observed: {bad[0]!r} is not one of the sides {sides}")
    if problems:
        raise ConfigError(problems)
    params = coerce_params(model if model is not None else {"reach": 1000.0})
    return Case(name=name, title=title or name, abb=abb,
                names=tuple(names) if names is not None else abb, ccode=(None,) * n,
                power=arrays["power"], lat=arrays["lat"], lon=arrays["lon"],
                offense=arrays["offense"], intent=h, observed=obs, sides=sides, model=params,
                sources=tuple(sources), tables={"codings": {"side": obs}})


# =============================================================================================
# Null models beside every case accuracy
# =============================================================================================

