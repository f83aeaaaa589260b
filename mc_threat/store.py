"""The results store: one zarr v3 directory per sweep, read with xarray.

Layout of ``results/NAME.zarr``::

    /                        the results Dataset (``xr.open_zarr(path)``)
      point                  sweep-point index; every swept factor is a coordinate along it
      stat                   mean, std, sem, count, min, max
      power_bin, choice      axes of the choice-by-power counts
      <outcome>              (point, stat) float64, one variable per MODEL.md outcome
      choice_by_power        (point, power_bin, choice) int64
      attrs                  config (YAML), config_hash, seed, versions, started, finished, ...
    /_work                   bookkeeping a notebook never needs
      moments                (point, chunk, outcome, moment) per-chunk moment records
      choice_by_power        (point, chunk, power_bin, choice) per-chunk counts
      task_done              (block, run) uint8: the completion manifest
      block_done             (block,) uint8: block merged into the results

A task is a block of points times a run of chunks of systems (see ``engine.Plan``).
Every write covers whole zarr chunks of its array (asserted in :func:`write_region`): a
task's region is exactly one chunk of ``_work/moments``, a finished block exactly one chunk
of each result variable, so concurrent or repeated writes never share a chunk. A task's
manifest entry is written after its data, so a run killed at any moment resumes from the
manifest and recomputes at most the tasks that were in flight.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .kernels import N_CHOICES, N_OUTCOMES, N_POWER_BINS, OUTCOMES
from .kernels.stats import N_MOMENTS, summary_from_moments

STATS = ("mean", "std", "sem", "count", "min", "max")
CHOICES = ("balance", "bandwagon", "neutral")
MOMENTS = ("count", "mean", "m2", "min", "max")
FORMAT_VERSION = 1

OUTCOME_INFO = {
    "share_balance": ("share of states whose final choice is to balance", "fraction of states"),
    "share_bandwagon": ("share of states whose final choice is to bandwagon",
                        "fraction of states"),
    "share_neutral": ("share of states that stay neutral", "fraction of states"),
    "bop_agreement": ("share of states whose principal threat is their balance-of-power threat",
                      "fraction of states"),
    "top_threat_is_hegemon": ("the most-named principal threat is the strongest state",
                              "indicator (0/1)"),
    "coalition_ratio": ("balancing coalition power over threat-side power, S_B(t*)/S_W(t*)",
                        "ratio of power"),
    "contained": ("the top threat is contained (coalition_ratio >= 1)", "indicator (0/1)"),
    "n_coalitions": ("number of balancing coalitions", "coalitions"),
    "hegemon_allies": ("share of the other states in the hegemon's bloc", "fraction of n - 1"),
    "hegemon_opposed": ("share of the other states balancing against the hegemon",
                        "fraction of n - 1"),
    "hegemon_favoured": ("the hegemon has more allies than opponents", "indicator (0/1)"),
    "alignment_change": ("share of states whose (threat, choice) differs from balance of power",
                         "fraction of states"),
    "bop_share_balance": ("share of states balancing under balance of power",
                          "fraction of states"),
    "bop_contained": ("top threat contained under balance of power", "indicator (0/1)"),
    "bop_hegemon_favoured": ("hegemon favoured under balance of power", "indicator (0/1)"),
}


class StoreError(ValueError):
    """A results store cannot be used as asked (exists, differs, damaged)."""


@contextmanager
def _quiet():
    """Silence notices about consolidated metadata in zarr format 3 (used knowingly)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*consolidated metadata.*")
        yield


def versions() -> dict[str, str]:
    """Versions of the packages whose behaviour determines the stored numbers."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("mc-threat", "numba", "numpy", "dask", "distributed", "xarray", "zarr", "SALib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_region(arr, region: tuple[slice, ...], data) -> None:
    """Write ``data`` to ``arr[region]`` after checking the region covers whole chunks.

    An unaligned write would read-modify-write a chunk shared with another region, which
    loses data when two writers meet; this check makes that impossible by construction.
    """
    for s, size, ch in zip(region, arr.shape, arr.chunks, strict=False):
        start, stop = s.start or 0, size if s.stop is None else s.stop
        if start % ch or (stop % ch and stop != size):
            raise AssertionError(f"unaligned write to {arr.path}: {start}:{stop} with chunk {ch}")
    arr[region] = data


def coord_values(values: np.ndarray) -> np.ndarray:
    """A factor's values as a typed coordinate (float, int or string)."""
    vals = list(values)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        return np.array(vals, dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals):
        return np.array(vals, dtype=np.float64)
    return np.array([str(v) for v in vals], dtype=object)


