"""Sensitivity analysis: SALib's analyzers over sweep stores (mc_threat.analysis.sensitivity).

* the code path from (problem, X, Y) to indices reproduces the analytic indices of the
  Ishigami and Sobol G functions within their confidence intervals, and Morris effects of a
  linear function exactly;
* a factor the model ignores (an intent distribution parameter while the intent weight is
  0) gets total index 0 in a real sweep (Sobol) and mu* 0 (Morris);
* the indices are written into the sweep store next to, never over, the sweep results; a
  rerun replaces them cleanly; analysing again never recomputes the sweep;
* the Monte Carlo noise estimate matches the noise actually seen between two seeds, and
  accounts for common random numbers;
* bad input gives ConfigError / StoreError with a clear message.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from SALib.test_functions import Ishigami, Sobol_G

import mc_threat as mt
from mc_threat.analysis.sensitivity import (
    ANALYSIS_VARS,
    DEFAULT_FACTORS,
    analyze,
    analyze_store,
    check_sensitivity_design,
    mc_error,
    point_noise_variance,
    run_sensitivity,
    summary_text,
    systems_for_noise_share,
    with_default_sweep,
)
from mc_threat.config import ConfigError, config_from_dict
from mc_threat.store import Store, StoreError, open_results

# ---------------------------------------------------------------------------------------------
# Analytic test functions through the same code path
# ---------------------------------------------------------------------------------------------


def ishigami_indices(a=7.0, b=0.1):
    """Analytic first-order, total and second-order indices of the Ishigami function."""
    pi = np.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    s1 = np.array([v1, v2, 0.0]) / v
    st = np.array([v1 + v13, v2, v13]) / v
    return s1, st, v13 / v


def test_ishigami_analytic_values_are_the_known_ones():
    s1, st, s13 = ishigami_indices()
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=5e-4)
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=5e-4)
    assert s13 == pytest.approx(0.2437, abs=5e-4)


ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def test_ishigami_indices_within_confidence_intervals():
    X = sobol_sample.sample(ISHIGAMI, 2048, calc_second_order=True, seed=7)
    Y = Ishigami.evaluate(X)
    res = analyze(ISHIGAMI, X, {"ishigami": Y}, method="sobol", second_order=True)
    s1, st, s13 = ishigami_indices()
    got = res.sel(outcome="ishigami")
    # within the 95% interval, plus a small margin for the bootstrap's own noise
    for var, truth in (("S1", s1), ("ST", st)):
        est, conf = got[var].values, got[f"{var}_conf"].values
        assert np.all(conf > 0) and np.all(conf < 0.1), (var, conf)
        assert np.all(np.abs(est - truth) <= conf + 0.01), (var, est, truth, conf)
    s2 = got["S2"]
    assert float(s2.sel(factor="x1", factor2="x3")) == pytest.approx(s13, abs=
                                                                      float(got["S2_conf"].sel(
                                                                          factor="x1",
                                                                          factor2="x3")) + 0.02)
    # symmetric, NaN on the diagonal, and the pairs without interaction near 0
    np.testing.assert_array_equal(s2.values, s2.values.T)
    assert np.isnan(np.diag(s2.values)).all()
    for a, b in (("x1", "x2"), ("x2", "x3")):
        assert abs(float(s2.sel(factor=a, factor2=b))) <= float(
            got["S2_conf"].sel(factor=a, factor2=b)) + 0.02
    assert res["S1"].dims == ("outcome", "factor")
    assert res["S2"].dims == ("outcome", "factor", "factor2")


def sobol_g_indices(a):
    v = 1.0 / (3.0 * (1.0 + a) ** 2)
    total = np.prod(1 + v) - 1
    s1 = v / total
    st = np.array([v[i] * np.prod(np.delete(1 + v, i)) for i in range(a.size)]) / total
    return s1, st


def test_sobol_g_indices_within_confidence_intervals():
    a = np.array([0, 1, 4.5, 9, 99, 99, 99, 99], dtype=float)
    problem = {"num_vars": 8, "names": [f"x{i}" for i in range(8)], "bounds": [[0, 1]] * 8}
    X = sobol_sample.sample(problem, 2048, calc_second_order=False, seed=3)
    Y = Sobol_G.evaluate(X, a=a)
    res = analyze(problem, X, Y, method="sobol").sel(outcome="y")
    s1, st = sobol_g_indices(a)
    for var, truth in (("S1", s1), ("ST", st)):
        est, conf = res[var].values, res[f"{var}_conf"].values
        assert np.all(np.abs(est - truth) <= conf + 0.01), (var, est, truth, conf)
    # the ranking of the important factors is right, the unimportant ones are ~0
    assert list(np.argsort(-res["ST"].values)[:4]) == [0, 1, 2, 3]
    assert np.all(res["ST"].values[4:] < 0.01)


def test_two_outputs_are_analysed_independently_and_labelled():
    X = sobol_sample.sample(ISHIGAMI, 256, calc_second_order=False, seed=1)
    Y = Ishigami.evaluate(X)
    both = analyze(ISHIGAMI, X, np.stack([Y, X[:, 2]], axis=1), method="sobol")
    assert [str(o) for o in both["outcome"].values] == ["y0", "y1"]
    alone = analyze(ISHIGAMI, X, Y, method="sobol")
    np.testing.assert_array_equal(both["ST"].sel(outcome="y0").values,
                                  alone["ST"].sel(outcome="y").values)
    # y1 = x3 depends on x3 only
    st = both["ST"].sel(outcome="y1").values
    assert st[2] == pytest.approx(1.0, abs=0.05) and np.all(np.abs(st[:2]) < 1e-12)


def test_points_out_of_sample_order_are_refused():
    X = sobol_sample.sample(ISHIGAMI, 64, calc_second_order=False, seed=1)
    Y = Ishigami.evaluate(X)
    perm = np.random.default_rng(0).permutation(len(X))
    with pytest.raises(ValueError, match="sample order"):
        analyze(ISHIGAMI, X[perm], Y[perm], method="sobol")
    with pytest.raises(ValueError, match="not a multiple"):
        analyze(ISHIGAMI, X[:-1], Y[:-1], method="sobol")
    with pytest.raises(ValueError, match="second_order"):
        analyze(ISHIGAMI, X, Y, method="sobol", second_order=True)


def test_bad_arguments_are_refused():
    X = sobol_sample.sample(ISHIGAMI, 16, calc_second_order=False, seed=1)
    Y = Ishigami.evaluate(X)
    with pytest.raises(ValueError, match="method"):
        analyze(ISHIGAMI, X, Y, method="fast")
    with pytest.raises(ValueError, match="seed"):
        analyze(ISHIGAMI, X, Y, method="sobol", seed=0)
    with pytest.raises(ValueError, match="3 design points|values for"):
        analyze(ISHIGAMI, X, Y[:3], method="sobol")
    bad = Y.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="non-finite value at point 5"):
        analyze(ISHIGAMI, X, bad, method="sobol")


def test_constant_output_has_undefined_sobol_indices():
    X = sobol_sample.sample(ISHIGAMI, 64, calc_second_order=True, seed=1)
    res = analyze(ISHIGAMI, X, {"flat": np.full(len(X), 0.25), "x1": X[:, 0]}, method="sobol",
                  second_order=True)
    for var in ("S1", "S1_conf", "ST", "ST_conf", "S2", "S2_conf"):
        assert np.isnan(res[var].sel(outcome="flat").values).all(), var
    assert np.isfinite(res["ST"].sel(outcome="x1").values).all()


def test_morris_effects_of_a_linear_function_are_exact():
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1], [0, 2], [-1, 1]]}
    X = morris_sample.sample(problem, 12, num_levels=4, seed=2)
    Y = 3 * X[:, 0] - 2 * X[:, 1] + 0 * X[:, 2] + 5
    res = analyze(problem, X, {"lin": Y}, method="morris", num_levels=4).sel(outcome="lin")
    # an elementary effect is the change over the factor's whole range
    np.testing.assert_allclose(res["mu"].values, [3.0, -4.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(res["mu_star"].values, [3.0, 4.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(res["sigma"].values, 0.0, atol=1e-9)
    assert "S1" not in res


# ---------------------------------------------------------------------------------------------
# Monte Carlo noise
# ---------------------------------------------------------------------------------------------


def test_batch_means_recover_the_noise_that_varies_between_points():
    rng = np.random.default_rng(5)
    n_points, n_chunks, n = 600, 8, 50
    signal = np.sin(np.linspace(0, 6, n_points))
    sigma = 2.0  # per-system standard deviation of the point-specific noise
    common = rng.normal(0, 5.0, n_chunks) / np.sqrt(n)  # shared by all points (CRN)
    own = rng.normal(0, sigma / np.sqrt(n), (n_points, n_chunks))
    chunk_means = signal[:, None] + common[None, :] + own
    counts = np.full(n_chunks, n)
    est = point_noise_variance(chunk_means, counts)
    truth = sigma**2 / (n * n_chunks)
    assert est == pytest.approx(truth, rel=0.15)
    # unequal chunks (a short last chunk) keep the estimate unbiased
    counts2 = np.array([n] * (n_chunks - 1) + [10])
    own2 = rng.normal(0, 1, (n_points, n_chunks)) * sigma / np.sqrt(counts2)
    est2 = point_noise_variance(signal[:, None] + own2, counts2)
    assert est2 == pytest.approx(sigma**2 / counts2.sum(), rel=0.2)
    assert np.isnan(point_noise_variance(chunk_means[:, :1], counts[:1]))


def test_mc_error_shares_and_fallback():
    means = {"a": np.array([0.0, 1.0, 2.0, 3.0]), "flat": np.full(4, 0.5)}
    sems = {"a": np.full(4, 0.1), "flat": np.full(4, 0.2)}
    ds = mc_error(means, sems)  # no batch means: the independent-error value
    assert float(ds["mc_sem"].sel(outcome="a")) == pytest.approx(0.1)
    assert float(ds["mc_noise_std"].sel(outcome="a")) == pytest.approx(0.1)
    assert float(ds["output_std"].sel(outcome="a")) == pytest.approx(np.std([0, 1, 2, 3]))
    assert float(ds["mc_noise_share"].sel(outcome="a")) == pytest.approx(0.01 / 1.25)
    assert np.isnan(float(ds["mc_noise_share"].sel(outcome="flat")))
    ds2 = mc_error(means, sems, {"a": 0.0004})
    assert float(ds2["mc_noise_std"].sel(outcome="a")) == pytest.approx(0.02)
    assert systems_for_noise_share(0.05, 1000, 0.01) == 5000
    assert systems_for_noise_share(0.001, 1000, 0.01) == 1000
    assert systems_for_noise_share(float("nan"), 1000) is None


# ---------------------------------------------------------------------------------------------
# Real sweeps
# ---------------------------------------------------------------------------------------------

# The intent weight is fixed at 0, so the intent distribution (generator.intent.a) cannot
# matter: the generator draws the same uniforms for every intent shape, so power, position
# and offense are identical at points that differ only in it.
IGNORED = {
    "model": {"n_states": 6, "weights": {"intent": 0.0}},
    "run": {"seed": 41, "systems": 600, "chunk": 150},
    "sweep": {"design": "sobol", "samples": 16, "seed": 2,
              "factors": {"model.weights.power": [0.0, 1.0],
                          "model.bandwagon_ratio": [0.0, 0.5],
                          "generator.intent.a": [0.5, 4.0]}},
}


@pytest.fixture(scope="module")
def sobol_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("sens") / "ignored.zarr"
    report = run_sensitivity(config_from_dict(IGNORED), out, workers=0, progress=False)
    return out, report


def store_bytes(path: Path, keep) -> dict[str, bytes]:
    return {f.relative_to(path).as_posix(): f.read_bytes()
            for f in sorted(path.rglob("*")) if f.is_file() and keep(f.relative_to(path))}


def is_sweep_file(rel: Path) -> bool:
    """Every file of the sweep's own arrays (the root zarr.json holds the attributes)."""
    return rel.parts[0] not in (*ANALYSIS_VARS, "outcome", "factor", "factor2", "zarr.json")


