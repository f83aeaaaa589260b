"""``mc-threat case``: evaluate, score, calibrate and (re)build historical cases.

Wired into :mod:`mc_threat.cli` with :func:`add_case_parser` and :func:`cmd_case`. Bad input
raises :class:`~mc_threat.config.ConfigError` (an existing store
:class:`~mc_threat.store.StoreError`), which ``cli.main`` prints as ``mc-threat: error:``
lines with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..text import table
from .options import model_overrides, option_error


def add_case_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``case`` subcommand on ``subparsers`` (from ``add_subparsers``)."""
    c = subparsers.add_parser(
        "case", help="evaluate a historical case, score it, calibrate it",
        description="Evaluate a historical case (configs/cases/NAME.yaml): principal threats, "
        "choices, blocs and the accuracy against the observed alignment, for balance of "
        "threat and balance of power. --calibrate sweeps the model parameters with attribute "
        "uncertainty; --build remakes the case's tables from the COW data.")
    c.add_argument("case", help="a case name (europe_1936, europe_1914, coldwar_1955) or the "
                   "path of a case YAML")
    g = c.add_argument_group("model parameters (default: the case file's model section)")
    g.add_argument("--weights", metavar="W", help="criterion weights: four numbers "
                   "'A,D,O,I' (power, proximity, offense, intent) or pairs like "
                   "'power=1,intent=3' (the others from the case)")
    g.add_argument("--form", choices=("additive", "multiplicative"))
    g.add_argument("--reach", type=float, metavar="KM", help="proximity reach in km")
    g.add_argument("--bandwagon-ratio", type=float, metavar="BETA")
    g.add_argument("--viability", type=float, metavar="ALPHA")
    g.add_argument("--neutral-below", type=float, metavar="X")
    c.add_argument("--observed", metavar="CODING", help="score against another coding of "
                   "the observed alignment (observed.codings of the case)")
    c.add_argument("--matrix", action="store_true", help="print the full threat matrix")
    c.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    k = c.add_argument_group("calibration")
    k.add_argument("--calibrate", action="store_true", help="sweep the model parameters "
                   "(calibrate.sweep of the case) with perturbed attributes; write a zarr store")
    k.add_argument("--samples", type=int, metavar="N", help="points of an lhs/sobol design "
                   "(overrides calibrate.sweep.samples)")
    k.add_argument("--draws", type=int, metavar="N", help="perturbed attribute draws per point "
                   "(0: nominal attributes only)")
    k.add_argument("--seed", type=int, help="seed of the attribute perturbations")
    k.add_argument("--out", help="calibration store (default: results/cases/NAME.zarr)")
    k.add_argument("--overwrite", action="store_true", help="replace an existing store")
    k.add_argument("--quiet", action="store_true", help="no progress bar")
    b = c.add_argument_group("building")
    b.add_argument("--build", action="store_true", help="(re)write the case's tables from COW "
                   "data following its build section")
    b.add_argument("--data-dir", metavar="DIR", help="COW tables to build from (default: the "
                   "ones shipped in mc_threat/data/cow)")
    b.add_argument("--check", action="store_true", help="with --build: only check that the "
                   "tables on disk are what the build gives")
    return c


