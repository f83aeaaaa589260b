"""Damage in a results store: detection (``mc-threat info``) and repair (``--resume``).

:func:`check_store` compares every metadata document with a template built afresh from the
store's config (so it plans the run the store was made for: this is why it lives in the
engine, above the store), checks every task the manifest marks done against what its data
must hold, and every merged block against a new merge of its tasks; :func:`repair_store`
restores what can be restored and unmarks the damaged tasks so that ``--resume`` computes
them again. The store layout itself is :mod:`mc_threat.store`.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError, config_from_yaml, config_hash
from ..design import design_points
from ..errors import StoreError
from ..kernels import N_CHOICES, N_OUTCOMES, N_POWER_BINS, OUTCOMES
from ..kernels.stats import M_COUNT, M_M2, N_MOMENTS, summary_from_moments
from ..store import (
    RESULTS_SINCE,
    STATS,
    check_safe_metadata,
    is_store,
    made_by_version,
    merge_chunks,
    not_a_store,
    quiet,
    read_json,
    reservoir_nodes,
    version_older,
    write_region,
    write_template,
)
from .tasks import check_size, make_plan

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
        with quiet():
            return zarr.open_array(store=str(path), path=node, mode=mode), ""
    except Exception as exc:  # noqa: BLE001 - any failure to open is damage to report
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"


def _read(arr, region=Ellipsis):
    """``arr[region]`` or None when a chunk cannot be read or decoded."""
    try:
        with quiet():
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
        write_template(t, config, design, plan)
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

    path = Path(path)
    if not is_store(path):
        raise not_a_store(path)
    check_safe_metadata(path)
    res = StoreCheck(path)
    root, root_err = read_json(path / "zarr.json")
    work, work_err = read_json(path / "_work" / "zarr.json")
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
        made_by = made_by_version(rattrs)
        if made_by is not None and version_older(made_by, RESULTS_SINCE):
            raise StoreError(f"{path}: was made by mc-threat {made_by}, whose results differ "
                             f"in the last bits from this version's (own elementary functions "
                             f"since {RESULTS_SINCE}, MODEL.md section 9); finish it with "
                             f"mc-threat {made_by} or use --overwrite to start it again")
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
        meta, why = read_json(path / keys[0])
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

    plan, design = res.plan, res.design
    B, R, C = plan.n_blocks, plan.n_runs, plan.n_chunks
    counts = np.array([plan.chunk_range(c)[1] for c in range(C)], dtype=np.float64)
    n_states = np.array([c.model.n_states for c in design.configs], dtype=np.int64)
    arrays = {}
    reservoir = reservoir_nodes(res.config)
    for node in ("_work/task_done", "_work/block_done", "_work/moments",
                 "_work/choice_by_power", *OUTCOMES, "choice_by_power", *reservoir):
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
            if not why and r == 0 and reservoir:
                why = _reservoir_problem(arrays, reservoir, lo, hi)
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


def _reservoir_problem(arrays, nodes, lo: int, hi: int) -> str:
    """Why the reservoir rows of points ``lo .. hi - 1`` (written by the block's first task)
    cannot be its results ('' if they can)."""
    for node in nodes:
        arr = arrays[node]
        if arr is None:
            continue  # its metadata is wrong: reported above, data not checked
        values = _read(arr, np.s_[lo:hi])
        if values is None or not np.isfinite(values).all():
            return "reservoir missing"
    return ""


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
    root, _ = read_json(path / "zarr.json")
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
