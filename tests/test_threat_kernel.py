"""The argmax of the additive threat against plain division, on near-ties: the division-free
row argmax (dyadic intent) and the column-by-column kernel (monadic intent)."""

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


def _within_ulps(rng, top, n):
    return np.array([top + int(k) * np.spacing(top) for k in rng.integers(-3, 4, n)])


def near_tie_systems(rng, count):
    """Criteria within a few ulps of each other and a symmetric proximity matrix with
    repeated values: exact threat ties and ties created by rounding the division by W."""
    for _ in range(count):
        n = int(rng.integers(2, 12))

        agg, off, h = (_within_ulps(rng, top, n)
                       for top in (rng.uniform(0.2, 1.0), rng.uniform(0.0, 1.0), 0.5))
        levels = rng.choice([0.25, 0.5, 0.5 + np.spacing(0.5), 1.0], size=(n, n))
        prox = np.triu(levels, 1)
        prox = prox + prox.T + np.eye(n)
        w = rng.choice([0.0, 1.0, 0.3, 2.5, 7.0], size=4)
        w[int(rng.integers(0, 4))] = float(rng.uniform(0.1, 3.0))  # never all zero
        yield agg, off, prox, h, w


def test_principal_threats_additive_monadic_equals_plain_division():
    """The column-by-column kernel against the definition: T_ij by plain division in
    Python floats, then the first maximum over j != i."""
    from mc_threat.kernels.threat import N_PARAMS, P_REACH, principal_threats

    rng = np.random.default_rng(11)
    moved = 0
    for agg, off, prox, h, w in near_tie_systems(rng, 3000):
        n = agg.size
        params = np.zeros(N_PARAMS)
        params[1:5] = w
        params[P_REACH] = 1.0
        target = np.empty(n, np.int32)
        theta = np.empty(n)
        principal_threats(params, agg, off, prox, h[None, :], target, theta, np.empty((4, n)))
        wsum = ((w[0] + w[1]) + w[2]) + w[3]
        for i in range(n):
            num = [((w[0] * agg[j] + w[1] * prox[i, j]) + w[2] * off[j]) + w[3] * h[j]
                   for j in range(n)]
            want = brute(num, i, wsum)
            assert (target[i], theta[i]) == want, (agg, off, prox, h, w, i)
            others = [j for j in range(n) if j != i]
            moved += want[0] != max(others, key=lambda j: (num[j], -j))
    assert moved > 50  # rounding the division really decides some of these
