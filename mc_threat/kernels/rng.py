"""Counter-based random numbers keyed by ``(seed, system, draw)``.

Every random number in mc_threat is a pure function of three integers: the run's seed,
the index of the system (0, 1, 2, ... across the whole run, not within a chunk) and the
index of the draw within that system. Nothing carries state from one system to the next,
so a system is bit-identical whoever generates it, in whichever chunk, on any worker and
with any number of threads.

Stream layout
-------------
The function is one position of a SplitMix64 sequence (Steele, Lea and Flood 2014)::

    seed_key = mix64(seed * GOLDEN + SEED_SALT)
    counter  = system * 2**20 + draw                      (injective: draw < 2**20)
    bits     = mix64(seed_key + (counter + 1) * GOLDEN)    (all arithmetic mod 2**64)
    u        = ((bits >> 12) + 0.5) * 2**-52               in [2**-53, 1 - 2**-53]

``mix64`` is SplitMix64's finaliser, a bijection of 64-bit words, and
``counter -> seed_key + (counter + 1) * GOLDEN`` is injective because GOLDEN is odd, so two
different ``(system, draw)`` pairs of the same seed never share an input word: no stream
overlaps within a run. A uniform is never exactly 0 or 1, so ``log(u)`` and ``(1 - u)^x``
are always finite.

Draws per state (the generator of MODEL.md section 6 uses 8 per state; state ``i`` uses
draws ``8 i .. 8 i + 7``)::

    8i+0, 8i+1   Box-Muller pair -> g_i (common power factor), e_i0 (population)
    8i+2, 8i+3   Box-Muller pair -> e_i1 (territory), e_i2 (economy)
    8i+4, 8i+5   position x, y
    8i+6         offense (Kumaraswamy inverse CDF)
    8i+7         intent  (Kumaraswamy inverse CDF)

Because a state's draws do not depend on ``n``, the first ``m`` states of a system of ``n``
states draw the same numbers as a system of ``m`` states with the same seed and index.
Systems may have up to ``2**17 = 131072`` states and indices below ``2**44``.

All constants, shifts and counters are ``uint64``: mixing signed and unsigned integers in
numba silently produces float64 or wraps.
"""

from __future__ import annotations

import numpy as np

from .decorators import inline, kernel

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
SEED_SALT = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S12 = np.uint64(12)
_ONE = np.uint64(1)
DRAW_BITS = 20
_DRAW_SHIFT = np.uint64(DRAW_BITS)
DRAWS_PER_STATE = 8
MAX_STATES = (1 << DRAW_BITS) // DRAWS_PER_STATE
MAX_SYSTEMS = 1 << 44
_TWO_M52 = 2.0**-52


@inline
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche of a uint64 word."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@kernel
def seed_key(seed):
    """Key derived from the user's seed (``0 <= seed < 2**63``)."""
    return mix64(np.uint64(seed) * GOLDEN + SEED_SALT)


@inline
def system_base(key, system):
    """Counter base of one system: ``key + system * 2**20 * GOLDEN`` (mod 2**64)."""
    return key + ((np.uint64(system) << _DRAW_SHIFT) + _ONE) * GOLDEN


@inline
def uniform_at(base, draw):
    """The uniform of draw ``draw`` of the system whose counter base is ``base``."""
    bits = mix64(base + np.uint64(draw) * GOLDEN)
    return (np.float64(bits >> _S12) + 0.5) * _TWO_M52


@kernel
def uniforms(seed, system, start_draw, count):
    """``count`` consecutive uniforms of one system (for tests and inspection)."""
    base = system_base(seed_key(seed), system)
    out = np.empty(count, np.float64)
    for k in range(count):
        out[k] = uniform_at(base, start_draw + k)
    return out
