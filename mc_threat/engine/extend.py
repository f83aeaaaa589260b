"""Extending a Sobol' store to a larger ``samples`` (``mc-threat sweep CONFIG --resume``).

A Saltelli design of ``N`` base samples is a prefix of the design of ``2N`` base samples
made with the same seed: SALib (1.6) draws the base sequence as the first ``N`` points of
one scrambled Sobol' sequence (``scipy.stats.qmc.Sobol(2 D, scramble=True, seed=seed)
.random(N)``) and writes each base sample's ``D + 2`` (or ``2 D + 2``) rows together, so
the first ``N (D + 2)`` points of the larger design are the smaller design's points in the
same order. This is checked on every extension (the new design's first points against the
factor values stored in the store, bit for bit) and refused if it does not hold, rather than
trusted.

Every point's results depend on its config alone (common random numbers, chunks merged
in chunk order; see :mod:`mc_threat.engine.tasks`), so the finished per-chunk records of
the old points are copied into the new store unchanged and only the new points are
computed. A task of the new store whose points are partly old (the block that straddles
the old end, or a block whose old tasks were unfinished) computes only its new points;
the client prepends the old points' records before writing it.

The old store is replaced only when the new one holds everything copied: the new store is
built beside it (``.NAME.extending``), the old one is renamed aside (``.NAME.extended``),
the new one into place, and the old one removed. A run killed before the swap leaves the
old store as it was; killed between the two renames, the next ``--resume`` puts the old
store back (:func:`recover`) and starts the extension again; killed after, the store is an
ordinary partial store of the larger config and ``--resume`` finishes it (the old points
that share a task with new ones, kept in memory until their task is written, are then
computed again: same numbers, a little more work).

Results of analyses stored with the smaller design (sensitivity variables, ``discover/``,
``features/``) describe it, not the larger one: they are not carried over, and the run says
which were dropped. Anything in the store directory that is not a zarr node is refused
before anything is written, so an extension never deletes a file mc-threat did not write; a
store reached through a symbolic link is extended at its real path only.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError, config_from_dict, config_from_yaml, config_hash
from ..design import design_size
from ..errors import StoreError
from ..store import Store, is_empty_dir, is_store, read_json, remove_store, write_template
from .check import check_store


def _staging(out: Path) -> Path:
    return out.with_name(f".{out.name}.extending")


def _aside(out: Path) -> Path:
    return out.with_name(f".{out.name}.extended")


def recover(out) -> None:
    """After an extension killed between its two renames (the old store renamed aside, the
    new one not yet in place), put the old store back. If both are there (killed just
    before the old one was removed), both stay: :func:`note_leftover` tells the user."""
    out = Path(out)
    aside = _aside(out)
    if not aside.is_dir() or aside.is_symlink():
        return
    if not (out.exists() or out.is_symlink()):
        os.rename(aside, out)
        print(f"mc-threat: {out}: put back the store an interrupted extension had renamed "
              f"to {aside.name}", file=sys.stderr, flush=True)


def note_leftover(out) -> None:
    """Say so when the store as it was before an interrupted extension is still beside the
    extended one (see :func:`recover`); it is the user's to remove."""
    aside = _aside(Path(out))
    if aside.is_dir() and not aside.is_symlink():
        print(f"mc-threat: note: {aside} holds the store as it was before an interrupted "
              f"extension of {Path(out).name}; remove it when you no longer need it",
              file=sys.stderr, flush=True)


