"""The engine's own elementary functions (MODEL.md section 9, ``mc_threat.kernels.elementary``).

* the compiled functions, their NumPy twins and their plain-Python twins agree bit for bit,
  on a million arguments per function plus every edge case: NaN of either sign, subnormal
  results and arguments, the ends of the domains, ``u`` at and next to 0, 1/8, 1/4, 1/2,
  3/4 and 1;
* their error against ``mpmath`` (120-bit arithmetic) stays within MODEL.md's bounds
  (1 ulp for exp, log and cbrt, 2 ulp for sin and cos of ``2 pi u``);
* the coefficients are the exact series values rounded once;
* the compiled code contains no fused multiply-add (which would change the bits).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from numba import njit

from mc_threat.kernels import elementary as K
from mc_threat.model import elementary as E

MILLION = 1_000_000


@njit(cache=False)
def _map1(which, x):
    out = np.empty_like(x)
    for i in range(x.size):
        v = x[i]
        if which == 0:
            out[i] = K.exp(v)
        elif which == 1:
            out[i] = K.log(v)
        elif which == 2:
            out[i] = K.cbrt(v)
        else:
            out[i] = K.pow_(v, 0.37)
    return out


@njit(cache=False)
def _sincos(u):
    s = np.empty_like(u)
    c = np.empty_like(u)
    for i in range(u.size):
        s[i], c[i] = K.sincos2pi(u[i])
    return s, c


def _same(a, b) -> bool:
    """Equal bit patterns (a NaN's sign and payload included)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return bool((a.view(np.uint64) == b.view(np.uint64)).all())


NANS = [np.nan, -np.nan, float.fromhex("0x1.8p1") * np.nan]


def _edges(values):
    """Each value with its neighbours one and two ulps away on both sides."""
    out = []
    for v in values:
        out.append(v)
        lo = hi = v
        for _ in range(2):
            lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
            out += [lo, hi]
    return np.array(out, np.float64)


TINY = 5e-324
EXP_EDGES = _edges([0.0, -0.0, 1e-300, -1e-300, 0.5 * math.log(2), -0.5 * math.log(2), 1.0, -1.0,
                    709.782712893384, 709.78, 710.0, -708.3964185322641, -708.4, -745.1332191019411,
                    -745.1332191019412, -746.0, -744.44007192138, 100.0, -100.0])
EXP_EDGES = np.concatenate([EXP_EDGES, [np.inf, -np.inf, 1e308, -1e308], NANS])
LOG_EDGES = _edges([TINY, 1e-310, 2.2250738585072014e-308, 2.0**-1022 * 1.5, 1.0, 2.0, 0.5,
                    math.sqrt(2.0), math.sqrt(0.5), 2.0**-53, 1.0 - 2.0**-53, 1e300,
                    1.7976931348623157e308 / 2, 0.7071067811865476])
LOG_EDGES = np.concatenate([LOG_EDGES, [0.0, -0.0, -1.0, np.inf, 1.7976931348623157e308],
                            NANS])
CBRT_EDGES = _edges([TINY, 1e-310, 2.2250738585072014e-308, 2.0**-960, 2.0**960, 1.0, 8.0, 27.0,
                     0.125, 1e-300, 1e300, 1.7976931348623157e308 / 2, 2.0**-53, 0.5])
CBRT_EDGES = np.concatenate([CBRT_EDGES, -CBRT_EDGES, [0.0, -0.0, np.inf, -np.inf,
                                                     1.7976931348623157e308], NANS])
U_EDGES = _edges([2.0**-53, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0 - 2.0**-53, 1e-300])
U_EDGES = np.concatenate([U_EDGES, [0.0, 0.25, 0.5, 0.75, 1.0, -0.25, 2.0, 1e6 + 0.25]])
U_NAN = np.array(NANS)


def _random(kind, count, seed):
    rng = np.random.default_rng(seed)
    if kind == "exp":
        return np.concatenate([rng.uniform(-750.0, 712.0, count // 2),
                               rng.uniform(-1.0, 1.0, count // 4),
                               -rng.uniform(0.0, 30.0, count - count // 2 - count // 4)])
    if kind in ("log", "cbrt"):
        return np.concatenate([np.exp(rng.uniform(-744.0, 709.0, count // 2)),
                               rng.uniform(0.0, 1.0, count // 4),
                               rng.uniform(0.5, 2.0, count - count // 2 - count // 4)])
    # uniforms as the generator makes them: ((bits >> 12) + 0.5) * 2^-52
    bits = rng.integers(0, 2**52, count, dtype=np.uint64)
    return (bits.astype(np.float64) + 0.5) * 2.0**-52


# --------------------------------------------------------------------- twins, bit for bit
@pytest.mark.parametrize("which,name,edges", [(0, "exp", EXP_EDGES), (1, "log", LOG_EDGES),
                                              (2, "cbrt", CBRT_EDGES)])
def test_numpy_twin_is_bit_identical_on_a_million_arguments(which, name, edges):
    x = np.concatenate([_random(name, MILLION, which), edges])
    got = _map1(which, x)
    assert _same(got, getattr(E, f"{name}_np")(x))


def test_numpy_twin_of_sincos_is_bit_identical_on_a_million_arguments():
    u = np.concatenate([_random("u", MILLION, 9), U_EDGES, -U_EDGES, U_NAN])
    s, c = _sincos(u)
    sn, cn = E.sincos2pi_np(u)
    assert _same(s, sn) and _same(c, cn)


def test_numpy_twin_of_pow_is_bit_identical():
    x = np.concatenate([_random("log", MILLION, 4), [0.0, 1.0, TINY, np.inf], NANS])
    assert _same(_map1(3, x), E.pow_np(x, 0.37))
    assert (E.pow_np(x, 0.0) == 1.0).all() and K.pow_(0.0, 0.0) == 1.0


@pytest.mark.parametrize("which,name,edges", [(0, "exp", EXP_EDGES), (1, "log", LOG_EDGES),
                                              (2, "cbrt", CBRT_EDGES)])
def test_python_twin_is_bit_identical(which, name, edges):
    x = np.concatenate([_random(name, MILLION, 10 + which), edges])  # about 1.5 s each
    py = getattr(E, f"{name}_py")
    assert _same(_map1(which, x), [py(v) for v in x.tolist()])


def test_python_twins_of_sincos_and_pow_are_bit_identical():
    u = np.concatenate([_random("u", MILLION, 21), U_EDGES, -U_EDGES, U_NAN])
    s, c = _sincos(u)
    pairs = [E.sincos2pi_py(v) for v in u.tolist()]
    assert _same(s, [p[0] for p in pairs]) and _same(c, [p[1] for p in pairs])
    x = np.concatenate([_random("log", MILLION, 22), [0.0, 1.0, TINY, np.inf], NANS])
    assert _same(_map1(3, x), [E.pow_py(v, 0.37) for v in x.tolist()])


def test_special_values():
    assert K.exp(0.0) == 1.0 and K.exp(-np.inf) == 0.0 and K.exp(np.inf) == np.inf
    assert K.exp(709.79) == np.inf and K.exp(-746.0) == 0.0 and 0.0 < K.exp(-745.0) < 1e-322
    assert K.log(1.0) == 0.0 and K.log(0.0) == -np.inf and K.log(np.inf) == np.inf
    assert math.isnan(K.log(-1.0)) and math.isnan(K.log(np.nan))
    assert K.log(TINY) == pytest.approx(-744.4400719213812, rel=1e-15)
    for v in (0.0, 1.0, 8.0, 27.0, 64.0, 0.125, 2.0**-999, 2.0**999):
        assert K.cbrt(v) == mp.cbrt(v) and K.cbrt(-v) == -K.cbrt(v)  # exact cubes
    assert K.cbrt(np.inf) == np.inf and K.cbrt(-np.inf) == -np.inf
    for u, (s, c) in ((0.0, (0.0, 1.0)), (0.25, (1.0, 0.0)), (0.5, (0.0, -1.0)),
                      (0.75, (-1.0, 0.0)), (1.0, (0.0, 1.0))):
        got = K.sincos2pi(u)
        assert got[0] == s and got[1] == c, (u, got)  # quadrant points are exact


# --------------------------------------------------------------------- accuracy
def real_cbrt(v):
    return mp.sign(v) * mp.cbrt(abs(v))


def _ulps(got: float, exact) -> float:
    e = float(exact)
    if e == 0.0 or math.isinf(e):
        return 0.0 if got == e else math.inf
    return float(abs(mp.mpf(got) - exact) / math.ulp(e))  # the ratio in mpmath: a difference
    # below the smallest subnormal must not round to it


@pytest.fixture(scope="module")
def precision():
    with mp.workprec(120):
        yield


@pytest.mark.parametrize("which,name,exact,bound", [
    (0, "exp", mp.exp, 1.0), (1, "log", mp.log, 1.0), (2, "cbrt", lambda v: real_cbrt(v), 1.0)])
def test_error_within_one_ulp(precision, which, name, exact, bound):
    x = np.concatenate([_random(name, 4000, 30 + which), edges_finite(name)])
    got = _map1(which, x)
    err = max(_ulps(g, exact(mp.mpf(float(v)))) for g, v in zip(got.tolist(), x.tolist(),
                                                                 strict=True)
              if math.isfinite(g) and g != 0.0 and abs(g) >= 2.2250738585072014e-308)
    assert err <= bound, (name, err)
    assert err <= K.MEASURED_ULP[name] + 0.05, (name, err)  # documented figure still holds


def edges_finite(name):
    e = {"exp": EXP_EDGES, "log": LOG_EDGES, "cbrt": CBRT_EDGES}[name]
    e = e[np.isfinite(e)]
    return e[e > 0] if name == "log" else e


def test_sincos_error_within_two_ulps(precision):
    u = np.concatenate([_random("u", 4000, 40), U_EDGES[(U_EDGES > 0) & (U_EDGES < 1)]])
    s, c = _sincos(u)
    worst = 0.0
    for a, b, v in zip(s.tolist(), c.tolist(), u.tolist(), strict=True):
        x = 2 * mp.pi * mp.mpf(v)
        for got, exact in ((a, mp.sin(x)), (b, mp.cos(x))):
            if abs(exact) > 1e-30:  # sin and cos vanish exactly only at u = k/4
                worst = max(worst, _ulps(got, exact))
    assert worst <= 2.0
    assert worst <= K.MEASURED_ULP["sincos2pi"] + 0.05


def test_coefficients_are_the_series_rounded_once(precision):
    two_pi = 2 * mp.pi
    for k in range(2, 14):
        assert getattr(K, f"E{k}") == float(1 / mp.factorial(k)), k
    for j in range(1, 11):
        assert getattr(K, f"L{j}") == float(mp.mpf(2) / (2 * j + 1)), j
    for k in range(1, 18, 2):
        assert getattr(K, f"S{k}") == float((-1) ** (k // 2) * two_pi**k / mp.factorial(k)), k
    for k in range(2, 17, 2):
        assert getattr(K, f"C{k}") == float((-1) ** (k // 2) * two_pi**k / mp.factorial(k)), k
    assert K.LN2_HI + K.LN2_LO == float(mp.log(2))
    assert K.LN2_HI == float.fromhex("0x1.62e42feep-1")  # 32 significant bits: k*LN2_HI exact
    assert K.INV_LN2 == float(1 / mp.log(2))


def test_power_bin_edges_are_ten_to_the_documented_exponents(precision):
    """Each literal is ``10 ** e`` correctly rounded, ``e`` being ``-3 + 0.3 * k`` in binary64
    (docs/model.md decision 3), as mpmath computes it."""
    from mc_threat.kernels import POWER_BIN_EDGES

    assert len(POWER_BIN_EDGES) == 10
    for k, edge in enumerate(POWER_BIN_EDGES):
        assert edge == float(mp.mpf(10) ** mp.mpf(-3 + 0.3 * k)), k


def test_bit_constants(precision):
    assert K.SHIFT_BITS == np.float64(K.SHIFT).view(np.uint64) and K.SHIFT == 1.5 * 2.0**52
    assert K.SQRT_HALF_BITS == np.float64(float(mp.sqrt(0.5))).view(np.uint64)
    assert K.SIGN_BITS == np.float64(-0.0).view(np.uint64)
    assert K.ABS_BITS == np.uint64(2**63 - 1) and K.TOP12_BITS == np.uint64(0xFFF << 52)
    assert K.CUT26_BITS == np.uint64(((1 << 64) - 1) ^ ((1 << 27) - 1))
    assert K.TWO54 == 2.0**54 and K.TWO162 == 2.0**162 and K.MIN_NORMAL == 2.0**-1022


def test_compiled_code_has_no_fused_multiply_add():
    """No fused multiply-add in the compiled loops of these tests nor in the engine's kernels
    (a fused a * b + c rounds once, and the twins round twice). Only meaningful where the
    CPU has FMA, which the compiler would otherwise be free to use."""
    import re

    import llvmlite.binding as llvm

    from mc_threat import evaluate, generate_systems
    from mc_threat.kernels.evaluate import evaluate_batch
    from mc_threat.kernels.generate import generate_batch

    if not llvm.get_host_cpu_features().get("fma"):
        pytest.skip("this CPU has no FMA instructions, so none can appear")
    x = np.linspace(-5.0, 5.0, 64)
    _map1(0, x)
    _sincos(x)
    evaluate(generate_systems(n_states=5, seed=1, count=3))
    fused = re.compile(r"\bv?f(n)?m(add|sub)")
    for fn in (_map1, _sincos, generate_batch, evaluate_batch):
        listings = list(fn.inspect_asm().values())
        assert listings, fn
        for asm in listings:
            assert not fused.search(asm), fn
