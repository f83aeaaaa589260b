"""Sweeps with real components: a LocalCluster of worker processes, the synchronous path,
real zarr stores, and real processes killed with SIGKILL and resumed.

* the stored variables are byte-identical for 0 (no dask), 1 and 2 dask workers;
* every region a sweep writes is chunk-aligned and covers exactly one chunk, once;
* a sweep killed with SIGKILL mid-run and resumed equals an uninterrupted run;
* stored statistics equal those of ``evaluate`` over the same generated systems.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    assert_stores_identical,
    cli_command,
    force_plan,
    group_alive,
    kill_group,
    make_config,
    open_store,
    reference_sweep,
    run_cli,
)

import mc_threat as mt
from mc_threat.engine.sweep import run_sweep
from mc_threat.engine.tasks import monte_carlo
from mc_threat.kernels.stats import summary_from_moments
from mc_threat.store import STATS, Store

# ---------------------------------------------------------------------------------------------
# 0, 1 and 2 workers give byte-identical stores
# ---------------------------------------------------------------------------------------------

# 6 points, forced into blocks of 4 (the last block partial); 10 chunks of 500 systems (the
# last one 300), in runs of 4 chunks where the plan has runs (the last run partial).
IDENTITY = {
    "model": {"n_states": 5},
    "run": {"seed": 777, "systems": 4800, "chunk": 500},
    "sweep": {"design": "grid",
              "factors": {"model.weights.intent": [0.0, 0.5, 1.0], "model.n_states": [5, 9]}},
}
RESULT_VARS = [*mt.OUTCOMES, "choice_by_power"]
WORK_ARRAYS = ["_work/moments", "_work/choice_by_power", "_work/task_done", "_work/block_done"]


def check_write_log(log, tasks: int) -> None:
    """Every write covered exactly one chunk; no chunk was written twice; every chunk of the
    result variables and of the bookkeeping arrays was written; one manifest write a task."""
    by_array = log.by_array()
    assert sorted(by_array) == sorted(RESULT_VARS + WORK_ARRAYS)
    for path, chunks in log.calls:
        assert len(chunks) == 1, f"a write to {path} covered {len(chunks)} chunks"
    for path, chunks in by_array.items():
        assert len(chunks) == len(set(chunks)), f"a chunk of {path} was written twice"
        assert sorted(chunks) == sorted(log.all_chunks(path)), f"chunks of {path} not written"
    assert len(by_array["_work/task_done"]) == tasks


@pytest.mark.timeout(240)
def test_stores_byte_identical_for_sync_one_and_two_workers(tmp_path, monkeypatch,
                                                            aligned_writes):
    force_plan(monkeypatch, block=4, chunks_per_task=4)
    config = make_config(IDENTITY)
    stores = {}
    for workers in (0, 1, 2):
        aligned_writes.clear()
        out = tmp_path / f"workers{workers}.zarr"
        report = run_sweep(config, out, workers=workers, progress=False)
        assert report.points == 6
        assert report.tasks_run == report.tasks_total >= 4
        check_write_log(aligned_writes, report.tasks_total)
        stores[workers] = out

    ds = open_store(stores[0])
    assert ds.attrs["points_per_task"] == 4, "the forced plan was not used"
    assert Store(stores[0]).done_tasks().shape[0] == 2
    assert (ds["share_balance"].sel(stat="count").values == 4800).all()
    assert np.isfinite(ds["share_balance"].sel(stat="mean").values).all()
    assert ds["choice_by_power"].values.sum() == 4800 * (3 * 5 + 3 * 9)
    assert_stores_identical(stores[0], stores[1])
    assert_stores_identical(stores[0], stores[2])

    # the task layout decides how work is shared, never the numbers: the in-process engine
    # with its own plan gives exactly the stored values
    _, moments, cbp = monte_carlo(config)
    summary = summary_from_moments(moments)
    for k, name in enumerate(mt.OUTCOMES):
        for s in STATS:
            np.testing.assert_array_equal(ds[name].sel(stat=s).values, summary[s][:, k],
                                          err_msg=f"{name} {s}")
    np.testing.assert_array_equal(ds["choice_by_power"].values, cbp)


# ---------------------------------------------------------------------------------------------
# Stored statistics equal those of `evaluate` over the same systems
# ---------------------------------------------------------------------------------------------

# n_states differs between points; points 0 and 2 share the generated systems but are not
# adjacent; 3000 systems in chunks of 700 (the last one 200), across 512-system sub-blocks.
MEANS = {
    "run": {"seed": 4242, "systems": 3000, "chunk": 700},
    "sweep": {"design": "points", "points": [
        {"model.n_states": 5, "model.weights.intent": 0.5, "generator.power_sigma": 1.0},
        {"model.n_states": 8, "model.weights.intent": 1.0, "generator.power_sigma": 1.5},
        {"model.n_states": 5, "model.weights.intent": 2.0, "generator.power_sigma": 1.0},
    ]},
}


@pytest.mark.timeout(120)
def test_stored_statistics_equal_evaluate_over_same_systems(tmp_path):
    from mc_threat.design import design_points

    config = make_config(MEANS)
    out = tmp_path / "means.zarr"
    run_sweep(config, out, workers=0, progress=False)
    ds = open_store(out)
    design = design_points(config)
    assert ds["n_states"].values.tolist() == [5, 8, 5]
    assert ds["model.n_states"].values.tolist() == [5, 8, 5]
    assert ds["generator.power_sigma"].values.tolist() == [1.0, 1.5, 1.0]
    assert ds.attrs["n_chunks"] == 5

    for p, cfg in enumerate(design.configs):
        systems = mt.generate_systems(cfg.generator, n_states=cfg.model.n_states,
                                      seed=cfg.run.seed, start=0, count=3000)
        res = mt.evaluate(systems, cfg.model)
        for name in mt.OUTCOMES:
            x = res.outcomes[name]
            stored = {s: float(ds[name].sel(stat=s).values[p]) for s in STATS}
            where = f"point {p}, {name}"
            assert np.isfinite(x).all(), where
            assert stored["count"] == 3000, where
            assert stored["min"] == x.min(), where
            assert stored["max"] == x.max(), where
            np.testing.assert_allclose(stored["mean"], x.mean(), rtol=1e-12, atol=1e-15,
                                       err_msg=where)
            std = x.std(ddof=1)
            np.testing.assert_allclose(stored["std"], std, rtol=1e-9, atol=1e-12, err_msg=where)
            np.testing.assert_allclose(stored["sem"], std / np.sqrt(3000), rtol=1e-9,
                                       atol=1e-12, err_msg=where)
        np.testing.assert_array_equal(ds["choice_by_power"].values[p], res.choice_by_power)
        assert res.choice_by_power.sum() == 3000 * cfg.model.n_states

    # common random numbers: points 0 and 2 share systems and balance-of-power settings
    for name in ("bop_share_balance", "bop_contained", "bop_hegemon_favoured"):
        np.testing.assert_array_equal(ds[name].values[0], ds[name].values[2])
    assert not np.array_equal(ds["share_balance"].values[0], ds["share_balance"].values[2])


# ---------------------------------------------------------------------------------------------
# SIGKILL mid-run, then --resume
# ---------------------------------------------------------------------------------------------

# 2 points x 36 chunks of 1000 systems: several seconds on 2 cores, in many tasks.
KILL = {
    "model": {"n_states": 16},
    "run": {"seed": 99, "systems": 36000, "chunk": 1000},
    "sweep": {"design": "grid", "factors": {"model.weights.intent": [0.5, 1.0]}},
}


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    """The config file and an uninterrupted run of it."""
    cfg, ref, report = reference_sweep(tmp_path_factory.mktemp("kill"), "kill", KILL)
    assert report.tasks_run == report.tasks_total
    assert report.tasks_total >= 6, "the kill config must make several tasks"
    return cfg, ref, report.tasks_total


def _manifest(store: Path) -> tuple[int, int]:
    """(tasks done, tasks) according to the store's manifest; (0, 0) while it is created."""
    try:
        done = Store(store).done_tasks()
    except Exception:  # noqa: BLE001 - the store is being created by the other process
        return 0, 0
    return int(done.sum()), int(done.size)