def test_ignored_factor_has_zero_total_index(sobol_store):
    path, report = sobol_store
    assert report.swept
    ds = xr.open_zarr(path)
    st = ds["ST"].sel(factor="generator.intent.a")
    conf = ds["ST_conf"].sel(factor="generator.intent.a")
    finite = np.isfinite(st.values)
    assert finite.sum() >= 10
    assert np.all(np.abs(st.values[finite]) <= conf.values[finite] + 1e-9)
    assert np.all(np.abs(st.values[finite]) < 0.01)
    s1 = ds["S1"].sel(factor="generator.intent.a").values[finite]
    assert np.all(np.abs(s1) < 0.01)
    # ...while the factors the model uses matter, clearly beyond their intervals
    beta = ds["ST"].sel(factor="model.bandwagon_ratio", outcome="share_bandwagon")
    assert float(beta) > 0.3 and float(beta) > float(
        ds["ST_conf"].sel(factor="model.bandwagon_ratio", outcome="share_bandwagon"))


def test_stored_indices_are_salib_on_the_stored_means(sobol_store):
    path, _ = sobol_store
    ds = xr.open_zarr(path)
    problem = json.loads(ds.attrs["salib_problem"])
    X = np.stack([ds[n].values for n in problem["names"]], axis=1)
    # the sweep's points are SALib's sample rows, in order
    expected_X = sobol_sample.sample({k: problem[k] for k in ("num_vars", "names", "bounds")},
                                     16, calc_second_order=False, seed=2)
    np.testing.assert_array_equal(X, expected_X)
    Y = {o: ds[o].sel(stat="mean").values for o in mt.OUTCOMES}
    meta = json.loads(ds.attrs["sensitivity"])
    direct = analyze(problem, X, Y, method="sobol", seed=meta["seed"])
    for var in ("S1", "S1_conf", "ST", "ST_conf"):
        np.testing.assert_array_equal(ds[var].values, direct[var].values, err_msg=var)
    assert [str(o) for o in ds["outcome"].values] == list(mt.OUTCOMES)
    assert [str(f) for f in ds["factor"].values] == problem["names"]


