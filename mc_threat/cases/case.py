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

import csv
import hashlib
import io
import json
import math
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import Field, StrictInt, ValidationError

from ..config import (
    ConfigError,
    FiniteFloat,
    Frozen,
    ModelParams,
    coerce_params,
    config_from_dict,
)
from ..kernels.cases import (  # noqa: F401  (evaluate_points: re-exported)
    case_threat_matrix,
    evaluate_draws,
    evaluate_points,
    match_sides,
    score_rows,
)
from ..kernels.threat import P_WA, P_WD, P_WI, P_WO
from ..model.batch import params_vector
from ..store import check_new_store, coord_values

__all__ = [
    "EARTH_RADIUS_KM",
    "Calibration",
    "Case",
    "CaseEvaluation",
    "best_matching",
    "calibrate_case",
    "evaluate_case",
    "find_case",
    "great_circle_km",
    "load_case",
    "majority_null",
    "make_case",
    "open_calibration",
    "permutation_null",
    "perturbed_attributes",
    "search_null",
    "shipped_cases",
    "summarize_calibration",
]

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


# =============================================================================================
# Geometry
# =============================================================================================


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


# =============================================================================================
# The case file
# =============================================================================================


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


def _validate_file(data: Any, source: str) -> CaseFile:
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


def _check_number(text: str, what: str, problems: list, lo=None, hi=None, lo_open=False,
                  hi_open=False) -> float | None:
    t = (text or "").strip()
    if t == "":
        problems.append(f"{what}: missing value")
        return None
    try:
        v = float(t)
    except ValueError:
        problems.append(f"{what}: must be a number, got {t!r}")
        return None
    if not math.isfinite(v):
        problems.append(f"{what}: must be finite, got {t!r}")
        return None
    if lo is not None and (v <= lo if lo_open else v < lo):
        problems.append(f"{what}: must be {'>' if lo_open else '>='} {lo:g}, got {t}")
        return None
    if hi is not None and (v >= hi if hi_open else v > hi):
        problems.append(f"{what}: must be {'<' if hi_open else '<='} {hi:g}, got {t}")
        return None
    return v


def _read_csv(path: Path, source: str) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not a UTF-8 text file (bad byte at offset "
                          f"{exc.start})") from None
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ConfigError(f"{source}: invalid CSV: {exc}") from None
    lines = [(k + 1, r) for k, r in enumerate(rows) if any(c.strip() for c in r)]
    if not lines:
        raise ConfigError(f"{source}: empty table (expected a header row and one row per "
                          "state)")
    header = [h.strip() for h in lines[0][1]]
    dup = [h for h in header if header.count(h) > 1]
    if dup:
        raise ConfigError(f"{source}: column {dup[0]!r} appears twice in the header")
    out = []
    for line, r in lines[1:]:
        if len(r) != len(header):
            raise ConfigError(f"{source}: line {line}: {len(r)} cells, the header has "
                              f"{len(header)}")
        out.append((line, dict(zip(header, r, strict=True))))
    return header, out


