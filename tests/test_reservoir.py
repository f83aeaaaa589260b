"""The reservoir of systems kept per point (``run.reservoir``) and ``mc-threat features``
(issue 17, item 4)."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil

import numpy as np
import pytest
from conftest import (
    assert_clean_error,
    assert_stores_identical,
    force_plan,
    run_cli,
    snapshot,
    store_files,
    write_config,
)
from reference import ref_evaluate
from test_generate import ref_system_exact

from mc_threat.config import ConfigError, config_from_dict, config_hash
from mc_threat.engine.check import check_store
from mc_threat.engine.sweep import run_sweep
from mc_threat.kernels import OUTCOMES
from mc_threat.model.attributes import SYSTEM_ATTRIBUTES, system_attributes
from mc_threat.model.generate import generate_systems
from mc_threat.store import StoreError, open_reservoir, open_results

LHS = {
    "model": {"n_states": 6},
    "run": {"seed": 5, "systems": 48, "chunk": 24, "reservoir": 24},
    "sweep": {"design": "lhs", "samples": 10, "seed": 1,
              "factors": {"model.weights.power": [0.0, 1.0],
                          "model.weights.intent": [0.0, 1.0],
                          "generator.power_sigma": [0.5, 2.0]}},
}


def sweep(data, out, **kw):
    return run_sweep(config_from_dict(data), out, progress=False, **kw)


@pytest.fixture(scope="module")
def lhs_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("reservoir") / "lhs.zarr"
    sweep(LHS, out, workers=0)
    return out


# ---------------------------------------------------------------------------------------------
# What is kept
# ---------------------------------------------------------------------------------------------


def test_kept_outcomes_are_the_reference_model_on_the_reference_systems(lhs_store):
    """Every kept (point, system) against the plain-Python generator and model (tests/
    reference.py with the engine's elementary twins): equal bit for bit."""
    res = open_reservoir(lhs_store).load()
    config = config_from_dict(LHS)
    from mc_threat.design import design_points

    design = design_points(config)
    for p in (0, 3, 9):
        cfg = design.configs[p]
        g = cfg.generator
        for s in (0, 1, 7, 23):
            power, pos, off, inte = ref_system_exact(
                LHS["run"]["seed"], s, 6, g.power_sigma, g.power_corr,
                (g.offense.a, g.offense.b), (g.intent.a, g.intent.b))
            want = ref_evaluate(power, pos, off, inte, cfg.model.model_dump())["outcomes"]
            for name in OUTCOMES:
                got = float(res[name].values[p, s])
                assert got == want[name] or (math.isnan(got) and math.isnan(want[name])), \
                    (p, s, name, got, want[name])


def test_kept_outcomes_agree_with_the_stored_point_statistics(tmp_path):
    """With every system kept (reservoir = systems = chunk), each point's min and max over
    the kept systems are the stored min and max exactly, and the mean agrees to rounding."""
    data = copy.deepcopy(LHS)
    data["run"] = {"seed": 3, "systems": 40, "chunk": 40, "reservoir": 40}
    out = tmp_path / "all.zarr"
    sweep(data, out, workers=0)
    res, ds = open_reservoir(out).load(), open_results(out).load()
    for name in OUTCOMES:
        v = res[name].values
        np.testing.assert_array_equal(v.min(axis=1), ds[name].sel(stat="min").values, name)
        np.testing.assert_array_equal(v.max(axis=1), ds[name].sel(stat="max").values, name)
        np.testing.assert_allclose(v.mean(axis=1), ds[name].sel(stat="mean").values,
                                   rtol=1e-12, atol=1e-14, err_msg=name)


def test_the_same_systems_at_every_point(lhs_store):
    """Attributes depend on the system and the generator only: points with the same
    generator share them; power_sigma is swept here, so the power attributes differ between
    points while positions, offense and intent (drawn independently of sigma) do not."""
    res = open_reservoir(lhs_store).load()
    mean_d = res["mean_distance"].values
    assert (mean_d == mean_d[0]).all()
    assert len(set(mean_d[0].tolist())) == mean_d.shape[1]  # and the systems differ
    assert not (res["power_hhi"].values == res["power_hhi"].values[0]).all()


def _attributes_py(power, pos, offense, intent):
    """The attributes as their definitions say, in plain Python, sums left to right."""
    n = len(power)
    h = max(range(n), key=lambda i: (power[i], -i))
    total = 0.0
    for p in power:
        total += p
    hhi = 0.0
    for p in power:
        hhi += (p / total) * (p / total)
    runner = max(power[i] for i in range(n) if i != h)

    def dist(i, j):
        dx, dy = pos[i][0] - pos[j][0], pos[i][1] - pos[j][1]
        return math.sqrt(dx * dx + dy * dy)

    def mean_others(f):
        acc = 0.0
        for i in range(n):
            if i != h:
                acc += f(i)
        return acc / (n - 1)

    pairs = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            pairs += dist(i, j)
    return [power[h] / total, hhi, runner / power[h], offense[h], intent[h],
            mean_others(lambda i: offense[i]), mean_others(lambda i: intent[i]),
            mean_others(lambda i: dist(h, i)), pairs / (n * (n - 1) / 2)]


@pytest.mark.parametrize("n", [2, 3, 7, 16])
def test_attributes_equal_their_definitions_bit_for_bit(n):
    s = generate_systems(n_states=n, seed=n, count=30)
    got = system_attributes(s)
    assert got.shape == (30, len(SYSTEM_ATTRIBUTES))
    for k in range(30):
        want = _attributes_py(s.power[k].tolist(), s.position[k].tolist(),
                              s.offense[k].tolist(), s.intent[k].tolist())
        assert got[k].tolist() == want, k


def test_attributes_of_a_tie_name_the_first_strongest_state():
    from mc_threat.model.systems import Systems

    s = Systems(power=[[2.0, 5.0, 5.0]], position=[[[0, 0], [1, 0], [0, 3]]],
                offense=[[0.1, 0.2, 0.9]], intent=[[0.3, 0.4, 0.8]])
    a = dict(zip(SYSTEM_ATTRIBUTES, system_attributes(s)[0], strict=True))
    assert a["hegemon_share"] == 5.0 / 12.0
    assert a["runner_up_ratio"] == 1.0
    assert a["hegemon_offense"] == 0.2 and a["hegemon_intent"] == 0.4
    assert a["hegemon_distance"] == (1.0 + math.sqrt(10.0)) / 2
    assert a["mean_distance"] == (1.0 + 3.0 + math.sqrt(10.0)) / 3


# ---------------------------------------------------------------------------------------------
# Determinism, resume, damage, extension
# ---------------------------------------------------------------------------------------------


def test_stores_with_a_reservoir_identical_for_sync_and_two_workers(tmp_path, lhs_store):
    out = tmp_path / "dask.zarr"
    sweep(LHS, out, workers=2)
    assert_stores_identical(lhs_store, out)
    assert any(k.startswith("reservoir/alignment_change/c/") for k in store_files(out))


def test_reservoir_does_not_depend_on_chunks_or_task_layout(tmp_path, monkeypatch, lhs_store):
    force_plan(monkeypatch, block=3, chunks_per_task=1)
    out = tmp_path / "blocks.zarr"
    sweep(LHS, out, workers=0)
    a, b = open_reservoir(lhs_store).load(), open_reservoir(out).load()
    for name in (*OUTCOMES, *SYSTEM_ATTRIBUTES):
        np.testing.assert_array_equal(a[name].values, b[name].values, name)
    data = copy.deepcopy(LHS)
    data["run"]["chunk"] = 48
    bigger = tmp_path / "chunk48.zarr"
    sweep(data, bigger, workers=0)
    c = open_reservoir(bigger).load()
    for name in OUTCOMES:
        np.testing.assert_array_equal(a[name].values, c[name].values, name)


def test_a_lost_reservoir_chunk_is_found_and_recomputed_by_resume(tmp_path, lhs_store, capsys):
    out = tmp_path / "s.zarr"
    shutil.copytree(lhs_store, out)
    victim = next((out / "reservoir" / "hegemon_offense" / "c").rglob("*"))
    while victim.is_dir():
        victim = next(victim.iterdir())
    victim.unlink()
    check = check_store(out)
    assert any("reservoir missing" in p for p in check.problems), check.problems
    cfg = write_config(tmp_path / "lhs.yaml", LHS)
    code, _, err = run_cli(["sweep", cfg, "--out", out, "--workers", "0", "--quiet",
                            "--resume"], capsys)
    assert code == 0, err
    assert "damaged" in err
    assert_stores_identical(out, lhs_store)


def test_extending_a_sobol_store_keeps_and_extends_its_reservoir(tmp_path, monkeypatch):
    """4 points per task: the old 16 points fill blocks 0-3 (copied whole, reservoir rows
    included); the new points' reservoir rows alone are computed."""
    import mc_threat.engine.sweep as sweep_mod

    force_plan(monkeypatch, block=4)
    data = {"model": {"n_states": 5}, "run": {"seed": 2, "systems": 20, "chunk": 10,
                                              "reservoir": 6},
            "sweep": {"design": "sobol", "samples": 4, "seed": 1,
                      "factors": {"model.weights.power": [0.0, 1.0],
                                  "model.reach": [0.05, 0.5]}}}
    out = tmp_path / "s.zarr"
    sweep(data, out, workers=0)
    data["sweep"]["samples"] = 8
    kept_for = []
    real = sweep_mod.compute_reservoir

    def recording(seed, groups, k):
        kept_for.extend(range(groups[0].lo, groups[-1].hi))
        return real(seed, groups, k)

    monkeypatch.setattr(sweep_mod, "compute_reservoir", recording)
    sweep(data, out, workers=0, resume=True)
    assert sorted(kept_for) == list(range(16, 32))
    fresh = tmp_path / "fresh.zarr"
    sweep(data, fresh, workers=0)
    assert_stores_identical(out, fresh)


# ---------------------------------------------------------------------------------------------
# The config
# ---------------------------------------------------------------------------------------------


def test_a_config_without_reservoir_hashes_as_before_the_field_existed():
    """The hash is sha256 of the canonical JSON; a config that keeps no reservoir must give
    the JSON of 0.2.0 (no ``reservoir`` key), so its stores still resume."""
    config = config_from_dict({"run": {"systems": 100}})
    doc = json.loads(json.dumps(config.model_dump(mode="json")))
    assert "reservoir" not in doc["run"]
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert config_hash(config) == hashlib.sha256(canonical.encode()).hexdigest()
    assert config_from_dict({"run": {"systems": 100, "reservoir": 0}}) == config
    assert "reservoir" not in config.to_yaml()
    kept = config_from_dict({"run": {"systems": 100, "reservoir": 5}})
    assert config_hash(kept) != config_hash(config)
    assert "reservoir: 5" in kept.to_yaml()


@pytest.mark.parametrize("run, message", [
    ({"systems": 100, "chunk": 10, "reservoir": 11}, "run.reservoir: must not exceed run.chunk"),
    ({"systems": 100, "reservoir": -1}, "run.reservoir"),
    ({"systems": 100, "reservoir": 2.5}, "run.reservoir"),
    ({"systems": 100, "reservoir": True}, "run.reservoir"),
])
def test_bad_reservoir_values_are_refused_naming_the_field(run, message):
    with pytest.raises(ConfigError) as e:
        config_from_dict({"run": run})
    assert any(message in line for line in e.value.errors), e.value.errors


def test_a_reservoir_too_large_to_store_is_refused_before_the_sweep(tmp_path, capsys):
    data = copy.deepcopy(LHS)
    data["run"] = {"systems": 100_000, "chunk": 100_000, "reservoir": 100_000}
    data["sweep"]["samples"] = 201
    cfg = write_config(tmp_path / "big.yaml", data)
    code, out, err = run_cli(["sweep", cfg, "--out", tmp_path / "x.zarr", "--quiet"], capsys)
    assert_clean_error(code, out, err)
    assert "run.reservoir" in err and not (tmp_path / "x.zarr").exists()


def test_open_reservoir_of_a_store_without_one(tmp_path):
    data = copy.deepcopy(LHS)
    del data["run"]["reservoir"]
    out = tmp_path / "plain.zarr"
    sweep(data, out, workers=0)
    assert not (out / "reservoir").exists()
    with pytest.raises(StoreError, match="keeps no reservoir"):
        open_reservoir(out)


# ---------------------------------------------------------------------------------------------
# mc-threat features
# ---------------------------------------------------------------------------------------------


def test_scoring_finds_the_one_feature_an_outcome_depends_on():
    """A constructed table: y depends on feature 2 only (plus noise); it ranks first by far
    and the others score about zero."""
    from mc_threat.analysis.features import score_features

    rng = np.random.default_rng(0)
    k, points = 200, 20
    X = rng.uniform(size=(k * points, 5))
    y = np.sin(3 * X[:, 2]) + 0.05 * rng.normal(size=len(X))
    system = np.tile(np.arange(k), points)
    names = [f"a{i}" for i in range(5)]
    s = score_features(X, y, system, names, ["system"] * 5, outcome="y", trees=50, repeats=5)
    order = s.ranking()
    assert order[0] == 2
    assert s.permutation_mean[2] > 0.5
    assert all(abs(s.permutation_mean[i]) < 0.05 for i in range(5) if i != 2)
    assert s.r2_test > 0.9 and s.r2_null <= 0.0 and s.r2_factors_only is None
    # the test rows are the held-out systems: index 3 (mod 4)
    assert s.test_rows == points * k // 4


FEATURES_LHS = {
    "model": {"n_states": 12},
    "run": {"seed": 7, "systems": 200, "chunk": 200, "reservoir": 120},
    "sweep": {"design": "lhs", "samples": 48, "seed": 1,
              "factors": {"model.weights.power": [0.0, 1.0],
                          "model.weights.proximity": [0.0, 1.0],
                          "model.weights.offense": [0.0, 1.0],
                          "model.weights.intent": [0.0, 1.0]}},
}


def test_features_on_a_real_sweep_over_the_four_weights(tmp_path, capsys):
    """Where the theories disagree depends on the system, not only on the weights: the
    forest with the system attributes beats the swept factors alone on held-out systems,
    and the power weight (balance of threat becomes balance of power as it dominates)
    scores above zero. The command stores its result and never touches the sweep's data."""
    cfg = write_config(tmp_path / "w.yaml", FEATURES_LHS)
    out = tmp_path / "w.zarr"
    code, _, err = run_cli(["sweep", cfg, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    sweep_files = {k: v for k, v in store_files(out).items() if k != "zarr.json"}
    code, stdout, err = run_cli(["features", out, "--json", "--trees", "60", "--repeats", "4",
                                 "--figures", tmp_path / "fig"], capsys)
    assert code == 0, err
    d = json.loads(stdout)
    assert d["group"] == "features/alignment_change"
    assert d["rows"] == 48 * 120 and d["test_rows"] == 48 * 30
    assert d["r2_test"] > d["r2_factors_only"] + 0.1, d
    assert d["r2_null"] <= 0.0
    scores = {f["name"]: f for f in d["features"]}
    assert set(scores) == {*SYSTEM_ATTRIBUTES, *FEATURES_LHS["sweep"]["factors"]}
    power = scores["model.weights.power"]
    assert power["permutation_mean"] > 2 * power["permutation_std"] > 0
    assert (tmp_path / "fig" / "features_alignment_change.png").stat().st_size > 10_000
    after = store_files(out)
    assert all(after[k] == v for k, v in sweep_files.items())
    assert any(k.startswith("features/alignment_change/") for k in after)
    import xarray as xr

    stored = xr.open_zarr(out, group="features/alignment_change", consolidated=False).load()
    np.testing.assert_allclose(stored["permutation_mean"].sel(feature="model.weights.power"),
                               power["permutation_mean"])
    # a rerun with another outcome adds its own group and leaves this one
    code, stdout, err = run_cli(["features", out, "--outcome", "share_balance", "--trees", "20",
                                 "--repeats", "2", "--figures", tmp_path / "fig"], capsys)
    assert code == 0, err
    assert "share_balance" in stdout and "permutation" in stdout
    assert (out / "features" / "alignment_change" / "zarr.json").is_file()


def test_features_refuses_clearly(tmp_path, lhs_store, capsys):
    data = copy.deepcopy(LHS)
    del data["run"]["reservoir"]
    plain = tmp_path / "plain.zarr"
    sweep(data, plain, workers=0)
    before = snapshot(plain)
    code, out, err = run_cli(["features", plain], capsys)
    assert_clean_error(code, out, err)
    assert "keeps no reservoir" in err and "run.reservoir" in err
    assert snapshot(plain) == before
    code, out, err = run_cli(["features", lhs_store, "--outcome", "nonsense"], capsys)
    assert_clean_error(code, out, err)
    assert "--outcome" in err
    code, out, err = run_cli(["features", tmp_path / "missing.zarr"], capsys)
    assert_clean_error(code, out, err)
    code, out, err = run_cli(["features", lhs_store, "--trees", "0"], capsys)
    assert code == 2 and "Traceback" not in err


def test_info_names_the_reservoir(lhs_store, tmp_path, capsys):
    code, out, err = run_cli(["info", lhs_store], capsys)
    assert code == 0, err
    assert "reservoir: systems 0..23 kept at every point" in out and "complete" in out
    data = copy.deepcopy(LHS)
    del data["run"]["reservoir"]
    plain = tmp_path / "plain.zarr"
    sweep(data, plain, workers=0)
    code, out, err = run_cli(["info", plain], capsys)
    assert code == 0 and "reservoir:" not in out


def test_features_refuses_incomplete_and_calibration_stores_and_bad_options(tmp_path, lhs_store,
                                                                             capsys):
    from mc_threat.store import Store

    part = tmp_path / "part.zarr"
    shutil.copytree(lhs_store, part)
    Store(part).task_done[0, 0] = 0
    code, out, err = run_cli(["features", part], capsys)
    assert_clean_error(code, out, err)
    assert "incomplete" in err
    calib = tmp_path / "calib.zarr"
    code, _, err = run_cli(["case", "europe_1936", "--calibrate", "--samples", "16", "--draws",
                            "2", "--out", calib], capsys)
    assert code == 0, err
    code, out, err = run_cli(["features", calib], capsys)
    assert_clean_error(code, out, err)
    assert "keeps no reservoir" in err
    code, out, err = run_cli(["features", lhs_store, "--seed", str(2**32)], capsys)
    assert_clean_error(code, out, err)
    assert "--seed" in err
    code, out, err = run_cli(["features", lhs_store, "--max-rows", "12"], capsys)
    assert_clean_error(code, out, err)
    assert "--max-rows" in err


def test_systems_below_the_reservoir_names_the_option(tmp_path, capsys):
    cfg = write_config(tmp_path / "c.yaml", LHS)
    code, out, err = run_cli(["sweep", cfg, "--out", tmp_path / "x.zarr", "--systems", "10"],
                             capsys)
    assert_clean_error(code, out, err)
    assert "--systems: 10 is fewer than the 24 systems the config keeps" in err, err
