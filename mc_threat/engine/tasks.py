"""Monte Carlo over chunks of systems for blocks of sweep points.

The unit of work and of determinism is a *task*: a block of consecutive sweep points
times one chunk of systems. A task returns, for every point of its block, the moment
records ``(count, mean, m2, min, max)`` of every outcome over the chunk's systems and the
chunk's choice-by-power counts. Chunks are merged in chunk order afterwards, so a point's
result depends on the config alone, never on which worker or thread computed what.

Points that share ``n_states`` and the generator settings share their generated systems
(common random numbers) and are evaluated in one kernel call.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from ..config import ConfigError
from ..design import checked_design_size
from ..kernels import N_CHOICES, N_OUTCOMES, N_POWER_BINS
from ..kernels.stats import N_MOMENTS
from ..store import merge_chunks  # noqa: F401  (re-exported: it was defined here)

# A task should take about TASK_SECONDS on one core: long enough to hide scheduling and
# store costs, short enough to balance the load and lose little when a run is killed. The
# cost model (seconds per point and system, one core) is a rough fit to `mc-threat bench`.
TASK_SECONDS = 2.0
MIN_TASKS = 8
MAX_POINTS_PER_TASK = 256


MAX_CHUNKS = 1_000_000
"""Most chunks of systems per point (``run.systems / run.chunk``)."""
MAX_POINT_CHUNKS = 100_000_000
"""Most (point, chunk) moment records, the size of ``_work/moments`` (60 GB at this bound)."""


MAX_RESERVOIR_ROWS = 20_000_000
"""Most (point, kept system) rows of a reservoir (``run.reservoir``): 24 values of 8 bytes
each, 3.8 GB at this bound."""


def check_size(config, systems_flag: bool = False) -> None:
    """Refuse a sweep too large to plan (before its points are drawn), naming the field.

    Raises
    ------
    ConfigError
        More than :data:`~mc_threat.design.MAX_POINTS` points, :data:`MAX_CHUNKS` chunks
        per point or :data:`MAX_POINT_CHUNKS` (point, chunk) records.
    """
    points, _ = checked_design_size(config.sweep)
    systems = "--systems" if systems_flag else "run.systems"
    run = config.run
    chunks = -(-run.systems // min(run.chunk, run.systems))
    if chunks > MAX_CHUNKS:
        raise ConfigError(f"{systems}: {run.systems:,} systems in chunks of {run.chunk:,} make "
                          f"{chunks:,} chunks per point; at most {MAX_CHUNKS:,} (raise "
                          "run.chunk)")
    if points * run.reservoir > MAX_RESERVOIR_ROWS:
        raise ConfigError(f"run.reservoir: {points:,} points x {run.reservoir:,} kept systems "
                          f"make {points * run.reservoir:,} rows of outcomes; at most "
                          f"{MAX_RESERVOIR_ROWS:,} (keep fewer systems or make fewer points)")
    if points * chunks > MAX_POINT_CHUNKS:
        raise ConfigError(f"{systems}: {points:,} points x {chunks:,} chunks of systems make "
                          f"{points * chunks:,} per-chunk records; at most "
                          f"{MAX_POINT_CHUNKS:,} (raise run.chunk or make fewer points)")


def point_system_seconds(n: int) -> float:
    """Rough cost of one point-system evaluation on one core."""
    return 0.5e-6 + 1.0e-8 * n * n


@dataclass(frozen=True)
class Group:
    """Consecutive points ``lo .. hi - 1`` of a block sharing ``n`` and the generator."""

    lo: int
    hi: int
    n_states: int
    generator: np.ndarray  # (6,) generator vector
    params: np.ndarray  # (hi - lo, N_PARAMS) parameter rows


@dataclass(frozen=True)
class Plan:
    """How a sweep splits into tasks.

    Points form blocks of ``block`` consecutive points, systems form chunks of ``chunk``
    consecutive systems, and a task is one block times a run of ``chunks_per_task``
    consecutive chunks. Results are kept per chunk, so the plan decides only how work is
    shared out, never the numbers.
    """

    n_points: int
    systems: int
    chunk: int
    block: int
    chunks_per_task: int

    @property
    def n_chunks(self) -> int:
        return -(-self.systems // self.chunk)

    @property
    def n_blocks(self) -> int:
        return -(-self.n_points // self.block)

    @property
    def n_runs(self) -> int:
        """Runs of chunks (the second axis of the task grid)."""
        return -(-self.n_chunks // self.chunks_per_task)

    @property
    def n_tasks(self) -> int:
        return self.n_blocks * self.n_runs

    def chunk_range(self, c: int) -> tuple[int, int]:
        """``(start, count)`` of chunk ``c``."""
        start = c * self.chunk
        return start, min(self.chunk, self.systems - start)

    def run_chunks(self, r: int) -> range:
        """Chunks of run ``r``."""
        lo = r * self.chunks_per_task
        return range(lo, min(self.n_chunks, lo + self.chunks_per_task))

    def block_range(self, b: int) -> tuple[int, int]:
        """Points ``lo .. hi - 1`` of block ``b``."""
        lo = b * self.block
        return lo, min(self.n_points, lo + self.block)


def make_plan(configs, systems: int, chunk: int) -> Plan:
    """Split a sweep into tasks of about ``TASK_SECONDS``, from the config alone.

    The plan must not depend on the machine (a run resumed elsewhere must find the same
    task grid), so it uses a fixed cost model and asks for at least ``MIN_TASKS`` tasks
    when the work allows.
    """
    chunk = min(chunk, systems)
    n_points = len(configs)
    n_chunks = -(-systems // chunk)
    point_chunk = chunk * point_system_seconds(max(c.model.n_states for c in configs))
    block = int(min(n_points, MAX_POINTS_PER_TASK, max(1, TASK_SECONDS // point_chunk)))
    per_task = int(min(n_chunks, max(1, TASK_SECONDS // (block * point_chunk))))
    n_blocks = -(-n_points // block)
    while per_task > 1 and n_blocks * -(-n_chunks // per_task) < MIN_TASKS:
        per_task -= 1
    return Plan(n_points=n_points, systems=systems, chunk=chunk, block=block,
                chunks_per_task=per_task)


def block_groups(configs, lo: int, hi: int) -> list[Group]:
    """Split points ``lo .. hi - 1`` into runs that share ``n`` and the generator."""
    from ..model.batch import params_vector
    from ..model.generate import generator_vector

    groups: list[Group] = []
    start = lo
    for k in range(lo + 1, hi + 1):
        if k == hi or not _same_systems(configs[k], configs[start]):
            rows = np.stack([params_vector(configs[j].model) for j in range(start, k)])
            groups.append(Group(start, k, configs[start].model.n_states,
                                generator_vector(configs[start].generator), rows))
            start = k
    return groups


def _same_systems(a, b) -> bool:
    return a.model.n_states == b.model.n_states and a.generator == b.generator


def compute_task(seed: int, chunks: list[tuple[int, int]], groups: list[Group],
                 threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run the chunks ``[(start, count), ...]`` of systems for the points of ``groups``.

    Returns moment records ``(points, chunks, N_OUTCOMES, 5)`` and choice-by-power counts
    ``(points, chunks, 10, 3)`` for the points ``groups[0].lo .. groups[-1].hi - 1``.
    ``threads`` caps numba's threads for this call (``numba.set_num_threads``).
    """
    import numba

    from ..model.batch import POWER_BIN_EDGES

    run_chunk = sweep_kernel()
    if threads is not None:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    size = groups[-1].hi - groups[0].lo
    moments = np.empty((size, len(chunks), N_OUTCOMES, N_MOMENTS))
    cbp = np.empty((size, len(chunks), N_POWER_BINS, N_CHOICES), np.int64)
    for k, (start, count) in enumerate(chunks):
        for g in groups:
            a = g.lo - groups[0].lo
            b = g.hi - groups[0].lo
            # Contiguous buffers of their own: the kernel has exactly one signature.
            m = np.empty((b - a, N_OUTCOMES, N_MOMENTS))
            c = np.empty((b - a, N_POWER_BINS, N_CHOICES), np.int64)
            run_chunk(np.uint64(seed), np.int64(start), np.int64(count),
                      np.int64(g.n_states), np.ascontiguousarray(g.generator, np.float64),
                      np.ascontiguousarray(g.params, np.float64), POWER_BIN_EDGES, m, c)
            moments[a:b, k] = m
            cbp[a:b, k] = c
    return moments, cbp


