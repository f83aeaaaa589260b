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

Damage (a deleted or truncated chunk file, a corrupted ``zarr.json``, a lost ``_work`` group,
a manifest that says done over data that is not there) is found by :func:`check_store`:
every metadata document is compared with a freshly built template of the same config, every
task the manifest marks done is checked against what its data must hold (each chunk's
system count, finite moments, choice counts that add up to systems times states), and every
merged block against a new merge of its tasks. ``mc-threat info`` reports it; ``--resume``
repairs it (:func:`check_store` with ``repair=True``): metadata is restored from the
template, the damaged tasks lose their manifest entries and are computed again.

Nothing in a store is executed or unpickled: metadata is JSON, strings are zarr v3
``string`` arrays (``vlen-utf8``), and :func:`check_safe_metadata` refuses, before zarr opens
anything, a store whose metadata names a codec or data type outside a small allowlist.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .errors import StoreError
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


def is_store(path) -> bool:
    """Whether ``path`` looks like an mc-threat results store, complete, partial or damaged:
    a directory with a root ``zarr.json`` or a ``_work/zarr.json``."""
    path = Path(path)
    return path.is_dir() and ((path / "zarr.json").is_file()
                              or (path / "_work" / "zarr.json").is_file())


def not_a_store(path) -> StoreError:
    """The error for a path that holds no results store, saying what is there instead."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        why = "it does not exist"
    elif not path.is_dir():
        why = "it is a file"
    else:
        why = "no zarr.json in the directory"
    return StoreError(f"{path}: not an mc-threat results store ({why})")


def _is_empty_dir(path: Path) -> bool:
    """A directory holding no files (empty subdirectories and zarr's ``*.partial`` temporary
    files of an interrupted write do not count)."""
    return path.is_dir() and not any(f.is_file() and not f.name.endswith(".partial")
                                     for f in path.rglob("*"))


def check_new_store(path, *, overwrite: bool = False) -> None:
    """Refuse to create a store where something exists, unless ``overwrite`` and what exists
    is an mc-threat results store (or an empty directory): ``--overwrite`` never deletes a
    file or directory of something else."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    if not overwrite:
        raise StoreError(f"{path}: already exists; use --resume to continue it or "
                         "--overwrite to replace it")
    if _is_empty_dir(path):
        return
    if not is_store(path) or path.is_symlink():
        raise StoreError(f"{path}: exists and is not an mc-threat results store; --overwrite "
                         "replaces only results stores (remove it yourself, or choose "
                         "another --out)")
    root, _ = _read_json(path / "zarr.json")
    work, _ = _read_json(path / "_work" / "zarr.json")
    attrs = root.get("attributes", {}) if root is not None else {}
    ours = "config_hash" in attrs or "case_fingerprint" in attrs  # a sweep or a calibration
    if root is not None and not ours and work is None:
        raise StoreError(f"{path}: is a zarr store but not mc-threat results; --overwrite "
                         "replaces only results stores (remove it yourself, or choose "
                         "another --out)")


def create_store(path, config, design, plan, *, overwrite: bool = False) -> None:
    """Create the store's template: every array, coordinate and attribute, no results yet.

    The template is written next to ``path`` (``.NAME.creating``) and renamed into place
    when complete, so a run killed while creating it never leaves a half-made store.
    """
    path = Path(path)
    check_new_store(path, overwrite=overwrite)
    staging = path.with_name(f".{path.name}.creating")
    if staging.exists() or staging.is_symlink():
        _remove(staging)  # left by a run killed while creating this store
    _write_template(staging, config, design, plan)
    if path.exists() or path.is_symlink():
        _remove(path)
    os.rename(staging, path)


