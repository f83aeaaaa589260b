"""Sweep orchestration: tasks on dask (or in process), progress, store writes, resume.

The client process owns the store: workers compute tasks and return small arrays, the
client writes each task's chunk-aligned region and then its manifest entry, and merges a
block of points as soon as all its chunks are in. Killing the run at any moment loses at
most the tasks in flight; ``resume=True`` computes only what the manifest lacks, after
checking the store and repairing any damage (:func:`mc_threat.engine.check.check_store`).

Ctrl-C in a terminal sends SIGINT to the whole foreground process group, dask's worker
processes included. The workers ignore it (:func:`dask_setup`, a worker preload): the client
process alone stops, closes the cluster and reports :class:`SweepInterrupted`.

The driver and its executors stay in one module (over 600 lines) because the interrupt,
resume and worker-check rules above span all of them; planning and computing a task live in
:mod:`.tasks`, damage in :mod:`.check`, growing a Sobol' store in :mod:`.extend`.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import ConfigError, config_from_dict
from ..design import design_points
from ..store import Store, StoreError, check_new_store, create_store, is_empty_dir
from . import extend
from .check import check_store, repair_store
from .tasks import (  # noqa: F401  (MAX_CHUNKS, MAX_POINT_CHUNKS: re-exported)
    MAX_CHUNKS,
    MAX_POINT_CHUNKS,
    Plan,
    block_groups,
    check_size,
    compute_reservoir,
    compute_task,
    make_plan,
    prepare_reservoir_kernels,
    prepare_sweep_kernel,
)


class SweepInterrupted(RuntimeError):
    """The user stopped the sweep (Ctrl-C); the store holds everything finished so far."""


def max_local_workers() -> int:
    """Most worker processes ``--workers`` may start on this machine."""
    return max(8, 4 * (os.cpu_count() or 1))


@contextmanager
def _sigint_blocked():
    """Block SIGINT in this thread while the body runs; a Ctrl-C meanwhile is delivered
    (as KeyboardInterrupt) when it ends. Threads and processes started in the body inherit
    the blocked signal. Only in the main thread of a POSIX process; elsewhere a no-op."""
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    # multiprocessing starts its resource tracker on first use and then *unblocks* SIGINT in
    # the thread that started it (bpo-33613), which would be the cluster's event-loop thread;
    # start it here, before blocking, so that it never does so later.
    try:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    except Exception:  # noqa: BLE001 - only a refinement; the worker preload still applies
        pass
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def _sigint_deferred():
    """While the body runs, Ctrl-C only sets the event this yields; the body checks it at
    points where stopping is safe and raises KeyboardInterrupt itself.

    A KeyboardInterrupt raised inside ``distributed``'s ``Client.sync`` (which every wait on
    a future goes through) can arrive before that function has set up its state, and its
    clean-up callback then fails with a NameError that tornado logs as a traceback
    (distributed 2026.8). Interrupting only between waits avoids it. Only in the main thread
    of a process; elsewhere the event is never set and Ctrl-C behaves as usual. A second
    Ctrl-C before the first was acted on raises at once, wherever the body is."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_sigint(signum, frame):
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, old)


class _NoHeartbeatTraceback(logging.Filter):
    """Drops the worker's "Failed to communicate with scheduler during heartbeat" record (a
    traceback): in the sweep's own LocalCluster the scheduler goes away only when the sweep
    closes the cluster, and on a busy machine a heartbeat already in flight then fails."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to communicate with scheduler during "
                                              "heartbeat")


def dask_setup(worker) -> None:
    """Worker preload (``LocalCluster(preload=["mc_threat.engine.sweep"])``): ignore SIGINT,
    and keep the shutdown quiet.

    Ctrl-C reaches every process of the terminal's foreground group. Without this each
    worker process would raise KeyboardInterrupt and print a traceback while the client is
    shutting the cluster down in order; with it the client alone handles the interrupt.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker").addFilter(_NoHeartbeatTraceback())