def check_new_store(path, *, overwrite: bool = False) -> None:
    """Refuse to create a store where something exists, unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise StoreError(f"{path}: already exists; use --resume to continue it or "
                         "--overwrite to replace it")


def create_store(path, config, design, plan, *, overwrite: bool = False) -> None:
    """Create the store's template: every array, coordinate and attribute, no results yet."""
    import dask.array as da
    import xarray as xr
    import zarr

    from .kernels import power_bin_edges

    path = Path(path)
    check_new_store(path, overwrite=overwrite)
    if path.exists():
        _remove(path)
    P, K, M = plan.n_points, plan.block, plan.chunks_per_task
    coords = {
        "point": np.arange(P),
        "stat": np.array(STATS, dtype=object),
        "power_bin": np.arange(N_POWER_BINS),
        "choice": np.array(CHOICES, dtype=object),
    }
    edges = power_bin_edges()
    coords["power_bin_lower"] = ("power_bin", edges)
    coords["power_bin_upper"] = ("power_bin", np.append(edges[1:], 10.0**0))
    for k, name in enumerate(design.factors):
        coords[name] = ("point", coord_values(design.values[:, k]))
    coords["n_states"] = ("point", np.array([c.model.n_states for c in design.configs]))
    data_vars = {}
    for name in OUTCOMES:
        long_name, units = OUTCOME_INFO[name]
        data_vars[name] = xr.Variable(("point", "stat"),
                                      da.full((P, len(STATS)), np.nan, chunks=(K, len(STATS))),
                                      attrs={"long_name": long_name, "units": units})
    data_vars["choice_by_power"] = xr.Variable(
        ("point", "power_bin", "choice"),
        da.zeros((P, N_POWER_BINS, N_CHOICES), dtype=np.int64, chunks=(K, N_POWER_BINS,
                                                                        N_CHOICES)),
        attrs={"long_name": "final balance-of-threat choices per relative-power bin",
               "units": "states (summed over systems)"},
    )
    ds = xr.Dataset(data_vars, coords=coords)
    ds["power_bin_lower"].attrs = {"long_name": "lower edge of p_i / p_hegemon", "units": "1"}
    ds.attrs.update({
        "title": "mc-threat sweep results",
        "format_version": FORMAT_VERSION,
        "config": config.to_yaml(),
        "config_hash": _hash(config),
        "seed": int(config.run.seed),
        "systems_per_point": int(plan.systems),
        "chunk": int(plan.chunk),
        "n_chunks": int(plan.n_chunks),
        "points_per_task": int(plan.block),
        "chunks_per_task": int(plan.chunks_per_task),
        "design": design.kind,
        "factors": list(design.factors),
        "salib_problem": json.dumps(design.problem) if design.problem else "",
        "versions": json.dumps(versions()),
        "started": now(),
        "finished": "",
    })
    with _quiet():
        ds.to_zarr(path, mode="w-", compute=False, zarr_format=3, consolidated=False)
    root = zarr.open_group(path, mode="r+")
    work = root.create_group("_work")
    work.create_array("moments", shape=(P, plan.n_chunks, N_OUTCOMES, N_MOMENTS),
                      chunks=(K, M, N_OUTCOMES, N_MOMENTS), dtype="float64", fill_value=np.nan)
    work.create_array("choice_by_power", shape=(P, plan.n_chunks, N_POWER_BINS, N_CHOICES),
                      chunks=(K, M, N_POWER_BINS, N_CHOICES), dtype="int64", fill_value=0)
    work.create_array("task_done", shape=(plan.n_blocks, plan.n_runs), chunks=(1, 1),
                      dtype="uint8", fill_value=0)
    work.create_array("block_done", shape=(plan.n_blocks,), chunks=(1,), dtype="uint8",
                      fill_value=0)


