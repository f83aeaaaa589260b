"""Write the small extracts of ``mc_threat/data/history/`` from ``../shared/data/history/``.

Usage: ``python scripts/extract_history_data.py SRC_DIR [DEST_DIR]`` (DEST_DIR defaults to
``mc_threat/data/history``). Only the columns and rows ``mc-threat history`` uses are kept;
the README of the destination says what each file holds and whom to cite. Deterministic:
the same sources give byte-identical files.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

FIRST, LAST = 1816, 2016
"""Years kept: the documented NMC v7.0 period (2017-2022 are provisional and not shipped)."""


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _write(path: Path, header, rows) -> int:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        n = 0
        for r in rows:
            w.writerow(r)
            n += 1
    return n


def atop_spells(src: Path):
    """Undirected spells ``(ccode1 < ccode2, start, end)`` of years in which the pair shares
    an ATOP alliance with a defense or an offense pledge, in either direction (ATOP dyads are
    directed; 467 directed defense/offense dyad-years have no reverse row, e.g. one-sided
    guarantees, and count for the pair)."""
    years: dict[tuple[int, int], set[int]] = {}
    for r in _rows(src / "atop_alliance_dyad_years.csv"):
        if r["atop_defense"] != "1" and r["atop_offense"] != "1":
            continue
        a, b, y = int(r["ccode1"]), int(r["ccode2"]), int(r["year"])
        if a == b or not FIRST <= y <= LAST:
            continue
        years.setdefault((min(a, b), max(a, b)), set()).add(y)
    out = []
    for (a, b), ys in sorted(years.items()):
        ys = sorted(ys)
        start = prev = ys[0]
        for y in ys[1:]:
            if y != prev + 1:
                out.append((a, b, start, prev))
                start = y
            prev = y
        out.append((a, b, start, prev))
    return out


def main(argv) -> int:
    src = Path(argv[1])
    dest = Path(argv[2]) if len(argv) > 2 else Path("mc_threat/data/history")
    dest.mkdir(parents=True, exist_ok=True)
    n = _write(dest / "atop_defense_offense_spells.csv", ["ccode1", "ccode2", "start", "end"],
               atop_spells(src))
    print("atop spells", n)
    n = _write(dest / "nmc.csv", ["ccode", "year", "cinc", "milper", "tpop"],
               ([r["ccode"], r["year"], r["cinc"], r["milper"], r["tpop"]]
                for r in _rows(src / "nmc_1816_2022.csv") if int(r["year"]) <= LAST))
    print("nmc", n)
    n = _write(dest / "mid_dyad_years.csv", ["ccode1", "ccode2", "year", "sidea1", "hostlev1"],
               ([r["ccode1"], r["ccode2"], r["year"], r["sidea1"], r["hostlev1"]]
                for r in _rows(src / "mid_dyad_years_1816_2014.csv") if r["hostlev1"]))
    print("mid", n)
    n = _write(dest / "td_rivalries.csv", ["ccode1", "ccode2", "styear", "endyear"],
               ([r["ccode1"], r["ccode2"], r["styear"], r["endyear"]]
                for r in _rows(src / "td_rivalries.csv") if int(r["endyear"]) >= FIRST))
    print("td", n)
    n = _write(dest / "tss_rivalries.csv", ["ccode1", "ccode2", "start", "end"],
               ([r["ccode1"], r["ccode2"], r["start"], r["end"]]
                for r in _rows(src / "tss_rivalries.csv") if int(r["end"]) >= FIRST))
    print("tss", n)
    n = _write(dest / "territorial_threat.csv", ["ccode", "year", "lterrthreat"],
               ([r["ccode"], r["year"], f"{float(r['lterrthreat']):.4f}"]
                for r in _rows(src / "territorial_threat.csv") if r["lterrthreat"]))
    print("terr", n)
    cow = src.parent / "cow"
    n = _write(dest / "major_powers.csv", ["ccode", "styear", "stmonth", "stday", "endyear",
                                            "endmonth", "endday"],
               ([r[k] for k in ("ccode", "styear", "stmonth", "stday", "endyear", "endmonth",
                                "endday")] for r in _rows(cow / "major_powers.csv")))
    print("major powers", n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
