"""Sweep designs: grid, points, lhs, sobol and morris; their sizes, order, bounds and errors,
and a real (small) sweep of each, with n_states varying between points where it can."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import make_config, open_store

import mc_threat as mt
from mc_threat.config import ConfigError
from mc_threat.design import design_points, factor_names
from mc_threat.engine.sweep import run_sweep
from mc_threat.engine.tasks import block_groups


def design_of(sweep: dict, **sections):
    return design_points(make_config({**sections, "sweep": sweep}))


def errors_of(sweep: dict, **sections) -> list[str]:
    with pytest.raises(ConfigError) as info:
        design_of(sweep, **sections)
    assert info.value.errors
    return info.value.errors


# ---------------------------------------------------------------------------------------------
# grid
# ---------------------------------------------------------------------------------------------


def test_grid_puts_system_changing_factors_first():
    factors = {
        "model.weights.intent": [0, 1],
        "generator.power_sigma": [1.0, 2.0],
        "model.reach": [0.1, 0.2, 0.3],
        "model.n_states": [4, 6],
    }
    d = design_of({"design": "grid", "factors": factors})
    order = ("generator.power_sigma", "model.n_states", "model.weights.intent", "model.reach")
    assert d.factors == order
    assert d.kind == "grid" and d.problem is None
    expected = list(itertools.product(*(factors[k] for k in order)))
    assert d.n_points == len(expected) == 24
    assert [tuple(row) for row in d.values] == expected
    # float factors are floats whatever the YAML wrote; n_states stays an int
    assert all(type(v) is float for v in d.values[:, 2])
    assert all(type(v) is int for v in d.values[:, 1])
    for cfg, row in zip(d.configs, d.values, strict=True):
        assert cfg.generator.power_sigma == row[0]
        assert cfg.model.n_states == row[1]
        assert cfg.model.weights.intent == row[2]
        assert cfg.model.reach == row[3]
    # points sharing systems are adjacent: one run per (power_sigma, n_states)
    groups = block_groups(d.configs, 0, d.n_points)
    assert [(g.lo, g.hi, g.n_states) for g in groups] == [
        (0, 6, 4), (6, 12, 6), (12, 18, 4), (18, 24, 6)]


def test_grid_keeps_written_order_among_other_factors():
    d = design_of({"design": "grid", "factors": {"model.reach": [0.3, 0.1],
                                                 "model.viability": [1.0, 0.0]}})
    assert d.factors == ("model.reach", "model.viability")
    assert [tuple(r) for r in d.values] == [(0.3, 1.0), (0.3, 0.0), (0.1, 1.0), (0.1, 0.0)]


@pytest.mark.parametrize(("factors", "fields"), [
    ({"model.reach": [0.1, 0.2, 0.1]}, ["sweep.factors", "model.reach", "duplicate value 0.1"]),
    ({"model.reach": [1, 1.0]}, ["model.reach", "duplicate value"]),
    ({"model.reach": []}, ["model.reach", "at least one value"]),
    ({}, ["sweep.factors"]),
    ({"model.foo": [1]}, ["sweep.factors", "unknown factor 'model.foo'"]),
    ({"run.seed": [1, 2]}, ["unknown factor 'run.seed'"]),
    ({"model.n_states": [4, 1]}, ["sweep point 1", "model.n_states=1", "model.n_states",
                                  ">= 2"]),
    ({"model.form": ["additive", "cubic"]}, ["sweep point 1", "model.form", "cubic"]),
    ({"model.reach": [0.1, -0.5]}, ["sweep point 1", "model.reach=-0.5", "model.reach: must "
                                    "be > 0"]),
])
def test_grid_errors_name_the_field(factors, fields):
    text = "\n".join(errors_of({"design": "grid", "factors": factors}))
    for f in fields:
        assert f in text, text


# ---------------------------------------------------------------------------------------------
# points
# ---------------------------------------------------------------------------------------------


def test_points_keep_their_order_and_n_states_may_differ():
    pts = [{"model.n_states": 7, "model.reach": 0.2},
           {"model.n_states": 4, "model.reach": 1},
           {"model.n_states": 7, "model.reach": 0.5}]
    d = design_of({"design": "points", "points": pts})
    assert d.factors == ("model.n_states", "model.reach")
    assert [tuple(r) for r in d.values] == [(7, 0.2), (4, 1.0), (7, 0.5)]
    assert [c.model.n_states for c in d.configs] == [7, 4, 7]
    assert type(d.values[1, 1]) is float
    groups = block_groups(d.configs, 0, 3)
    assert [(g.lo, g.hi, g.n_states) for g in groups] == [(0, 1, 7), (1, 2, 4), (2, 3, 7)]


def test_points_report_the_invalid_point():
    errors = errors_of({"design": "points", "points": [
        {"model.reach": 0.1, "model.viability": 0.5},
        {"model.reach": 0.2, "model.viability": 0.5},
        {"model.reach": 0.3, "model.viability": -1.0},
    ]})
    assert len(errors) == 1
    assert errors[0].startswith("sweep point 2 (model.reach=0.3, model.viability=-1.0): ")
    assert "model.viability: must be >= 0, got -1.0" in errors[0]


def test_points_must_set_the_same_factors():
    text = "\n".join(errors_of({"design": "points", "points": [
        {"model.reach": 0.1}, {"model.viability": 0.5}]}))
    assert "sweep.points" in text and "point 1" in text


# ---------------------------------------------------------------------------------------------
# sampled designs
# ---------------------------------------------------------------------------------------------

BOUNDS = {"model.reach": [0.1, 0.5], "model.viability": [0, 2]}


def test_lhs_is_stratified_within_bounds_and_seeded():
    d = design_of({"design": "lhs", "samples": 7, "seed": 11, "factors": BOUNDS})
    assert d.kind == "lhs" and d.n_points == 7
    assert d.factors == ("model.reach", "model.viability")
    assert {k: d.problem[k] for k in ("num_vars", "names", "bounds")} == {
        "num_vars": 2, "names": list(BOUNDS), "bounds": [[0.1, 0.5], [0.0, 2.0]]}
    values = d.values.astype(float)
    for k, (lo, hi) in enumerate(d.problem["bounds"]):
        assert ((values[:, k] >= lo) & (values[:, k] <= hi)).all()
        strata = np.floor((values[:, k] - lo) / (hi - lo) * 7).astype(int)
        assert sorted(strata) == list(range(7)), "one sample per stratum"
    assert [c.model.reach for c in d.configs] == values[:, 0].tolist()
    again = design_of({"design": "lhs", "samples": 7, "seed": 11, "factors": BOUNDS})
    other = design_of({"design": "lhs", "samples": 7, "seed": 12, "factors": BOUNDS})
    assert np.array_equal(again.values.astype(float), values)
    assert not np.array_equal(other.values.astype(float), values)


@pytest.mark.parametrize(("samples", "second_order", "points"), [
    (8, False, 8 * (2 + 2)),
    (8, True, 8 * (2 * 2 + 2)),
    (2, False, 2 * (2 + 2)),
])
def test_sobol_sizes(samples, second_order, points):
    d = design_of({"design": "sobol", "samples": samples, "second_order": second_order,
                   "factors": BOUNDS})
    assert d.kind == "sobol" and d.n_points == points
    values = d.values.astype(float)
    assert (values[:, 0] >= 0.1).all() and (values[:, 0] <= 0.5).all()
    assert (values[:, 1] >= 0.0).all() and (values[:, 1] <= 2.0).all()


@pytest.mark.parametrize("samples", [3, 6, 12, 100])
def test_sobol_samples_must_be_a_power_of_two(samples):
    errors = errors_of({"design": "sobol", "samples": samples, "factors": BOUNDS})
    assert len(errors) == 1
    assert errors[0].startswith("sweep.samples: ") and "power of 2" in errors[0]
    assert str(samples) in errors[0]


def test_morris_sizes_and_levels():
    d = design_of({"design": "morris", "trajectories": 3, "levels": 4, "factors": BOUNDS})
    assert d.kind == "morris" and d.n_points == 3 * (2 + 1)
    values = d.values.astype(float)
    grid_reach = {round(0.1 + k * 0.4 / 3, 12) for k in range(4)}
    grid_via = {round(k * 2.0 / 3, 12) for k in range(4)}
    assert {round(v, 12) for v in values[:, 0]} <= grid_reach
    assert {round(v, 12) for v in values[:, 1]} <= grid_via
    for t in range(3):  # each step of a trajectory moves exactly one factor
        traj = values[3 * t: 3 * t + 3]
        assert ((np.diff(traj, axis=0) != 0).sum(axis=1) == 1).all()


@pytest.mark.parametrize(("design", "extra"), [("lhs", {"samples": 4}),
                                               ("sobol", {"samples": 4}),
                                               ("morris", {"trajectories": 2})])
@pytest.mark.parametrize(("factors", "fields"), [
    ({"model.reach": [0.5, 0.1]}, ["sweep.factors", "model.reach", "low bound"]),
    ({"model.reach": [0.3, 0.3]}, ["model.reach", "low bound"]),
    ({"model.reach": [0.1, 0.2, 0.3]}, ["model.reach", "[low, high]"]),
    ({"model.n_states": [4, 8]}, ["model.n_states", "real-valued"]),
    ({"model.form": [0, 1]}, ["model.form", "real-valued"]),
    ({"model.bogus": [0, 1]}, ["unknown factor 'model.bogus'"]),
])
def test_sampled_design_bounds_errors(design, extra, factors, fields):
    text = "\n".join(errors_of({"design": design, **extra, "factors": factors}))
    for f in fields:
        assert f in text, text


def test_sampled_point_outside_model_range_is_reported_with_the_point():
    # morris levels include the low bound exactly, and reach must be > 0
    errors = errors_of({"design": "morris", "trajectories": 2,
                        "factors": {"model.reach": [0.0, 1.0]}})
    assert errors[0].startswith("sweep point ") and "model.reach=0.0" in errors[0]
    assert "model.reach: must be > 0" in errors[0]


def test_factor_names_cover_model_and_generator():
    names = factor_names()
    assert {"model.n_states", "model.weights.intent", "model.form", "generator.power_sigma",
            "generator.offense.a", "generator.intent.b"} <= names
    assert not any(n.startswith(("run.", "sweep.")) for n in names)


# ---------------------------------------------------------------------------------------------
# Every design through a real sweep
# ---------------------------------------------------------------------------------------------

SWEEPS = {
    "grid": {"design": "grid", "factors": {"model.weights.intent": [0, 2],
                                           "model.n_states": [6, 3]}},
    "points": {"design": "points", "points": [
        {"model.n_states": 5, "generator.power_sigma": 0.5},
        {"model.n_states": 3, "generator.power_sigma": 0.5},
        {"model.n_states": 5, "generator.power_sigma": 2.0}]},
    "lhs": {"design": "lhs", "samples": 3, "factors": {"model.reach": [0.05, 1.0]}},
    "sobol": {"design": "sobol", "samples": 2, "factors": {"model.reach": [0.05, 1.0],
                                                           "model.viability": [0.0, 1.0]}},
    "morris": {"design": "morris", "trajectories": 2,
               "factors": {"generator.power_sigma": [0.5, 2.0]}},
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", list(SWEEPS))
def test_every_design_sweeps_into_the_store(tmp_path, kind):
    config = make_config({"model": {"n_states": 4},
                          "run": {"seed": 8, "systems": 240, "chunk": 100},
                          "sweep": SWEEPS[kind]})
    design = design_points(config)
    run_sweep(config, tmp_path / "s.zarr", workers=0, progress=False)
    ds = open_store(tmp_path / "s.zarr")
    assert ds.attrs["design"] == kind
    assert list(ds.attrs["factors"]) == list(design.factors)
    assert ds.sizes["point"] == design.n_points
    for k, name in enumerate(design.factors):
        assert ds[name].dims == ("point",)
        assert ds[name].values.tolist() == list(design.values[:, k]), name
    assert ds["n_states"].values.tolist() == [c.model.n_states for c in design.configs]
    if kind in ("grid", "points"):
        assert len(set(ds["n_states"].values.tolist())) > 1
        assert ds.attrs["salib_problem"] == ""
    else:
        import json

        assert json.loads(ds.attrs["salib_problem"]) == design.problem
    for name in mt.OUTCOMES:
        assert (ds[name].sel(stat="count").values == 240).all(), name
        assert np.isfinite(ds[name].sel(stat="mean").values).all(), name
    np.testing.assert_array_equal(ds["choice_by_power"].values.sum(axis=(1, 2)),
                                  240 * ds["n_states"].values)
