"""Sensitivity indices from any design: SALib's given-data analyzers (delta, PAWN, RBD-FAST).

Sobol and Morris indices need their own samples (Saltelli's row structure, Morris
trajectories). These three estimators need only *some* sample of the factors and the
outcome at each point, so they work on a grid, an LHS, a Sobol or Morris design, or the
points of a case calibration:

``delta``     Borgonovo's moment-independent delta (``SALib.analyze.delta``): how far the
              whole distribution of the outcome moves when a factor is fixed, averaged over
              its values; 0 for a factor that does not matter, at most 1. SALib also returns
              a first-order index ``S1`` estimated from the same data (Plischke's method).
``pawn``      PAWN (``SALib.analyze.pawn``): the Kolmogorov-Smirnov distance between the
              outcome's distribution and its distribution within each of ``S`` slices of a
              factor's range; we store the median over the slices (``pawn``, the index of
              Pianosi and Wagener) and its minimum, mean and maximum.
``rbd_fast``  RBD-FAST's first-order index (``SALib.analyze.rbd_fast``): the share of the
              outcome's variance explained by the factor alone, as Sobol's ``S1``.

Intervals: delta and RBD-FAST come with SALib's bootstrap half-widths (``*_conf``). PAWN has
none in SALib, so :func:`analyze_given` resamples the design's rows with replacement
(``num_resamples`` times, seeded) and reports, like SALib, the half-width
``z_{(1+conf_level)/2} * std(bootstrap values)`` of every PAWN statistic's median.

Written into the store at the root, as the Sobol and Morris indices are, with dimensions
``(outcome, factor)`` (see :data:`GIVEN_VARS`); a rerun of any sensitivity analysis replaces
all of them and leaves the sweep's data alone.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..store import StoreError, check_safe_metadata, now, quiet

__all__ = ["GIVEN_METHODS", "GIVEN_VARS", "analyze_given", "analyze_given_store",
           "summary_text"]

GIVEN_METHODS = ("delta", "pawn", "rbd_fast")
GIVEN_VARS = {
    "delta": ("delta", "delta_conf", "S1", "S1_conf"),
    "pawn": ("pawn", "pawn_conf", "pawn_min", "pawn_mean", "pawn_max"),
    "rbd_fast": ("S1", "S1_conf"),
}
"""Variables each method writes (every one with dimensions ``(outcome, factor)``)."""
DEFAULT_RESAMPLES = 100
PAWN_SLICES = 10

_INFO = {
    "delta": ("Borgonovo's moment-independent delta", "1"),
    "S1": ("first-order index (share of output variance)", "fraction of output variance"),
    "pawn": ("PAWN index: median over the factor's slices of the Kolmogorov-Smirnov distance",
             "1"),
    "pawn_min": ("PAWN: minimum over the slices of the Kolmogorov-Smirnov distance", "1"),
    "pawn_mean": ("PAWN: mean over the slices of the Kolmogorov-Smirnov distance", "1"),
    "pawn_max": ("PAWN: maximum over the slices of the Kolmogorov-Smirnov distance", "1"),
}


def analyze_given(problem: dict, X, Y, *, method: str, conf_level: float = 0.95,
                  num_resamples: int | None = None, seed: int = 1, slices: int = PAWN_SLICES):
    """Indices of every output from any sample ``X`` of the factors, as an
    ``xarray.Dataset`` with dimensions ``(outcome, factor)``.

    Parameters
    ----------
    problem : SALib problem dict (``num_vars``, ``names``, ``bounds``).
    X : (n_points, D) the factors at each point (any design).
    Y : ``{output name: (n_points,)}`` (or one array, named ``y``).
    method : ``'delta'``, ``'pawn'`` or ``'rbd_fast'``.
    conf_level : level of the bootstrap intervals.
    num_resamples : bootstrap resamples (default 100).
    seed : bootstrap seed (>= 1).
    slices : PAWN: slices of each factor's range (SALib's ``S``).

    Returns
    -------
    xarray.Dataset
        The variables of :data:`GIVEN_VARS` ``[method]``; NaN for an output that is constant.
    """
    import xarray as xr

    from .common import checked_inputs, is_constant

    if method not in GIVEN_METHODS:
        raise ValueError(f"method must be one of {', '.join(GIVEN_METHODS)}, got {method!r}")
    problem, X, outputs = checked_inputs(problem, X, Y, conf_level, seed)
    names = problem["names"]
    D = problem["num_vars"]
    resamples = int(num_resamples or DEFAULT_RESAMPLES)
    keys = GIVEN_VARS[method]
    results = {k: [] for k in keys}
    for y in outputs.values():
        if is_constant(y):
            r = {k: np.full(D, np.nan) for k in keys}
        elif method == "delta":
            r = _delta(problem, X, y, conf_level, resamples, seed)
        elif method == "rbd_fast":
            r = _rbd_fast(problem, X, y, conf_level, resamples, seed)
        else:
            r = _pawn(problem, X, y, conf_level, resamples, seed, slices)
        for k in keys:
            results[k].append(r[k])
    level = f"{100 * conf_level:g}%"
    data = {}
    for k in keys:
        base = k.removesuffix("_conf")
        long_name, units = _INFO[base]
        if k.endswith("_conf"):
            long_name = f"half-width of the {level} bootstrap confidence interval of {base}"
        data[k] = (("outcome", "factor"), np.asarray(results[k], dtype=np.float64),
                   {"long_name": long_name, "units": units})
    ds = xr.Dataset(data, coords={"outcome": np.array(list(outputs), dtype=object),
                                  "factor": np.array(names, dtype=object)})
    ds["factor"].attrs["long_name"] = "swept factor (dotted config name)"
    ds["outcome"].attrs["long_name"] = "model outcome"
    return ds


def _delta(problem, X, y, conf_level, resamples, seed) -> dict:
    from SALib.analyze import delta

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns about ties and bins on coarse designs
        r = delta.analyze(problem, X, y, num_resamples=resamples, conf_level=conf_level,
                          print_to_console=False, seed=int(seed))
    # SALib >= 1.5.1 returns the classic estimator (plain bootstrap) as delta_raw, beside
    # variants with balanced and on/off resampling; older releases call it delta
    raw = "delta_raw" if "delta_raw" in r else "delta"
    return {"delta": np.asarray(r[raw], dtype=np.float64),
            "delta_conf": np.asarray(r[f"{raw}_conf"], dtype=np.float64),
            "S1": np.asarray(r["S1"], dtype=np.float64),
            "S1_conf": np.asarray(r["S1_conf"], dtype=np.float64)}


def _rbd_fast(problem, X, y, conf_level, resamples, seed) -> dict:
    from SALib.analyze import rbd_fast

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = rbd_fast.analyze(problem, X, y, num_resamples=resamples, conf_level=conf_level,
                             print_to_console=False, seed=int(seed))
    return {k: np.asarray(r[k], dtype=np.float64) for k in GIVEN_VARS["rbd_fast"]}


def _pawn_stats(problem, X, y, slices) -> np.ndarray:
    """(4, D): minimum, mean, median and maximum over the slices (SALib's PAWN)."""
    from SALib.analyze import pawn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty slices (coarse designs) give NaN, skipped
        # seed=None: SALib would otherwise reseed numpy's global generator (PAWN draws
        # nothing at random)
        r = pawn.analyze(problem, X, y, S=int(slices), print_to_console=False, seed=None)
    return np.array([r["minimum"], r["mean"], r["median"], r["maximum"]], dtype=np.float64)


def _pawn(problem, X, y, conf_level, resamples, seed, slices) -> dict:
    from scipy.stats import norm

    stats = _pawn_stats(problem, X, y, slices)
    rng = np.random.default_rng(int(seed))
    n = X.shape[0]
    boot = np.empty((resamples, X.shape[1]))
    for b in range(resamples):
        rows = rng.integers(0, n, n)
        boot[b] = _pawn_stats(problem, X[rows], y[rows], slices)[2]
    conf = norm.ppf(0.5 + conf_level / 2.0) * np.nanstd(boot, axis=0, ddof=1)
    return {"pawn": stats[2], "pawn_conf": conf, "pawn_min": stats[0], "pawn_mean": stats[1],
            "pawn_max": stats[3]}


# ---------------------------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------------------------


def _numeric_outcomes(ds) -> list[str]:
    return [k for k, v in ds.data_vars.items()
            if v.dims in (("point",), ("point", "stat")) and v.dtype.kind in "fiub"]


def load_points(path, outcomes=None):
    """``(factors, X, means, sems, ignored, attrs)`` of any store with swept points: the
    numeric factors that vary, their values, and each outcome's point means (and standard
    errors where the store has them)."""
    import xarray as xr

    from ..kernels import OUTCOMES
    from .discover import check_complete, outcome_values

    path = Path(path)
    if not (path.is_dir() and (path / "zarr.json").is_file()):
        raise StoreError(f"{path}: not an mc-threat results store (no zarr.json)")
    check_safe_metadata(path)
    with quiet():
        ds = xr.open_zarr(path, consolidated=None)
    try:
        factors = [str(f) for f in ds.attrs.get("factors") or []]
        if not factors or "point" not in ds.dims:
            raise StoreError(f"{path}: no swept factors (a single-point run); indices need "
                             "a design")
        check_complete(path)
        available = _numeric_outcomes(ds)
        if outcomes is None:
            wanted = [o for o in OUTCOMES if o in available] or available
        else:
            wanted = [str(o) for o in outcomes]
            unknown = [o for o in wanted if o not in available]
            if unknown:
                raise ConfigError(f"--outcomes: unknown outcome(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(available)}")
        used, ignored, cols = [], [], []
        for f in factors:
            if f not in ds.coords:
                raise StoreError(f"{path}: no point coordinate for factor {f}")
            v = ds[f].values
            if v.dtype.kind not in "fiu" or np.unique(v).size < 2:
                ignored.append(f)
                continue
            used.append(f)
            cols.append(v.astype(np.float64))
        means = {o: outcome_values(ds, o, path) for o in wanted}
        sems = {o: (ds[o].sel(stat="sem").values.astype(np.float64)
                    if ds[o].dims == ("point", "stat") and "sem" in ds["stat"].values
                    else np.full(ds.sizes["point"], np.nan)) for o in wanted}
        attrs = dict(ds.attrs)
    finally:
        ds.close()
    if not used:
        raise StoreError(f"{path}: no numeric factor varies over the points")
    bad = [o for o, y in means.items() if not np.isfinite(y).all()]
    if bad:
        raise StoreError(f"{path}: outcome {bad[0]} has points without results")
    return used, np.stack(cols, axis=1), means, sems, ignored, attrs


def analyze_given_store(path, *, method: str, outcomes=None, conf_level: float = 0.95,
                        num_resamples: int | None = None, seed: int | None = None,
                        write: bool = True):
    """:func:`analyze_given` on the point means of a store of any design (sweep or case
    calibration), written into the store in place of any earlier sensitivity analysis.

    ``seed`` defaults to the design's seed + 1 (1 when the design has none).
    """
    from ..store import Store
    from .common import mc_error, noise_from_chunks, write_analysis

    if method not in GIVEN_METHODS:
        raise ConfigError(f"--method: must be one of {', '.join(GIVEN_METHODS)}, got {method}")
    path = Path(path)
    names, X, means, sems, ignored, attrs = load_points(path, outcomes)
    problem = {"num_vars": len(names), "names": names,
               "bounds": [[float(X[:, k].min()), float(X[:, k].max())]
                          for k in range(len(names))]}
    if seed is None:
        seed = _design_seed(attrs) + 1
    try:
        result = analyze_given(problem, X, means, method=method, conf_level=conf_level,
                               num_resamples=num_resamples, seed=seed)
    except ValueError as exc:
        raise StoreError(f"{path}: {exc}") from None
    noise = {}
    if (path / "_work" / "zarr.json").is_file():
        noise = noise_from_chunks(Store(path), list(means))
    result = result.merge(mc_error(means, sems, noise))
    meta = {
        "method": method,
        "analyzer": f"SALib.analyze.{method}.analyze",
        "design": attrs.get("design", ""),
        "conf_level": conf_level,
        "num_resamples": int(num_resamples or DEFAULT_RESAMPLES),
        "seed": int(seed),
        "points": int(X.shape[0]),
        "systems_per_point": int(attrs.get("systems_per_point", 0) or 0),
        "ignored_factors": ignored,
        "variables": sorted(result.data_vars),
        "analyzed": now(),
    }
    if method == "pawn":
        meta["slices"] = PAWN_SLICES
        meta["interval"] = "bootstrap over design rows (mc-threat), normal approximation"
    result.attrs["sensitivity"] = json.dumps(meta)
    if write:
        write_analysis(path, result, attrs)
    return result


def _design_seed(attrs: dict) -> int:
    try:
        from ..config import config_from_yaml

        sweep = config_from_yaml(attrs["config"], source="stored config").sweep
        return int(getattr(sweep, "seed", 0) or 0)
    except Exception:  # a calibration store (no config) or an unreadable one: seed 0
        return 0


def summary_text(analysis) -> str:
    """Tables of the indices (rows outcomes, columns factors, ``value±conf``)."""
    from .common import cell, short_factor, text_table

    method = json.loads(analysis.attrs.get("sensitivity", "{}")).get("method", "")
    tables = {"delta": [("delta", "delta_conf", "Borgonovo delta ± conf"),
                        ("S1", "S1_conf", "first-order index S1 ± conf (from the same data)")],
              "pawn": [("pawn", "pawn_conf", "PAWN median KS distance ± conf (bootstrap)"),
                       ("pawn_max", None, "PAWN maximum KS distance")],
              "rbd_fast": [("S1", "S1_conf", "RBD-FAST first-order index S1 ± conf")]}[method]
    factors = [str(f) for f in analysis["factor"].values]
    blocks = []
    for var, conf, title in tables:
        rows = [["outcome"] + [short_factor(f) for f in factors]]
        for o in analysis["outcome"].values:
            v = analysis[var].sel(outcome=o).values
            c = analysis[conf].sel(outcome=o).values if conf else None
            rows.append([str(o)] + [cell(v[k], None if c is None else c[k])
                                    for k in range(len(factors))])
        blocks.append(title + "\n" + text_table(rows))
    return "\n\n".join(blocks)
