"""Convergence of the Sobol indices (``mc-threat sensitivity --convergence``) and the nesting
of SALib's Sobol' designs (the first N base points of the 2N design are the N design)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import xarray as xr
from conftest import assert_clean_error, run_cli

from mc_threat.analysis.sensitivity import (
    ANALYSIS_VARS,
    analyze,
    analyze_store,
    convergence,
    convergence_sizes,
    run_sensitivity,
)
from mc_threat.config import ConfigError, config_from_dict

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def ishigami(X, a=7.0, b=0.1):
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


# ---------------------------------------------------------------------------------------------
# Nesting of the design (the check behind extending a store from N to 2N)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("second_order", [False, True])
def test_salib_sobol_design_of_2n_starts_with_the_design_of_n(second_order):
    """SALib draws the base points with scipy's scrambled Sobol' sequence (seeded), then
    writes each base row's A, AB_j, (BA_j,) B rows together: the first N base rows of the 2N
    design, i.e. its first N (D + 2) rows, must be the N design exactly."""
    from SALib.sample import sobol

    for n in (8, 64, 512):
        small = sobol.sample(ISHIGAMI, n, calc_second_order=second_order, seed=3)
        large = sobol.sample(ISHIGAMI, 2 * n, calc_second_order=second_order, seed=3)
        assert large.shape[0] == 2 * small.shape[0]
        np.testing.assert_array_equal(large[:small.shape[0]], small)
    # another seed is another scrambling: not nested in the first
    other = sobol.sample(ISHIGAMI, 16, calc_second_order=second_order, seed=4)
    assert not np.array_equal(other, sobol.sample(ISHIGAMI, 16, calc_second_order=second_order,
                                                  seed=3))


def test_project_designs_of_n_and_2n_are_nested():
    """The same through mc-threat's own design resolution (factor values of every point)."""
    from mc_threat.design import design_points

    def design(n):
        return design_points(config_from_dict({
            "model": {"n_states": 5}, "run": {"systems": 10},
            "sweep": {"design": "sobol", "samples": n, "seed": 9,
                      "factors": {"model.weights.power": [0.0, 1.0],
                                  "model.reach": [0.05, 0.5],
                                  "generator.power_sigma": [0.5, 2.0]}}}))

    small, large = design(32), design(64)
    assert list(small.factors) == list(large.factors)
    np.testing.assert_array_equal(large.values[:len(small.values)], small.values)


# ---------------------------------------------------------------------------------------------
# The indices on nested prefixes
# ---------------------------------------------------------------------------------------------


def test_sizes():
    assert convergence_sizes(1024) == [128, 256, 512, 1024]
    assert convergence_sizes(16) == [2, 4, 8, 16]
    assert convergence_sizes(8) == [2, 4, 8]


def test_each_prefix_is_salib_on_that_prefix_and_the_last_is_the_whole():
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol

    X = sobol.sample(ISHIGAMI, 512, calc_second_order=False, seed=1)
    y = ishigami(X)
    conv = convergence(ISHIGAMI, X, {"y": y}, seed=5, num_resamples=50)
    assert conv["S1_convergence"].dims == ("outcome", "base_samples", "factor")
    assert conv["base_samples"].values.tolist() == [64, 128, 256, 512]
    for n in (64, 256):
        rows = n * 5
        ref = sobol_analyze.analyze(ISHIGAMI, y[:rows], calc_second_order=False,
                                    num_resamples=50, seed=5)
        for k in ("S1", "S1_conf", "ST", "ST_conf"):
            np.testing.assert_allclose(
                conv[f"{k}_convergence"].sel(outcome="y", base_samples=n).values, ref[k],
                rtol=1e-12, atol=1e-15)
    whole = analyze(ISHIGAMI, X, {"y": y}, method="sobol", seed=5, num_resamples=50)
    for k in ("S1", "ST", "S1_conf", "ST_conf"):
        np.testing.assert_array_equal(
            conv[f"{k}_convergence"].sel(base_samples=512).values, whole[k].values)
    # intervals shrink with N (like 1/sqrt(N): 8x the points, about a third of the width)
    conf = conv["ST_conf_convergence"].sel(outcome="y").values
    assert np.all(conf[-1] < 0.6 * conf[0])
    # and the analytic Ishigami indices lie in the intervals at N
    st, stc = whole["ST"].values[0], whole["ST_conf"].values[0]
    assert np.all(np.abs(st - [0.558, 0.442, 0.244]) <= stc + 0.01)


