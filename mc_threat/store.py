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
    /reservoir               only with run.reservoir = K > 0 (``open_reservoir(path)``)
      <outcome>, <attribute> (point, system) float64: systems 0 .. K-1 at every point

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

This module is long on purpose: it is the one place that knows the layout (creating,
writing, reading, the reservoir group, the safety checks), so that a change of layout is a
change of one file.

Nothing in a store is executed or unpickled: metadata is JSON, strings are zarr v3
``string`` arrays (``vlen-utf8``), and :func:`check_safe_metadata` refuses, before zarr opens
anything, a store whose metadata names a codec or data type outside a small allowlist.
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

from .errors import StoreError
from .kernels import N_CHOICES, N_OUTCOMES, N_POWER_BINS, OUTCOMES
from .kernels.stats import N_MOMENTS, empty_moments, merge_moments, summary_from_moments

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
def quiet():
    """Silence notices about consolidated metadata in zarr format 3 (used knowingly)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*consolidated metadata.*")
        yield


RESULTS_SINCE = "0.2.0"
"""The first mc-threat version whose stored numbers this version reproduces bit for bit; a
store made by an older version is not resumed (its finished tasks would mix with new ones)."""


def made_by_version(attrs) -> str | None:
    """The mc-threat version recorded in a store's ``versions`` attribute; None when there is
    none to read (a damaged attribute, or "not installed": mc-threat run from a source tree
    without installing it, whose version is not known)."""
    try:
        v = json.loads((attrs or {}).get("versions", ""))["mc-threat"]
    except (ValueError, KeyError, TypeError):
        return None
    return v if isinstance(v, str) and v != "not installed" else None


def version_older(version: str, than: str) -> bool:
    """``version < than``, comparing the leading ``X.Y.Z`` of each (so ``0.1.0+local`` or
    ``0.1.0.dev3`` count as 0.1.0); a version without one counts as older: a store whose
    maker cannot be told is not mixed with this version's results."""
    import re

    def release(v: str):
        m = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", v)
        return None if m is None else tuple(int(g or 0) for g in m.groups())

    a, b = release(version), release(than)
    return a is None or (b is not None and a < b)


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


def store_kind(path) -> str | None:
    """What mc-threat store ``path`` holds: ``"calibration"`` for a case calibration store
    (``mc-threat case NAME --calibrate``; its root attributes hold ``case_fingerprint``),
    ``"sweep"`` for a results store of a sweep (complete, partial or damaged), None when it
    is not a store (see :func:`is_store`)."""
    path = Path(path)
    if not is_store(path):
        return None
    root, _ = read_json(path / "zarr.json")
    attrs = root.get("attributes") if root is not None else None
    if isinstance(attrs, dict) and "case_fingerprint" in attrs:
        return "calibration"
    return "sweep"


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


def is_empty_dir(path: Path) -> bool:
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
    if is_empty_dir(path):
        return
    if not is_store(path) or path.is_symlink():
        raise StoreError(f"{path}: exists and is not an mc-threat results store; --overwrite "
                         "replaces only results stores (remove it yourself, or choose "
                         "another --out)")
    root, _ = read_json(path / "zarr.json")
    work, _ = read_json(path / "_work" / "zarr.json")
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
        remove_store(staging)  # left by a run killed while creating this store
    write_template(staging, config, design, plan)
    if path.exists() or path.is_symlink():
        remove_store(path)
    os.rename(staging, path)


def write_template(path: Path, config, design, plan) -> None:
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
    with quiet():
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
    if config.run.reservoir:
        _reservoir_template(path, config, design, plan, ds)


RESERVOIR = "reservoir"
"""The group of a store that keeps the reservoir of systems (``run.reservoir > 0``)."""


def reservoir_nodes(config) -> tuple[str, ...]:
    """The arrays of the reservoir group of a store of ``config`` (none without one)."""
    from .model.attributes import SYSTEM_ATTRIBUTES

    if config is None or not config.run.reservoir:
        return ()
    return tuple(f"{RESERVOIR}/{name}" for name in (*OUTCOMES, *SYSTEM_ATTRIBUTES))


def _reservoir_template(path: Path, config, design, plan, root_ds) -> None:
    """The ``reservoir`` group: every outcome and system attribute of the first
    ``run.reservoir`` systems at every point, ``(point, system)``, one chunk per block."""
    import dask.array as da
    import xarray as xr

    from .model.attributes import SYSTEM_ATTRIBUTES

    P, K = plan.n_points, config.run.reservoir
    coords = {"point": np.arange(P), "system": np.arange(K)}
    for name in root_ds.coords:
        if root_ds[name].dims == ("point",):
            coords[name] = ("point", root_ds[name].values)
    data_vars = {}
    for name, (long_name, units) in [*OUTCOME_INFO.items(), *SYSTEM_ATTRIBUTES.items()]:
        data_vars[name] = xr.Variable(("point", "system"),
                                      da.full((P, K), np.nan, chunks=(plan.block, K)),
                                      attrs={"long_name": long_name, "units": units})
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update({
        "title": "mc-threat reservoir: systems 0 .. K-1 at every point",
        "systems_kept": int(K),
        "outcomes": list(OUTCOMES),
        "attributes": list(SYSTEM_ATTRIBUTES),
    })
    with quiet():
        ds.to_zarr(path, group=RESERVOIR, mode="w-", compute=False, zarr_format=3,
                   consolidated=False)


