"""Throughput benchmark: ``mc-threat bench`` or ``python scripts/bench.py``.

Measures, in one run on this machine:

* ``fused``: generate + evaluate systems per second through the sweep kernel (every
  outcome of MODEL.md section 5, the balance-of-power pass included), for each ``n``;
* ``api``: the same through the public API (``generate_systems`` then ``evaluate``, which
  also returns every state's target, choice and bloc);
* ``batched``: point-system evaluations per second when 16 weight vectors share each
  generated system (common random numbers; proximity and balance of power shared);
* ``numpy``: the vectorized NumPy implementation (``mc_threat.model.baseline_numpy``) evaluating
  the same systems, and the ratio of the fused engine to it;
* peak resident memory of this process;
* ``sweep``: a whole sweep (64 weight points x 10^6 systems by default) through
  ``run_sweep`` with 2 dask workers, against the raw kernel doing the same tasks in this
  process on all cores; efficiency = raw time / sweep time;
* compile or cache-load time of the kernels;
* ``profile``: on one thread at ``n = 16``, microseconds per system in each stage of the
  kernel, each of the engine's elementary functions (ns per element) against the C
  library's, and the floor they set (``mc_threat.perf.profile``).

Each figure is the best of ``repeats`` timed runs (the machine is shared; the best run
is the least disturbed). Ratios printed at the end come from the same run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .timing import best as _best
from .timing import weight_rows as _weight_rows

SIZES = (8, 16, 32, 64)


def run_bench(quick: bool = False, out: str | os.PathLike | None = "results/bench.json",
              repeats: int = 3) -> dict:
    """Run the benchmark, print a table, write ``out`` (JSON) and return the figures."""
    import numba

    from ..config import coerce_generator
    from ..engine.tasks import Group, compute_task
    from ..model.baseline_numpy import evaluate_numpy
    from ..model.batch import evaluate, params_vector
    from ..model.generate import generate_systems, generator_vector

    gen = generator_vector(coerce_generator(None))
    t0 = time.perf_counter()
    compute_task(0, [(0, 1)], [Group(0, 1, 8, gen, params_vector({})[None])])
    evaluate(generate_systems(None, 8, 0, 0, 1), {})
    warm = time.perf_counter() - t0

    sizes = (8, 16) if quick else SIZES
    base_systems = 2_000 if quick else 400_000
    repeats = 1 if quick else repeats
    batch_rows = np.stack([params_vector(p) for p in _weight_rows(16)])
    results = {"threads": numba.get_num_threads(), "cpu_count": os.cpu_count(),
               "kernel_warmup_s": warm, "sizes": {}}
    for n in sizes:
        count = max(1_000, int(base_systems * (16 / n) ** 2)) if n > 16 else base_systems
        one = [Group(0, 1, n, gen, params_vector({})[None])]
        many = [Group(0, 16, n, gen, batch_rows)]
        t_fused = _best(lambda one=one, count=count: compute_task(1, [(0, count)], one), repeats)
        api_count = max(1_000, count // 4)
        t_api = _best(lambda n=n, c=api_count: evaluate(generate_systems(None, n, 1, 0, c), {}),
                      repeats)
        b_count = max(1_000, count // 8)
        t_batch = _best(lambda many=many, c=b_count: compute_task(1, [(0, c)], many), repeats)
        np_count = max(500, count // 20)
        np_systems = generate_systems(None, n, 1, 0, np_count)
        t_numpy = _best(lambda s=np_systems: evaluate_numpy(s, {}), repeats)
        results["sizes"][n] = {
            "fused_systems_per_s": count / t_fused,
            "api_systems_per_s": api_count / t_api,
            "batched_point_systems_per_s": 16 * b_count / t_batch,
            "numpy_evaluate_systems_per_s": np_count / t_numpy,
            "fused_over_numpy": (count / t_fused) / (np_count / t_numpy),
        }
    sz = results["sizes"]
    if 16 in sz and 64 in sz:
        # Cost per system from n = 16 to 64 against n^2 (a ratio of 1 means exactly n^2).
        results["cost_growth_16_to_64_over_n2"] = (
            sz[16]["fused_systems_per_s"] / sz[64]["fused_systems_per_s"]) / 16.0
    from .profile import profile

    results["profile"] = profile(n=16, count=2_000 if quick else 40_000,
                                 rows=4 if quick else 16, repeats=1 if quick else 9)
    results["sweep"] = sweep_efficiency(points=8 if quick else 64,
                                        systems=20_000 if quick else 1_000_000)
    if not quick:
        results["compile"] = compile_times()
    results["peak_rss_mib"] = _peak_rss_mib()
    _print(results)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
        _plot(results, Path(out).with_suffix(".png"))
    return results


def _peak_rss_mib() -> float:
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def compile_times() -> dict:
    """Cold compile and cache load of the kernels, each in a fresh process.

    Uses a private, empty ``NUMBA_CACHE_DIR``: the first process compiles and writes the
    cache, the second loads it.
    """
    import subprocess
    import sys
    import tempfile

    code = ("import time; t = time.perf_counter(); "
            "from mc_threat.engine.sweep import warm_kernels; warm_kernels(); "
            "from mc_threat import evaluate, generate_systems; "
            "evaluate(generate_systems(None, 8, 0, 0, 1), {}); "
            "print(time.perf_counter() - t)")
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold_compile_s", "cache_load_s"):
            proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, check=True)
            out[label] = float(proc.stdout.strip().splitlines()[-1])
    return out


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted(int(n) for n in results["sizes"])
    fig, ax = plt.subplots(figsize=(3.5, 2.6), dpi=200)
    for key, label in (("fused_systems_per_s", "generate + evaluate (fused)"),
                       ("batched_point_systems_per_s", "16 weight vectors per system"),
                       ("numpy_evaluate_systems_per_s", "NumPy baseline (evaluate only)")):
        ax.plot(ns, [results["sizes"][n][key] for n in ns], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("states per system, n")
    ax.set_ylabel("systems (or point-systems) / s")
    ax.set_title(f"mc-threat throughput, {results['threads']} threads", fontsize=8)
    ax.legend(fontsize=6)
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def sweep_efficiency(points: int = 64, systems: int = 1_000_000, workers: int = 2) -> dict:
    """Time a sweep on a LocalCluster against the raw kernel on the same tasks."""
    import tempfile

    import numba

    from ..config import config_from_dict
    from ..design import design_points
    from ..engine.sweep import run_sweep
    from ..engine.tasks import block_groups, compute_task, make_plan

    weights = _weight_rows(points)
    cfg = config_from_dict({
        "run": {"seed": 1, "systems": systems, "chunk": min(systems, 100_000)},
        "sweep": {"design": "points",
                  "points": [{f"model.weights.{k}": v for k, v in w["weights"].items()}
                             for w in weights]},
    })
    design = design_points(cfg)
    plan = make_plan(design.configs, systems, cfg.run.chunk)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    t = time.perf_counter()
    for b in range(plan.n_blocks):
        groups = block_groups(design.configs, *plan.block_range(b))
        for r in range(plan.n_runs):
            compute_task(cfg.run.seed, [plan.chunk_range(c) for c in plan.run_chunks(r)], groups)
    raw = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        run_sweep(cfg, f"{tmp}/bench.zarr", workers=workers, progress=False)
        swept = time.perf_counter() - t
    work = points * systems
    return {"points": points, "systems": systems, "workers": workers,
            "tasks": plan.n_tasks, "raw_kernel_s": raw, "sweep_s": swept,
            "raw_point_systems_per_s": work / raw, "sweep_point_systems_per_s": work / swept,
            "efficiency": raw / swept}


def _print(results: dict) -> None:
    print(f"threads: {results['threads']}   kernel warm-up (compile or cache load): "
          f"{results['kernel_warmup_s']:.2f} s")
    print(f"{'n':>4}  {'generate+evaluate /s':>22}  {'API path /s':>12}  "
          f"{'16 weights, point-systems /s':>30}  {'NumPy eval /s':>14}  {'fused/NumPy':>11}")
    for n, r in results["sizes"].items():
        print(f"{n:>4}  {r['fused_systems_per_s']:>22,.0f}  {r['api_systems_per_s']:>12,.0f}  "
              f"{r['batched_point_systems_per_s']:>30,.0f}  "
              f"{r['numpy_evaluate_systems_per_s']:>14,.0f}  {r['fused_over_numpy']:>10.1f}x")
    if "cost_growth_16_to_64_over_n2" in results:
        print(f"cost per system from n=16 to n=64: {results['cost_growth_16_to_64_over_n2']:.2f}"
              " x n^2 growth")
    if "compile" in results:
        c = results["compile"]
        print(f"kernels: cold compile {c['cold_compile_s']:.1f} s, cache load "
              f"{c['cache_load_s']:.1f} s (fresh processes)")
    print(f"peak resident memory of the benchmark process: {results['peak_rss_mib']:.0f} MiB")
    if "profile" in results:
        from .profile import print_profile

        print_profile(results["profile"], results["threads"])
    sw = results.get("sweep")
    if sw:
        print(f"sweep of {sw['points']} points x {sw['systems']:,} systems ({sw['tasks']} tasks): "
              f"raw kernel {sw['raw_kernel_s']:.1f} s, sweep with {sw['workers']} workers "
              f"{sw['sweep_s']:.1f} s (includes cluster start), efficiency "
              f"{100 * sw['efficiency']:.0f}%"
              + ("\n  (a sweep this small is mostly the few seconds of cluster start, so the "
                 "efficiency is low; the full benchmark's 64 x 10^6 sweep measures it)"
                 if sw["points"] * sw["systems"] < 10_000_000 else ""))
