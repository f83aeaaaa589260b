"""The results store: chunk-aligned writes, store safety, resume, ``info`` and opening.

Real zarr stores in ``tmp_path``; the sweep runs in process (``workers=0``) through
``run_sweep`` or the CLI's ``main``. Interruptions are made by wrapping the store's own
``write_region`` so that it raises ``KeyboardInterrupt`` at a chosen write (what Ctrl-C does
at that moment); zarr itself is never replaced.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr
from conftest import (
    assert_clean_error,
    assert_datasets_identical,
    assert_stores_identical,
    force_plan,
    make_config,
    open_store,
    run_cli,
    snapshot,
    store_files,
    write_config,
)

import mc_threat as mt
import mc_threat.store as store_mod
from mc_threat.config import config_from_yaml, config_hash, load_config
from mc_threat.engine.sweep import SweepInterrupted, run_sweep
from mc_threat.store import STATS, Store, StoreError, open_results, write_region

SMALL = {
    "model": {"n_states": 6},
    "run": {"seed": 31, "systems": 1200, "chunk": 300},
    "sweep": {"design": "grid",
              "factors": {"model.n_states": [4, 6], "model.weights.offense": [0.5, 1.0, 2.0]}},
}


def sweep_argv(cfg, out, *extra):
    return ["sweep", str(cfg), "--out", str(out), "--workers", "0", "--quiet", *extra]


@pytest.fixture
def small_store(tmp_path, capsys):
    """A complete store made through the CLI, and its config file."""
    cfg = write_config(tmp_path / "small.yaml", SMALL)
    out = tmp_path / "small.zarr"
    code, _, err = run_cli(sweep_argv(cfg, out), capsys)
    assert code == 0, err
    return cfg, out


# ---------------------------------------------------------------------------------------------
# write_region
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", [
    (slice(1, 5),),                      # starts inside a chunk
    (slice(0, 3),),                      # ends inside a chunk
    (slice(4, 9),),                      # ends inside the last (partial) chunk
    (slice(0, 4), slice(1, 3)),          # second axis starts inside a chunk
    (slice(0, 4), slice(0, 5)),          # second axis ends inside a chunk
    (slice(None), slice(3, 4)),
])
def test_write_region_refuses_unaligned_region(tmp_path, region):
    arr = zarr.create_array(store=str(tmp_path / "a.zarr"), shape=(10, 6), chunks=(4, 3),
                            dtype="float64", fill_value=np.nan)
    arr[:] = 7.0
    with pytest.raises(AssertionError, match="unaligned"):
        write_region(arr, region, 1.0)
    assert (arr[:] == 7.0).all(), "an unaligned write must not write anything"


@pytest.mark.parametrize("region", [
    (slice(0, 4),), (slice(4, 8), slice(3, 6)), (slice(8, 10),), (slice(8, None), slice(None)),
    (slice(None),), (slice(0, 10), slice(0, 6)),
])
def test_write_region_writes_aligned_region(tmp_path, region):
    arr = zarr.create_array(store=str(tmp_path / "a.zarr"), shape=(10, 6), chunks=(4, 3),
                            dtype="float64", fill_value=np.nan)
    write_region(arr, region, 1.0)
    expected = np.full((10, 6), np.nan)
    expected[region] = 1.0
    np.testing.assert_array_equal(arr[:], expected)


@pytest.mark.timeout(120)
def test_sweep_writes_only_whole_chunks_once(tmp_path, monkeypatch, aligned_writes):
    """A multi-block sweep (partial last block, partial last run of chunks): every region the
    store writes is chunk-aligned, covers one chunk, and no chunk is written twice."""
    force_plan(monkeypatch, block=4, chunks_per_task=3)
    report = run_sweep(make_config(SMALL), tmp_path / "s.zarr", workers=0, progress=False)
    assert report.tasks_run == report.tasks_total
    by_array = aligned_writes.by_array()
    assert set(mt.OUTCOMES) <= set(by_array) and "_work/moments" in by_array
    for path, chunks in aligned_writes.calls:
        assert len(chunks) == 1, f"a write to {path} covers {len(chunks)} chunks"
    for path, chunks in by_array.items():
        assert len(chunks) == len(set(chunks)), f"{path}: a chunk was written twice"
        assert sorted(chunks) == sorted(aligned_writes.all_chunks(path)), path
    assert aligned_writes.grids["share_balance"][0] == 2, "expected two point blocks"
    assert len(by_array["_work/task_done"]) == report.tasks_total


# ---------------------------------------------------------------------------------------------
# An existing store is never replaced without --overwrite
# ---------------------------------------------------------------------------------------------


def test_existing_store_is_not_replaced_without_overwrite(small_store, tmp_path, capsys):
    cfg, out = small_store
    before = snapshot(out)
    code, stdout, err = run_cli(sweep_argv(cfg, out), capsys)
    lines = assert_clean_error(code, stdout, err, str(out), "already exists", "--overwrite")
    assert lines[0].startswith("mc-threat: error: ")
    assert snapshot(out) == before

    # nor by a different config, nor through the Python API
    other = write_config(tmp_path / "other.yaml", {**SMALL, "run": {"seed": 1, "systems": 300}})
    code, stdout, err = run_cli(sweep_argv(other, out), capsys)
    assert_clean_error(code, stdout, err, "already exists")
    with pytest.raises(StoreError, match="already exists"):
        run_sweep(load_config(other), out, workers=0, progress=False)
    assert snapshot(out) == before


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_existing_non_store_path_is_not_replaced(tmp_path, capsys, kind):
    cfg = write_config(tmp_path / "c.yaml", {"run": {"systems": 100}})
    out = tmp_path / "precious"
    if kind == "file":
        out.write_text("do not delete")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("do not delete")
    before = snapshot(out)
    code, stdout, err = run_cli(sweep_argv(cfg, out), capsys)
    assert_clean_error(code, stdout, err, "already exists")
    code, stdout, err = run_cli(sweep_argv(cfg, out, "--resume"), capsys)
    assert_clean_error(code, stdout, err, str(out))
    assert snapshot(out) == before


def test_overwrite_replaces_store(small_store, tmp_path, capsys):
    cfg, out = small_store
    other = write_config(tmp_path / "other.yaml", {"run": {"seed": 5, "systems": 200}})
    code, _, err = run_cli(sweep_argv(other, out, "--overwrite"), capsys)
    assert code == 0, err
    ds = open_store(out)
    assert ds.sizes["point"] == 1
    assert ds.attrs["config_hash"] == config_hash(load_config(other))
    assert (ds["share_balance"].sel(stat="count").values == 200).all()


def test_resume_and_overwrite_exclude_each_other(small_store, capsys):
    cfg, out = small_store
    before = snapshot(out)
    code, stdout, err = run_cli(sweep_argv(cfg, out, "--resume", "--overwrite"), capsys)
    assert_clean_error(code, stdout, err, "--resume", "--overwrite")
    assert snapshot(out) == before


# ---------------------------------------------------------------------------------------------
# --resume
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"run": {"seed": 32, "systems": 1200, "chunk": 300}},
    {"model": {"n_states": 6, "reach": 0.3}},
    {"sweep": {"design": "grid", "factors": {"model.n_states": [4, 6],
                                             "model.weights.offense": [0.5, 1.0]}}},
])
def test_resume_refuses_a_store_of_another_config(small_store, tmp_path, capsys, change):
    _, out = small_store
    other = write_config(tmp_path / "other.yaml", {**SMALL, **change})
    before = snapshot(out)
    code, stdout, err = run_cli(sweep_argv(other, out, "--resume"), capsys)
    assert_clean_error(code, stdout, err, str(out), "different config")
    assert snapshot(out) == before


def test_resume_refuses_other_systems_override(small_store, capsys):
    cfg, out = small_store
    before = snapshot(out)
    code, stdout, err = run_cli(sweep_argv(cfg, out, "--resume", "--systems", "600"), capsys)
    assert_clean_error(code, stdout, err, "different config")
    assert snapshot(out) == before


def test_resume_of_complete_store_runs_nothing(small_store, capsys):
    cfg, out = small_store
    before = snapshot(out)
    report = run_sweep(load_config(cfg), out, workers=0, resume=True, progress=False)
    assert report.tasks_run == 0 and report.tasks_total >= 1
    after = snapshot(out)
    # only the root metadata (the 'finished' time) may be rewritten
    changed = sorted(k for k in before if k in after and before[k] != after[k]
                     and not before[k][0] == "dir")
    assert set(changed) <= {"zarr.json"}, changed
    assert sorted(before) == sorted(after)

    code, stdout, err = run_cli(["sweep", str(cfg), "--out", str(out), "--workers", "0",
                                 "--resume"], capsys)
    assert code == 0, err
    m = re.search(r"(\d+)/(\d+) tasks run", stdout)
    assert m and m.group(1) == "0", stdout


class _Interrupt:
    """Wrap the store's ``write_region`` to raise KeyboardInterrupt on the ``nth`` write to
    array ``target`` (before writing it), as Ctrl-C would at that moment."""

    def __init__(self, monkeypatch, target: str, nth: int):
        self.target, self.nth, self.seen = target, nth, 0
        self.real = store_mod.write_region
        monkeypatch.setattr(store_mod, "write_region", self)

    def __call__(self, arr, region, data):
        if arr.path == self.target:
            self.seen += 1
            if self.seen == self.nth:
                raise KeyboardInterrupt
        return self.real(arr, region, data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("target", "nth"), [
    ("_work/task_done", 3),   # the third task's data is written, its manifest entry is not
    ("_work/block_done", 1),  # block 0 is complete and half merged, not marked merged
    ("share_neutral", 2),     # every task is done, block 1's merge stopped midway
])
def test_resume_computes_only_missing_tasks(tmp_path, monkeypatch, capsys, target, nth):
    force_plan(monkeypatch, block=4, chunks_per_task=2)
    config = make_config(SMALL)
    ref = tmp_path / "reference.zarr"
    total = run_sweep(config, ref, workers=0, progress=False).tasks_total

    out = tmp_path / "interrupted.zarr"
    with monkeypatch.context() as mp:
        stop = _Interrupt(mp, target, nth)
        with pytest.raises(SweepInterrupted):
            run_sweep(config, out, workers=0, progress=False)
        assert stop.seen == nth
    partial = Store(out)
    done = partial.done_tasks()
    missing = {tuple(int(i) for i in ix) for ix in np.argwhere(~done)}
    assert len(missing) < total
    assert missing or not (partial.block_done[:] == 1).all(), "the store is not partial"
    assert done.shape[0] == 2, "expected two point blocks"

    code, stdout, err = run_cli(["info", out], capsys)
    assert code == 0, err
    assert re.search(rf"tasks:\s+{total - len(missing)}/{total} done", stdout), stdout
    assert "incomplete" in stdout and "(not finished)" in stdout

    # the partial store opens with both readers (no consolidated metadata yet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert xr.open_zarr(out).sizes["point"] == 6
    assert open_results(out).sizes["point"] == 6

    written = []
    real_write_task = Store.write_task

    def recording(self, b, r, *args):
        written.append((b, r))
        return real_write_task(self, b, r, *args)

    monkeypatch.setattr(Store, "write_task", recording)
    report = run_sweep(config, out, workers=0, resume=True, progress=False)
    assert report.tasks_run == len(missing)
    assert set(written) == missing and len(written) == len(missing)
    assert_stores_identical(out, ref)

    code, stdout, _ = run_cli(["info", out], capsys)
    assert "status:    complete" in stdout, stdout


def test_resume_without_store_creates_it(tmp_path, capsys):
    cfg = write_config(tmp_path / "c.yaml", {"run": {"systems": 200, "chunk": 100}})
    out = tmp_path / "new.zarr"
    code, _, err = run_cli(sweep_argv(cfg, out, "--resume"), capsys)
    assert code == 0, err
    assert Store(out).done_tasks().all()


# ---------------------------------------------------------------------------------------------
# info and opening the results
# ---------------------------------------------------------------------------------------------


def test_info_on_complete_store(small_store, capsys):
    cfg, out = small_store
    code, stdout, err = run_cli(["info", out], capsys)
    assert code == 0, err
    st = Store(out).status()
    assert st["tasks_done"] == st["tasks"] >= 1
    assert re.search(rf"tasks:\s+{st['tasks']}/{st['tasks']} done", stdout), stdout
    assert "points:    6, 1,200 systems each in 4 chunk(s)" in stdout
    assert "model.n_states, model.weights.offense" in stdout
    assert "status:    complete" in stdout
    assert "(not finished)" not in stdout


@pytest.mark.parametrize("what", ["missing", "empty_dir", "file"])
def test_info_on_non_store_is_a_clean_error(tmp_path, capsys, what):
    path = tmp_path / "x.zarr"
    if what == "empty_dir":
        path.mkdir()
    elif what == "file":
        path.write_text("x")
    code, stdout, err = run_cli(["info", path], capsys)
    assert_clean_error(code, stdout, err, str(path), "not an mc-threat results store")


def test_open_results_and_open_zarr_give_the_dataset(small_store):
    cfg, out = small_store
    config = load_config(cfg)
    a = open_results(out)
    b = xr.open_zarr(out)
    assert isinstance(a, xr.Dataset) and isinstance(b, xr.Dataset)
    assert_datasets_identical(a.load(), b.load())
    assert sorted(a.data_vars) == sorted([*mt.OUTCOMES, "choice_by_power"])
    assert dict(a.sizes) == {"point": 6, "stat": 6, "power_bin": 10, "choice": 3}
    assert [str(s) for s in a["stat"].values] == list(STATS)
    assert [str(s) for s in a["choice"].values] == ["balance", "bandwagon", "neutral"]
    for name in mt.OUTCOMES:
        assert a[name].dims == ("point", "stat")
        assert a[name].dtype == np.float64
        assert a[name].attrs["long_name"] and a[name].attrs["units"]
    assert a["choice_by_power"].dims == ("point", "power_bin", "choice")
    assert a["choice_by_power"].dtype == np.int64
    assert a["model.n_states"].values.tolist() == [4, 4, 4, 6, 6, 6]
    assert a["model.weights.offense"].dtype == np.float64
    assert a["model.weights.offense"].values.tolist() == [0.5, 1.0, 2.0] * 2
    assert a["n_states"].values.tolist() == [4, 4, 4, 6, 6, 6]
    assert np.all(a["power_bin_lower"].values[1:] == a["power_bin_upper"].values[:-1])
    # attributes: the resolved config round-trips, with its hash and seed
    assert config_from_yaml(a.attrs["config"]) == config
    assert a.attrs["config_hash"] == config_hash(config)
    assert a.attrs["seed"] == 31 and a.attrs["systems_per_point"] == 1200
    assert a.attrs["started"] and a.attrs["finished"]
    # sem = std / sqrt(count)
    sel = a["share_balance"]
    np.testing.assert_allclose(sel.sel(stat="sem"), sel.sel(stat="std")
                               / np.sqrt(sel.sel(stat="count")), rtol=1e-15)


def test_open_results_refuses_non_store(tmp_path):
    with pytest.raises(StoreError, match="not an mc-threat results store"):
        open_results(tmp_path)


def test_open_results_is_exported_by_the_package(small_store):
    _, out = small_store
    ds = mt.open_results(out)
    assert_datasets_identical(ds.load(), open_results(out).load())


def test_comparison_helpers_see_real_differences(small_store, tmp_path, capsys):
    """Two runs of one config into two stores give byte-identical chunk files (a sanity
    check of the comparison helpers the other tests rely on: they see a real difference)."""
    cfg, out = small_store
    other = tmp_path / "again.zarr"
    code, _, err = run_cli(sweep_argv(cfg, other), capsys)
    assert code == 0, err
    assert_stores_identical(out, other)
    changed = write_config(tmp_path / "seed.yaml", {**SMALL, "run": {**SMALL["run"], "seed": 32}})
    third = tmp_path / "seed.zarr"
    code, _, err = run_cli(sweep_argv(changed, third), capsys)
    assert code == 0, err
    with pytest.raises(AssertionError):
        assert_stores_identical(out, third)
    fa, fb = store_files(out), store_files(third)
    assert fa["share_balance/c/0/0"] != fb["share_balance/c/0/0"]
