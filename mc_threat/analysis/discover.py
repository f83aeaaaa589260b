"""Scenario discovery: the boxes of factor space where an outcome passes a threshold.

``mc-threat discover STORE --outcome NAME --above X`` asks: *in which region of the swept
factors does the outcome's point mean exceed X?* The answer is a short list of boxes, each a
range ``[low, high]`` on a few factors, with

* **coverage**: the share of all points of interest (those that pass) that fall in the box,
* **density**: the share of the points in the box that pass,
* **mass**: the share of all points that fall in the box,
* PRIM's **quasi-p value** of each limit (Bryant and Lempert 2010): a one-sided binomial
  test of whether the limit raises the density; a limit with a large quasi-p (say > 0.05)
  is not supported by the data.

The algorithms are EMA Workbench's (``ema_workbench.analysis.prim`` and ``.cart``, an
optional extra: ``pip install 'mc-threat[discover]'``); this module only prepares the data,
picks one box per PRIM run, and stores and reports the result.

**PRIM** peels the box one small slice (``peel_alpha``, 5%) of one factor at a time, always
the slice that most raises the density, down to ``mass_min`` of the points; the sequence of
boxes is the *peeling trajectory* (coverage falls as density rises). From it we pick the box
with the highest coverage among those whose density reaches ``min_density`` (ties: the
higher density, then the fewer restricted factors). The points in that box are removed and
PRIM looks for the next box, up to ``max_boxes``, stopping when no box on the next
trajectory reaches the density (that trajectory is still reported and drawn, so one sees how
close it came).

**CART** (scikit-learn's decision tree through EMA Workbench) splits the space into leaves of
at least ``mass_min`` of the points; the boxes are the leaves whose density reaches
``min_density`` (0.5 by default: leaves where passing is the majority), largest coverage
first. CART has no peeling trajectory and no quasi-p values.

Any mc-threat store with a ``point`` dimension and a ``factors`` attribute works: sweep
stores of every design (grid, points, LHS, Sobol, Morris) and case calibration stores. Each
point is one row of data, its outcome the point mean (``stat='mean'``). Factors that are
not numbers, or that take one value only, are left out (and listed in the result).

The result is written into the store as the zarr group ``discover/<method>-<outcome>``
(see :func:`write_result`); a rerun with the same method and outcome replaces that group and
nothing else. The sweep's data are never touched.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..store import StoreError, check_safe_metadata, now, quiet

__all__ = ["DISCOVER_GROUP", "Discovery", "discover", "discover_store", "factor_columns",
           "load_design",
           "read_result", "summary_text", "write_result"]

DISCOVER_GROUP = "discover"
"""Parent group of every discovery result in a store."""

METHODS = ("prim", "cart")
DEFAULT_MIN_DENSITY = {"prim": 0.8, "cart": 0.5}


def _require_workbench():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ema_workbench warns about optional parallel libs
            from ema_workbench.analysis import cart, prim
    except ImportError:
        raise ConfigError("--method: scenario discovery needs EMA Workbench; install it with "
                          "pip install 'mc-threat[discover]'") from None
    return prim, cart


@dataclass
class Box:
    """One box: limits of its restricted factors and its statistics."""

    limits: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    points: int
    qp_values: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    trajectory: dict[str, list[float]] | None = None  # coverage, density, mass, res_dim
    selected: int | None = None  # index of the chosen box on the trajectory

    def as_dict(self) -> dict:
        return {"limits": {k: [float(a), float(b)] for k, (a, b) in self.limits.items()},
                "coverage": float(self.coverage), "density": float(self.density),
                "mass": float(self.mass), "points": int(self.points),
                "qp_values": {k: list(v) for k, v in self.qp_values.items()}}


@dataclass
class Discovery:
    """The result of :func:`discover` (or :func:`read_result`)."""

    outcome: str
    direction: str  # 'above' or 'below'
    threshold: float
    method: str
    factors: list[str]
    bounds: dict[str, tuple[float, float]]  # each factor's range over the data
    points: int
    cases: int  # points that pass the threshold
    boxes: list[Box]
    ignored_factors: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    rejected: dict | None = None
    """PRIM: the trajectory that stopped the search (no box on it reached min_density):
    its coverage, density and the step of highest density (``best``)."""

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "direction": self.direction,
                "threshold": self.threshold, "method": self.method, "points": self.points,
                "cases_of_interest": self.cases, "factors": list(self.factors),
                "ignored_factors": list(self.ignored_factors), **self.params,
                "boxes": [b.as_dict() for b in self.boxes],
                "next_best": None if self.rejected is None else {
                    "coverage": self.rejected["coverage"][self.rejected["best"]],
                    "density": self.rejected["density"][self.rejected["best"]]}}


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def _open(path: Path):
    import xarray as xr

    if not (path.is_dir() and (path / "zarr.json").is_file()):
        raise StoreError(f"{path}: not an mc-threat store (no zarr.json)")
    check_safe_metadata(path)
    with quiet():
        return xr.open_zarr(path, consolidated=None)


def check_complete(path: Path) -> None:
    """A sweep store (with a ``_work`` group) must be complete; other stores are written
    whole."""
    if not (path / "_work" / "zarr.json").is_file():
        return
    from ..store import Store

    st = Store(path).status()
    if st["tasks_done"] != st["tasks"] or st["blocks_merged"] != st["blocks"]:
        raise StoreError(f"{path}: the sweep is incomplete; finish it first (--resume)")


def outcome_values(ds, outcome: str, path) -> np.ndarray:
    """An outcome's value at every point: the point mean of a ``(point, stat)`` variable, or a
    ``(point,)`` variable itself."""
    if outcome not in ds.data_vars:
        known = [k for k, v in ds.data_vars.items()
                 if v.dims in (("point",), ("point", "stat")) and v.dtype.kind in "fiub"]
        raise ConfigError(f"--outcome: {path} has no outcome {outcome!r}; it has "
                          f"{', '.join(known)}")
    var = ds[outcome]
    if var.dims == ("point", "stat"):
        y = var.sel(stat="mean").values
    elif var.dims == ("point",):
        y = var.values
    else:
        raise ConfigError(f"--outcome: {outcome} has dimensions {var.dims}, not one value per "
                          "point")
    if y.dtype.kind not in "fiub":
        raise ConfigError(f"--outcome: {outcome} is not numeric")
    return np.asarray(y, dtype=np.float64)


def factor_columns(ds, factors, path) -> tuple[dict[str, np.ndarray], list[str]]:
    """The swept factors of ``ds`` (coordinates along ``point``) that are numbers and vary,
    as float64 columns by name, and the names of the others (left out)."""
    columns, ignored = {}, []
    for f in factors:
        if f not in ds.coords:
            raise StoreError(f"{path}: no point coordinate for factor {f}")
        v = ds[f].values
        if v.dtype.kind not in "fiu" or np.unique(v).size < 2:
            ignored.append(str(f))
            continue
        columns[str(f)] = v.astype(np.float64)
    return columns, ignored


def load_design(path, outcome: str):
    """``(X, y, ignored, ds_attrs)`` of a store: X a ``pandas.DataFrame`` of the numeric
    factors that vary (columns by dotted config name, one row per point), y the outcome."""
    import pandas as pd

    path = Path(path)
    ds = _open(path)
    try:
        factors = ds.attrs.get("factors")
        if not factors:
            raise StoreError(f"{path}: the store has no swept factors (a single-point run); "
                             "there is nothing to discover")
        if "point" not in ds.dims:
            raise StoreError(f"{path}: not a sweep store (no point dimension)")
        check_complete(path)
        y = outcome_values(ds, outcome, path)
        columns, ignored = factor_columns(ds, factors, path)
        attrs = dict(ds.attrs)
    finally:
        ds.close()
    if not columns:
        raise StoreError(f"{path}: no numeric factor varies over the points "
                         f"(ignored: {', '.join(ignored)})")
    if not np.isfinite(y).all():
        raise StoreError(f"{path}: outcome {outcome} has points without results "
                         f"(point {int(np.flatnonzero(~np.isfinite(y))[0])})")
    return pd.DataFrame(columns), y, ignored, attrs


# ---------------------------------------------------------------------------------------------
# The analysis
# ---------------------------------------------------------------------------------------------


def discover(X, y, *, above: float | None = None, below: float | None = None,
             method: str = "prim", min_density: float | None = None, mass_min: float = 0.05,
             peel_alpha: float = 0.05, max_boxes: int = 3, seed: int = 1,
             outcome: str = "y") -> Discovery:
    """Boxes of ``X`` where ``y > above`` (or ``y < below``).

    Parameters
    ----------
    X : pandas.DataFrame of float columns (the factors, by name), one row per point.
    y : (n,) the outcome at each point.
    above, below : the threshold (exactly one); a point is *of interest* when its outcome is
        strictly above (below) it.
    method : ``'prim'`` or ``'cart'``.
    min_density : the density a box must reach (default 0.8 for PRIM, 0.5 for CART).
    mass_min : smallest share of the points in a box (PRIM's last peel, CART's leaf size).
    peel_alpha : PRIM: share of the points peeled off per step.
    max_boxes : at most this many boxes.
    seed : CART: seed of scikit-learn's tie-breaking between equally good splits.
    outcome : name recorded in the result.

    Returns
    -------
    Discovery
    """
    if (above is None) == (below is None):
        raise ConfigError("--above/--below: give exactly one threshold")
    if method not in METHODS:
        raise ConfigError(f"--method: must be prim or cart, got {method!r}")
    min_density = DEFAULT_MIN_DENSITY[method] if min_density is None else float(min_density)
    if not 0 < min_density <= 1:
        raise ConfigError(f"--min-density: must be in (0, 1], got {min_density}")
    if not 0 < mass_min < 1:
        raise ConfigError(f"--mass-min: must be in (0, 1), got {mass_min}")
    direction, threshold = ("above", float(above)) if above is not None else \
        ("below", float(below))
    y = np.asarray(y, dtype=np.float64)
    interest = y > threshold if direction == "above" else y < threshold
    cases = int(interest.sum())
    rng = f"the outcome ranges over [{y.min():.4g}, {y.max():.4g}]"
    if cases == 0:
        raise ConfigError(f"--{direction}: no point has {outcome} {direction} {threshold:g}; "
                          f"{rng}")
    if cases == y.size:
        raise ConfigError(f"--{direction}: every point has {outcome} {direction} "
                          f"{threshold:g}, there is no region to find; {rng}")
    X = X.reset_index(drop=True).astype(np.float64)
    prim, cart = _require_workbench()
    params = {"min_density": min_density, "mass_min": mass_min, "max_boxes": int(max_boxes)}
    rejected = None
    if method == "prim":
        boxes, rejected = _prim_boxes(prim, X, interest, min_density, mass_min, peel_alpha,
                                      max_boxes)
        params["peel_alpha"] = peel_alpha
    else:
        boxes = _cart_boxes(cart, X, interest, min_density, mass_min, max_boxes, seed)
        params["seed"] = int(seed)
    bounds = {c: (float(X[c].min()), float(X[c].max())) for c in X.columns}
    return Discovery(outcome, direction, threshold, method, list(X.columns), bounds,
                     int(y.size), cases, boxes, params=params, rejected=rejected)


def _restricted(lims, init) -> list[str]:
    return [c for c in init.columns
            if not (lims.loc[0, c] == init.loc[0, c] and lims.loc[1, c] == init.loc[1, c])]


def _qp(value) -> float | None:
    v = float(value)
    return None if v < 0 or not math.isfinite(v) else v


def _prim_boxes(prim, X, interest, min_density, mass_min, peel_alpha, max_boxes):
    # PRIM's own threshold does two things: it marks the points of interest (y >= threshold,
    # so any value in (0, 1] marks the 1s of a binary y), and it makes find_box return an
    # empty "dump box" (losing the trajectory) when the final box's density is below it. We
    # pass a tiny threshold so that every trajectory is kept, and apply min_density ourselves
    # when choosing a box on it (the peeling itself does not depend on the threshold).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecations inside ema_workbench
        alg = prim.Prim(X, interest.astype(int), threshold=1e-9, peel_alpha=peel_alpha,
                        paste_alpha=peel_alpha, mass_min=mass_min)
    init = alg.box_init
    n_interest = int(interest.sum())
    boxes, rejected = [], None
    for _ in range(int(max_boxes)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas deprecations inside ema_workbench
            box = alg.find_box()
        if box is None:
            break
        traj = box.peeling_trajectory
        dens = traj["density"].to_numpy(float)
        cov = traj["coverage"].to_numpy(float)
        res = traj["res_dim"].to_numpy(float)
        ok = np.flatnonzero(dens >= min_density)
        if ok.size == 0:  # the remaining points hold no box of that density: stop
            best = int(np.argmax(dens))
            rejected = {"coverage": (traj["k"].to_numpy(float) / n_interest).tolist(),
                        "density": dens.tolist(), "best": best}
            break
        order = sorted(ok, key=lambda i: (-cov[i], -dens[i], res[i], i))
        i = int(order[0])
        box.select(i)
        lims = box.box_lims[i]
        restricted = _restricted(lims, init)
        qp = box.qp[i] if i < len(box.qp) else {}
        in_box = int(traj["n"].iloc[i])
        boxes.append(Box(
            limits={c: (float(lims.loc[0, c]), float(lims.loc[1, c])) for c in restricted},
            coverage=float(traj["k"].iloc[i]) / n_interest,
            density=float(dens[i]), mass=float(in_box) / len(X), points=in_box,
            qp_values={c: (_qp(qp[c][0]), _qp(qp[c][1])) if c in qp else (None, None)
                       for c in restricted},
            trajectory={"coverage": [float(traj["k"].iloc[j]) / n_interest
                                     for j in range(len(traj))],
                        "density": dens.tolist(), "mass": (traj["n"].to_numpy(float)
                                                           / len(X)).tolist(),
                        "res_dim": res.tolist()},
            selected=i))
    return boxes, rejected


def _cart_boxes(cart, X, interest, min_density, mass_min, max_boxes, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecations inside ema_workbench
        alg = cart.CART(X, interest.astype(int), mass_min=mass_min)
    # scikit-learn breaks ties between equally good splits with numpy's global generator
    # when the tree has no random_state (EMA Workbench sets none): seed it for this fit only.
    state = np.random.get_state()
    try:
        np.random.seed(int(seed))
        alg.build_tree()
    finally:
        np.random.set_state(state)
    init = _init_box(X)
    n_interest = int(interest.sum())
    leaves = []
    for lims in alg.boxes:
        inside = np.ones(len(X), bool)
        for c in X.columns:
            inside &= (X[c].to_numpy() >= lims.loc[0, c]) & (X[c].to_numpy() <= lims.loc[1, c])
        n_in = int(inside.sum())
        k = int(interest[inside].sum())
        if n_in == 0:
            continue
        restricted = _restricted(lims, init)
        leaves.append(Box(limits={c: (float(lims.loc[0, c]), float(lims.loc[1, c]))
                                  for c in restricted},
                          coverage=k / n_interest, density=k / n_in, mass=n_in / len(X),
                          points=n_in, qp_values={c: (None, None) for c in restricted}))
    kept = [b for b in leaves if b.density >= min_density]
    kept.sort(key=lambda b: (-b.coverage, -b.density))
    return kept[:int(max_boxes)]


def _init_box(X):
    import pandas as pd

    return pd.DataFrame({c: [X[c].min(), X[c].max()] for c in X.columns})


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


def group_name(method: str, outcome: str) -> str:
    return f"{DISCOVER_GROUP}/{method}-{outcome}"


def _to_dataset(d: Discovery):
    import xarray as xr

    nb, nf = len(d.boxes), len(d.factors)
    limits = np.full((nb, nf, 2), np.nan)
    qp = np.full((nb, nf, 2), np.nan)
    restricted = np.zeros((nb, nf), bool)
    steps = max([len(b.trajectory["density"]) for b in d.boxes if b.trajectory] or [0])
    traj = {k: np.full((nb, steps), np.nan) for k in ("coverage", "density", "mass", "res_dim")}
    selected = np.full(nb, -1, np.int64)
    for i, b in enumerate(d.boxes):
        for j, f in enumerate(d.factors):
            lo, hi = b.limits.get(f, d.bounds[f])
            limits[i, j] = lo, hi
            restricted[i, j] = f in b.limits
            q = b.qp_values.get(f, (None, None))
            qp[i, j] = [np.nan if v is None else v for v in q]
        if b.trajectory:
            for k in traj:
                traj[k][i, :len(b.trajectory[k])] = b.trajectory[k]
            selected[i] = b.selected
    coords = {"box": np.arange(nb), "factor": np.array(d.factors, dtype=object),
              "bound": np.array(["low", "high"], dtype=object), "step": np.arange(steps)}
    data = {
        "limits": (("box", "factor", "bound"), limits,
                   {"long_name": "limits of the box per factor (the data's range where the "
                                 "box does not restrict the factor)"}),
        "restricted": (("box", "factor"), restricted,
                       {"long_name": "the box restricts this factor"}),
        "qp_value": (("box", "factor", "bound"), qp,
                     {"long_name": "PRIM quasi-p value of each limit (NaN: not restricted "
                                   "on that side, or CART)"}),
        "coverage": ("box", np.array([b.coverage for b in d.boxes]),
                     {"long_name": "share of the points of interest in the box"}),
        "density": ("box", np.array([b.density for b in d.boxes]),
                    {"long_name": "share of the box's points that are of interest"}),
        "mass": ("box", np.array([b.mass for b in d.boxes]),
                 {"long_name": "share of all points in the box"}),
        "points_in_box": ("box", np.array([b.points for b in d.boxes], np.int64),
                          {"long_name": "points in the box"}),
        "selected_step": ("box", selected,
                          {"long_name": "the chosen box's step on the peeling trajectory "
                                        "(-1: CART)"}),
    }
    for k, v in traj.items():
        data[f"trajectory_{k}"] = (("box", "step"), v,
                                   {"long_name": f"{k} along PRIM's peeling trajectory"})
    meta = {k: v for k, v in d.as_dict().items() if k != "boxes"}
    meta["bounds"] = {k: list(v) for k, v in d.bounds.items()}
    meta["analyzer"] = f"ema_workbench.analysis.{d.method}"
    meta["analyzed"] = now()
    return xr.Dataset(data, coords=coords, attrs={"discover": json.dumps(meta)})


def write_result(path, d: Discovery) -> str:
    """Write ``d`` into the store at ``path`` as the group ``discover/<method>-<outcome>``,
    replacing that group if it exists (and nothing else); return the group's path."""
    from .common import replace_group

    leaf = group_name(d.method, d.outcome).split("/", 1)[1]
    return replace_group(Path(path), DISCOVER_GROUP, leaf, _to_dataset(d))