def _write_template(path: Path, config, design, plan) -> None:
    """Write every array, coordinate and attribute of a new store at ``path`` (which must
    not exist). Data variables are left unwritten (their fill values)."""
    import dask.array as da
    import xarray as xr
    import zarr

    from .kernels import power_bin_edges

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
    # The config hash and task layout again, so that a store whose root metadata is lost can
    # still be matched to its config and repaired (see check_store).
    work = root.create_group("_work", attributes={
        "config_hash": ds.attrs["config_hash"], "points_per_task": int(plan.block),
        "chunks_per_task": int(plan.chunks_per_task)})
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
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        os.remove(path)


# ---------------------------------------------------------------------------------------------
# Safety: nothing in a store is executed or unpickled
# ---------------------------------------------------------------------------------------------

SAFE_CODECS = frozenset({"bytes", "zstd", "blosc", "gzip", "crc32c", "transpose",
                         "vlen-utf8", "vlen-bytes"})
"""Codecs a results store may name: none of them unpickles or runs anything. zarr would
decode with whatever codec a store names, if one is registered (numcodecs has had a pickle
codec), so a store naming any other codec is refused before zarr opens it."""

SAFE_DATA_TYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                             "uint32", "uint64", "float32", "float64", "string", "bytes"})


def _read_json(path: Path) -> tuple[dict | None, str]:
    """``(document, '')`` or ``(None, why it cannot be read)`` for a JSON metadata file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or type(exc).__name__})"
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return None, f"not valid JSON ({str(exc)[:80]})"
    if not isinstance(doc, dict):
        return None, "not a JSON object"
    return doc, ""


def _unsafe(meta: dict, where: str) -> list[str]:
    problems = []
    if meta.get("node_type") != "array":
        return problems
    dtype = meta.get("data_type")
    if not isinstance(dtype, str) or dtype not in SAFE_DATA_TYPES:
        problems.append(f"{where}: data type {dtype!r} is not one mc-threat writes")
    codecs = meta.get("codecs")
    for codec in codecs if isinstance(codecs, list) else [codecs]:
        name = codec.get("name") if isinstance(codec, dict) else codec
        if name not in SAFE_CODECS:
            problems.append(f"{where}: codec {name!r} is not one mc-threat writes")
    return problems


def check_safe_metadata(path) -> None:
    """Refuse a store whose metadata names a codec or data type outside :data:`SAFE_CODECS`
    and :data:`SAFE_DATA_TYPES` (in any node's ``zarr.json`` or in the consolidated
    metadata), before zarr or xarray opens it. Unreadable documents are left to
    :func:`check_store` (zarr cannot decode with them either)."""
    path = Path(path)
    problems = []
    todo = [path]
    while todo:
        node = todo.pop()
        meta, _ = _read_json(node / "zarr.json")
        rel = node.relative_to(path).as_posix()
        where = "zarr.json" if rel == "." else f"{rel}/zarr.json"
        if meta is not None:
            problems += _unsafe(meta, where)
            consolidated = meta.get("consolidated_metadata")
            if isinstance(consolidated, dict) and isinstance(consolidated.get("metadata"), dict):
                for key, m in consolidated["metadata"].items():
                    if isinstance(m, dict):
                        problems += _unsafe(m, f"{where} (consolidated entry {key})")
        try:
            children = [c for c in node.iterdir() if c.is_dir() and not c.is_symlink()
                        and c.name != "c" and (c / "zarr.json").exists()]
        except OSError:
            children = []
        if node == path and (node / "_work").is_dir():
            children = list({*children, node / "_work"})
        todo.extend(children)
    if problems:
        raise StoreError(f"{path}: refused, its metadata names something mc-threat never "
                         f"writes ({problems[0]}); it is not opened")


class Store:
    """An open results store, for the sweep's writes and ``mc-threat info``."""

    def __init__(self, path):
        import zarr

        self.path = Path(path)
        if not (self.path / "zarr.json").exists():
            raise not_a_store(self.path)
        check_safe_metadata(self.path)
        try:
            with _quiet():
                self.root = zarr.open_group(self.path, mode="r+")
                self.work = self.root["_work"]
                self.moments = self.work["moments"]
                self.cbp = self.work["choice_by_power"]
                self.task_done = self.work["task_done"]
                self.block_done = self.work["block_done"]
            self.attrs = dict(self.root.attrs)
        except Exception as exc:
            detail = " ".join(str(exc).split())[:200]
            raise StoreError(f"{self.path}: damaged results store ({type(exc).__name__}: "
                             f"{detail}); 'mc-threat info {self.path}' says what is wrong, "
                             "'mc-threat sweep CONFIG --resume' repairs it") from None

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
        from .engine.tasks import merge_chunks

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