def test_store_layout_and_attributes(sobol_store):
    path, _ = sobol_store
    ds = xr.open_zarr(path)
    for var in ("S1", "S1_conf", "ST", "ST_conf"):
        assert ds[var].dims == ("outcome", "factor")
        assert ds[var].attrs["units"] == "fraction of output variance"
    for var in ("mc_sem", "mc_noise_std", "output_std", "mc_noise_share"):
        assert ds[var].dims == ("outcome",)
        assert ds[var].attrs["long_name"]
    assert "S2" not in ds and "mu_star" not in ds and "factor2" not in ds.dims
    meta = json.loads(ds.attrs["sensitivity"])
    assert meta["method"] == "sobol" and meta["analyzer"] == "SALib.analyze.sobol.analyze"
    assert meta["base_samples"] == 16 and meta["points"] == 16 * 5
    # the sweep's attributes survive the analysis's write
    for key in ("config", "config_hash", "salib_problem", "design", "factors", "finished"):
        assert ds.attrs[key], key
    assert ds.attrs["design"] == "sobol"
    # consolidated metadata lists the new variables (xr.open_zarr relies on it)
    meta_json = json.loads((path / "zarr.json").read_text())
    listed = meta_json["consolidated_metadata"]["metadata"]
    assert "ST" in listed and "mc_noise_share" in listed
    # Monte Carlo error: per-point sems summarised, noise below the spread it sits in
    sem = ds["share_bandwagon"].sel(stat="sem").values
    assert float(ds["mc_sem"].sel(outcome="share_bandwagon")) == pytest.approx(
        np.sqrt(np.mean(sem**2)))
    assert float(ds["mc_noise_share"].sel(outcome="share_bandwagon")) < 0.2