def _kill_midway(cmd: list[str], store: Path, log: Path, timeout: float = 120.0) -> None:
    """Start ``cmd`` in its own process group, wait until the manifest records about a
    quarter of the tasks as done, then SIGKILL the whole group (dask workers included)."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            done, total = _manifest(store)
            if total and done >= max(1, total // 4):
                break
            if proc.poll() is not None:
                pytest.fail(f"sweep ended (status {proc.returncode}) before it could be "
                            f"killed:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"sweep made no progress in {timeout} s:\n{log.read_text()}")
            time.sleep(0.02)
        kill_group(proc)
    finally:
        if proc.poll() is None or group_alive(proc.pid):
            kill_group(proc)
    assert proc.returncode == -9, proc.returncode
    assert not group_alive(proc.pid), "processes of the killed sweep are still running"


def _resume(cfg: Path, store: Path, workers: int) -> tuple[int, int]:
    """Resume with the real CLI; return (tasks it ran, tasks in all)."""
    proc = subprocess.run([*cli_command(), "sweep", str(cfg), "--out", str(store), "--resume",
                           "--workers", str(workers)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    m = re.search(r"(\d+)/(\d+) tasks run", proc.stdout)
    assert m, proc.stdout
    return int(m.group(1)), int(m.group(2))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("killed_workers", "resume_workers"), [(0, 2), (2, 0)],
                         ids=["killed-sync-resumed-dask", "killed-dask-resumed-sync"])
def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path, capsys, kill_reference,
                                                          killed_workers, resume_workers):
    cfg, ref, tasks = kill_reference
    store = tmp_path / "killed.zarr"
    cmd = [*cli_command(), "sweep", str(cfg), "--out", str(store), "--quiet",
           "--workers", str(killed_workers)]
    _kill_midway(cmd, store, tmp_path / "killed.log")

    n_done, total = _manifest(store)
    assert total == tasks
    assert 1 <= n_done < tasks, f"{n_done}/{tasks} tasks done: the kill was not mid-run"

    code, out, err = run_cli(["info", store], capsys)
    assert code == 0, err
    assert re.search(rf"tasks:\s+{n_done}/{tasks} done", out), out
    assert "incomplete" in out and "(not finished)" in out

    ran, total = _resume(cfg, store, resume_workers)
    assert total == tasks
    assert ran == tasks - n_done, "--resume must compute exactly the missing tasks"
    assert Store(store).done_tasks().all()
    assert_stores_identical(store, ref)

    code, out, _ = run_cli(["info", store], capsys)
    assert code == 0 and "status:    complete" in out, out
