# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring an `mc-threat` results store
#
# A results store is a zarr directory that opens as an `xarray.Dataset`. This notebook
# opens one, selects and plots with plain xarray (and pandas/matplotlib), and then draws
# the paper figures of `mc-threat plot` from the same data.
#
# Make a store first, for example
#
# ```bash
# mc-threat sensitivity configs/sobol_weights.yaml     # sweep + Sobol indices
# ```
#
# and point `STORE` below at it (or set the `MC_THREAT_STORE` environment variable). The
# section on grid designs uses a second store, for example
#
# ```bash
# mc-threat sweep configs/weights_grid.yaml --systems 20000   # a 2 x 3 x 3 x 3 grid
# ```
#
# (`GRID_STORE` below, or `MC_THREAT_GRID_STORE`); it is skipped when there is none.
# The `.ipynb` and the `.py` file are [jupytext](https://jupytext.readthedocs.io) twins:
# edit either and run `jupytext --sync notebooks/explore_results.ipynb`.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import mc_threat as mt

STORE = Path(os.environ.get("MC_THREAT_STORE", "../results/sobol_weights.zarr"))
GRID_STORE = Path(os.environ.get("MC_THREAT_GRID_STORE", "../results/weights_grid.zarr"))
FIGURES = Path(os.environ.get("MC_THREAT_FIGURES", "figures"))
OUTCOME = "contained"  # the outcome to look at closely

# %% [markdown]
# ## Open the store
#
# Every outcome is a variable over `(point, stat)`; every swept factor is a coordinate
# along `point`. A sensitivity analysis adds variables over `(outcome, factor)`.
# `mt.open_results` loads the coordinates (they are small) and leaves the outcomes to be
# read when used; `xr.open_zarr(STORE)` gives the same Dataset with lazy coordinates.

# %%
ds = mt.open_results(STORE)
ds  # noqa: B018 (displays the Dataset)

# %%
print("design: ", ds.attrs["design"])
print("factors:", ", ".join(ds.attrs["factors"]))
print("points: ", ds.sizes["point"], "x", ds.attrs["systems_per_point"], "systems")
print(ds.attrs["config"])

# %% [markdown]
# ## Select with xarray
#
# The Monte Carlo mean and standard error of one outcome at every point, and the points
# where it is highest:

# %%
mean = ds[OUTCOME].sel(stat="mean")
sem = ds[OUTCOME].sel(stat="sem")
print(f"{OUTCOME}: {float(mean.mean()):.3f} on average over the design; "
      f"largest Monte Carlo standard error {float(sem.max()):.4f}")
top = mean.sortby(mean, ascending=False).isel(point=slice(0, 5))
top.to_dataframe(name=OUTCOME)[[*ds.attrs["factors"], OUTCOME]]

# %% [markdown]
# An outcome against each swept factor (one marker per point):

# %%
factors = list(ds.attrs["factors"])
fig, axes = plt.subplots(1, len(factors), figsize=(2.2 * len(factors), 2.2), sharey=True,
                         squeeze=False)
for ax, factor in zip(axes[0], factors, strict=True):
    ax.scatter(ds[factor], mean, s=3, alpha=0.5)
    ax.set_xlabel(factor)
axes[0, 0].set_ylabel(f"{OUTCOME} ({ds[OUTCOME].attrs['units']})")
fig.tight_layout()

# %% [markdown]
# ## Sensitivity indices
#
# `S1`, `ST` (Sobol) or `mu_star`, `sigma` (Morris) over `(outcome, factor)`, with their
# confidence half-widths `*_conf`, and the Monte Carlo noise of each outcome
# (`mc_noise_share`: the share of the outcome's variance over the design that is noise).
# See `docs/sensitivity.md` for how to read them.

# %%
has_sobol = "ST" in ds
has_morris = "mu_star" in ds
if has_sobol:
    table = ds[["S1", "S1_conf", "ST", "ST_conf"]].sel(outcome=OUTCOME).to_dataframe()
    display(table[["S1", "S1_conf", "ST", "ST_conf"]].round(3))  # noqa: F821
if has_morris:
    table = ds[["mu_star", "mu_star_conf", "sigma"]].sel(outcome=OUTCOME).to_dataframe()
    display(table[["mu_star", "mu_star_conf", "sigma"]].round(3))  # noqa: F821
if has_sobol or has_morris:
    noise = ds[["mc_sem", "mc_noise_std", "output_std", "mc_noise_share"]].to_dataframe()
    display(noise.round(4))  # noqa: F821

# %% [markdown]
# S1 beside ST with their confidence intervals, plain pandas/matplotlib:

# %%
if has_sobol:
    frame = ds[["S1", "ST"]].sel(outcome=OUTCOME).to_dataframe()[["S1", "ST"]]
    errors = ds[["S1_conf", "ST_conf"]].sel(outcome=OUTCOME).to_dataframe()
    errors = errors[["S1_conf", "ST_conf"]].rename(columns=lambda c: c[:-5])
    ax = frame.plot.bar(yerr=errors, capsize=2, figsize=(5, 2.5), rot=30)
    ax.axhline(float(ds["mc_noise_share"].sel(outcome=OUTCOME)), color="C3", ls="--",
               label="Monte Carlo noise share")
    ax.set_ylabel("Sobol index (fraction of variance)")
    ax.legend()

