"""Figures (mc_threat.analysis.plot) and ``mc-threat plot``: what is drawn is what is stored.

Each figure is checked against numbers computed independently from the store with plain
xarray/numpy: bar heights and whiskers are the stored indices and intervals, heatmap cells
are means over the points in each cell, choice shares are the normalised counts, and the
balance-of-threat/balance-of-power markers are the stored means. Figures are column width
(3.5 in) with text of at least 7 pt, labelled axes with units, written as PNG and PDF.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import mc_threat as mt
from mc_threat.analysis import plot
from mc_threat.analysis.sensitivity import run_sensitivity
from mc_threat.config import ConfigError, config_from_dict
from mc_threat.engine.sweep import run_sweep
from mc_threat.store import Store, StoreError, open_results

SOBOL = {
    "model": {"n_states": 6},
    "run": {"seed": 13, "systems": 200, "chunk": 100},
    "sweep": {"design": "sobol", "samples": 8, "seed": 1,
              "factors": {"model.weights.power": [0.0, 1.0],
                          "model.weights.proximity": [0.0, 1.0],
                          "model.bandwagon_ratio": [0.0, 0.5]}},
}
GRID = {
    "model": {"n_states": 6},
    "run": {"seed": 13, "systems": 100},
    "sweep": {"design": "grid",
              "factors": {"model.weights.intent": [0.0, 1.0],
                          "model.bandwagon_ratio": [0.05, 0.2, 0.4],
                          "model.reach": [0.1, 0.3]}},
}
MORRIS = {
    "model": {"n_states": 6},
    "run": {"seed": 13, "systems": 100},
    "sweep": {"design": "morris", "trajectories": 4, "seed": 1,
              "factors": {"model.weights.power": [0.05, 1.0],
                          "model.bandwagon_ratio": [0.0, 0.5]}},
}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("plot")
    out = {}
    run_sensitivity(config_from_dict(SOBOL), root / "sobol.zarr", workers=0, progress=False)
    out["sobol"] = root / "sobol.zarr"
    run_sweep(config_from_dict(GRID), root / "grid.zarr", workers=0, progress=False)
    out["grid"] = root / "grid.zarr"
    run_sweep(config_from_dict({"model": {"n_states": 6}, "run": {"systems": 300}}),
              root / "single.zarr", workers=0, progress=False)
    out["single"] = root / "single.zarr"
    run_sensitivity(config_from_dict(MORRIS), root / "morris.zarr", workers=0, progress=False)
    out["morris"] = root / "morris.zarr"
    return out


def load(path):
    return open_results(path).load()


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def texts(fig):
    out = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize")):
        if t.get_text().strip() and t.get_visible():
            out.append(t)
    return out


def check_paper_figure(fig):
    """Column width, readable text, every axis labelled (a colorbar names its units)."""
    assert tuple(fig.get_size_inches())[0] == pytest.approx(plot.COLUMN_WIDTH)
    sizes = [t.get_fontsize() for t in texts(fig)]
    assert sizes and min(sizes) >= 7, sizes
    fig.canvas.draw()  # lays out without errors
    for ax in fig.axes:
        if not ax.axison:  # a panel that only holds a key
            continue
        if ax.get_label() == "<colorbar>":
            assert "(" in ax.get_ylabel(), "colorbar without units"
            continue
        label_x = ax.get_xlabel() or any(a.get_xlabel() for a in fig.axes if a is not ax)
        assert label_x and ax.get_ylabel(), (ax.get_xlabel(), ax.get_ylabel())


# ---------------------------------------------------------------------------------------------
# Indices
# ---------------------------------------------------------------------------------------------


def test_indices_bars_and_whiskers_are_the_stored_indices(stores):
    ds = load(stores["sobol"])
    fig = plot.indices_figure(ds, "share_bandwagon")
    check_paper_figure(fig)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if hasattr(c, "patches")]
    assert len(bars) == 2
    for container, var in zip(bars, ("S1", "ST"), strict=True):
        want = ds[var].sel(outcome="share_bandwagon").values
        conf = ds[f"{var}_conf"].sel(outcome="share_bandwagon").values
        np.testing.assert_allclose([p.get_height() for p in container.patches], want)
        segments = container.errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([s[1][1] - s[0][1] for s in segments], 2 * conf)
        np.testing.assert_allclose([(s[1][1] + s[0][1]) / 2 for s in segments], want)
    # S1 left of ST for every factor
    s1_x = [p.get_x() for p in bars[0].patches]
    st_x = [p.get_x() for p in bars[1].patches]
    assert all(a < b for a, b in zip(s1_x, st_x, strict=True))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["$w_A$", "$w_D$", r"$\beta$"]
    assert ax.get_ylabel() == "Sobol index\n(fraction of variance)"
    # the symbols are explained, the title is plain words with N
    assert r"$w_A$ weight of aggregate power" in ax.get_xlabel()
    assert r"$\beta$ bandwagon ratio" in ax.get_xlabel()
    assert ax.get_title() == ("Share of states that bandwagon\n"
                              "N = 200 systems per point, 40 points")
    noise = float(ds["mc_noise_share"].sel(outcome="share_bandwagon"))
    assert any(np.allclose(line.get_ydata(), noise) for line in ax.get_lines())


def test_morris_indices_figure(stores):
    ds = load(stores["morris"])
    fig = plot.indices_figure(ds, "contained")
    check_paper_figure(fig)
    bars = [c for c in fig.axes[0].containers if hasattr(c, "patches")]
    np.testing.assert_allclose([p.get_height() for p in bars[0].patches],
                               ds["mu_star"].sel(outcome="contained").values)
    np.testing.assert_allclose([p.get_height() for p in bars[1].patches],
                               ds["sigma"].sel(outcome="contained").values)
    assert "per factor range" in fig.axes[0].get_ylabel()


def test_indices_overview_is_the_st_table(stores):
    ds = load(stores["sobol"])
    fig = plot.indices_overview_figure(ds)
    check_paper_figure(fig)
    image = fig.axes[0].get_images()[0].get_array()
    want = np.clip(ds["ST"].transpose("outcome", "factor").values, 0, 1)
    np.testing.assert_allclose(np.ma.filled(image, np.nan), want, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# Heatmaps
# ---------------------------------------------------------------------------------------------


def mesh_values(fig) -> np.ndarray:
    mesh = fig.axes[0].collections[0]
    return np.ma.filled(mesh.get_array(), np.nan)


def test_heatmap_of_a_grid_averages_over_the_other_factors(stores):
    ds = load(stores["grid"])
    fig = plot.heatmap_figure(ds, "share_bandwagon", x="model.bandwagon_ratio",
                              y="model.weights.intent")
    check_paper_figure(fig)
    mean = ds["share_bandwagon"].sel(stat="mean")
    frame = xr.Dataset({"y": mean, "beta": ds["model.bandwagon_ratio"],
                        "w": ds["model.weights.intent"]}).to_dataframe()
    want = frame.groupby(["w", "beta"])["y"].mean().unstack("beta").values  # rows: w
    np.testing.assert_allclose(mesh_values(fig).reshape(want.shape), want)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.05", "0.2", "0.4"]
    assert "bandwagon ratio" in ax.get_xlabel() and "(unitless)" in ax.get_xlabel()
    assert "mean over the other factors" in ax.get_title()


def test_heatmap_of_a_sampled_design_bins_the_points(stores):
    ds = load(stores["sobol"])
    fig = plot.heatmap_figure(ds, "contained", bins=4)
    check_paper_figure(fig)
    # default factors: the two with the largest total index
    st = ds["ST"].sel(outcome="contained").values
    names = [str(f) for f in ds["factor"].values]
    top = [names[k] for k in np.argsort(-st)[:2]]
    ax = fig.axes[0]
    assert plot.factor_label(top[0], long=True) == ax.get_xlabel()
    assert plot.factor_label(top[1], long=True) == ax.get_ylabel()
    bounds = {"model.weights.power": (0, 1), "model.weights.proximity": (0, 1),
              "model.bandwagon_ratio": (0, 0.5)}
    xe = np.linspace(*bounds[top[0]], 5)
    ye = np.linspace(*bounds[top[1]], 5)
    y = ds["contained"].sel(stat="mean").values
    sums, _, _ = np.histogram2d(ds[top[1]].values, ds[top[0]].values, [ye, xe], weights=y)
    counts, _, _ = np.histogram2d(ds[top[1]].values, ds[top[0]].values, [ye, xe])
    with np.errstate(invalid="ignore"):
        want = np.where(counts > 0, sums / counts, np.nan)
    np.testing.assert_allclose(mesh_values(fig).reshape(want.shape), want, equal_nan=True)


def test_heatmap_errors(stores):
    ds = load(stores["sobol"])
    with pytest.raises(StoreError, match="not a swept numeric factor"):
        plot.heatmap_figure(ds, "contained", x="model.reach", y="model.weights.power")
    with pytest.raises(StoreError, match="two different factors"):
        plot.heatmap_figure(ds, "contained", x="model.weights.power", y="model.weights.power")
    with pytest.raises(StoreError, match="two swept numeric factors"):
        plot.heatmap_figure(load(stores["single"]), "contained")


# ---------------------------------------------------------------------------------------------
# Choices by power, balance of threat against balance of power
# ---------------------------------------------------------------------------------------------


def test_choice_shares_are_the_normalised_counts(stores):
    ds = load(stores["grid"])
    fig = plot.choice_by_power_figure(ds)
    check_paper_figure(fig)
    counts = ds["choice_by_power"].sum("point")
    shares = (counts / counts.sum("choice")).transpose("power_bin", "choice").values
    top, bottom = fig.axes
    lines = {line.get_label(): line for line in top.get_lines()}
    assert sorted(lines) == ["balance", "bandwagon", "neutral"]
    for k, choice in enumerate(("balance", "bandwagon", "neutral")):
        np.testing.assert_allclose(lines[choice].get_ydata(), shares[:, k], equal_nan=True)
        centre = np.sqrt(ds["power_bin_lower"].values * ds["power_bin_upper"].values)
        np.testing.assert_allclose(lines[choice].get_xdata(), centre)
    heights = [p.get_height() for p in bottom.patches]
    np.testing.assert_allclose(heights, counts.sum("choice").values / counts.sum().item())
    assert bottom.get_xscale() == "log" and "relative power" in bottom.get_xlabel()
    # one point only
    one = plot.choice_shares(ds, point=3)[1]
    c3 = ds["choice_by_power"].sel(point=3).values
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(one, c3 / c3.sum(axis=1, keepdims=True), equal_nan=True)


def test_bot_against_bop_markers_are_the_stored_means(stores):
    """One panel per outcome (small multiples), each with its 1:1 line and 95% intervals."""
    ds = load(stores["grid"])
    fig = plot.bot_vs_bop_figure(ds)
    check_paper_figure(fig)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 3
    for ax, (bot, bop, _) in zip(panels, plot.BOT_BOP_PAIRS, strict=True):
        (container,) = ax.containers
        x, y = container.lines[0].get_data()
        np.testing.assert_allclose(x, ds[bop].sel(stat="mean").values)
        np.testing.assert_allclose(y, ds[bot].sel(stat="mean").values)
        vertical = container.lines[2][1].get_segments()  # the y error bars
        np.testing.assert_allclose([s[1][1] - s[0][1] for s in vertical],
                                   2 * 1.96 * ds[bot].sel(stat="sem").values)
        assert ax.get_xlabel() == "balance of power" and ax.get_ylabel() == "balance of threat"
        # the 1:1 line spans the (equal) limits
        diagonal = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
        assert len(diagonal) == 1
        assert ax.get_xlim() == ax.get_ylim()
        np.testing.assert_allclose(diagonal[0].get_xdata(), ax.get_xlim())
        np.testing.assert_allclose(diagonal[0].get_ydata(), ax.get_ylim())
    assert "(share of states)" in panels[0].get_title()
    assert "(probability)" in panels[1].get_title() and "(probability)" in panels[2].get_title()
    text = " ".join(t.get_text() for t in texts(fig))
    assert "N = 100 systems\nper point, 12 points" in text


def test_bot_against_bop_of_a_large_sweep_states_the_largest_interval(stores):
    ds = load(stores["sobol"])
    fig = plot.bot_vs_bop_figure(ds, max_errorbars=10)
    widest = max(1.96 * ds[v].sel(stat="sem").max().item()
                 for pair in plot.BOT_BOP_PAIRS for v in pair[:2])
    text = " ".join(t.get_text() for t in texts(fig))
    assert f"at most\n±{widest:.2g} (not drawn)" in text, text
    for ax in fig.axes:
        if ax.axison:
            (container,) = ax.containers
            assert not container.has_xerr and not container.has_yerr


def test_labels_of_indicator_outcomes_say_probability(stores):
    ds = load(stores["grid"])
    assert ds["contained"].attrs["units"] == "indicator (0/1)"
    fig = plot.heatmap_figure(ds, "contained")
    assert fig.axes[1].get_ylabel() == "probability (fraction of systems)"
    fig = plot.heatmap_figure(ds, "share_balance")
    assert fig.axes[1].get_ylabel() == "share balance (fraction of states)"
    assert fig.axes[0].get_title().startswith("Share of states that balance\n")
    assert fig.axes[0].get_title().endswith("N = 100 systems per point, 12 points")


def test_default_heatmap_factors_of_a_grid_are_the_most_explanatory(stores):
    """Without indices, the two factors whose values explain most of the outcome's variance
    over the points (correlation ratio, computed here with plain numpy)."""
    ds = load(stores["grid"])
    for outcome in ("contained", "share_balance", "hegemon_favoured"):
        y = ds[outcome].sel(stat="mean").values
        eta = {}
        for f in ("model.weights.intent", "model.bandwagon_ratio", "model.reach"):
            x = ds[f].values
            groups = [y[x == v] for v in np.unique(x)]
            between = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups)
            eta[f] = between / ((y - y.mean()) ** 2).sum()
        want = sorted(eta, key=lambda f: -eta[f])[:2]
        assert plot.top_factors(ds, outcome) == want, (outcome, eta)
        fig = plot.heatmap_figure(ds, outcome)
        assert fig.axes[0].get_xlabel() == plot.factor_label(want[0], long=True)
        assert fig.axes[0].get_ylabel() == plot.factor_label(want[1], long=True)


# ---------------------------------------------------------------------------------------------
# plot_store and the command
# ---------------------------------------------------------------------------------------------


def test_plot_store_writes_every_figure(stores, tmp_path):
    files = plot.plot_store(stores["sobol"], tmp_path / "figs", formats=("png",))
    ds = load(stores["sobol"])
    varying = [o for o in plot.KEY_OUTCOMES
               if np.isfinite(ds["ST"].sel(outcome=o).values).any()]
    assert varying, "the test store should have key outcomes that vary"
    # no state is neutral in this store: share_bandwagon = 1 - share_balance, left out
    assert not ds["share_neutral"].sel(stat="mean").values.any()
    np.testing.assert_allclose(ds["share_bandwagon"].sel(stat="mean"),
                               1 - ds["share_balance"].sel(stat="mean"), atol=1e-12)
    kept = [o for o in plot.KEY_OUTCOMES if o != "share_bandwagon"]
    varying = [o for o in varying if o != "share_bandwagon"]
    names = ([f"indices_{o}" for o in varying] + ["indices_overview"]
             + [f"heatmap_{o}" for o in kept] + ["choice_by_power", "bot_vs_bop"])
    assert sorted(f.name for f in files) == sorted(f"{n}.png" for n in names)
    for f in files:
        assert f.exists() and f.parent == tmp_path / "figs"
        width, height = png_size(f)
        assert width == round(plot.COLUMN_WIDTH * 300) and height >= 600, (f.name, width)


def test_save_figure_writes_png_and_pdf(stores, tmp_path):
    fig = plot.choice_by_power_figure(load(stores["single"]))
    files = plot.save_figure(fig, tmp_path / "new" / "dir", "choices")
    assert [f.name for f in files] == ["choices.png", "choices.pdf"]
    assert png_size(files[0])[0] == 1050
    pdf = files[1].read_bytes()
    assert pdf[:5] == b"%PDF-"
    assert b"/FontFile2" in pdf  # TrueType fonts embedded (pdf.fonttype 42)


def test_single_point_store_gets_the_figures_that_apply(stores, tmp_path):
    files = plot.plot_store(stores["single"], tmp_path, formats=("png",))
    assert sorted(f.name for f in files) == ["bot_vs_bop.png", "choice_by_power.png"]


def test_plot_store_errors(stores, tmp_path):
    import shutil

    with pytest.raises(StoreError, match="not an mc-threat results store"):
        plot.plot_store(tmp_path / "missing.zarr")
    with pytest.raises(StoreError, match="unknown outcome"):
        plot.plot_store(stores["single"], tmp_path, outcomes=["contained", "glory"])
    with pytest.raises(StoreError, match="needs two factors"):
        plot.plot_store(stores["grid"], tmp_path, heatmap=["model.reach"])
    with pytest.raises(StoreError, match="run `mc-threat sensitivity`"):
        plot.indices_figure(load(stores["grid"]), "contained")
    partial = tmp_path / "partial.zarr"
    shutil.copytree(stores["single"], partial)
    Store(partial).task_done[0, 0] = 0
    with pytest.raises(StoreError, match="incomplete"):
        plot.plot_store(partial, tmp_path)


def run_command(argv):
    from mc_threat.cli.analysis import add_analysis_parsers

    p = argparse.ArgumentParser(prog="mc-threat")
    add_analysis_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args([str(a) for a in argv])
    return args.func(args)


def test_plot_command(stores, tmp_path, capsys, monkeypatch):
    import shutil

    store = tmp_path / "grid.zarr"
    shutil.copytree(stores["grid"], store)
    assert run_command(["plot", store, "--format", "png", "--outcomes", "contained",
                        "--heatmap", "model.weights.intent,model.reach"]) == 0
    out_dir = tmp_path / "grid_figures"
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == ["bot_vs_bop.png", "choice_by_power.png", "heatmap_contained.png"]
    printed = capsys.readouterr().out
    assert f"3 file(s) written to {out_dir}" in printed
    # 'all' outcomes: a heatmap of each (the default factors: the most explanatory)
    calls = []
    real = plot.heatmap_figure
    monkeypatch.setattr(plot, "heatmap_figure",
                        lambda ds, o, x, y: calls.append(o) or real(ds, o, x, y))
    monkeypatch.setattr(plot, "save_figure", lambda fig, d, name, formats: [Path(d) / name])
    assert run_command(["plot", store, "--outcomes", "all", "--quiet"]) == 0
    # no neutral state in this store: share_bandwagon would repeat share_balance
    assert calls == [o for o in mt.OUTCOMES if o != "share_bandwagon"]
    monkeypatch.undo()
    fig_dir = tmp_path / "mine"
    assert run_command(["plot", stores["sobol"], "--out", fig_dir, "--quiet",
                        "--outcomes", "contained"]) == 0
    assert capsys.readouterr().out == ""
    assert (fig_dir / "indices_contained.pdf").exists()
    with pytest.raises(ConfigError, match="--format"):
        run_command(["plot", store, "--format", "gif"])


def test_morris_overview_is_scaled_per_outcome(stores):
    ds = load(stores["morris"])
    fig = plot.indices_overview_figure(ds)
    check_paper_figure(fig)
    image = np.ma.filled(fig.axes[0].get_images()[0].get_array(), np.nan)
    mu = ds["mu_star"].transpose("outcome", "factor").values
    for row, values in zip(image, mu, strict=True):
        if np.nanmax(values) > 0:
            np.testing.assert_allclose(row, values / np.nanmax(values))
        else:
            assert np.isnan(row).all()


def test_share_bandwagon_is_kept_when_some_state_is_neutral(stores):
    ds = load(stores["grid"])
    both = ["share_balance", "share_bandwagon"]
    assert plot.duplicate_outcomes(ds, both) == ["share_bandwagon"]
    assert plot.duplicate_outcomes(ds, ["share_bandwagon"]) == []
    neutral = ds.copy(deep=True)
    neutral["share_neutral"].loc[{"point": 3, "stat": "mean"}] = 0.01
    assert plot.duplicate_outcomes(neutral, both) == []
