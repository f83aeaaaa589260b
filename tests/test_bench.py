"""Smoke run of the benchmark so it cannot rot (tiny sizes, no timing assertions)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mc_threat.perf.bench import run_bench


def test_bench_quick_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    res = run_bench(quick=True, out=out)
    stored = json.loads(out.read_text())
    assert set(stored["sizes"]) == {"8", "16"}
    for figures in res["sizes"].values():
        for key in ("fused_systems_per_s", "api_systems_per_s", "batched_point_systems_per_s",
                    "numpy_evaluate_systems_per_s", "fused_over_numpy"):
            assert figures[key] > 0
    assert stored["peak_rss_mib"] > 0
    assert out.with_suffix(".png").stat().st_size > 0
    sweep = stored["sweep"]
    assert sweep["points"] == 8 and sweep["sweep_s"] > 0 and sweep["raw_kernel_s"] > 0
    assert 0 < sweep["efficiency"]
    prof = stored["profile"]
    from mc_threat.perf.profile import ELEMENTARY, FUNCTIONS, STAGES

    assert list(prof["stage_us_per_system"]) == list(STAGES)
    assert set(prof["libm_ns_per_call"]) == set(FUNCTIONS)
    assert all(v > 0 for v in prof["libm_ns_per_call"].values())
    assert prof["libm_floor_us_per_system"] > 0 and prof["one_vector_us_per_system"] > 0
    assert set(prof["elementary_ns_per_element"]) == set(ELEMENTARY)
    assert all(v > 0 for v in prof["elementary_ns_per_element"].values())
    assert prof["elementary_floor_us_per_system"] > 0
    assert prof["uniforms_us_per_system"] > 0
    assert prof["division_ns_vectorized"] > 0 and prof["threat_division_floor_us"] > 0


def test_libm_call_counts_follow_the_generator_and_the_pairs():
    """Counted by hand from MODEL.md section 6 and the proximity formula, for n = 3:
    per state 3 lognormal exps + 2 log + 2 sin + 2 cos + 2 Box-Muller sqrt + 2 Kumaraswamy(2, 2)
    sqrt + 1 Kumaraswamy(1, 3) cbrt; sqrt(rho) and sqrt(1 - rho) once; the proximity matrix
    computed in full, 9 entries (diagonal included), each one exp and one sqrt."""
    from mc_threat.perf.profile import libm_calls_per_system

    assert libm_calls_per_system(3) == {"exp": 9 + 9, "log": 6, "sin": 6, "cos": 6,
                                        "cbrt": 3, "sqrt": 12 + 2 + 9}
    from mc_threat.perf.profile import elementary_calls_per_system

    # the engine's sincos2pi gives the sine and the cosine of one angle in one call
    assert elementary_calls_per_system(3) == {"exp": 18, "log": 6, "sincos2pi": 6, "cbrt": 3,
                                              "sqrt": 23}


def test_bench_script_runs(tmp_path):
    out = tmp_path / "b.json"
    script = Path(__file__).parents[1] / "scripts" / "bench.py"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "generate+evaluate" in proc.stdout
    assert out.exists()


@pytest.mark.bench  # a cold compile in a subprocess (~90 s of CPU) and a timing comparison
def test_compile_times_cold_then_cached():
    from mc_threat.perf.bench import compile_times

    times = compile_times()
    assert times["cold_compile_s"] > 0 and times["cache_load_s"] > 0
    # Loading the cache must beat compiling from scratch (that is what the cache is for).
    assert times["cache_load_s"] < times["cold_compile_s"]