def open_results(path, *, unstack: bool = False):
    """Open a results store as an ``xarray.Dataset``.

    The outcome variables stay lazy (dask arrays, read when used); the coordinates (the
    factor values along ``point``, ``n_states``, the power-bin bounds) are small and are
    loaded at once, so that ``ds.groupby("model.weights.intent")``, ``ds.sel(...)``,
    ``ds.where(...)`` and plotting work on them directly.

    Parameters
    ----------
    path : the results store (``.zarr`` directory)
    unstack : for a grid design, replace the ``point`` dimension by one dimension per
        factor (``ds["contained"]`` then has the dimensions of ``ds.attrs["factors"]``, in
        that order, then ``stat``; each factor's dimension is indexed by its values).
        ``n_states`` becomes a scalar coordinate when it is the same at every point, and
        is dropped when ``model.n_states`` is itself a factor (it repeats it). Sampled
        designs (lhs, sobol, morris, points) have no such layout; they are refused.

    ``xr.open_zarr(path)`` gives the same variables, with lazy coordinates.

    Raises
    ------
    StoreError
        ``path`` is not a results store, or ``unstack`` for a store that is not a grid.
    """
    import xarray as xr

    path = Path(path)
    if not (path / "zarr.json").exists():
        raise not_a_store(path)
    check_safe_metadata(path)
    with _quiet():
        ds = xr.open_zarr(path, consolidated=None)
    ds = ds.assign_coords({name: ds[name].variable.compute() for name in ds.coords
                           if ds[name].chunks is not None})
    if unstack:
        ds = _unstack_grid(ds, path)
    return ds


def _unstack_grid(ds, path: Path):
    design = ds.attrs.get("design")
    factors = [str(f) for f in ds.attrs.get("factors", [])]
    if design != "grid" or not factors:
        raise StoreError(f"{path}: unstack=True needs a grid design (one value of each "
                         f"factor per point), this store's design is {design or 'unknown'}"
                         f"{'' if factors else ' without factors'}; select and group along "
                         "'point' instead")
    others = [n for n in ds.coords if n not in factors and n != "point"
              and ds[n].dims == ("point",)]
    scalars = {}
    for name in others:
        values = ds[name].values
        if values.size and (values == values[0]).all():
            scalars[name] = values[0]
    try:
        # a coordinate along point that is neither a factor nor constant can only be
        # n_states of a grid over model.n_states, which repeats that factor: dropped
        flat = ds.drop_vars(others)
        if len(factors) == 1:  # one factor: its values become the dimension's index
            out = flat.swap_dims(point=factors[0]).drop_vars("point")
        else:
            out = flat.set_index(point=factors).unstack("point")
    except ValueError as exc:
        raise StoreError(f"{path}: cannot unstack its grid ({exc})") from None
    return out.transpose(*factors, ...).assign_coords(scalars)


# ---------------------------------------------------------------------------------------------
# Damage: detection (mc-threat info) and repair (--resume)
# ---------------------------------------------------------------------------------------------

# Fields of an array's zarr.json that decide how its chunks are read and how xarray decodes
# them; all must equal the template's.
_ARRAY_FIELDS = ("zarr_format", "node_type", "shape", "data_type", "chunk_grid",
                 "chunk_key_encoding", "fill_value", "codecs", "dimension_names",
                 "storage_transformers", "attributes")
