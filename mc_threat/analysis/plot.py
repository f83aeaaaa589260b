"""Figures for papers from a results store (matplotlib, Agg canvas, PNG and PDF).

Every function takes the results ``xarray.Dataset`` (``mc_threat.open_results(path)`` or
``xr.open_zarr(path)``) and returns a :class:`matplotlib.figure.Figure` sized for one
journal column (3.5 in wide) with 7-8 pt text, labelled axes and units:

* :func:`indices_figure`           Sobol S1 beside ST with confidence whiskers (Morris: mu*
                                   with whiskers beside sigma) for one outcome, with the
                                   Monte Carlo noise share drawn as a reference line;
* :func:`indices_overview_figure`  ST (or mu*) of every outcome and factor as a heatmap;
* :func:`heatmap_figure`           an outcome's mean over two swept factors;
* :func:`choice_by_power_figure`   shares of balance, bandwagon and neutral choices against
                                   relative power, from the choice-by-power counts;
* :func:`bot_vs_bop_figure`        balance of threat against balance of power, one panel
                                   per outcome, one marker per sweep point, 1:1 line and
                                   95% Monte Carlo intervals.

Titles are plain words (:data:`OUTCOME_TITLES`); every factor symbol on an axis is explained
in the figure (:func:`symbol_key`); means of 0/1 outcomes are labelled "probability"; every
figure says how many systems per point (and points) stand behind it.

:func:`plot_store` draws all that apply to a store and saves them (``mc-threat plot``).
Figures are built on an Agg canvas without pyplot, so they work headless and in notebooks
(where a returned figure displays as an image).

Why one module of about 670 lines: the five figure families share one style (sizes, colours,
labels, the size note and the symbol key, the first 230 lines) and :func:`plot_store` draws
them all; split per family, each would import most of the rest. Figures of the analyses
(convergence, given-data indices, discovery) are in :mod:`.plot_analysis`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..store import Store, StoreError

__all__ = [
    "BOT_BOP_PAIRS",
    "COLUMN_WIDTH",
    "KEY_OUTCOMES",
    "bot_vs_bop_figure",
    "choice_by_power_figure",
    "factor_label",
    "heatmap_figure",
    "indices_figure",
    "indices_overview_figure",
    "plot_store",
    "save_figure",
]

COLUMN_WIDTH = 3.5
"""Width of one journal column, inches; every figure is this wide."""

KEY_OUTCOMES = ("share_balance", "share_bandwagon", "contained", "hegemon_favoured",
                "alignment_change")
"""Outcomes drawn by default: who balances and who bandwagons, whether the top threat is
contained, whether the hegemon is favoured, and how far the prediction departs from balance
of power."""

BOT_BOP_PAIRS = (("share_balance", "bop_share_balance", "States that balance"),
                 ("contained", "bop_contained", "Top threat contained"),
                 ("hegemon_favoured", "bop_hegemon_favoured", "Strongest state\nfavoured"))
"""(balance of threat, balance of power, label) outcome pairs of :func:`bot_vs_bop_figure`."""

FACTOR_SYMBOLS = {
    "model.weights.power": r"$w_A$",
    "model.weights.proximity": r"$w_D$",
    "model.weights.offense": r"$w_O$",
    "model.weights.intent": r"$w_I$",
    "model.bandwagon_ratio": r"$\beta$",
    "model.viability": r"$\alpha$",
    "model.reach": "reach",
    "model.neutral_below": "neutral",
    "model.n_states": "$n$",
    "generator.power_sigma": r"$\sigma_p$",
    "generator.power_corr": r"$\rho_p$",
}
"""Short axis labels of the usual factors (MODEL.md's symbols)."""

FACTOR_NAMES = {
    "model.weights.power": "weight of aggregate power",
    "model.weights.proximity": "weight of proximity",
    "model.weights.offense": "weight of offensive capability",
    "model.weights.intent": "weight of offensive intentions",
    "model.bandwagon_ratio": "bandwagon ratio",
    "model.viability": "viability",
    "model.reach": "reach",
    "model.neutral_below": "neutral threshold",
    "model.n_states": "states per system",
    "generator.power_sigma": "spread of power",
    "generator.power_corr": "correlation of power components",
}
FACTOR_UNITS = {
    "model.reach": "unit-square distance",
    "model.n_states": "states",
}
"""Units of factors that have them (weights, ratios and shape parameters are unitless)."""

OUTCOME_TITLES = {
    "share_balance": "Share of states that balance",
    "share_bandwagon": "Share of states that bandwagon",
    "share_neutral": "Share of states that stay neutral",
    "bop_agreement": "Principal threat is the balance-of-power threat",
    "top_threat_is_hegemon": "The most-named threat is the strongest state",
    "coalition_ratio": "Balancing coalition's power over the threat side's",
    "contained": "The top threat is contained",
    "n_coalitions": "Number of balancing coalitions",
    "hegemon_allies": "Share of states allied with the strongest state",
    "hegemon_opposed": "Share of states balancing against the strongest state",
    "hegemon_favoured": "The strongest state has more allies than opponents",
    "alignment_change": "States whose alignment differs from balance of power",
    "bop_share_balance": "Share of states that balance (balance of power)",
    "bop_contained": "The top threat is contained (balance of power)",
    "bop_hegemon_favoured": "The strongest state is favoured (balance of power)",
}
"""Plain-language figure titles of the outcomes (MODEL.md section 5 defines them)."""

CHOICE_COLOURS = {"balance": "#0072B2", "bandwagon": "#E69F00", "neutral": "#999999"}
PAIR_MARKERS = (("o", "#0072B2"), ("s", "#D55E00"), ("^", "#009E73"))

PAPER_RC = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "lines.markersize": 4,
    "errorbar.capsize": 2,
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, accepted by journals
    "ps.fonttype": 42,
    "savefig.dpi": 300,
}