def test_rerun_replaces_only_the_analysis(sobol_store, tmp_path):
    src, _ = sobol_store
    path = tmp_path / "copy.zarr"
    import shutil

    shutil.copytree(src, path)
    before = store_bytes(path, is_sweep_file)
    sweep_before = open_results(path)[list(mt.OUTCOMES)].load()
    # a subset of outcomes at another level: the dimensions shrink, nothing stale remains
    small = analyze_store(path, outcomes=["contained", "share_balance"], conf_level=0.5)
    ds = xr.open_zarr(path)
    assert [str(o) for o in ds["outcome"].values] == ["contained", "share_balance"]
    assert ds["ST"].shape == (2, 3)
    full = xr.open_zarr(src)
    assert np.all(ds["ST_conf"].sel(outcome="contained").values
                  < full["ST_conf"].sel(outcome="contained").values + 1e-12)
    assert json.loads(ds.attrs["sensitivity"])["conf_level"] == 0.5
    np.testing.assert_array_equal(small["ST"].values, ds["ST"].values)
    # back to every outcome
    analyze_store(path)
    ds = xr.open_zarr(path)
    assert ds.sizes["outcome"] == len(mt.OUTCOMES)
    np.testing.assert_array_equal(ds["ST"].values, full["ST"].values)
    # the sweep's files are byte-identical, its variables equal
    assert store_bytes(path, is_sweep_file) == before
    after = open_results(path)[list(mt.OUTCOMES)].load()
    xr.testing.assert_equal(after, sweep_before)
    for name in mt.OUTCOMES:
        assert after[name].attrs == sweep_before[name].attrs
    assert {k: v for k, v in after.attrs.items() if k != "sensitivity"} == \
        {k: v for k, v in sweep_before.attrs.items() if k != "sensitivity"}
    # no arrays besides the sweep's and the analysis's
    names = set(zarr.open_group(path, mode="r").keys())
    expected_analysis = {"S1", "S1_conf", "ST", "ST_conf", "mc_sem", "mc_noise_std",
                         "output_std", "mc_noise_share", "outcome", "factor"}
    assert expected_analysis <= names
    assert not (names & set(ANALYSIS_VARS)) - expected_analysis


