"""The state system of any year since 1816, built from the extracts in ``mc_threat/data/history``.

The rules (fixed before any score was looked at; ``docs/history.md`` states them for users):

* **Members**: the states of the COW state system on 1 July of the year
  (``state_system_membership.csv``) whose COW code is in the region (:data:`REGIONS`;
  ``major_powers`` uses the COW major-power spells in force on 1 July), with a positive CINC
  for the year and a capital in force on 1 July. A member without CINC or capital is left out
  and listed in ``dropped``.
* **Power**: CINC of the year (NMC v7.0), as in the shipped cases.
* **Position**: the capital in force on 1 July (``capitals.csv``), with the shipped cases'
  one correction (the Ottoman capital is Constantinople until 13 October 1923); distances are
  great-circle kilometres on the sphere of :data:`mc_threat.cases.EARTH_RADIUS_KM`.
* **Offense**: the shipped cases' ``militarization`` rule: ``milper / tpop`` scaled by the
  largest value in the system. A state without ``milper`` or ``tpop`` gets offense 0 (counted
  in ``offense_missing``).
* **Intent** (:data:`INTENT_SOURCES`): ``mid`` is the shipped cases' ``mid_hostility`` rule
  (20 years before the year, half-life 10 years: ``h_ij`` is the largest
  ``0.5^((y - 1 - t) / 10) (hostlev_j - 1) / 4`` over the MID dyad-years ``t`` of the window in
  which ``j`` acted against ``i``); ``td`` and ``tss``: 1 between two states that are strategic
  rivals in the year before (Thompson-Dreyer 2012; Thompson-Sakuwa-Suhas 2021), else 0;
  ``territorial``: perceiver-side, ``h_ij`` = the latent territorial threat of ``i`` in the
  year before (Miller 2022), min-max scaled over the whole table, the same toward every ``j``.
  Sources joined with ``+`` combine as the element-wise maximum (``mid+td``).
* **Observed alignment**: two states are allied in a year when an ATOP v5.1 alliance with a
  defense or an offense pledge is in force between them that year (in either direction of
  the directed ATOP dyad).
"""

from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..cases import EARTH_RADIUS_KM

REGIONS = ("europe", "middle_east", "major_powers", "global")
"""``europe``: COW codes 200-399; ``middle_east``: 600-699; ``major_powers``: COW major powers
on 1 July of the year; ``global``: every member."""

REGION_CODES = {"europe": (200, 399), "middle_east": (600, 699)}

BASE_SOURCES = ("mid", "td", "tss", "territorial")
INTENT_SOURCES = ("mid", "td", "tss", "territorial", "mid+td", "mid+tss", "mid+territorial")
"""The intent sources compared by ``mc-threat history --intent`` (any ``+`` join of
:data:`BASE_SOURCES` is accepted)."""

FIRST_YEAR, LAST_YEAR = 1816, 2016
"""Years the shipped extracts cover (NMC v7.0's documented period; ATOP is cut to it)."""

MID_YEARS, MID_HALF_LIFE = 20, 10.0
"""The shipped cases' ``mid_hostility`` window and half-life."""

CAPITAL_OVERRIDES = {640: (_dt.date(1816, 1, 1), _dt.date(1923, 10, 12), "Constantinople",
                           41.0082, 28.9784)}
"""The shipped cases' correction of the capitals table (europe_1914.yaml)."""

CITATIONS = (
    "ATOP: Leeds, Brett Ashley, Jeffrey M. Ritter, Sara McLaughlin Mitchell, and Andrew G. "
    "Long. 2002. 'Alliance Treaty Obligations and Provisions, 1815-1944.' International "
    "Interactions 28: 237-260. (ATOP v5.1.)",
    "NMC: Singer, J. David, Stuart Bremer, and John Stuckey. 1972. 'Capability Distribution, "
    "Uncertainty, and Major Power War, 1820-1965.' In Bruce Russett (ed.), Peace, War, and "
    "Numbers. Beverly Hills: Sage, 19-48. (NMC v7.0.)",
    "MID v5.0: Palmer, Glenn, et al. 2022. 'The MID5 Dataset, 2011-2014: Procedures, Coding "
    "Rules, and Description.' Conflict Management and Peace Science 39(4): 470-482.",
    "Rivalries: Thompson, William R., and David R. Dreyer. 2012. Handbook of International "
    "Rivalries, 1494-2010. Washington, DC: CQ Press. Thompson, William R., Kentaro Sakuwa, and "
    "Prashant Hosur Suhas. 2021. Analyzing Strategic Rivalries in World Politics. Singapore: "
    "Springer.",
    "Territorial threat: Miller, Steven V. 2022. 'A Random Item Response Model of External "
    "Territorial Threat, 1816-2010.' Journal of Global Security Studies 7(4): ogac012.",
    "States, capitals: Correlates of War Project. 2017. 'State System Membership List, "
    "v2016.' Conversions: Miller, Steven V. 2022. 'peacesciencer: An R Package for "
    "Quantitative Peace Science Research.' Conflict Management and Peace Science 39(6): "
    "755-779.",
)