@dataclass
class SweepReport:
    """What a sweep did: where it wrote, how much it computed, how long it took."""

    path: Path
    points: int
    tasks_total: int
    tasks_run: int
    seconds: float
    systems_per_point: int
    compile_seconds: float = 0.0

    @property
    def point_systems_per_second(self) -> float:
        """Point-system evaluations per second of wall time in this run, not counting the
        time spent compiling kernels in this process (a first run after an install)."""
        seconds = self.seconds - self.compile_seconds
        if self.tasks_total == 0 or seconds <= 0:
            return float("nan")
        done_fraction = self.tasks_run / self.tasks_total
        return self.points * self.systems_per_point * done_fraction / seconds


def _replaced(config, d: dict, field: str, option: str):
    """The config of the dict ``d`` (``config`` with a command-line option applied); errors
    about ``field`` name the ``option`` instead."""
    try:
        return config_from_dict(d)
    except ConfigError as exc:
        raise ConfigError([line.replace(field, option) for line in exc.errors]) from None


def with_systems(config, systems: int | None):
    """``config`` with ``run.systems`` replaced (and ``run.chunk`` capped to it)."""
    if systems is None:
        return config
    d = config.model_dump(mode="python")
    d["run"]["systems"] = systems
    if isinstance(systems, int) and not isinstance(systems, bool) and systems >= 1:
        d["run"]["chunk"] = min(d["run"]["chunk"], systems)
        if config.run.reservoir > systems:
            raise ConfigError(f"--systems: {systems} is fewer than the {config.run.reservoir} "
                              "systems the config keeps per point (run.reservoir); give more "
                              "systems or keep fewer")
    return _replaced(config, d, "run.systems", "--systems")


def with_samples(config, samples: int | None):
    """``config`` with ``sweep.samples`` replaced (``--samples``; LHS and Sobol' designs).
    With ``--resume`` a larger value extends a Sobol' store (:mod:`mc_threat.engine.extend`).
    """
    if samples is None:
        return config
    design = config.sweep.design if config.sweep is not None else None
    if design not in ("lhs", "sobol"):
        what = f"the {design} design" if design else "a config without a sweep section"
        raise ConfigError(f"--samples: {what} has no sweep.samples (it sets the base sample "
                          "of lhs and sobol designs)")
    d = config.model_dump(mode="python")
    d["sweep"]["samples"] = samples
    return _replaced(config, d, "sweep.samples", "--samples")


def warm_kernels(reservoir: bool = False) -> float:
    """Load the sweep kernel from numba's cache, or compile it (announced on stderr), in
    this process before any worker starts, so that workers sharing the cache load it
    instead of compiling it concurrently; with ``reservoir``, the generator and evaluation
    kernels the reservoir uses too. Returns the seconds spent compiling (0 if the kernels
    were loaded)."""
    seconds = prepare_sweep_kernel()
    if reservoir:
        seconds += prepare_reservoir_kernels()
    return seconds


def worker_version() -> str:
    """The mc-threat version of the process that runs this (asked of every dask worker)."""
    from .. import __version__

    return __version__


class WorkerMismatch(StoreError):
    """A dask worker cannot run this client's tasks: no mc_threat, or another version."""


def check_workers(client, where: str) -> int:
    """Refuse a cluster whose workers run another mc-threat version or none; returns the
    number of workers now connected. ``where`` names the cluster in the message."""
    from .. import __version__

    found = client.run(worker_version, on_error="return")
    for addr, version in sorted(found.items()):
        if isinstance(version, BaseException):
            raise WorkerMismatch(f"{where}: worker {addr} cannot run mc-threat tasks "
                                 f"({_short(version)}); install mc-threat {__version__} "
                                 "in the workers' Python environment")
        if version != __version__:
            raise WorkerMismatch(f"{where}: worker {addr} runs mc-threat {version}, this "
                                 f"client {__version__}; install the same version on the "
                                 "workers and the client")
    return len(found)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_task(seed, chunks, groups, threads=None, reservoir: int = 0):
    """One task: :func:`~mc_threat.engine.tasks.compute_task`, and the reservoir rows of its
    points when the store keeps ``reservoir`` systems and the task holds the first chunk
    (:func:`~mc_threat.engine.tasks.compute_reservoir`; else None)."""
    moments, cbp = compute_task(seed, chunks, groups, threads)
    kept = None
    if reservoir and chunks and chunks[0][0] == 0:
        kept = compute_reservoir(seed, groups, reservoir)
    return moments, cbp, kept