# Root attributes that legitimately differ from a template built now.
_RUN_ATTRS = ("started", "finished", "versions")
_MAX_LISTED = 4


@dataclass
class StoreCheck:
    """What :func:`check_store` found in a results store.

    Attributes
    ----------
    problems : one line per kind of damage found (empty: the store is not damaged)
    done : (blocks, runs) bool, tasks the manifest marks done whose data is intact
    merged : (blocks,) bool, blocks marked merged whose results equal a merge of their tasks
    bad_tasks, bad_blocks : tasks and blocks to compute or merge again
    restore : metadata files (path inside the store -> bytes) to restore from the template
    checked : False when the config could not be determined (only metadata was checked)
    """

    path: Path
    problems: list[str] = field(default_factory=list)
    config: object | None = None
    design: object | None = None
    plan: object | None = None
    attrs: dict = field(default_factory=dict)
    done: np.ndarray | None = None
    merged: np.ndarray | None = None
    bad_tasks: list[tuple[int, int]] = field(default_factory=list)
    bad_blocks: list[int] = field(default_factory=list)
    bad_entries: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    restore: dict[str, bytes] = field(default_factory=dict)
    checked: bool = False
    template: tuple | None = field(default=None, repr=False)

    @property
    def tasks(self) -> int:
        return 0 if self.done is None else int(self.done.size)

    @property
    def tasks_done(self) -> int:
        return 0 if self.done is None else int(self.done.sum())

    @property
    def blocks(self) -> int:
        return 0 if self.merged is None else int(self.merged.size)

    @property
    def blocks_merged(self) -> int:
        return 0 if self.merged is None else int(self.merged.sum())

    @property
    def complete(self) -> bool:
        return (self.checked and not self.problems and self.tasks_done == self.tasks
                and self.blocks_merged == self.blocks)

    @property
    def status(self) -> str:
        """``'damaged'``, ``'complete'`` or ``'incomplete'``."""
        if self.problems:
            return "damaged"
        return "complete" if self.complete else "incomplete"


def _listed(items) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _open_array(path: Path, node: str, mode: str = "r"):
    """``(array, '')`` or ``(None, why)`` for the array at ``node`` inside the store."""
    import zarr

    try:
        with _quiet():
            return zarr.open_array(store=str(path), path=node, mode=mode), ""
    except Exception as exc:  # noqa: BLE001 - any failure to open is damage to report
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"


def _read(arr, region=Ellipsis):
    """``arr[region]`` or None when a chunk cannot be read or decoded."""
    try:
        with _quiet():
            return np.asarray(arr[region])
    except Exception:  # noqa: BLE001 - a truncated or garbled chunk file
        return None


