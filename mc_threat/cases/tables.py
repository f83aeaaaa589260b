"""Reading a case's CSV tables (states, intent matrix) and its model section, with one line
per problem naming the file, row and column."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..config import (
    ConfigError,
    ModelParams,
    coerce_params,
)
from .spec import POWER_COMPONENTS, CaseFile


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


def read_states(path: Path, source: str, spec: CaseFile, side_columns: list[str]):
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


def read_intent_matrix(path: Path, source: str, abbs: list[str]) -> np.ndarray:
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


def case_model_params(model: Mapping, source: str) -> ModelParams:
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