def cmd_case(args) -> int:
    """Run ``mc-threat case`` with parsed ``args``; returns the exit status."""
    from ..cases import load_case
    from ..config import ConfigError

    if args.build:
        return _cmd_build(args)
    if args.check:
        raise ConfigError("--check: only with --build")
    case = load_case(args.case, coding=args.observed)
    upd = model_overrides(args)
    if upd:
        from dataclasses import replace

        from ..cases import case_params

        try:
            case = replace(case, model=case_params(case, upd))
        except ConfigError as exc:
            raise ConfigError([option_error(line) for line in exc.errors]) from None
    if args.calibrate:
        return _cmd_calibrate(args, case)
    for flag in ("samples", "draws", "seed", "out"):
        if getattr(args, flag) is not None:
            raise ConfigError(f"--{flag}: only with --calibrate")
    if args.overwrite:
        raise ConfigError("--overwrite: only with --calibrate")
    from ..cases import evaluate_case

    ev = evaluate_case(case)
    if args.json:
        json.dump(ev.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(format_evaluation(ev, matrix=args.matrix))
    return 0


# ---------------------------------------------------------------------------------------------
# Text output
# ---------------------------------------------------------------------------------------------


def _params_line(p) -> str:
    w = p.weights
    return (f"{p.form}, weights power={w.power:g} proximity={w.proximity:g} "
            f"offense={w.offense:g} intent={w.intent:g}, reach={p.reach:g} km, "
            f"bandwagon_ratio={p.bandwagon_ratio:g}, viability={p.viability:g}, "
            f"neutral_below={p.neutral_below:g}")


def format_evaluation(ev, matrix: bool = False) -> str:
    """The text report of ``mc-threat case CASE``."""
    from ..cases import CHOICE_NAMES, bloc_name

    c = ev.case
    n = c.n
    lines = [f"case {c.name}: {c.title}" + (f" ({c.year})" if c.year is not None else ""),
             f"{n} states, {c.n_scored} scored against '{c.coding}' "
             f"({', '.join(c.sides)}); intent {'dyadic' if c.dyadic else 'monadic'}, "
             f"power from {c.power_source}",
             f"model: {_params_line(ev.params)}", ""]
    T = ev.threat_matrix
    named = [int((ev.threat.target == j).sum()) for j in range(n)]
    mean_in = [float(sum(T[i, j] for i in range(n) if i != j) / (n - 1)) for j in range(n)]
    rows = [["state", "power", "offense", "threat", "T", "runner-up", "T", "choice", "bloc",
             "predicted", "observed", "| BoP threat", "choice", "bloc", "predicted"]]
    for i in range(n):
        order = sorted((j for j in range(n) if j != i), key=lambda j: (-T[i, j], j))
        t = int(ev.threat.target[i])
        r2 = order[1] if order[0] == t and len(order) > 1 else order[0]
        pred = int(ev.threat.predicted[i])
        bpred = int(ev.power.predicted[i])
        obs = c.observed[i]
        mark = "" if obs is None else (" ok" if pred >= 0 and c.sides[pred] == obs else " x")
        bmark = "" if obs is None else (" ok" if bpred >= 0 and c.sides[bpred] == obs
                                        else " x")
        rows.append([
            c.abb[i], f"{c.power[i]:.4f}", f"{c.offense[i]:.2f}", c.abb[t],
            f"{ev.threat.theta[i]:.3f}", c.abb[r2], f"{T[i, r2]:.3f}",
            CHOICE_NAMES[ev.threat.choice[i]], bloc_name(int(ev.threat.bloc[i]), c),
            (c.sides[pred] if pred >= 0 else "-") + mark, obs or "(not scored)",
            "| " + c.abb[int(ev.power.target[i])], CHOICE_NAMES[ev.power.choice[i]],
            bloc_name(int(ev.power.bloc[i]), c), (c.sides[bpred] if bpred >= 0 else "-") + bmark,
        ])
    lines += table(rows, right={1, 2, 4, 6})
    lines += ["", "threat summary (column means of T: how threatening each state looks to the "
              "others; named: states whose principal threat it is)"]
    order = sorted(range(n), key=lambda j: (-named[j], -mean_in[j], j))
    srows = [["state", "named by", "mean T", "max T", "perceived most by"]]
    for j in order:
        col = [(T[i, j], i) for i in range(n) if i != j]
        mx, who = max(col, key=lambda x: (x[0], -x[1]))
        srows.append([c.abb[j], str(named[j]), f"{mean_in[j]:.3f}", f"{mx:.3f}", c.abb[who]])
    lines += table(srows, right={1, 2, 3})
    if matrix:
        lines += ["", "threat matrix T[i, j] (row i: perceiver, column j: candidate)"]
        mrows = [["", *c.abb]]
        for i in range(n):
            mrows.append([c.abb[i], *["-" if i == j else f"{T[i, j]:.3f}" for j in range(n)]])
        lines += table(mrows, right=set(range(1, n + 1)))
    t, p = ev.threat, ev.power
    lines += ["",
              f"accuracy  balance of threat: {t.correct}/{t.n_scored} = {t.accuracy:.3f}"
              f"    balance of power: {p.correct}/{p.n_scored} = {p.accuracy:.3f}",
              *null_lines(ev.null_models(), t.n_scored),
              "matching  threat: " + _matching(t.matching(c)),
              "          power:  " + _matching(p.matching(c))]
    return "\n".join(lines)


def null_lines(nm: dict, m: int) -> list[str]:
    """The null models beside a case accuracy (``CaseEvaluation.null_models``)."""
    mj = nm["majority"]
    pt, pp = nm["permutation"]["balance_of_threat"], nm["permutation"]["balance_of_power"]
    return [f"null      majority (one bloc for all, matched to '{mj['side']}'): "
            f"{mj['correct']}/{m} = {mj['accuracy']:.3f}",
            f"          permutation (the predicted blocs assigned at random, "
            f"{pt['permutations']} draws): mean {pt['mean_accuracy']:.3f}, p = "
            f"{pt['p_value']:.3f} (threat); mean {pp['mean_accuracy']:.3f}, p = "
            f"{pp['p_value']:.3f} (power)"]


def _matching(m: dict) -> str:
    return ", ".join(f"{b} -> {s}" for b, s in m.items()) or "(no bloc matched)"


def _pct(x) -> str:
    return f"{100 * x:.1f} %"


def _range(v) -> str:
    if isinstance(v[0], str):
        return "{" + ", ".join(v) + "}"
    return f"[{v[0]:.3g}, {v[1]:.3g}]"


def format_calibration(s: dict) -> str:
    """The text report of ``mc-threat case CASE --calibrate``."""
    m = s["n_scored"]
    b = s["best"]
    u = s["uncertainty"]
    p = b["params"]
    lines = [
        f"calibration of {s['case']} (coding '{s['coding']}'): {s['points']} points "
        f"({s['design']} over {', '.join(s['factors'])}) x {s['draws']} draws of perturbed "
        f"attributes (power x(1 +- {u['power']:g}), offense +- {u['offense']:g}, intent "
        f"+- {u['intent']:g}), seed {s['seed']}",
        f"done in {s.get('seconds', float('nan')):.1f} s"
        + (f"; results in {s['store']}" if s.get("store") else ""),
        "",
        f"best point #{b['point']}: balance of threat {b['correct']}/{m} = {b['accuracy']:.3f}"
        f"   (balance of power at the same point: {s['balance_of_power']['at_best']['correct']}"
        f"/{m} = {s['balance_of_power']['at_best']['accuracy']:.3f})",
        *_calibration_null_lines(s.get("null_models"), m),
        "  weight shares w/W: " + ", ".join(f"{k} {v:.3f}" for k, v in
                                             b["weight_shares"].items()),
        f"  form {p['form']}, reach {p['reach']:.4g} km, bandwagon_ratio "
        f"{p['bandwagon_ratio']:.4g}, viability {p['viability']:.4g}, neutral_below "
        f"{p['neutral_below']:.4g}",
        "",
        "robustness",
    ]
    if b["accuracy_mc"] is not None:
        a = b["accuracy_mc"]
        lines.append(f"  attribute uncertainty at the best point: accuracy {a['mean']:.3f} +- "
                     f"{a['std']:.3f} (mean +- sd over {int(a['count'])} draws, min "
                     f"{a['min']:.3f}, max {a['max']:.3f}); {_pct(b['share_draws_at_best'])} "
                     f"of draws reach {b['correct']}/{m} or better")
    r = s["robustness"]
    lines.append(f"  parameter space: {r['points_at_best']} of {s['points']} points "
                 f"({_pct(r['share_at_best'])}) reach {b['correct']}/{m}; "
                 f"{r['points_within_one']} ({_pct(r['share_within_one'])}) reach "
                 f"{b['correct'] - 1}/{m} or better")
    rows = [["factor", f"range at {b['correct']}/{m}", f"range at >= {b['correct'] - 1}/{m}"]]
    for f, v in r["ranges_at_best"].items():
        rows.append([f, _range(v), _range(r["ranges_within_one"][f])])
    lines += ["  " + x for x in table(rows)]
    bp = s["balance_of_power"]
    lines += [
        "",
        f"balance of power: best over the sweep {bp['best_over_sweep']['correct']}/{m} = "
        f"{bp['best_over_sweep']['accuracy']:.3f} (it depends only on bandwagon_ratio, "
        f"viability, neutral_below); balance of threat scores higher at "
        f"{_pct(bp['share_points_threat_better'])} of the points, lower at "
        f"{_pct(bp['share_points_power_better'])}",
        "",
        "each state at the best point (probability of ending on each side over the draws)",
    ]
    sides = list(b["states"][0]["side_probability"])
    rows = [["state", "observed", "predicted", *[f"P({x})" for x in sides], "BoP predicted"]]
    for st in b["states"]:
        rows.append([st["abb"], st["observed"] or "(not scored)", st["predicted"] or "-",
                     *[f"{st['side_probability'][x]:.2f}" for x in sides],
                     st["bop_predicted"] or "-"])
    lines += table(rows, right=set(range(3, 3 + len(sides))))
    return "\n".join(lines)


def _calibration_null_lines(nm: dict | None, m: int) -> list[str]:
    if not nm:
        return []
    mj, pb, sr = nm["majority"], nm["permutation_at_best"], nm["search"]
    out = [f"  null: majority (one bloc for all, matched to '{mj['side']}') {mj['correct']}/{m}"
           f" = {mj['accuracy']:.3f}; the best point's blocs assigned at random: mean "
           f"{pb['mean_accuracy']:.3f}, p = {pb['p_value']:.3f} ({pb['permutations']} draws)"]
    if sr.get("permutations"):
        out.append(f"  null of the search (the same sweep against {sr['permutations']} "
                   f"permutations of the observed sides): best accuracy median "
                   f"{sr['best_accuracy_median']:.3f}, 95th percentile "
                   f"{sr['best_accuracy_q95']:.3f}, max {sr['best_accuracy_max']:.3f}; "
                   f"p = {sr['p_value']:.3f}")
    return out


def info_calibration(path) -> int:
    """``mc-threat info`` of a case calibration store: what was calibrated, how, and the
    report the calibration printed (from the summary kept in the store)."""
    from ..cases import open_calibration
    from ..store import StoreError, check_safe_metadata

    check_safe_metadata(path)
    ds = open_calibration(path)
    try:
        summary = json.loads(ds.attrs["summary"])
    except (KeyError, TypeError, ValueError):
        raise StoreError(f"{path}: a calibration store without a readable summary; calibrate "
                         "again with --overwrite") from None
    summary["store"] = str(path)
    print(f"store:     {path}")
    print(f"kind:      calibration of the case {ds.attrs.get('case', '?')} "
          f"(mc-threat case NAME --calibrate)")
    print(f"started:   {ds.attrs.get('started', '?')}")
    print(f"finished:  {ds.attrs.get('finished', '?')}")
    print(format_calibration(summary))
    return 0


def _cmd_calibrate(args, case) -> int:
    from ..cases import DEFAULT_SWEEP, calibrate_case
    from ..config import ConfigError

    if args.matrix:
        raise ConfigError("--matrix: not with --calibrate")
    sweep = case.calibrate.sweep if case.calibrate.sweep is not None else DEFAULT_SWEEP
    if args.samples is not None:
        if sweep.get("design") not in ("lhs", "sobol"):
            raise ConfigError(f"--samples: the case's calibration design is "
                              f"{sweep.get('design')!r}; --samples applies to lhs and sobol")
        if args.samples < 1:
            raise ConfigError(f"--samples: must be >= 1, got {args.samples}")
        sweep = {**sweep, "samples": args.samples}
    if args.draws is not None and args.draws < 0:
        raise ConfigError(f"--draws: must be >= 0, got {args.draws}")
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {args.seed}")
    out = Path(args.out) if args.out else Path("results") / "cases" / f"{case.name}.zarr"
    if (out.exists() or out.is_symlink()) and not args.overwrite:
        from ..store import StoreError

        raise StoreError(f"{out}: already exists; use --overwrite to calibrate again and "
                         f"replace it (a calibration store is written whole, never resumed), "
                         f"or --out for another store")
    cal = calibrate_case(case, out, sweep=sweep, draws=args.draws, seed=args.seed,
                         overwrite=args.overwrite,
                         progress=not (args.quiet or args.json) and sys.stderr.isatty())
    if args.json:
        json.dump(cal.summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(format_calibration(cal.summary))
    return 0


def _cmd_build(args) -> int:
    from ..cases.cow import write_case_tables
    from ..config import ConfigError

    for flag in ("calibrate", "json", "matrix"):
        if getattr(args, flag):
            raise ConfigError(f"--{flag}: not with --build")
    if any(getattr(args, k) is not None for k in ("weights", "form", "reach",
                                                   "bandwagon_ratio", "viability",
                                                   "neutral_below", "observed")):
        raise ConfigError("--build: model options do not apply to building a case")
    report = write_case_tables(args.case, data_dir=args.data_dir, check=args.check)
    for line in report.lines:
        print(line)
    return 1 if (args.check and not report.up_to_date) else 0