def data_dir() -> Path:
    """The extracts shipped with the package (``mc_threat/data/history``)."""
    return Path(str(resources.files("mc_threat") / "data" / "history"))


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _date(y, m, d) -> _dt.date:
    return _dt.date(int(y), int(m), int(d))


@dataclass(frozen=True, eq=False)
class HistoryData:
    """The full-period tables, indexed for building year systems."""

    nmc: dict            # (ccode, year) -> (cinc, milper or nan, tpop or nan)
    states: dict         # ccode -> (abb, name)
    membership: dict     # ccode -> [(start, end)]
    capitals: dict       # ccode -> [(start, end, name, lat, lon)]
    major: dict          # ccode -> [(start, end)]
    alliance_spells: tuple  # (ccode1 < ccode2, first year, last year)
    mids: dict           # year -> [(ccode1 acting, ccode2 target, hostlev1)]
    td: tuple            # (ccode1, ccode2, start, end)
    tss: tuple
    territorial: dict    # (ccode, year) -> scaled latent territorial threat in [0, 1]
    allied_by_year: dict = field(default_factory=dict)


@lru_cache(maxsize=2)
def load_history(path: str | None = None) -> HistoryData:
    """Read the history extracts (and the COW states, membership and capitals)."""
    from ..cases.cow import load_cow

    d = Path(path) if path else data_dir()
    cow = load_cow()
    nan = float("nan")
    nmc = {}
    for r in _rows(d / "nmc.csv"):
        if r["cinc"]:
            nmc[(int(r["ccode"]), int(r["year"]))] = (
                float(r["cinc"]), float(r["milper"]) if r["milper"] else nan,
                float(r["tpop"]) if r["tpop"] else nan)
    capitals = {c: [(a, b, name, float(lat), float(lon)) for a, b, name, lat, lon in rows]
                for c, rows in cow.capitals.items()}
    major: dict[int, list] = {}
    for r in _rows(d / "major_powers.csv"):
        major.setdefault(int(r["ccode"]), []).append(
            (_date(r["styear"], r["stmonth"], r["stday"]),
             _date(r["endyear"], r["endmonth"], r["endday"])))
    spells = tuple((int(r["ccode1"]), int(r["ccode2"]), int(r["start"]), int(r["end"]))
                   for r in _rows(d / "atop_defense_offense_spells.csv"))
    allied_by_year: dict[int, set] = {}
    for a, b, s, e in spells:
        for y in range(s, e + 1):
            allied_by_year.setdefault(y, set()).add((a, b))
    mids: dict[int, list] = {}
    for r in _rows(d / "mid_dyad_years.csv"):
        mids.setdefault(int(r["year"]), []).append(
            (int(r["ccode1"]), int(r["ccode2"]), int(r["hostlev1"])))
    td = tuple((int(r["ccode1"]), int(r["ccode2"]), int(r["styear"]), int(r["endyear"]))
               for r in _rows(d / "td_rivalries.csv"))
    tss = tuple((int(r["ccode1"]), int(r["ccode2"]), int(r["start"]), int(r["end"]))
                for r in _rows(d / "tss_rivalries.csv"))
    raw = {(int(r["ccode"]), int(r["year"])): float(r["lterrthreat"])
           for r in _rows(d / "territorial_threat.csv")}
    lo, hi = min(raw.values()), max(raw.values())
    terr = {k: (v - lo) / (hi - lo) for k, v in raw.items()}
    return HistoryData(nmc, dict(cow.states), dict(cow.membership), capitals, major, spells,
                       mids, td, tss, terr, allied_by_year)


def in_region(ccode: int, region: str, date: _dt.date, data: HistoryData) -> bool:
    if region == "global":
        return True
    if region == "major_powers":
        return any(a <= date <= b for a, b in data.major.get(ccode, ()))
    lo, hi = REGION_CODES[region]
    return lo <= ccode <= hi


def parse_intent(source: str) -> tuple[str, ...]:
    """``'mid+td'`` -> ``('mid', 'td')``; raises ValueError naming the bad part."""
    parts = tuple(p.strip() for p in source.split("+"))
    bad = [p for p in parts if p not in BASE_SOURCES]
    if bad or not parts:
        raise ValueError(f"unknown intent source {bad[0] if bad else source!r} (sources: "
                         f"{', '.join(BASE_SOURCES)}, joined with '+')")
    return parts


