"""Random state-system kernels (MODEL.md section 6), drawn from :mod:`.rng`."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .decorators import inline, kernel, parallel_kernel
from .rng import DRAWS_PER_STATE, seed_key, system_base, uniform_at

_TWO_PI = 2.0 * math.pi
_ONE_THIRD = 1.0 / 3.0


@inline
def root(x, inv_k):
    """``x ** inv_k``, with the common exponents 1, 1/2 and 1/3 by exact shortcuts.

    ``pow`` costs several times a ``sqrt`` or ``cbrt``; for ``inv_k = 1/2`` and ``1/3``
    the shortcuts are the correctly rounded roots (they may differ from ``pow(x, 1/3)``
    in the last bit, which is why this function, not ``pow``, defines the generator).
    """
    if inv_k == 1.0:
        return x
    if inv_k == 0.5:
        return math.sqrt(x)
    if inv_k == _ONE_THIRD:
        return np.cbrt(x)
    return x**inv_k


@inline
def kumaraswamy(u, inv_a, inv_b):
    """Kumaraswamy(a, b) by inverse CDF: ``(1 - (1 - u)^(1/b))^(1/a)``."""
    return root(1.0 - root(1.0 - u, inv_b), inv_a)


@kernel
def generate_one(key, system, sigma, rho, inv_oa, inv_ob, inv_ia, inv_ib,
                 power, position, offense, intent, comp, u):
    """Draw system number ``system`` into ``power`` (n,), ``position`` (n, 2),
    ``offense`` (n,), ``intent`` (n,); ``comp`` (n, 3) and ``u`` (8 n,) are scratch.

    Power is a CINC-like share: three capability components per state, each a lognormal
    ``exp(sigma z)`` with ``z = sqrt(rho) g_i + sqrt(1 - rho) e_ik`` (a common factor
    ``g_i`` correlates a state's components), each normalised to a share of the system
    total, and ``p_i`` the mean of the three shares.
    """
    n = power.shape[0]
    base = system_base(key, system)
    # All uniforms first: integer hashing alone in a loop vectorizes, which it cannot do
    # between the C library calls below. The values are the same either way.
    for k in range(n * DRAWS_PER_STATE):
        u[k] = uniform_at(base, k)
    sr = math.sqrt(rho)
    sq = math.sqrt(1.0 - rho)
    tot0 = 0.0
    tot1 = 0.0
    tot2 = 0.0
    for i in range(n):
        d = i * DRAWS_PER_STATE
        # Box-Muller: two normals per pair of uniforms.
        r1 = math.sqrt(-2.0 * math.log(u[d]))
        a1 = _TWO_PI * u[d + 1]
        r2 = math.sqrt(-2.0 * math.log(u[d + 2]))
        a2 = _TWO_PI * u[d + 3]
        g = r1 * math.cos(a1)
        c0 = math.exp(sigma * (sr * g + sq * (r1 * math.sin(a1))))
        c1 = math.exp(sigma * (sr * g + sq * (r2 * math.cos(a2))))
        c2 = math.exp(sigma * (sr * g + sq * (r2 * math.sin(a2))))
        comp[i, 0] = c0
        comp[i, 1] = c1
        comp[i, 2] = c2
        tot0 += c0
        tot1 += c1
        tot2 += c2
        position[i, 0] = u[d + 4]
        position[i, 1] = u[d + 5]
        offense[i] = kumaraswamy(u[d + 6], inv_oa, inv_ob)
        intent[i] = kumaraswamy(u[d + 7], inv_ia, inv_ib)
    for i in range(n):
        power[i] = ((comp[i, 0] / tot0 + comp[i, 1] / tot1) + comp[i, 2] / tot2) / 3.0


@parallel_kernel
def generate_batch(seed, start, gen, nblocks, power, position, offense, intent):
    """Fill ``count`` systems with indices ``start .. start + count - 1``.

    ``gen`` is ``(power_sigma, power_corr, offense.a, offense.b, intent.a, intent.b)``.
    """
    count, n = power.shape
    key = seed_key(seed)
    sigma = gen[0]
    rho = gen[1]
    inv_oa = 1.0 / gen[2]
    inv_ob = 1.0 / gen[3]
    inv_ia = 1.0 / gen[4]
    inv_ib = 1.0 / gen[5]
    for b in prange(nblocks):
        lo = b * count // nblocks
        hi = (b + 1) * count // nblocks
        comp = np.empty((n, 3))
        u = np.empty(n * DRAWS_PER_STATE)
        for s in range(lo, hi):
            generate_one(key, start + s, sigma, rho, inv_oa, inv_ob, inv_ia, inv_ib,
                         power[s], position[s], offense[s], intent[s], comp, u)