def _read_states(path: Path, source: str, spec: CaseFile, side_columns: list[str]):
    header, rows = _read_csv(path, source)
    need = ["abb", "name", "lat", "lon", "offense"]
    if spec.power == "components":
        need += list(POWER_COMPONENTS)
    else:
        need.append(spec.power)
    if spec.intent is None:
        need.append("intent")
    need += side_columns
    missing = [c for c in need if c not in header]
    problems = []
    if missing:
        problems.append(f"{source}: missing column(s) {', '.join(missing)}"
                        + (" (intent: give an 'intent' column or an intent matrix file)"
                           if "intent" in missing else ""))
    if spec.intent is not None and "intent" in header:
        problems.append(f"{source}: has an 'intent' column but the case also gives an intent "
                        f"matrix ({spec.intent}); give one or the other")
    if problems:
        raise ConfigError(problems)
    if len(rows) < 2:
        raise ConfigError(f"{source}: a case needs at least 2 states, got {len(rows)}")
    abbs, names, ccodes = [], [], []
    vals = {k: [] for k in ("lat", "lon", "offense", "intent", "power")}
    comps = {c: [] for c in POWER_COMPONENTS}
    sides = {c: [] for c in side_columns}
    allowed = set(spec.observed.sides)
    for line, r in rows:
        abb = r["abb"].strip()
        where = f"{source}: line {line}" + (f" ({abb})" if abb else "")
        if not abb:
            problems.append(f"{where}: abb: missing value (each state needs a unique key)")
        elif abb in abbs:
            problems.append(f"{where}: abb: duplicate state {abb!r}")
        abbs.append(abb)
        name = r["name"].strip()
        if not name:
            problems.append(f"{where}: name: missing value")
        names.append(name)
        cc = (r.get("ccode") or "").strip()
        if cc:
            try:
                ccodes.append(int(cc))
            except ValueError:
                problems.append(f"{where}: ccode: must be an integer COW code, got {cc!r}")
                ccodes.append(None)
        else:
            ccodes.append(None)
        vals["lat"].append(_check_number(r["lat"], f"{where}: lat", problems, -90, 90))
        vals["lon"].append(_check_number(r["lon"], f"{where}: lon", problems, -180, 180))
        vals["offense"].append(_check_number(r["offense"], f"{where}: offense", problems, 0, 1))
        if spec.intent is None:
            vals["intent"].append(_check_number(r["intent"], f"{where}: intent", problems,
                                                0, 1))
        if spec.power == "components":
            for c in POWER_COMPONENTS:
                comps[c].append(_check_number(r[c], f"{where}: {c}", problems, 0))
        else:
            vals["power"].append(_check_number(r[spec.power], f"{where}: {spec.power}",
                                               problems, 0, lo_open=True))
        for c in side_columns:
            s = r[c].strip()
            if s and s not in allowed:
                problems.append(f"{where}: {c}: {s!r} is not one of the observed sides "
                                f"({', '.join(spec.observed.sides)}); leave it empty for a "
                                "state that is not scored")
            sides[c].append(s or None)
    if problems:
        raise ConfigError(problems)
    if spec.power == "components":
        tot = {c: sum(comps[c]) for c in POWER_COMPONENTS}
        for c in POWER_COMPONENTS:
            if tot[c] <= 0:
                problems.append(f"{source}: {c}: the column sums to 0, so shares are undefined")
        if problems:
            raise ConfigError(problems)
        power = [sum(comps[c][k] / tot[c] for c in POWER_COMPONENTS) / 6.0
                 for k in range(len(rows))]
        for k, p in enumerate(power):
            if p <= 0:
                problems.append(f"{source}: line {rows[k][0]} ({abbs[k]}): power from "
                                "components is 0 (every component is 0)")
        if problems:
            raise ConfigError(problems)
        vals["power"] = power
    return abbs, names, ccodes, vals, sides


def _read_intent_matrix(path: Path, source: str, abbs: list[str]) -> np.ndarray:
    header, rows = _read_csv(path, source)
    problems = []
    cols = header[1:]
    index = {a: k for k, a in enumerate(abbs)}
    unknown = [c for c in cols if c not in index]
    if unknown:
        problems.append(f"{source}: column(s) {', '.join(map(repr, unknown))} are not states "
                        "of the case")
    absent = [a for a in abbs if a not in cols]
    if absent:
        problems.append(f"{source}: no column for state(s) {', '.join(absent)}")
    if problems:
        raise ConfigError(problems)
    n = len(abbs)
    h = np.zeros((n, n))
    seen = set()
    for line, r in rows:
        who = r[header[0]].strip()
        where = f"{source}: line {line}"
        if who not in index:
            problems.append(f"{where}: {who!r} (first column) is not a state of the case")
            continue
        if who in seen:
            problems.append(f"{where}: perceiver {who!r} appears twice")
            continue
        seen.add(who)
        i = index[who]
        for c in cols:
            j = index[c]
            if i == j:
                continue  # the diagonal is never used (MODEL.md section 1); it may hold anything
            v = _check_number(r[c], f"{where} ({who}): {c}", problems, 0, 1)
            if v is not None:
                h[i, j] = v
    missing = [a for a in abbs if a not in seen]
    if missing:
        problems.append(f"{source}: no row for perceiver(s) {', '.join(missing)}")
    if problems:
        raise ConfigError(problems)
    return h


