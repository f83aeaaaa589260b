"""Sweeps on real clusters, started the way users start them.

* **Cold kernel caches**: ``NUMBA_CACHE_DIR`` points at a new empty directory for the client
  and every worker; the README's default sweep and then a Sobol sweep whose tasks hold
  several points and several chunks (the signature that used to be compiled inside a dask
  worker, and crash there) run on the embedded LocalCluster, byte-identical to
  ``--workers 0``.
* **An external dask cluster**: ``dask scheduler`` and ``dask worker --nthreads 1``
  processes (``NUMBA_NUM_THREADS=1``, as the README says) started from the command line;
  ``mc-threat sweep --scheduler``; a worker SIGKILLed mid-run; the client SIGKILLed mid-run
  and ``--resume`` against the same cluster; a worker running another mc-threat version, and
  one without mc-threat at all, refused with one clear line.
* The numba environment guard that makes compiling inside any worker safe, and the one
  signature of the sweep kernel.

SLURM, which needs system daemons, is in ``tests/test_slurm.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    ROOT,
    assert_stores_identical,
    cli_command,
    group_alive,
    kill_group,
    reference_sweep,
    tasks_done,
    write_config,
)

from mc_threat import __version__
from mc_threat.store import Store

# 72 Sobol points (power_sigma varies, so nearly every point generates its own systems) x
# 20 chunks of 100 systems: one block of 72 points, tasks of 2 chunks each.
SOBOL_SMALL = {
    "model": {"n_states": 16},
    "run": {"seed": 20261202, "systems": 2000, "chunk": 100},
    "sweep": {"design": "sobol", "samples": 8, "second_order": False, "seed": 0, "factors": {
        "model.weights.power": [0.0, 1.0], "model.weights.proximity": [0.0, 1.0],
        "model.weights.offense": [0.0, 1.0], "model.weights.intent": [0.0, 1.0],
        "model.bandwagon_ratio": [0.0, 0.5], "model.reach": [0.05, 0.5],
        "generator.power_sigma": [0.5, 2.0]}},
}

# 2 points x 48 chunks of 10,000 systems: 8 tasks of about 0.8 s (one core) each, long
# enough to kill a worker or the client while tasks are in flight.
KILL_CONFIG = {
    "model": {"n_states": 16},
    "run": {"seed": 31, "systems": 480000, "chunk": 10000},
    "sweep": {"design": "grid", "factors": {"model.weights.intent": [0.25, 1.0]}},
}


def _run(argv, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([*cli_command(), *map(str, argv)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _assert_clean(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


# ---------------------------------------------------------------------------------------------
# The sweep kernel: one signature, and compiling is safe under a running thread pool
# ---------------------------------------------------------------------------------------------


def test_sweep_kernel_has_one_signature_and_refuses_others():
    """A task of several points and chunks calls the kernel with the very signature the
    warm-up compiled; any other layout raises TypeError instead of compiling anew."""
    from mc_threat.config import config_from_dict
    from mc_threat.design import design_points
    from mc_threat.engine.tasks import block_groups, compute_task, sweep_kernel
    from mc_threat.kernels.engine import RUN_CHUNK_SIGNATURE
    from mc_threat.model.batch import POWER_BIN_EDGES

    design = design_points(config_from_dict(SOBOL_SMALL))
    groups = block_groups(design.configs, 3, 11)
    assert len(groups) > 1
    compute_task(1, [(0, 50), (50, 30), (80, 20)], groups)
    kernel = sweep_kernel()
    assert kernel.signatures == [RUN_CHUNK_SIGNATURE]
    g = groups[0]
    cbp = np.empty((g.hi - g.lo, 10, 3), np.int64)
    strided = np.empty((g.hi - g.lo, 15, 5 * 2))[:, :, ::2]  # an 'A'-layout output slice
    with pytest.raises(TypeError):
        kernel(np.uint64(1), np.int64(0), np.int64(10), np.int64(g.n_states), g.generator,
               g.params, POWER_BIN_EDGES, strided, cbp)
    assert kernel.signatures == [RUN_CHUNK_SIGNATURE]


_PIN_SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ.pop("NUMBA_NUM_THREADS", None)
    import numba
    import numpy as np

    @numba.njit(parallel=True)
    def launch(x):
        s = 0.0
        for i in numba.prange(x.size):
            s += x[i]
        return s

    launch(np.ones(100))            # the thread pool starts with the default size
    os.environ["NUMBA_NUM_THREADS"] = str(numba.config.NUMBA_NUM_THREADS + 1)  # as dask's env=
    if sys.argv[1] == "pin":
        from mc_threat.engine.tasks import _pin_numba_threads_env
        _pin_numba_threads_env()

    @numba.njit
    def fresh(x):                   # any compile now re-reads the environment
        return x + 1

    print(fresh(1))
""")


