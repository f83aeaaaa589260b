"""``mc-threat sensitivity`` and ``mc-threat plot``: thin commands over
:mod:`mc_threat.sensitivity` and :mod:`mc_threat.plot`.

:func:`add_analysis_parsers` registers both subcommands on the ``mc-threat`` subparsers and
sets each one's handler as ``func`` (``args.func(args)`` returns the exit status). Bad input
raises :class:`~mc_threat.config.ConfigError` or :class:`~mc_threat.store.StoreError`, which
``mc_threat.cli.main`` prints as ``mc-threat: error:`` lines with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import (
    EXIT_INTERRUPTED,
    _positive_int,
    add_sweep_options,
    resume_command,
)


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_analysis_parsers(subparsers) -> None:
    """Register the ``sensitivity`` and ``plot`` subcommands on ``subparsers``."""
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
    s.add_argument("--resamples", type=_positive_int,
                   help="bootstrap resamples (default: 100 Sobol, 1000 Morris)")
    s.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    s.set_defaults(func=cmd_sensitivity)

    p = subparsers.add_parser(
        "plot", help="figures for papers from a results store (PNG and PDF)",
        description="Draw the figures that apply to a results store: sensitivity indices per "
        "outcome (S1 beside ST, or Morris mu* beside sigma), their overview, heatmaps of "
        "outcomes over two swept factors, choices by relative power, and balance of threat "
        "against balance of power.")
    p.add_argument("store", metavar="STORE", help="results store (.zarr)")
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


def _is_store(path: Path) -> bool:
    return path.is_dir() and (path / "zarr.json").exists()


def cmd_sensitivity(args) -> int:
    from .config import ConfigError, load_config
    from .sensitivity import analyze_store, run_sensitivity, summary_text
    from .store import Store
    from .sweep import SweepInterrupted

    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    source = Path(args.config)
    if _is_store(source):
        # a store: analyse it again, never sweep
        for flag in ("resume", "overwrite"):
            if getattr(args, flag):
                raise ConfigError(f"--{flag}: not allowed when CONFIG is a results store")
        if args.out and Path(args.out).resolve() != source.resolve():
            raise ConfigError("--out: not allowed when CONFIG is a results store")
        analysis = analyze_store(source, outcomes=args.outcomes, conf_level=args.conf_level,
                                 num_resamples=args.resamples)
        out, swept, systems = source, False, int(Store(source).attrs["systems_per_point"])
    else:
        config = load_config(source)
        out = Path(args.out) if args.out else Path("results") / (source.stem + ".zarr")
        try:
            report = run_sensitivity(
                config, out, analyze_only=args.analyze_only, resume=args.resume,
                overwrite=args.overwrite, workers=args.workers, scheduler=args.scheduler,
                cluster_file=args.cluster, progress=not args.quiet, systems=args.systems,
                outcomes=args.outcomes, conf_level=args.conf_level,
                num_resamples=args.resamples, design=args.design)
        except SweepInterrupted:
            print(f"\nmc-threat: interrupted; finished tasks are saved in {out}.\n"
                  f"Resume with: {resume_command(args, out, 'sensitivity')}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        analysis, swept, systems = report.analysis, report.swept, report.systems_per_point
    if not args.quiet:
        print(summary_text(analysis, systems))
        how = "sweep run, then analysed" if swept else "analysed without recomputing the sweep"
        print(f"\n{analysis.sizes['outcome']} outcome(s) x {analysis.sizes['factor']} "
              f"factor(s), {how}.")
        print(f"indices written to {out}   (figures: mc-threat plot {out})")
    return 0


def cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from .config import ConfigError
    from .kernels import OUTCOMES
    from .plot import default_out_dir, plot_store

    formats = [f.lower() for f in args.format]
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad or not formats:
        raise ConfigError(f"--format: must be png, pdf or svg, got {', '.join(bad) or 'none'}")
    outcomes = args.outcomes
    if outcomes == ["all"]:
        outcomes = list(OUTCOMES)
    out = Path(args.out) if args.out else default_out_dir(args.store)
    files = plot_store(args.store, out, outcomes=outcomes, heatmap=args.heatmap,
                       formats=formats)
    if not args.quiet:
        for f in files:
            print(f)
        print(f"{len(files)} file(s) written to {out}")
    return 0
