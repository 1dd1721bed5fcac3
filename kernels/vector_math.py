r"""Branch-free ``exp``, ``log``, ``log1p``, ``expm1``, ``tanh``, ``expit``, ``log1pexp`` and
``lgamma`` that LLVM vectorises inside loops.

Numba compiles ``math.exp`` and friends to calls of the C library's scalar functions, and a loop
with a call in its body stays scalar.  These kernels are written in additions, multiplications,
divisions, integer bit operations and selects only, and LLVM inlines them into their callers
(``forceinline=True``: each is compiled once, into the disk cache, and carries LLVM's
``alwaysinline``; Numba's own ``inline="always"`` would retype the whole body at every call site
of every model, which tripled the compile time of a logistic regression's gradient), so a fused
data loop of generated code (:mod:`autodiff.codegen.fusion`) that calls them is vectorised by
LLVM's loop vectoriser (SVML, which Numba would otherwise use, is absent from llvmlite builds
without Intel's library).  Every special case -- ``nan``,
``±inf``, ``±0``, subnormal inputs and results, overflow and underflow -- is a select on the
final value, never a branch.  All arithmetic is IEEE double without fused multiply-adds, so the
results are the same bits on every x86-64 machine, whichever vector width LLVM picks.

The algorithms (Cody & Waite 1980; Tang 1989; the structure of Sun's fdlibm, with our own
coefficients from the Taylor series, whose truncation error is below 0.05 ulp on the reduced
ranges):

* :func:`exp` -- :math:`x = n \ln 2 + r`, :math:`|r| \le \ln 2 / 2`, with :math:`n =
  \mathrm{round}(x/\ln 2)` by adding and subtracting :math:`1.5 \cdot 2^{52}` and :math:`r` by a
  two-part Cody-Waite reduction (:math:`n \cdot \ln 2_{hi}` is exact).  :math:`e^r = 1 + q`,
  :math:`q = r + r^2 \sum_{k=2}^{13} r^{k-2}/k!`, and :math:`2^n` is applied as two factors
  :math:`2^{\lfloor n/2 \rfloor} 2^{n - \lfloor n/2 \rfloor}` built from their exponent bits, so
  that results near overflow and subnormal results round once.
* :func:`expm1` -- the same reduction; :math:`q` itself for :math:`n = 0`, else
  :math:`2^n q + (2^n - 1)` (both terms exact), :math:`e^x` beyond :math:`x = 56` and
  :math:`-1` below :math:`-38` (where :math:`e^x` is below half an ulp of 1).
* :func:`log` -- :math:`x = 2^k m`, :math:`m \in [\sqrt{1/2}, \sqrt 2)` from the bits (subnormal
  ``x`` scaled by :math:`2^{52}` first); with :math:`f = m - 1`, :math:`s = f/(2+f)`,
  :math:`\log(1+f) = 2\,\mathrm{atanh}(s) = f - (f^2/2 - s(f^2/2 + R))`,
  :math:`R = \sum_{j=1}^{10} 2 s^{2j}/(2j+1)`; the correction is small against :math:`f`, which
  is exact, so the result is within one rounding of the sum
  :math:`k \ln 2_{hi} + (\ldots)`.
* :func:`log1p` -- :func:`log` of :math:`u = 1 + x` plus the first-order correction
  :math:`c/u`, :math:`c = x - (u - 1)` (or :math:`1 - (u - x)` when :math:`u \ge 2`), the
  rounding error of :math:`u`; exact for tiny ``x`` (``log1p(x) = x``).
* :func:`log1pexp` -- :math:`\max(x, 0) + \mathrm{log1p}(e^{-|x|})`; :func:`expit` --
  :math:`1/(1+e)` for :math:`x \ge 0` and :math:`e/(1+e)` below, :math:`e = e^{-|x|}`; both as
  in :mod:`kernels.special`, which calls them.
* :func:`tanh` -- :math:`\mathrm{sign}(x) \cdot (-t)/(2 + t)`, :math:`t = \mathrm{expm1}(-2|x|)`.
* :func:`lgamma` -- :math:`\log|\Gamma(x)|` in three pieces for :math:`z > 0`, all computed
  and one selected, with a single :func:`log`: on :math:`[0, 1]`,
  :math:`\log\Gamma(1 + w) = w (w - 1) P(w - \tfrac12)`, :math:`P` a degree-21 polynomial
  (our Chebyshev fit at 60 digits, error below :math:`10^{-18}` relative), which keeps the
  zeros at 1 and 2 exact and relatively accurate; :math:`\log\Gamma(z) = \log\Gamma(1 + z) -
  \log z` below 1; :math:`\log\Gamma(z) = \log\Gamma(1 + f) + \log \prod_{k=1}^{n}(f + k)`
  on :math:`[1, 8)`, :math:`f` the fractional part (every factor exact); Stirling's series
  :math:`(z - \tfrac12)(\log z - 1) + \tfrac12(\log 2\pi - 1) + \sum_{k=1}^{8}
  B_{2k}/(2k(2k-1) z^{2k-1})` from 8 on (truncation below :math:`10^{-16}` of the result).
  For :math:`x \le 0` the reflection :math:`\log\pi - \log|\sin \pi x| - \log\Gamma(1 - x)`,
  with :math:`\sin \pi t` of the exactly reduced :math:`t = |x - \mathrm{round}(x)|` by its
  Taylor series to :math:`t^{25}`; the poles (0 and the negative integers) give ``inf``.

Accuracy against correctly rounded values (mpmath at 60 digits) is tested on dense grids over
the whole range, the tails and the special values (``tests/kernels/test_vector_math.py``): at
most 2 ulp everywhere, most results correctly rounded.  :func:`lgamma` is measured in the
units of the last place of the size of the terms its formula adds (as SciPy's and Boost's tests
do, since a relative error means nothing at a zero of the function): for :math:`x > 0` the
larger of :math:`|\log\Gamma(x)|` and :math:`|\log x|` (at most 2 ulp of it; at most 2 ulp of
the result itself except just above 2, where :math:`\log\Gamma(1 + f)` and
:math:`\log(1 + f)` cancel to 4 ulp), for :math:`x < 0` the sum of the reflection's two terms
(at most 3 ulp of it; near the zeros of :math:`\log|\Gamma|` on the negative axis the result
is a small difference of large terms, in SciPy too).

The kernels are compiled with ``error_model="numpy"`` (a division by zero is ``inf``, as in the
generated code they are inlined into).  When ``NUMBAYES_DISABLE_JIT=1`` they run as plain Python
with the same bit operations.

References
----------
* W. J. Cody and W. Waite (1980), *Software Manual for the Elementary Functions*, Prentice-Hall.
* P. T. P. Tang (1989), Table-driven implementation of the exponential function in IEEE
  floating-point arithmetic, *ACM TOMS* 15(2), 144-157.
* Sun Microsystems (1993), fdlibm, ``e_exp.c``, ``e_log.c``, ``s_log1p.c`` (the reductions).
* DLMF 5.5.3 (reflection), 5.11.1 (Stirling's series), https://dlmf.nist.gov/5.

Examples
--------
>>> from kernels import vector_math as vm
>>> vm.exp(1.0) == 2.718281828459045
True
>>> vm.log(2.0) == 0.6931471805599453
True
>>> vm.log1p(-0.0), vm.exp(-float("inf")), vm.log(0.0)
(-0.0, 0.0, -inf)
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from fractions import Fraction

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from kernels.jit import JIT_DISABLED, njit

__all__ = ["accumulate", "exp", "expit", "expm1", "lgamma", "log", "log1p", "log1pexp", "tanh"]

# ---------------------------------------------------------------------------------------------
# Bit casts between float64 and int64 (one LLVM ``bitcast``, vectorisable)
# ---------------------------------------------------------------------------------------------


def _py_bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def _py_from_bits(i: int) -> float:
    i &= 0xFFFFFFFFFFFFFFFF
    return struct.unpack("<d", struct.pack("<Q", i))[0]


@intrinsic
def _bits_intrinsic(typingctx, x):
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits_intrinsic(typingctx, i):
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[0], signature.args[0], types.int64)
        return builder.bitcast(value, ir.DoubleType())

    return types.float64(i), codegen


_bits = _py_bits if JIT_DISABLED else _bits_intrinsic
_from_bits = _py_from_bits if JIT_DISABLED else _from_bits_intrinsic

# ---------------------------------------------------------------------------------------------
# Constants (module globals are frozen into the compiled code)
# ---------------------------------------------------------------------------------------------

_LN2_DIGITS = Fraction(Decimal("0.69314718055994530941723212145817656807550013436025525412068"))
# ln 2 = _LN2_HI + _LN2_LO with _LN2_HI's low 32 mantissa bits zero: n * _LN2_HI is exact for
# |n| < 2**21, which keeps the first step of the reduction exact
_LN2_HI = _py_from_bits(_py_bits(math.log(2.0)) & ~0xFFFFFFFF)
_LN2_LO = float(_LN2_DIGITS - Fraction(_LN2_HI))
_INV_LN2 = 1.0 / math.log(2.0)
_ROUND_SHIFT = 6755399441055744.0  # 1.5 * 2**52: x + shift - shift rounds x to an integer
_ROUND_SHIFT_BITS = _py_bits(_ROUND_SHIFT)
_SQRT_HALF_BITS = _py_bits(math.sqrt(0.5))
_TWO_52 = 4503599627370496.0
_MIN_NORMAL = 2.2250738585072014e-308
_INF = math.inf
_NAN = math.nan

# 1/k! for k = 2..13 (exp's polynomial) and 2/(2j+1) for j = 1..10 (log's)
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = (
    float(Fraction(1, math.factorial(k))) for k in range(2, 14)
)
_L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8, _L9, _L10 = (
    float(Fraction(2, 2 * j + 1)) for j in range(1, 11)
)

# lgamma: log Gamma(1 + w) = w (w - 1) P(w - 1/2) on [0, 1], P's coefficients from lowest to
# highest degree (Chebyshev interpolation of lgamma(1 + w) / (w (w - 1)) at 22 nodes with mpmath
# at 60 digits, converted to powers of w - 1/2; tests/kernels/test_vector_math.py re-derives
# them); Stirling's coefficients B_2k / (2k (2k - 1)); sin(pi t) = pi t (1 + sum_k S_k t^2k)
(_G0, _G1, _G2, _G3, _G4, _G5, _G6, _G7, _G8, _G9, _G10, _G11, _G12, _G13, _G14, _G15, _G16,
 _G17, _G18, _G19, _G20, _G21) = LGAMMA1P_COEFFICIENTS = (
    0.4831289505409809, -0.14595989591430608, 0.06291140107456439, -0.031308487501010646,
    0.01679709863127416, -0.009425622448525798, 0.005446457839126065, -0.0032120740737152814,
    0.0019229163127905161, -0.0011644145847310124, 0.000711519067515296,
    -0.00043799307479613914, 0.00027131373861446925, -0.0001689178215524898,
    0.00010535512483785591, -6.614136022346414e-05, 4.30276814976503e-05,
    -2.7201673025504752e-05, 1.3186019073996835e-05, -8.355075869795273e-06,
    1.2140008083973407e-05, -7.760660152513446e-06,
)
_B1, _B2, _B3, _B4, _B5, _B6, _B7, _B8 = (
    float(Fraction(b, 2 * k * (2 * k - 1))) for k, b in enumerate(
        (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30), Fraction(5, 66),
         Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510)), start=1)
)
_S1, _S2, _S3, _S4, _S5, _S6, _S7, _S8, _S9, _S10, _S11, _S12 = (
    (-1.0) ** k * math.pi ** (2 * k) / math.factorial(2 * k + 1) for k in range(1, 13)
)
_HALF_LOG_2PI_MINUS_HALF = float(
    Decimal("0.91893853320467274178032973640561763986139747363778341281715") - Decimal("0.5"))
_LOG_PI = float(Decimal("1.1447298858494001741434273513530587116472948129153115715137"))
_STIRLING_FROM = 8.0

# ---------------------------------------------------------------------------------------------
# The shared pieces
# ---------------------------------------------------------------------------------------------


@njit(inline="always", error_model="numpy")
def _expm1_poly_split(r: float, r_err: float) -> tuple:
    """``exp(r + r_err) - 1 = hi + lo`` for ``|r| <= ln(2)/2`` and ``r_err`` the rounding error
    of ``r``, with ``hi`` the rounded sum and ``lo`` the rest (``r + r^2 p`` by Fast2Sum,
    ``|r| >= |r^2 p|``; ``r_err`` enters to first order, ``e^r r_err``), so that a caller
    scaling it by ``2**n`` and cancelling against ``2**n - 1`` keeps the digits that rounding
    ``hi`` and ``r`` lost."""
    p = _E12 + r * _E13
    p = _E11 + r * p
    p = _E10 + r * p
    p = _E9 + r * p
    p = _E8 + r * p
    p = _E7 + r * p
    p = _E6 + r * p
    p = _E5 + r * p
    p = _E4 + r * p
    p = _E3 + r * p
    p = _E2 + r * p
    tail = (r * r) * p
    hi = r + tail
    return hi, ((r - hi) + tail) + (r_err + r_err * hi)


@njit(inline="always", error_model="numpy")
def _reduce(xc: float) -> tuple:
    """``(n, r, r_err)`` with ``xc = n ln 2 + r + r_err``, ``n`` the nearest integer to
    ``xc / ln 2``, ``r`` rounded and ``r_err`` its rounding error (Cody-Waite: ``xc - n ln2_hi``
    is exact, then Fast2Sum with ``-n ln2_lo``)."""
    kd = xc * _INV_LN2 + _ROUND_SHIFT
    n = _bits(kd) - _ROUND_SHIFT_BITS
    nf = kd - _ROUND_SHIFT
    r_hi = xc - nf * _LN2_HI
    r_lo = -(nf * _LN2_LO)
    r = r_hi + r_lo
    return n, r, (r_hi - r) + r_lo


@njit(inline="always", error_model="numpy")
def _one_plus(hi: float, lo: float) -> float:
    """``1 + hi + lo`` rounded once, for ``|hi| < 1`` and a tiny ``lo``: the rounding error of
    ``1 + hi`` (Fast2Sum) is added back together with ``lo``."""
    one = 1.0 + hi
    return one + (((1.0 - one) + hi) + lo)


@njit(inline="always", error_model="numpy")
def _pow2(n: int) -> float:
    """``2**n`` for ``-1022 <= n <= 1023``, from its exponent bits."""
    return _from_bits((n + 1023) << 52)


@njit(inline="always", error_model="numpy")
def _log_kernel(f: float, k: float, tail: float) -> float:
    """``k ln 2 + log(1 + f) + tail`` for ``f = m - 1``, ``m in [sqrt(1/2), sqrt(2))`` and a
    small ``tail`` (log1p's rounding correction), with one rounding at the end."""
    s = f / (2.0 + f)
    z = s * s
    r = _L9 + z * _L10
    r = _L8 + z * r
    r = _L7 + z * r
    r = _L6 + z * r
    r = _L5 + z * r
    r = _L4 + z * r
    r = _L3 + z * r
    r = _L2 + z * r
    r = _L1 + z * r
    r = z * r
    hfsq = 0.5 * f * f
    return k * _LN2_HI + (f - (hfsq - (s * (hfsq + r) + (k * _LN2_LO + tail))))


@njit(inline="always", error_model="numpy")
def _split(u: float) -> tuple:
    """``(k, m)`` with ``u = 2**k m``, ``m in [sqrt(1/2), sqrt(2))``, for a positive normal ``u``."""
    bits = _bits(u)
    k = (bits - _SQRT_HALF_BITS) >> 52
    m = _from_bits(bits - (k << 52))
    return k, m


# ---------------------------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------------------------


@njit(forceinline=True, error_model="numpy")
def exp(x: float) -> float:
    """:math:`e^x`, branch-free (see the module docstring); ``exp(-inf) = 0``, ``exp(inf) = inf``,
    ``nan`` for ``nan``; results below the smallest subnormal round to 0, above the largest
    double to ``inf``."""
    xc = 710.0 if x > 710.0 else x  # nan compares false and stays nan
    xc = -746.0 if xc < -746.0 else xc
    n, r, r_err = _reduce(xc)
    hi, lo = _expm1_poly_split(r, r_err)
    n1 = n >> 1
    return (_one_plus(hi, lo) * _pow2(n1)) * _pow2(n - n1)


@njit(forceinline=True, error_model="numpy")
def expm1(x: float) -> float:
    """:math:`e^x - 1`, accurate near 0 (``expm1(±0) = ±0``, ``expm1(-inf) = -1``)."""
    xc = 710.0 if x > 710.0 else x
    xc = -40.0 if xc < -40.0 else xc
    n, r, r_err = _reduce(xc)
    hi, lo = _expm1_poly_split(r, r_err)
    n1 = n >> 1
    s1 = _pow2(n1)
    s2 = _pow2(n - n1)
    big = (_one_plus(hi, lo) * s1) * s2  # e^x: the -1 is below half an ulp beyond x = 56
    t = s1 * s2
    a = t - 1.0  # exact for n <= 53; beyond, a_err keeps the -1 that rounding lost
    a_err = (t - a) - 1.0
    b = t * hi  # exact
    m = a + b
    bb = m - a
    m_err = (a - (m - bb)) + (b - bb)  # a + b = m + m_err exactly (Knuth's TwoSum)
    mid = m + ((m_err + a_err) + t * lo)
    y = hi if n == 0 else mid
    y = big if n > 80 else y
    y = -1.0 if x < -38.0 else y
    return x if x == 0.0 else y  # keeps the sign of zero


@njit(forceinline=True, error_model="numpy")
def log(x: float) -> float:
    """Natural logarithm: ``log(0) = -inf``, ``log(inf) = inf``, ``nan`` below 0 and for ``nan``."""
    tiny = x < _MIN_NORMAL
    u = x * _TWO_52 if tiny else x
    k, m = _split(u)
    kf = float(k - 52) if tiny else float(k)
    y = _log_kernel(m - 1.0, kf, 0.0)
    y = y if x > 0.0 else (-_INF if x == 0.0 else _NAN)
    return x if x == _INF else y


@njit(forceinline=True, error_model="numpy")
def log1p(x: float) -> float:
    """:math:`\\log(1 + x)`, accurate near 0 (``log1p(±0) = ±0``, ``log1p(-1) = -inf``, ``nan``
    below -1)."""
    u = 1.0 + x
    k, m = _split(u)
    c = (1.0 - (u - x)) if u >= 2.0 else (x - (u - 1.0))  # the rounding error of u = 1 + x
    y = _log_kernel(m - 1.0, float(k), c / (u if u != 0.0 else 1.0))  # u = 0: selected away
    y = y if x > -1.0 else (-_INF if x == -1.0 else _NAN)
    y = x if x == _INF else y
    return x if x == 0.0 else y


@njit(forceinline=True, error_model="numpy")
def log1pexp(x: float) -> float:
    """Softplus :math:`\\log(1 + e^x) = \\max(x, 0) + \\mathrm{log1p}(e^{-|x|})`."""
    return (x if x > 0.0 else 0.0) + log1p(exp(-abs(x)))


@njit(forceinline=True, error_model="numpy")
def expit(x: float) -> float:
    """The logistic function :math:`1/(1 + e^{-x})`, as ``1/(1+e)`` for ``x >= 0`` and
    ``e/(1+e)`` below, ``e = exp(-|x|)`` (no overflow)."""
    e = exp(-abs(x))
    d = 1.0 + e
    d_err = (1.0 - d) + e  # 1 + e = d + d_err exactly (Fast2Sum)
    q = (1.0 if x >= 0.0 else e) / d
    inv_d = q if x >= 0.0 else 1.0 - q  # 1/d to a few digits, enough for the correction
    return q - q * (d_err * inv_d)  # a / (d + d_err) to first order in d_err


@njit(forceinline=True, error_model="numpy")
def tanh(x: float) -> float:
    """Hyperbolic tangent, :math:`\\mathrm{sign}(x)\\,(-t)/(2 + t)`, :math:`t = e^{-2|x|} - 1`."""
    a = abs(x)
    t = expm1(2.0 * (22.0 if a > 22.0 else a))  # tanh(22) rounds to 1; t stays finite
    d = t + 2.0
    d_err = ((2.0 - d) + t) if t < 2.0 else ((t - d) + 2.0)  # t + 2 = d + d_err (Fast2Sum)
    q = t / d
    w = 2.0 / d  # = 1 - q
    # t/(t+2) below t = 2, 1 - 2/(t+2) above (no cancellation either side), each corrected
    # to first order for the rounding of d (1/d = w/2)
    y = q - q * (d_err * 0.5 * w) if t < 2.0 else 1.0 - (w - w * (d_err * 0.5 * w))
    y = y if x > 0.0 else -y
    return x if x == 0.0 else y


@njit(inline="always", error_model="numpy")
def _lgamma1p(w: float) -> float:
    r""":math:`\log\Gamma(1 + w)` for ``0 <= w <= 1``: ``w (w - 1) P(w - 1/2)``."""
    s = w - 0.5
    p = _G20 + s * _G21
    p = _G19 + s * p
    p = _G18 + s * p
    p = _G17 + s * p
    p = _G16 + s * p
    p = _G15 + s * p
    p = _G14 + s * p
    p = _G13 + s * p
    p = _G12 + s * p
    p = _G11 + s * p
    p = _G10 + s * p
    p = _G9 + s * p
    p = _G8 + s * p
    p = _G7 + s * p
    p = _G6 + s * p
    p = _G5 + s * p
    p = _G4 + s * p
    p = _G3 + s * p
    p = _G2 + s * p
    p = _G1 + s * p
    p = _G0 + s * p
    return (w * (w - 1.0)) * p


@njit(inline="always", error_model="numpy")
def _sinpi(t: float) -> float:
    r""":math:`\sin \pi t` for ``0 <= t <= 1/2`` (Taylor series to ``t**25``, whose next term
    is below 1e-18)."""
    u = t * t
    q = _S11 + u * _S12
    q = _S10 + u * q
    q = _S9 + u * q
    q = _S8 + u * q
    q = _S7 + u * q
    q = _S6 + u * q
    q = _S5 + u * q
    q = _S4 + u * q
    q = _S3 + u * q
    q = _S2 + u * q
    q = _S1 + u * q
    pt = math.pi * t
    return pt + pt * (u * q)


@njit(forceinline=True, error_model="numpy")
def lgamma(x: float) -> float:
    r""":math:`\log|\Gamma(x)|` (``scipy.special.gammaln``), branch-free (see the module
    docstring): ``inf`` at the poles ``0, -1, -2, ...`` and at ``±inf``, ``nan`` for ``nan``."""
    pos = x > 0.0
    z = x if pos else 1.0 - x  # z >= 1 on the reflection's side
    small = z < 1.0
    mid = z < _STIRLING_FROM
    zm = z if mid else 1.0
    fl = (zm + _ROUND_SHIFT) - _ROUND_SHIFT  # floor(zm): the nearest integer, then one down
    fl = fl - 1.0 if fl > zm else fl
    f = zm - fl  # exact, and so is every factor f + k below (each at most z)
    p = 1.0
    p = p * (f + 1.0) if fl >= 2.0 else p
    p = p * (f + 2.0) if fl >= 3.0 else p
    p = p * (f + 3.0) if fl >= 4.0 else p
    p = p * (f + 4.0) if fl >= 5.0 else p
    p = p * (f + 5.0) if fl >= 6.0 else p
    p = p * (f + 6.0) if fl >= 7.0 else p
    lg = log(p if mid and not small else z)  # the one logarithm of the positive side
    lf = _lgamma1p(f)
    r = 1.0 / (_STIRLING_FROM if mid else z)
    r2 = r * r
    c = _B7 + r2 * _B8
    c = _B6 + r2 * c
    c = _B5 + r2 * c
    c = _B4 + r2 * c
    c = _B3 + r2 * c
    c = _B2 + r2 * c
    c = _B1 + r2 * c
    stirling = (z - 0.5) * (lg - 1.0) + (_HALF_LOG_2PI_MINUS_HALF + r * c)
    y = (lf - lg) if small else ((lf + lg) if mid else stirling)
    ax = abs(x)
    nearest = (ax + _TWO_52) - _TWO_52  # below 2**52, ax + 2**52 rounds to an integer
    t = 0.0 if ax >= _TWO_52 else abs(ax - nearest)  # exact; 0 at the poles
    reflected = (_LOG_PI - log(_sinpi(t))) - y
    reflected = _INF if t == 0.0 else reflected  # a pole (inf - inf beyond 2**1024 / e)
    return y if pos else reflected


# ---------------------------------------------------------------------------------------------
# Sums in vectorised loops
# ---------------------------------------------------------------------------------------------


@njit(fastmath={"reassoc"}, forceinline=True)
def accumulate(total: float, term: float) -> float:
    """``total + term`` as an addition that LLVM may reassociate: a loop summing its terms with
    ``total = accumulate(total, term)`` is vectorised (several partial sums, added at the end),
    where a plain ``+=`` is an ordered chain that keeps the whole loop scalar.

    Compiled as a function of its own (not inlined by Numba), its one addition carries the
    ``reassoc`` flag, and LLVM inlines it into the loop with the flag on that instruction only -- the terms themselves are computed without any fast-math licence.  The
    sum then depends on the vector width LLVM chose for the machine (fixed for a compiled
    function, so the same inputs give the same bits on every call and with any number of
    threads), not on anything at run time.
    """
    return total + term