def _hash(config) -> str:
    from .config import config_hash

    return config_hash(config)


def remove_store(path: Path) -> None:
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


def read_json(path: Path) -> tuple[dict | None, str]:
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
        meta, _ = read_json(node / "zarr.json")
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


def merge_chunks(partials: np.ndarray) -> np.ndarray:
    """Merge per-chunk moment records ``(points, chunks, N_OUTCOMES, 5)`` in chunk order."""
    n_points, n_chunks = partials.shape[:2]
    acc = empty_moments(n_points, N_OUTCOMES)
    for c in range(n_chunks):
        merge_moments(acc, np.ascontiguousarray(partials[:, c]))
    return acc


class Store:
    """An open results store, for the sweep's writes and ``mc-threat info``."""

    def __init__(self, path):
        import zarr

        self.path = Path(path)
        if not (self.path / "zarr.json").exists():
            raise not_a_store(self.path)
        check_safe_metadata(self.path)
        try:
            with quiet():
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

    def write_task(self, b: int, r: int, moments: np.ndarray, cbp: np.ndarray,
                   reservoir: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Store task ``(b, r)``'s per-chunk results (and, from a block's first task in a
        store that keeps one, the reservoir rows ``(outcomes (points, K, N_OUTCOMES),
        attributes (points, K, A))``), then record it in the manifest."""
        lo = b * self.block
        hi = lo + moments.shape[0]
        c0 = r * self.chunks_per_task
        c1 = c0 + moments.shape[1]
        write_region(self.moments, (slice(lo, hi), slice(c0, c1)), moments)
        write_region(self.cbp, (slice(lo, hi), slice(c0, c1)), cbp)
        if reservoir is not None:
            from .model.attributes import SYSTEM_ATTRIBUTES

            group = self.root[RESERVOIR]
            outcomes, attributes = reservoir
            for k, name in enumerate(OUTCOMES):
                write_region(group[name], (slice(lo, hi),), outcomes[:, :, k])
            for k, name in enumerate(SYSTEM_ATTRIBUTES):
                write_region(group[name], (slice(lo, hi),), attributes[:, :, k])
        write_region(self.task_done, (slice(b, b + 1), slice(r, r + 1)), 1)

    def finalize_block(self, b: int) -> None:
        """Merge block ``b``'s chunks in chunk order into the result variables."""
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
        with quiet():
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
    with quiet():
        ds = xr.open_zarr(path, consolidated=None)
    ds = ds.assign_coords({name: ds[name].variable.compute() for name in ds.coords
                           if ds[name].chunks is not None})
    if unstack:
        ds = _unstack_grid(ds, path)
    return ds


def open_reservoir(path):
    """Open the reservoir of a results store made with ``run.reservoir = K`` as an
    ``xarray.Dataset`` with dimensions ``(point, system)``: every outcome of MODEL.md
    section 5 and every system attribute (:data:`mc_threat.model.attributes.SYSTEM_ATTRIBUTES`)
    of systems ``0 .. K-1`` at every point, the swept factors as coordinates along ``point``.

    Raises
    ------
    StoreError
        ``path`` is not a results store, or it keeps no reservoir.
    """
    import xarray as xr

    path = Path(path)
    if not (path / "zarr.json").exists():
        raise not_a_store(path)
    check_safe_metadata(path)
    if not (path / RESERVOIR / "zarr.json").is_file():
        raise StoreError(f"{path}: keeps no reservoir of systems (run it with run.reservoir: K "
                         "in the config, K systems per point)")
    from .model.attributes import SYSTEM_ATTRIBUTES

    try:
        with quiet():
            ds = xr.open_zarr(path, group=RESERVOIR, consolidated=False)
        ds = ds[[*OUTCOMES, *SYSTEM_ATTRIBUTES]]  # in a stable order: outcomes, attributes
    except Exception as exc:  # noqa: BLE001 - damaged metadata: one line, no traceback
        detail = " ".join(str(exc).split())[:160]
        raise StoreError(f"{path}: its reservoir cannot be read ({type(exc).__name__}: "
                         f"{detail}); 'mc-threat info {path}' says what is wrong, --resume "
                         "repairs it") from None
    return ds.assign_coords({name: ds[name].variable.compute() for name in ds.coords
                             if ds[name].chunks is not None})


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
