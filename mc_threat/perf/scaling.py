"""Measure what a large cluster run would cost per task, on this machine.

``python scripts/scaling.py`` (or :func:`measure`) times, with the real components:

* the **per-task overhead** of the dask path (submit, schedule, ship the task and its
  result, merge on the client) on a 2-worker ``LocalCluster``, with tasks that compute
  almost nothing;
* the **store write time per task** (``Store.write_task``: the task's chunk-aligned zarr
  regions and its manifest entry) for several task shapes;
* the **sweep efficiency** (raw kernel time / sweep time, both on this machine's cores) for
  several task lengths, which tells how long a task must be to keep 95 %.

``docs/scaling.md`` turns these figures into a plan for 10^12 point-systems on 1,000 cores.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

RECORD_BYTES = (15 * 5 + 10 * 3) * 8
"""Bytes a task returns and the client stores per (point, chunk): moments + choice counts."""


def local_cluster(workers: int = 2):
    """The sweep's own dask executor on a new ``LocalCluster``, and how long it took to
    start (kernels warmed first, as a sweep does)."""
    from ..engine.sweep import DaskExecutor, warm_kernels

    warm_kernels()
    t0 = time.perf_counter()
    ex = DaskExecutor(workers, None, 64, progress=False)
    return ex, time.perf_counter() - t0


def task_overhead(ex, n_tasks: int = 400) -> dict:
    """Tasks of one system for one point through the executor ``ex``."""
    from ..config import Config
    from ..design import design_points
    from ..engine.tasks import block_groups

    groups = block_groups(design_points(Config()).configs, 0, 1)
    workers = len(ex.client.scheduler_info()["workers"])
    jobs = [(k, 0) for k in range(n_tasks)]
    list(ex.run(jobs[:workers * 4], lambda job: (1, [(job[0], 1)], groups, 0)))  # warm up
    t0 = time.perf_counter()
    done = sum(1 for _ in ex.run(jobs, lambda job: (1, [(job[0], 1)], groups, 0)))
    wall = time.perf_counter() - t0
    return {"tasks": done, "workers": workers, "wall_s": wall, "tasks_per_s": done / wall,
            "overhead_per_task_s": wall * workers / done}


def store_writes(shapes=((1, 1), (16, 4), (256, 1), (256, 8)), repeats: int = 20) -> list:
    """Time ``Store.write_task`` for tasks of ``(points, chunks)`` records."""
    from ..config import config_from_dict
    from ..design import design_points
    from ..engine.tasks import Plan
    from ..kernels import N_CHOICES, N_OUTCOMES, N_POWER_BINS
    from ..store import Store, create_store

    out = []
    for block, per_task in shapes:
        points, chunks = block * repeats, per_task
        cfg = config_from_dict({
            "run": {"systems": chunks * 1000, "chunk": 1000},
            "sweep": {"design": "points",
                      "points": [{"model.reach": 0.1 + 1e-4 * p} for p in range(points)]}})
        design = design_points(cfg)
        plan = Plan(n_points=points, systems=chunks * 1000, chunk=1000, block=block,
                    chunks_per_task=per_task)
        rng = np.random.default_rng(0)
        moments = rng.random((block, per_task, N_OUTCOMES, 5))
        cbp = rng.integers(0, 1000, (block, per_task, N_POWER_BINS, N_CHOICES))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.zarr"
            create_store(path, cfg, design, plan)
            store = Store(path)
            times = []
            for b in range(repeats):
                t0 = time.perf_counter()
                store.write_task(b, 0, moments, cbp)
                times.append(time.perf_counter() - t0)
        out.append({"points": block, "chunks": per_task,
                    "bytes": block * per_task * RECORD_BYTES,
                    "median_s": float(np.median(times)), "min_s": float(np.min(times))})
    return out


def efficiency(ex, task_seconds=(0.5, 2.0, 8.0, 16.0), points: int = 16,
               systems: int = 2_000_000) -> list:
    """Steady-state sweep efficiency for several task lengths: the same tasks through a
    running ``LocalCluster`` with every result written to a real store (cluster start
    excluded; it is timed once), against the ideal of the raw kernel on one thread divided
    by the number of workers. (A baseline of one process on several numba threads is no
    good here: its parallel regions ran 2-3x slower than two one-thread workers.)
    The task length is set through the engine's ``TASK_SECONDS`` target, which decides how
    the plan cuts the work; for this grid over a weight, whose points share their systems,
    a task's real length is about a seventh of the target. ``ex``: a running executor
    (:func:`local_cluster`)."""
    workers = len(ex.client.scheduler_info()["workers"])
    import numba

    from ..config import config_from_dict
    from ..design import design_points
    from ..engine import tasks as engine
    from ..engine.tasks import block_groups, compute_task, make_plan
    from ..store import Store, create_store

    cfg = config_from_dict({
        "run": {"seed": 1, "systems": systems, "chunk": 5_000},
        "sweep": {"design": "grid",
                  "factors": {"model.weights.intent": list(np.linspace(0, 1, points))}}})
    design = design_points(cfg)
    saved = engine.TASK_SECONDS
    rows = []
    try:
        for target in task_seconds:
            engine.TASK_SECONDS = target
            plan = make_plan(design.configs, systems, cfg.run.chunk)
            groups = {b: block_groups(design.configs, *plan.block_range(b))
                      for b in range(plan.n_blocks)}
            jobs = [(b, r) for b in range(plan.n_blocks) for r in range(plan.n_runs)]

            def args(job, plan=plan, groups=groups):
                # (seed, chunks, groups, reservoir): what the sweep's executors take
                return (1, [plan.chunk_range(c) for c in plan.run_chunks(job[1])],
                        groups[job[0]], 0)

            numba.set_num_threads(1)
            t0 = time.perf_counter()
            for job in jobs:
                compute_task(*args(job)[:3])
            raw = time.perf_counter() - t0
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
            with tempfile.TemporaryDirectory() as tmp:
                create_store(f"{tmp}/e.zarr", cfg, design, plan)
                store = Store(f"{tmp}/e.zarr")
                t0 = time.perf_counter()
                for (b, r), (moments, cbp, _) in ex.run(jobs, args):
                    store.write_task(b, r, moments, cbp)
                swept = time.perf_counter() - t0
            rows.append({"task_seconds_target": target, "tasks": plan.n_tasks,
                         "workers": workers, "raw_s_per_task_one_core": raw / plan.n_tasks,
                         "raw_one_core_s": raw, "sweep_s": swept,
                         "efficiency": raw / workers / swept})
    finally:
        engine.TASK_SECONDS = saved
    return rows


def measure(quick: bool = False) -> dict:
    """Everything above; ``quick`` shrinks every measurement to a smoke run."""
    res = {"cores": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_average": os.getloadavg()}
    res["store_writes"] = store_writes(((1, 1), (16, 2)) if quick else
                                       ((1, 1), (16, 4), (256, 1), (256, 8)),
                                       repeats=3 if quick else 20)
    ex, res["cluster_start_s"] = local_cluster()
    try:
        res["task_overhead"] = task_overhead(ex, n_tasks=20 if quick else 400)
        res["efficiency"] = efficiency(ex, (0.05,) if quick else (0.5, 2.0, 8.0, 16.0),
                                       points=2 if quick else 16,
                                       systems=10_000 if quick else 2_000_000)
        res["worker_peak_rss_mib"] = max(ex.client.run(_peak_rss_mib).values())
    finally:
        ex.close()
    return res


def _peak_rss_mib() -> float:
    """Peak resident memory of this process (run on each worker)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(res: dict) -> str:
    """The measurements as plain text."""
    o = res["task_overhead"]
    lines = [f"{res['cores']} cores, {res['when']}, load average "
             f"{', '.join(f'{x:.1f}' for x in res['load_average'])}",
             f"dask per-task overhead: {o['tasks']} near-empty tasks on {o['workers']} workers "
             f"in {o['wall_s']:.2f} s: {o['tasks_per_s']:.0f} tasks/s, "
             f"{1e3 * o['overhead_per_task_s']:.1f} ms of worker time per task",
             "store write per task (points x chunks, bytes): median / min"]
    for w in res["store_writes"]:
        lines.append(f"  {w['points']:>4} x {w['chunks']:<3} {w['bytes']:>9,d} B: "
                     f"{1e3 * w['median_s']:.1f} / {1e3 * w['min_s']:.1f} ms")
    lines.append(f"steady-state sweep efficiency by task length (cluster start, "
                 f"{res['cluster_start_s']:.1f} s, excluded):")
    for e in res["efficiency"]:
        lines.append(f"  target {e['task_seconds_target']:.2f} s: {e['tasks']} tasks of "
                     f"{e['raw_s_per_task_one_core']:.2f} s (one core); raw kernel "
                     f"{e['raw_one_core_s']:.2f} s on one core / {e['workers']} = "
                     f"{e['raw_one_core_s'] / e['workers']:.2f} s, sweep {e['sweep_s']:.2f} s, "
                     f"efficiency {100 * e['efficiency']:.0f} %")
    lines.append(f"peak memory of a worker process: {res['worker_peak_rss_mib']:.0f} MiB")
    return "\n".join(lines)
