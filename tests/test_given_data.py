"""Indices from any design (``mc-threat sensitivity STORE --method delta|pawn|rbd_fast``):
an additive test function with known first-order indices, PAWN's bootstrap intervals
against the spread over independent samples, and the store rules."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import assert_clean_error, run_cli, store_files

from mc_threat.analysis.given_data import analyze_given, analyze_given_store
from mc_threat.analysis.sensitivity import analyze_store
from mc_threat.config import ConfigError

NAMES = ["model.weights.power", "model.reach", "model.viability"]
COEF = np.array([4.0, 2.0, 0.0])
PROBLEM = {"num_vars": 3, "names": NAMES, "bounds": [[0.0, 1.0]] * 3}
# Additive y = 4 x0 + 2 x1 (+ 0 x2) with independent uniform factors: Var(a x) = a^2 / 12, so
# the first-order indices are a_i^2 / sum a^2 = (0.8, 0.2, 0).
TRUE_S1 = COEF**2 / np.sum(COEF**2)


def additive(X):
    return X @ COEF


def lhs(n, seed):
    from SALib.sample import latin

    return latin.sample(PROBLEM, n, seed=seed)


@pytest.mark.parametrize("method", ["rbd_fast", "delta"])
def test_additive_first_order_indices_within_their_intervals(method):
    X = lhs(1000, seed=5)
    ds = analyze_given(PROBLEM, X, {"y": additive(X)}, method=method, seed=3,
                       num_resamples=30)
    s1 = ds["S1"].sel(outcome="y").values
    conf = ds["S1_conf"].sel(outcome="y").values
    assert np.all(conf > 0) and np.all(conf < 0.15)
    # within the interval, allowing for the estimators' small-sample bias of a few 0.01
    assert np.all(np.abs(s1 - TRUE_S1) <= conf + 0.03), (s1, conf)


def test_delta_orders_the_factors_and_its_intervals():
    X = lhs(1000, seed=6)
    ds = analyze_given(PROBLEM, X, additive(X), method="delta", seed=2, num_resamples=30)
    d = ds["delta"].sel(outcome="y").values
    c = ds["delta_conf"].sel(outcome="y").values
    assert d[0] > d[1] + c[0] + c[1] and d[1] > d[2] + c[1] + c[2]
    assert d[2] < 0.1  # the factor the function ignores: delta is biased upwards, ~0.05 here


def test_pawn_bootstrap_interval_matches_the_spread_over_independent_samples():
    """Our PAWN interval (resampled design rows) against the truth it estimates: the standard
    deviation of the PAWN index over independent designs of the same size."""
    n = 600
    rep = []
    for seed in range(1, 21):
        X = lhs(n, seed=100 + seed)
        rep.append(analyze_given(PROBLEM, X, additive(X), method="pawn", num_resamples=2,
                                 seed=1)["pawn"].values[0])
    spread = np.std(rep, axis=0, ddof=1)
    X = lhs(n, seed=7)
    ds = analyze_given(PROBLEM, X, additive(X), method="pawn", num_resamples=200, seed=4)
    half = ds["pawn_conf"].values[0]
    implied = half / 1.959964
    assert np.all(implied > 0.5 * spread) and np.all(implied < 2.0 * spread), (implied, spread)
    p = ds["pawn"].values[0]
    assert p[0] > p[1] > p[2]
    # deterministic: same seed, same numbers; another seed, other intervals
    again = analyze_given(PROBLEM, X, additive(X), method="pawn", num_resamples=200, seed=4)
    np.testing.assert_array_equal(again["pawn_conf"].values, ds["pawn_conf"].values)
    other = analyze_given(PROBLEM, X, additive(X), method="pawn", num_resamples=200, seed=5)
    assert not np.array_equal(other["pawn_conf"].values, ds["pawn_conf"].values)


def test_constant_output_gives_nan_and_bad_arguments_are_refused():
    X = lhs(200, seed=1)
    ds = analyze_given(PROBLEM, X, {"c": np.full(200, 0.3), "y": additive(X)},
                       method="rbd_fast")
    assert np.isnan(ds["S1"].sel(outcome="c").values).all()
    assert np.isfinite(ds["S1"].sel(outcome="y").values).all()
    with pytest.raises(ValueError, match="method"):
        analyze_given(PROBLEM, X, additive(X), method="sobol")
    with pytest.raises(ValueError, match="seed"):
        analyze_given(PROBLEM, X, additive(X), method="pawn", seed=0)


# ---------------------------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------------------------


def constructed_store(path, n=800):
    """A store of any design, laid out like a calibration store: factors as point
    coordinates (one of them text), outcomes of shape (point,) and (point, stat)."""
    X = lhs(n, seed=11)
    y = additive(X)
    stat = np.array(["mean", "std", "sem", "count", "min", "max"], dtype=object)
    v = np.zeros((n, stat.size))
    v[:, 0] = y
    v[:, 2] = 0.01
    coords = {"point": np.arange(n), "stat": stat,
              "model.form": ("point", np.array(["additive"] * n, dtype=object))}
    coords |= {f: ("point", X[:, k]) for k, f in enumerate(NAMES)}
    ds = xr.Dataset({"score": (("point", "stat"), v), "plain": ("point", y)}, coords=coords,
                    attrs={"factors": [*NAMES, "model.form"], "design": "lhs"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=True)
    return path


def test_store_analysis_is_written_and_replaced_by_the_next(tmp_path):
    path = constructed_store(tmp_path / "cal.zarr")
    data_files = {k: v for k, v in store_files(path).items()
                  if k.split("/")[0] in ("score", "plain", "point", "stat", *NAMES,
                                         "model.form")}
    res = analyze_store(path, method="delta", num_resamples=20)
    ds = xr.open_zarr(path)
    assert ds["delta"].dims == ("outcome", "factor")
    assert [str(f) for f in ds["factor"].values] == NAMES  # the text factor is left out
    assert sorted(str(o) for o in ds["outcome"].values) == ["plain", "score"]
    meta = json.loads(ds.attrs["sensitivity"])
    assert meta["method"] == "delta" and meta["ignored_factors"] == ["model.form"]
    np.testing.assert_array_equal(ds["delta"].values, res["delta"].values)
    # the same data as a (point,) and as a (point, stat) variable: the same indices
    np.testing.assert_array_equal(ds["delta"].sel(outcome="plain").values,
                                  ds["delta"].sel(outcome="score").values)
    # PAWN replaces every earlier analysis variable, and leaves the data alone
    analyze_store(path, method="pawn", num_resamples=20, outcomes=["score"])
    ds = xr.open_zarr(path)
    assert "delta" not in ds and "S1" not in ds and "pawn_conf" in ds
    assert ds["pawn"].dims == ("outcome", "factor") and ds.sizes["outcome"] == 1
    after = {k: v for k, v in store_files(path).items() if k in data_files}
    assert after == data_files
    assert ds.attrs["factors"] == [*NAMES, "model.form"] and ds.attrs["design"] == "lhs"


def test_command_on_a_store_of_any_design(tmp_path, capsys):
    path = constructed_store(tmp_path / "cal.zarr", n=400)
    figs = tmp_path / "figs"
    code, out, err = run_cli(["sensitivity", path, "--method", "rbd_fast", "--resamples",
                              "30", "--figures", figs], capsys)
    assert code == 0, err
    assert "RBD-FAST" in out and "w.power" in out
    assert sorted(p.name for p in figs.glob("*.png")) == ["rbd_fast_plain.png",
                                                          "rbd_fast_score.png"]
    code, out, err = run_cli(["sensitivity", path, "--method", "pawn", "--outcomes", "nope"],
                             capsys)
    assert_clean_error(code, out, err, "--outcomes")
    code, out, err = run_cli(["sensitivity", path, "--method", "sobol"], capsys)
    assert_clean_error(code, out, err, str(path))
    code, out, err = run_cli(["sensitivity", path, "--method", "pawn", "--convergence"],
                             capsys)
    assert_clean_error(code, out, err, "--convergence")


def test_unknown_method_is_refused(tmp_path):
    path = constructed_store(tmp_path / "cal.zarr", n=100)
    with pytest.raises(ConfigError, match="--method"):
        analyze_given_store(path, method="fast")


def test_real_lhs_sweep_outcome_of_the_power_weight_alone(tmp_path):
    """A real LHS sweep with the intent weight fixed at 0: the intent distribution
    (generator.intent.a) cannot matter (the generator draws the same uniforms for every
    intent shape, so the systems differ only in intents, which weigh nothing), so every
    outcome is a function of the power weight alone: RBD-FAST gives the intent shape an S1
    within its interval of 0 and the power weight nearly all the variance."""
    from mc_threat.config import config_from_dict
    from mc_threat.engine.sweep import run_sweep

    cfg = config_from_dict({
        "model": {"n_states": 6, "weights": {"intent": 0.0}},
        "run": {"seed": 3, "systems": 100, "chunk": 50},
        "sweep": {"design": "lhs", "samples": 300, "seed": 2,
                  "factors": {"model.weights.power": [0.0, 1.0],
                              "generator.intent.a": [0.5, 4.0]}}})
    path = tmp_path / "lhs.zarr"
    run_sweep(cfg, path, workers=0, progress=False)
    res = analyze_store(path, method="rbd_fast", outcomes=["alignment_change",
                                                           "share_balance"])
    for o in ("alignment_change", "share_balance"):
        s1 = res["S1"].sel(outcome=o)
        conf = res["S1_conf"].sel(outcome=o)
        assert abs(float(s1.sel(factor="generator.intent.a"))) <= \
            float(conf.sel(factor="generator.intent.a")) + 0.02
        assert float(s1.sel(factor="model.weights.power")) > 0.8
    assert json.loads(xr.open_zarr(path).attrs["sensitivity"])["design"] == "lhs"
