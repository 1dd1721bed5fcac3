r"""Branch-free ``exp``, ``log``, ``log1p``, ``expm1``, ``tanh``, ``expit`` and ``log1pexp``
that LLVM vectorises inside loops.

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

Accuracy against correctly rounded values (mpmath at 60 digits) is tested on dense grids over
the whole range, the tails and the special values (``tests/kernels/test_vector_math.py``): at
most 2 ulp everywhere, most results correctly rounded.  ``lgamma`` stays SciPy's scalar kernel
(:func:`kernels.special.gammaln`): the loops of the benchmarked models call it on scalars only.

The kernels are compiled with ``error_model="numpy"`` (a division by zero is ``inf``, as in the
generated code they are inlined into).  When ``NUMBAYES_DISABLE_JIT=1`` they run as plain Python
with the same bit operations.

References
----------
* W. J. Cody and W. Waite (1980), *Software Manual for the Elementary Functions*, Prentice-Hall.
* P. T. P. Tang (1989), Table-driven implementation of the exponential function in IEEE
  floating-point arithmetic, *ACM TOMS* 15(2), 144-157.
* Sun Microsystems (1993), fdlibm, ``e_exp.c``, ``e_log.c``, ``s_log1p.c`` (the reductions).

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

__all__ = ["accumulate", "exp", "expit", "expm1", "log", "log1p", "log1pexp", "tanh"]

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
