"""Figures of a case calibration store (``mc-threat case NAME --calibrate --out DIR``), drawn
by ``mc-threat plot DIR`` with the style of :mod:`.plot` (one journal column, 7-8 pt text,
Agg canvas without pyplot):

* :func:`calibration_accuracy_figure`  the accuracy of balance of threat at every point of
  the calibration design, points ordered from best to worst, with the spread over the
  perturbed attribute draws, beside balance of power at the same points;
* :func:`side_probability_figure`      at one point (default: the best), the share of draws
  in which each state ends on each side, its observed side marked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..store import StoreError, check_safe_metadata, quiet, store_kind
from .plot import COLUMN_WIDTH, paper_style, save_figure

SIDE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                "#000000")
NONE_COLOUR = "#BBBBBB"


def _figure(height: float, width: float = COLUMN_WIDTH):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def open_calibration_store(path):
    """The calibration store at ``path`` as an ``xarray.Dataset`` (its metadata checked for
    codecs and data types mc-threat never writes before anything is decoded)."""
    import xarray as xr

    path = Path(path)
    if store_kind(path) != "calibration":
        raise StoreError(f"{path}: not a case calibration store (made by mc-threat case NAME "
                         "--calibrate --out DIR)")
    check_safe_metadata(path)
    with quiet():
        return xr.open_zarr(path, consolidated=None)


def best_point(ds) -> int:
    """The calibration's best point as its summary recorded it (highest nominal accuracy,
    ties to the higher mean over the draws, then the lower index)."""
    summary = json.loads(ds.attrs.get("summary") or "{}")
    best = summary.get("best", {}).get("point")
    if best is None:
        corr = ds["correct"].values
        mc_mean = np.nan_to_num(ds["accuracy_mc"].values[:, 0], nan=-1.0)
        best = int(np.lexsort((np.arange(corr.size), -mc_mean, -corr))[0])
    return int(best)


def _title(ds) -> str:
    return str(ds.attrs.get("case") or "case")


def calibration_accuracy_figure(ds):
    """Accuracy (share of scored states on the correct side) of balance of threat at every
    design point, best first: the case's own (nominal) attributes as dots, the mean over the
    perturbed draws as a line with its min-max band; balance of power at the same points in
    grey."""
    acc = ds["accuracy"].values
    bop = ds["bop_accuracy"].values
    mc = ds["accuracy_mc"]
    stats = [str(s) for s in mc["stat"].values]
    mean, lo, hi = (mc.values[:, stats.index(s)] for s in ("mean", "min", "max"))
    order = np.lexsort((np.arange(acc.size), -np.nan_to_num(mean, nan=-1.0), -acc))
    x = np.arange(1, acc.size + 1)
    draws = int(ds.attrs.get("draws", 0))
    with paper_style():
        fig = _figure(2.6)
        ax = fig.add_subplot()
        ax.plot(x, acc[order], "o", color="#0072B2", ms=2.2, label="balance of threat",
                zorder=3)
        ax.plot(x, bop[order], "s", mfc="none", mec="0.45", ms=2.2, mew=0.6,
                label="balance of power", zorder=3)
        if draws and np.isfinite(mean).any():
            ax.plot(x, mean[order], "-", color="#0072B2", lw=0.8,
                    label="threat: mean over the draws")
            ax.fill_between(x, lo[order], hi[order], color="#0072B2", alpha=0.18, lw=0,
                            label=f"threat: min-max over {draws} draws")
        ax.set_xlim(0.5, acc.size + 0.5)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"design point, best first ({acc.size} points, "
                      f"{ds.attrs.get('design') or 'design'})")
        ax.set_ylabel("accuracy (share of scored states\non the correct side)")
        ax.set_title(f"{_title(ds)}: accuracy over the calibration design", fontsize=7)
        fig.legend(loc="outside lower center", ncols=2, fontsize=6, frameon=False)
    return fig


def side_probability_figure(ds, point: int | None = None):
    """At ``point`` (default :func:`best_point`), one bar per state split into the share of
    draws ending on each side ('none': the state's bloc matched no side); the observed side
    of each scored state is named at the bar's end."""
    point = best_point(ds) if point is None else int(point)
    if not 0 <= point < ds.sizes["point"]:
        raise StoreError(f"point: must be in [0, {ds.sizes['point']}), got {point}")
    prob = ds["side_probability"].values[point]
    sides = [str(s) for s in ds["side"].values]
    states = [str(s) for s in ds["state"].values]
    observed = [str(s) for s in ds["observed"].values]
    n = len(states)
    draws = int(ds.attrs.get("draws", 0))
    with paper_style():
        fig = _figure(1.0 + 0.16 * n)
        ax = fig.add_subplot()
        y = np.arange(n)[::-1]
        left = np.zeros(n)
        for s, side in enumerate(sides):
            colour = NONE_COLOUR if s == len(sides) - 1 else SIDE_COLOURS[s % len(SIDE_COLOURS)]
            ax.barh(y, prob[:, s], left=left, height=0.75, color=colour, label=side, lw=0)
            left += prob[:, s]
        for i in range(n):
            if observed[i]:
                ax.text(1.02, y[i], observed[i], va="center", ha="left", fontsize=6)
        ax.set_yticks(y, states)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of perturbed draws" if draws else
                      "predicted side (no draws)")
        ax.set_title(f"{_title(ds)}: sides at point {point}"
                     + (" (the best)" if point == best_point(ds) else ""))
        ax.text(1.02, n - 0.2, "observed", va="bottom", ha="left", fontsize=6,
                style="italic")
        fig.legend(loc="outside lower center", ncols=min(len(sides), 4), fontsize=6,
                   frameon=False)
    return fig


def plot_calibration_store(path, out_dir, *, formats=("png", "pdf")) -> list[Path]:
    """Draw the figures of the calibration store at ``path`` into ``out_dir``; return the
    files."""
    ds = open_calibration_store(path).load()
    files = save_figure(calibration_accuracy_figure(ds), out_dir, "calibration_accuracy",
                        formats)
    files += save_figure(side_probability_figure(ds), out_dir, "side_probability", formats)
    return files