@dataclass(frozen=True, eq=False)
class YearSystem:
    """One region's state system in one year, with its observed alliances."""

    year: int
    ccodes: np.ndarray      # (n,) int64, increasing
    abbs: tuple
    power: np.ndarray       # CINC
    offense: np.ndarray
    intent: np.ndarray      # (n, n), h[i, j]: how aggressive j looks to i, diagonal 0
    lat: np.ndarray
    lon: np.ndarray
    allied: np.ndarray      # (n, n) bool, symmetric, diagonal False
    dropped: tuple = ()     # (ccode, reason) of members left out
    offense_missing: int = 0

    @property
    def n(self) -> int:
        return int(self.ccodes.shape[0])

    @property
    def distance(self) -> np.ndarray:
        """Great-circle km between capitals (the haversine formula of the cases)."""
        phi, lam = np.radians(self.lat), np.radians(self.lon)
        a = (np.sin((phi[None, :] - phi[:, None]) / 2.0) ** 2
             + np.cos(phi[:, None]) * np.cos(phi[None, :])
             * np.sin((lam[None, :] - lam[:, None]) / 2.0) ** 2)
        d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        d = np.triu(d, 1)
        return d + d.T

    def allied_pairs(self) -> list[tuple[int, int]]:
        """Observed allied pairs as (ccode, ccode), smaller code first."""
        i, j = np.nonzero(np.triu(self.allied, 1))
        return [(int(self.ccodes[a]), int(self.ccodes[b])) for a, b in zip(i, j, strict=True)]


def _capital(ccode, date, data):
    o = CAPITAL_OVERRIDES.get(ccode)
    if o is not None and o[0] <= date <= o[1]:
        return o[3], o[4]
    for a, b, _name, lat, lon in data.capitals.get(ccode, ()):
        if a <= date <= b:
            return lat, lon
    return None


def _intent(source: str, codes: list[int], year: int, data: HistoryData) -> np.ndarray:
    n = len(codes)
    index = {c: k for k, c in enumerate(codes)}
    h = np.zeros((n, n))
    last = year - 1
    if source == "mid":
        for t in range(last - MID_YEARS + 1, last + 1):
            w = 0.5 ** ((last - t) / MID_HALF_LIFE)
            for c1, c2, hostlev in data.mids.get(t, ()):
                j, i = index.get(c1), index.get(c2)
                if i is None or j is None or i == j:
                    continue
                v = w * (hostlev - 1) / 4.0
                if v > h[i, j]:
                    h[i, j] = v
    elif source in ("td", "tss"):
        for c1, c2, s, e in (data.td if source == "td" else data.tss):
            if s <= last <= e and c1 in index and c2 in index:
                h[index[c1], index[c2]] = h[index[c2], index[c1]] = 1.0
    else:  # territorial: perceiver-side
        for c, i in index.items():
            h[i, :] = data.territorial.get((c, last), 0.0)
    np.fill_diagonal(h, 0.0)
    return h


def build_year(year: int, region: str, intent: str = "mid",
               data: HistoryData | None = None, only=None) -> YearSystem:
    """The state system of ``region`` in ``year`` by the rules of this module (``only``: a
    set of COW codes to keep, e.g. a case's states; offense is scaled within them)."""
    data = data or load_history()
    date = _dt.date(year, 7, 1)
    codes, lat, lon, pw, milper, tpop, dropped = [], [], [], [], [], [], []
    for c in sorted(data.membership):
        if not any(a <= date <= b for a, b in data.membership[c]):
            continue
        if not in_region(c, region, date, data) or (only is not None and c not in only):
            continue
        nmc = data.nmc.get((c, year))
        if nmc is None or not nmc[0] > 0:
            dropped.append((c, "no positive CINC"))
            continue
        cap = _capital(c, date, data)
        if cap is None:
            dropped.append((c, "no capital in force"))
            continue
        codes.append(c)
        lat.append(cap[0])
        lon.append(cap[1])
        pw.append(nmc[0])
        milper.append(nmc[1])
        tpop.append(nmc[2])
    milper_a, tpop_a = np.array(milper, float), np.array(tpop, float)
    ok = np.isfinite(milper_a) & np.isfinite(tpop_a) & (tpop_a > 0)
    x = np.where(ok, np.divide(milper_a, tpop_a, out=np.zeros_like(milper_a), where=ok), 0.0)
    top = x.max() if x.size else 0.0
    offense = x / top if top > 0 else np.zeros_like(x)
    parts = parse_intent(intent)
    h = _intent(parts[0], codes, year, data)
    for p in parts[1:]:
        h = np.maximum(h, _intent(p, codes, year, data))
    n = len(codes)
    allied = np.zeros((n, n), bool)
    index = {c: k for k, c in enumerate(codes)}
    for a, b in data.allied_by_year.get(year, ()):
        if a in index and b in index:
            allied[index[a], index[b]] = allied[index[b], index[a]] = True
    abbs = tuple(data.states.get(c, (str(c), ""))[0] for c in codes)
    return YearSystem(year, np.array(codes, np.int64), abbs, np.array(pw, float), offense,
                      np.ascontiguousarray(h), np.array(lat, float), np.array(lon, float),
                      allied, tuple(dropped), int((~ok).sum()))
