"""Sweep orchestration: tasks on dask (or in process), progress, store writes, resume.

The client process owns the store: workers compute tasks and return small arrays, the
client writes each task's chunk-aligned region and then its manifest entry, and merges a
block of points as soon as all its chunks are in. Killing the run at any moment loses at
most the tasks in flight; ``resume=True`` computes only what the manifest lacks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError, config_from_dict
from .design import design_points
from .engine import Plan, block_groups, compute_task, make_plan
from .store import Store, StoreError, check_new_store, create_store

log = logging.getLogger("mc_threat")


class SweepInterrupted(RuntimeError):
    """The user stopped the sweep (Ctrl-C); the store holds everything finished so far."""


@dataclass
class SweepReport:
    """What a sweep did: where it wrote, how much it computed, how long it took."""

    path: Path
    points: int
    tasks_total: int
    tasks_run: int
    seconds: float
    systems_per_point: int

    @property
    def point_systems_per_second(self) -> float:
        """Point-system evaluations per second of wall time in this run."""
        if self.tasks_total == 0 or self.seconds <= 0:
            return float("nan")
        done_fraction = self.tasks_run / self.tasks_total
        return self.points * self.systems_per_point * done_fraction / self.seconds


def with_systems(config, systems: int | None):
    """``config`` with ``run.systems`` replaced (and ``run.chunk`` capped to it)."""
    if systems is None:
        return config
    d = config.model_dump(mode="python")
    d["run"]["systems"] = systems
    if isinstance(systems, int) and not isinstance(systems, bool) and systems >= 1:
        d["run"]["chunk"] = min(d["run"]["chunk"], systems)
    try:
        return config_from_dict(d)
    except ConfigError as exc:
        lines = [line.replace("run.systems", "--systems") for line in exc.errors]
        raise ConfigError(lines) from None


def warm_kernels() -> None:
    """Compile (or load from numba's cache) the sweep kernel once, before workers start,
    so they load the cache instead of compiling concurrently."""
    from .config import Config
    from .design import design_points as _dp

    cfg = Config()
    groups = block_groups(_dp(cfg).configs, 0, 1)
    compute_task(0, [(0, 1)], groups)


def _default_workers(n_tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_tasks))


class _SyncExecutor:
    """Runs tasks one after another in this process (``workers=0``)."""

    def run(self, jobs: list[tuple], submit_args: Callable) -> Iterator[tuple]:
        for job in jobs:
            yield job, compute_task(*submit_args(job))

    def close(self) -> None:
        pass


class _DaskExecutor:
    """Runs tasks on a dask cluster: a new LocalCluster, or an existing scheduler."""

    def __init__(self, workers: int | None, scheduler: str | None, n_tasks: int,
                 progress: bool, cluster_file: str | None = None):
        from dask.distributed import Client, LocalCluster

        self.cluster = None
        self.threads = None
        if cluster_file:
            self.cluster = slurm_cluster(cluster_file)
            self.client = Client(self.cluster)
        elif scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise StoreError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        else:
            n = workers or _default_workers(n_tasks)
            cores = os.cpu_count() or 1
            self.threads = max(1, cores // n)
            self.cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True,
                dashboard_address=":0", silence_logs=logging.ERROR,
                env={"NUMBA_NUM_THREADS": str(self.threads), "OMP_NUM_THREADS": "1"},
            )
            self.client = Client(self.cluster)
        if progress:
            print(f"dask dashboard: {self.client.dashboard_link}", flush=True)
        self.window = 4 * max(1, len(self.client.scheduler_info().get("workers", {})) or 1)

    def run(self, jobs: list[tuple], submit_args: Callable) -> Iterator[tuple]:
        from dask.distributed import as_completed

        pending = iter(jobs)
        futures = {}
        stamp = f"{os.getpid()}-{time.time_ns()}"

        def submit(job):
            fut = self.client.submit(compute_task, *submit_args(job), self.threads,
                                     key=f"mc-threat-{stamp}-{job[0]}-{job[1]}",
                                     retries=3, pure=False)
            futures[fut] = job
            return fut

        first = [submit(j) for _, j in zip(range(self.window), pending, strict=False)]
        ac = as_completed(first)
        for fut in ac:
            job = futures.pop(fut)
            result = fut.result()
            fut.release()
            nxt = next(pending, None)
            if nxt is not None:
                ac.add(submit(nxt))
            yield job, result

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def slurm_cluster(path):
    """A ``dask_jobqueue.SLURMCluster`` from a YAML file like ``configs/cluster_slurm.yaml``,
    scaled to its ``jobs``. Keys under ``slurm`` go to ``SLURMCluster`` unchanged."""
    import yaml

    try:
        spec = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"{path}: cannot read cluster file ({exc})"]) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("slurm"), dict):
        raise ConfigError([f"{path}: needs a 'slurm' mapping of SLURMCluster settings"])
    unknown = set(spec) - {"slurm", "jobs"}
    if unknown:
        raise ConfigError([f"{path}: unknown key(s) {sorted(unknown)}; allowed: slurm, jobs"])
    jobs = spec.get("jobs", 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError([f"{path}: jobs: must be an integer >= 1, got {jobs!r}"])
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        msg = "--cluster needs dask-jobqueue: pip install 'mc-threat[slurm]'"
        raise ConfigError([msg]) from None
    try:
        cluster = SLURMCluster(**{k: v for k, v in spec["slurm"].items() if v is not None})
    except (TypeError, ValueError) as exc:
        raise ConfigError([f"{path}: slurm: {exc}"]) from None
    cluster.scale(jobs=jobs)
    return cluster


def run_sweep(config, out, *, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, overwrite: bool = False, progress: bool = True,
              systems: int | None = None, cluster_file: str | None = None) -> SweepReport:
    """Run (or resume) the sweep of ``config`` into the zarr store ``out``.

    Parameters
    ----------
    config : Config
    out : path of the store (``.zarr`` directory)
    workers : dask worker processes of the embedded LocalCluster (default: one per core,
        at most one per task); ``0`` runs every task in this process, without dask.
    scheduler : address of an existing dask scheduler to use instead (``tcp://host:8786``).
    cluster_file : YAML file of dask-jobqueue SLURM settings (``configs/cluster_slurm.yaml``)
        to start a SLURM cluster instead.
    resume : continue an existing store made from the same config.
    overwrite : replace an existing store.
    systems : override ``run.systems``.
    """
    t0 = time.perf_counter()
    config = with_systems(config, systems)
    design = design_points(config)
    plan = make_plan(design.configs, config.run.systems, config.run.chunk)
    out = Path(out)
    resuming = resume and out.exists()
    if resuming:
        store = Store(out)
        _check_resumable(store, config, plan)
        done = store.done_tasks()
    else:
        check_new_store(out, overwrite=overwrite)
        done = np.zeros((plan.n_blocks, plan.n_runs), bool)
    jobs = [(b, r) for b in range(plan.n_blocks) for r in range(plan.n_runs) if not done[b, r]]
    groups = {b: block_groups(design.configs, *plan.block_range(b))
              for b in {job[0] for job in jobs}}

    def submit_args(job):
        b, r = job
        return config.run.seed, [plan.chunk_range(c) for c in plan.run_chunks(r)], groups[b]

    executor = None
    if jobs:
        warm_kernels()
        # Start or reach the cluster before touching the store: a bad --cluster file or an
        # unreachable scheduler must leave an existing store as it was.
        executor = (_SyncExecutor() if workers == 0 and not (scheduler or cluster_file)
                    else _DaskExecutor(workers, scheduler, len(jobs), progress, cluster_file))
    ran = 0
    bar = None
    try:
        if resuming:
            _finalize_complete_blocks(store, plan, done)
        else:
            create_store(out, config, design, plan, overwrite=overwrite)
            store = Store(out)
        if executor is not None:
            bar = _progress_bar(plan, done, progress)
            for (b, r), (moments, cbp) in executor.run(jobs, submit_args):
                store.write_task(b, r, moments, cbp)
                done[b, r] = True
                ran += 1
                if done[b].all():
                    store.finalize_block(b)
                if bar is not None:
                    bar.update(1)
    except KeyboardInterrupt:
        raise SweepInterrupted(str(out)) from None
    finally:
        if bar is not None:
            bar.close()
        if executor is not None:
            executor.close()
    store.finish()
    return SweepReport(out, plan.n_points, plan.n_tasks, ran,
                       time.perf_counter() - t0, plan.systems)


def _finalize_complete_blocks(store: Store, plan: Plan, done: np.ndarray) -> None:
    merged = store.block_done[:] == 1
    for b in range(plan.n_blocks):
        if done[b].all() and not merged[b]:
            store.finalize_block(b)


def _check_resumable(store: Store, config, plan: Plan) -> None:
    from .config import config_hash

    if store.attrs.get("config_hash") != config_hash(config):
        raise StoreError(f"{store.path}: was made from a different config (its config_hash "
                         f"differs); resume it with the config stored in it, or use --overwrite")
    shape = store.done_tasks().shape
    if (shape != (plan.n_blocks, plan.n_runs) or store.block != plan.block
            or store.chunks_per_task != plan.chunks_per_task):
        raise StoreError(f"{store.path}: task layout {shape} differs from this run's "
                         f"{(plan.n_blocks, plan.n_runs)}; the store was made by another "
                         "version of mc-threat")


def _progress_bar(plan: Plan, done: np.ndarray, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=plan.n_tasks, initial=int(done.sum()), unit="task",
                desc="sweep", dynamic_ncols=True, smoothing=0.1)
