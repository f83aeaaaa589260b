"""Figures of the analyses beyond Sobol: scenario discovery and convergence of the indices.

Kept apart from :mod:`mc_threat.analysis.plot` (the sweep and sensitivity figures); uses its style,
labels and saving so that all figures look alike: one journal column (3.5 in) wide, 7-8 pt
text, built on an Agg canvas without pyplot.

* :func:`trajectory_figure`   PRIM's peeling trajectories (coverage against density), the
                              chosen box of each circled; CART's kept leaves as points.
* :func:`convergence_figure`  S1 and ST of one outcome against the base sample size, with
                              their confidence intervals, one line per factor.
* :func:`given_indices_figure` delta, PAWN or RBD-FAST indices of one outcome per factor,
                              with their bootstrap intervals.
* :func:`features_figure`     permutation importance of each system attribute and swept
                              factor for one outcome (``mc-threat features``).
"""

from __future__ import annotations

import numpy as np

from .plot import COLUMN_WIDTH, factor_label, paper_style, save_figure

__all__ = ["convergence_figure", "features_figure", "given_indices_figure", "save_figure",
           "trajectory_figure"]


def _figure(height: float, width: float = COLUMN_WIDTH):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def trajectory_figure(d):
    """PRIM: coverage against density along each box's peeling trajectory, the chosen box
    circled. CART: coverage against density of the kept leaves. ``d`` is a
    :class:`mc_threat.analysis.discover.Discovery`."""
    with paper_style():
        fig = _figure(3.2)
        ax = fig.add_subplot()
        colors = ["C0", "C1", "C2", "C3", "C4", "C5"]
        for i, b in enumerate(d.boxes):
            c = colors[i % len(colors)]
            if b.trajectory:
                ax.plot(b.trajectory["coverage"], b.trajectory["density"], "-", color=c,
                        lw=0.8, marker=".", ms=2.5, label=f"box {i + 1} trajectory")
                ax.plot(b.coverage, b.density, "o", mfc="none", mec=c, ms=7, mew=1.2)
                ax.annotate(f"box {i + 1}: " + ", ".join(_short(f) for f in b.limits),
                            (b.coverage, b.density), textcoords="offset points",
                            xytext=(-6, -8), ha="right", va="top", fontsize=6, color=c)
            else:
                ax.plot(b.coverage, b.density, "o", color=c, ms=4,
                        label=f"leaf {i + 1}: " + ", ".join(_short(f) for f in b.limits))
        if d.rejected is not None:
            r = d.rejected
            ax.plot(r["coverage"], r["density"], "-", color="0.55", lw=0.7, marker=".",
                    ms=2, label=f"{'next' if d.boxes else 'best'} trajectory (too sparse)")
        ax.axhline(d.params["min_density"], color="0.5", ls="--", lw=0.7,
                   label="density required")
        ax.axhline(d.cases / d.points, color="0.5", ls=":", lw=0.7,
                   label="share of all points")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("coverage (share of the points of interest in the box)")
        ax.set_ylabel("density (share of the box's\npoints that are of interest)")
        sign = ">" if d.direction == "above" else "<"
        ax.set_title(f"{d.method.upper()}: {d.outcome} {sign} {d.threshold:g}")
        fig.legend(loc="outside lower center", ncols=2, fontsize=6, frameon=False)
    return fig


def _short(name: str) -> str:
    return factor_label(name)


def convergence_figure(ds, outcome: str):
    """S1 (left) and ST (right) of ``outcome`` against the base sample size N of the nested
    prefixes of the Sobol' design, one line per factor, with the bootstrap confidence
    interval as whiskers. ``ds`` holds ``S1_convergence`` ... (``mc-threat sensitivity
    --convergence``)."""
    sizes = np.asarray(ds["base_samples"].values)
    factors = [str(f) for f in ds["factor"].values]
    with paper_style():
        fig = _figure(2.6)
        axes = fig.subplots(1, 2, sharey=True)
        shift = np.linspace(-0.06, 0.06, len(factors)) if len(factors) > 1 else [0.0]
        for ax, var in zip(axes, ("S1", "ST"), strict=True):
            v = ds[f"{var}_convergence"].sel(outcome=outcome).values  # (sizes, factors)
            c = ds[f"{var}_conf_convergence"].sel(outcome=outcome).values
            for k, f in enumerate(factors):
                x = sizes * 2.0 ** shift[k]  # small offsets so whiskers do not overlap
                ax.errorbar(x, v[:, k], yerr=c[:, k], marker="o", ms=2.5, lw=0.8,
                            elinewidth=0.6, capsize=1.5, label=factor_label(f),
                            color=f"C{k % 10}")
            ax.set_xscale("log", base=2)
            ax.set_xticks(sizes, [str(int(n)) for n in sizes])
            ax.minorticks_off()
            ax.axhline(0, color="0.6", lw=0.5)
            ax.set_xlabel("base sample N")
            ax.set_title(f"{var} ({'first' if var == 'S1' else 'total'} order)")
        axes[0].set_ylabel(f"index of {outcome}")
        axes[1].legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


