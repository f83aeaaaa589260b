"""What every sensitivity analysis shares (Sobol'/Morris in :mod:`.sensitivity`, the
given-data methods in :mod:`.given_data`): the checks of the inputs, the Monte Carlo noise of
the outcome means, the analysis variables written into a store, and the text tables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..store import Store, StoreError, quiet
from ..text import table

SOBOL_VARS = ("S1", "S1_conf", "ST", "ST_conf", "S2", "S2_conf")


MORRIS_VARS = ("mu", "mu_star", "mu_star_conf", "sigma")


NOISE_VARS = ("mc_sem", "mc_noise_std", "output_std", "mc_noise_share")


CONVERGENCE_VARS = ("S1_convergence", "S1_conf_convergence", "ST_convergence",
                    "ST_conf_convergence")


GIVEN_DATA_VARS = ("delta", "delta_conf", "pawn", "pawn_conf", "pawn_min", "pawn_mean",
                   "pawn_max")  # and S1, S1_conf (see mc_threat.analysis.given_data)


ANALYSIS_VARS = SOBOL_VARS + MORRIS_VARS + NOISE_VARS + CONVERGENCE_VARS + GIVEN_DATA_VARS
"""Every variable the analysis may write; a rerun deletes all of them before writing."""


ANALYSIS_DIMS = ("outcome", "factor", "factor2", "base_samples")


NOISE_TARGET = 0.01
"""Default target for :func:`systems_for_noise_share`: Monte Carlo noise at most 1% of the
output variance."""


def checked_inputs(problem: dict, X, Y, conf_level: float, seed: int):
    """Check the arguments every analysis shares; returns the SALib problem (names as
    strings, bounds as floats), ``X`` as float64 and the outputs by name."""
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    if int(seed) < 1:
        raise ValueError(f"seed must be >= 1 (SALib ignores a seed of 0), got {seed}")
    names = [str(n) for n in problem["names"]]
    D = len(names)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != D:
        raise ValueError(f"X must be (n_points, {D}), got {X.shape}")
    outputs = outputs_by_name(Y, X.shape[0])
    problem = {"num_vars": D, "names": names,
               "bounds": [list(map(float, b)) for b in problem["bounds"]]}
    return problem, X, outputs


def outputs_by_name(Y, n: int | None) -> dict[str, np.ndarray]:
    """Model outputs as ``{name: (n_points,) float64}``."""
    if isinstance(Y, Mapping):
        out = {str(k): np.asarray(v, dtype=np.float64) for k, v in Y.items()}
    else:
        arr = np.asarray(Y, dtype=np.float64)
        if arr.ndim == 1:
            out = {"y": arr}
        elif arr.ndim == 2:
            out = {f"y{k}": arr[:, k] for k in range(arr.shape[1])}
        else:
            raise ValueError(f"Y must be (n_points,) or (n_points, n_outputs), got {arr.shape}")
    if not out:
        raise ValueError("Y holds no outputs")
    for name, y in out.items():
        if y.ndim != 1:
            raise ValueError(f"output {name!r}: must be one value per point, got shape {y.shape}")
        if n is not None and y.shape[0] != n:
            raise ValueError(f"output {name!r}: {y.shape[0]} values for {n} design points")
        if not np.isfinite(y).all():
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"output {name!r}: non-finite value at point {bad}")
    return out


def is_constant(y: np.ndarray) -> bool:
    return float(np.ptp(y)) <= 1e-12 * max(1.0, float(np.abs(y).max()))


def point_noise_variance(chunk_means: np.ndarray, counts: np.ndarray) -> float:
    """Variance over design points of the Monte Carlo error of the point means.

    Batch means: chunk ``c`` of ``n_c`` systems gives every point an independent estimate
    ``m_c(p)``; with ``M = sum n_c`` and ``g(p)`` the pooled mean, the deviations
    ``d_c(p) = m_c(p) - g(p)`` have, over the points, the variance
    ``tau**2 (1/n_c - 1/M)`` in expectation, where ``tau**2 / M`` is the variance over the
    points of the error of ``g``. Variances are taken over the points, so an error all
    points share (common random numbers: points with equal generator settings see the same
    systems) cancels, as it cancels in the indices.

    Parameters
    ----------
    chunk_means : (n_points, n_chunks) per-chunk means of one outcome.
    counts : (n_chunks,) systems per chunk.

    Returns
    -------
    float
        ``tau**2 / M``; NaN with fewer than two chunks.
    """
    chunk_means = np.asarray(chunk_means, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if chunk_means.ndim != 2 or chunk_means.shape[1] != counts.shape[0]:
        raise ValueError(f"chunk_means {chunk_means.shape} and counts {counts.shape} disagree")
    if counts.shape[0] < 2:
        return float("nan")
    total = counts.sum()
    pooled = chunk_means @ counts / total
    dev = chunk_means - pooled[:, None]
    var_c = dev.var(axis=0)  # over the points, per chunk
    tau2 = var_c / (1.0 / counts - 1.0 / total)
    return float(np.average(tau2, weights=counts) / total)


def mc_error(means: Mapping[str, np.ndarray], sems: Mapping[str, np.ndarray],
             noise_var: Mapping[str, float] | None = None):
    """Monte Carlo error of each output next to the spread the indices decompose.

    Parameters
    ----------
    means, sems : ``{outcome: (n_points,)}`` point means and their Monte Carlo standard errors.
    noise_var : ``{outcome: float}`` variance over the points of the error of the means
        (:func:`point_noise_variance`); where missing or NaN, the mean of ``sems**2`` is used
        (exact for independent errors, an upper bound with common random numbers).

    Returns
    -------
    xarray.Dataset
        Over ``outcome``: ``mc_sem`` (root mean square of the per-point standard errors),
        ``mc_noise_std`` (standard deviation over the points of the Monte Carlo error),
        ``output_std`` (standard deviation of the means over the points) and
        ``mc_noise_share = mc_noise_std**2 / output_std**2`` (NaN for a constant output).
    """
    import xarray as xr

    names = list(means)
    mc_sem = np.array([math.sqrt(np.nanmean(np.square(sems[k]))) if np.isfinite(sems[k]).any()
                       else np.nan for k in names])
    noise = np.array([(noise_var or {}).get(k, np.nan) for k in names], dtype=np.float64)
    independent = ~np.isfinite(noise)
    noise = np.where(independent, mc_sem**2, np.maximum(noise, 0.0))
    std = np.array([0.0 if is_constant(means[k]) else float(np.std(means[k])) for k in names])
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(std > 0, noise / np.where(std > 0, std, 1.0) ** 2, np.nan)
    method = ("independent-error bound (one chunk per point)" if independent.all() else
              "batch means over the chunks of systems" if not independent.any() else "mixed")
    return xr.Dataset(
        {"mc_sem": ("outcome", mc_sem,
                    {"long_name": "Monte Carlo standard error of an outcome's mean at a design "
                                  "point (root mean square over the points)",
                     "units": "outcome units"}),
         "mc_noise_std": ("outcome", np.sqrt(noise),
                          {"long_name": "standard deviation over the design points of the Monte "
                                        "Carlo error of the point means (errors shared by all "
                                        "points cancel)",
                           "units": "outcome units", "method": method}),
         "output_std": ("outcome", std,
                        {"long_name": "standard deviation of the outcome means over the design "
                                      "points (the spread the indices decompose)",
                         "units": "outcome units"}),
         "mc_noise_share": ("outcome", share,
                            {"long_name": "share of the output variance that is Monte Carlo "
                                          "noise, mc_noise_std**2 / output_std**2",
                             "units": "fraction of output variance", "method": method})},
        coords={"outcome": np.array(names, dtype=object)},
    )


def systems_for_noise_share(noise_share: float, systems: int,
                            target: float = NOISE_TARGET) -> int | None:
    """Systems per point that bring ``mc_noise_share`` down to ``target``.

    The noise variance of a point mean falls as ``1 / systems``, so the systems needed are
    ``systems * noise_share / target`` (at least ``systems``). None when the share is NaN.
    """
    if not np.isfinite(noise_share):
        return None
    return max(int(systems), int(math.ceil(systems * noise_share / target)))


def noise_from_chunks(store: Store, outcomes: list[str],
                       values_per_read: int = 4_000_000) -> dict[str, float]:
    """:func:`point_noise_variance` of each outcome from the per-chunk moment records in
    ``_work/moments`` (point, chunk, outcome, moment), read a block of points at a time
    (about ``values_per_read`` stored numbers, so that memory stays bounded)."""
    from ..kernels import OUTCOMES
    from ..kernels.stats import M_COUNT, M_MEAN

    mom = store.moments
    n_points, n_chunks = mom.shape[:2]
    if n_chunks < 2:
        return {}
    index = [OUTCOMES.index(o) for o in outcomes]
    counts = np.asarray(mom[0, :, 0, M_COUNT], dtype=np.float64)
    total = counts.sum()
    # Accumulate, per (chunk, outcome), the sums over points of the deviation d_c(p) and of
    # its square, so that large stores never need all points in memory at once.
    s1 = np.zeros((n_chunks, len(index)))
    s2 = np.zeros((n_chunks, len(index)))
    points_per_read = max(1, values_per_read // (n_chunks * mom.shape[2] * mom.shape[3]))
    for lo in range(0, n_points, points_per_read):
        block = np.asarray(mom[lo:lo + points_per_read, :, :, M_MEAN])[:, :, index]
        pooled = np.einsum("pco,c->po", block, counts) / total
        dev = block - pooled[:, None, :]
        s1 += dev.sum(axis=0)
        s2 += np.square(dev).sum(axis=0)
    var_c = np.maximum(s2 / n_points - np.square(s1 / n_points), 0.0)
    tau2 = var_c / (1.0 / counts - 1.0 / total)[:, None]
    noise = np.average(tau2, axis=0, weights=counts) / total
    return {o: float(v) for o, v in zip(outcomes, noise, strict=True)}


def write_analysis(path: Path, result, attrs: dict) -> None:
    """Replace the analysis variables of the store at ``path`` with ``result``."""
    import zarr

    root = zarr.open_group(path, mode="r+")
    stale = [k for k in (*ANALYSIS_VARS, *ANALYSIS_DIMS) if k in root]
    for k in stale:
        del root[k]
    with quiet():
        if stale:
            zarr.consolidate_metadata(path)
        ds = result.copy()
        # xarray's mode='a' replaces the root attributes with the Dataset's: carry the
        # sweep's attributes along, so that only "sensitivity" is added or replaced.
        ds.attrs = {**attrs, "sensitivity": result.attrs["sensitivity"]}
        ds.to_zarr(path, mode="a", consolidated=False, zarr_format=3)
        zarr.consolidate_metadata(path)


def replace_group(path: Path, parent: str, leaf: str, ds) -> str:
    """Write ``ds`` into the store at ``path`` as the group ``parent/leaf``, replacing that
    group if it exists (and nothing else); return the group's path. For analysis results
    kept beside a sweep's data (``discover/...``, ``features/...``)."""
    import zarr

    path = Path(path)
    with quiet():
        # not the consolidated metadata: it may predate a node written since
        root = zarr.open_group(path, mode="r+", use_consolidated=False)
        if parent in root:
            node = root[parent]
            if not isinstance(node, zarr.Group):
                raise StoreError(f"{path}: holds a {parent!r} node that is not a group; "
                                 "refusing to write over it")
            if leaf in node:
                del node[leaf]
        ds.to_zarr(path, group=f"{parent}/{leaf}", mode="w-", zarr_format=3,
                   consolidated=False)
        zarr.consolidate_metadata(path)
    return f"{parent}/{leaf}"


def short_factor(name: str) -> str:
    """``model.weights.power`` -> ``w.power``, ``generator.power_sigma`` -> ``g.power_sigma``."""
    return (name.replace("model.weights.", "w.").replace("model.", "")
            .replace("generator.", "g."))


def cell(v: float, c: float | None) -> str:
    if not np.isfinite(v):
        return "n/a"
    return f"{v:.3f}" if c is None or not np.isfinite(c) else f"{v:.3f}±{c:.3f}"


def text_table(rows: list[list[str]]) -> str:
    return "\n".join(table(rows))
