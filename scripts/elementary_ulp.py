"""Measure the largest error, in ulps, of the engine's elementary functions against mpmath.

    python scripts/elementary_ulp.py [ARGUMENTS_PER_FUNCTION]

Arguments are drawn as in ``tests/test_elementary.py`` (seeded), plus its edge cases; the
result is compared with the function evaluated in 120-bit arithmetic. The figures printed
are the ones in ``mc_threat.kernels.elementary.MEASURED_ULP`` and docs/model.md. About a
minute per 100,000 arguments per function.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import mpmath as mp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_elementary as T  # noqa: E402


def main(count: int) -> None:
    mp.mp.prec = 120
    for which, name, exact in ((0, "exp", mp.exp), (1, "log", mp.log), (2, "cbrt", T.real_cbrt)):
        x = np.concatenate([T._random(name, count, 100 + which), T.edges_finite(name)])
        got = T._map1(which, x)
        worst, arg = 0.0, None
        for g, v in zip(got.tolist(), x.tolist(), strict=True):
            if math.isfinite(g) and abs(g) >= 2.2250738585072014e-308:
                e = T._ulps(g, exact(mp.mpf(v)))
                if e > worst:
                    worst, arg = e, v
        print(f"{name:10s} max {worst:.3f} ulp at x = {arg!r} ({x.size} arguments)", flush=True)
    u = np.concatenate([T._random("u", count, 103), T.U_EDGES[(T.U_EDGES > 0) & (T.U_EDGES < 1)]])
    s, c = T._sincos(u)
    worst, arg = 0.0, None
    for a, b, v in zip(s.tolist(), c.tolist(), u.tolist(), strict=True):
        xx = 2 * mp.pi * mp.mpf(v)
        for g, ex in ((a, mp.sin(xx)), (b, mp.cos(xx))):
            if abs(ex) > 1e-30:
                e = T._ulps(g, ex)
                if e > worst:
                    worst, arg = e, v
    print(f"sincos2pi  max {worst:.3f} ulp at u = {arg!r} ({u.size} arguments)", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000)