def _same(a, b) -> bool:
    if a is None or b is None or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _as_int(value) -> int | None:
    """A positive int attribute, or None (absent or garbled)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if ok else None


def _chunk_node(key: str) -> str:
    """The node a chunk file belongs to (``point/c/0`` -> ``point``)."""
    return key.split("/c/", 1)[0]


def _template_files(config, design, plan) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """The files of a new store of this config and plan (metadata and coordinate chunks:
    the data variables are not written), and the values of its coordinate arrays."""
    with tempfile.TemporaryDirectory(prefix="mc-threat-template-") as tmp:
        t = Path(tmp) / "template.zarr"
        _write_template(t, config, design, plan)
        files = {f.relative_to(t).as_posix(): f.read_bytes()
                 for f in sorted(t.rglob("*")) if f.is_file()}
        coords = {}
        for node in {_chunk_node(k) for k in files if not k.endswith("zarr.json")}:
            arr, _ = _open_array(t, node)
            coords[node] = _read(arr)
    return files, coords


def _nodes(files: dict[str, bytes]) -> dict[str, list[str]]:
    """Template node -> its files (``zarr.json`` first); the root node is ``''``."""
    nodes: dict[str, list[str]] = {}
    for key in files:
        if key == "zarr.json" or key.endswith("/zarr.json"):
            nodes.setdefault(key[: -len("zarr.json")].rstrip("/"), []).insert(0, key)
    for key in files:
        if not key.endswith("zarr.json"):
            nodes[_chunk_node(key)].append(key)
    return nodes


def check_store(path, config=None, plan=None, design=None, *, template=None) -> StoreCheck:
    """Check a results store for damage, reading only (``mc-threat info``, ``--resume``).

    Parameters
    ----------
    path : the store
    config : the config to check it against (``--resume``); None reads the stored one.
    plan, design : that config's task plan and design (default: from the config and the
        task layout recorded in the store).
    template : ``StoreCheck.template`` of an earlier check of the same config (reused).

    Returns
    -------
    StoreCheck

    Raises
    ------
    StoreError
        ``path`` is not an mc-threat results store; its metadata names a codec or data type
        mc-threat never writes; or, with ``config``, the store was made from another config
        or task layout, or the config it was made from cannot be told.
    """
    from .config import ConfigError, config_from_yaml, config_hash
    from .design import design_points
    from .engine.tasks import make_plan

    path = Path(path)
    if not is_store(path):
        raise not_a_store(path)
    check_safe_metadata(path)
    res = StoreCheck(path)
    root, root_err = _read_json(path / "zarr.json")
    work, work_err = _read_json(path / "_work" / "zarr.json")
    rattrs = root.get("attributes") if root is not None else None
    wattrs = work.get("attributes") if work is not None else None
    rattrs = rattrs if isinstance(rattrs, dict) else None
    wattrs = wattrs if isinstance(wattrs, dict) and wattrs.get("config_hash") else None
    if root is None:
        res.problems.append(f"zarr.json (the root metadata): {root_err}")
    elif rattrs is None or "config_hash" not in rattrs:
        if wattrs is None and work is None:
            raise StoreError(f"{path}: not an mc-threat results store (its zarr.json has no "
                             "mc-threat attributes)")
        res.problems.append("zarr.json (the root metadata): the mc-threat attributes are gone")
        rattrs = None
    if work is None:
        what = "the _work group is gone" if not (path / "_work").exists() else work_err
        res.problems.append(f"_work/zarr.json (the bookkeeping group): {what}")
    res.attrs = dict(rattrs or {})
    stored_hash = (rattrs or {}).get("config_hash") or (wattrs or {}).get("config_hash")
    layout = {}
    for attrs in (wattrs or {}, rattrs or {}):  # the root's, when readable, wins
        block, per_task = (_as_int(attrs.get(k)) for k in ("points_per_task", "chunks_per_task"))
        if block and per_task:
            layout = {"points_per_task": block, "chunks_per_task": per_task}

    if config is None:
        text = (rattrs or {}).get("config")
        try:
            config = config_from_yaml(text, source="stored config") if isinstance(text, str) \
                else None
        except ConfigError:
            config = None
        if config is None or config_hash(config) != stored_hash:
            res.problems.append("the config it was made from cannot be read from it, so its "
                                "data was not checked; resuming with that config repairs it")
            return res
        from .engine.sweep import check_size

        check_size(config)  # a stored config is drawn in full below: refuse absurd ones
    else:
        if not stored_hash:
            raise StoreError(f"{path}: damaged beyond repair: the config it was made from "
                             "cannot be told (no readable config_hash); use --overwrite to "
                             "start it again")
        if stored_hash != config_hash(config):
            raise StoreError(f"{path}: was made from a different config (its config_hash "
                             f"differs); resume it with the config stored in it, or use "
                             "--overwrite")
    design = design if design is not None else design_points(config)
    if plan is None:
        import dataclasses

        plan = make_plan(design.configs, config.run.systems, config.run.chunk)
        if layout:
            plan = dataclasses.replace(plan, block=layout["points_per_task"],
                                       chunks_per_task=layout["chunks_per_task"])
    elif layout and (layout["points_per_task"] != plan.block
                     or layout["chunks_per_task"] != plan.chunks_per_task):
        raise StoreError(f"{path}: task layout ({layout['points_per_task']} points x "
                         f"{layout.get('chunks_per_task')} chunks per task) differs from this "
                         f"run's ({plan.block} x {plan.chunks_per_task}); the store was made by "
                         "another version of mc-threat")
    res.config, res.design, res.plan = config, design, plan
    res.checked = True

    res.template = template or _template_files(config, design, plan)
    files, coords = res.template
    bad_meta = _check_metadata(path, root, files, coords, res)
    _check_data(path, res, skip=bad_meta)
    return res


def _check_metadata(path: Path, root: dict | None, files: dict[str, bytes],
                    coords: dict[str, np.ndarray], res: StoreCheck) -> set[str]:
    """Compare every metadata document and coordinate with the template; record what to
    restore in ``res.restore``. Returns the nodes whose metadata is wrong."""
    bad: set[str] = set()
    tattrs = json.loads(files["zarr.json"])["attributes"]
    attrs = root.get("attributes") if root is not None else None
    if isinstance(attrs, dict) and "config_hash" in attrs:
        wrong = [k for k in tattrs if k not in _RUN_ATTRS and attrs.get(k) != tattrs[k]]
        if wrong or root.get("node_type") != "group" or root.get("zarr_format") != 3:
            what = f"attribute(s) {_listed(wrong)}" if wrong else "its kind"
            res.problems.append(f"zarr.json (the root metadata): {what} not what its config "
                                "gives")
            bad.add("")
        cm = root.get("consolidated_metadata")
        if isinstance(cm, dict):
            meta = cm.get("metadata") if isinstance(cm.get("metadata"), dict) else {}
            stale = [node for node, keys in _nodes(files).items() if node and not _same_meta(
                meta.get(node), json.loads(files[keys[0]]), group=node == "_work")]
            if stale:
                res.problems.append(f"zarr.json (the root metadata): its consolidated copy of "
                                    f"the metadata of {_listed(stale)} is stale")
                bad.add("")
    else:  # missing, unreadable or without its attributes: reported by check_store
        bad.add("")
    if "" in bad:
        res.restore["zarr.json"] = files["zarr.json"]
    work_gone = not (path / "_work" / "zarr.json").exists()
    wrong_nodes = []
    for node, keys in _nodes(files).items():
        if not node:
            continue
        meta, why = _read_json(path / keys[0])
        ok = _same_meta(meta, json.loads(files[keys[0]]), group=node == "_work")
        if ok and node in coords:
            arr, _ = _open_array(path, node)
            ok = arr is not None and _same(_read(arr), coords[node])
            why = "" if ok else "its coordinate values are missing or wrong"
        if not ok:
            bad.add(node)
            res.restore.update({key: files[key] for key in keys})
            if not (work_gone and node.startswith("_work")):  # a lost _work is reported once
                wrong_nodes.append(f"{keys[0]} ({why or 'differs from what its config gives'})")
    if wrong_nodes:
        res.problems.append(f"metadata: {_listed(wrong_nodes)}")
    return bad


def _same_meta(meta, tmeta: dict, group: bool = False) -> bool:
    if not isinstance(meta, dict):
        return False
    if group:  # the _work group; stores made before it carried attributes have none
        return (meta.get("node_type") == "group"
                and meta.get("attributes") in ({}, tmeta.get("attributes")))
    return all(meta.get(k) == tmeta.get(k) for k in _ARRAY_FIELDS)


def _check_data(path: Path, res: StoreCheck, skip: set[str]) -> None:
    """Check the manifest against the data it vouches for (see the module docstring)."""
    from .engine.tasks import merge_chunks
    from .kernels.stats import M_COUNT, M_M2

    plan, design = res.plan, res.design
    B, R, C = plan.n_blocks, plan.n_runs, plan.n_chunks
    counts = np.array([plan.chunk_range(c)[1] for c in range(C)], dtype=np.float64)
    n_states = np.array([c.model.n_states for c in design.configs], dtype=np.int64)
    arrays = {}
    for node in ("_work/task_done", "_work/block_done", "_work/moments",
                 "_work/choice_by_power", *OUTCOMES, "choice_by_power"):
        arrays[node] = None if node in skip else _open_array(path, node)[0]

    done = np.zeros((B, R), bool)
    merged = np.zeros(B, bool)
    for node, flags in (("_work/task_done", done), ("_work/block_done", merged)):
        arr = arrays[node]
        if arr is None:
            continue
        values = _read(arr)
        if values is None:  # some manifest chunk is unreadable: read entry by entry
            values = np.zeros(flags.shape, np.int64)
            for ix in np.ndindex(flags.shape):
                v = _read(arr, ix)
                if v is None:
                    res.bad_entries.append((node, ix))
                else:
                    values[ix] = v
        for ix in zip(*np.nonzero((values != 0) & (values != 1)), strict=True):
            res.bad_entries.append((node, tuple(int(i) for i in ix)))
        flags[...] = values == 1
    if res.bad_entries:
        res.problems.append(f"manifest: unreadable or garbled entries "
                            f"{_listed(f'{n}{list(ix)}' for n, ix in res.bad_entries)}")

    mom, cbp = arrays["_work/moments"], arrays["_work/choice_by_power"]
    bad_tasks: dict[tuple[int, int], str] = {}
    bad_blocks: dict[int, str] = {}
    for b in range(B):
        lo, hi = plan.block_range(b)
        runs = [r for r in range(R) if done[b, r]]
        if not runs:
            if merged[b]:
                bad_blocks[b] = "marked merged but none of its tasks is done"
            continue
        if mom is None or cbp is None:
            continue  # its metadata is wrong: reported above, data not checked
        m_all = _read(mom, np.s_[lo:hi])
        k_all = _read(cbp, np.s_[lo:hi])
        parts_m = np.full((hi - lo, C, N_OUTCOMES, N_MOMENTS), np.nan)
        parts_k = np.zeros((hi - lo, C, N_POWER_BINS, N_CHOICES), np.int64)
        for r in runs:
            cs = plan.run_chunks(r)
            c0, c1 = cs.start, cs.stop
            m = m_all[:, c0:c1] if m_all is not None else _read(mom, np.s_[lo:hi, c0:c1])
            k = k_all[:, c0:c1] if k_all is not None else _read(cbp, np.s_[lo:hi, c0:c1])
            why = _task_problem(m, k, counts[c0:c1], n_states[lo:hi], M_COUNT, M_M2)
            if why:
                bad_tasks[(b, r)] = why
            else:
                parts_m[:, c0:c1], parts_k[:, c0:c1] = m, k
        if not merged[b]:
            continue
        if len(runs) < R or any((b, r) in bad_tasks for r in runs):
            bad_blocks[b] = "marked merged but some of its tasks are not done or damaged"
            continue
        summary = summary_from_moments(merge_chunks(parts_m))
        for k_out, name in enumerate(OUTCOMES):
            want = np.stack([summary[s][:, k_out] for s in STATS], axis=1)
            arr = arrays[name]
            if arr is not None and not _same(_read(arr, np.s_[lo:hi]), want):
                bad_blocks[b] = f"{name}: stored results missing or not the merge of its tasks"
                break
        else:
            arr = arrays["choice_by_power"]
            if arr is not None and not _same(_read(arr, np.s_[lo:hi]), parts_k.sum(axis=1)):
                bad_blocks[b] = "choice_by_power: stored counts missing or not the sum of its tasks"
    if bad_tasks:
        kinds = sorted(set(bad_tasks.values()))
        res.problems.append(f"_work: {len(bad_tasks)} task(s) marked done have damaged data "
                            f"({'; '.join(kinds)}): (block, run) {_listed(sorted(bad_tasks))}")
    if bad_blocks:
        kinds = sorted(set(bad_blocks.values()))
        res.problems.append(f"results: {len(bad_blocks)} point block(s) marked merged are "
                            f"damaged ({'; '.join(kinds)}): block {_listed(sorted(bad_blocks))}")
    for (b, r) in bad_tasks:
        done[b, r] = False
        bad_blocks.setdefault(b, "")
    for b in bad_blocks:
        merged[b] = False
    res.done, res.merged = done, merged
    res.bad_tasks, res.bad_blocks = sorted(bad_tasks), sorted(bad_blocks)
    finished = res.attrs.get("finished")
    if finished and not res.problems and (not done.all() or not merged.all()):
        res.problems.append(f"zarr.json: marked finished ({finished}) but "
                            f"{int((~done).sum())} task(s) are not done")


def _task_problem(m, k, counts, n_states, M_COUNT, M_M2) -> str:
    """Why the stored data of a task marked done cannot be its results ('' if it can)."""
    if m is None:
        return "moments unreadable"
    if k is None:
        return "choice counts unreadable"
    if np.isnan(m[..., M_COUNT]).any():
        return "moments missing"
    if not (m[..., M_COUNT] == counts[None, :, None]).all():
        return "wrong system counts"
    if not np.isfinite(m).all() or (m[..., M_M2] < 0).any():
        return "moments not finite"
    want = counts[None, :].astype(np.int64) * n_states[:, None]
    if (k < 0).any() or not (k.sum(axis=(2, 3)) == want).all():
        return "choice counts missing or wrong"
    return ""


def repair_store(check: StoreCheck) -> StoreCheck:
    """Repair what ``check`` (from :func:`check_store` with the run's config) found.

    Metadata is restored from the template (the root keeps its start time and any
    attributes added later, such as a sensitivity analysis); the consolidated metadata is
    dropped (``Store.finish`` writes it again); then the data is checked again and damaged
    tasks and blocks lose their manifest entries, so that the sweep computes them again.
    Returns the check after the repair (no problems; ``done`` and ``merged`` what is left).
    """
    path = check.path
    for key, data in check.restore.items():
        if key != "zarr.json":
            target = path / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    root, _ = _read_json(path / "zarr.json")
    if "zarr.json" in check.restore:
        doc = json.loads(check.restore["zarr.json"])
        old = root.get("attributes") if root is not None else None
        if isinstance(old, dict):  # keep the run's times and attributes added later
            doc["attributes"].update({k: v for k, v in old.items()
                                      if k not in doc["attributes"] or k in _RUN_ATTRS})
    elif root is not None:
        doc = root
    else:
        raise StoreError(f"{path}: cannot repair its root metadata")
    doc.pop("consolidated_metadata", None)  # stale now; Store.finish writes it again
    doc["attributes"]["finished"] = ""
    (path / "zarr.json").write_text(json.dumps(doc, indent=2))
    again = check_store(path, check.config, check.plan, check.design, template=check.template)
    entries = {(n, ix) for n, ix in again.bad_entries}
    entries |= {("_work/task_done", t) for t in again.bad_tasks}
    entries |= {("_work/block_done", (b,)) for b in again.bad_blocks}
    arrays = {}
    for node, ix in sorted(entries):
        if node not in arrays:
            arrays[node] = _open_array(path, node, mode="r+")[0]
        region = tuple(slice(i, i + 1) for i in ix)
        write_region(arrays[node], region, 0)
    again.problems = []
    again.bad_entries = []
    return again
