"""Extending a Sobol' store from N to 2N base samples with ``--resume`` (issue 17, item 2):
only the new points are computed, and the extended store is byte-identical to a store of
the larger design made from scratch."""

from __future__ import annotations

import copy
import os
import shutil

import numpy as np
import pytest
from conftest import (
    assert_clean_error,
    assert_stores_identical,
    force_plan,
    run_cli,
    snapshot,
    write_config,
)

import mc_threat.engine.sweep as sweep_mod
from mc_threat.config import config_from_dict
from mc_threat.engine.sweep import run_sweep
from mc_threat.store import Store

SOBOL = {
    "model": {"n_states": 5},
    "run": {"seed": 11, "systems": 40, "chunk": 10},
    "sweep": {"design": "sobol", "samples": 8, "seed": 3,
              "factors": {"model.weights.power": [0.0, 1.0],
                          "model.weights.intent": [0.0, 1.0],
                          "model.reach": [0.05, 0.5]}},
}
POINTS_PER_SAMPLE = 5  # D + 2 with D = 3 factors


def with_samples(n: int) -> dict:
    d = copy.deepcopy(SOBOL)
    d["sweep"]["samples"] = n
    return d


@pytest.fixture
def computed(monkeypatch):
    """Records the (point, chunk) pairs every task computes (tasks run in this process)."""
    seen: list[tuple[int, int]] = []
    real = sweep_mod.compute_task

    def recording(seed, chunks, groups, threads=None):
        for g in groups:
            for p in range(g.lo, g.hi):
                seen.extend((p, start // SOBOL["run"]["chunk"]) for start, _ in chunks)
        return real(seed, chunks, groups, threads)

    monkeypatch.setattr(sweep_mod, "compute_task", recording)
    return seen


def sweep(data, out, **kw):
    return run_sweep(config_from_dict(data), out, workers=0, progress=False, **kw)


def test_extending_computes_only_the_new_points_and_equals_a_fresh_store(
        tmp_path, monkeypatch, computed):
    # 6 points per task: the old store's 40 points end inside block 6 (points 36..41)
    force_plan(monkeypatch, block=6, chunks_per_task=2)
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    computed.clear()
    report = sweep(with_samples(16), store, resume=True)
    new_points = {p for p, _ in computed}
    assert new_points == set(range(40, 80)), sorted(new_points)[:5]
    assert len(computed) == 40 * 4  # each new point once per chunk, nothing twice
    assert report.points == 80
    fresh = tmp_path / "fresh.zarr"
    sweep(with_samples(16), fresh)
    assert_stores_identical(store, fresh)


def test_extending_twice_and_with_another_task_layout(tmp_path, monkeypatch, computed):
    """The new plan need not share the old one's blocks or runs of chunks: 8 -> 16 samples
    with 6 points x 2 chunks per task, 16 -> 32 with 4 points x 1 chunk."""
    force_plan(monkeypatch, block=6, chunks_per_task=2)
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    sweep(with_samples(16), store, resume=True)
    force_plan(monkeypatch, block=4, chunks_per_task=1)
    computed.clear()
    sweep(with_samples(32), store, resume=True)
    assert {p for p, _ in computed} == set(range(80, 160))
    fresh = tmp_path / "fresh.zarr"
    sweep(with_samples(32), fresh)
    assert_stores_identical(store, fresh)


def test_extending_an_unfinished_store_computes_its_missing_tasks_too(tmp_path, monkeypatch,
                                                                     computed):
    force_plan(monkeypatch, block=6, chunks_per_task=2)
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    # as if the run had been killed before tasks (1, 1) and (3, 0) were written
    s = Store(store)
    for b, r in ((1, 1), (3, 0)):
        s.task_done[b, r] = 0
        s.block_done[b] = 0
    s.root.attrs["finished"] = ""
    computed.clear()
    sweep(with_samples(16), store, resume=True)
    old_redone = {(p, c) for p, c in computed if p < 40}
    assert old_redone == {(p, c) for p in range(6, 12) for c in (2, 3)} | \
        {(p, c) for p in range(18, 24) for c in (0, 1)}
    fresh = tmp_path / "fresh.zarr"
    sweep(with_samples(16), fresh)
    assert_stores_identical(store, fresh)


def test_an_extension_killed_between_its_renames_is_put_back_and_finished(tmp_path):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    aside = tmp_path / ".s.zarr.extended"
    os.rename(store, aside)  # the moment between the two renames of the swap
    (tmp_path / ".s.zarr.extending").mkdir()  # and a half-made new store beside it
    sweep(with_samples(16), store, resume=True)
    assert not aside.exists() and not (tmp_path / ".s.zarr.extending").exists()
    fresh = tmp_path / "fresh.zarr"
    sweep(with_samples(16), fresh)
    assert_stores_identical(store, fresh)


def test_an_extension_interrupted_after_its_swap_resumes_as_an_ordinary_store(
        tmp_path, monkeypatch):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    real = sweep_mod.compute_task
    calls = []

    def interrupt_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_mod, "compute_task", interrupt_third)
    with pytest.raises(sweep_mod.SweepInterrupted):
        sweep(with_samples(16), store, resume=True)
    monkeypatch.setattr(sweep_mod, "compute_task", real)
    sweep(with_samples(16), store, resume=True)
    fresh = tmp_path / "fresh.zarr"
    sweep(with_samples(16), fresh)
    assert_stores_identical(store, fresh)


def test_cli_extends_and_says_so(tmp_path, capsys):
    small = write_config(tmp_path / "small.yaml", with_samples(8))
    large = write_config(tmp_path / "large.yaml", with_samples(16))
    store = tmp_path / "s.zarr"
    code, _, err = run_cli(["sweep", small, "--out", store, "--workers", "0", "--quiet"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["sweep", large, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert code == 0, err
    assert "extending" in err and "40 points" in err and "80 points" in err, err
    code, out, err = run_cli(["info", store], capsys)
    assert code == 0 and "complete" in out


@pytest.mark.parametrize("change, field", [
    (lambda d: d["sweep"].__setitem__("samples", 4), "sweep.samples"),
    (lambda d: d["run"].__setitem__("seed", 12), "different config"),
    (lambda d: d["sweep"].__setitem__("seed", 4), "different config"),
    (lambda d: (d["sweep"].__setitem__("samples", 16),
                d["model"].__setitem__("n_states", 6)), "different config"),
])
def test_refused_resumes_leave_the_store_untouched(tmp_path, capsys, change, field):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    before = snapshot(store)
    data = with_samples(8)
    change(data)
    cfg = write_config(tmp_path / "other.yaml", data)
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert field in err, err
    assert snapshot(store) == before


def test_a_damaged_store_is_refused_until_resumed_with_its_own_config(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    shutil.rmtree(store / "_work" / "moments" / "c" / "0")  # the data of some tasks
    before = snapshot(store)
    cfg = write_config(tmp_path / "large.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert "damaged" in err and "resume it with the config it was made from" in err, err
    assert snapshot(store) == before


def test_a_design_that_does_not_keep_its_sequence_is_refused(tmp_path, monkeypatch, capsys):
    """If a future sampler reshuffled its points, the store would mix two designs: the
    extension compares every old point with the new design's first points."""
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    before = snapshot(store)
    import mc_threat.design as design_mod

    real = design_mod._sample

    def reversed_sample(sweep_cfg, problem):
        x = real(sweep_cfg, problem)
        return x[::-1] if sweep_cfg.samples == 16 else x

    monkeypatch.setattr(design_mod, "_sample", reversed_sample)
    cfg = write_config(tmp_path / "large.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert "does not start with the store's 40 points" in err, err
    assert snapshot(store) == before


def test_the_first_points_of_the_extended_store_keep_their_values(tmp_path):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    from mc_threat.store import open_results

    old = open_results(store).load()
    sweep(with_samples(16), store, resume=True)
    new = open_results(store).load()
    for name in ("alignment_change", "model.weights.power", "choice_by_power"):
        np.testing.assert_array_equal(new[name].values[:40], old[name].values)
    assert new.sizes["point"] == 80


# ---------------------------------------------------------------------------------------------
# --samples on the command line
# ---------------------------------------------------------------------------------------------


def test_sensitivity_samples_option_extends_the_store_and_the_convergence(tmp_path, capsys):
    """The user story: a pilot at N = 8, then the same command with --samples 16 --resume;
    the convergence analysis then runs over the doubled design."""
    import xarray as xr

    cfg = write_config(tmp_path / "pilot.yaml", with_samples(8))
    store = tmp_path / "pilot.zarr"
    base = ["sensitivity", cfg, "--out", store, "--workers", "0", "--quiet", "--convergence"]
    code, _, err = run_cli(base, capsys)
    assert code == 0, err
    code, out, err = run_cli([*base, "--samples", "16", "--resume"], capsys)
    assert code == 0, err
    assert "extending" in err and "80 points" in err, err
    ds = xr.open_zarr(store, consolidated=False)
    assert ds["base_samples"].values.tolist() == [2, 4, 8, 16]
    assert ds.sizes["point"] == 80
    fresh_cfg = write_config(tmp_path / "large.yaml", with_samples(16))
    fresh = tmp_path / "fresh.zarr"
    code, _, err = run_cli(["sensitivity", fresh_cfg, "--out", fresh, "--workers", "0",
                            "--quiet", "--convergence"], capsys)
    assert code == 0, err
    a, b = xr.open_zarr(store, consolidated=False).load(), \
        xr.open_zarr(fresh, consolidated=False).load()
    for name in ("alignment_change", "S1", "ST", "ST_convergence"):
        np.testing.assert_array_equal(a[name].values, b[name].values, name)


def test_an_interrupted_extension_prints_a_resume_line_with_its_samples(tmp_path, capsys,
                                                                       monkeypatch):
    import shlex

    from mc_threat import store as store_module

    cfg = write_config(tmp_path / "c.yaml", with_samples(8))
    store = tmp_path / "s.zarr"
    code, _, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet"], capsys)
    assert code == 0, err
    real = store_module.Store.write_task
    calls = {"n": 0}

    def write_task(self, b, r, *args, **kwargs):
        if self.path == store and calls["n"] >= 1:  # the copies go to the staging store
            raise KeyboardInterrupt
        calls["n"] += self.path == store
        return real(self, b, r, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(store_module.Store, "write_task", write_task)
        code, _, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                                "--samples", "16", "--resume"], capsys)
    assert code == 130, err
    line = [x for x in err.splitlines() if x.startswith("Resume with: ")][0]
    words = shlex.split(line.removeprefix("Resume with: "))
    assert words[words.index("--samples") + 1] == "16"
    code, _, err = run_cli(words[1:], capsys)
    assert code == 0, err
    fresh = tmp_path / "fresh.zarr"
    sweep(with_samples(16), fresh)
    assert_stores_identical(store, fresh)


@pytest.mark.parametrize("data, samples, message", [
    ({"sweep": {"design": "grid", "factors": {"model.reach": [0.1, 0.2]}}}, "8",
     "--samples: the grid design has no sweep.samples"),
    ({}, "8", "--samples: a config without a sweep section has no sweep.samples"),
    (SOBOL, "6", "--samples: must be a power of 2"),
])
def test_samples_option_errors_name_the_option(tmp_path, capsys, data, samples, message):
    cfg = write_config(tmp_path / "c.yaml", {"run": {"systems": 10}, **data})
    code, out, err = run_cli(["sweep", cfg, "--out", tmp_path / "x.zarr", "--workers", "0",
                              "--samples", samples], capsys)
    assert_clean_error(code, out, err)
    assert message in err, err
    assert not (tmp_path / "x.zarr").exists()


def test_a_lost_coordinate_chunk_is_reported_as_damage_not_as_another_design(tmp_path,
                                                                           capsys):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    shutil.rmtree(store / "model.reach" / "c")  # the stored factor values of model.reach
    before = snapshot(store)
    cfg = write_config(tmp_path / "large.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert "damaged" in err and "model.reach" in err, err
    assert snapshot(store) == before


def test_an_extension_killed_just_before_removing_the_old_store_leaves_it_with_a_note(
        tmp_path, capsys):
    """Both the extended store and the old one aside: nothing is deleted, the user is told;
    a further extension is refused until the old one is moved away."""
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    aside = tmp_path / ".s.zarr.extended"
    shutil.copytree(store, aside)
    sweep(with_samples(16), tmp_path / "other.zarr")
    before = snapshot(aside)
    cfg = write_config(tmp_path / "c.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert ".s.zarr.extended: exists" in err, err
    assert snapshot(aside) == before
    small = write_config(tmp_path / "small.yaml", with_samples(8))
    code, out, err = run_cli(["sweep", small, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)  # a plain resume: done, with a note
    assert code == 0, err
    assert "holds the store as it was before an interrupted extension" in err, err
    assert snapshot(aside) == before
    shutil.rmtree(aside)
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert code == 0, err


def test_analyses_of_the_smaller_design_are_dropped_and_named(tmp_path, capsys):
    import xarray as xr

    from mc_threat.analysis.common import replace_group

    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    replace_group(store, "features", "alignment_change",
                  xr.Dataset({"permutation_mean": ("feature", np.zeros(2))}))
    cfg = write_config(tmp_path / "c.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert code == 0, err
    assert "not carried over" in err and "features" in err, err
    assert not (store / "features").exists()
    fresh = tmp_path / "fresh.zarr"
    sweep(with_samples(16), fresh)
    assert_stores_identical(store, fresh)


@pytest.mark.parametrize("foreign", ["notes.txt", "thesis"])
def test_a_file_mc_threat_did_not_write_stops_the_extension(tmp_path, capsys, foreign):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    if foreign == "thesis":
        (store / foreign).mkdir()
        (store / foreign / "chapter1.tex").write_text("keep me")
    else:
        (store / foreign).write_text("keep me")
    before = snapshot(store)
    cfg = write_config(tmp_path / "c.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert f"holds {foreign}, which is not part of an mc-threat store" in err, err
    assert snapshot(store) == before


def test_a_store_reached_through_a_symlink_is_not_extended(tmp_path, capsys):
    real = tmp_path / "real.zarr"
    sweep(with_samples(8), real)
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    before = snapshot(real)
    cfg = write_config(tmp_path / "c.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", link, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert "symbolic link" in err and str(real) in err, err
    assert link.is_symlink() and snapshot(real) == before


def test_an_lhs_store_is_not_extended_and_says_why(tmp_path, capsys):
    data = with_samples(8)
    data["sweep"]["design"] = "lhs"
    cfg = write_config(tmp_path / "lhs.yaml", data)
    store = tmp_path / "s.zarr"
    code, _, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet"], capsys)
    assert code == 0, err
    before = snapshot(store)
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--samples", "16", "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert "an lhs store cannot be extended" in err, err
    assert snapshot(store) == before


def test_sensitivity_with_more_samples_but_no_resume_points_to_resume(tmp_path, capsys):
    cfg = write_config(tmp_path / "pilot.yaml", with_samples(8))
    store = tmp_path / "pilot.zarr"
    base = ["sensitivity", cfg, "--out", store, "--workers", "0", "--quiet"]
    code, _, err = run_cli(base, capsys)
    assert code == 0, err
    before = snapshot(store)
    code, out, err = run_cli([*base, "--samples", "16"], capsys)
    assert_clean_error(code, out, err)
    assert "add --resume to extend it" in err and "--overwrite" not in err, err
    assert snapshot(store) == before


def test_a_stranger_where_the_new_store_is_built_stops_the_extension(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    sweep(with_samples(8), store)
    stranger = tmp_path / ".s.zarr.extending"
    stranger.write_text("not ours")
    cfg = write_config(tmp_path / "c.yaml", with_samples(16))
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert_clean_error(code, out, err)
    assert "is not a store an earlier extension left" in err, err
    assert stranger.read_text() == "not ours"
