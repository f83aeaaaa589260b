"""Scenario discovery (``mc-threat discover``): known answers on constructed stores, the
power weight on a real LHS sweep, the store rules and the command's errors."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from conftest import assert_clean_error, run_cli, store_files, write_config

pytest.importorskip("ema_workbench")

from mc_threat.analysis.discover import discover, discover_store, read_result  # noqa: E402
from mc_threat.config import ConfigError, load_config  # noqa: E402
from mc_threat.store import StoreError  # noqa: E402

FACTORS = ["model.weights.power", "model.reach", "model.viability", "generator.power_sigma"]


def constructed_store(path: Path, y_of_x, n: int = 1500, seed: int = 0) -> Path:
    """A store laid out like mc-threat's (point-coordinate factors, ``factors`` attribute,
    an outcome of shape (point, stat)) whose outcome is ``y_of_x(X)``, known exactly."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, len(FACTORS)))
    y = y_of_x(X)
    stat = np.array(["mean", "std", "sem", "count", "min", "max"], dtype=object)
    values = np.zeros((n, stat.size))
    values[:, 0] = y
    coords = {"point": np.arange(n), "stat": stat}
    coords |= {f: ("point", X[:, k]) for k, f in enumerate(FACTORS)}
    coords["model.form"] = ("point", np.array(["additive"] * n, dtype=object))
    ds = xr.Dataset({"outcome_a": (("point", "stat"), values),
                     "plain": ("point", y)}, coords=coords,
                    attrs={"factors": [*FACTORS, "model.form"], "design": "lhs"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=True)
    return path


def one_factor(X):
    """Depends on the second factor (model.reach) only: above 0.7 exactly where x > 0.6."""
    return np.where(X[:, 1] > 0.6, 0.9, 0.1) + 0.05 * X[:, 1]


@pytest.fixture
def one_factor_store(tmp_path):
    return constructed_store(tmp_path / "one.zarr", one_factor)


@pytest.mark.parametrize("method", ["prim", "cart"])
def test_outcome_of_one_factor_first_box_bounds_that_factor_only(one_factor_store, method):
    d = discover_store(one_factor_store, "outcome_a", above=0.7, method=method)
    assert d.cases == int(np.sum(xr.open_zarr(one_factor_store)["model.reach"].values > 0.6))
    first = d.boxes[0]
    assert list(first.limits) == ["model.reach"]
    lo, hi = first.limits["model.reach"]
    # the box starts at the first sampled value above 0.6 (PRIM: the peel nearest 0.6)
    assert 0.55 < lo <= 0.62 and hi == pytest.approx(d.bounds["model.reach"][1])
    assert first.coverage > 0.95 and first.density > 0.9
    assert d.ignored_factors == ["model.form"]  # text factors are left out, and said so
    if method == "prim":
        qlo, qhi = first.qp_values["model.reach"]
        assert qlo < 1e-6 and qhi is None  # the upper side is not restricted


def test_below_and_a_plain_point_variable(one_factor_store):
    d = discover_store(one_factor_store, "plain", below=0.5, write=False)
    assert list(d.boxes[0].limits) == ["model.reach"]
    lo, hi = d.boxes[0].limits["model.reach"]
    assert lo == pytest.approx(d.bounds["model.reach"][0]) and 0.58 <= hi < 0.65


def test_two_separate_regions_give_two_boxes(tmp_path):
    def two(X):
        return (((X[:, 0] < 0.3) & (X[:, 2] < 0.3)) | (X[:, 3] > 0.85)).astype(float)

    path = constructed_store(tmp_path / "two.zarr", two, n=3000)
    d = discover_store(path, "outcome_a", above=0.5)
    found = sorted(tuple(sorted(b.limits)) for b in d.boxes[:2])
    assert found == [("generator.power_sigma",), ("model.viability", "model.weights.power")]
    for b in d.boxes[:2]:
        assert b.density >= 0.8


def test_store_rules_rerun_replaces_only_its_own_group(one_factor_store):
    path = one_factor_store
    before = {k: v for k, v in store_files(path).items() if not k.startswith("discover/")
              and k != "zarr.json"}
    root_attrs = dict(zarr.open_group(path, mode="r").attrs)
    discover_store(path, "outcome_a", above=0.7, method="prim")
    discover_store(path, "outcome_a", above=0.7, method="cart")
    cart_files = {k: v for k, v in store_files(path).items()
                  if k.startswith("discover/cart-outcome_a/")}
    # rerun PRIM at another threshold: its group is replaced, CART's is untouched
    d = discover_store(path, "outcome_a", above=0.5, method="prim")
    stored = read_result(path, "prim", "outcome_a")
    meta = json.loads(stored.attrs["discover"])
    assert meta["threshold"] == 0.5 and meta["method"] == "prim"
    assert stored.sizes["box"] == len(d.boxes)
    assert bool(stored["restricted"].sel(box=0, factor="model.reach"))
    assert not bool(stored["restricted"].sel(box=0, factor="model.viability"))
    np.testing.assert_allclose(stored["limits"].sel(box=0, factor="model.reach").values,
                               d.boxes[0].limits["model.reach"])
    np.testing.assert_allclose(stored["coverage"].values, [b.coverage for b in d.boxes])
    after = store_files(path)
    assert {k: v for k, v in after.items() if k.startswith("discover/cart-outcome_a/")} == \
        cart_files
    assert {k: v for k, v in after.items() if not k.startswith("discover/")
            and k != "zarr.json"} == before
    assert dict(zarr.open_group(path, mode="r").attrs) == root_attrs
    # the store still opens as before, with the same variables
    ds = xr.open_zarr(path)
    assert set(ds.data_vars) == {"outcome_a", "plain"}


def test_a_foreign_discover_node_is_refused(one_factor_store):
    root = zarr.open_group(one_factor_store, mode="r+", use_consolidated=False)
    root.create_array("discover", shape=(2,), dtype="float64")
    with pytest.raises(StoreError, match="not a group"):
        discover_store(one_factor_store, "outcome_a", above=0.7)


def test_deterministic(one_factor_store):
    a = discover_store(one_factor_store, "outcome_a", above=0.7, write=False, method="cart")
    b = discover_store(one_factor_store, "outcome_a", above=0.7, write=False, method="cart")
    assert a.as_dict() == b.as_dict()


def test_thresholds_nobody_or_everybody_passes_are_refused(one_factor_store):
    with pytest.raises(ConfigError, match="no point"):
        discover_store(one_factor_store, "outcome_a", above=5.0, write=False)
    with pytest.raises(ConfigError, match="every point"):
        discover_store(one_factor_store, "outcome_a", above=-1.0, write=False)
    with pytest.raises(ConfigError, match="exactly one"):
        discover(None, np.zeros(3), above=1.0, below=2.0)


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def test_command_json(one_factor_store, tmp_path, capsys):
    figs = tmp_path / "figs"
    code, out, err = run_cli(["discover", one_factor_store, "--outcome", "outcome_a",
                              "--above", "0.7", "--json", "--figures", figs], capsys)
    assert code == 0, err
    doc = json.loads(out)
    box = doc["boxes"][0]
    assert set(box["limits"]) == {"model.reach"}
    assert {"coverage", "density", "mass", "qp_values"} <= set(box)
    assert doc["group"] == "discover/prim-outcome_a"
    png = figs / "discover_prim_outcome_a.png"
    assert str(png) in doc["figures"] and png.stat().st_size > 10_000


def test_command_errors(one_factor_store, tmp_path, capsys):
    code, out, err = run_cli(["discover", one_factor_store, "--outcome", "nope", "--above",
                              "0.5"], capsys)
    assert_clean_error(code, out, err, "--outcome")
    code, out, err = run_cli(["discover", one_factor_store, "--outcome", "outcome_a",
                              "--above", "9"], capsys)
    assert_clean_error(code, out, err, "--above")
    code, out, err = run_cli(["discover", tmp_path / "none.zarr", "--outcome", "x",
                              "--above", "0"], capsys)
    assert_clean_error(code, out, err, "none.zarr")
    code, out, err = run_cli(["discover", one_factor_store, "--outcome", "outcome_a",
                              "--above", "0.5", "--below", "0.2"], capsys)
    assert_clean_error(code, out, err, "--below", usage_ok=True)
    code, out, err = run_cli(["discover", one_factor_store, "--outcome", "outcome_a",
                              "--above", "0.5", "--min-density", "1.5"], capsys)
    assert_clean_error(code, out, err, "--min-density", usage_ok=True)


# ---------------------------------------------------------------------------------------------
# A real sweep: balance of threat departs from balance of power where power weighs little
# ---------------------------------------------------------------------------------------------

WEIGHTS_LHS = {
    "model": {"n_states": 8},
    "run": {"seed": 7, "systems": 120, "chunk": 60},
    "sweep": {"design": "lhs", "samples": 300, "seed": 3,
              "factors": {f"model.weights.{w}": [0.0, 1.0]
                          for w in ("power", "proximity", "offense", "intent")}},
}


@pytest.fixture(scope="module")
def weights_lhs(tmp_path_factory):
    from mc_threat.engine.sweep import run_sweep

    base = tmp_path_factory.mktemp("lhs")
    cfg = write_config(base / "lhs.yaml", WEIGHTS_LHS)
    out = base / "lhs.zarr"
    run_sweep(load_config(cfg), out, workers=0, progress=False)
    return out


def test_power_weight_bounds_the_first_box_of_high_alignment_change(weights_lhs, tmp_path,
                                                                    capsys):
    """As the power weight grows, balance of threat converges on balance of power, so
    alignment_change is high only where the power weight is small: PRIM's first box must
    bound the power weight from above, with a significant limit."""
    path = tmp_path / "copy.zarr"
    shutil.copytree(weights_lhs, path)
    sweep_files = {k: v for k, v in store_files(path).items()
                   if not k.startswith("discover/") and k != "zarr.json"}
    y = xr.open_zarr(path)["alignment_change"].sel(stat="mean").values
    threshold = float(np.quantile(y, 0.9))
    d = discover_store(path, "alignment_change", above=threshold)
    first = d.boxes[0]
    assert "model.weights.power" in first.limits
    lo, hi = first.limits["model.weights.power"]
    assert hi < 0.5
    assert first.qp_values["model.weights.power"][1] < 0.01
    assert first.density >= 0.8
    # the sweep's data are untouched, and mc-threat info still finds the store complete
    assert {k: v for k, v in store_files(path).items()
            if not k.startswith("discover/") and k != "zarr.json"} == sweep_files
    code, out, err = run_cli(["info", path], capsys)
    assert code == 0 and "complete" in out, out + err


def test_an_outcome_of_pure_noise_gives_no_box(tmp_path):
    """An outcome independent of every factor: no box reaches density 0.8; the search says
    how dense the best box it saw was, and draws that trajectory."""
    def noise(X):
        return np.random.default_rng(3).random(X.shape[0])

    path = constructed_store(tmp_path / "noise.zarr", noise, n=1000)
    d = discover_store(path, "outcome_a", above=0.7)
    assert d.boxes == []
    best = d.as_dict()["next_best"]
    assert 0.3 <= best["density"] < 0.8
    from mc_threat.analysis.discover import summary_text

    assert "no box reaches density 0.8" in summary_text(d)
    assert read_result(path, "prim", "outcome_a").sizes["box"] == 0
