"""Correlates of War (COW) tables and the case builder.

The tables shipped in ``mc_threat/data/cow/`` are extracts of COW data as converted by Steven
V. Miller's *peacesciencer* R package (see ``mc_threat/data/cow/README.md`` for provenance
and the citations every use requires). :func:`build_tables` turns a *build spec* (a year, a
list of COW state codes with their observed sides, and documented options for offense and
intent) into the two tables of a case (``mc_threat.cases``):

* power: the COW Composite Index of National Capability (CINC) of the year, with its six
  components beside it (so a case may use either);
* position: the coordinates of the capital in force on the reference date (1 July of the year
  unless the spec says otherwise), with documented overrides for known errors of the table;
* offense (per state) and intent (per state, or a dyadic matrix) derived from NMC and the
  Militarized Interstate Dispute (MID) data by one of the methods in :data:`OFFENSE_METHODS`
  and :data:`INTENT_METHODS`.

Every choice is deterministic: the same spec and tables give byte-identical CSV files, which
the tests check for the shipped cases.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, ValidationError

from ..config import FiniteFloat, Frozen

__all__ = [
    "BuildSpec",
    "CowData",
    "INTENT_METHODS",
    "OFFENSE_METHODS",
    "build_tables",
    "default_data_dir",
    "load_cow",
]

NMC_COMPONENTS = ("milex", "milper", "irst", "pec", "tpop", "upop")
"""The six NMC indicators whose world shares average to CINC."""

OFFENSE_METHODS = ("militarization", "military_share", "constant")
INTENT_METHODS = ("mid_hostility", "mid_initiations", "constant")
DECIMALS = 4
"""Derived offense and intent values are rounded to this many decimals when written."""

TABLES = {
    "nmc": "nmc_1890_1960.csv",
    "states": "states.csv",
    "membership": "state_system_membership.csv",
    "capitals": "capitals.csv",
    "mids": "mid_dir_dispute_years_1870_1960.csv",
}


def default_data_dir() -> Path:
    """The COW tables shipped with the package (``mc_threat/data/cow``)."""
    return Path(str(resources.files("mc_threat") / "data" / "cow"))


# ---------------------------------------------------------------------------------------------
# Reading the tables
# ---------------------------------------------------------------------------------------------


def _read(path: Path, needed: tuple[str, ...]) -> list[dict[str, str]]:
    from ..config import ConfigError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: COW table not found") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{path}: missing column(s) {', '.join(missing)}")
    return list(reader)


def _num(text: str) -> float | None:
    return float(text) if text.strip() != "" else None


@dataclass(frozen=True)
class CowData:
    """The COW tables the builder reads, indexed for lookups.

    Attributes
    ----------
    data_dir : where they were read from
    nmc : (ccode, year) -> row of raw strings (``cinc`` and the six components)
    states : ccode -> (stateabb, statenme)
    membership : ccode -> list of (start date, end date) spells
    capitals : ccode -> list of (start, end, capital, lat, lng) rows (lat/lng raw strings)
    mids : directed dispute-dyad-years: (dispnum, ccode1, ccode2, year, sidea1, hostlev1, orig1)
    """

    data_dir: Path
    nmc: dict
    states: dict
    membership: dict
    capitals: dict
    mids: tuple


_CACHE: dict[str, CowData] = {}


def load_cow(data_dir: str | os.PathLike[str] | None = None) -> CowData:
    """Read the COW tables from ``data_dir`` (default: the ones shipped with the package).

    ``data_dir`` may also be the original extracts (``../shared/data/cow``): the builder reads
    only columns both have, by name.
    """
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    key = str(d.resolve())
    if key in _CACHE:
        return _CACHE[key]
    nmc = {}
    for r in _read(d / TABLES["nmc"], ("ccode", "year", "cinc") + NMC_COMPONENTS):
        nmc[(int(r["ccode"]), int(r["year"]))] = {k: r[k] for k in ("cinc",) + NMC_COMPONENTS}
    states = {int(r["ccode"]): (r["stateabb"], r["statenme"])
              for r in _read(d / TABLES["states"], ("ccode", "stateabb", "statenme"))}
    membership: dict[int, list] = {}
    for r in _read(d / TABLES["membership"], ("ccode", "styear", "stmonth", "stday", "endyear",
                                              "endmonth", "endday")):
        st = _dt.date(int(r["styear"]), int(r["stmonth"]), int(r["stday"]))
        en = _dt.date(int(r["endyear"]), int(r["endmonth"]), int(r["endday"]))
        membership.setdefault(int(r["ccode"]), []).append((st, en))
    capitals: dict[int, list] = {}
    for r in _read(d / TABLES["capitals"], ("ccode", "capital", "stdate", "enddate", "lat",
                                            "lng")):
        capitals.setdefault(int(r["ccode"]), []).append(
            (_dt.date.fromisoformat(r["stdate"]), _dt.date.fromisoformat(r["enddate"]),
             r["capital"], r["lat"], r["lng"]))
    mids = tuple(
        (int(r["dispnum"]), int(r["ccode1"]), int(r["ccode2"]), int(r["year"]),
         int(r["sidea1"]), int(r["hostlev1"]) if r["hostlev1"] else None, int(r["orig1"]))
        for r in _read(d / TABLES["mids"], ("dispnum", "ccode1", "ccode2", "year", "sidea1",
                                            "hostlev1", "orig1"))
    )
    data = CowData(d, nmc, states, membership, capitals, mids)
    _CACHE[key] = data
    return data


# ---------------------------------------------------------------------------------------------
# The build spec (the ``build:`` section of a case file)
# ---------------------------------------------------------------------------------------------


Fraction = Annotated[FiniteFloat, Field(ge=0, le=1)]


class StateSpec(Frozen):
    """One state of a built case.

    ``side`` is the observed side (``null``: the state is in the system but not scored);
    ``codings`` gives its side in the case's other codings (``observed.codings``); ``name``
    and ``abb`` override the COW name and abbreviation (the abbreviation is the state's key
    in the case tables).
    """

    ccode: StrictInt
    side: str | None = None
    name: str | None = None
    abb: str | None = None
    codings: dict[str, str | None] = Field(default_factory=dict)


class CapitalOverride(Frozen):
    """A correction of the capitals table, with its source."""

    ccode: StrictInt
    capital: str
    lat: Annotated[FiniteFloat, Field(ge=-90, le=90)]
    lon: Annotated[FiniteFloat, Field(ge=-180, le=180)]
    source: str = Field(min_length=1)


class OffenseSpec(Frozen):
    """How offense ``o_i`` is derived (see :func:`offense_values`)."""

    method: Literal["militarization", "military_share", "constant"] = "militarization"
    value: Fraction | None = None


class IntentSpec(Frozen):
    """How intent is derived (see :func:`intent_values`)."""

    method: Literal["mid_hostility", "mid_initiations", "constant"] = "mid_hostility"
    years: Annotated[StrictInt, Field(ge=1, le=80)] = 10
    half_life: Annotated[FiniteFloat, Field(gt=0)] | None = None
    initiator_only: StrictBool = False
    include_year: StrictBool = False
    value: Fraction | None = None


class BuildSpec(Frozen):
    """What :func:`build_tables` makes a case from."""

    year: StrictInt
    date: _dt.date | None = None
    states: list[StateSpec] = Field(min_length=2)
    offense: OffenseSpec = Field(default_factory=OffenseSpec)
    intent: IntentSpec = Field(default_factory=IntentSpec)
    capitals: list[CapitalOverride] = Field(default_factory=list)

    @property
    def reference_date(self) -> _dt.date:
        return self.date if self.date is not None else _dt.date(self.year, 7, 1)


def parse_build_spec(data: Any, prefix: str = "build") -> BuildSpec:
    """Validate a build spec (a mapping), errors as ``build.path: message`` lines."""
    from ..config import ConfigError, format_validation_error

    if isinstance(data, BuildSpec):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix}: must be a mapping, got {type(data).__name__}")
    try:
        spec = BuildSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix)) from None
    problems = []
    if spec.offense.method == "constant" and spec.offense.value is None:
        problems.append(f"{prefix}.offense.value: required by method 'constant'")
    if spec.intent.method == "constant" and spec.intent.value is None:
        problems.append(f"{prefix}.intent.value: required by method 'constant'")
    seen = set()
    for k, s in enumerate(spec.states):
        if s.ccode in seen:
            problems.append(f"{prefix}.states[{k}].ccode: duplicate state {s.ccode}")
        seen.add(s.ccode)
    if problems:
        raise ConfigError(problems)
    return spec


# ---------------------------------------------------------------------------------------------
# Derivations
# ---------------------------------------------------------------------------------------------


def _in_force(rows, date):
    return [r for r in rows if r[0] <= date <= r[1]]


def offense_values(spec: BuildSpec, data: CowData, nmc_rows: list[dict]) -> list[float]:
    """Offense ``o_i`` of every state of the spec, in ``[0, 1]``.

    * ``militarization``: soldiers per inhabitant, ``x_i = milper_i / tpop_i``, scaled by
      the largest in the case, ``o_i = x_i / max_k x_k`` (the most militarized state has 1).
    * ``military_share``: the state's military share of the case's capabilities relative to
      its overall share, ``x_i = (s_milex + s_milper) / 2 / cinc_i`` with ``s`` the share of
      the case total of each indicator and ``cinc_i`` the mean of the six shares within the
      case; ``o_i = x_i / max_k x_k``.
    * ``constant``: ``o_i = value`` for every state.

    A missing NMC value needed by the method is an error that names the state.
    """
    from ..config import ConfigError

    n = len(spec.states)
    m = spec.offense
    if m.method == "constant":
        return [float(m.value)] * n
    need = ("milper", "tpop") if m.method == "militarization" else NMC_COMPONENTS
    problems = []
    vals = []
    for s, row in zip(spec.states, nmc_rows, strict=True):
        miss = [c for c in need if _num(row[c]) is None]
        if miss:
            problems.append(f"build.offense: method '{m.method}' needs {', '.join(miss)} of "
                            f"state {s.ccode} in {spec.year}, which NMC does not report")
        vals.append({c: _num(row[c]) for c in need})
    if problems:
        raise ConfigError(problems)
    if m.method == "militarization":
        x = [v["milper"] / v["tpop"] if v["tpop"] else 0.0 for v in vals]
    else:
        tot = {c: sum(v[c] for v in vals) for c in NMC_COMPONENTS}
        share = [{c: (v[c] / tot[c] if tot[c] > 0 else 0.0) for c in NMC_COMPONENTS}
                 for v in vals]
        x = []
        for sh in share:
            overall = sum(sh[c] for c in NMC_COMPONENTS) / 6.0
            x.append(((sh["milex"] + sh["milper"]) / 2.0) / overall if overall > 0 else 0.0)
    top = max(x)
    return [xi / top if top > 0 else 0.0 for xi in x]


def _window(spec: BuildSpec) -> tuple[int, int]:
    it = spec.intent
    last = spec.year if it.include_year else spec.year - 1
    return last - it.years + 1, last


def intent_values(spec: BuildSpec, data: CowData) -> list[float] | list[list[float | None]]:
    """Intent of the spec's states: a list (monadic) or a matrix (dyadic, ``None`` diagonal).

    The window is the ``years`` years before the case year (``year - years .. year - 1``;
    the case year too with ``include_year``). Rows of the directed MID dispute-dyad-years are
    read as "state ``ccode1`` acted against ``ccode2``", with ``hostlev1`` its hostility level
    (1 no militarized action, 2 threat, 3 display, 4 use of force, 5 war).

    * ``mid_hostility`` (dyadic): ``h_ij`` (how aggressive ``j`` looks to ``i``) is the
      highest ``w(y) (hostlev_j - 1) / 4`` over the years ``y`` of the window in which ``j``
      was in a MID against ``i`` (0 if none); ``w(y) = 0.5^((last - y) / half_life)`` with a
      half-life, else 1. With ``initiator_only`` only rows where ``j`` was on side A count.
    * ``mid_initiations`` (monadic): ``h_j`` is the number of distinct MIDs that ``j`` joined
      on side A as an originator in the window (against any state, in the case or not),
      divided by the largest such number in the case (0 for all if nobody initiated one).
    * ``constant``: ``h_j = value``.
    """
    it = spec.intent
    codes = [s.ccode for s in spec.states]
    n = len(codes)
    if it.method == "constant":
        return [float(it.value)] * n
    lo, hi = _window(spec)
    if it.method == "mid_initiations":
        started: dict[int, set] = {c: set() for c in codes}
        for disp, c1, _c2, year, sidea1, _h, orig1 in data.mids:
            if c1 in started and lo <= year <= hi and sidea1 == 1 and orig1 == 1:
                started[c1].add(disp)
        counts = [len(started[c]) for c in codes]
        top = max(counts)
        return [c / top if top > 0 else 0.0 for c in counts]
    index = {c: k for k, c in enumerate(codes)}
    h = [[0.0] * n for _ in range(n)]
    for _disp, c1, c2, year, sidea1, hostlev, _orig in data.mids:
        if c1 not in index or c2 not in index or not lo <= year <= hi or hostlev is None:
            continue
        if it.initiator_only and sidea1 != 1:
            continue
        w = 0.5 ** ((hi - year) / it.half_life) if it.half_life else 1.0
        v = w * (hostlev - 1) / 4.0
        j, i = index[c1], index[c2]  # j acted against i: how aggressive j looks to i
        if v > h[i][j]:
            h[i][j] = v
    for i in range(n):
        h[i][i] = None
    return h


# ---------------------------------------------------------------------------------------------
# Building the tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltTables:
    """The CSV texts of a built case and what the case file must say about them."""

    states_csv: str
    intent_csv: str | None
    dyadic: bool
    abbs: tuple[str, ...]


def _fmt(x: float) -> str:
    v = round(x, DECIMALS)
    text = f"{v:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def build_tables(spec, data_dir=None, codings: tuple[str, ...] = (),
                 side_column: str = "side") -> BuiltTables:
    """Build a case's state table (and intent matrix) from COW data.

    Parameters
    ----------
    spec : BuildSpec or mapping
        The ``build:`` section of a case file.
    data_dir : path, optional
        Directory of the COW tables (default: those shipped with the package).
    codings : names of the case's other observed codings (columns written after ``side``).
    side_column : name of the observed-side column.

    Raises
    ------
    ConfigError
        A state unknown to COW, not a system member on the reference date, without NMC data
        for the year or without a capital in force; one line per problem.
    """
    from ..config import ConfigError

    spec = parse_build_spec(spec)
    data = load_cow(data_dir)
    date = spec.reference_date
    overrides = {c.ccode: c for c in spec.capitals}
    problems = []
    rows = []
    nmc_rows = []
    for k, s in enumerate(spec.states):
        where = f"build.states[{k}] (ccode {s.ccode})"
        if s.ccode not in data.states:
            problems.append(f"{where}: not a COW state code")
            continue
        abb, name = data.states[s.ccode]
        if not _in_force(data.membership.get(s.ccode, []), date):
            problems.append(f"{where}: {name} is not a member of the state system on {date}")
        nmc = data.nmc.get((s.ccode, spec.year))
        if nmc is None:
            problems.append(f"{where}: no NMC capabilities for {name} in {spec.year}")
        elif _num(nmc["cinc"]) is None or _num(nmc["cinc"]) <= 0:
            problems.append(f"{where}: NMC has no positive CINC for {name} in {spec.year}")
        if s.ccode in overrides:
            o = overrides[s.ccode]
            cap = (o.capital, repr(o.lat), repr(o.lon))
        else:
            caps = _in_force(data.capitals.get(s.ccode, []), date)
            if not caps:
                problems.append(f"{where}: no capital of {name} in force on {date}")
                cap = None
            else:
                cap = caps[0][2:]
        for c in codings:
            if c not in s.codings:
                problems.append(f"{where}.codings: no value for coding '{c}' (null if unscored)")
        for c in s.codings:
            if c not in codings:
                problems.append(f"{where}.codings.{c}: not a coding of this case "
                                f"(observed.codings: {', '.join(codings) or 'none'})")
        rows.append((s, s.abb or abb, s.name or name, cap, nmc))
        nmc_rows.append(nmc)
    if problems:
        raise ConfigError(problems)
    abbs = [r[1] for r in rows]
    if len(set(abbs)) != len(abbs):
        dup = next(a for a in abbs if abbs.count(a) > 1)
        raise ConfigError(f"build.states: abbreviation {dup!r} is used twice; set 'abb' to "
                          "tell the states apart")
    offense = offense_values(spec, data, nmc_rows)
    intent = intent_values(spec, data)
    dyadic = bool(intent) and isinstance(intent[0], list)

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    head = ["abb", "name", "ccode", side_column, *codings, "capital", "lat", "lon", "cinc",
            *NMC_COMPONENTS, "offense"]
    if not dyadic:
        head.append("intent")
    w.writerow(head)
    for k, (s, abb, name, cap, nmc) in enumerate(rows):
        line = [abb, name, s.ccode, s.side or "", *[s.codings.get(c) or "" for c in codings],
                cap[0], cap[1], cap[2], nmc["cinc"], *[nmc[c] for c in NMC_COMPONENTS],
                _fmt(offense[k])]
        if not dyadic:
            line.append(_fmt(intent[k]))
        w.writerow(line)
    intent_csv = None
    if dyadic:
        m = io.StringIO()
        wm = csv.writer(m, lineterminator="\n")
        wm.writerow(["perceiver", *abbs])
        for i, abb in enumerate(abbs):
            wm.writerow([abb, *["" if v is None else _fmt(v) for v in intent[i]]])
        intent_csv = m.getvalue()
    return BuiltTables(out.getvalue(), intent_csv, dyadic, tuple(abbs))


@dataclass
class BuildReport:
    """What :func:`write_case_tables` did (or, with ``check``, found)."""

    lines: list[str]
    up_to_date: bool


def write_case_tables(case, data_dir=None, check: bool = False) -> BuildReport:
    """(Re)write the tables of a case file from its ``build:`` section.

    The case YAML names the files (``states:``, and ``intent:`` for a dyadic intent) and the
    observed codings; the YAML itself is never rewritten. With ``check`` nothing is written
    and the report says whether the files on disk are what the build gives.

    Raises
    ------
    ConfigError
        The case has no valid ``build`` section, or the build fails (one line per problem).
    """
    import yaml

    from ..config import ConfigError
    from .case import find_case, load_case

    path = find_case(case)
    source = os.fspath(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: case file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("build"), Mapping):
        raise ConfigError(f"{source}: build: the case has no build section, so its tables "
                          "cannot be made from COW data")
    if not isinstance(data.get("states"), str):
        raise ConfigError(f"{source}: states: name the state table to write (e.g. "
                          f"states: {path.stem}_states.csv)")
    observed = data.get("observed") if isinstance(data.get("observed"), Mapping) else {}
    column = observed.get("column", "side")
    codings = observed.get("codings") or {}
    if not isinstance(column, str) or not isinstance(codings, Mapping):
        raise ConfigError(f"{source}: observed: 'column' must be a string and 'codings' a "
                          "mapping")
    try:
        built = build_tables(data["build"], data_dir, codings=tuple(codings),
                             side_column=column)
    except ConfigError as exc:
        raise ConfigError([f"{source}: {line}" for line in exc.errors]) from None
    intent_name = data.get("intent")
    if built.dyadic and not isinstance(intent_name, str):
        raise ConfigError(f"{source}: intent: the build makes a dyadic intent matrix; name its "
                          f"file (e.g. intent: {path.stem}_intent.csv)")
    if not built.dyadic and intent_name is not None:
        raise ConfigError(f"{source}: intent: the build makes a monadic intent column in the "
                          "state table; remove the 'intent' key")
    files = [(path.parent / data["states"], built.states_csv)]
    if built.dyadic:
        files.append((path.parent / intent_name, built.intent_csv))
    lines = []
    same = True
    for f, text in files:
        old = f.read_text(encoding="utf-8") if f.is_file() else None
        if check:
            ok = old == text
            same &= ok
            lines.append(f"{f}: {'up to date' if ok else 'differs from the build'}")
        elif old == text:
            lines.append(f"{f}: unchanged")
        else:
            f.write_text(text, encoding="utf-8")
            lines.append(f"{f}: written")
    if not check:
        load_case(path)  # the written case must load
    return BuildReport(lines, same)