def _hash(config) -> str:
    from .config import config_hash

    return config_hash(config)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        os.remove(path)


class Store:
    """An open results store, for the sweep's writes and ``mc-threat info``."""

    def __init__(self, path):
        import zarr

        self.path = Path(path)
        if not (self.path / "zarr.json").exists():
            raise StoreError(f"{self.path}: not an mc-threat results store (no zarr.json)")
        try:
            self.root = zarr.open_group(self.path, mode="r+")
            self.work = self.root["_work"]
            self.moments = self.work["moments"]
            self.cbp = self.work["choice_by_power"]
            self.task_done = self.work["task_done"]
            self.block_done = self.work["block_done"]
        except Exception as exc:
            raise StoreError(f"{self.path}: damaged results store ({exc})") from None
        self.attrs = dict(self.root.attrs)

    @property
    def block(self) -> int:
        return int(self.attrs["points_per_task"])

    @property
    def chunks_per_task(self) -> int:
        return int(self.attrs["chunks_per_task"])

    def done_tasks(self) -> np.ndarray:
        """(blocks, runs) bool: tasks the manifest records as finished."""
        return self.task_done[:, :] == 1

    def write_task(self, b: int, r: int, moments: np.ndarray, cbp: np.ndarray) -> None:
        """Store task ``(b, r)``'s per-chunk results, then record it in the manifest."""
        lo = b * self.block
        hi = lo + moments.shape[0]
        c0 = r * self.chunks_per_task
        c1 = c0 + moments.shape[1]
        write_region(self.moments, (slice(lo, hi), slice(c0, c1)), moments)
        write_region(self.cbp, (slice(lo, hi), slice(c0, c1)), cbp)
        write_region(self.task_done, (slice(b, b + 1), slice(r, r + 1)), 1)

    def finalize_block(self, b: int) -> None:
        """Merge block ``b``'s chunks in chunk order into the result variables."""
        from .engine import merge_chunks

        lo = b * self.block
        hi = min(lo + self.block, self.moments.shape[0])
        parts = self.moments[lo:hi]
        if np.isnan(parts[..., 0]).any():
            raise StoreError(f"{self.path}: block {b} has chunks without results")
        summary = summary_from_moments(merge_chunks(parts))
        for k, name in enumerate(OUTCOMES):
            table = np.stack([summary[s][:, k] for s in STATS], axis=1)
            write_region(self.root[name], (slice(lo, hi), slice(None)), table)
        write_region(self.root["choice_by_power"], (slice(lo, hi),),
                     self.cbp[lo:hi].sum(axis=1))
        write_region(self.block_done, (slice(b, b + 1),), 1)

    def finish(self) -> None:
        """Record the end time and consolidate the metadata (once, at the end)."""
        import zarr

        self.root.attrs["finished"] = now()
        with _quiet():
            zarr.consolidate_metadata(self.path)

    def status(self) -> dict:
        """What is stored and how complete it is."""
        done = self.done_tasks()
        return {
            "path": str(self.path),
            "points": int(self.moments.shape[0]),
            "chunks": int(self.moments.shape[1]),
            "chunks_per_task": self.chunks_per_task,
            "tasks": int(done.size),
            "tasks_done": int(done.sum()),
            "blocks": int(done.shape[0]),
            "blocks_merged": int((self.block_done[:] == 1).sum()),
            "finished": self.attrs.get("finished", ""),
            "started": self.attrs.get("started", ""),
            "design": self.attrs.get("design", ""),
            "factors": list(self.attrs.get("factors", [])),
            "systems_per_point": self.attrs.get("systems_per_point"),
            "config_hash": self.attrs.get("config_hash", ""),
        }


def open_results(path):
    """Open a results store as an ``xarray.Dataset`` (lazily, with dask).

    ``xr.open_zarr(path)`` gives the same Dataset; this also checks the path first.
    """
    import xarray as xr

    path = Path(path)
    if not (path / "zarr.json").exists():
        raise StoreError(f"{path}: not an mc-threat results store (no zarr.json)")
    with _quiet():
        return xr.open_zarr(path, consolidated=None)
