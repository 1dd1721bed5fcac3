r"""Scalar special functions for compiled kernels: SciPy's Cython routines plus in-house extras.

This module is the one import path for every special function that hand-written kernels and
generated log-density code call (``from kernels import special as sp``; ``sp.gammaln(x)``). All
public functions are scalar, take and return ``float64`` and are compiled with
:func:`kernels.jit.njit` (``cache=True``), so they can be called from any other ``@njit`` function
and end up in its disk cache. The implementation is split by concept; this module re-exports the
submodules' functions as the very same dispatcher objects:

* :mod:`kernels.special_scipy` -- **bound from SciPy.** ``scipy.special.cython_special``'s C entry
  points, registered with LLVM by symbol name at import so callers stay cacheable, hence results
  bit-for-bit those of ``scipy.special``: :func:`gammaln`, :func:`digamma`, :func:`loggamma`,
  :func:`betaln`, :func:`erf`, :func:`erfc`, :func:`erfcx`, :func:`erfinv`, :func:`erfcinv`,
  :func:`ndtr`, :func:`ndtri`, :func:`ndtri_exp`, :func:`log_ndtr`, :func:`xlogy`,
  :func:`xlog1py`, :func:`i0`, :func:`i0e`, :func:`i1`, :func:`i1e`, :func:`gammainc`,
  :func:`gammaincc`, :func:`gammaincinv`, :func:`gammainccinv`, :func:`betainc`,
  :func:`betaincc`, :func:`betaincinv`, :func:`iv`, :func:`ive`, :func:`logit`,
  :func:`log_expit`. Its
  docstring explains why binding by symbol name is needed; :data:`SCIPY_BINDINGS` lists the
  capsules.
* :mod:`kernels.special_polygamma` -- :func:`trigamma` and :func:`polygamma` of any order
  ``0 <= n <= 170`` (SciPy exports no ``polygamma``): recurrence, asymptotic series and
  reflection formula (Abramowitz & Stegun 6.4).
* :mod:`kernels.special_incomplete` -- the first and second derivatives of :math:`P(a, x)` in
  ``a`` (:func:`gammainc_da`, :func:`gammainc_daa`) and of :math:`I_x(a, b)` in ``a`` and ``b``
  (:func:`betainc_da`, :func:`betainc_db`, :func:`betainc_daa`, :func:`betainc_dab`,
  :func:`betainc_dbb`), by termwise differentiation of the series and continued fractions
  (Moore 1982; Boik & Robison-Cox 1998).
* this module -- the Hurwitz zeta function :func:`zeta` (SciPy exports no scalar two-argument
  zeta) and **log-space helpers and derivatives** needed by gradients:

  - :func:`log1mexp` -- :math:`\log(1 - e^{-a})` for :math:`a \ge 0` (**positive argument**, the
    convention of Maechler 2012 and R's ``Rmpfr::log1mexp``). It switches at :math:`a = \log 2`
    between ``log(-expm1(-a))`` and ``log1p(-exp(-a))``, each accurate on its side.
    :func:`log1mexp_neg` is the same function for the **negative argument** convention,
    :math:`\log(1 - e^{x})` for :math:`x \le 0` (Stan's ``log1m_exp``). :func:`dlog1mexp` is the
    derivative :math:`d/da\,\log(1-e^{-a}) = 1/\mathrm{expm1}(a)`.
  - :func:`log1pexp` -- softplus :math:`\log(1 + e^{x}) = \max(x, 0) + \mathrm{log1p}(e^{-|x|})`;
    its derivative :func:`dlog1pexp` is the logistic function :func:`expit`, computed as
    :math:`1/(1+e)` or :math:`e/(1+e)` with :math:`e = e^{-|x|}` (no overflow). These are the
    formulas the compiled code of :mod:`autodiff` uses for scalars and in fused loops alike, and
    that its eager primitives compute vectorised; loops that LLVM vectorises compute them with
    the branch-free ``exp`` and ``log1p`` of :mod:`kernels.vector_math` (same formulas, within
    2 ulp), everything else with the C library's.
  - :func:`logaddexp` and :func:`logsumexp` (1-D ``float64`` array) -- shift by the maximum and
    add ``log1p`` of the remaining terms; infinities and NaN are handled explicitly.
  - :func:`dlog_ndtr` -- :math:`\frac{d}{dx}\log\Phi(x) = \phi(x)/\Phi(x)`; for ``x < 0`` as
    :math:`\sqrt{2/\pi}/\mathrm{erfcx}(-x/\sqrt2)` (no underflow, no cancellation), for
    ``x >= 0`` with :math:`e^{-x^2/2}` evaluated from an exact split of :math:`x^2`;
    :func:`x_plus_dlog_ndtr` -- :math:`x + \phi(x)/\Phi(x)`, the factor of the second
    derivative, by Laplace's continued fraction below ``x = -3`` (no cancellation).
  - :func:`i1e_over_i0e` -- :math:`I_1(x)/I_0(x)` (derivative of :math:`\log I_0`, used by the
    von Mises gradient) and :func:`log_i0` -- :math:`\log I_0(x)` (power series for
    ``|x| <= 2``, ``log(i0e(x)) + |x|`` beyond).

When ``NUMBAYES_DISABLE_JIT=1`` the bound functions call ``scipy.special`` from plain Python, and
the in-house functions run as plain Python too (they avoid operations that raise in Python but not
in Numba, such as ``math.log(0.0)``).

References
----------
* M. Maechler (2012), *Accurately Computing log(1 - exp(-|a|)) Assessed by the Rmpfr package*,
  CRAN vignette ``Rmpfr/log1mexp-note``.
* M. Abramowitz and I. A. Stegun (1964), *Handbook of Mathematical Functions*, section 26.2
  (normal distribution); section 6.4 for :mod:`kernels.special_polygamma`; 23.1.30 (the
  Euler-Maclaurin formula) and 23.2 for :func:`zeta`.

Examples
--------
>>> from kernels.special import log1mexp, trigamma
>>> round(log1mexp(1.0), 12)
-0.458675145387
>>> round(trigamma(1.0), 12)  # pi**2 / 6
1.644934066848
>>> from kernels.special import zeta
>>> round(zeta(2.0, 1.0), 12)  # pi**2 / 6 again
1.644934066848
"""

