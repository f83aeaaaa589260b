"""Smoke run of the scaling measurements behind docs/scaling.md (``scripts/scaling.py``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_scaling_script_quick(tmp_path):
    out = tmp_path / "scaling.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "scaling.py"), "--quick",
                           "--out", str(out)], capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr
    assert "dask per-task overhead" in proc.stdout and "efficiency" in proc.stdout
    res = json.loads(out.read_text())
    o = res["task_overhead"]
    assert o["tasks"] == 20 and o["workers"] == 2 and o["overhead_per_task_s"] > 0
    for w in res["store_writes"]:
        assert w["bytes"] == w["points"] * w["chunks"] * (15 * 5 + 10 * 3) * 8
        assert 0 < w["min_s"] <= w["median_s"]
    (e,) = res["efficiency"]
    assert e["tasks"] >= 1 and e["raw_one_core_s"] > 0 and e["sweep_s"] > 0  # no speed claims
    assert 50 < res["worker_peak_rss_mib"] < 4096


def test_record_bytes_match_the_store():
    """The bytes per (point, chunk) record the scaling figures use are the store's."""
    from mc_threat.kernels import N_CHOICES, N_OUTCOMES, N_POWER_BINS
    from mc_threat.kernels.stats import N_MOMENTS
    from mc_threat.perf.scaling import RECORD_BYTES

    assert RECORD_BYTES == (N_OUTCOMES * N_MOMENTS + N_POWER_BINS * N_CHOICES) * 8