def test_analysis_again_never_recomputes_the_sweep(sobol_store, tmp_path, monkeypatch):
    import shutil

    import mc_threat.engine.sweep

    src, _ = sobol_store
    path = tmp_path / "again.zarr"
    shutil.copytree(src, path)
    work_before = {k: (v, (path / k).stat().st_mtime_ns)
                   for k, v in store_bytes(path, lambda r: r.parts[0] == "_work").items()}

    def no_sweep(*args, **kwargs):
        raise AssertionError("the sweep ran again")

    monkeypatch.setattr(mc_threat.engine.sweep, "run_sweep", no_sweep)
    config = config_from_dict(IGNORED)
    # the same config on a complete store: detected, analysed only
    report = run_sensitivity(config, path, workers=0, progress=False)
    assert not report.swept and report.sweep is None
    # --analyze-only
    report = run_sensitivity(config, path, analyze_only=True, progress=False)
    assert not report.swept
    # the store directly
    analyze_store(path)
    work_after = {k: (v, (path / k).stat().st_mtime_ns)
                  for k, v in store_bytes(path, lambda r: r.parts[0] == "_work").items()}
    assert work_after == work_before


def test_incomplete_store_needs_resume_then_completes(tmp_path):
    cfg = {**IGNORED, "run": {"seed": 3, "systems": 200, "chunk": 50},
           "sweep": {**IGNORED["sweep"], "samples": 4}}
    config = config_from_dict(cfg)
    path = tmp_path / "partial.zarr"
    run_sensitivity(config, path, workers=0, progress=False)
    full = xr.open_zarr(path).load()
    # forget a task: the manifest no longer records it
    store = Store(path)
    store.task_done[0, store.task_done.shape[1] - 1] = 0
    store.block_done[0] = 0
    with pytest.raises(StoreError, match="incomplete"):
        analyze_store(path)
    with pytest.raises(StoreError, match="--resume"):
        run_sensitivity(config, path, workers=0, progress=False)
    report = run_sensitivity(config, path, workers=0, progress=False, resume=True)
    assert report.swept and report.sweep.tasks_run == 1
    again = xr.open_zarr(path).load()
    for var in ("ST", "S1", "share_balance"):
        np.testing.assert_array_equal(again[var].values, full[var].values)