from __future__ import annotations

import math

import numpy as np

from kernels.jit import njit

# Each ``import x as x`` re-exports a name outside ``__all__`` that stays reachable as
# ``kernels.special.<name>``: the SciPy binding table and its checks, and the polygamma internals
# that the tests verify directly. Everything else here is the public API, the same dispatchers.
from kernels.special_incomplete import MAX_TERMS as MAX_TERMS
from kernels.special_incomplete import (
    betainc_da,
    betainc_daa,
    betainc_dab,
    betainc_db,
    betainc_dbb,
    gammainc_da,
    gammainc_daa,
)
from kernels.special_incomplete import betainc_derivatives as betainc_derivatives
from kernels.special_incomplete import betainc_grad as betainc_grad
from kernels.special_incomplete import gammainc_derivatives as gammainc_derivatives
from kernels.special_polygamma import _BERNOULLI as _BERNOULLI
from kernels.special_polygamma import _BERNOULLI_OVER_FACTORIAL, polygamma, trigamma
from kernels.special_polygamma import _POLYGAMMA_ASYMPTOTIC_FROM as _POLYGAMMA_ASYMPTOTIC_FROM
from kernels.special_polygamma import _POLYGAMMA_ASYMPTOTIC_SLOPE as _POLYGAMMA_ASYMPTOTIC_SLOPE
from kernels.special_polygamma import POLYGAMMA_MAX_ORDER as POLYGAMMA_MAX_ORDER
from kernels.special_polygamma import _polygamma as _polygamma
from kernels.special_scipy import SCIPY_BINDINGS as SCIPY_BINDINGS
from kernels.special_scipy import SYMBOL_PREFIX as SYMBOL_PREFIX
from kernels.special_scipy import _check_capsule as _check_capsule
from kernels.special_scipy import (
    betainc,
    betaincc,
    betaincinv,
    betaln,
    digamma,
    erf,
    erfc,
    erfcinv,
    erfcx,
    erfinv,
    gammainc,
    gammaincc,
    gammainccinv,
    gammaincinv,
    gammaln,
    i0,
    i0e,
    i1,
    i1e,
    iv,
    ive,
    log_expit,
    log_ndtr,
    loggamma,
    logit,
    ndtr,
    ndtri,
    ndtri_exp,
    xlog1py,
    xlogy,
)
from kernels.special_scipy import expected_signature as expected_signature