def stored_config(out: Path):
    """The config stored in a results store, or None when it cannot be read."""
    root, _ = read_json(out / "zarr.json")
    attrs = (root or {}).get("attributes")
    text = attrs.get("config") if isinstance(attrs, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return config_from_yaml(text, source="stored config")
    except ConfigError:
        return None


def _only_samples_differ(old, new) -> bool:
    """Whether configs ``old`` and ``new`` are equal but for ``sweep.samples`` of the same
    sampled design (lhs or sobol)."""
    if old is None or new.sweep is None or old.sweep is None:
        return False
    if new.sweep.design != old.sweep.design or new.sweep.design not in ("lhs", "sobol"):
        return False
    d = old.model_dump(mode="python")
    d["sweep"]["samples"] = new.sweep.samples
    return config_hash(config_from_dict(d)) == config_hash(new)


def _grows(old, new) -> bool:
    """Of two configs that differ only in ``sweep.samples``: whether ``new`` is a larger Sobol'
    design, the one change a store can take by extension."""
    return new.sweep.design == "sobol" and new.sweep.samples > old.sweep.samples


def extends(old, new) -> bool:
    """Whether config ``new`` is config ``old`` with a Sobol' design of more base samples
    (every other setting equal)."""
    return _only_samples_differ(old, new) and _grows(old, new)


def _cannot_grow(old, new) -> str:
    """The one-line reason a store of ``old`` cannot take ``new``, which differs from it in
    ``sweep.samples`` only, and not by growing a Sobol' design."""
    if new.sweep.design == "lhs":
        return (f"sweep.samples: an lhs store cannot be extended (a Latin hypercube of "
                f"{new.sweep.samples} points does not contain the one of {old.sweep.samples} "
                "the store holds); use another --out")
    return (f"sweep.samples: {new.sweep.samples} is fewer than the store's "
            f"{old.sweep.samples}; --resume extends a Sobol' store to more samples, never "
            "fewer (the sensitivity command's --convergence analyses prefixes of it)")


@dataclass
class Extension:
    """What extending ``out`` (made from ``old_config``) to the new config copies and
    computes. ``done`` marks the new plan's tasks copied whole; ``prefix[(b, r)]`` is the
    number of leading points of task ``(b, r)`` that are copied, the rest computed."""

    out: Path
    old_config: object
    old_points: int
    new_points: int
    done: np.ndarray
    dropped: list[str] = field(default_factory=list)
    prefix: dict[tuple[int, int], int] = field(default_factory=dict)
    old_data: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def plan_extension(out, config, design, plan) -> Extension | None:
    """The extension of store ``out`` to ``config`` (read only), or None when the store was
    not made from a smaller Sobol' design of ``config``.

    Raises
    ------
    ConfigError
        ``config`` differs from the store's only in ``sweep.samples`` but cannot extend it
        (fewer samples, or an LHS design).
    StoreError
        The store is damaged (resume it with its own config first, which repairs it), or
        the larger design does not start with the store's points.
    """
    out = Path(out)
    old = stored_config(out)
    if not _only_samples_differ(old, config) or old.sweep.samples == config.sweep.samples:
        return None
    if not _grows(old, config):
        raise ConfigError(_cannot_grow(old, config))
    if out.is_symlink():
        raise StoreError(f"{out}: is a symbolic link; extend the store at its real path "
                         f"({out.resolve()})")
    aside, staging = _aside(out), _staging(out)
    if aside.exists() or aside.is_symlink():
        raise StoreError(f"{aside}: exists (the store before an earlier extension of "
                         f"{out.name}); move or remove it before extending again")
    if (staging.exists() or staging.is_symlink()) and (
            staging.is_symlink() or not (is_store(staging) or is_empty_dir(staging))):
        raise StoreError(f"{staging}: exists and is not a store an earlier extension left; "
                         "move it away before extending (it would be replaced)")
    n_old = design_size(old.sweep)[0]
    if not _starts_with_stored_points(out, design, n_old):
        _refuse_if_damaged(check_store(out, old))  # a lost coordinate chunk: say so instead
        raise StoreError(f"{out}: the design of sweep.samples={config.sweep.samples} does not "
                         f"start with the store's {n_old} points (the sampler did not keep its "
                         "sequence), so the store cannot be extended; use another --out")
    # The configs of the old points are the first n_old of the new design (checked above
    # against the coordinates stored): no need to draw and validate them again.
    old_design = dataclasses.replace(design, values=design.values[:n_old],
                                     configs=design.configs[:n_old])
    check = check_store(out, old, design=old_design)
    _refuse_if_damaged(check)
    dropped = _analysis_nodes(out, check)
    old_plan = check.plan
    # known[p, r]: every chunk of the new plan's run r is finished for old point p.
    old_done = check.done
    known = np.ones((n_old, plan.n_runs), bool)
    point_block = np.arange(n_old) // old_plan.block
    for r in range(plan.n_runs):
        for c in plan.run_chunks(r):
            known[:, r] &= old_done[point_block, c // old_plan.chunks_per_task]
    ext = Extension(out, old, n_old, plan.n_points,
                    np.zeros((plan.n_blocks, plan.n_runs), bool), dropped=dropped)
    for b in range(plan.n_blocks):
        lo, hi = plan.block_range(b)
        if lo >= n_old:
            break
        for r in range(plan.n_runs):
            col = known[lo:min(hi, n_old), r]
            k = lo + (int(np.argmin(col)) if not col.all() else col.size)
            if k == hi:
                ext.done[b, r] = True
            elif k > lo:
                ext.prefix[(b, r)] = k - lo
    return ext


def _analysis_nodes(out: Path, check) -> list[str]:
    """The nodes of the store that its template does not have: the results of analyses
    (sensitivity variables, ``discover/...``, ``features/...``), which describe the smaller
    design and are not carried over. Anything in the store that is not a zarr node is not
    mc-threat's: refused, so that extending never deletes it."""
    files, _ = check.template
    ours = {key.split("/", 1)[0] for key in files}
    dropped = []
    for entry in sorted(out.iterdir()):
        if entry.name in ours:
            continue
        if entry.is_dir() and not entry.is_symlink() and (entry / "zarr.json").is_file():
            dropped.append(entry.name)
        else:
            raise StoreError(f"{out}: holds {entry.name}, which is not part of an mc-threat "
                             "store; move it out of the store before extending it (extending "
                             "replaces the store directory)")
    if "sensitivity" in check.attrs:
        dropped.append("the sensitivity attribute")
    return dropped


def _refuse_if_damaged(check) -> None:
    if check.problems:
        raise StoreError(f"{check.path}: cannot extend a damaged store ({check.problems[0]}); "
                         "resume it with the config it was made from first, which repairs it")


def _starts_with_stored_points(out: Path, design, n_old: int) -> bool:
    """Whether the first ``n_old`` points of ``design`` are the points stored in ``out`` (its
    factor coordinates, bit for bit). An unreadable coordinate counts as a match here: it is
    damage, which :func:`check_store` then reports."""
    import zarr

    from ..store import coord_values, quiet

    if design.n_points < n_old:
        return False
    try:
        with quiet():
            root = zarr.open_group(str(out), mode="r", use_consolidated=False)
            stored = {name: np.asarray(root[name][:]) for name in design.factors}
    except Exception:  # noqa: BLE001 - damage; reported by check_store
        return True
    for k, name in enumerate(design.factors):
        want = coord_values(design.values[:n_old, k])
        got = stored[name]
        if got.shape != want.shape or got.dtype.kind != want.dtype.kind:
            return False
        same = np.array_equal(got, want) if got.dtype.kind != "O" else \
            [str(v) for v in got] == [str(v) for v in want]
        if not same:
            return False
    return True


def build(ext: Extension, config, design, plan) -> Store:
    """Make the extended store in place of the old one and return it open.

    Builds the new store beside the old one, copies the old tasks ``ext.done`` marks (and
    keeps the old records of the ``ext.prefix`` points in memory, ``ext.old_data``), then
    swaps the two; see the module docstring for what a kill at any moment leaves."""
    out = ext.out
    staging, aside = _staging(out), _aside(out)
    if staging.exists() or staging.is_symlink():
        remove_store(staging)  # left by an extension killed before its swap
    write_template(staging, config, design, plan)
    old = Store(out)
    new = Store(staging)
    kept = config.run.reservoir
    for b, r in zip(*np.nonzero(ext.done), strict=True):
        lo, hi = plan.block_range(b)
        chunks = plan.run_chunks(r)
        region = (slice(lo, hi), slice(chunks.start, chunks.stop))
        rows = _reservoir_rows(old, lo, hi) if kept and r == 0 else None
        new.write_task(int(b), int(r), old.moments[region], old.cbp[region], rows)
    for (b, r), k in ext.prefix.items():
        lo, _ = plan.block_range(b)
        chunks = plan.run_chunks(r)
        region = (slice(lo, lo + k), slice(chunks.start, chunks.stop))
        rows = _reservoir_rows(old, lo, lo + k) if kept and r == 0 else None
        ext.old_data[(b, r)] = (old.moments[region], old.cbp[region], rows)
    os.rename(out, aside)
    os.rename(staging, out)
    remove_store(aside)
    return Store(out)


def _reservoir_rows(store: Store, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """The stored reservoir rows of points ``lo .. hi - 1``: ``(outcomes, attributes)`` as
    :meth:`Store.write_task` takes them."""
    from ..kernels import OUTCOMES
    from ..model.attributes import SYSTEM_ATTRIBUTES
    from ..store import RESERVOIR

    group = store.root[RESERVOIR]
    return (np.stack([group[name][lo:hi] for name in OUTCOMES], axis=-1),
            np.stack([group[name][lo:hi] for name in SYSTEM_ATTRIBUTES], axis=-1))


def job_points(ext: Extension | None, plan, job) -> tuple[int, int]:
    """The points ``lo .. hi - 1`` task ``job`` computes (its new points only, when its
    leading points are copied from the old store)."""
    lo, hi = plan.block_range(job[0])
    if ext is not None:
        lo += ext.prefix.get(tuple(job), 0)
    return lo, hi


def complete_result(ext: Extension | None, job, moments, cbp, kept=None):
    """A task's records for its whole block: the old points' records (and reservoir rows)
    prepended to the computed ones when the task computed only its new points."""
    if ext is None or tuple(job) not in ext.old_data:
        return moments, cbp, kept
    m0, c0, k0 = ext.old_data.pop(tuple(job))
    if k0 is not None and kept is not None:
        kept = tuple(np.concatenate([a, b]) for a, b in zip(k0, kept, strict=True))
    return np.concatenate([m0, moments]), np.concatenate([c0, cbp]), kept


def announce(ext: Extension, plan) -> None:
    copied = int(ext.done.sum())
    partial = len(ext.prefix)
    print(f"mc-threat: extending {ext.out} from sweep.samples={ext.old_config.sweep.samples} "
          f"({ext.old_points:,} points) to {ext.new_points:,} points: {copied} of "
          f"{plan.n_tasks} task(s) copied from the store, {partial} computing only their new "
          "points", file=sys.stderr, flush=True)
    if ext.dropped:
        print(f"mc-threat: the analyses stored with the smaller design are not carried over "
              f"(run them again on the extended store): {', '.join(ext.dropped)}",
              file=sys.stderr, flush=True)

