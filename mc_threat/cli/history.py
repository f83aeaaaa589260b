"""``mc-threat history``: every system-year of a region against observed alliances.

Wired into :mod:`mc_threat.cli` with :func:`add_history_parser` and :func:`cmd_history`.
Bad input raises :class:`~mc_threat.config.ConfigError` (an existing store
:class:`~mc_threat.store.StoreError`), printed by ``cli.main`` as one
``mc-threat: error:`` line with exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_history_parser(subparsers):
    """Register the ``history`` subcommand."""
    from ..history.data import FIRST_YEAR, INTENT_SOURCES, LAST_YEAR, REGIONS
    from ..history.panel import DEFAULT_PERMUTATIONS, DEFAULT_SEED
    from ..history.search import DEFAULT_POINTS, DEFAULT_SEARCH_PERMUTATIONS

    h = subparsers.add_parser(
        "history", help="score every system-year of a region against observed alliances",
        description="Build the state system of every year of a period for a region (power "
        "from CINC, positions from capitals, offense and intent by the shipped cases' rules), "
        "predict the blocs under balance of threat and balance of power, and score 'same "
        "bloc' against 'allied' (an ATOP defense or offense pledge in force), pair by pair, "
        "beside null models; then calibrate on one period and score another. Rules and "
        "citations: docs/history.md.")
    h.add_argument("--region", choices=REGIONS, default="europe")
    h.add_argument("--years", default=f"{FIRST_YEAR}-2014", metavar="FIRST-LAST",
                   help=f"period, within {FIRST_YEAR}-{LAST_YEAR} (default {FIRST_YEAR}-2014, "
                   "the MID data's end)")
    h.add_argument("--intent", default="mid", metavar="SOURCE", help="intent source: "
                   f"{', '.join(INTENT_SOURCES)} (default mid; any '+' join of mid, td, tss, "
                   "territorial)")
    g = h.add_argument_group("model parameters (default: the shipped cases' defaults)")
    g.add_argument("--weights", metavar="W", help="'A,D,O,I' or pairs like 'power=1,intent=3'")
    g.add_argument("--form", choices=("additive", "multiplicative"))
    g.add_argument("--reach", type=float, metavar="KM")
    g.add_argument("--bandwagon-ratio", type=float, metavar="BETA")
    g.add_argument("--viability", type=float, metavar="ALPHA")
    g.add_argument("--neutral-below", type=float, metavar="X")
    h.add_argument("--permutations", type=int, default=DEFAULT_PERMUTATIONS, metavar="R",
                   help=f"random bloc assignments per year for the null (default "
                   f"{DEFAULT_PERMUTATIONS})")
    h.add_argument("--seed", type=int, default=DEFAULT_SEED)
    s = h.add_argument_group("out of sample")
    s.add_argument("--search-points", type=int, default=DEFAULT_POINTS, metavar="P",
                   help=f"LHS points of the calibration search (default {DEFAULT_POINTS}; 0: "
                   "no out-of-sample section)")
    s.add_argument("--train", default="1816-1913", metavar="FIRST-LAST")
    s.add_argument("--test", default="1919-2014", metavar="FIRST-LAST")
    s.add_argument("--search-permutations", type=int, default=DEFAULT_SEARCH_PERMUTATIONS,
                   metavar="R", help="permuted-observation searches for the null of the best "
                   f"score (default {DEFAULT_SEARCH_PERMUTATIONS})")
    s.add_argument("--cases", action="store_true", help="add leave-one-case-out over the "
                   "three shipped cases")
    h.add_argument("--compare-intents", action="store_true", help="add the panel under every "
                   f"intent source ({', '.join(INTENT_SOURCES)}) side by side")
    h.add_argument("--neutrals", action="store_true", help="add europe_1914 and coldwar_1955 "
                   "with the record's neutral states scored beside the belligerents")
    h.add_argument("--json", action="store_true", help="JSON on stdout")
    h.add_argument("--summary", action="store_true", help="table: the panel only, no line "
                   "per year")
    h.add_argument("--out", help="write a zarr store here")
    h.add_argument("--overwrite", action="store_true", help="replace an existing mc-threat "
                   "store (or empty directory) at --out")
    h.set_defaults(func=cmd_history)
    c = subparsers.add_parser(
        "claims", help="Walt's three claims as a reproducible report",
        description="(a) before both world wars the coalition against Germany had much greater "
        "combined power; (b) in 1955 more states sided with the stronger United States; (c) "
        "after 1991 no counterbalancing coalition formed against the United States (2004). "
        "For each: the record, balance of threat and balance of power at the defaults, over "
        "the calibrated region and under attribute uncertainty (docs/history.md).")
    c.add_argument("--points", type=int, default=4000, help="LHS points of the design the "
                   "calibrated region is taken from (default 4000)")
    c.add_argument("--draws", type=int, default=200, help="perturbed attribute draws "
                   "(default 200)")
    c.add_argument("--seed", type=int, default=DEFAULT_SEED)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_claims)
    return h


def cmd_claims(args) -> int:
    from ..config import ConfigError
    from ..history.claims import run_claims
    from ..history.output import claims_lines

    if args.points < 1:
        raise ConfigError(f"--points: must be >= 1, got {args.points}")
    for opt in ("draws", "seed"):
        if getattr(args, opt) < 0:
            raise ConfigError(f"--{opt}: must be >= 0, got {getattr(args, opt)}")
    r = run_claims(args.points, args.draws, args.seed)
    if args.json:
        json.dump(r, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print("\n".join(claims_lines(r)))
    return 0


def _years(text: str, option: str):
    from ..config import ConfigError
    from ..history.panel import parse_years

    try:
        return parse_years(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def cmd_history(args) -> int:
    from ..config import ConfigError
    from ..history.data import parse_intent
    from ..history.output import format_table, write_store
    from ..history.panel import default_params, run_history, to_json
    from .options import model_overrides, option_error

    years = _years(args.years, "--years")
    try:
        parse_intent(args.intent)
    except ValueError as exc:
        raise ConfigError(f"--intent: {exc}") from None
    for opt in ("permutations", "search_points", "search_permutations"):
        if getattr(args, opt) < 0:
            raise ConfigError(f"--{opt.replace('_', '-')}: must be >= 0, got "
                              f"{getattr(args, opt)}")
    if args.seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {args.seed}")
    if args.overwrite and not args.out:
        raise ConfigError("--overwrite: only with --out")
    try:
        params = default_params(**model_overrides(args))
    except ConfigError as exc:
        raise ConfigError([option_error(line) for line in exc.errors]) from None
    search = None
    if args.search_points:
        search = {"points": args.search_points, "train": _years(args.train, "--train"),
                  "test": _years(args.test, "--test"),
                  "permutations": args.search_permutations, "seed": args.seed}
    if args.out:  # fail before computing
        from ..store import StoreError, check_new_store

        out = Path(args.out)
        if (out.exists() or out.is_symlink()) and not args.overwrite:
            raise StoreError(f"{out}: already exists; use --overwrite to replace it")
        check_new_store(out, overwrite=args.overwrite)
    h = run_history(args.region, years, params, args.intent, args.permutations, args.seed,
                    search)
    if args.cases:
        from ..history.search import leave_one_case_out

        if h.result.get("out_of_sample") is None:
            h.result["out_of_sample"] = {}
        h.result["out_of_sample"]["leave_one_case_out"] = leave_one_case_out()
    if args.compare_intents:
        from ..history.panel import compare_intents

        h.result["intent_comparison"] = compare_intents(
            args.region, years, params, permutations=args.permutations, seed=args.seed,
            search=search)
    if args.neutrals:
        from ..history.neutrals import NEUTRALS, score_case_with_neutrals

        h.result["neutrals"] = [score_case_with_neutrals(c, params, seed=args.seed)
                                for c in NEUTRALS]
    if args.out:
        write_store(h, Path(args.out), overwrite=args.overwrite)
    if args.json:
        json.dump(to_json(h), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(format_table(h, per_year=not args.summary))
        from ..history.output import oos_lines

        print("\n".join(oos_lines(h.result.get("out_of_sample"))))
        if "neutrals" in h.result:
            from ..history.neutrals import neutral_lines

            for r in h.result["neutrals"]:
                print("\n" + "\n".join(neutral_lines(r)))
        if "intent_comparison" in h.result:
            from ..history.output import intent_lines

            print("\n".join(intent_lines(h.result["intent_comparison"])))
        if args.out:
            print(f"results: {args.out}")
    return 0
