#!/usr/bin/env python
"""Measure per-task dask overhead, store write time per task and sweep efficiency by task
length on this machine (the figures behind docs/scaling.md); writes docs/bench/scaling.json."""

import argparse
import json
from pathlib import Path

from mc_threat.perf.scaling import measure, report

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--out", default="docs/bench/scaling.json")
    args = p.parse_args()
    res = measure(quick=args.quick)
    print(report(res))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"written: {args.out}")