def compute_reservoir(seed: int, groups: list[Group], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The reservoir rows of the points of ``groups``: systems ``0 .. k - 1`` (the first of
    the run's systems, the same at every point that shares ``n`` and the generator),
    generated again and evaluated under every point's parameters.

    Returns outcomes ``(points, k, N_OUTCOMES)`` (the numbers the sweep kernel accumulates
    for those systems: the same generator and evaluation functions) and attributes
    ``(points, k, A)`` (:func:`mc_threat.model.attributes.system_attributes`).
    """
    from ..model.attributes import system_attributes
    from ..model.batch import outcome_rows
    from ..model.generate import generate_from_vector

    outcomes, attributes = [], []
    for g in groups:
        systems = generate_from_vector(g.generator, g.n_states, seed, 0, k)
        outcomes.append(outcome_rows(systems, g.params))
        a = system_attributes(systems)
        attributes.append(np.broadcast_to(a, (g.hi - g.lo, *a.shape)))
    return np.concatenate(outcomes), np.concatenate(attributes)


def prepare_reservoir_kernels() -> float:
    """Make the kernels :func:`compute_reservoir` uses (the generator's and the evaluation's
    batch kernels) ready in this process, from numba's cache or compiled (announced like the
    sweep kernel's); returns the seconds spent compiling (0 when loaded)."""
    import numba

    from ..kernels import N_OUTCOMES as n_out
    from ..kernels import N_PARAMS
    from ..kernels.evaluate import evaluate_batch
    from ..kernels.generate import generate_batch
    from ..model.batch import POWER_BIN_EDGES

    _pin_numba_threads_env()
    c, n = 1, 2  # the argument types of generate_from_vector and outcome_rows, at any size
    power, position, offense, intent = (np.empty((c, n)), np.empty((c, n, 2)),
                                        np.empty((c, n)), np.empty((c, n)))
    gen_args = (np.uint64(0), np.int64(0), np.ones(6), 1, power, position, offense, intent)
    ints, bytes_ = np.empty((c, n), np.int32), np.empty((c, n), np.int8)
    eval_args = (power, position, offense, intent[:, None, :], np.empty(N_PARAMS),
                 POWER_BIN_EDGES, 1, ints, bytes_, ints, ints, bytes_,
                 np.empty((1, c, n_out))[0], np.empty((1, N_POWER_BINS, 3), np.int64))
    seconds = 0.0
    for dispatcher, args in ((generate_batch, gen_args), (evaluate_batch, eval_args)):
        signature = tuple(numba.typeof(a) for a in args)
        seconds += _compile_announced(dispatcher, signature, "the reservoir kernels") or 0.0
    return seconds


COMPILE_ESTIMATE = "about 40 s on 2 cores"
"""What the compile notice promises (``mc-threat bench`` measures a cold compile of every
kernel as ``compile.cold_compile_s``; the sweep kernel is about half of it)."""

log = logging.getLogger("mc_threat")


def sweep_kernel():
    """The sweep kernel ``run_chunk``, ready for its one signature (see
    :func:`prepare_sweep_kernel`)."""
    from ..kernels.engine import run_chunk

    prepare_sweep_kernel()
    return run_chunk


def prepare_sweep_kernel() -> float:
    """Make the sweep kernel ready in this process; returns the seconds spent compiling it
    (0 when it was loaded from numba's cache, or was ready already).

    The first call in a process loads the kernel from numba's cache, or compiles it when
    there is none (a fresh install, a new machine, a cluster node with its own cache); a
    compile is announced before it starts (a log line in a dask worker, a line on stderr
    in the client) and timed. Then compiling is switched off for this dispatcher: a call
    with other argument types raises ``TypeError`` at once instead of compiling inside a
    worker.

    Compiling is safe in any process: numba re-reads its ``NUMBA_*`` environment before
    each compile and refuses a ``NUMBA_NUM_THREADS`` that differs from the thread pool it
    launched, which happens in a dask worker whose environment was set after numba was
    imported. :func:`_pin_numba_threads_env` makes the environment agree with the running
    configuration; the threads a task uses are set with ``numba.set_num_threads`` alone.
    """
    from ..kernels.engine import RUN_CHUNK_SIGNATURE, run_chunk

    if not run_chunk._can_compile:
        return 0.0
    _pin_numba_threads_env()
    seconds = _compile_announced(run_chunk, RUN_CHUNK_SIGNATURE, "the sweep kernel")
    run_chunk.disable_compile()
    return seconds or 0.0


def _pin_numba_threads_env() -> None:
    import numba

    running = str(numba.config.NUMBA_NUM_THREADS)
    if os.environ.get("NUMBA_NUM_THREADS", running) != running:
        log.info("NUMBA_NUM_THREADS=%s in the environment, but numba started with %s; "
                 "using numba.set_num_threads instead", os.environ["NUMBA_NUM_THREADS"],
                 running)
        os.environ["NUMBA_NUM_THREADS"] = running


def _compile_announced(dispatcher, signature, what: str) -> float | None:
    """Load ``dispatcher`` for ``signature`` from numba's cache or compile it, announcing a
    compile (before it starts) and its duration. Returns the seconds spent if it compiled,
    else None."""
    import numba

    if not _in_cache(dispatcher, signature):
        log.warning("mc-threat: compiling %s for this machine (once per install and "
                    "machine; %s); later runs load it from numba's cache in %s", what,
                    COMPILE_ESTIMATE, numba.config.CACHE_DIR or "the package's __pycache__")
    misses = sum(dispatcher.stats.cache_misses.values())
    t0 = time.perf_counter()
    dispatcher.compile(signature)
    seconds = time.perf_counter() - t0
    if sum(dispatcher.stats.cache_misses.values()) == misses:
        return None
    log.warning("mc-threat: compiled %s in %.0f s (pid %d)", what, seconds, os.getpid())
    return seconds


def _in_cache(dispatcher, signature) -> bool:
    """Whether numba's on-disk cache holds a fresh copy of ``signature`` (reads only the
    small index file, through numba internals: if they change, this says False and the
    notice merely comes before a cache load)."""
    try:
        cache = dispatcher._cache
        key = cache._index_key(signature, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - numba internals; only decides whether to announce
        return False


def monte_carlo(config, systems: int | None = None, chunk: int | None = None):
    """Run every point of ``config`` in this process, without dask or a store.

    Returns ``(design, moments (points, N_OUTCOMES, 5), choice_by_power (points, 10, 3))``;
    the same numbers a sweep stores, for notebooks and tests.
    """
    from ..design import design_points

    design = design_points(config)
    plan = make_plan(design.configs, systems or config.run.systems, chunk or config.run.chunk)
    moments = np.empty((plan.n_points, plan.n_chunks, N_OUTCOMES, N_MOMENTS))
    cbp = np.zeros((plan.n_points, N_POWER_BINS, N_CHOICES), np.int64)
    chunks = [plan.chunk_range(c) for c in range(plan.n_chunks)]
    for b in range(plan.n_blocks):
        lo, hi = plan.block_range(b)
        m, k = compute_task(config.run.seed, chunks, block_groups(design.configs, lo, hi))
        moments[lo:hi] = m
        cbp[lo:hi] = k.sum(axis=1)
    return design, merge_chunks(moments), cbp