def _model_params(model: Mapping, source: str) -> ModelParams:
    problems = []
    if "reach" not in model:
        problems.append(f"{source}: model.reach: required in a case (kilometres, e.g. 1000.0)")
    if "n_states" in model:
        problems.append(f"{source}: model.n_states: not used by a case (its table fixes n)")
    if problems:
        raise ConfigError(problems)
    try:
        return coerce_params(dict(model))
    except ConfigError as exc:
        raise ConfigError([f"{source}: {line}" for line in exc.errors]) from None


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
    spec_ = _validate_file(data, source)
    model = _model_params(spec_.model, source)
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
    abbs, names, ccodes, vals, sides = _read_states(
        states_path, os.fspath(states_path), spec_, columns)
    if spec_.intent is not None:
        ipath = base / spec_.intent
        intent = _read_intent_matrix(ipath, os.fspath(ipath), abbs)
    else:
        intent = np.array(vals["intent"], dtype=np.float64)
    calib = spec_.calibrate
    if calib.sweep is not None:
        _check_sweep(model, calib.sweep, f"{source}: calibrate.")
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


# =============================================================================================
# Evaluating a case
# =============================================================================================


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


# =============================================================================================
# Calibration
# =============================================================================================


def _check_sweep(model: ModelParams, sweep: Any, prefix: str = "calibrate.") -> None:
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


def resolve_design(model: ModelParams, sweep: Mapping, prefix: str = "calibrate."):
    """The points of a calibration design, as (names, values (P, F) object, configs, kind,
    problem, dropped). Grid points whose four weights are all 0 are dropped (they have no
    threat), and counted in ``dropped``."""
    import itertools

    from ..design import design_points

    _check_sweep(model, sweep, prefix)
    factors = sweep.get("factors")
    base_model = model.model_dump(mode="python")
    kind = sweep.get("design")
    sweep_d = dict(sweep)
    dropped = 0
    if kind == "grid" and isinstance(factors, Mapping) and all(
            isinstance(v, list) and v for v in factors.values()):
        names = list(factors)
        points = []
        for row in itertools.product(*(factors[k] for k in names)):
            pt = dict(zip(names, row, strict=True))
            w = [pt.get(f"model.weights.{c}", base_model["weights"][c]) for c in CRITERIA]
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in w) and \
                    sum(w) == 0:
                dropped += 1
                continue
            points.append(pt)
        if not points:
            raise ConfigError(f"{prefix}sweep: every grid point has all four weights 0")
        sweep_d = {"design": "points", "points": points}
    try:
        cfg = config_from_dict({"model": base_model, "sweep": sweep_d})
        design = design_points(cfg)
    except ConfigError as exc:
        raise ConfigError([f"{prefix}{line}" for line in exc.errors]) from None
    return design.factors, design.values, design.configs, kind, design.problem, dropped


def perturbed_attributes(case: Case, draws: int, seed: int, uncertainty=None):
    """``draws`` perturbed copies of the case's power, offense and intent.

    Each attribute has its own stream (``SeedSequence(seed).spawn(3)``, PCG64), filled draw
    by draw, so the first ``m`` draws are the same for any ``draws >= m``.
    Power ``p U(1 - b, 1 + b)``; offense and intent ``U(max(0, x - b), min(1, x + b))`` per
    value (a dyadic intent per ordered pair; the diagonal stays 0).
    Returns ``power (D, n), offense (D, n), intent (D, 1, n) or (D, n, n)``.
    """
    u = uncertainty or case.uncertainty
    ss = np.random.SeedSequence(seed)
    g_pow, g_off, g_int = (np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(3))
    n = case.n
    base_h = case.intent_matrix()
    power = np.empty((draws, n))
    offense = np.empty((draws, n))
    intent = np.empty((draws, *base_h.shape))
    lo_o = np.maximum(0.0, case.offense - u.offense)
    hi_o = np.minimum(1.0, case.offense + u.offense)
    lo_h = np.maximum(0.0, base_h - u.intent)
    hi_h = np.minimum(1.0, base_h + u.intent)
    for d in range(draws):
        power[d] = case.power * (1.0 + u.power * (2.0 * g_pow.random(n) - 1.0))
        offense[d] = lo_o + (hi_o - lo_o) * g_off.random(n)
        intent[d] = lo_h + (hi_h - lo_h) * g_int.random(base_h.shape)
        if case.dyadic:
            np.fill_diagonal(intent[d], 0.0)
    return power, offense, intent