def dask_task(version: str, seed, chunks, groups, threads, reservoir: int = 0):
    """:func:`run_task` on a dask worker, refused if the worker's mc-threat is not the
    client's ``version`` (workers may join after the start check)."""
    from .. import __version__

    if version != __version__:
        raise WorkerMismatch(f"worker runs mc-threat {__version__}, the client {version}")
    return run_task(seed, chunks, groups, threads, reservoir)


def _default_workers(n_tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_tasks))


class SyncExecutor:
    """Runs tasks one after another in this process (``workers=0``)."""

    def run(self, jobs: list[tuple], submit_args: Callable) -> Iterator[tuple]:
        for job in jobs:
            seed, chunks, groups, reservoir = submit_args(job)
            yield job, run_task(seed, chunks, groups, None, reservoir)

    def close(self) -> None:
        pass


class DaskExecutor:
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
            error = None
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as exc:
                error = f"--scheduler {scheduler}: cannot connect ({exc})"
            except (ValueError, TypeError) as exc:
                error = (f"--scheduler {scheduler}: not a scheduler address ({exc}); "
                         "expected e.g. tcp://host:8786")
            if error is not None:
                # The half-made Client already made itself dask's default scheduler; it
                # undoes that when it is collected, which must happen now, not at some
                # later moment when another client may be the default.
                gc.collect()
                raise StoreError(error)
        else:
            n = workers or _default_workers(n_tasks)
            cores = os.cpu_count() or 1
            self.threads = max(1, cores // n)
            try:
                # Worker processes, and the cluster's event-loop thread that starts them
                # (again after a worker dies), inherit a blocked SIGINT: Ctrl-C never
                # reaches them, not even while they are starting up.
                # Each task sets its numba threads (numba.set_num_threads), never the
                # environment: see mc_threat.engine.tasks.sweep_kernel. (A NUMBA_NUM_THREADS given
                # to the workers reaches them after numba was imported, while the parent's
                # modules are re-imported, and dask's pre-spawn-environ would change this
                # process's own environment under its running thread pool.)
                with _sigint_blocked():
                    self.cluster = LocalCluster(
                        n_workers=n, threads_per_worker=1, processes=True,
                        dashboard_address=":0", silence_logs=logging.ERROR,
                        preload=["mc_threat.engine.sweep"],  # dask_setup: workers ignore Ctrl-C
                    )
                    self.client = Client(self.cluster)
            except BaseException:  # Ctrl-C while starting (delivered when unblocked)
                self.close()
                raise
        if scheduler or cluster_file:
            try:
                workers_now = check_workers(self.client, f"--scheduler {scheduler}"
                                            if scheduler else f"--cluster {cluster_file}")
            except BaseException:
                self.close()
                raise
        else:
            workers_now = n
        if progress:
            print(f"dask dashboard: {self.client.dashboard_link}", flush=True)
        # Tasks in flight: enough to keep every worker busy, including the workers of a
        # cluster that is still scaling up (a SLURM cluster starts with none).
        self.window = max(64, 4 * workers_now)

    def run(self, jobs: list[tuple], submit_args: Callable) -> Iterator[tuple]:
        from dask.distributed import as_completed

        from .. import __version__

        pending = iter(jobs)
        futures = {}
        stamp = f"{os.getpid()}-{time.time_ns()}"

        def submit(job):
            seed, chunks, groups, reservoir = submit_args(job)
            fut = self.client.submit(dask_task, __version__, seed, chunks, groups, self.threads,
                                     reservoir,
                                     key=f"mc-threat-{stamp}-{job[0]}-{job[1]}",
                                     retries=3, pure=False)
            futures[fut] = job
            return fut

        with _sigint_deferred() as interrupted:
            first = [submit(j) for _, j in zip(range(self.window), pending, strict=False)]
            ac = as_completed(first)
            while not ac.is_empty():
                if interrupted.is_set():
                    raise KeyboardInterrupt
                if not ac.has_ready():
                    interrupted.wait(0.05)
                    continue
                fut = next(ac)
                job = futures.pop(fut)
                try:
                    result = fut.result()
                except WorkerMismatch as exc:
                    raise WorkerMismatch(f"a dask worker cannot run this sweep: {exc}") \
                        from None
                except ImportError as exc:  # the task could not be unpickled on a worker
                    if "mc_threat" not in str(exc):
                        raise
                    raise WorkerMismatch(f"a dask worker cannot run mc-threat tasks "
                                         f"({_short(exc)}); install mc-threat {__version__} "
                                         "in the workers' Python environment") from None
                fut.release()
                nxt = next(pending, None)
                if nxt is not None:
                    ac.add(submit(nxt))
                yield job, result

    def close(self) -> None:
        # Ctrl-C while the cluster shuts down: the first is ignored (closing is what it
        # would do anyway), a second one stops at once.
        with _sigint_deferred():
            try:
                if getattr(self, "client", None) is not None:
                    self.client.close()
            finally:
                if getattr(self, "cluster", None) is not None:
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
              systems: int | None = None, cluster_file: str | None = None,
              samples: int | None = None) -> SweepReport:
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
    resume : continue an existing store made from the same config; or extend a store made
        from a Sobol' design of this config with fewer ``sweep.samples``, computing only the
        new points (:mod:`mc_threat.engine.extend`).
    overwrite : replace an existing store.
    systems : override ``run.systems``.
    samples : override ``sweep.samples`` (LHS and Sobol' designs).
    """
    t0 = time.perf_counter()
    config = with_samples(with_systems(config, systems), samples)
    check_size(config, systems_flag=systems is not None)
    local = not (scheduler or cluster_file)
    if local and workers != 0:
        workers = _script_guard(workers)
    if local and workers is not None and workers > max_local_workers():
        raise ConfigError(f"--workers: {workers} worker processes are too many for this "
                          f"machine ({os.cpu_count()} cores); at most {max_local_workers()}")
    design = design_points(config)
    plan = make_plan(design.configs, config.run.systems, config.run.chunk)
    out = Path(out)
    if resume:
        extend.recover(out)  # an extension killed between its two renames: put it back
    # A directory left empty by a run killed while it was creating the store is no store.
    resuming = resume and (out.exists() or out.is_symlink()) and not is_empty_dir(out)
    check = None
    ext = None
    if resuming:
        # Read-only: a store of a smaller Sobol' design of this config is extended (one
        # that differs only in samples but cannot grow is refused) ...
        ext = extend.plan_extension(out, config, design, plan)
        if ext is not None:
            done = ext.done.copy()
        else:
            # ... any other is checked: refuses a store of another config, finds damage.
            extend.note_leftover(out)
            check = check_store(out, config, plan, design)
            done = check.done.copy()
    else:
        check_new_store(out, overwrite=overwrite or (resume and is_empty_dir(out)))
        done = np.zeros((plan.n_blocks, plan.n_runs), bool)
    groups: dict[int, list] = {}

    def pending() -> list[tuple[int, int]]:
        return [(b, r) for b in range(plan.n_blocks) for r in range(plan.n_runs)
                if not done[b, r]]

    def submit_args(job):
        b, r = job
        lo, hi = extend.job_points(ext, plan, job)
        key = (b, lo)
        if key not in groups:
            groups[key] = block_groups(design.configs, lo, hi)
        return (config.run.seed, [plan.chunk_range(c) for c in plan.run_chunks(r)], groups[key],
                config.run.reservoir)

    compiled = 0.0

    def start_executor(n_tasks: int):
        nonlocal compiled
        compiled += warm_kernels(bool(config.run.reservoir))
        if workers == 0 and local:
            return SyncExecutor()
        return DaskExecutor(workers, scheduler, n_tasks, progress, cluster_file)

    jobs = pending()
    executor = None
    ran = 0
    bar = None
    try:
        if jobs or (check is not None and check.restore):
            # Start or reach the cluster before touching the store: a bad --cluster file or
            # an unreachable scheduler must leave an existing store as it was.
            executor = start_executor(len(jobs) or plan.n_tasks)
        if ext is not None:
            extend.announce(ext, plan)
            store = extend.build(ext, config, design, plan)
            _finalize_complete_blocks(store, plan, done)
        elif resuming:
            if check.problems:
                for line in check.problems:
                    print(f"mc-threat: {out} is damaged: {line}", file=sys.stderr, flush=True)
                restored = len(check.restore)
                check = repair_store(check)
                done = check.done.copy()
                jobs = pending()
                print(f"mc-threat: repairing {out}: {restored} metadata file(s) restored; "
                      f"{len(jobs)} of {plan.n_tasks} task(s) to compute",
                      file=sys.stderr, flush=True)
            store = Store(out)
            _finalize_complete_blocks(store, plan, done)
        else:
            _make_parent(out)
            # check_new_store allowed what is there (nothing, an empty directory, a store to
            # overwrite); it is replaced once the new template is complete.
            create_store(out, config, design, plan, overwrite=True)
            store = Store(out)
        if jobs:
            if executor is None:  # a repair found tasks to compute
                executor = start_executor(len(jobs))
            bar = _progress_bar(plan, done, progress)
            for (b, r), (moments, cbp, kept) in executor.run(jobs, submit_args):
                moments, cbp, kept = extend.complete_result(ext, (b, r), moments, cbp, kept)
                store.write_task(b, r, moments, cbp, kept)
                done[b, r] = True
                ran += 1
                if done[b].all():
                    store.finalize_block(b)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
            bar = None
        if executor is not None:
            executor.close()
            executor = None
        store.finish()
    except KeyboardInterrupt:
        raise SweepInterrupted(str(out)) from None
    finally:
        if bar is not None:
            bar.close()
        if executor is not None:
            executor.close()
    return SweepReport(out, plan.n_points, plan.n_tasks, ran,
                       time.perf_counter() - t0, plan.systems, compiled)


def _script_guard(workers: int | None) -> int | None:
    """``0`` (run in this process, same results) when ``run_sweep`` is called from the top
    level of a script without ``if __name__ == "__main__":``, where dask's worker processes
    would import the script again and fail to start (:mod:`mc_threat.engine._script`)."""
    from ._script import in_spawned_import, unguarded_script_line

    if in_spawned_import():
        raise RuntimeError("mc-threat: run_sweep was called while a worker process imported "
                           "your script; put the call under if __name__ == '__main__':")
    line = unguarded_script_line()
    if line is None:
        return workers
    print(f"mc-threat: note: run_sweep is called at line {line} of "
          f"{sys.modules['__main__'].__file__} outside an if __name__ == '__main__': block; "
          "dask's worker processes would run the script again, so the sweep runs in this "
          "process instead (same results, numba threads on every core). Put the call under "
          "the guard to use worker processes.", file=sys.stderr, flush=True)
    return 0


def _make_parent(out: Path) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{out}: cannot create its directory {out.parent} "
                         f"({exc.strerror or type(exc).__name__})") from None


def _finalize_complete_blocks(store: Store, plan: Plan, done: np.ndarray) -> None:
    merged = store.block_done[:] == 1
    for b in range(plan.n_blocks):
        if done[b].all() and not merged[b]:
            store.finalize_block(b)


def _progress_bar(plan: Plan, done: np.ndarray, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=plan.n_tasks, initial=int(done.sum()), unit="task",
                desc="sweep", dynamic_ncols=True, smoothing=0.1)