GIVEN_PANELS = {
    "delta": (("delta", "delta_conf", "Borgonovo δ"), ("S1", "S1_conf", "first-order S1")),
    "pawn": (("pawn", "pawn_conf", "PAWN (median KS)"),),
    "rbd_fast": (("S1", "S1_conf", "RBD-FAST S1"),),
}


def given_indices_figure(ds, outcome: str):
    """Indices of one outcome from a given-data analysis (``mc-threat sensitivity STORE
    --method delta|pawn|rbd_fast``): one horizontal bar per factor with the bootstrap
    interval as a whisker; PAWN also marks the maximum over the slices (open circle)."""
    import json

    method = json.loads(ds.attrs["sensitivity"])["method"]
    panels = GIVEN_PANELS[method]
    factors = [str(f) for f in ds["factor"].values]
    y = np.arange(len(factors))[::-1]
    with paper_style():
        fig = _figure(1.0 + 0.22 * len(factors) + (0.2 if method == "pawn" else 0.0))
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, (var, conf, title) in zip(axes, panels, strict=True):
            v = ds[var].sel(outcome=outcome).values
            c = ds[conf].sel(outcome=outcome).values
            ax.barh(y, v, xerr=c, height=0.6, color="C0", alpha=0.8,
                    error_kw={"elinewidth": 0.7, "capsize": 1.5})
            if method == "pawn":
                ax.plot(ds["pawn_max"].sel(outcome=outcome).values, y, "o", mfc="none",
                        mec="C1", ms=3.5, label="maximum over the slices")
                fig.legend(fontsize=6, frameon=False, loc="outside lower center")
            ax.axvline(0, color="0.5", lw=0.5)
            ax.set_title(title)
            ax.set_xlabel("index")
        axes[0].set_yticks(y, [factor_label(f) for f in factors])
        fig.suptitle(outcome, fontsize=8)
    return fig


def features_figure(s):
    """Permutation importance (drop of the test R^2 when a feature is shuffled) of every
    feature for one outcome, most important on top, the standard deviation over the shuffles
    as a whisker; system attributes and swept factors in two colours. ``s`` is a
    :class:`mc_threat.analysis.features.FeatureScores`."""
    order = s.ranking()
    y = np.arange(len(order))[::-1]
    with paper_style():
        fig = _figure(1.1 + 0.2 * len(order))
        ax = fig.add_subplot()
        colors = ["C0" if s.kinds[k] == "system" else "C1" for k in order]
        ax.barh(y, s.permutation_mean[order], xerr=s.permutation_std[order], height=0.6,
                color=colors, alpha=0.85, error_kw={"elinewidth": 0.7, "capsize": 1.5})
        labels = [s.features[k].replace("_", " ") if s.kinds[k] == "system"
                  else factor_label(s.features[k]) for k in order]
        ax.set_yticks(y, labels)
        ax.axvline(0, color="0.5", lw=0.5)
        ax.set_xlabel("drop in test $R^2$ when shuffled")
        factors = "n/a" if s.r2_factors_only is None else f"{s.r2_factors_only:.2f}"
        ax.set_title(f"what drives {s.outcome}\n(test $R^2$ {s.r2_test:.2f}; swept factors "
                     f"alone {factors})")
        from matplotlib.patches import Patch

        handles = [Patch(color="C0", alpha=0.85, label="system attribute"),
                   Patch(color="C1", alpha=0.85, label="swept factor")]
        fig.legend(handles=handles, fontsize=6, frameon=False, loc="outside lower center",
                   ncols=2)
    return fig