@pytest.mark.parametrize("pin", ["pin", "nopin"])
def test_compiling_under_a_running_thread_pool(tmp_path, pin):
    """The failure dask workers hit: numba started its threads, then the environment says
    another NUMBA_NUM_THREADS, and the next compile raised. The guard makes the compile
    safe; without it the same script fails (so the test can fail)."""
    script = tmp_path / "pin.py"
    script.write_text(_PIN_SCRIPT)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(script), pin], capture_output=True, text=True,
                          env=env, timeout=300)
    if pin == "pin":
        assert proc.returncode == 0 and proc.stdout.strip() == "2", proc.stderr
    else:
        assert proc.returncode != 0
        assert "Cannot set NUMBA_NUM_THREADS" in proc.stderr


# ---------------------------------------------------------------------------------------------
# Cold caches, embedded LocalCluster
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cold_cache_default_then_sobol_on_local_cluster(tmp_path):
    """The README's commands on a machine whose kernel caches are empty: the default sweep,
    then a Sobol sweep with several points and chunks per task, on the embedded
    LocalCluster (2 workers), each byte-identical to ``--workers 0``. The first run says
    it compiles; nothing prints a traceback."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "empty-numba-cache")}
    default = ROOT / "configs" / "default.yaml"
    sobol = write_config(tmp_path / "sobol_small.yaml", SOBOL_SMALL)

    first = _run(["sweep", default, "--systems", "2000", "--out", tmp_path / "d.zarr",
                  "--workers", "2"], env=env)
    _assert_clean(first)
    assert "compiling the sweep kernel" in first.stderr
    assert "compiled the sweep kernel in" in first.stderr
    m = next(line for line in first.stdout.splitlines() if "tasks run in" in line)
    assert "compiling kernels" in m, m  # the throughput leaves the compile out, and says so

    second = _run(["sweep", sobol, "--out", tmp_path / "s.zarr", "--workers", "2"], env=env)
    _assert_clean(second)
    assert "compil" not in second.stderr  # loaded from the cache the first run wrote
    tasks = Store(tmp_path / "s.zarr")
    assert tasks.block > 1 and tasks.chunks_per_task > 1, (tasks.block, tasks.chunks_per_task)

    for name, cfg, extra in [("d", default, ["--systems", "2000"]), ("s", sobol, [])]:
        ref = _run(["sweep", cfg, *extra, "--out", tmp_path / f"{name}0.zarr",
                    "--workers", "0", "--quiet"], env=env)
        _assert_clean(ref)
        assert_stores_identical(tmp_path / f"{name}.zarr", tmp_path / f"{name}0.zarr")


# ---------------------------------------------------------------------------------------------
# An external dask cluster, started from the command line
# ---------------------------------------------------------------------------------------------


class CommandLineCluster:
    """``dask scheduler`` and ``dask worker`` processes, each in a process group of its own."""

    def __init__(self, base: Path):
        self.base = base
        self.dask = str(Path(sys.executable).with_name("dask"))
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        file = base / "scheduler.json"
        self.scheduler = self._start([self.dask, "scheduler", "--host", "127.0.0.1",
                                      "--port", "0", "--dashboard-address", ":0",
                                      "--scheduler-file", str(file)], "scheduler")
        deadline = time.monotonic() + 60
        while not file.exists():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start:\n{self.log('scheduler')}")
            time.sleep(0.1)
        time.sleep(0.2)  # written in one go, but be safe with a partial read
        self.address = json.loads(file.read_text())["address"]

    def _start(self, cmd, name, env=None, cwd=None) -> subprocess.Popen:
        with open(self.base / f"{name}.log", "ab") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                    cwd=cwd or self.base, start_new_session=True)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.base / f"{name}.log").read_text(errors="replace")

    def start_worker(self, name: str, python: str | None = None, extra_env=None):
        """``NUMBA_NUM_THREADS=1 dask worker ADDRESS --nthreads 1`` (the README's way)."""
        env = {**os.environ, "NUMBA_NUM_THREADS": "1", **(extra_env or {})}
        cmd = ([python, "-m", "distributed.cli.dask_worker"] if python else
               [self.dask, "worker"])
        proc = self._start([*cmd, self.address, "--nthreads", "1", "--host", "127.0.0.1",
                            "--dashboard-address", ":0", "--name", name], name, env=env)
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int, timeout: float = 120.0) -> None:
        from dask.distributed import Client

        with Client(self.address, timeout="20s") as c:
            c.wait_for_workers(n, timeout=timeout)

    def stop_worker(self, proc) -> None:
        kill_group(proc)
        self.workers.remove(proc)

    def close(self) -> None:
        for proc in self.procs:
            kill_group(proc)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two workers started from the command line. The kernel is warmed
    first in this process so the workers load it from the cache instead of compiling."""
    from mc_threat.engine.sweep import warm_kernels

    warm_kernels()
    cluster = CommandLineCluster(tmp_path_factory.mktemp("dask-cluster"))
    try:
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    cfg, ref, report = reference_sweep(tmp_path_factory.mktemp("kill"), "kill", KILL_CONFIG)
    assert report.tasks_total >= 8
    return cfg, ref, report.tasks_total


def _wait_for_tasks(store: Path, proc, at_least: int, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while tasks_done(store) < at_least:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended (status {proc.returncode}) before the kill")
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"no task finished in {timeout} s")
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_external_scheduler_matches_in_process(dask_cluster, tmp_path):
    cfg = write_config(tmp_path / "sobol_small.yaml", SOBOL_SMALL)
    ref = _run(["sweep", cfg, "--workers", "0", "--quiet", "--out", tmp_path / "ref.zarr"])
    _assert_clean(ref)
    proc = _run(["sweep", cfg, "--scheduler", dask_cluster.address, "--quiet",
                 "--out", tmp_path / "ext.zarr"])
    _assert_clean(proc)
    assert_stores_identical(tmp_path / "ext.zarr", tmp_path / "ref.zarr")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_external_worker_sigkilled_mid_run(dask_cluster, kill_reference, tmp_path):
    """SIGKILL a busy worker (its nanny too: the worker is gone for good) once a task is
    stored; the other worker finishes the sweep, byte-identical to an uninterrupted run."""
    from dask.distributed import Client

    cfg, ref, tasks = kill_reference
    out = tmp_path / "ext.zarr"
    with open(tmp_path / "sweep.log", "wb") as log:
        sweep = subprocess.Popen([*cli_command(), "sweep", str(cfg), "--scheduler",
                                  dask_cluster.address, "--quiet", "--out", str(out)],
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_tasks(out, sweep, 1)
        with Client(dask_cluster.address, timeout="20s") as c:
            pids = c.run(os.getpid)
            busy = [w for w, keys in c.processing().items() if keys and w in pids]
        assert busy, "no worker was computing a task"
        pgid = os.getpgid(pids[busy[0]])
        victim = next(p for p in dask_cluster.workers if p.pid == pgid)
        dask_cluster.stop_worker(victim)
        assert tasks_done(out) < tasks, "the kill came too late to matter"
        assert sweep.wait(timeout=240) == 0, (tmp_path / "sweep.log").read_text()
    finally:
        if sweep.poll() is None:
            kill_group(sweep)
        # put the cluster back as the other tests expect it
        while len(dask_cluster.workers) < 2:
            dask_cluster.start_worker(f"w{len(dask_cluster.procs) + 1}")
        dask_cluster.wait_for_workers(2)
    assert "Traceback" not in (tmp_path / "sweep.log").read_text()
    assert_stores_identical(out, ref)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_external_client_sigkilled_then_resumed(dask_cluster, kill_reference, tmp_path):
    """SIGKILL the client (the process that writes the store) once a task is stored, then
    ``--resume`` against the same cluster: byte-identical to an uninterrupted run."""
    cfg, ref, tasks = kill_reference
    out = tmp_path / "ext.zarr"
    cmd = [*cli_command(), "sweep", str(cfg), "--scheduler", dask_cluster.address,
           "--quiet", "--out", str(out)]
    with open(tmp_path / "sweep.log", "wb") as log:
        sweep = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        _wait_for_tasks(out, sweep, 1)
    finally:
        kill_group(sweep)
    assert not group_alive(sweep.pid)
    done = tasks_done(out)
    assert 1 <= done < tasks, done
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    _assert_clean(resumed)
    assert_stores_identical(out, ref)


def _other_version_package(base: Path) -> Path:
    """A copy of the package whose ``__version__`` differs: an old install on a worker."""
    import mc_threat

    src = Path(mc_threat.__file__).parent
    dst = base / "other" / "mc_threat"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    init = dst / "__init__.py"
    text = init.read_text()
    assert f'__version__ = "{__version__}"' in text
    init.write_text(text.replace(f'__version__ = "{__version__}"', '__version__ = "0.0.1"'))
    return dst.parent


def _python_without_mc_threat(base: Path) -> str:
    """A virtual environment with every dependency but not mc-threat: a new venv whose
    ``.pth`` file adds this environment's site-packages (the editable install's own
    ``.pth`` hook there is not processed, so ``mc_threat`` cannot be imported)."""
    import sysconfig

    env = base / "venv-without-mc-threat"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True,
                   timeout=120)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run([str(python), "-c", "import distributed, numba, mc_threat"],
                           capture_output=True, text=True, cwd=base)
    if "No module named 'mc_threat'" not in probe.stderr:
        pytest.skip("mc-threat is installed non-editable here; cannot build an environment "
                    f"without it this way ({probe.stderr.strip()[-200:]})")
    return str(python)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["other_version", "not_installed"])
def test_mismatched_worker_is_refused_with_one_line(dask_cluster, tmp_path, kind):
    """A worker that runs another mc-threat version, or none, is refused at connect: exit
    status 2, one ``mc-threat: error:`` line naming the worker and both versions (or the
    missing package), no traceback, no store written."""
    if kind == "other_version":
        worker = dask_cluster.start_worker(
            "other", extra_env={"PYTHONPATH": str(_other_version_package(tmp_path))})
    else:
        worker = dask_cluster.start_worker("bare", python=_python_without_mc_threat(tmp_path))
    try:
        dask_cluster.wait_for_workers(3)
        cfg = write_config(tmp_path / "tiny.yaml", {"run": {"systems": 1000, "chunk": 1000}})
        out = tmp_path / "refused.zarr"
        proc = _run(["sweep", cfg, "--scheduler", dask_cluster.address, "--out", out])
    finally:
        dask_cluster.stop_worker(worker)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mc-threat: error: --scheduler "), lines
    if kind == "other_version":
        assert "0.0.1" in lines[0] and __version__ in lines[0], lines[0]
    else:
        assert "No module named 'mc_threat'" in lines[0], lines[0]
        assert f"install mc-threat {__version__}" in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_worker_of_another_version_joining_late_fails_its_tasks_clearly(dask_cluster,
                                                                        tmp_path):
    """A worker that joins after the connect check (a cluster scaling up) cannot run a task
    of another version: the task refuses, and the sweep stops with one clear line."""
    from dask.distributed import Client

    from mc_threat.engine.sweep import WorkerMismatch, dask_task

    worker = dask_cluster.start_worker(
        "late", extra_env={"PYTHONPATH": str(_other_version_package(tmp_path))})
    try:
        dask_cluster.wait_for_workers(3)
        with Client(dask_cluster.address, timeout="20s") as c:
            late = next(w for w, info in c.scheduler_info()["workers"].items()
                        if info.get("name") == "late")
            fut = c.submit(dask_task, __version__, 1, [(0, 10)], [], None, workers=[late],
                           pure=False)
            with pytest.raises(WorkerMismatch, match=f"0.0.1, the client {__version__}"):
                fut.result(timeout=60)
    finally:
        dask_cluster.stop_worker(worker)


@pytest.mark.parametrize("address", ["notanaddress", "foo://127.0.0.1:1"])
def test_failed_scheduler_connection_leaves_dask_settings_alone(address):
    """A bad ``--scheduler`` is refused, and dask's default scheduler is what it was before
    (a half-made Client used to leave ``scheduler='dask.distributed'`` set until garbage
    collection, which broke every later dask computation in the same process)."""
    import dask

    from mc_threat.engine.sweep import DaskExecutor
    from mc_threat.store import StoreError

    before = dask.config.get("scheduler", None)
    with pytest.raises(StoreError, match=f"--scheduler {address}"):
        DaskExecutor(None, address, 1, progress=False)
    assert dask.config.get("scheduler", None) == before
