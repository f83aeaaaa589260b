"""Sensitivity analysis of sweep outcomes: SALib's Sobol and Morris analyzers -> xarray.

The split is SALib's own: *sample* (:mod:`mc_threat.design` draws the points with SALib's
samplers), *evaluate* (the sweep engine fills a results store, one point per sample row, in
sample order), *analyze* (this module hands SALib's analyzers the stored outcome means).

:func:`analyze` is the one code path from ``(problem, X, Y)`` to indices. It knows nothing
about stores, so it can be fed an analytic test function (Ishigami, Sobol G) evaluated on the
same SALib sample, which is how the tests validate the pipeline. :func:`analyze_store` reads
``problem``, ``X`` and ``Y`` from a finished sweep store, calls :func:`analyze` and writes the
indices into the same store; :func:`run_sensitivity` runs (or resumes) the sweep first.

Variables written to the store (and nothing else; the sweep results are never touched)::

    outcome, factor, factor2     new dimensions (outcome and factor names as strings)
    S1, S1_conf, ST, ST_conf     (outcome, factor)            Sobol designs
    S2, S2_conf                  (outcome, factor, factor2)   Sobol with second_order: true
    mu, mu_star, mu_star_conf,
    sigma                        (outcome, factor)            Morris designs
    mc_sem, mc_noise_std,
    output_std, mc_noise_share   (outcome,)                   Monte Carlo error, both designs
    S1_convergence, ST_convergence,
    S1_conf_convergence,
    ST_conf_convergence          (outcome, base_samples, factor)   Sobol with convergence=True
    delta, pawn, ... (and S1)    (outcome, factor)            given-data methods, any design
                                                              (see mc_threat.analysis.given_data)

``*_conf`` is the half-width of SALib's bootstrap confidence interval (``conf_level``,
0.95 by default). ``mc_noise_share = mc_noise_std**2 / output_std**2`` is the share of the
output variance across design points that the Monte Carlo error of the point means produces
(errors shared by all points, as with common random numbers, cancel and are not counted):
compare it with the indices (see ``docs/sensitivity.md``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import ConfigError, config_from_yaml
from ..store import Store, StoreError, now, open_results
from .common import (  # noqa: F401  (re-exported: they were defined here)
    ANALYSIS_DIMS,
    ANALYSIS_VARS,
    CONVERGENCE_VARS,
    GIVEN_DATA_VARS,
    MORRIS_VARS,
    NOISE_TARGET,
    NOISE_VARS,
    SOBOL_VARS,
    cell,
    checked_inputs,
    is_constant,
    mc_error,
    noise_from_chunks,
    outputs_by_name,
    point_noise_variance,
    short_factor,
    systems_for_noise_share,
    text_table,
    write_analysis,
)
from .designs import (  # noqa: F401  (re-exported: they were defined here)
    DEFAULT_FACTORS,
    DEFAULT_MORRIS_TRAJECTORIES,
    DEFAULT_SOBOL_SAMPLES,
    SAMPLED_FOR_ANALYSIS,
    check_sensitivity_design,
    default_sweep,
    with_default_sweep,
)

__all__ = [
    "ANALYSIS_VARS",
    "DEFAULT_FACTORS",
    "SensitivityReport",
    "analyze",
    "analyze_store",
    "convergence",
    "convergence_sizes",
    "default_sweep",
    "has_analysis",
    "mc_error",
    "run_sensitivity",
    "summary_text",
    "systems_for_noise_share",
    "with_default_sweep",
]

DEFAULT_RESAMPLES = {"sobol": 100, "morris": 1000}
# ---------------------------------------------------------------------------------------------
# The analysis (one code path for analytic test functions and for stores)
# ---------------------------------------------------------------------------------------------


def _check_sobol_rows(X: np.ndarray, D: int, second_order: bool) -> None:
    """Check that X has the row structure of a Saltelli/Sobol' sample (A, AB_1..AB_D,
    [BA_1..BA_D,] B per base row): AB_j equals A except in column j. A store whose point
    order differed from the sample order would fail here instead of giving wrong indices."""
    step = 2 * D + 2 if second_order else D + 2
    if X.shape[0] % step:
        raise ValueError(f"{X.shape[0]} points is not a multiple of {step}: not a Sobol sample "
                         f"with second_order={second_order} over {D} factors")
    A = X[0::step]
    B = X[step - 1::step]
    for j in range(D):
        AB = X[1 + j::step]
        others = [k for k in range(D) if k != j]
        if not (np.array_equal(AB[:, others], A[:, others]) and np.array_equal(AB[:, j], B[:, j])):
            raise ValueError(f"the points are not in Sobol/Saltelli sample order with "
                             f"second_order={second_order} (rows AB_{j} differ from A outside "
                             f"factor {j})")


def analyze(problem: dict, X, Y, *, method: str, second_order: bool = False,
            num_levels: int = 4, conf_level: float = 0.95, num_resamples: int | None = None,
            seed: int = 1):
    """Sensitivity indices of every output with SALib's analyzers, as an ``xarray.Dataset``.

    Parameters
    ----------
    problem : SALib problem dict (``num_vars``, ``names``, ``bounds``).
    X : (n_points, D) array, the SALib sample the outputs were computed on, in sample order.
    Y : mapping ``{output name: (n_points,) array}``, or an ``(n_points,)`` array (one output
        named ``y``), or ``(n_points, k)`` (outputs ``y0 .. y{k-1}``).
    method : ``'sobol'`` (``SALib.analyze.sobol.analyze``) or ``'morris'``
        (``SALib.analyze.morris.analyze``).
    second_order : Sobol only; must match the sample.
    num_levels : Morris only; must match the sample.
    conf_level : level of the bootstrap confidence intervals.
    num_resamples : bootstrap resamples (default 100 for Sobol, 1000 for Morris).
    seed : bootstrap seed, ``>= 1`` (SALib treats a seed of 0 as "no seed").

    Returns
    -------
    xarray.Dataset
        Dimensions ``outcome`` (the output names) and ``factor`` (``problem['names']``),
        plus ``factor2`` for S2. Sobol: ``S1, S1_conf, ST, ST_conf`` (and ``S2, S2_conf``,
        symmetric, NaN on the diagonal); Morris: ``mu, mu_star, mu_star_conf, sigma``.
        An output that is constant over the design has NaN Sobol indices (no variance to
        decompose) and zero Morris effects.
    """
    import xarray as xr

    if method not in SAMPLED_FOR_ANALYSIS:
        raise ValueError(f"method must be 'sobol' or 'morris', got {method!r}")
    problem, X, outputs = checked_inputs(problem, X, Y, conf_level, seed)
    names = problem["names"]
    D = problem["num_vars"]
    resamples = int(num_resamples or DEFAULT_RESAMPLES[method])
    if method == "sobol":
        _check_sobol_rows(X, D, second_order)
        keys = ["S1", "S1_conf", "ST", "ST_conf"] + (["S2", "S2_conf"] if second_order else [])
    else:
        keys = list(MORRIS_VARS)
    results = {k: [] for k in keys}
    for y in outputs.values():
        r = (_sobol_one(problem, y, second_order, conf_level, resamples, seed)
             if method == "sobol" else
             _morris_one(problem, X, y, num_levels, conf_level, resamples, seed))
        for k in keys:
            results[k].append(r[k])
    coords = {"outcome": np.array(list(outputs), dtype=object),
              "factor": np.array(names, dtype=object)}
    if "S2" in results:
        coords["factor2"] = np.array(names, dtype=object)
    data = {}
    for k in keys:
        dims = ("outcome", "factor", "factor2") if k.startswith("S2") else ("outcome", "factor")
        data[k] = xr.Variable(dims, np.asarray(results[k], dtype=np.float64),
                              attrs=_var_attrs(k, conf_level))
    ds = xr.Dataset(data, coords=coords)
    ds["factor"].attrs["long_name"] = "swept factor (dotted config name)"
    if "factor2" in ds.coords:
        ds["factor2"].attrs["long_name"] = "second factor of a pair (S2)"
    ds["outcome"].attrs["long_name"] = "model outcome"
    return ds


def _sobol_one(problem, y, second_order, conf_level, resamples, seed) -> dict:
    from SALib.analyze import sobol

    D = problem["num_vars"]
    if is_constant(y):
        nan = np.full(D, np.nan)
        out = {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
        if second_order:
            out |= {"S2": np.full((D, D), np.nan), "S2_conf": np.full((D, D), np.nan)}
        return out
    with warnings.catch_warnings():
        # a bootstrap resample can be constant where the full sample is not; SALib warns
        warnings.filterwarnings("ignore", message="Constant values encountered")
        r = sobol.analyze(problem, y, calc_second_order=second_order, num_resamples=resamples,
                          conf_level=conf_level, print_to_console=False, seed=int(seed))
    out = {k: np.asarray(r[k], dtype=np.float64) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    if second_order:
        for k in ("S2", "S2_conf"):
            m = np.asarray(r[k], dtype=np.float64)  # SALib fills j < k only
            upper = np.triu(np.ones((D, D), bool), 1)
            sym = np.full((D, D), np.nan)
            sym[upper] = m[upper]
            sym.T[upper] = m[upper]
            out[k] = sym
    return out


def _morris_one(problem, X, y, num_levels, conf_level, resamples, seed) -> dict:
    from SALib.analyze import morris

    r = morris.analyze(problem, X, y, num_resamples=resamples, conf_level=conf_level,
                       print_to_console=False, num_levels=num_levels, seed=int(seed))
    return {k: np.asarray(r[k], dtype=np.float64) for k in MORRIS_VARS}


def _var_attrs(name: str, conf_level: float) -> dict:
    level = f"{100 * conf_level:g}%"
    info = {
        "S1": ("first-order Sobol index", "fraction of output variance"),
        "ST": ("total-order Sobol index", "fraction of output variance"),
        "S2": ("second-order Sobol index of the factor pair", "fraction of output variance"),
        "mu": ("mean elementary effect (Morris)", "outcome units per factor range"),
        "mu_star": ("mean absolute elementary effect (Morris mu*)",
                    "outcome units per factor range"),
        "sigma": ("standard deviation of the elementary effects (Morris)",
                  "outcome units per factor range"),
    }
    base = name.removesuffix("_conf")
    long_name, units = info[base]
    if name.endswith("_conf"):
        long_name = f"half-width of the {level} bootstrap confidence interval of {base}"
    return {"long_name": long_name, "units": units}


# ---------------------------------------------------------------------------------------------
# Convergence: the indices on nested prefixes of the Sobol' design
# ---------------------------------------------------------------------------------------------


def convergence_sizes(base: int) -> list[int]:
    """Base sample sizes of the convergence study of a design with base sample ``base``:
    ``base/8, base/4, base/2, base`` (those of at least 2 rows)."""
    return sorted({n for n in (base // 8, base // 4, base // 2, base) if n >= 2})


def convergence(problem: dict, X, Y, *, second_order: bool = False, conf_level: float = 0.95,
                num_resamples: int | None = None, seed: int = 1, sizes=None):
    """S1 and ST (with their intervals) on nested prefixes of a Sobol/Saltelli sample.

    The first ``n`` base rows of a Saltelli sample are rows ``0 .. n (D + 2)`` of ``X`` (each
    base row is followed by its ``AB_j`` and ``B`` rows), and they are the first ``n``
    points of the scrambled Sobol' sequence, so for ``n`` a power of 2 each prefix is itself
    a balanced Sobol' design. :func:`analyze` is run on each prefix with the same seed; the
    last size is the whole sample, whose indices equal ``analyze(problem, X, Y)``.

    Returns
    -------
    xarray.Dataset
        ``S1_convergence``, ``S1_conf_convergence``, ``ST_convergence`` and
        ``ST_conf_convergence`` with dimensions ``(outcome, base_samples, factor)``.
    """
    import xarray as xr

    D = len(problem["names"])
    step = 2 * D + 2 if second_order else D + 2
    X = np.asarray(X, dtype=np.float64)
    base = X.shape[0] // step
    sizes = convergence_sizes(base) if sizes is None else sorted(int(n) for n in sizes)
    if not sizes or sizes[-1] > base:
        raise ValueError(f"convergence sizes {sizes} do not fit a base sample of {base}")
    outputs = outputs_by_name(Y, X.shape[0])
    parts = []
    for n in sizes:
        rows = n * step
        part = analyze(problem, X[:rows], {k: v[:rows] for k, v in outputs.items()},
                       method="sobol", second_order=second_order, conf_level=conf_level,
                       num_resamples=num_resamples, seed=seed)
        parts.append(part[["S1", "S1_conf", "ST", "ST_conf"]])
    ds = xr.concat(parts, dim=xr.DataArray(np.array(sizes, dtype=np.int64),
                                           dims="base_samples"))
    out = xr.Dataset(coords={"outcome": ds["outcome"], "factor": ds["factor"],
                             "base_samples": ds["base_samples"]})
    for k in ("S1", "S1_conf", "ST", "ST_conf"):
        out[f"{k}_convergence"] = ds[k].transpose("outcome", "base_samples", "factor")
        out[f"{k}_convergence"].attrs = {
            **ds[k].attrs, "long_name": ds[k].attrs["long_name"] + ", on the first "
            "base_samples rows of the Sobol' design"}
    out["base_samples"].attrs = {"long_name": "base sample size N of the nested prefix "
                                              "(N (D + 2) points)"}
    return out


convergence_indices = convergence
"""Alias of :func:`convergence` (inside :func:`analyze_store`, ``convergence`` is a flag)."""


# ---------------------------------------------------------------------------------------------
# Monte Carlo error of the outputs
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------------------------


def has_analysis(ds) -> str | None:
    """``'sobol'`` or ``'morris'`` when a results Dataset holds indices, else None."""
    if "ST" in ds.data_vars:
        return "sobol"
    if "mu_star" in ds.data_vars:
        return "morris"
    return None


def _complete(store: Store) -> bool:
    st = store.status()
    return st["tasks_done"] == st["tasks"] and st["blocks_merged"] == st["blocks"]


def _stored_config(attrs: dict, path: Path):
    try:
        return config_from_yaml(attrs["config"], source=f"{path} (stored config)")
    except (KeyError, ConfigError) as exc:
        raise StoreError(f"{path}: the stored config cannot be read ({exc})") from None


def analyze_store(path, *, outcomes=None, conf_level: float = 0.95,
                  num_resamples: int | None = None, seed: int | None = None,
                  write: bool = True, method: str | None = None,
                  convergence: bool = False):
    """Analyse a finished Sobol or Morris sweep store and write the indices into it.

    ``method`` ``'delta'``, ``'pawn'`` or ``'rbd_fast'`` analyses a store of any design with
    SALib's given-data analyzers instead
    (:func:`mc_threat.analysis.given_data.analyze_given_store`);
    ``'sobol'``/``'morris'`` (or None) must match the store's design. ``convergence`` (Sobol
    only) adds the indices on nested prefixes of the design (:func:`convergence`).

    The sweep is never recomputed: this reads the stored point means (``stat='mean'``) and
    standard errors, the stored SALib problem and the factor coordinates (the sample ``X``),
    and calls :func:`analyze`. Earlier analysis variables (:data:`ANALYSIS_VARS`) are deleted
    first, so a rerun replaces them cleanly; the sweep's variables are not touched.

    Parameters
    ----------
    path : the results store.
    outcomes : outcome names to analyse (default: every outcome in the store).
    conf_level, num_resamples : see :func:`analyze`.
    seed : bootstrap seed (default: the design's seed + 1).
    write : write the result into the store (and consolidate its metadata).

    Returns
    -------
    xarray.Dataset
        The indices and the Monte Carlo error (see the module docstring).

    Raises
    ------
    StoreError
        Not a store, not a Sobol/Morris design, or the sweep is incomplete.
    """
    from ..kernels import OUTCOMES

    path = Path(path)
    if method is not None and method not in SAMPLED_FOR_ANALYSIS:
        from .given_data import GIVEN_METHODS, analyze_given_store

        if method not in GIVEN_METHODS:
            raise ConfigError(f"--method: must be sobol, morris, delta, pawn or rbd_fast, got "
                              f"{method}")
        if convergence:
            raise ConfigError("--convergence: only for the Sobol method")
        return analyze_given_store(path, method=method, outcomes=outcomes,
                                   conf_level=conf_level, num_resamples=num_resamples,
                                   seed=seed, write=write)
    store = Store(path)
    attrs = dict(store.attrs)
    kind = attrs.get("design", "")
    if method is not None and kind in SAMPLED_FOR_ANALYSIS and method != kind:
        raise StoreError(f"{path}: --method {method} needs a {method} design, this store "
                         f"holds a {kind} design (delta, pawn and rbd_fast work on any design)")
    if convergence and kind != "sobol":
        raise ConfigError(f"--convergence: needs a Sobol design, {path} holds a "
                          f"{kind or 'unknown'} design")
    if kind not in SAMPLED_FOR_ANALYSIS:
        raise StoreError(f"{path}: sensitivity analysis needs a sobol or morris sweep, this "
                         f"store holds a {kind or 'unknown'} design")
    if not _complete(store):
        raise StoreError(f"{path}: the sweep is incomplete; finish it first "
                         "(mc-threat sensitivity CONFIG --resume)")
    try:
        problem = json.loads(attrs["salib_problem"])
    except (KeyError, ValueError):
        raise StoreError(f"{path}: no readable salib_problem attribute") from None
    sweep = _stored_config(attrs, path).sweep
    names = [str(n) for n in problem["names"]]
    wanted = list(OUTCOMES) if outcomes is None else [str(o) for o in outcomes]
    unknown = [o for o in wanted if o not in OUTCOMES]
    if unknown:
        raise ConfigError(f"--outcomes: unknown outcome(s) {', '.join(unknown)}; known: "
                          f"{', '.join(OUTCOMES)}")
    ds = open_results(path)
    missing = [n for n in names if n not in ds.coords]
    if missing:
        raise StoreError(f"{path}: no point coordinate for factor(s) {', '.join(missing)}")
    X = np.stack([ds[n].values.astype(np.float64) for n in names], axis=1)
    means = {o: ds[o].sel(stat="mean").values.astype(np.float64) for o in wanted}
    sems = {o: ds[o].sel(stat="sem").values.astype(np.float64) for o in wanted}
    ds.close()
    bad = [o for o, y in means.items() if not np.isfinite(y).all()]
    if bad:
        raise StoreError(f"{path}: outcome {bad[0]} has points without results; resume the "
                         "sweep first")
    if seed is None:
        seed = int(getattr(sweep, "seed", 0)) + 1
    second_order = bool(getattr(sweep, "second_order", False))
    levels = int(getattr(sweep, "levels", 4))
    try:
        result = analyze(problem, X, means, method=kind, second_order=second_order,
                         num_levels=levels, conf_level=conf_level, num_resamples=num_resamples,
                         seed=seed)
    except ValueError as exc:
        raise StoreError(f"{path}: {exc}") from None
    if convergence:
        try:
            result = result.merge(convergence_indices(
                problem, X, means, second_order=second_order, conf_level=conf_level,
                num_resamples=num_resamples, seed=seed))
        except ValueError as exc:
            raise StoreError(f"{path}: {exc}") from None
    result = result.merge(mc_error(means, sems, noise_from_chunks(store, wanted)))
    meta = {
        "method": kind,
        "analyzer": f"SALib.analyze.{kind}.analyze",
        "second_order": second_order,
        "conf_level": conf_level,
        "num_resamples": int(num_resamples or DEFAULT_RESAMPLES[kind]),
        "seed": int(seed),
        "points": int(X.shape[0]),
        "systems_per_point": int(attrs.get("systems_per_point", 0)),
        "variables": sorted(result.data_vars),
        "analyzed": now(),
    }
    if kind == "sobol":
        step = 2 * len(names) + 2 if second_order else len(names) + 2
        meta["base_samples"] = int(X.shape[0] // step)
        if convergence:
            meta["convergence_base_samples"] = [int(n) for n in result["base_samples"].values]
    else:
        meta["num_levels"] = levels
    result.attrs["sensitivity"] = json.dumps(meta)
    if write:
        write_analysis(path, result, attrs)
    return result


# ---------------------------------------------------------------------------------------------
# The command: sweep (or resume, or skip) then analyse
# ---------------------------------------------------------------------------------------------


@dataclass
class SensitivityReport:
    """What :func:`run_sensitivity` did."""

    path: Path
    swept: bool  # False when the sweep was already complete (or --analyze-only)
    sweep: object | None  # the SweepReport when the sweep ran
    analysis: object  # the xarray.Dataset of indices
    systems_per_point: int


def run_sensitivity(config, out, *, analyze_only: bool = False, resume: bool = False,
                    overwrite: bool = False, workers: int | None = None,
                    scheduler: str | None = None, cluster_file: str | None = None,
                    progress: bool = True, systems: int | None = None, outcomes=None,
                    conf_level: float = 0.95, num_resamples: int | None = None,
                    design: str = "sobol", convergence: bool = False,
                    samples: int | None = None) -> SensitivityReport:
    """Run (or resume) the Sobol/Morris sweep of ``config`` into ``out``, then analyse it.

    ``config`` without a ``sweep`` section gets :func:`default_sweep` (``design``). An
    existing store made from the same config and complete is analysed without sweeping
    again; an incomplete one needs ``resume``; one made from another config needs
    ``overwrite``. With ``analyze_only`` the store must exist and hold the same design.
    ``samples`` overrides ``sweep.samples``; with ``resume``, a larger value extends a
    Sobol' store made with fewer. Other arguments (``convergence`` too) are those of
    :func:`~mc_threat.engine.sweep.run_sweep` and :func:`analyze_store`.
    """
    from ..config import config_hash
    from ..engine.sweep import run_sweep, with_samples, with_systems

    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    config = with_default_sweep(config, design)
    config = with_samples(with_systems(config, systems), samples)
    check_sensitivity_design(config)
    out = Path(out)
    sweep_report = None
    if analyze_only:
        if not out.exists():
            raise StoreError(f"{out}: no results store to analyse; run the sweep first "
                             "(without --analyze-only)")
        stored = _stored_config(Store(out).attrs, out)
        if stored.sweep != config.sweep:
            raise StoreError(f"{out}: holds a different sweep design than the config; "
                             "analyse the store directly (mc-threat sensitivity STORE)")
    elif out.exists() and not overwrite and not resume:
        store = Store(out)
        if store.attrs.get("config_hash") != config_hash(config):
            from ..engine.extend import extends, stored_config

            if extends(stored_config(out), config):
                raise StoreError(f"{out}: holds the same Sobol design with fewer samples; add "
                                 "--resume to extend it to sweep.samples="
                                 f"{config.sweep.samples} (only the new points are computed)")
            raise StoreError(f"{out}: already exists and was made from a different config; "
                             "use --overwrite to replace it")
        if not _complete(store):
            raise StoreError(f"{out}: the sweep is incomplete; continue it with --resume")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        sweep_report = run_sweep(config, out, workers=workers, scheduler=scheduler,
                                 cluster_file=cluster_file, resume=resume, overwrite=overwrite,
                                 progress=progress)
    analysis = analyze_store(out, outcomes=outcomes, conf_level=conf_level,
                             num_resamples=num_resamples, convergence=convergence)
    systems_pp = int(Store(out).attrs.get("systems_per_point", config.run.systems))
    return SensitivityReport(out, sweep_report is not None, sweep_report, analysis, systems_pp)


# ---------------------------------------------------------------------------------------------
# Text summary
# ---------------------------------------------------------------------------------------------


def summary_text(analysis, systems_per_point: int | None = None,
                 target: float = NOISE_TARGET) -> str:
    """Tables of the indices (rows outcomes, columns factors, ``value±conf``) and of the
    Monte Carlo noise, with the systems per point that would bring it under ``target``."""
    kind = has_analysis(analysis)
    factors = [str(f) for f in analysis["factor"].values]
    outcomes = [str(o) for o in analysis["outcome"].values]
    tables = [("ST", "ST_conf", "total-order Sobol indices ST ± conf"),
              ("S1", "S1_conf", "first-order Sobol indices S1 ± conf")] if kind == "sobol" \
        else [("mu_star", "mu_star_conf", "Morris mu* ± conf (outcome units per factor range)"),
              ("sigma", None, "Morris sigma")]
    blocks = []
    for var, conf, title in tables:
        rows = [["outcome"] + [short_factor(f) for f in factors]]
        for o in outcomes:
            v = analysis[var].sel(outcome=o).values
            c = analysis[conf].sel(outcome=o).values if conf else None
            rows.append([o] + [cell(v[k], None if c is None else c[k])
                               for k in range(len(factors))])
        blocks.append(title + "\n" + text_table(rows))
    rows = [["outcome", "mc_sem", "output_std", "noise share"]
            + ([f"systems for <= {target:.0%}"] if systems_per_point else [])]
    for o in outcomes:
        share = float(analysis["mc_noise_share"].sel(outcome=o))
        row = [o, f"{float(analysis['mc_sem'].sel(outcome=o)):.3g}",
               f"{float(analysis['output_std'].sel(outcome=o)):.3g}",
               "n/a (constant)" if not np.isfinite(share) else f"{share:.2%}"]
        if systems_per_point:
            need = systems_for_noise_share(share, systems_per_point, target)
            row.append("-" if need is None else f"{need:,}")
        rows.append(row)
    blocks.append("Monte Carlo noise of the outcome means (compare the noise share with the "
                  "indices)\n" + text_table(rows))
    return "\n\n".join(blocks)


