"""Random state-system kernels (MODEL.md section 6), drawn from :mod:`.rng`.

Every elementary function is the engine's own (:mod:`.elementary`, MODEL.md section 9):
``log`` and ``sincos2pi`` in Box-Muller, ``exp`` for the lognormal components, ``cbrt``
and ``pow_`` in the Kumaraswamy inverse CDF. ``sqrt`` is IEEE's correctly rounded square
root, the same everywhere.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .decorators import inline, parallel_kernel, vector_kernel
from .elementary import cbrt, exp, log, pow_, sincos2pi
from .rng import DRAWS_PER_STATE, seed_key, system_base, uniform_at

_ONE_THIRD = 1.0 / 3.0


@inline
def root_into(x, inv_k, out):
    """``out[i] = x[i] ** inv_k``, as the generator defines it: ``x`` itself for ``inv_k =
    1``, ``sqrt`` for 1/2, the engine's ``cbrt`` for 1/3 (the common shapes: cheaper and more
    accurate), else the engine's ``pow_(x, inv_k) = exp(inv_k * log(x))``. The method is
    chosen once for the whole loop, so that each loop runs as vector code."""
    m = x.shape[0]
    if inv_k == 1.0:
        for i in range(m):
            out[i] = x[i]
    elif inv_k == 0.5:
        for i in range(m):
            out[i] = math.sqrt(x[i])
    elif inv_k == _ONE_THIRD:
        for i in range(m):
            out[i] = cbrt(x[i])
    else:
        for i in range(m):
            out[i] = pow_(x[i], inv_k)


@inline
def kumaraswamy_into(u, inv_a, inv_b, out):
    """Kumaraswamy(a, b) by inverse CDF, ``out[i] = (1 - (1 - u[i])^(1/b))^(1/a)`` with each
    power taken by :func:`root_into`, loop by loop."""
    m = u.shape[0]
    for i in range(m):
        out[i] = 1.0 - u[i]
    root_into(out, inv_b, out)
    for i in range(m):
        out[i] = 1.0 - out[i]
    root_into(out, inv_a, out)


@vector_kernel
def generate_one(key, system, sigma, rho, inv_oa, inv_ob, inv_ia, inv_ib,
                 power, position, offense, intent, comp, u):
    """Draw system number ``system`` into ``power`` (n,), ``position`` (n, 2),
    ``offense`` (n,), ``intent`` (n,); ``comp`` (3, n) and ``u`` (8 n,) are scratch.

    Power is a CINC-like share: three capability components per state, each a lognormal
    ``exp(sigma z)`` with ``z = sqrt(rho) g_i + sqrt(1 - rho) e_ik`` (a common factor
    ``g_i`` correlates a state's components), each normalised to a share of the system
    total, and ``p_i`` the mean of the three shares.

    Layout for the compiler: the uniforms are stored draw-major (``u[d * n + i]`` holds
    draw ``8 i + d`` of state ``i``), so every loop below reads and writes consecutive
    states and, with the engine's own branch-free elementary functions inlined, runs as
    vector code. The values do not depend on the layout.
    """
    n = power.shape[0]
    base = system_base(key, system)
    for d in range(DRAWS_PER_STATE):
        for i in range(n):
            u[d * n + i] = uniform_at(base, i * DRAWS_PER_STATE + d)
    sr = math.sqrt(rho)
    sq = math.sqrt(1.0 - rho)
    c0 = comp[0]
    c1 = comp[1]
    c2 = comp[2]
    for i in range(n):
        # Box-Muller: two normals per pair of uniforms.
        r1 = math.sqrt(-2.0 * log(u[i]))
        sin1, cos1 = sincos2pi(u[n + i])
        r2 = math.sqrt(-2.0 * log(u[2 * n + i]))
        sin2, cos2 = sincos2pi(u[3 * n + i])
        g = r1 * cos1
        c0[i] = exp(sigma * (sr * g + sq * (r1 * sin1)))
        c1[i] = exp(sigma * (sr * g + sq * (r2 * cos2)))
        c2[i] = exp(sigma * (sr * g + sq * (r2 * sin2)))
    kumaraswamy_into(u[6 * n:7 * n], inv_oa, inv_ob, offense)
    kumaraswamy_into(u[7 * n:8 * n], inv_ia, inv_ib, intent)
    for i in range(n):
        position[i, 0] = u[4 * n + i]
        position[i, 1] = u[5 * n + i]
    tot0 = 0.0
    tot1 = 0.0
    tot2 = 0.0
    for i in range(n):  # in state order: the rounding of the totals is part of the model
        tot0 += c0[i]
        tot1 += c1[i]
        tot2 += c2[i]
    for i in range(n):
        power[i] = ((c0[i] / tot0 + c1[i] / tot1) + c2[i] / tot2) / 3.0


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
        comp = np.empty((3, n))
        u = np.empty(n * DRAWS_PER_STATE)
        for s in range(lo, hi):
            generate_one(key, start + s, sigma, rho, inv_oa, inv_ob, inv_ia, inv_ib,
                         power[s], position[s], offense[s], intent[s], comp, u)