def test_existing_store_of_another_config_is_refused(sobol_store, tmp_path):
    path, _ = sobol_store
    other = config_from_dict({**IGNORED, "run": {**IGNORED["run"], "seed": 42}})
    with pytest.raises(StoreError, match="--overwrite"):
        run_sensitivity(other, path, workers=0, progress=False)
    different_design = config_from_dict({**IGNORED, "sweep": {**IGNORED["sweep"], "seed": 9}})
    with pytest.raises(StoreError, match="different sweep design"):
        run_sensitivity(different_design, path, analyze_only=True)
    with pytest.raises(StoreError, match="no results store"):
        run_sensitivity(other, tmp_path / "missing.zarr", analyze_only=True)
    with pytest.raises(ConfigError, match="exclude"):
        run_sensitivity(other, tmp_path / "x.zarr", resume=True, overwrite=True)


def test_grid_designs_are_refused(tmp_path):
    from mc_threat.engine.sweep import run_sweep

    grid = config_from_dict({"model": {"n_states": 4}, "run": {"systems": 20},
                             "sweep": {"design": "grid",
                                       "factors": {"model.weights.intent": [0.0, 1.0]}}})
    with pytest.raises(ConfigError, match="sobol or morris"):
        run_sensitivity(grid, tmp_path / "g.zarr", workers=0)
    run_sweep(grid, tmp_path / "g.zarr", workers=0, progress=False)
    with pytest.raises(StoreError, match="sobol or morris sweep"):
        analyze_store(tmp_path / "g.zarr")
    with pytest.raises(StoreError, match="not an mc-threat results store"):
        analyze_store(tmp_path / "nothing.zarr")


def test_unknown_outcome_is_refused(sobol_store):
    path, _ = sobol_store
    with pytest.raises(ConfigError, match="unknown outcome"):
        analyze_store(path, outcomes=["contained", "happiness"], write=False)


def test_morris_store_and_ignored_factor(tmp_path):
    cfg = {"model": {"n_states": 6, "weights": {"intent": 0.0}},
           "run": {"seed": 8, "systems": 300, "chunk": 100},
           "sweep": {"design": "morris", "trajectories": 6, "levels": 4, "seed": 1,
                     "factors": {"model.weights.power": [0.05, 1.0],
                                 "model.bandwagon_ratio": [0.0, 0.5],
                                 "generator.intent.a": [0.5, 4.0]}}}
    path = tmp_path / "morris.zarr"
    report = run_sensitivity(config_from_dict(cfg), path, workers=0, progress=False)
    ds = xr.open_zarr(path)
    for var in ("mu", "mu_star", "mu_star_conf", "sigma"):
        assert ds[var].dims == ("outcome", "factor")
    assert "ST" not in ds and "S1" not in ds
    np.testing.assert_array_equal(ds["mu_star"].sel(factor="generator.intent.a").values, 0.0)
    assert float(ds["mu_star"].sel(factor="model.bandwagon_ratio",
                                   outcome="share_bandwagon")) > 0.05
    assert json.loads(ds.attrs["sensitivity"])["num_levels"] == 4
    text = summary_text(report.analysis, 300)
    assert "Morris mu*" in text and "share_bandwagon" in text


def test_morris_all_zero_weights_get_a_hint():
    factors = {f"model.weights.{w}": [0.0, 1.0]
               for w in ("power", "proximity", "offense", "intent")}
    problem = {"num_vars": 4, "names": list(factors), "bounds": [[0.0, 1.0]] * 4}
    seed = next(s for s in range(200)
                if (morris_sample.sample(problem, 10, num_levels=4, seed=s).sum(axis=1) == 0)
                .any())
    cfg = config_from_dict({"run": {"systems": 10},
                            "sweep": {"design": "morris", "trajectories": 10, "seed": seed,
                                      "factors": factors}})
    with pytest.raises(ConfigError) as exc:
        check_sensitivity_design(cfg)
    assert "at least one weight must be > 0" in exc.value.errors[0]
    assert "lower bound" in exc.value.errors[1]