@dataclass
class Calibration:
    """The results of a calibration: the dataset (also in the store) and its summary."""

    dataset: Any
    summary: dict
    path: Path | None


def _stats(x: np.ndarray) -> np.ndarray:
    """(P, D) -> (P, 6): mean, std (ddof 1, 0 for one draw), sem, count, min, max."""
    P, D = x.shape
    out = np.full((P, len(STATS)), np.nan)
    if D == 0:
        out[:, 3] = 0
        return out
    mean = x.mean(axis=1)
    std = x.std(axis=1, ddof=1) if D > 1 else np.zeros(P)
    out[:, 0] = mean
    out[:, 1] = std
    out[:, 2] = std / math.sqrt(D)
    out[:, 3] = D
    out[:, 4] = x.min(axis=1)
    out[:, 5] = x.max(axis=1)
    return out


def calibrate_case(case: Case, out=None, *, sweep: Mapping | None = None,
                   draws: int | None = None, seed: int | None = None,
                   overwrite: bool = False, progress: bool = False,
                   chunk: int = 64, threads: int | None = None,
                   null_permutations: int | None = None) -> Calibration:
    """Sweep the model parameters over a case, with attribute uncertainty.

    Parameters
    ----------
    case : Case
    out : path of the zarr store to write (None: no store)
    sweep : a sweep design over ``model.*`` factors (default ``case.calibrate.sweep``, else
        :data:`DEFAULT_SWEEP`)
    draws, seed : perturbed attribute draws per point and their seed (defaults from the case)
    overwrite : replace an existing store
    progress : show a progress bar
    chunk, threads : points per task and threads (default: the CPUs this process may use);
        results do not depend on either
    null_permutations : permuted observations of the search's permutation test (default
        :data:`SEARCH_NULL_PERMUTATIONS`; 0 skips it)

    Every point sees the same perturbed draws (common random numbers). See docs/cases.md for
    the stored variables and how the best point and its robustness are defined.
    """

    cal = case.calibrate
    draws = cal.draws if draws is None else draws
    seed = cal.seed if seed is None else seed
    if draws < 0:
        raise ConfigError(f"draws: must be >= 0, got {draws}")
    if out is not None:
        out = Path(out)
        _check_out(out, overwrite)  # before the work: refuse early
    sweep = sweep if sweep is not None else (cal.sweep if cal.sweep is not None
                                             else DEFAULT_SWEEP)
    names, values, configs, kind, problem, dropped = resolve_design(case.model, sweep)
    params = np.stack([params_vector(c.model) for c in configs])
    P, n, k = params.shape[0], case.n, len(case.sides)
    started = time.time()
    from ..store import now, versions

    t_start = now()
    side = case.side_codes
    intent0 = np.ascontiguousarray(case.intent_matrix())
    dist = case.distance
    nominal = {name: np.empty((P, n), dt) for name, dt in (
        ("target", np.int32), ("theta", np.float64), ("choice", np.int8), ("bloc", np.int32),
        ("pred", np.int64), ("bop_target", np.int32), ("bop_theta", np.float64),
        ("bop_choice", np.int8), ("bop_bloc", np.int32), ("bop_pred", np.int64))}
    correct = np.empty(P, np.int64)
    bop_correct = np.empty(P, np.int64)
    evaluate_points(params, case.power, case.offense, intent0, dist, side, k,
                     nominal["target"], nominal["theta"], nominal["choice"], nominal["bloc"],
                     nominal["pred"], correct, nominal["bop_target"], nominal["bop_theta"],
                     nominal["bop_choice"], nominal["bop_bloc"], nominal["bop_pred"],
                     bop_correct)
    pw, of, it = perturbed_attributes(case, draws, seed)
    c_draws = np.zeros((P, draws), np.int64)
    b_draws = np.zeros((P, draws), np.int64)
    side_count = np.zeros((P, n, k + 1), np.int64)
    bop_side_count = np.zeros((P, n, k + 1), np.int64)
    choice_count = np.zeros((P, n, 3), np.int64)
    if draws:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=P, unit="point", desc=f"calibrating {case.name}")
        from concurrent.futures import ThreadPoolExecutor

        def work(lo):
            hi = min(P, lo + chunk)
            evaluate_draws(params[lo:hi], pw, of, it, dist, side, k, c_draws[lo:hi],
                            b_draws[lo:hi], side_count[lo:hi], bop_side_count[lo:hi],
                            choice_count[lo:hi])
            return hi - lo

        # The kernel releases the GIL: threads over disjoint blocks of points.
        with ThreadPoolExecutor(max_workers=threads or _default_threads()) as pool:
            for done in pool.map(work, range(0, P, chunk)):
                if bar is not None:
                    bar.update(done)
        if bar is not None:
            bar.close()
    ds = _dataset(case, names, values, configs, params, nominal, correct, bop_correct,
                  c_draws, b_draws, side_count, bop_side_count, choice_count, draws, seed,
                  kind, problem, dropped)
    summary = summarize_calibration(ds, case)
    b = summary["best"]["point"]
    summary["null_models"] = {
        "majority": majority_null(case),
        "permutation_at_best": permutation_null(case, nominal["bloc"][b],
                                                int(correct[b]), seed=seed),
        "search": search_null(case, nominal["bloc"], int(correct[b]),
                              SEARCH_NULL_PERMUTATIONS if null_permutations is None
                              else null_permutations, seed=seed),
    }
    seconds = time.time() - started
    summary["seconds"] = seconds
    ds.attrs.update({"started": t_start, "finished": now(), "seconds": seconds,
                     "versions": json.dumps(versions()),
                     "summary": json.dumps(summary, default=_json_default)})
    if out is not None:
        _write_store(ds, out, overwrite)
        summary["store"] = os.fspath(out)
    return Calibration(ds, summary, out)


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _dataset(case, names, values, configs, params, nominal, correct, bop_correct, c_draws,
             b_draws, side_count, bop_side_count, choice_count, draws, seed, kind, problem,
             dropped):
    import xarray as xr

    P, n, k = params.shape[0], case.n, len(case.sides)
    m = case.n_scored
    side_labels = np.array([*case.sides, NO_SIDE], dtype=object)
    coords = {
        "point": np.arange(P),
        "state": np.array(case.abb, dtype=object),
        "side": side_labels,
        "stat": np.array(STATS, dtype=object),
        "choice": np.array(CHOICE_NAMES, dtype=object),
        "criterion": np.array(CRITERIA, dtype=object),
        "draw": np.arange(draws),
        "state_name": ("state", np.array(case.names, dtype=object)),
        "ccode": ("state", np.array([-1 if c is None else c for c in case.ccode])),
        "observed": ("state", np.array([s or "" for s in case.observed], dtype=object)),
        "power_value": ("state", case.power),
        "offense_value": ("state", case.offense),
    }
    for j, name in enumerate(names):
        coords[name] = ("point", coord_values(values[:, j]))
    w = params[:, [P_WA, P_WD, P_WO, P_WI]]
    shares = w / w.sum(axis=1, keepdims=True)
    denom = max(draws, 1)

    def probs(counts, nominal_pred):
        if draws:
            return counts / denom
        one = np.zeros((P, n, k + 1))
        idx = np.where(nominal_pred < 0, k, nominal_pred)
        np.put_along_axis(one, idx[:, :, None], 1.0, axis=2)
        return one

    choice_p = choice_count / denom if draws else np.eye(3)[nominal["choice"]]

    def var(dims, data, long_name, units):
        return xr.Variable(dims, data, attrs={"long_name": long_name, "units": units})

    data_vars = {
        "weight_share": var(("point", "criterion"), shares, "criterion weight over W = sum "
                            "of the weights", "1"),
        "accuracy": var("point", correct / m, "share of scored states on the correct side "
                        "(nominal attributes, balance of threat)", "fraction of scored states"),
        "correct": var("point", correct, "scored states on the correct side (nominal, balance "
                       "of threat)", "states"),
        "bop_accuracy": var("point", bop_correct / m, "accuracy of balance of power (nominal "
                            "attributes, same bandwagon_ratio/viability/neutral_below)",
                            "fraction of scored states"),
        "bop_correct": var("point", bop_correct, "scored states on the correct side (nominal, "
                           "balance of power)", "states"),
        "accuracy_mc": var(("point", "stat"), _stats(c_draws / m), "accuracy over the "
                           "perturbed attribute draws (balance of threat)",
                           "fraction of scored states"),
        "bop_accuracy_mc": var(("point", "stat"), _stats(b_draws / m), "accuracy over the "
                               "perturbed attribute draws (balance of power)",
                               "fraction of scored states"),
        "correct_draws": var(("point", "draw"), c_draws.astype(np.int16), "correct states in "
                             "each perturbed draw (balance of threat)", "states"),
        "bop_correct_draws": var(("point", "draw"), b_draws.astype(np.int16), "correct states "
                                 "in each perturbed draw (balance of power)", "states"),
        "side_probability": var(("point", "state", "side"), probs(side_count, nominal["pred"]),
                                "share of draws in which the state ends on each side (balance "
                                "of threat; 'none': its bloc matched no side)", "probability"),
        "bop_side_probability": var(("point", "state", "side"),
                                    probs(bop_side_count, nominal["bop_pred"]),
                                    "the same under balance of power", "probability"),
        "choice_probability": var(("point", "state", "choice"), choice_p, "share of draws "
                                  "with each final choice (balance of threat)", "probability"),
        "target": var(("point", "state"), nominal["target"], "principal threat (state index, "
                      "nominal attributes)", "index"),
        "final_choice": var(("point", "state"), nominal["choice"], "final choice, 0 balance 1 "
                      "bandwagon 2 neutral (nominal)", "code"),
        "bloc": var(("point", "state"), nominal["bloc"], "bloc label (n + t: coalition "
                    "against t; r: neutral root r), nominal", "label"),
        "predicted_side": var(("point", "state"), nominal["pred"], "index of the matched side "
                              "(-1 none), nominal", "index"),
        "bop_target": var(("point", "state"), nominal["bop_target"], "principal threat under "
                          "balance of power, nominal", "index"),
        "bop_final_choice": var(("point", "state"), nominal["bop_choice"], "final choice under "
                          "balance of power, nominal", "code"),
        "bop_bloc": var(("point", "state"), nominal["bop_bloc"], "bloc under balance of power, "
                        "nominal", "label"),
        "bop_predicted_side": var(("point", "state"), nominal["bop_pred"], "matched side under "
                                  "balance of power (-1 none), nominal", "index"),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    u = case.uncertainty
    ds.attrs.update({
        "title": f"mc-threat case calibration: {case.title}",
        "case": case.name,
        "case_title": case.title,
        "case_year": -1 if case.year is None else case.year,
        "case_yaml": case.text,
        "case_fingerprint": case.fingerprint(),
        "coding": case.coding,
        "n_scored": m,
        "sources": json.dumps(list(case.sources)),
        "draws": draws,
        "seed": seed,
        "uncertainty": json.dumps(u.model_dump()),
        "design": kind or "",
        "factors": list(names),
        "grid_points_dropped": dropped,
        "salib_problem": json.dumps(problem) if problem else "",
        "base_model": json.dumps(params_dict(case.model)),
    })
    return ds


def _write_store(ds, out: Path, overwrite: bool) -> None:
    """Write the calibration store under the shared rule: ``--overwrite`` replaces only an
    mc-threat store or an empty directory (:func:`mc_threat.store.check_new_store`)."""
    from ..store import remove_store

    _check_out(out, overwrite)
    if out.exists() or out.is_symlink():
        remove_store(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(out, mode="w-", zarr_format=3, consolidated=True)


def _check_out(out: Path, overwrite: bool) -> None:
    from ..store import StoreError

    if (out.exists() or out.is_symlink()) and not overwrite:
        raise StoreError(f"{out}: already exists; use --overwrite to replace it")
    check_new_store(out, overwrite=True)  # replaces only an mc-threat store or empty dir


def open_calibration(path):
    """Open a calibration store as an ``xarray.Dataset``."""
    import xarray as xr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_zarr(path, consolidated=None)


def _factor_ranges(ds, mask) -> dict:
    out = {}
    for f in ds.attrs["factors"]:
        v = ds[f].values[mask]
        if v.dtype.kind in "fi":
            out[f] = [float(v.min()), float(v.max())]
        else:
            out[f] = sorted({str(x) for x in v})
    ws = ds["weight_share"].values[mask]
    for j, c in enumerate(CRITERIA):
        out[f"weight_share.{c}"] = [float(ws[:, j].min()), float(ws[:, j].max())]
    return out


def summarize_calibration(ds, case: Case) -> dict:
    """The best point, its robustness and the balance-of-power score (docs/cases.md).

    Best: the highest nominal accuracy; ties go to the higher mean accuracy over the
    perturbed draws, then to the lower point index.
    """
    m = int(ds.attrs["n_scored"])
    draws = int(ds.attrs["draws"])
    corr = ds["correct"].values
    mc = ds["accuracy_mc"].values
    mc_mean = np.nan_to_num(mc[:, 0], nan=-1.0)
    order = np.lexsort((np.arange(corr.size), -mc_mean, -corr))
    b = int(order[0])
    best_c = int(corr[b])
    at_best = corr == best_c
    within_one = corr >= best_c - 1
    bop = ds["bop_correct"].values
    P = corr.size
    w = ds["weight_share"].values[b]
    cfg_model = json.loads(ds.attrs["base_model"])
    prm = dict(cfg_model)
    prm["weights"] = dict(cfg_model["weights"])
    for f in ds.attrs["factors"]:
        v = ds[f].values[b]
        v = v.item() if hasattr(v, "item") else v
        keys = f.split(".")[1:]
        d = prm
        for key in keys[:-1]:
            d = d[key]
        d[keys[-1]] = v
    states = []
    sp = ds["side_probability"].values[b]
    bsp = ds["bop_side_probability"].values[b]
    labels = [str(s) for s in ds["side"].values]
    for i, abb in enumerate(case.abb):
        pred = int(ds["predicted_side"].values[b, i])
        bpred = int(ds["bop_predicted_side"].values[b, i])
        obs = case.observed[i]
        states.append({
            "abb": abb, "observed": obs,
            "predicted": None if pred < 0 else case.sides[pred],
            "bop_predicted": None if bpred < 0 else case.sides[bpred],
            "p_observed": None if obs is None else float(sp[i, case.sides.index(obs)]),
            "side_probability": {labels[s]: float(sp[i, s]) for s in range(len(labels))},
            "bop_side_probability": {labels[s]: float(bsp[i, s]) for s in range(len(labels))},
        })
    cd = ds["correct_draws"].values[b] if draws else np.empty(0)
    mc_b = mc[b]
    summary = {
        "case": case.name,
        "coding": case.coding,
        "points": int(P),
        "draws": draws,
        "seed": int(ds.attrs["seed"]),
        "design": ds.attrs["design"],
        "factors": list(ds.attrs["factors"]),
        "n_scored": m,
        "uncertainty": json.loads(ds.attrs["uncertainty"]),
        "best": {
            "point": b,
            "params": prm,
            "weight_shares": {c: float(w[j]) for j, c in enumerate(CRITERIA)},
            "correct": best_c,
            "accuracy": best_c / m,
            "accuracy_mc": None if not draws else {
                s: float(mc_b[j]) for j, s in enumerate(STATS)},
            "share_draws_at_best": None if not draws else float((cd >= best_c).mean()),
            "states": states,
        },
        "robustness": {
            "points_at_best": int(at_best.sum()),
            "share_at_best": float(at_best.mean()),
            "ranges_at_best": _factor_ranges(ds, at_best),
            "points_within_one": int(within_one.sum()),
            "share_within_one": float(within_one.mean()),
            "ranges_within_one": _factor_ranges(ds, within_one),
        },
        "balance_of_power": {
            "at_best": {"correct": int(bop[b]), "accuracy": int(bop[b]) / m,
                        "accuracy_mc_mean": None if not draws else
                        float(ds["bop_accuracy_mc"].values[b, 0])},
            "best_over_sweep": {"correct": int(bop.max()), "accuracy": int(bop.max()) / m,
                                "point": int(np.argmax(bop))},
            "share_points_threat_better": float((corr > bop).mean()),
            "share_points_power_better": float((corr < bop).mean()),
        },
    }
    return summary


# =============================================================================================
# Null models beside every case accuracy
# =============================================================================================

NULL_PERMUTATIONS = 1000
"""Random bloc assignments behind the permutation null of ``mc-threat case``."""

SEARCH_NULL_PERMUTATIONS = 200
"""Permuted observations behind the permutation test of a calibration search."""


def majority_null(case: Case) -> dict:
    """Every state in one bloc: matched to the largest observed side, so the correct count is
    that side's number of scored states (``europe_1914``: "everyone is in the Entente")."""
    side = case.side_codes
    k = len(case.sides)
    counts_ = [int((side == s).sum()) for s in range(k)]
    best = int(np.argmax(counts_))
    return {"side": case.sides[best], "correct": counts_[best],
            "accuracy": counts_[best] / case.n_scored}


def permutation_null(case: Case, bloc, correct: int, permutations: int = NULL_PERMUTATIONS,
                     seed: int = 0) -> dict:
    """The prediction's blocs, sizes kept, assigned to the states at random (``R`` seeded
    permutations of the bloc vector), each scored by the best matching: their mean accuracy
    and ``p = (1 + #{r : correct_r >= correct}) / (1 + R)``."""
    side = np.ascontiguousarray(case.side_codes, np.int32)
    bloc = np.ascontiguousarray(bloc, np.int32)
    k = len(case.sides)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    perms = rng.permuted(np.tile(np.arange(case.n), (permutations, 1)), axis=1)
    got = np.empty(permutations, np.int64)
    score_rows(np.ascontiguousarray(bloc[perms]), side, k, got)
    m = case.n_scored
    return {"permutations": permutations, "seed": seed,
            "mean_accuracy": float(got.mean() / m) if permutations else None,
            "p_value": (1 + int((got >= correct).sum())) / (1 + permutations)}


def search_null(case: Case, blocs, best_correct: int,
                permutations: int = SEARCH_NULL_PERMUTATIONS, seed: int = 0) -> dict:
    """The permutation test of a search: the observed sides are permuted among the scored
    states (``R`` seeded permutations), every point's nominal blocs (``blocs`` (P, n)) are
    scored against them, and the best correct count over the points is kept. Returns the
    null distribution's median, 95th percentile and maximum accuracy and
    ``p = (1 + #{r : best_r >= best}) / (1 + R)``."""
    side = case.side_codes
    scored = np.nonzero(side >= 0)[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 17]))
    blocs = np.ascontiguousarray(blocs, np.int32)
    k = len(case.sides)
    best = np.empty(permutations, np.int64)
    got = np.empty(blocs.shape[0], np.int64)
    for r in range(permutations):
        s = side.copy()
        s[scored] = side[rng.permutation(scored)]
        score_rows(blocs, np.ascontiguousarray(s, np.int32), k, got)
        best[r] = got.max()
    m = case.n_scored
    if permutations == 0:
        return {"permutations": 0}
    return {"permutations": permutations, "seed": seed,
            "best_accuracy_median": float(np.median(best) / m),
            "best_accuracy_q95": float(np.quantile(best, 0.95) / m),
            "best_accuracy_max": float(best.max() / m),
            "p_value": (1 + int((best >= best_correct).sum())) / (1 + permutations)}


