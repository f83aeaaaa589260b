"""The engine's own elementary functions (MODEL.md section 9), compiled.

``exp``, ``log``, ``sincos2pi`` (sine and cosine of ``2 pi u``), ``cbrt`` and ``pow_``
(``exp(y log x)``), written in IEEE-754 binary64 additions, multiplications, divisions and
``sqrt``-free bit operations only: no fused multiply-add, no fast-math, a fixed order of
operations. Two twins follow them operation for operation, so all three agree to the last
bit on every machine: :mod:`mc_threat.model.elementary` has the NumPy twin (``exp_np``, ...) and
the plain-Python twin (``exp_py``, ...). The constants below are shared by all three.

Why our own: the C library's functions differ between machines (glibc picks code paths by
CPU) and cannot be vectorized by the compiler, while these are branch-free straight-line
code that LLVM vectorizes across a loop, and they fix every stored result to the bit.

Methods (all coefficients are exact-series values rounded once to binary64, printed as hex
literals so no library computes them at import; ``tests/test_elementary.py`` checks each
against ``mpmath``):

* ``exp(x)``: Cody-Waite reduction ``x = k ln2 + r``, ``|r| <= ln2/2``, with ``k`` rounded
  by adding and subtracting ``1.5 * 2**52`` (so no float-to-integer conversion) and
  ``ln2`` split in a 32-bit head (``k * LN2_HI`` exact, and ``hi = x - k * LN2_HI`` exact
  too) and a tail ``lo = k * LN2_LO``; ``r = hi - lo`` and ``exp(r) = 1 + (hi - (lo - r^2
  q(r)))`` with ``q`` the Taylor series ``1/2! + r/3! + ... + r^11/13!`` (Horner), so the
  rounding of ``r`` only touches the small term; ``2^k`` built from the
  integer bits of the shifted ``k`` as two factors ``2^k1 * 2^k2`` (``k1 = round(k/2)``), so
  subnormal results are rounded once and overflow gives ``inf``. ``x`` is clamped to
  ``[-746, 710]`` first. Largest error measured 0.84 ulp (see ``MEASURED_ULP``).
* ``log(x)``: ``x = 2^k m`` with ``m`` in ``[sqrt(2)/2, sqrt(2))`` taken from the bits (a
  subnormal ``x`` is first scaled by ``2^54``); ``f = m - 1``, ``s = f / (2 + f)``, and
  ``log(1 + f) = f - (f^2/2 - s (f^2/2 + R))`` with ``R = sum 2 s^2j / (2j + 1)``,
  ``j = 1..10`` (the series of ``2 atanh(s)``; fdlibm's arrangement of the terms);
  ``log 0 = -inf``, ``log x = nan`` for ``x < 0``, ``log inf = inf``. Largest error
  measured 0.82 ulp.
* ``sincos2pi(u)``: the quadrant ``q = round(4u)`` and ``r = u - q/4`` are exact, so the
  reduction loses nothing however close ``2 pi u`` is to a multiple of ``pi/2``; then the
  Taylor series of ``sin`` and ``cos`` of ``2 pi r`` in ``r`` to degree 17 and 16, and a
  swap and sign flip by quadrant. For ``|u| < 2^49``. Largest error measured 1.56 ulp
  (the coefficient ``2 pi`` itself is rounded).
* ``cbrt(x)``: arguments below ``2^-960`` or above ``2^960`` scaled by ``2^(+-162)``
  (undone by ``2^(-+54)`` on the result, exactly); a first guess from the bits (the bit
  pattern divided by three, plus a constant), two Halley steps,
  the guess cut to 26 significant bits (so its square is exact) and a last Halley step
  ``t + t (x/t^2 - t) / (2t + x/t^2)``. Largest error measured 0.67 ulp.
* ``pow_(x, y) = exp(y * log(x))`` for ``x >= 0``; its error grows with ``|y log x|`` (the
  rounding of the product), about ``|y log x| * 2^-53`` relative beyond 1 ulp.

Every function is a function of scalars compiled by ``decorators.vector_kernel`` (no
zero-division checks); LLVM inlines it into the loops that call it, and since it has no
branches on the data except special cases that become selects, those loops run as vector
code. ``as_bits`` and ``as_float`` are numba intrinsics (a bit cast each), the only compiled
code in the package that does not go through ``decorators``: they emit one LLVM
instruction and have nothing to cache. NaN in gives NaN out; ``exp`` and ``log`` return
the one NaN ``np.nan`` (the others pass the argument's NaN through, as their twins do).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .decorators import vector_kernel

# --------------------------------------------------------------------------- constants
SHIFT = float.fromhex("0x1.8p52")  # 1.5 * 2**52: x + SHIFT - SHIFT rounds x to an integer
INV_LN2 = float.fromhex("0x1.71547652b82fep+0")  # 1/ln 2
LN2_HI = float.fromhex("0x1.62e42fee00000p-1")  # ln 2, head of 32 significant bits
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")  # ln 2 - LN2_HI
EXP_LO = -746.0  # below: exp underflows to 0 (after rounding)
EXP_HI = 710.0  # above: exp overflows to inf

# 1/k!, k = 2 .. 13 (exp)
E2 = float.fromhex("0x1.0000000000000p-1")
E3 = float.fromhex("0x1.5555555555555p-3")
E4 = float.fromhex("0x1.5555555555555p-5")
E5 = float.fromhex("0x1.1111111111111p-7")
E6 = float.fromhex("0x1.6c16c16c16c17p-10")
E7 = float.fromhex("0x1.a01a01a01a01ap-13")
E8 = float.fromhex("0x1.a01a01a01a01ap-16")
E9 = float.fromhex("0x1.71de3a556c734p-19")
E10 = float.fromhex("0x1.27e4fb7789f5cp-22")
E11 = float.fromhex("0x1.ae64567f544e4p-26")
E12 = float.fromhex("0x1.1eed8eff8d898p-29")
E13 = float.fromhex("0x1.6124613a86d09p-33")

# 2/(2j+1), j = 1 .. 10 (log)
L1 = float.fromhex("0x1.5555555555555p-1")
L2 = float.fromhex("0x1.999999999999ap-2")
L3 = float.fromhex("0x1.2492492492492p-2")
L4 = float.fromhex("0x1.c71c71c71c71cp-3")
L5 = float.fromhex("0x1.745d1745d1746p-3")
L6 = float.fromhex("0x1.3b13b13b13b14p-3")
L7 = float.fromhex("0x1.1111111111111p-3")
L8 = float.fromhex("0x1.e1e1e1e1e1e1ep-4")
L9 = float.fromhex("0x1.af286bca1af28p-4")
L10 = float.fromhex("0x1.8618618618618p-4")

# (-1)^j (2 pi)^(2j+1) / (2j+1)!, j = 0 .. 8 (sin of 2 pi r)
S1 = float.fromhex("0x1.921fb54442d18p+2")
S3 = float.fromhex("-0x1.4abbce625be53p+5")
S5 = float.fromhex("0x1.466bc6775aae2p+6")
S7 = float.fromhex("-0x1.32d2cce62bd86p+6")
S9 = float.fromhex("0x1.50783487ee782p+5")
S11 = float.fromhex("-0x1.e3074fde8871fp+3")
S13 = float.fromhex("0x1.e8f434d018d63p+1")
S15 = float.fromhex("-0x1.6fadb9f155744p-1")
S17 = float.fromhex("0x1.aaec32af93359p-4")
# (-1)^j (2 pi)^(2j) / (2j)!, j = 1 .. 8 (cos of 2 pi r)
C2 = float.fromhex("-0x1.3bd3cc9be45dep+4")
C4 = float.fromhex("0x1.03c1f081b5ac4p+6")
C6 = float.fromhex("-0x1.55d3c7e3cbffap+6")
C8 = float.fromhex("0x1.e1f506891babbp+5")
C10 = float.fromhex("-0x1.a6d1f2a204a8cp+4")
C12 = float.fromhex("0x1.f9d38a3763cc3p+2")
C14 = float.fromhex("-0x1.b6e24f44b128fp+0")
C16 = float.fromhex("0x1.20c62c2f2d7f5p-2")

# Powers of two and thresholds.
MIN_NORMAL = float.fromhex("0x1p-1022")
TWO54 = float.fromhex("0x1p54")
CBRT_TINY = float.fromhex("0x1p-960")  # cbrt scales arguments below this up by 2^162
CBRT_HUGE = float.fromhex("0x1p960")  # and above this down by 2^162 (so cubes stay normal)
TWO162 = float.fromhex("0x1p162")
TWO54_INV = float.fromhex("0x1p-54")
TWO162_INV = float.fromhex("0x1p-162")
# Bit patterns, as Python ints (the kernels use the uint64 versions below).
SHIFT_BITS = 0x4338000000000000  # bits of SHIFT
SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # bits of sqrt(2)/2
EXP_ONE = 1023  # exponent bias
SIGN_BITS = 0x8000000000000000
TOP12_BITS = 0xFFF0000000000000
ABS_BITS = 0x7FFFFFFFFFFFFFFF
CBRT_MAGIC = 0x2A9F7893782DA1CE  # bits(cbrt(x)) ~ bits(x)/3 + CBRT_MAGIC
CUT26_BITS = 0xFFFFFFFFF8000000  # keep sign, exponent and the top 25 mantissa bits

MEASURED_ULP = {"exp": 0.84, "log": 0.82, "sincos2pi": 1.56, "cbrt": 0.67}
"""Largest error in ulps against mpmath (120 bits), measured by ``scripts/elementary_ulp.py``
on 300,000 seeded arguments per function plus the edge cases of ``tests/test_elementary.py``
(normal results; a subnormal result adds at most half an ulp of rounding)."""

_U = np.uint64
_SQRT_HALF = _U(SQRT_HALF_BITS)
_SIGN = _U(SIGN_BITS)
_TOP12 = _U(TOP12_BITS)
_ABS = _U(ABS_BITS)
_MAGIC = _U(CBRT_MAGIC)
_CUT26 = _U(CUT26_BITS)
_BIAS = _U(EXP_ONE)
_SHIFT_BITS = _U(SHIFT_BITS)
_S52 = _U(52)
_THREE = _U(3)
_Q_MASK = _U(3)
_ONE_U = _U(1)
_TWO_U = _U(2)


# --------------------------------------------------------------------------- bit casts
@intrinsic
def as_bits(typingctx, x):
    """The IEEE bit pattern of a float64 as a uint64 (no conversion, a reinterpretation)."""
    if isinstance(x, types.Float) and x.bitwidth == 64:
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))
        return types.uint64(types.float64), codegen
    return None


@intrinsic
def as_float(typingctx, b):
    """The float64 whose IEEE bit pattern is the uint64 ``b``."""
    if isinstance(b, types.Integer) and b.bitwidth == 64:
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())
        return types.float64(b), codegen
    return None


# --------------------------------------------------------------------------- functions
@vector_kernel
def exp(x):
    """``e**x`` (see the module docstring)."""
    if x < EXP_LO:
        x = EXP_LO
    if x > EXP_HI:
        x = EXP_HI
    t = x * INV_LN2 + SHIFT
    k = t - SHIFT
    hi = x - k * LN2_HI  # exact (Sterbenz; k * LN2_HI is exact)
    lo = k * LN2_LO
    r = hi - lo
    q = E12 + r * E13
    q = E11 + r * q
    q = E10 + r * q
    q = E9 + r * q
    q = E8 + r * q
    q = E7 + r * q
    q = E6 + r * q
    q = E5 + r * q
    q = E4 + r * q
    q = E3 + r * q
    q = E2 + r * q
    p = 1.0 + (hi - (lo - (r * r) * q))
    t1 = k * 0.5 + SHIFT
    k2 = k - (t1 - SHIFT)
    t2 = k2 + SHIFT
    # bits(SHIFT + j) = bits(SHIFT) + j and the low 51 bits of bits(SHIFT) are zero, so the
    # low 12 bits of bits(t) + 1023 are those of j + 1023: shifted up, they are 2^j.
    s1 = as_float((as_bits(t1) + _BIAS) << _S52)
    s2 = as_float((as_bits(t2) + _BIAS) << _S52)
    y = (p * s1) * s2
    if x != x:
        y = np.nan  # one NaN whatever came in (its sign and payload are not the hardware's)
    return y


@vector_kernel
def log(x):
    """Natural logarithm (see the module docstring)."""
    sub = x < MIN_NORMAL
    xs = x * TWO54 if sub else x
    ix = as_bits(xs)
    tmp = ix - _SQRT_HALF
    # The top 12 bits of tmp are k in two's complement; flipping the sign bit and shifting
    # gives k + 2048 without a signed shift.
    kb = (tmp ^ _SIGN) >> _S52
    m = as_float(ix - (tmp & _TOP12))
    k = (as_float(_SHIFT_BITS + kb) - SHIFT) - 2048.0
    if sub:
        k = k - 54.0
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    hfsq = 0.5 * f * f
    R = L9 + z * L10
    R = L8 + z * R
    R = L7 + z * R
    R = L6 + z * R
    R = L5 + z * R
    R = L4 + z * R
    R = L3 + z * R
    R = L2 + z * R
    R = L1 + z * R
    R = z * R
    y = k * LN2_HI - ((hfsq - (s * (hfsq + R) + k * LN2_LO)) - f)
    if x == 0.0:
        y = -np.inf
    if x < 0.0 or x != x:
        y = np.nan
    if x == np.inf:
        y = np.inf
    return y


@vector_kernel
def sincos2pi(u):
    """``(sin(2 pi u), cos(2 pi u))`` (see the module docstring)."""
    t = u * 4.0 + SHIFT
    r = u - (t - SHIFT) * 0.25
    z = r * r
    ps = S15 + z * S17
    ps = S13 + z * ps
    ps = S11 + z * ps
    ps = S9 + z * ps
    ps = S7 + z * ps
    ps = S5 + z * ps
    ps = S3 + z * ps
    s = r * (S1 + z * ps)
    pc = C14 + z * C16
    pc = C12 + z * pc
    pc = C10 + z * pc
    pc = C8 + z * pc
    pc = C6 + z * pc
    pc = C4 + z * pc
    pc = C2 + z * pc
    c = 1.0 + z * pc
    # Quadrant q = round(4u) mod 4 from the low bits: sin(2 pi u) is s, c, -s, -c and
    # cos(2 pi u) is c, -s, -c, s for q = 0, 1, 2, 3.
    q = as_bits(t) & _Q_MASK
    odd = (q & _ONE_U) != 0
    sn = c if odd else s
    cs = s if odd else c
    if (q & _TWO_U) != 0:
        sn = -sn
    if ((q + _ONE_U) & _TWO_U) != 0:
        cs = -cs
    return sn, cs


@vector_kernel
def cbrt(x):
    """Real cube root (see the module docstring)."""
    a = -x if x < 0.0 else x
    tiny = a < CBRT_TINY
    huge = a > CBRT_HUGE
    if tiny:
        a = a * TWO162
    if huge:
        a = a * TWO162_INV
    t = as_float(as_bits(a) // _THREE + _MAGIC)
    t3 = t * t * t
    t = t * ((t3 + 2.0 * a) / (2.0 * t3 + a))
    t3 = t * t * t
    t = t * ((t3 + 2.0 * a) / (2.0 * t3 + a))
    t = as_float(as_bits(t) & _CUT26)
    r = a / (t * t)
    t = t + t * ((r - t) / ((t + t) + r))
    if tiny:
        t = t * TWO54_INV
    if huge:
        t = t * TWO54
    if a == 0.0 or a == np.inf or a != a:
        t = a
    return -t if x < 0.0 else t


@vector_kernel
def pow_(x, y):
    """``exp(y * log(x))`` for ``x >= 0`` (see the module docstring); ``pow_(0, 0)`` is 1."""
    if y == 0.0:
        return 1.0
    return exp(y * log(x))