def test_default_factor_set():
    config = with_default_sweep(mt.Config())
    sweep = config.sweep
    assert sweep.design == "sobol" and sweep.samples == 256 and not sweep.second_order
    assert dict(sweep.factors) == DEFAULT_FACTORS
    assert list(sweep.factors)[:4] == [f"model.weights.{w}" for w in
                                       ("power", "proximity", "offense", "intent")]
    for name in ("model.bandwagon_ratio", "model.viability", "model.reach",
                 "generator.power_sigma"):
        assert name in sweep.factors
    morris = with_default_sweep(mt.Config(), "morris")
    assert morris.sweep.design == "morris" and morris.sweep.trajectories == 20
    mine = config_from_dict(IGNORED)
    assert with_default_sweep(mine) is mine
    with pytest.raises(ConfigError, match="--design"):
        with_default_sweep(mt.Config(), "fast")


def test_shipped_config_is_a_valid_sobol_design():
    root = Path(__file__).resolve().parents[1]
    config = mt.load_config(root / "configs" / "sobol_weights.yaml")
    design = check_sensitivity_design(config)
    assert config.sweep.design == "sobol"
    assert design.n_points == config.sweep.samples * (len(config.sweep.factors) + 2)
    assert list(config.sweep.factors)[:4] == [f"model.weights.{w}" for w in
                                              ("power", "proximity", "offense", "intent")]
    # several chunks per point, so that the noise estimate accounts for common random numbers
    assert config.run.systems // config.run.chunk >= 2


def test_noise_estimate_matches_the_noise_between_two_seeds(tmp_path):
    """With common random numbers, the noise that matters is far below the per-point
    standard error; the batch-means estimate must find the noise two seeds actually show."""
    est, means = {}, {}
    for seed in (1, 2):
        cfg = {"model": {"n_states": 6},
               "run": {"seed": seed, "systems": 1600, "chunk": 200},
               "sweep": {"design": "sobol", "samples": 16, "seed": 4,
                         "factors": {"model.weights.power": [0.0, 1.0],
                                     "model.weights.proximity": [0.0, 1.0],
                                     "model.weights.offense": [0.0, 1.0]}}}
        report = run_sensitivity(config_from_dict(cfg), tmp_path / f"s{seed}.zarr", workers=0,
                                 progress=False)
        est[seed] = report.analysis
        ds = open_results(tmp_path / f"s{seed}.zarr")
        means[seed] = {o: ds[o].sel(stat="mean").values for o in mt.OUTCOMES}
    for o in ("share_balance", "bop_agreement", "contained", "hegemon_opposed",
              "alignment_change"):
        diff = means[1][o] - means[2][o]
        seen = np.sqrt(np.var(diff) / 2)  # the part of the error that differs between points
        for seed in (1, 2):
            a = est[seed].sel(outcome=o)
            assert 0.5 * seen <= float(a["mc_noise_std"]) <= 2.0 * seen, (o, seen)
            # common random numbers: well below the per-point standard error
            assert float(a["mc_noise_std"]) < 0.75 * float(a["mc_sem"]), o
    # balance-of-power outcomes ignore the weights: with the same systems at every point
    # they carry no noise that differs between points, though each point mean has an error
    for seed in (1, 2):
        a = est[seed].sel(outcome="bop_share_balance")
        assert float(a["mc_noise_std"]) < 1e-6 < 1e-3 < float(a["mc_sem"])
        assert np.isnan(float(a["mc_noise_share"]))


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def parser():
    from mc_threat.cli.analysis import add_analysis_parsers

    p = argparse.ArgumentParser(prog="mc-threat")
    add_analysis_parsers(p.add_subparsers(dest="command", required=True))
    return p


def run_command(argv):
    args = parser().parse_args([str(a) for a in argv])
    return args.func(args)