def read_result(path, method: str, outcome: str):
    """The stored discovery ``discover/<method>-<outcome>`` as an ``xarray.Dataset``."""
    import xarray as xr

    path = Path(path)
    check_safe_metadata(path)
    with quiet():
        try:
            return xr.open_zarr(path, group=group_name(method, outcome), consolidated=False)
        except (FileNotFoundError, KeyError):
            raise StoreError(f"{path}: no stored discovery {group_name(method, outcome)}") \
                from None


def discover_store(path, outcome: str, *, write: bool = True, **kwargs) -> Discovery:
    """:func:`discover` on the point means of ``outcome`` in the store at ``path``; with
    ``write`` the result goes into the store (:func:`write_result`)."""
    X, y, ignored, _ = load_design(path, outcome)
    d = discover(X, y, outcome=outcome, **kwargs)
    d.ignored_factors = ignored
    if write:
        write_result(path, d)
    return d


# ---------------------------------------------------------------------------------------------
# Text and figure
# ---------------------------------------------------------------------------------------------


def summary_text(d: Discovery) -> str:
    """The boxes as text: statistics, then each restricted factor's limits and quasi-p."""
    lines = [f"{d.method.upper()}: {d.outcome} {d.direction} {d.threshold:g} at {d.cases} of "
             f"{d.points} points ({d.cases / d.points:.1%})"]
    if d.ignored_factors:
        lines.append(f"factors left out (not numeric or constant): "
                     f"{', '.join(d.ignored_factors)}")
    if not d.boxes:
        if d.rejected is None:
            lines.append(f"no box reaches density {d.params['min_density']:g}")
    for i, b in enumerate(d.boxes):
        lines.append(f"\nbox {i + 1}: coverage {b.coverage:.3f}, density {b.density:.3f}, "
                     f"mass {b.mass:.3f} ({b.points} points)")
        if not b.limits:
            lines.append("  (restricts no factor)")
        width = max([len(f) for f in b.limits] or [0])
        for f, (lo, hi) in b.limits.items():
            flo, fhi = d.bounds[f]
            qlo, qhi = b.qp_values.get(f, (None, None))
            qp = "" if d.method != "prim" else "   quasi-p " + " / ".join(
                "-" if q is None else f"{q:.2g}" for q in (qlo, qhi))
            lines.append(f"  {f.ljust(width)}  [{lo:.4g}, {hi:.4g}]  of [{flo:.4g}, "
                         f"{fhi:.4g}]{qp}")
    if d.rejected is not None:
        b = d.rejected["best"]
        lines.append(("\n" if d.boxes else "")
                     + f"{'no further' if d.boxes else 'no'} box reaches density "
                     f"{d.params['min_density']:g}: the densest box PRIM found "
                     f"{'next ' if d.boxes else ''}has density "
                     f"{d.rejected['density'][b]:.3f} at coverage "
                     f"{d.rejected['coverage'][b]:.3f} (lower --min-density to see it)")
    return "\n".join(lines)
