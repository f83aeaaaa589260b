"""Tests of mc_threat.kernels.rng against an independent plain-Python reimplementation.

The reference below is written from the documented stream layout (rng.py docstring and
MODEL.md section 6) with Python integers, not from the kernel code:

    seed_key = mix64(seed * GOLDEN + SEED_SALT)
    counter  = system * 2**20 + draw
    bits     = mix64(seed_key + (counter + 1) * GOLDEN)      (mod 2**64)
    u        = ((bits >> 12) + 0.5) * 2**-52
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mc_threat.kernels import rng
from mc_threat.kernels.rng import uniforms

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
SEED_SALT = 0xD1B54A32D192ED03
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB


def ref_mix64(z: int) -> int:
    z &= MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def _unxorshift(y: int, s: int) -> int:
    x = y
    for _ in range(64 // s + 1):
        x = y ^ (x >> s)
    return x


def ref_unmix64(y: int) -> int:
    """Inverse of the SplitMix64 finaliser (it is a bijection)."""
    z = _unxorshift(y, 31)
    z = (z * pow(M2, -1, 1 << 64)) & MASK
    z = _unxorshift(z, 27)
    z = (z * pow(M1, -1, 1 << 64)) & MASK
    return _unxorshift(z, 30)


def ref_seed_key(seed: int) -> int:
    return ref_mix64(seed * GOLDEN + SEED_SALT)


def ref_bits(seed: int, system: int, draw: int) -> int:
    counter = system * 2**20 + draw
    return ref_mix64(ref_seed_key(seed) + (counter + 1) * GOLDEN)


def ref_map(bits: int) -> float:
    return ((bits >> 12) + 0.5) * 2.0**-52


def ref_uniform(seed: int, system: int, draw: int) -> float:
    return ref_map(ref_bits(seed, system, draw))


# --------------------------------------------------------------------------- reference sanity


def test_reference_mix64_is_splitmix64():
    # Published SplitMix64 outputs for state 0: the first three numbers of the sequence.
    assert ref_mix64(1 * GOLDEN) == 0xE220A8397B1DCDAF
    assert ref_mix64(2 * GOLDEN) == 0x6E789E6AA1B965F4
    assert ref_mix64(3 * GOLDEN) == 0x06C45D188009454F


def test_reference_unmix_inverts_mix():
    r = np.random.default_rng(5)
    for z in [0, 1, MASK, 1 << 63, *[int(v) for v in r.integers(0, 2**63, 50, dtype=np.uint64)]]:
        assert ref_unmix64(ref_mix64(z)) == z
        assert ref_mix64(ref_unmix64(z)) == z


def test_constants_match_documentation():
    assert int(rng.GOLDEN) == GOLDEN
    assert int(rng.SEED_SALT) == SEED_SALT
    assert rng.DRAW_BITS == 20
    assert rng.DRAWS_PER_STATE == 8
    assert rng.MAX_STATES == 2**17
    assert rng.MAX_SYSTEMS == 2**44


# --------------------------------------------------------------------------- mapping extremes


def test_mapping_formula_extremes_strictly_inside_unit_interval():
    lo = ref_map(0)
    hi = ref_map(MASK)
    assert lo == 2.0**-53
    assert hi == 1.0 - 2.0**-53
    assert 0.0 < lo < hi < 1.0
    # the images of these are finite, which is what the generator relies on
    assert math.isfinite(math.log(lo)) and math.isfinite(math.log(hi))
    assert (1.0 - hi) > 0.0 and (1.0 - lo) < 1.0
    # the mapping is exact: every 52-bit value gives a distinct, exactly representable double
    for top in (0, 1, 2**51, 2**52 - 2, 2**52 - 1):
        u = ref_map(top << 12)
        assert u == (top + 0.5) / 2**52
        assert (u * 2**52 - 0.5) == top


def _coords_for_bits(seed: int, target_bits: int) -> tuple[int, int]:
    """(system, draw) whose bits under ``seed`` equal ``target_bits``.

    counter = system * 2**20 + draw covers every 64-bit value for system < 2**44, so any bit
    pattern is reached by exactly one (system, draw).
    """
    word = ref_unmix64(target_bits)
    counter = ((word - ref_seed_key(seed)) * pow(GOLDEN, -1, 1 << 64) - 1) & MASK
    system, draw = counter >> 20, counter & (2**20 - 1)
    assert ref_bits(seed, system, draw) == target_bits
    return system, draw


@pytest.mark.parametrize("seed", [0, 1, 2**63 - 1])
@pytest.mark.parametrize("target", [0, MASK, 0xFFF, 1 << 12, MASK ^ 0xFFF])
def test_kernel_at_extreme_bit_patterns(seed, target):
    """Drive the real kernel to the all-zero and all-one bit patterns."""
    system, draw = _coords_for_bits(seed, target)
    assert 0 <= system < 2**44
    u = uniforms(seed, system, draw, 1)[0]
    assert u == ref_map(target)
    assert 0.0 < u < 1.0
    if target in (0, 0xFFF):
        assert u == 2.0**-53
    if target in (MASK, MASK ^ 0xFFF):
        assert u == 1.0 - 2.0**-53


# --------------------------------------------------------------------------- bit-exact stream

SEEDS = [0, 1, 42, 123456789, 2**32 + 7, 2**62 + 3, 2**63 - 1]
SYSTEMS = [0, 1, 2, 999, 2**20 - 1, 2**20, 2**32 + 1, 2**40 - 1, 2**40, 2**40 + 1,
           2**43 + 12345, 2**44 - 1]
DRAWS = [0, 1, 7, 8, 127, 2**17, 2**20 - 16]


@pytest.mark.parametrize("seed", SEEDS)
def test_uniforms_match_reference_bit_for_bit(seed):
    for system in SYSTEMS:
        for draw in DRAWS:
            got = uniforms(seed, system, draw, 16)
            assert got.dtype == np.float64 and got.shape == (16,)
            want = np.array([ref_uniform(seed, system, draw + k) for k in range(16)])
            assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), (seed, system, draw)


def test_uniforms_accept_numpy_integer_arguments():
    want = np.array([ref_uniform(77, 2**40 + 5, 3 + k) for k in range(4)])
    for seed, system in [(np.int64(77), np.int64(2**40 + 5)),
                         (np.uint64(77), np.uint64(2**40 + 5))]:
        got = uniforms(seed, system, np.int64(3), 4)
        assert np.array_equal(got, want)


def test_uniforms_chunked_equal_one_call():
    whole = uniforms(9, 2**40 + 2, 0, 1000)
    parts = np.concatenate([uniforms(9, 2**40 + 2, s, 100) for s in range(0, 1000, 100)])
    assert np.array_equal(whole, parts)


def test_uniforms_count_zero():
    assert uniforms(1, 1, 0, 0).shape == (0,)


def test_no_overlap_between_systems_and_seeds():
    """Distinct (seed, system, draw) give distinct 52-bit values (collisions ~ 1e-7 here)."""
    vals = [uniforms(seed, system, 0, 500) for seed in (0, 1, 2) for system in range(200)]
    vals = np.concatenate(vals)
    assert np.unique(vals).size == vals.size


# --------------------------------------------------------------------------- statistics


def _block(seed, n_systems, n_draws, first_system=0, first_draw=0):
    return np.stack([uniforms(seed, first_system + s, first_draw, n_draws)
                     for s in range(n_systems)])


@pytest.mark.parametrize("seed,first_system", [(0, 0), (2024, 2**40 - 500), (2**63 - 1, 17)])
def test_uniforms_strictly_inside_and_ks_uniform(seed, first_system):
    u = _block(seed, 1000, 100, first_system).ravel()  # 10^5 uniforms from 1000 systems
    assert u.size == 100_000
    assert (u > 0).all() and (u < 1).all()
    res = stats.kstest(u, "uniform")
    assert res.pvalue > 1e-4, res
    # mean and variance of U(0,1)
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / u.size)
    assert abs(u.var() - 1 / 12) < 0.003
    # a chi-square on 100 equal bins
    counts = np.bincount((u * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-4


def test_low_mantissa_bits_are_uniform():
    """The low bits of the 52-bit integer (bits 12..19 of the word) are not stuck."""
    u = _block(3, 200, 500).ravel()
    top = (u * 2**52 - 0.5).astype(np.uint64)
    low = (top & np.uint64(0xFF)).astype(int)
    counts = np.bincount(low, minlength=256)
    assert stats.chisquare(counts).pvalue > 1e-4


def _assert_uncorrelated(a, b):
    r = np.corrcoef(a, b)[0, 1]
    assert abs(r) < 5 / math.sqrt(a.size), r


def test_no_correlation_between_adjacent_draws_and_systems():
    u = _block(11, 1001, 101)  # rows: systems, columns: draws
    # adjacent draws of the same system
    _assert_uncorrelated(u[:, :-1].ravel(), u[:, 1:].ravel())
    # draws 8 apart (the same attribute of adjacent states)
    _assert_uncorrelated(u[:, :-8].ravel(), u[:, 8:].ravel())
    # the same draw of adjacent systems
    _assert_uncorrelated(u[:-1, :].ravel(), u[1:, :].ravel())
    # diagonal neighbours
    _assert_uncorrelated(u[:-1, :-1].ravel(), u[1:, 1:].ravel())
    # rank correlation too
    rho = stats.spearmanr(u[:-1, :].ravel(), u[1:, :].ravel()).statistic
    assert abs(rho) < 5 / math.sqrt(u[:-1].size)


def test_no_correlation_between_adjacent_seeds():
    a = _block(100, 500, 100).ravel()
    b = _block(101, 500, 100).ravel()
    _assert_uncorrelated(a, b)


def test_no_correlation_across_system_block_boundary():
    # systems around 2**40 and the first/last draws of neighbouring systems
    u = _block(5, 2000, 8, first_system=2**40 - 1000)
    _assert_uncorrelated(u[:-1, -1], u[1:, 0])
    _assert_uncorrelated(u[:-1, :].ravel(), u[1:, :].ravel())


def test_pairs_fill_the_unit_square():
    """Adjacent pairs (as used by Box-Muller and positions) are uniform on the square."""
    u = _block(8, 500, 200)
    x, y = u[:, 0::2].ravel(), u[:, 1::2].ravel()
    h, _, _ = np.histogram2d(x, y, bins=10, range=[[0, 1], [0, 1]])
    assert stats.chisquare(h.ravel()).pvalue > 1e-4