def test_command_on_a_store_and_on_a_config(sobol_store, tmp_path, capsys, monkeypatch):
    import shutil

    src, _ = sobol_store
    path = tmp_path / "cmd.zarr"
    shutil.copytree(src, path)
    assert run_command(["sensitivity", path, "--conf-level", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "total-order Sobol indices" in out and "g.intent.a" in out
    assert "analysed without recomputing the sweep" in out
    assert json.loads(xr.open_zarr(path).attrs["sensitivity"])["conf_level"] == 0.9
    cfg = tmp_path / "ignored.yaml"
    cfg.write_text(yaml.safe_dump(IGNORED, sort_keys=False))
    assert run_command(["sensitivity", cfg, "--out", path, "--analyze-only", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    with pytest.raises(StoreError, match="already exists"):
        run_command(["sensitivity", cfg, "--out", path, "--systems", "100", "--quiet"])
    with pytest.raises(ConfigError, match="--resume"):
        run_command(["sensitivity", path, "--resume"])
    grid = tmp_path / "grid.yaml"
    grid.write_text("sweep: {design: grid, factors: {model.reach: [0.1, 0.2]}}\n")
    with pytest.raises(ConfigError, match="sobol or morris"):
        run_command(["sensitivity", grid, "--out", tmp_path / "grid.zarr"])
    with pytest.raises(SystemExit):
        run_command(["sensitivity", cfg, "--conf-level", "1.5"])


def test_command_through_the_main_entry_point(sobol_store, tmp_path, capsys):
    """Once ``mc_threat.cli`` registers the analysis commands, errors are one line, status 2."""
    from mc_threat import cli

    sub = next(a for a in cli.build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    if "sensitivity" not in sub.choices:
        pytest.skip("mc_threat.cli does not register the analysis commands yet")
    src, _ = sobol_store
    assert cli.main(["sensitivity", str(src), "--quiet"]) == 0
    code = cli.main(["sensitivity", str(tmp_path / "missing.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mc-threat: error:") and "Traceback" not in err


def test_store_noise_is_batch_means_over_the_stored_chunks(sobol_store):
    from mc_threat.analysis.common import noise_from_chunks as _noise_from_chunks
    from mc_threat.kernels.stats import M_COUNT, M_MEAN

    path, _ = sobol_store
    store = Store(path)
    mom = np.asarray(store.moments[:])
    assert mom.shape[1] == 4  # 600 systems in chunks of 150
    outcomes = ["share_bandwagon", "contained", "hegemon_allies"]
    direct = {o: point_noise_variance(mom[:, :, mt.OUTCOMES.index(o), M_MEAN],
                                      mom[0, :, 0, M_COUNT]) for o in outcomes}
    streamed = _noise_from_chunks(store, outcomes, values_per_read=50)  # a few points a read
    whole = _noise_from_chunks(store, outcomes)
    for o in outcomes:
        assert streamed[o] == pytest.approx(direct[o], rel=1e-9)
        assert whole[o] == pytest.approx(direct[o], rel=1e-9)
        stored = float(xr.open_zarr(path)["mc_noise_std"].sel(outcome=o))
        assert stored == pytest.approx(np.sqrt(direct[o]), rel=1e-9)


def test_second_order_indices_in_a_store(tmp_path):
    cfg = {"model": {"n_states": 6},
           "run": {"seed": 5, "systems": 100},
           "sweep": {"design": "sobol", "samples": 4, "second_order": True, "seed": 3,
                     "factors": {"model.weights.power": [0.0, 1.0],
                                 "model.weights.offense": [0.0, 1.0],
                                 "model.bandwagon_ratio": [0.0, 0.5]}}}
    path = tmp_path / "s2.zarr"
    run_sensitivity(config_from_dict(cfg), path, workers=0, progress=False)
    ds = xr.open_zarr(path).load()
    assert ds.sizes["point"] == 4 * (2 * 3 + 2)
    for var in ("S2", "S2_conf"):
        assert ds[var].dims == ("outcome", "factor", "factor2")
        values = ds[var].sel(outcome="share_bandwagon").values
        np.testing.assert_array_equal(values, values.T)
        assert np.isnan(np.diag(values)).all()
    assert [str(f) for f in ds["factor2"].values] == [str(f) for f in ds["factor"].values]
    problem = json.loads(ds.attrs["salib_problem"])
    X = np.stack([ds[n].values for n in problem["names"]], axis=1)
    direct = analyze(problem, X, {"b": ds["share_bandwagon"].sel(stat="mean").values},
                     method="sobol", second_order=True,
                     seed=json.loads(ds.attrs["sensitivity"])["seed"])
    np.testing.assert_array_equal(direct["S2"].sel(outcome="b").values,
                                  ds["S2"].sel(outcome="share_bandwagon").values)
    assert json.loads(ds.attrs["sensitivity"])["second_order"] is True
