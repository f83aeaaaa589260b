"""Helpers the benchmark and the profile share: the timing of a call and the weight rows
they time."""

from __future__ import annotations

import time

import numpy as np


def weight_rows(k: int) -> list[dict]:
    """``k`` distinct weight vectors with everything else at the defaults."""
    rng = np.random.default_rng(0)
    rows = []
    for w in rng.uniform(0.0, 1.0, size=(k, 4)):
        w[0] += 1e-3  # never all zero
        rows.append({"weights": dict(zip(("power", "proximity", "offense", "intent"),
                                         map(float, w), strict=True))})
    return rows


def best(fn, repeats: int) -> float:
    """The shortest of ``repeats`` wall-clock timings of ``fn()``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best
