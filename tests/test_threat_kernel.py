"""The division-free argmax of the additive threat against plain division, on near-ties."""

import numpy as np
import pytest

from mc_threat.kernels.threat import _first_max_of_quotients


def brute(num, skip, w):
    """Divide every numerator, then the first maximum over j != skip (the definition)."""
    q = [x / w if j != skip else -np.inf for j, x in enumerate(num)]
    best = max(range(len(q)), key=lambda j: (q[j], -j))
    return best, q[best]


def near_tie_rows(rng, count):
    """Rows where several numerators sit within a few ulps of the maximum."""
    for _ in range(count):
        n = int(rng.integers(2, 12))
        top = float(rng.uniform(0.1, 4.0))
        steps = rng.integers(-3, 4, size=n)
        num = np.array([top + int(k) * np.spacing(top) for k in steps])
        num[rng.random(n) < 0.3] = float(rng.uniform(0.0, top))  # some far below
        yield num, int(rng.integers(0, n)), float(rng.choice([3.0, 1.5, 7.0, 0.3, 4.0, 2.75]))


def test_quotient_argmax_equals_division_on_near_ties():
    rng = np.random.default_rng(7)
    collisions = 0
    for num, skip, w in near_tie_rows(rng, 20000):
        got = _first_max_of_quotients(num, skip, w)
        want = brute(num, skip, w)
        assert got[0] == want[0] and got[1] == want[1], (num.tolist(), skip, w, got, want)
        others = [j for j in range(len(num)) if j != skip]
        jm = max(others, key=lambda j: (num[j], -j))
        collisions += want[0] != jm  # the quotient tie moved the answer off the first max
    assert collisions > 100  # the test really exercises rounding-induced ties


@pytest.mark.parametrize("scale", [1e-300, 1e-310, 5e-324, 0.0])
def test_quotient_argmax_on_tiny_and_zero_numerators(scale):
    num = np.array([scale, scale * 1.5, scale, 0.0, scale * 1.5])
    for skip in range(5):
        for w in (3.0, 0.7, 1e-5):
            assert _first_max_of_quotients(num, skip, w) == brute(num, skip, w)