@contextmanager
def paper_style():
    """matplotlib rc settings of the figures (fonts readable at column width)."""
    import matplotlib

    with matplotlib.rc_context(PAPER_RC):
        yield


def _figure(height: float, width: float = COLUMN_WIDTH, **kwargs):
    """A Figure on an Agg canvas (no pyplot, no GUI backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def factor_label(name: str, *, long: bool = False) -> str:
    """Axis label of a factor: its symbol (``long``: name, symbol and units)."""
    symbol = FACTOR_SYMBOLS.get(name)
    if not long:
        return symbol or name.replace("model.weights.", "w.").replace("model.", "") \
            .replace("generator.", "g.")
    text = FACTOR_NAMES.get(name, name)
    if symbol and symbol != text:
        text += f" {symbol}"
    return f"{text} ({FACTOR_UNITS.get(name, 'unitless')})"


def _outcome_units(ds, outcome: str) -> str:
    """Units of an outcome's *mean*: a 0/1 indicator's mean is a probability."""
    units = ds[outcome].attrs.get("units", "") if outcome in ds else ""
    return "probability" if "0/1" in units else units


def _outcome_label(ds, outcome: str) -> str:
    units = _outcome_units(ds, outcome)
    if units == "probability":  # the share of systems in which the 0/1 outcome is 1
        return "probability (fraction of systems)"
    return f"{outcome.replace('_', ' ')} ({units})" if units else outcome.replace("_", " ")


def outcome_title(outcome: str) -> str:
    """The plain-language title of an outcome (its name when it has none)."""
    return OUTCOME_TITLES.get(outcome, outcome.replace("_", " "))


def size_note(ds) -> str:
    """``N = 2,000 systems per point, 36 points`` of a results Dataset."""
    systems = ds.attrs.get("systems_per_point")
    points = ds.sizes.get("point", 1)
    per = f"{int(systems):,} systems per point" if systems else "systems per point unknown"
    return f"N = {per}, {points:,} point{'s' if points != 1 else ''}"


def symbol_key(factors) -> str:
    """What the symbols of ``factors`` stand for, e.g. ``$w_A$ weight of aggregate power``,
    one entry per factor that has a symbol, joined by semicolons."""
    parts = []
    for f in factors:
        symbol = FACTOR_SYMBOLS.get(f)
        if symbol and symbol != FACTOR_NAMES.get(f, f):
            parts.append(f"{symbol} {FACTOR_NAMES.get(f, f)}")
    return "; ".join(parts)


def _wrap(text: str, width: int = 62) -> str:
    """Wrap at ``; `` boundaries into lines of about ``width`` characters (mathtext is
    counted by its source length, which overestimates it a little)."""
    lines, line = [], ""
    for part in text.split("; "):
        candidate = f"{line}; {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line + ";")
            line = part
        else:
            line = candidate
    if line:
        lines.append(line)
    return "\n".join(lines)


def _analysis_kind(ds) -> str | None:
    from .sensitivity import has_analysis

    return has_analysis(ds)


def _values(ds, name: str, **sel) -> np.ndarray:
    return np.asarray(ds[name].sel(**sel).values, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Sensitivity indices
# ---------------------------------------------------------------------------------------------


def indices_figure(ds, outcome: str):
    """Sobol indices of ``outcome``: S1 beside ST per factor, whiskers the confidence
    half-widths; a dashed line marks the Monte Carlo noise share of the output variance.
    For a Morris analysis: mu* (with whiskers) beside sigma."""
    kind = _analysis_kind(ds)
    if kind is None:
        raise StoreError("no sensitivity indices in this store; run `mc-threat sensitivity` "
                         "first")
    if outcome not in [str(o) for o in ds["outcome"].values]:
        raise StoreError(f"outcome {outcome!r} was not analysed in this store")
    factors = [str(f) for f in ds["factor"].values]
    x = np.arange(len(factors))
    width = 0.38
    key = _wrap(symbol_key(factors), 50)
    with paper_style():
        fig = _figure(2.9 + 0.14 * (key.count("\n") + 1 if key else 0))
        ax = fig.add_subplot()
        if kind == "sobol":
            bars = (("S1", "S1_conf", "first order $S_1$", "#56B4E9"),
                    ("ST", "ST_conf", "total $S_T$", "#0072B2"))
            ylabel = "Sobol index\n(fraction of variance)"
        else:
            bars = (("mu_star", "mu_star_conf", r"$\mu^*$", "#0072B2"),
                    ("sigma", None, r"$\sigma$", "#E69F00"))
            units = _outcome_units(ds, outcome) or "outcome units"
            ylabel = f"elementary effect ({units}\nper factor range)"
        for k, (var, conf, label, colour) in enumerate(bars):
            v = _values(ds, var, outcome=outcome)
            err = _values(ds, conf, outcome=outcome) if conf else None
            ax.bar(x + (k - 0.5) * width, np.nan_to_num(v), width, yerr=err, label=label,
                   color=colour, edgecolor="none",
                   error_kw={"elinewidth": 0.7, "ecolor": "#333333"})
        if kind == "sobol" and "mc_noise_share" in ds:
            share = float(ds["mc_noise_share"].sel(outcome=outcome))
            if np.isfinite(share):
                ax.axhline(share, color="#D55E00", linestyle="--", linewidth=0.8,
                           label=f"Monte Carlo noise ({share:.1%})")
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_xticks(x, [factor_label(f) for f in factors],
                      rotation=0 if all(f in FACTOR_SYMBOLS for f in factors) else 30,
                      ha="center" if all(f in FACTOR_SYMBOLS for f in factors) else "right")
        ax.set_xlabel("factor" + (f"\n{key}" if key else ""))
        ax.set_ylabel(ylabel)
        ax.set_title(f"{outcome_title(outcome)}\n{size_note(ds)}")
        fig.legend(loc="outside lower center", ncols=3, handlelength=1.2, columnspacing=1.0)
    return fig


def indices_overview_figure(ds, var: str | None = None):
    """Total-order indices ST (Morris: mu* scaled by each outcome's largest mu*) of every
    analysed outcome and factor as a heatmap; constant outcomes are left blank."""
    kind = _analysis_kind(ds)
    if kind is None:
        raise StoreError("no sensitivity indices in this store; run `mc-threat sensitivity` "
                         "first")
    var = var or ("ST" if kind == "sobol" else "mu_star")
    factors = [str(f) for f in ds["factor"].values]
    outcomes = [str(o) for o in ds["outcome"].values]
    data = np.asarray(ds[var].transpose("outcome", "factor").values, dtype=np.float64)
    key = _wrap(symbol_key(factors), 48)
    with paper_style():
        fig = _figure(1.2 + 0.2 * len(outcomes) + 0.14 * (key.count("\n") + 1 if key else 0))
        ax = fig.add_subplot()
        if kind == "sobol":
            mesh = ax.imshow(np.clip(data, 0, 1), vmin=0, vmax=1, cmap="viridis",
                             aspect="auto")
            label = "total-order index $S_T$ (fraction of variance)"
        else:
            # outcomes have different units: scale each row by its largest effect
            with np.errstate(invalid="ignore", divide="ignore"):
                top = np.nanmax(np.abs(data), axis=1, keepdims=True)
                data = np.where(top > 0, data / np.where(top > 0, top, 1.0), np.nan)
            mesh = ax.imshow(data, vmin=0, vmax=1, cmap="viridis", aspect="auto")
            label = r"Morris $\mu^*$ / largest $\mu^*$ of the outcome (ratio)"
        crowded = len(factors) > 6 or not all(f in FACTOR_SYMBOLS for f in factors)
        ax.set_xticks(np.arange(len(factors)), [factor_label(f) for f in factors],
                      rotation=45 if crowded else 0, ha="right" if crowded else "center",
                      rotation_mode="anchor")
        ax.set_yticks(np.arange(len(outcomes)), [o.replace("_", " ") for o in outcomes])
        for row in np.flatnonzero(~np.isfinite(data).any(axis=1)):
            ax.text((len(factors) - 1) / 2, row, "constant over the design", ha="center",
                    va="center", fontsize=7, color="#555555")
        ax.set_xlabel("factor" + (f"\n{key}" if key else ""))
        ax.set_ylabel("outcome")
        ax.set_title(f"Which factors matter for which outcome\n{size_note(ds)}")
        ax.spines[:].set_visible(False)
        fig.colorbar(mesh, ax=ax, label=label, shrink=0.9)
    return fig


# ---------------------------------------------------------------------------------------------
# Outcome over two factors
# ---------------------------------------------------------------------------------------------


def swept_factors(ds) -> list[str]:
    """The numeric factors swept in this store, in design order."""
    names = [str(f) for f in ds.attrs.get("factors", [])]
    return [f for f in names if f in ds.coords and np.issubdtype(ds[f].dtype, np.number)]


def top_factors(ds, outcome: str, count: int = 2) -> list[str]:
    """The ``count`` most influential factors of ``outcome``: by the stored indices (ST, or
    Morris mu*) when the store holds an analysis of it, otherwise by the correlation ratio
    (:func:`correlation_ratio`) of the outcome's mean with each factor. Ties keep the
    design order."""
    factors = swept_factors(ds)
    kind = _analysis_kind(ds)
    if kind and outcome in [str(o) for o in ds["outcome"].values]:
        score = _values(ds, "ST" if kind == "sobol" else "mu_star", outcome=outcome)
        names = [str(f) for f in ds["factor"].values]
        if np.isfinite(score).any():
            order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
            ranked = [names[k] for k in order if names[k] in factors]
            return ranked[:count]
    mean = _values(ds, outcome, stat="mean")
    bounds = _bounds(ds)
    score = np.array([correlation_ratio(np.asarray(ds[f].values, float), mean,
                                        bounds=bounds.get(f)) for f in factors])
    order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
    return [factors[k] for k in order][:count]


def correlation_ratio(x: np.ndarray, y: np.ndarray, bins: int = 8, bounds=None) -> float:
    """Pearson's correlation ratio squared, eta^2: the share of the variance of ``y``
    explained by the mean of ``y`` within each value of ``x`` (a grid factor) or each of
    ``bins`` equal-width bins of ``x`` (a sampled one). Unlike a linear correlation it sees
    effects that rise and fall. NaN when ``y`` does not vary."""
    index = _cells(x, bins, bounds)[0]
    total = np.var(y)
    if not np.isfinite(total) or total == 0:
        return float("nan")
    counts = np.bincount(index)
    sums = np.bincount(index, weights=y)
    used = counts > 0
    means = sums[used] / counts[used]
    between = np.sum(counts[used] * (means - y.mean()) ** 2) / y.size
    return float(between / total)


def _cells(values: np.ndarray, bins: int, bounds=None):
    """Categories of a grid factor (few distinct values) or equal-width bins of a sampled
    one: returns (cell index per point, cell edges for the axis, tick positions, labels)."""
    distinct = np.unique(values)
    if distinct.size <= 12:
        index = np.searchsorted(distinct, values)
        edges = np.arange(distinct.size + 1) - 0.5
        return index, edges, np.arange(distinct.size), [f"{v:.3g}" for v in distinct]
    lo, hi = bounds if bounds is not None else (values.min(), values.max())
    edges = np.linspace(lo, hi, bins + 1)
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    return index, edges, None, None


def heatmap_figure(ds, outcome: str, x: str | None = None, y: str | None = None,
                   bins: int = 8):
    """Mean of ``outcome`` over two swept factors ``x`` and ``y``, averaged over the other
    factors. Grid factors keep their values; sampled factors (Sobol, Morris, LHS) are cut
    into ``bins`` equal-width bins and each cell averages the points that fall into it.
    Default factors: the two most influential (:func:`top_factors`: largest total-order
    index, or largest correlation ratio when the store holds no indices)."""
    if x is None or y is None:
        ranked = top_factors(ds, outcome, count=len(swept_factors(ds)))
        if x is None:
            x = next((f for f in ranked if f != y), None)
        if y is None:
            y = next((f for f in ranked if f != x), None)
        if x is None or y is None:
            raise StoreError("a heatmap needs two swept numeric factors")
    for f in (x, y):
        if f not in swept_factors(ds):
            raise StoreError(f"{f}: not a swept numeric factor of this store "
                             f"({', '.join(swept_factors(ds)) or 'none'})")
    if x == y:
        raise StoreError(f"a heatmap needs two different factors, got {x} twice")
    bounds = _bounds(ds)
    mean = _values(ds, outcome, stat="mean")
    xv, yv = np.asarray(ds[x].values, float), np.asarray(ds[y].values, float)
    xi, xe, xt, xl = _cells(xv, bins, bounds.get(x))
    yi, ye, yt, yl = _cells(yv, bins, bounds.get(y))
    total = np.zeros((ye.size - 1, xe.size - 1))
    count = np.zeros_like(total)
    np.add.at(total, (yi, xi), mean)
    np.add.at(count, (yi, xi), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cell = np.where(count > 0, total / count, np.nan)
    with paper_style():
        fig = _figure(2.8)
        ax = fig.add_subplot()
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(cell), cmap="viridis",
                             shading="flat")
        if xt is not None:
            ax.set_xticks(xt, xl)
        if yt is not None:
            ax.set_yticks(yt, yl)
        ax.set_xlabel(factor_label(x, long=True))
        ax.set_ylabel(factor_label(y, long=True))
        others = [f for f in swept_factors(ds) if f not in (x, y)]
        ax.set_title(f"{outcome_title(outcome)}\n"
                     + ("mean over the other factors\n" if others else "") + size_note(ds))
        fig.colorbar(mesh, ax=ax, label=_outcome_label(ds, outcome))
    return fig


def _bounds(ds) -> dict[str, tuple[float, float]]:
    import json

    try:
        problem = json.loads(ds.attrs.get("salib_problem") or "null")
    except ValueError:
        return {}
    if not problem:
        return {}
    return {n: tuple(map(float, b)) for n, b in zip(problem["names"], problem["bounds"],
                                                      strict=True)}


# ---------------------------------------------------------------------------------------------
# Choices by relative power
# ---------------------------------------------------------------------------------------------


def choice_shares(ds, point=None):
    """Shares of each final choice per relative-power bin, pooled over the selected points
    (default: all). Returns ``(bin centres, shares (bins, 3), states per bin)``; bins without
    states have NaN shares."""
    counts = ds["choice_by_power"]
    if point is not None:
        counts = counts.sel(point=point)
    if "point" in counts.dims:
        counts = counts.sum("point")
    counts = np.asarray(counts.transpose("power_bin", "choice").values, dtype=np.float64)
    lower = np.asarray(ds["power_bin_lower"].values, dtype=np.float64)
    upper = np.asarray(ds["power_bin_upper"].values, dtype=np.float64)
    centre = np.sqrt(lower * upper)
    per_bin = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(per_bin[:, None] > 0, counts / per_bin[:, None], np.nan)
    return centre, shares, per_bin


def choice_by_power_figure(ds, point=None):
    """Shares of balance, bandwagon and neutral choices against relative power
    ``p_i / p_hegemon`` (top), and the share of all states in each power bin (bottom)."""
    centre, shares, per_bin = choice_shares(ds, point)
    lower = np.asarray(ds["power_bin_lower"].values, dtype=np.float64)
    upper = np.asarray(ds["power_bin_upper"].values, dtype=np.float64)
    choices = [str(c) for c in ds["choice"].values]
    with paper_style():
        fig = _figure(3.2)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        for k, choice in enumerate(choices):
            top.plot(centre, shares[:, k], marker="o", label=choice,
                     color=CHOICE_COLOURS.get(choice))
        top.set_ylim(-0.02, 1.02)
        top.set_ylabel("share of the states\nin the bin (fraction)")
        top.legend(loc="center left", title="final choice", title_fontsize=7)
        n_points = ds.sizes.get("point", 1) if point is None else np.size(point)
        systems = ds.attrs.get("systems_per_point")
        pooled = f"{n_points:,} point{'s' if n_points != 1 else ''}" + \
            (" pooled" if n_points != 1 else "")
        top.set_title("What states choose, by relative power\n"
                      + (f"N = {int(systems):,} systems per point, " if systems else "")
                      + pooled)
        total = per_bin.sum()
        bottom.bar(lower, per_bin / total if total else per_bin, width=upper - lower,
                   align="edge", color="#BBBBBB", edgecolor="white", linewidth=0.5)
        bottom.set_xscale("log")
        bottom.set_ylabel("states\n(fraction)")
        bottom.set_xlabel(r"relative power $p_i / p_{\mathrm{hegemon}}$ (ratio, log scale)")
    return fig


# ---------------------------------------------------------------------------------------------
# Balance of threat against balance of power
# ---------------------------------------------------------------------------------------------


def bot_vs_bop_figure(ds, pairs=BOT_BOP_PAIRS, max_errorbars: int = 60):
    """Balance of threat (y) against balance of power (x), small multiples: one panel per
    outcome of ``pairs``, each on its own scale (equal on both axes, so the dotted 1:1 line,
    where the two theories agree, is the diagonal). One marker per sweep point with its 95%
    Monte Carlo interval (1.96 standard errors) on both axes when there are at most
    ``max_errorbars`` points; above that the markers are small and translucent (rasterized
    in a PDF) and the key gives the largest interval. The fourth panel holds the key and
    N (systems per point, points)."""
    from matplotlib.lines import Line2D

    n_points = ds.sizes.get("point", 1)
    size, alpha = (4.5, 1.0) if n_points <= 20 else (2.5, 0.7) if n_points <= 300 else (1.2, 0.3)
    bars = n_points <= max_errorbars
    widest = 0.0
    with paper_style():
        fig = _figure(3.9)
        fig.suptitle("Balance of threat (Walt)\nagainst balance of power (Waltz)")
        axes = list(fig.subplots(2, 2).ravel())
        for ax, (bot, bop, label), (marker, colour) in zip(axes, pairs, PAIR_MARKERS,
                                                           strict=False):
            y = np.atleast_1d(_values(ds, bot, stat="mean"))
            x = np.atleast_1d(_values(ds, bop, stat="mean"))
            ye = 1.96 * np.atleast_1d(_values(ds, bot, stat="sem"))
            xe = 1.96 * np.atleast_1d(_values(ds, bop, stat="sem"))
            ax.errorbar(x, y, xerr=xe if bars else None, yerr=ye if bars else None,
                        fmt=marker, color=colour, elinewidth=0.6, markersize=size,
                        alpha=alpha, markeredgewidth=0, rasterized=n_points > 300)
            lo = float(np.nanmin(np.concatenate([x - xe, y - ye])))
            hi = float(np.nanmax(np.concatenate([x + xe, y + ye])))
            pad = 0.08 * (hi - lo) + 0.01
            lims = (max(lo - pad, -0.02), min(hi + pad, 1.02))
            ax.plot(lims, lims, color="#555555", linewidth=0.7, linestyle=":", zorder=0)
            ax.set_xlim(lims)
            ax.set_ylim(lims)
            ax.set_aspect("equal", adjustable="box")
            ax.locator_params(nbins=4)
            units = _outcome_units(ds, bot)
            units = "share of states" if units == "fraction of states" else units
            ax.set_title(f"{label} ({units})" if "\n" in label else f"{label}\n({units})")
            ax.set_xlabel("balance of power")
            ax.set_ylabel("balance of threat")
            widest = max(widest, float(np.nanmax(np.concatenate([xe, ye]))))
        key = axes[-1]
        key.axis("off")
        handles = [Line2D([], [], color="#555555", linewidth=0.7, linestyle=":"),
                   Line2D([], [], color="#333333", marker="o", markersize=4, linestyle="none")]
        point = "one sweep point;\nbars: 95% Monte\nCarlo interval" if bars else \
            f"one sweep point;\nits 95% Monte Carlo\ninterval is at most\n±{widest:.2g} (not drawn)"
        n = ds.attrs.get("systems_per_point")
        title = (f"N = {int(n):,} systems\nper point, " if n else "") + \
            f"{n_points:,} point{'s' if n_points != 1 else ''}"
        key.legend(handles, ["1:1, the theories\nagree", point], loc="upper left",
                   handlelength=1.5, borderaxespad=0.0, title=title, alignment="left",
                   title_fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def save_figure(fig, out_dir, name: str, formats=("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``out_dir/name.<format>`` for each format; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with paper_style():
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            # no "tight" bounding box: constrained layout already fits everything in the
            # figure, and the file keeps exactly the column width
            fig.savefig(path, format=fmt, dpi=300, bbox_inches=None,
                        metadata=None if fmt != "pdf" else {"Creator": "mc-threat"})
            paths.append(path)
    return paths


def default_out_dir(store) -> Path:
    """``results/x.zarr`` -> ``results/x_figures``."""
    store = Path(store)
    return store.with_name(store.name.removesuffix(".zarr") + "_figures")


def plot_store(path, out_dir=None, *, outcomes=None, heatmap=None,
               formats=("png", "pdf")) -> list[Path]:
    """Draw every figure that applies to the store at ``path`` and save it in ``out_dir``
    (default :func:`default_out_dir`): indices per outcome and their overview (when the
    store holds a sensitivity analysis), heatmaps over two factors (when two numeric
    factors are swept), choices by relative power, and balance of threat against balance
    of power. ``outcomes`` defaults to :data:`KEY_OUTCOMES`; ``heatmap`` is a pair of
    factor names (default: the two most influential per outcome). When no state is
    neutral at any point, ``share_bandwagon`` is ``1 - share_balance`` and its figures would
    repeat those of ``share_balance``: it is left out (:func:`duplicate_outcomes`).
    Returns the files."""
    from ..kernels import OUTCOMES
    from ..store import open_results

    path = Path(path)
    st = Store(path).status()
    if st["tasks_done"] != st["tasks"] or st["blocks_merged"] != st["blocks"]:
        raise StoreError(f"{path}: the sweep is incomplete; finish it (--resume) before "
                         "plotting")
    outcomes = list(KEY_OUTCOMES if outcomes is None else outcomes)
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown:
        raise StoreError(f"--outcomes: unknown outcome(s) {', '.join(unknown)}; known: "
                         f"{', '.join(OUTCOMES)}")
    if heatmap is not None:
        heatmap = tuple(heatmap)
        if len(heatmap) != 2:
            raise StoreError(f"--heatmap: needs two factors, got {len(heatmap)}")
    ds = open_results(path).load()
    dropped = duplicate_outcomes(ds, outcomes)
    outcomes = [o for o in outcomes if o not in dropped]
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(path)
    files: list[Path] = []
    kind = _analysis_kind(ds)
    if kind:
        analysed = [str(o) for o in ds["outcome"].values]
        for o in outcomes:
            if o not in analysed:
                continue
            score = _values(ds, "ST" if kind == "sobol" else "mu_star", outcome=o)
            if not np.isfinite(score).any():
                continue  # a constant outcome: no variance to decompose
            files += _save(indices_figure(ds, o), out_dir, f"indices_{o}", formats)
        files += _save(indices_overview_figure(ds), out_dir, "indices_overview", formats)
    if len(swept_factors(ds)) >= 2:
        for o in outcomes:
            x, y = heatmap if heatmap else (None, None)
            files += _save(heatmap_figure(ds, o, x, y), out_dir, f"heatmap_{o}", formats)
    files += _save(choice_by_power_figure(ds), out_dir, "choice_by_power", formats)
    files += _save(bot_vs_bop_figure(ds), out_dir, "bot_vs_bop", formats)
    return files


def duplicate_outcomes(ds, outcomes) -> list[str]:
    """Outcomes of ``outcomes`` whose figures would repeat another's: ``share_bandwagon``
    beside ``share_balance`` when ``share_neutral`` is 0 at every point (then every state
    that does not balance bandwagons, and one share is one minus the other)."""
    if "share_balance" in outcomes and "share_bandwagon" in outcomes and \
            "share_neutral" in ds and not np.any(_values(ds, "share_neutral", stat="mean")):
        return ["share_bandwagon"]
    return []


def _save(fig, out_dir, name, formats) -> list[Path]:
    try:
        return save_figure(fig, out_dir, name, formats)
    finally:
        fig.clear()