# %% [markdown]
# Total-order indices of every outcome at once (rows: outcomes, columns: factors):

# %%
if has_sobol or has_morris:
    var = "ST" if has_sobol else "mu_star"
    grid = ds[var].transpose("outcome", "factor").to_pandas()
    fig, ax = plt.subplots(figsize=(5, 4))
    image = ax.imshow(grid.values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=45, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    fig.colorbar(image, ax=ax, label=var)
    fig.tight_layout()

# %% [markdown]
# ## An outcome over two factors
#
# Sampled designs scatter their points, so bin them: xarray's `BinGrouper` averages the
# points in each cell (a grid design can group by the factor values directly, or be
# unstacked into one dimension per factor: see the next section).

# %%
from xarray.groupers import BinGrouper  # noqa: E402

if len(factors) >= 2:
    fx, fy = factors[:2]
    points = xr.Dataset({OUTCOME: mean, "x": ds[fx], "y": ds[fy]}).load()
    cells = points.groupby(x=BinGrouper(bins=6), y=BinGrouper(bins=6)).mean()
    grid = cells[OUTCOME].transpose("y_bins", "x_bins")
    fig, ax = plt.subplots(figsize=(4, 3))
    image = ax.imshow(grid.values, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(grid.sizes["x_bins"]), [f"{b.mid:.2f}" for b in grid.x_bins.values])
    ax.set_yticks(range(grid.sizes["y_bins"]), [f"{b.mid:.2f}" for b in grid.y_bins.values])
    ax.set_xlabel(fx)
    ax.set_ylabel(fy)
    fig.colorbar(image, ax=ax, label=OUTCOME)
    fig.tight_layout()

# %% [markdown]
# ## A grid design: group by a factor, or one dimension per factor
#
# In a grid store every combination of the factors' values is one point, so
# `groupby(factor)` averages an outcome over the other factors, and
# `mt.open_results(path, unstack=True)` turns `point` into one labelled dimension per
# factor (`sel` by value, `mean` over a factor, 2-D plots of two factors).

# %%
if GRID_STORE.exists():
    grid_ds = mt.open_results(GRID_STORE)
    grid_factors = list(grid_ds.attrs["factors"])
    by = grid_ds.sel(stat="mean").groupby(grid_factors[-1]).mean()
    print(f"{OUTCOME} by {grid_factors[-1]}, averaged over the other factors:")
    print(by[OUTCOME].to_series().round(4).to_string())
    cube = mt.open_results(GRID_STORE, unstack=True)
    print(dict(cube[OUTCOME].sizes))
    if len(grid_factors) >= 2:
        two = cube[OUTCOME].sel(stat="mean").mean(grid_factors[:-2] or [])
        two.plot(x=grid_factors[-1], y=grid_factors[-2], figsize=(4, 3))
else:
    print(f"no grid store at {GRID_STORE}: make one with "
          "mc-threat sweep configs/weights_grid.yaml --systems 20000")

# %% [markdown]
# ## Choices by relative power
#
# `choice_by_power` counts final choices per bin of relative power `p_i / p_hegemon`.
# Summed over points and normalised per bin, it gives the share of each choice:

# %%
counts = ds["choice_by_power"].sum("point")
per_bin = counts.sum("choice")
shares = counts / per_bin.where(per_bin > 0)  # empty bins: NaN, not 0/0
shares = shares.assign_coords(
    relative_power=("power_bin", np.sqrt(ds.power_bin_lower.values * ds.power_bin_upper.values)))
shares.plot.line(x="relative_power", hue="choice", xscale="log", marker="o",
                 figsize=(4, 2.6))
plt.ylabel("share of the states in the bin")
plt.xlabel("relative power p_i / p_hegemon")

# %% [markdown]
# ## Balance of threat against balance of power
#
# Each key outcome under the threat-based model against the same outcome under balance of
# power; points on the diagonal are those where the two theories agree.

# %%
pairs = [("share_balance", "bop_share_balance"), ("contained", "bop_contained"),
         ("hegemon_favoured", "bop_hegemon_favoured")]
fig, ax = plt.subplots(figsize=(3.5, 3.5))
for bot, bop in pairs:
    ax.scatter(ds[bop].sel(stat="mean"), ds[bot].sel(stat="mean"), s=4, label=bot)
ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls=":")
ax.set_xlabel("balance of power")
ax.set_ylabel("balance of threat")
ax.legend()

# %% [markdown]
# ## The paper figures
#
# `mc_threat.analysis.plot` draws the same figures at column width (PNG and PDF), as
# `mc-threat plot STORE --out DIR` does. Each function returns a matplotlib figure:

# %%
from mc_threat.analysis import plot as mtplot  # noqa: E402

data = ds.load()
if has_sobol or has_morris:
    display(mtplot.indices_figure(data, OUTCOME))  # noqa: F821
display(mtplot.choice_by_power_figure(data))  # noqa: F821
display(mtplot.bot_vs_bop_figure(data))  # noqa: F821
if len(mtplot.swept_factors(data)) >= 2:
    display(mtplot.heatmap_figure(data, OUTCOME))  # noqa: F821

# %% [markdown]
# and `plot_store` writes every figure that applies to the store:

# %%
files = mtplot.plot_store(STORE, FIGURES)
print(f"{len(files)} files in {FIGURES}:")
for f in files:
    print("  ", f.name)
