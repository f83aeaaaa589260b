"""The ``mc-threat`` command line: thin commands over the library, no logic of their own.

Every expected failure (a bad config, a bad argument, a store that exists) prints one
``mc-threat: error: ...`` message per problem to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..text import table
from .options import (  # noqa: F401  (re-exported: they were defined here)
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_sweep_options,
    nonnegative_int,
    positive_int,
    resume_command,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: usage line + one message, status 2
        self.print_usage(sys.stderr)
        print(f"mc-threat: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mc-threat", description="Monte Carlo engine for Walt's balance-of-threat "
                "theory of alliance formation.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("sweep", help="run a sweep into a zarr results store")
    s.add_argument("config", help="YAML config (see configs/default.yaml)")
    s.add_argument("--out", help="results store (default: results/<config name>.zarr)")
    add_sweep_options(s)
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary table")

    i = sub.add_parser(
        "info", help="describe a results store and how complete it is",
        description="Describe a results store: its design, points, systems per point and "
        "tasks; when it was started and finished; whether it holds a sensitivity analysis "
        "(mc-threat sensitivity); and its status: complete, incomplete (finish it with "
        "mc-threat sweep CONFIG --out STORE --resume) or damaged (one 'damage:' line per "
        "problem; --resume with the config it was made from repairs it). Exit status 0 in "
        "all three cases, 2 when STORE is not a results store. Reads the whole store once.")
    i.add_argument("store", help="results store (.zarr directory)")

    n = sub.add_parser("init", help="copy the example configs and cases into DIR/configs "
                       "for editing", description="Copy the configs shipped with mc-threat "
                       "(default.yaml, weights_grid.yaml, sobol_weights.yaml, "
                       "cluster_slurm.yaml) and the historical cases (cases/) into DIR/configs, "
                       "so that the README's commands (mc-threat sweep configs/default.yaml, "
                       "...) work from DIR. Existing files are never replaced.")
    n.add_argument("dir", metavar="DIR", help="directory to copy into (created if missing)")
    b = sub.add_parser("bench", help="throughput benchmark (see scripts/bench.py)")
    b.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    b.add_argument("--out", default="results/bench.json")

    from .analysis import add_analysis_parsers
    from .case import add_case_parser, cmd_case

    add_analysis_parsers(sub)  # sensitivity, plot
    add_case_parser(sub).set_defaults(func=cmd_case)
    from .history import add_history_parser

    add_history_parser(sub)  # history (issue 16)
    return p


def _version() -> str:
    from .. import __version__

    return f"mc-threat {__version__}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..config import ConfigError
    from ..store import StoreError

    handler = getattr(args, "func", None) or _COMMANDS[args.command]
    try:
        return handler(args)
    except (ConfigError, StoreError) as exc:
        for line in str(exc).splitlines():
            print(f"mc-threat: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C outside a sweep's own handling: no traceback
        print("\nmc-threat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def cmd_sweep(args) -> int:
    from ..config import ConfigError, load_config
    from ..engine.sweep import SweepInterrupted, run_sweep

    config = load_config(args.config)
    out = Path(args.out) if args.out else Path("results") / (Path(args.config).stem + ".zarr")
    if args.resume and args.overwrite:
        print("mc-threat: error: --resume and --overwrite exclude each other", file=sys.stderr)
        return EXIT_USAGE
    note = lowered_chunk_note(config, args.systems)
    try:
        report = run_sweep(config, out, workers=args.workers, scheduler=args.scheduler,
                           resume=args.resume, overwrite=args.overwrite,
                           progress=not args.quiet, systems=args.systems,
                           cluster_file=args.cluster, samples=args.samples)
    except ConfigError as exc:  # a value invalid at some sweep point: name the file too
        raise ConfigError([f"{args.config}: {line}" if line.startswith(_CONFIG_PATHS) else line
                           for line in exc.errors]) from None
    except (SweepInterrupted, KeyboardInterrupt):
        print(f"\nmc-threat: interrupted; finished tasks are saved in {out}.\n"
              f"Resume with: {resume_command(args, out)}", file=sys.stderr)
        if note:
            print(f"mc-threat: {note}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        from ..store import open_results

        print(summary_table(open_results(out)))
        rate = report.point_systems_per_second
        compiled = (f", {report.compile_seconds:.0f} s of it compiling kernels"
                    if report.compile_seconds >= 1 else "")
        print(f"\n{report.points} point(s) x {report.systems_per_point:,} systems, "
              f"{report.tasks_run}/{report.tasks_total} tasks run in {report.seconds:.1f} s"
              + compiled + (f" ({rate:,.0f} point-systems/s)" if rate == rate else ""))
        if note:
            print(note)
        print(f"results: {out}   (open with: mc_threat.open_results('{out}'))")
    return 0


def lowered_chunk_note(config, systems: int | None) -> str:
    """A line saying that ``--systems`` lowers the config's ``run.chunk`` to fit, or ``""``
    (a config file with ``chunk`` above ``systems`` is an error; the option adapts the chunk
    instead, and says so once the run ends or is interrupted)."""
    if systems is not None and config.run.chunk > systems:
        return (f"note: --systems {systems} is below the config's run.chunk "
                f"({config.run.chunk:,}), so run.chunk was lowered to {systems} (its "
                "--resume does the same)")
    return ""


# Error lines about a config field (rather than a command-line option) start with one of these.
_CONFIG_PATHS = ("sweep", "model.", "generator.", "run.")


def summary_table(ds, max_points: int = 8) -> str:
    """Outcome means ± standard errors, one column per point (at most ``max_points``),
    under a title line that says what the ``±`` is."""
    from ..kernels import OUTCOMES

    n_points = ds.sizes["point"]
    shown = list(range(min(n_points, max_points)))
    factors = list(ds.attrs.get("factors", []))
    head = ["outcome"] + [f"point {p}" for p in shown]
    rows = [head]
    for f in factors:
        rows.append([f] + [_fmt_value(ds[f].values[p]) for p in shown])
    for name in OUTCOMES:
        mean = ds[name].sel(stat="mean").values
        sem = ds[name].sel(stat="sem").values
        rows.append([name] + [f"{mean[p]:.4f} ± {sem[p]:.2g}" for p in shown])
    lines = table(rows, strip=False)
    if n_points > max_points:
        lines.append(f"... {n_points - max_points} more point(s) in the store")
    systems = ds.attrs.get("systems_per_point")
    over = f" over {int(systems):,} systems per point" if systems else ""
    lines.insert(0, f"outcome means ± their Monte Carlo standard errors (sem){over}")
    return "\n".join(lines)


def _fmt_value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def cmd_info(args) -> int:
    """Describe a store: complete, incomplete, or damaged (with what is wrong). The exit
    status is 0 whenever the store could be described, damaged or not; the ``status:`` line
    says which (2: not a results store)."""
    from ..engine.check import check_store
    from ..store import store_kind

    if store_kind(args.store) == "calibration":
        from .case import info_calibration

        return info_calibration(args.store)
    chk = check_store(args.store)
    a, design, plan = chk.attrs, chk.design, chk.plan
    kind = a.get("design") or (design.kind if design is not None else "?")
    factors = a.get("factors") or (list(design.factors) if design is not None else [])
    print(f"store:     {chk.path}")
    print(f"design:    {kind} over {', '.join(factors) or '(no factors)'}")
    if plan is not None:
        print(f"points:    {plan.n_points}, {plan.systems:,} systems each in "
              f"{plan.n_chunks} chunk(s)")
        print(f"tasks:     {chk.tasks_done}/{chk.tasks} done, "
              f"{chk.blocks_merged}/{chk.blocks} point blocks merged")
    if chk.config is not None and chk.config.run.reservoir:
        print(f"reservoir: systems 0..{chk.config.run.reservoir - 1} kept at every point "
              "(mc-threat features STORE; mc_threat.open_reservoir)")
    print(f"started:   {a.get('started', '?')}")
    print(f"finished:  {a.get('finished') or '(not finished)'}")
    print(f"analysis:  {_analysis_line(a, kind, chk.path)}")
    if chk.status == "damaged":
        print("status:    damaged: resume it with the config it was made from "
              "(mc-threat sweep CONFIG --out STORE --resume) to repair it")
        for line in chk.problems:
            print(f"damage:    {line}")
    elif chk.complete:
        print("status:    complete")
    else:
        print("status:    incomplete: run the sweep with --resume")
    return 0


def shipped_configs() -> Path:
    """The directory of the configs installed with the package (``configs/`` of the
    repository, reached through the ``mc_threat/data/configs`` symlink in a checkout)."""
    return Path(__file__).resolve().parents[1] / "data" / "configs"


def cmd_init(args) -> int:
    """Copy the shipped configs and cases into ``DIR/configs``; refuse, writing nothing, if
    any of those files already exists."""
    from ..config import ConfigError

    src = shipped_configs()
    files = sorted([*src.glob("*.yaml"), *(src / "cases").glob("*.yaml"),
                    *(src / "cases").glob("*.csv")])
    if not files:
        raise ConfigError(f"{src}: no shipped configs found (is mc-threat installed?)")
    dest = Path(args.dir) / "configs"
    targets = [dest / f.relative_to(src) for f in files]
    there = [t for t in targets if t.exists() or t.is_symlink()]
    if there:
        raise ConfigError(f"{args.dir}: {len(there)} of the files already exist, e.g. "
                          f"{there[0]}; nothing was copied (init never replaces a file)")
    try:
        for f, t in zip(files, targets, strict=True):
            t.parent.mkdir(parents=True, exist_ok=True)
            t.write_bytes(f.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{args.dir}: cannot write ({exc.strerror or exc})") from None
    print(f"copied {len(files)} files into {dest}:")
    for t in targets:
        if t.parent == dest:
            print(f"  {t}")
    print(f"  {dest / 'cases'}/ ({len(targets) - sum(t.parent == dest for t in targets)} "
          "files: the historical cases)")
    print(f"next: cd {args.dir} && mc-threat sweep configs/default.yaml")
    return 0


def _analysis_line(attrs: dict, kind: str, path) -> str:
    """What ``mc-threat info`` says about the sensitivity analysis stored in a store."""
    import json

    try:
        meta = json.loads(attrs.get("sensitivity") or "null")
    except ValueError:
        meta = None
    if isinstance(meta, dict):
        method = {"sobol": "Sobol", "morris": "Morris"}.get(meta.get("method"), "?")
        return (f"{method} indices stored (analysed {meta.get('analyzed', '?')}); draw them "
                f"with: mc-threat plot {path}")
    if kind in ("sobol", "morris"):
        return f"none yet; compute it with: mc-threat sensitivity {path}"
    return "none (a sensitivity analysis needs a sobol or morris design)"


def cmd_bench(args) -> int:
    from ..perf.bench import run_bench

    run_bench(quick=args.quick, out=args.out)
    return 0


_COMMANDS = {"sweep": cmd_sweep, "info": cmd_info, "bench": cmd_bench, "init": cmd_init}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