# ---------------------------------------------------------------------------------------------
# A store
# ---------------------------------------------------------------------------------------------

CONFIG = {
    "model": {"n_states": 6},
    "run": {"seed": 5, "systems": 200, "chunk": 100},
    "sweep": {"design": "sobol", "samples": 16, "seed": 1,
              "factors": {"model.weights.power": [0.0, 1.0],
                          "model.weights.proximity": [0.0, 1.0],
                          "model.bandwagon_ratio": [0.0, 0.5]}},
}


@pytest.fixture(scope="module")
def sobol_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv") / "sobol.zarr"
    run_sensitivity(config_from_dict(CONFIG), out, workers=0, progress=False)
    return out


def test_store_convergence_variables_and_rerun(sobol_store, tmp_path, capsys):
    path = tmp_path / "copy.zarr"
    shutil.copytree(sobol_store, path)
    sweep_vars = xr.open_zarr(path)[["alignment_change", "share_balance"]].load()
    figs = tmp_path / "figs"
    code, out, err = run_cli(["sensitivity", path, "--convergence", "--figures", figs,
                              "--outcomes", "alignment_change,share_neutral,share_balance"],
                             capsys)
    assert code == 0, err
    assert "convergence over base samples 2, 4, 8, 16" in out
    ds = xr.open_zarr(path)
    assert ds["ST_convergence"].dims == ("outcome", "base_samples", "factor")
    assert ds["base_samples"].values.tolist() == [2, 4, 8, 16]
    for k in ("S1", "S1_conf", "ST", "ST_conf"):
        np.testing.assert_array_equal(ds[f"{k}_convergence"].sel(base_samples=16).values,
                                      ds[k].values)
    meta = json.loads(ds.attrs["sensitivity"])
    assert meta["convergence_base_samples"] == [2, 4, 8, 16]
    # one figure per outcome that varies (share_neutral is constant, neutral_below being 0)
    assert np.isnan(ds["ST_convergence"].sel(outcome="share_neutral").values).all()
    pngs = sorted(p.name for p in figs.glob("convergence_*.png"))
    assert pngs == ["convergence_alignment_change.png", "convergence_share_balance.png"]
    # a rerun without --convergence drops the convergence variables and nothing else
    analyze_store(path)
    ds = xr.open_zarr(path)
    assert "ST_convergence" not in ds and "base_samples" not in ds.dims and "ST" in ds
    xr.testing.assert_equal(ds[["alignment_change", "share_balance"]].load(), sweep_vars)
    assert set(ANALYSIS_VARS) >= {"S1_convergence", "ST_conf_convergence"}


def test_convergence_needs_a_sobol_design(sobol_store, tmp_path, capsys):
    from mc_threat.engine.sweep import run_sweep

    grid = config_from_dict({"model": {"n_states": 4}, "run": {"systems": 20},
                             "sweep": {"design": "grid",
                                       "factors": {"model.weights.intent": [0.0, 1.0]}}})
    run_sweep(grid, tmp_path / "g.zarr", workers=0, progress=False)
    with pytest.raises(ConfigError, match="--convergence"):
        analyze_store(tmp_path / "g.zarr", method="pawn", convergence=True)
    code, out, err = run_cli(["sensitivity", tmp_path / "g.zarr", "--convergence"], capsys)
    assert_clean_error(code, out, err, "--convergence")
