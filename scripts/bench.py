#!/usr/bin/env python
"""Run the throughput benchmark (same as `mc-threat bench`); writes results/bench.json."""

import argparse

from mc_threat.perf.bench import run_bench

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--out", default="results/bench.json")
    args = p.parse_args()
    run_bench(quick=args.quick, out=args.out)
