"""``mc-threat sensitivity``, ``plot``, ``discover`` and ``features``: thin commands over
:mod:`mc_threat.analysis.sensitivity`, :mod:`mc_threat.analysis.given_data`,
:mod:`mc_threat.analysis.plot`, :mod:`mc_threat.analysis.discover` and
:mod:`mc_threat.analysis.features`.

:func:`add_analysis_parsers` registers the subcommands on the ``mc-threat`` subparsers and
sets each one's handler as ``func`` (``args.func(args)`` returns the exit status). Bad input
raises :class:`~mc_threat.config.ConfigError` or :class:`~mc_threat.store.StoreError`, which
``mc_threat.cli.main`` prints as ``mc-threat: error:`` lines with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import EXIT_INTERRUPTED, add_sweep_options, positive_int, resume_command


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _density(text: str) -> float:
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_analysis_parsers(subparsers) -> None:
    """Register the ``sensitivity``, ``plot`` and ``discover`` subcommands on
    ``subparsers``."""
    s = subparsers.add_parser(
        "sensitivity", help="Sobol/Morris sensitivity indices of every outcome",
        description="Run (or resume) a Sobol or Morris sweep and analyse it with SALib; the "
        "indices are written into the sweep's zarr store. CONFIG is a YAML config (without "
        "a sweep section the default factors are used: the four weights, bandwagon_ratio, "
        "viability, reach and generator.power_sigma), or an existing results store, which is "
        "analysed again without recomputing the sweep.")
    s.add_argument("config", metavar="CONFIG", help="YAML config, or a results store (.zarr)")
    s.add_argument("--out", help="results store (default: results/<config name>.zarr)")
    s.add_argument("--analyze-only", action="store_true",
                   help="only (re)analyse the existing store; never run the sweep")
    add_sweep_options(s)
    s.add_argument("--design", choices=("sobol", "morris"), default="sobol",
                   help="design of the default factors when CONFIG has no sweep section "
                   "(default: sobol)")
    s.add_argument("--outcomes", type=_names, metavar="A,B,...",
                   help="outcomes to analyse (default: all)")
    s.add_argument("--conf-level", type=_level, default=0.95,
                   help="level of the bootstrap confidence intervals (default: 0.95)")
    s.add_argument("--resamples", type=positive_int,
                   help="bootstrap resamples (default: 100 Sobol, 1000 Morris)")
    s.add_argument("--method", choices=("sobol", "morris", "delta", "pawn", "rbd_fast"),
                   help="analyzer (default: the design's, sobol or morris); delta, pawn and "
                   "rbd_fast (SALib's given-data analyzers) work on a store of any design: "
                   "grid, LHS, Sobol, Morris or a case calibration")
    s.add_argument("--convergence", action="store_true",
                   help="Sobol: also the indices on the nested prefixes N/8, N/4, N/2, N of "
                   "the design, stored as S1_convergence and ST_convergence, with a figure "
                   "per outcome")
    s.add_argument("--figures", metavar="DIR", help="directory of the convergence figures "
                   "and of the delta, pawn and rbd_fast figures (default: <store "
                   "name>_figures next to the store)")
    s.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    s.set_defaults(func=cmd_sensitivity)

    p = subparsers.add_parser(
        "plot", help="figures for papers from a results store (PNG and PDF)",
        description="Draw the figures that apply to a results store: sensitivity indices per "
        "outcome (S1 beside ST, or Morris mu* beside sigma), their overview, heatmaps of "
        "outcomes over two swept factors, choices by relative power, and balance of threat "
        "against balance of power.")
    p.add_argument("store", metavar="STORE", help="results store (.zarr), or a case "
                   "calibration store (mc-threat case NAME --calibrate --out DIR)")
    p.add_argument("--out", metavar="DIR", help="directory of the figures "
                   "(default: <store name>_figures next to the store)")
    p.add_argument("--outcomes", type=_names, metavar="A,B,...",
                   help="outcomes to draw (default: share_balance, share_bandwagon, contained, "
                   "hegemon_favoured, alignment_change); 'all' for every outcome. "
                   "share_bandwagon is left out when no state is neutral (it is then "
                   "1 - share_balance)")
    p.add_argument("--heatmap", type=_names, metavar="X,Y",
                   help="the two factors of the heatmaps (default: the two most influential, "
                   "by the stored indices or else by the correlation ratio)")
    p.add_argument("--format", type=_names, default=["png", "pdf"], metavar="png,pdf",
                   help="file formats (default: png,pdf)")
    p.add_argument("--quiet", action="store_true", help="do not list the files written")
    p.set_defaults(func=cmd_plot)

    d = subparsers.add_parser(
        "discover", help="scenario discovery: the boxes of factor space where an outcome "
        "passes a threshold (PRIM or CART)",
        description="Find the regions (boxes) of the swept factors where an outcome's point "
        "mean is above (or below) a threshold, with EMA Workbench's PRIM or CART, on any sweep "
        "or calibration store. Prints each box's limits, coverage, density and PRIM's quasi-p "
        "values, draws the peeling trajectory, and stores the boxes in the store's group "
        "discover/<method>-<outcome> (a rerun replaces only that group).")
    d.add_argument("store", metavar="STORE", help="results store (.zarr)")
    d.add_argument("--outcome", required=True, metavar="NAME", help="outcome variable")
    side = d.add_mutually_exclusive_group(required=True)
    side.add_argument("--above", type=_number, metavar="X",
                      help="points of interest: outcome mean > X")
    side.add_argument("--below", type=_number, metavar="X",
                      help="points of interest: outcome mean < X")
    d.add_argument("--method", choices=("prim", "cart"), default="prim",
                   help="PRIM (default) or CART")
    d.add_argument("--min-density", type=_density, metavar="D",
                   help="density a box must reach (default 0.8 PRIM, 0.5 CART)")
    d.add_argument("--mass-min", type=_level, default=0.05, metavar="M",
                   help="smallest share of the points in a box (default 0.05)")
    d.add_argument("--max-boxes", type=positive_int, default=3, metavar="K",
                   help="at most K boxes (default 3)")
    _add_output_options(d)
    d.set_defaults(func=cmd_discover)

    f = subparsers.add_parser(
        "features", help="which properties of a system drive an outcome (feature scoring on "
        "a store's reservoir of systems)",
        description="Score which system attributes (the hegemon's share of power, power "
        "concentration, the hegemon's offense and intent, distances, ...) and swept factors "
        "explain an outcome of the systems a sweep kept (run.reservoir: K in its config): "
        "scikit-learn extra trees on one row per (point, kept system), permutation "
        "importance on held-out systems. Prints the ranking with the test R^2 beside the "
        "R^2 of the swept factors alone and of the null, draws it, and stores it in the "
        "store's group features/<outcome> (a rerun replaces only that group).")
    f.add_argument("store", metavar="STORE", help="results store (.zarr) with a reservoir")
    f.add_argument("--outcome", default="alignment_change", metavar="NAME",
                   help="outcome to explain (default: alignment_change, where balance of "
                   "threat and balance of power disagree)")
    f.add_argument("--max-rows", type=positive_int, default=50_000, metavar="N",
                   help="use at most N (point, system) rows, drawn at random (default 50000)")
    f.add_argument("--trees", type=positive_int, default=200, metavar="N",
                   help="trees of the forest (default 200)")
    f.add_argument("--repeats", type=positive_int, default=10, metavar="N",
                   help="shuffles per feature for the permutation importance (default 10)")
    f.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the row sample, the trees and the shuffles (default 0)")
    _add_output_options(f)
    f.set_defaults(func=cmd_features)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """``--figures DIR`` and ``--json``, shared by the analyses that draw one figure."""
    p.add_argument("--figures", metavar="DIR", help="directory of the figure "
                   "(default: <store name>_figures next to the store)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _is_store(path: Path) -> bool:
    return path.is_dir() and (path / "zarr.json").exists()


def cmd_sensitivity(args) -> int:
    import json

    from ..analysis.given_data import summary_text as given_summary
    from ..analysis.plot import default_out_dir
    from ..analysis.sensitivity import analyze_store, run_sensitivity, summary_text
    from ..config import ConfigError, load_config
    from ..engine.sweep import SweepInterrupted

    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    source = Path(args.config)
    if _is_store(source):
        # a store: analyse it again, never sweep
        for flag in ("resume", "overwrite", "samples"):
            if getattr(args, flag):
                raise ConfigError(f"--{flag}: not allowed when CONFIG is a results store")
        if args.out and Path(args.out).resolve() != source.resolve():
            raise ConfigError("--out: not allowed when CONFIG is a results store")
        analysis = analyze_store(source, outcomes=args.outcomes, conf_level=args.conf_level,
                                 num_resamples=args.resamples, method=args.method,
                                 convergence=args.convergence)
        out, swept = source, False
        systems = _systems(source)
    else:
        if args.method not in (None, "sobol", "morris"):
            raise ConfigError(f"--method: {args.method} analyses an existing store of any "
                              "design; run the sweep first (mc-threat sweep CONFIG) and give "
                              "the store")
        config = load_config(source)
        out = Path(args.out) if args.out else Path("results") / (source.stem + ".zarr")
        try:
            report = run_sensitivity(
                config, out, analyze_only=args.analyze_only, resume=args.resume,
                overwrite=args.overwrite, workers=args.workers, scheduler=args.scheduler,
                cluster_file=args.cluster, progress=not args.quiet, systems=args.systems,
                outcomes=args.outcomes, conf_level=args.conf_level,
                num_resamples=args.resamples, design=args.method or args.design,
                convergence=args.convergence, samples=args.samples)
        except SweepInterrupted:
            print(f"\nmc-threat: interrupted; finished tasks are saved in {out}.\n"
                  f"Resume with: {resume_command(args, out, 'sensitivity')}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        analysis, swept, systems = report.analysis, report.swept, report.systems_per_point
    if "base_samples" in analysis.dims:
        files = _convergence_figures(analysis, args.figures or default_out_dir(out))
        if not args.quiet:
            print(convergence_text(analysis) + f"\n{len(files)} convergence figure(s) "
                  f"written to {files[0].parent if files else '-'}\n")
    method = json.loads(analysis.attrs.get("sensitivity", "{}")).get("method")
    if method in ("delta", "pawn", "rbd_fast"):
        files = _given_figures(analysis, method, args.figures or default_out_dir(out))
    if not args.quiet:
        if method in ("delta", "pawn", "rbd_fast"):
            print(given_summary(analysis))
            print(f"\n{len(files)} figure(s) written to "
                  f"{files[0].parent if files else '-'}")
        else:
            print(summary_text(analysis, systems))
        how = "sweep run, then analysed" if swept else "analysed without recomputing the sweep"
        print(f"\n{analysis.sizes['outcome']} outcome(s) x {analysis.sizes['factor']} "
              f"factor(s), {how}.")
        print(f"indices written to {out}   (figures: mc-threat plot {out})")
    return 0


def _systems(store: Path) -> int:
    from ..store import Store

    try:
        return int(Store(store).attrs["systems_per_point"])
    except Exception:  # a calibration store: no systems per point
        return 0


def convergence_text(analysis) -> str:
    """Per outcome, the largest change of any factor's ST and S1 between the two largest
    base samples, next to the largest interval half-width at the largest."""
    import numpy as np

    sizes = [int(n) for n in analysis["base_samples"].values]
    lines = [f"convergence over base samples {', '.join(map(str, sizes))}: largest change "
             f"of any factor's index from N={sizes[-2] if len(sizes) > 1 else sizes[-1]} "
             f"to N={sizes[-1]} (and largest half-width at N={sizes[-1]})"]
    for o in analysis["outcome"].values:
        cells = []
        for var in ("ST", "S1"):
            v = analysis[f"{var}_convergence"].sel(outcome=o).values
            c = analysis[f"{var}_conf_convergence"].sel(outcome=o).values
            if not np.isfinite(v[-1]).any():
                cells.append(f"{var} n/a")
                continue
            change = np.nanmax(np.abs(v[-1] - v[-2])) if len(sizes) > 1 else np.nan
            cells.append(f"{var} {change:.3f} (±{np.nanmax(c[-1]):.3f})")
        lines.append(f"  {str(o):22s} " + "   ".join(cells))
    return "\n".join(lines)


def _convergence_figures(analysis, out_dir) -> list[Path]:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    from ..analysis.plot_analysis import convergence_figure, save_figure

    files = []
    for o in analysis["outcome"].values:
        if not np.isfinite(analysis["ST_convergence"].sel(outcome=o).values).any():
            continue  # constant outcome: no indices to draw
        fig = convergence_figure(analysis, str(o))
        files += save_figure(fig, out_dir, f"convergence_{o}", formats=("png", "pdf"))
    return [f for f in files if f.suffix == ".png"]


def _given_figures(analysis, method: str, out_dir) -> list[Path]:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    from ..analysis.plot_analysis import given_indices_figure, save_figure

    var = "delta" if method == "delta" else "pawn" if method == "pawn" else "S1"
    files = []
    for o in analysis["outcome"].values:
        if not np.isfinite(analysis[var].sel(outcome=o).values).any():
            continue  # constant outcome
        files += save_figure(given_indices_figure(analysis, str(o)), out_dir,
                             f"{method}_{o}", formats=("png", "pdf"))
    return [f for f in files if f.suffix == ".png"]


def cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from ..analysis.plot import default_out_dir, plot_store
    from ..config import ConfigError
    from ..kernels import OUTCOMES
    from ..store import store_kind

    formats = [f.lower() for f in args.format]
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad or not formats:
        raise ConfigError(f"--format: must be png, pdf or svg, got {', '.join(bad) or 'none'}")
    outcomes = args.outcomes
    if outcomes == ["all"]:
        outcomes = list(OUTCOMES)
    out = Path(args.out) if args.out else default_out_dir(args.store)
    if store_kind(args.store) == "calibration":
        from ..analysis.plot_calibration import plot_calibration_store

        if args.heatmap or args.outcomes:
            raise ConfigError("--outcomes, --heatmap: a calibration store has its own two "
                              "figures (accuracy over the design, side probabilities)")
        files = plot_calibration_store(args.store, out, formats=formats)
    else:
        files = plot_store(args.store, out, outcomes=outcomes, heatmap=args.heatmap,
                           formats=formats)
    if not args.quiet:
        for f in files:
            print(f)
        print(f"{len(files)} file(s) written to {out}")
    return 0


def cmd_discover(args) -> int:
    import json

    import matplotlib

    matplotlib.use("Agg")
    from ..analysis.discover import discover_store, group_name, summary_text
    from ..analysis.plot import default_out_dir
    from ..analysis.plot_analysis import save_figure, trajectory_figure

    d = discover_store(args.store, args.outcome, above=args.above, below=args.below,
                       method=args.method, min_density=args.min_density,
                       mass_min=args.mass_min, max_boxes=args.max_boxes)
    out = Path(args.figures) if args.figures else default_out_dir(args.store)
    files = save_figure(trajectory_figure(d), out, f"discover_{d.method}_{d.outcome}",
                        formats=("png", "pdf"))
    if args.json:
        print(json.dumps({**d.as_dict(), "group": group_name(d.method, d.outcome),
                          "figures": [str(f) for f in files]}, indent=2))
    else:
        print(summary_text(d))
        print(f"\nboxes written to {args.store} (group {group_name(d.method, d.outcome)}); "
              f"figure: {files[0]}")
    return 0


def cmd_features(args) -> int:
    import json

    import matplotlib

    matplotlib.use("Agg")
    from ..analysis.features import FEATURES_GROUP, features_store, summary_text
    from ..analysis.plot import default_out_dir
    from ..analysis.plot_analysis import features_figure, save_figure

    s = features_store(args.store, args.outcome, max_rows=args.max_rows, trees=args.trees,
                       repeats=args.repeats, seed=args.seed)
    out = Path(args.figures) if args.figures else default_out_dir(args.store)
    files = save_figure(features_figure(s), out, f"features_{s.outcome}",
                        formats=("png", "pdf"))
    group = f"{FEATURES_GROUP}/{s.outcome}"
    if args.json:
        print(json.dumps({**s.as_dict(), "group": group, "figures": [str(f) for f in files]},
                         indent=2))
    else:
        print(summary_text(s))
        print(f"\nscores written to {args.store} (group {group}); figure: {files[0]}")
    return 0
