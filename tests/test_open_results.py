"""``mc_threat.open_results``: eager coordinates (groupby and sel work on the factor values
directly) and ``unstack=True`` (a grid store with one dimension per factor)."""

from __future__ import annotations

import numpy as np
import pytest

import mc_threat as mt
from mc_threat.config import config_from_dict
from mc_threat.engine.sweep import run_sweep
from mc_threat.store import StoreError

GRID = {"run": {"seed": 5, "systems": 300, "chunk": 150},
        "sweep": {"design": "grid", "factors": {"model.n_states": [4, 6],
                                                "model.weights.intent": [0.0, 0.5, 2.0]}}}


@pytest.fixture(scope="module")
def grid_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "g.zarr"
    run_sweep(config_from_dict(GRID), out, workers=0, progress=False)
    return out


def test_coordinates_are_loaded_and_outcomes_stay_lazy(grid_store):
    ds = mt.open_results(grid_store)
    for name in ("model.n_states", "model.weights.intent", "n_states", "power_bin_lower"):
        assert ds[name].chunks is None, name
    assert ds["contained"].chunks is not None  # still read on demand


def test_groupby_a_factor_works_directly(grid_store):
    ds = mt.open_results(grid_store)
    by = ds.sel(stat="mean").groupby("model.weights.intent").mean()
    intent = ds["model.weights.intent"].values
    mean = ds["contained"].sel(stat="mean").values
    assert by["model.weights.intent"].values.tolist() == [0.0, 0.5, 2.0]
    for k, w in enumerate((0.0, 0.5, 2.0)):
        np.testing.assert_allclose(by["contained"].values[k], mean[intent == w].mean(),
                                   rtol=1e-12)


def test_unstack_gives_one_dimension_per_factor(grid_store):
    flat = mt.open_results(grid_store).load()
    ds = mt.open_results(grid_store, unstack=True)
    assert ds["contained"].dims == ("model.n_states", "model.weights.intent", "stat")
    assert ds["model.n_states"].values.tolist() == [4, 6]
    assert ds["model.weights.intent"].values.tolist() == [0.0, 0.5, 2.0]
    assert ds["choice_by_power"].dims == ("model.n_states", "model.weights.intent",
                                          "power_bin", "choice")
    assert "n_states" not in ds.coords  # it repeats the model.n_states factor
    # every cell holds the point with those factor values (looked up in the flat store)
    for n in (4, 6):
        for w in (0.0, 0.5, 2.0):
            p = int(np.flatnonzero((flat["model.n_states"].values == n)
                                   & (flat["model.weights.intent"].values == w))[0])
            cell = ds.sel({"model.n_states": n, "model.weights.intent": w})
            for name in ("contained", "share_balance", "choice_by_power"):
                np.testing.assert_array_equal(cell[name].values, flat[name].isel(point=p))


def test_unstack_keeps_a_constant_n_states_and_refuses_sampled_designs(tmp_path):
    one = {**GRID, "sweep": {"design": "grid", "factors": {"model.reach": [0.1, 0.3]}}}
    out = tmp_path / "one.zarr"
    run_sweep(config_from_dict(one), out, workers=0, progress=False)
    ds = mt.open_results(out, unstack=True)
    assert ds["contained"].dims == ("model.reach", "stat")
    assert ds["n_states"].values.item() == 16 and ds["n_states"].dims == ()
    lhs = {**GRID, "sweep": {"design": "lhs", "samples": 3, "seed": 1,
                             "factors": {"model.reach": [0.1, 0.3]}}}
    out = tmp_path / "lhs.zarr"
    run_sweep(config_from_dict(lhs), out, workers=0, progress=False)
    with pytest.raises(StoreError, match="needs a grid design.*lhs"):
        mt.open_results(out, unstack=True)
