"""Twins of the engine's elementary functions: NumPy (``*_np``) and plain Python (``*_py``).

The compiled functions live in :mod:`mc_threat.kernels.elementary`, whose docstring gives
the methods. The twins here perform the same IEEE-754 binary64 operations in the same order
on the same constants, so the three agree to the last bit (``tests/test_elementary.py``
checks it on millions of arguments). The NumPy baseline (:mod:`mc_threat.model.baseline_numpy`)
uses the NumPy twins and the plain-Python reference (``tests/reference.py``) the Python ones.

NumPy evaluates ``a * b + c`` as two rounded operations (it never fuses them), and Python's
float arithmetic is binary64 with no fusing either; bit operations go through
``ndarray.view(np.uint64)`` and :mod:`struct`.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from ..kernels import elementary as K

__all__ = ["cbrt_np", "cbrt_py", "exp_np", "exp_py", "log_np", "log_py", "pow_np", "pow_py",
           "sincos2pi_np", "sincos2pi_py"]

_M64 = (1 << 64) - 1
_SHIFT_BITS = K.SHIFT_BITS
_EXP_POLY = (K.E13, K.E12, K.E11, K.E10, K.E9, K.E8, K.E7, K.E6, K.E5, K.E4, K.E3, K.E2)
_LOG_POLY = (K.L10, K.L9, K.L8, K.L7, K.L6, K.L5, K.L4, K.L3, K.L2, K.L1)
_SIN_POLY = (K.S17, K.S15, K.S13, K.S11, K.S9, K.S7, K.S5, K.S3)
_COS_POLY = (K.C16, K.C14, K.C12, K.C10, K.C8, K.C6, K.C4, K.C2)


# --------------------------------------------------------------------------- plain Python
def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _float(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b & _M64))[0]


def exp_py(x: float) -> float:
    """``e**x``, bit for bit :func:`mc_threat.kernels.elementary.exp`."""
    x = float(x)
    if x < K.EXP_LO:
        x = K.EXP_LO
    if x > K.EXP_HI:
        x = K.EXP_HI
    if x != x:
        return math.nan
    t = x * K.INV_LN2 + K.SHIFT
    k = t - K.SHIFT
    hi = x - k * K.LN2_HI
    lo = k * K.LN2_LO
    r = hi - lo
    q = _EXP_POLY[0]
    for c in _EXP_POLY[1:]:
        q = c + r * q
    p = 1.0 + (hi - (lo - (r * r) * q))
    t1 = k * 0.5 + K.SHIFT
    k2 = k - (t1 - K.SHIFT)
    t2 = k2 + K.SHIFT
    s1 = _float((_bits(t1) + K.EXP_ONE) << 52)
    s2 = _float((_bits(t2) + K.EXP_ONE) << 52)
    return (p * s1) * s2


def log_py(x: float) -> float:
    """Natural logarithm, bit for bit :func:`mc_threat.kernels.elementary.log`."""
    x = float(x)
    if x != x or x < 0.0:
        return math.nan
    if x == 0.0:
        return -math.inf
    if x == math.inf:
        return math.inf
    sub = x < K.MIN_NORMAL
    xs = x * K.TWO54 if sub else x
    ix = _bits(xs)
    tmp = (ix - K.SQRT_HALF_BITS) & _M64
    kb = (tmp ^ K.SIGN_BITS) >> 52
    m = _float(ix - (tmp & K.TOP12_BITS))
    k = (_float(_SHIFT_BITS + kb) - K.SHIFT) - 2048.0
    if sub:
        k = k - 54.0
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    hfsq = 0.5 * f * f
    R = _LOG_POLY[0]
    for c in _LOG_POLY[1:]:
        R = c + z * R
    R = z * R
    return k * K.LN2_HI - ((hfsq - (s * (hfsq + R) + k * K.LN2_LO)) - f)


def sincos2pi_py(u: float) -> tuple[float, float]:
    """``(sin(2 pi u), cos(2 pi u))``, bit for bit the compiled ``sincos2pi``."""
    u = float(u)
    t = u * 4.0 + K.SHIFT
    r = u - (t - K.SHIFT) * 0.25
    z = r * r
    ps = _SIN_POLY[0]
    for c in _SIN_POLY[1:]:
        ps = c + z * ps
    s = r * (K.S1 + z * ps)
    pc = _COS_POLY[0]
    for c in _COS_POLY[1:]:
        pc = c + z * pc
    c = 1.0 + z * pc
    q = _bits(t) & 3
    sn, cs = (c, s) if q & 1 else (s, c)
    if q & 2:
        sn = -sn
    if (q + 1) & 2:
        cs = -cs
    return sn, cs


def cbrt_py(x: float) -> float:
    """Real cube root, bit for bit :func:`mc_threat.kernels.elementary.cbrt`."""
    x = float(x)
    a = -x if x < 0.0 else x
    if a == 0.0 or a == math.inf or a != a:
        return x
    tiny = a < K.CBRT_TINY
    huge = a > K.CBRT_HUGE
    if tiny:
        a = a * K.TWO162
    if huge:
        a = a * K.TWO162_INV
    t = _float(_bits(a) // 3 + K.CBRT_MAGIC)
    t3 = t * t * t
    t = t * ((t3 + 2.0 * a) / (2.0 * t3 + a))
    t3 = t * t * t
    t = t * ((t3 + 2.0 * a) / (2.0 * t3 + a))
    t = _float(_bits(t) & K.CUT26_BITS)
    r = a / (t * t)
    t = t + t * ((r - t) / ((t + t) + r))
    if tiny:
        t = t * K.TWO54_INV
    if huge:
        t = t * K.TWO54
    return -t if x < 0.0 else t


def pow_py(x: float, y: float) -> float:
    """``exp(y * log(x))`` for ``x >= 0``; ``pow_py(x, 0) == 1``."""
    if y == 0.0:
        return 1.0
    return exp_py(y * log_py(x))


# --------------------------------------------------------------------------- NumPy
_U = np.uint64


def _f64(x) -> np.ndarray:
    return np.array(x, dtype=np.float64, copy=True, ndmin=1)


def exp_np(x) -> np.ndarray:
    """``e**x`` elementwise, bit for bit the compiled ``exp``."""
    x = _f64(x)
    shape = x.shape
    x = x.ravel()
    x = np.where(x < K.EXP_LO, K.EXP_LO, x)
    x = np.where(x > K.EXP_HI, K.EXP_HI, x)
    t = x * K.INV_LN2 + K.SHIFT
    k = t - K.SHIFT
    hi = x - k * K.LN2_HI
    lo = k * K.LN2_LO
    r = hi - lo
    q = np.full_like(r, _EXP_POLY[0])
    for c in _EXP_POLY[1:]:
        q = c + r * q
    p = 1.0 + (hi - (lo - (r * r) * q))
    t1 = k * 0.5 + K.SHIFT
    k2 = k - (t1 - K.SHIFT)
    t2 = k2 + K.SHIFT
    s1 = ((t1.view(_U) + _U(K.EXP_ONE)) << _U(52)).view(np.float64)
    s2 = ((t2.view(_U) + _U(K.EXP_ONE)) << _U(52)).view(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        out = (p * s1) * s2
    out[np.isnan(x)] = np.nan
    return out.reshape(shape)


def log_np(x) -> np.ndarray:
    """Natural logarithm elementwise, bit for bit the compiled ``log``."""
    x = _f64(x)
    shape = x.shape
    x = x.ravel()
    sub = x < K.MIN_NORMAL
    with np.errstate(over="ignore", invalid="ignore"):
        xs = np.where(sub, x * K.TWO54, x)
    ix = xs.view(_U)
    tmp = ix - _U(K.SQRT_HALF_BITS)
    kb = (tmp ^ _U(K.SIGN_BITS)) >> _U(52)
    m = (ix - (tmp & _U(K.TOP12_BITS))).view(np.float64)
    k = ((_U(_SHIFT_BITS) + kb).view(np.float64) - K.SHIFT) - 2048.0
    k = np.where(sub, k - 54.0, k)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        hfsq = 0.5 * f * f
        R = np.full_like(z, _LOG_POLY[0])
        for c in _LOG_POLY[1:]:
            R = c + z * R
        R = z * R
        y = k * K.LN2_HI - ((hfsq - (s * (hfsq + R) + k * K.LN2_LO)) - f)
    y[x == 0.0] = -np.inf
    y[(x < 0.0) | np.isnan(x)] = np.nan
    y[x == np.inf] = np.inf
    return y.reshape(shape)


def sincos2pi_np(u) -> tuple[np.ndarray, np.ndarray]:
    """``(sin(2 pi u), cos(2 pi u))`` elementwise, bit for bit the compiled ``sincos2pi``."""
    u = _f64(u)
    with np.errstate(invalid="ignore", over="ignore"):
        return _sincos2pi_np(u)


def _sincos2pi_np(u):
    t = u * 4.0 + K.SHIFT
    r = u - (t - K.SHIFT) * 0.25
    z = r * r
    ps = np.full_like(z, _SIN_POLY[0])
    for c in _SIN_POLY[1:]:
        ps = c + z * ps
    s = r * (K.S1 + z * ps)
    pc = np.full_like(z, _COS_POLY[0])
    for c in _COS_POLY[1:]:
        pc = c + z * pc
    c = 1.0 + z * pc
    q = t.view(_U) & _U(3)
    odd = (q & _U(1)) != 0
    sn = np.where(odd, c, s)
    cs = np.where(odd, s, c)
    sn = np.where((q & _U(2)) != 0, -sn, sn)
    cs = np.where(((q + _U(1)) & _U(2)) != 0, -cs, cs)
    return sn, cs


def cbrt_np(x) -> np.ndarray:
    """Real cube root elementwise, bit for bit the compiled ``cbrt``."""
    x = _f64(x)
    a = np.where(x < 0.0, -x, x)
    tiny = a < K.CBRT_TINY
    huge = a > K.CBRT_HUGE
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.where(tiny, a * K.TWO162, a)
        a = np.where(huge, a * K.TWO162_INV, a)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t = (a.view(_U) // _U(3) + _U(K.CBRT_MAGIC)).view(np.float64)
        t3 = t * t * t
        t = t * ((t3 + 2.0 * a) / (2.0 * t3 + a))
        t3 = t * t * t
        t = t * ((t3 + 2.0 * a) / (2.0 * t3 + a))
        t = (t.view(_U) & _U(K.CUT26_BITS)).view(np.float64)
        r = a / (t * t)
        t = t + t * ((r - t) / ((t + t) + r))
    t = np.where(tiny, t * K.TWO54_INV, t)
    t = np.where(huge, t * K.TWO54, t)
    special = (a == 0.0) | (a == np.inf) | np.isnan(a)
    t = np.where(special, a, t)
    return np.where(x < 0.0, -t, t)


def pow_np(x, y) -> np.ndarray:
    """``exp(y * log(x))`` elementwise for ``x >= 0``; 1 where ``y == 0``."""
    x, y = np.broadcast_arrays(_f64(x), _f64(y))
    with np.errstate(invalid="ignore"):
        out = exp_np(y * log_np(x))
    return np.where(y == 0.0, 1.0, out)