__all__ = [
    # bound from scipy.special.cython_special
    "betainc",
    "betaincc",
    "betaincinv",
    "betaln",
    "digamma",
    "erf",
    "erfc",
    "erfcinv",
    "erfcx",
    "erfinv",
    "gammainc",
    "gammaincc",
    "gammainccinv",
    "gammaincinv",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "iv",
    "ive",
    "log_expit",
    "log_ndtr",
    "loggamma",
    "logit",
    "ndtr",
    "ndtri",
    "ndtri_exp",
    "xlog1py",
    "xlogy",
    # in-house
    "betainc_da",
    "betainc_daa",
    "betainc_dab",
    "betainc_db",
    "betainc_dbb",
    "dlog1mexp",
    "dlog1pexp",
    "dlog_ndtr",
    "expit",
    "gammainc_da",
    "gammainc_daa",
    "i1e_over_i0e",
    "log1mexp",
    "log1mexp_neg",
    "log1pexp",
    "log_i0",
    "logaddexp",
    "logsumexp",
    "polygamma",
    "trigamma",
    "x_plus_dlog_ndtr",
    "zeta",
]

# ---------------------------------------------------------------------------------------------
# Log-space helpers and derivatives
# ---------------------------------------------------------------------------------------------

_LOG2 = math.log(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_VELTKAMP = 134217729.0  # 2**27 + 1: splits a double into two 26-bit halves


@njit
def log1mexp(a: float) -> float:
    """``log(1 - exp(-a))`` for ``a >= 0`` -- note the **positive** argument and minus sign.

    Maechler (2012): ``log(-expm1(-a))`` for ``a <= log 2``, ``log1p(-exp(-a))`` above.

    Parameters
    ----------
    a : float
        Non-negative number (``a = -log(p)`` gives ``log(1 - p)``).

    Returns
    -------
    float
        ``-inf`` at ``a = 0``, ``0`` at ``+inf``, ``nan`` for ``a < 0`` or ``nan``.
    """
    if a > _LOG2:
        return math.log1p(-math.exp(-a))
    if a > 0.0:
        return math.log(-math.expm1(-a))
    if a == 0.0:
        return -math.inf
    return math.nan


@njit
def log1mexp_neg(x: float) -> float:
    """``log(1 - exp(x))`` for ``x <= 0`` (Stan's ``log1m_exp``); equals ``log1mexp(-x)``.

    Parameters
    ----------
    x : float
        Non-positive number (``x = log(p)`` gives ``log(1 - p)``).

    Returns
    -------
    float
        ``-inf`` at ``x = 0``, ``0`` at ``-inf``, ``nan`` for ``x > 0`` or ``nan``.
    """
    return log1mexp(-x)


@njit
def dlog1mexp(a: float) -> float:
    """Derivative of :func:`log1mexp`: ``d/da log(1 - exp(-a)) = 1 / expm1(a)``, for ``a >= 0``.

    Returns ``+inf`` at ``a = 0`` and ``nan`` for ``a < 0``.
    """
    if a > 700.0:
        return math.exp(-a)  # expm1(a) would overflow; 1/expm1(a) == exp(-a) to rounding here
    if a > 0.0:
        return 1.0 / math.expm1(a)
    if a == 0.0:
        return math.inf
    return math.nan


@njit(inline="always")
def log1pexp(x: float) -> float:
    """Softplus ``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``, accurate for all ``x``.

    ``exp(-|x|)`` never overflows, ``log1p`` keeps the relative accuracy of small results
    (``x -> -inf``, where the value is ``~ exp(x)``), and for large ``x`` the correction
    vanishes below ``x``'s last bit.  This is also what NumPy's ``logaddexp(0, x)`` computes, so
    the eager primitive (:mod:`autodiff.ops.special`) and compiled code agree.  A conditional,
    not ``max``: ``max`` is a Numba overload that would be compiled in every process.  Inlined
    into its callers (``inline="always"``): generated loops call it per element, and a model
    compiled into an empty cache then compiles no function of its own for it.
    """
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


@njit
def dlog1pexp(x: float) -> float:
    """Derivative of :func:`log1pexp`: the logistic function ``expit(x)``."""
    return expit(x)


@njit(inline="always")
def expit(x: float) -> float:
    """The logistic function ``1 / (1 + exp(-x))``, as ``1 / (1 + e)`` for ``x >= 0`` and
    ``e / (1 + e)`` below, with ``e = exp(-|x|)``.

    No ``exp`` overflows (``1 / (1 + exp(-x))`` flushes to 0 below ``x = -709.8``, where the
    value is still ``~ exp(x)``, a subnormal), and both branches share one ``exp``.  Inlined
    into its callers, like :func:`log1pexp`.
    """
    e = math.exp(-abs(x))
    return (1.0 if x >= 0 else e) / (1.0 + e)


@njit
def logaddexp(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` without overflow; ``-inf`` if both are ``-inf``."""
    if a != a or b != b:
        return math.nan
    m = a if a > b else b
    if m == -math.inf:
        return -math.inf
    if a == b:
        return a + _LOG2  # also covers a == b == +inf
    return m + math.log1p(math.exp(-abs(a - b)))


@njit
def logsumexp(a: np.ndarray) -> float:
    """``log(sum(exp(a)))`` over a 1-D ``float64`` array.

    Shifts by the maximum ``m`` and returns ``m + log1p(sum of the other exp(a_i - m))``.

    Returns
    -------
    float
        ``-inf`` for an empty array or when every element is ``-inf``; ``+inf`` if any element is
        ``+inf``; ``nan`` if any element is ``nan``.
    """
    n = a.shape[0]
    if n == 0:
        return -math.inf
    imax = 0
    m = a[0]
    for i in range(n):
        v = a[i]
        if v != v:
            return math.nan
        if v > m:
            m = v
            imax = i
    if m == -math.inf or m == math.inf:
        return m
    s = 0.0
    for i in range(n):
        if i != imax:
            s += math.exp(a[i] - m)
    return m + math.log1p(s)


@njit
def _exp_minus_half_square(x: float) -> float:
    """``exp(-x*x/2)`` for ``0 <= x < 40`` with ``x*x`` split exactly (Veltkamp/Dekker)."""
    c = _VELTKAMP * x
    hi = c - (c - x)  # top 26 bits of x, so hi*hi is exact
    lo = x - hi
    return math.exp(-0.5 * hi * hi) * math.exp(-lo * (hi + 0.5 * lo))


@njit
def dlog_ndtr(x: float) -> float:
    """``d/dx log Phi(x) = phi(x) / Phi(x)`` (inverse Mills ratio of ``-x``), stable for all x.

    For ``x < 0`` it is ``sqrt(2/pi) / erfcx(-x/sqrt(2))`` (so ``~ -x`` as ``x -> -inf``); for
    ``x >= 0`` ``phi(x) / ndtr(x)`` with ``phi`` computed without rounding error in ``x**2``.
    """
    if x != x:
        return math.nan
    if x < -1e8:
        return -x - 1.0 / x  # asymptotic -x (1 + 1/x^2 + O(x^-4)); avoids subnormal erfcx
    if x < 0.0:
        return _SQRT_2_OVER_PI / erfcx(-x * _INV_SQRT2)
    if x >= 40.0:
        return 0.0  # phi(x) < 1e-347 underflows
    return _exp_minus_half_square(x) * _INV_SQRT_2PI / ndtr(x)


@njit
def x_plus_dlog_ndtr(x: float) -> float:
    """``x + phi(x)/Phi(x)``: with ``r = dlog_ndtr``, ``d2/dx2 log Phi(x) = -r(x) (x + r(x))``.

    For ``x -> -inf``, ``r(x) ~ -x`` and ``x + r`` cancels (all digits are gone by
    ``x = -1e8``). Below ``x = -3`` it is computed as ``1 / C(t)``, ``t = -x``, with
    ``C(t) = t + 2/(t + 3/(t + 4/(t + ...)))``: Laplace's continued fraction for the Mills ratio,
    ``(1 - Phi(t))/phi(t) = 1/(t + 1/(t + 2/(t + ...)))`` (A&S 26.2.14), whose reciprocal minus
    ``t`` is ``1/C(t)``. The modified Lentz method (Press et al., *Numerical Recipes* 5.2) needs
    at most ~55 terms at ``t = 3``, 4 at ``t = 1e3``. From ``-3`` up, ``x + dlog_ndtr(x)``
    directly (at most one digit cancels there).
    """
    if x != x:
        return math.nan
    if x >= -3.0:
        return x + dlog_ndtr(x)
    t = -x
    f = t
    c = t
    d = 0.0
    for k in range(2, 200):
        d = 1.0 / (t + k * d)
        c = t + k / c
        delta = c * d
        f *= delta
        # 3e-16: within two ulps of 1 (delta = t * (1/t) itself rounds by one), so no string of
        # rounding-only factors is multiplied in once the fraction has converged
        if abs(delta - 1.0) <= 3e-16:
            break
    return 1.0 / f


@njit
def i1e_over_i0e(x: float) -> float:
    """``I1(x) / I0(x)`` (= ``i1e(x) / i0e(x)``), the derivative of ``log I0(x)``; in (-1, 1)."""
    if x == math.inf:
        return 1.0
    if x == -math.inf:
        return -1.0
    return i1e(x) / i0e(x)


@njit
def log_i0(x: float) -> float:
    """``log I0(x)``, accurate for tiny ``|x|`` (where it is ``~ x**2 / 4``) and huge ``|x|``.

    Uses ``log1p`` of the power series ``sum_{k>=1} (x^2/4)^k / (k!)^2`` for ``|x| <= 2`` and
    ``log(i0e(|x|)) + |x|`` beyond.
    """
    ax = abs(x)
    if ax <= 2.0:
        t = 0.25 * x * x
        term = t
        s = t
        for k in range(2, 40):
            term *= t / (k * k)
            s += term
            if term <= 1e-17 * s:
                break
        return math.log1p(s)
    if ax == math.inf:
        return math.inf
    return math.log(i0e(ax)) + ax


# ---------------------------------------------------------------------------------------------
# Hurwitz zeta
# ---------------------------------------------------------------------------------------------

#: Euler-Maclaurin correction terms used by :func:`zeta` (B_2 .. B_24).
_ZETA_TERMS = 12


@njit
def zeta(s: float, q: float) -> float:
    r"""Hurwitz zeta :math:`\zeta(s, q) = \sum_{k\ge0} (q + k)^{-s}` for ``s > 1``.

    Sums the first terms directly until ``w = q + N >= max(9, s + 24)`` (or until a term no
    longer changes the sum), then adds the Euler-Maclaurin tail (A&S 23.1.30 with
    :math:`f(t) = t^{-s}`, :math:`f^{(2j-1)}(t) = -(s)_{2j-1} t^{-s-2j+1}`):

    .. math:: \sum_{k\ge0} (w+k)^{-s} = \frac{w^{1-s}}{s-1} + \frac{w^{-s}}{2}
              + \sum_{j=1}^{12} \frac{B_{2j}}{(2j)!}\,s(s+1)\cdots(s+2j-2)\,w^{-s-2j+1}.

    The ratio of consecutive correction terms is about :math:`(s+2j)^2/(2\pi w)^2 \le 1/39`
    with ``w >= s + 24``, so twelve terms reach double precision. Like ``scipy.special.zeta``:
    ``inf`` at ``s = 1`` and at ``q`` a non-positive integer, ``nan`` for ``s < 1`` and for
    ``q < 0`` with non-integer ``s`` (where ``(q + k)^{-s}`` is not real).
    """
    if s != s or q != q:
        return math.nan
    if s == 1.0:
        return math.inf
    if s < 1.0:
        return math.nan
    if q <= 0.0:
        if q == math.floor(q):
            return math.inf
        if s != math.floor(s):
            return math.nan
    if q == math.inf:
        return 0.0
    if s == math.inf:
        return 0.0 if q > 1.0 else (1.0 if q == 1.0 else math.inf)
    total = 0.0
    w = q
    k = 0
    while k < 9 or w < s + 24.0:
        term = w**-s
        total += term
        w += 1.0
        k += 1
        if w > 1.0 and abs(term) <= 1e-17 * abs(total):
            return total
    power = w**-s  # w^{-s-2j+1} for j = 0, then divided by w^2 each step
    tail = w * power / (s - 1.0) + 0.5 * power
    rising = s  # s (s+1) ... (s+2j-2)
    power /= w
    for j in range(_ZETA_TERMS):
        correction = _BERNOULLI_OVER_FACTORIAL[j] * rising * power
        tail += correction
        if abs(correction) <= 1e-17 * abs(total + tail):
            break
        rising *= (s + 2 * j + 1.0) * (s + 2 * j + 2.0)
        power /= w * w
    return total + tail
