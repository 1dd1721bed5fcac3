r"""Trigamma and polygamma of any order, written here (SciPy's Cython layer exports no polygamma).

* :func:`trigamma` -- :math:`\psi_1(x) = \frac{d^2}{dx^2}\log\Gamma(x)`. For ``0 < x < 10`` the
  recurrence :math:`\psi_1(x) = \psi_1(x+1) + 1/x^2` shifts the argument to ``y >= 10``, where the
  asymptotic series :math:`\psi_1(y) \sim 1/y + 1/(2y^2) + \sum_{k\ge1} B_{2k}/y^{2k+1}`
  (Abramowitz & Stegun 6.4.12; Bernoulli numbers through :math:`B_{16}`, truncation error below
  ``6e-17`` relative) is summed. For ``x < 0`` the reflection formula
  :math:`\psi_1(x) = \pi^2/\sin^2(\pi x) - \psi_1(1 - x)` (A&S 6.4.7 differentiated) is used with
  an exact reduction of ``x`` to ``[-1/2, 1/2]`` before the sine. Poles (``x = 0, -1, -2, ...``)
  give ``+inf`` (as ``scipy.special.polygamma(1, x)``); ``x = -inf`` gives ``nan``.
* :func:`polygamma` -- :math:`\psi_n(x)` for integer ``n >= 0`` (``n = 0, 1`` are
  :func:`~kernels.special_scipy.digamma` and :func:`trigamma`). The same three steps with the
  order-``n`` formulas: the recurrence A&S 6.4.6 up to ``y >= 7.5 + 0.45 n``, the asymptotic
  series A&S 6.4.11 (through :math:`B_{40}`), and for ``x < 0`` the reflection formula A&S 6.4.7
  with the ``n``-th derivative of :math:`\cot` written as a polynomial in :math:`\cot(\pi x)`.

Both are re-exported by :mod:`kernels.special` (the same dispatcher objects). With
``NUMBAYES_DISABLE_JIT=1`` they run as plain Python (they avoid operations that raise in Python
but not in Numba, such as ``math.ldexp`` overflow).

References
----------
* M. Abramowitz and I. A. Stegun (1964), *Handbook of Mathematical Functions*, sections 6.4
  (polygamma functions: 6.4.6 recurrence, 6.4.7 reflection, 6.4.11 and 6.4.12 asymptotic
  series) and 23.2 (Bernoulli numbers).
* M. E. Hoffman (1995), *Derivative polynomials for tangent and secant*, American Mathematical
  Monthly 102(1), 23-30 (the polynomials :math:`P_n` with :math:`\cot^{(n)} = P_n(\cot)`).

Examples
--------
>>> from kernels.special_polygamma import trigamma
>>> round(trigamma(1.0), 12)  # pi**2 / 6
1.644934066848
"""

from __future__ import annotations

import math

import numpy as np

from kernels.jit import njit
from kernels.special_scipy import digamma

_PI = math.pi

# Bernoulli numbers B_2 .. B_16 for the trigamma asymptotic series (A&S 6.4.12, table 23.2).
_B2 = 1.0 / 6.0
_B4 = -1.0 / 30.0
_B6 = 1.0 / 42.0
_B8 = -1.0 / 30.0
_B10 = 5.0 / 66.0
_B12 = -691.0 / 2730.0
_B14 = 7.0 / 6.0
_B16 = -3617.0 / 510.0
_TRIGAMMA_ASYMPTOTIC_FROM = 10.0


@njit
def _trigamma_asymptotic(y: float) -> float:
    """``psi_1(y)`` for ``y >= 10`` from the asymptotic series (relative error < 6e-17)."""
    z = 1.0 / y
    z2 = z * z
    p = _B14 + z2 * _B16
    p = _B12 + z2 * p
    p = _B10 + z2 * p
    p = _B8 + z2 * p
    p = _B6 + z2 * p
    p = _B4 + z2 * p
    p = _B2 + z2 * p
    return z + z2 * (0.5 + z * p)


@njit
def _trigamma_positive(x: float) -> float:
    """``psi_1(x)`` for ``x > 0``: upward recurrence to ``>= 10``, summed smallest term first."""
    if x >= _TRIGAMMA_ASYMPTOTIC_FROM:
        return _trigamma_asymptotic(x)
    n = int(math.ceil(_TRIGAMMA_ASYMPTOTIC_FROM - x))
    acc = _trigamma_asymptotic(x + n)
    for k in range(n - 1, -1, -1):
        t = 1.0 / (x + k)  # (1/x)**2 rather than 1/x**2: no division by an underflowed zero
        acc += t * t
    return acc


@njit
def trigamma(x: float) -> float:
    """Trigamma function ``psi_1(x) = d^2/dx^2 log Gamma(x)`` (``polygamma(1, x)``).

    Parameters
    ----------
    x : float
        Any real number.

    Returns
    -------
    float
        ``psi_1(x)``; ``+inf`` at the poles ``x = 0, -1, -2, ...`` (as SciPy), ``0`` at ``+inf``,
        ``nan`` at ``-inf`` and for ``nan``. Relative error about ``1e-15`` for all other ``x``.
    """
    y = float(x)  # ints compile to the float path; plain-Python mode avoids NumPy scalars
    if y != y or y == -math.inf:
        return math.nan
    if y > 0.0:
        return _trigamma_positive(y)
    fl = float(np.floor(y))
    if y == fl:
        return math.inf
    # Reduce y exactly to r in [-1/2, 1/2] with sin^2(pi r) = sin^2(pi y).
    if y > -0.5:
        r = y
    else:
        r = y - fl  # exact (Sterbenz), in (0, 1)
        if r > 0.5:
            r = r - 1.0  # exact
    t = _PI / math.sin(_PI * r)
    return t * t - _trigamma_positive(1.0 - y)


# --- polygamma of any order --------------------------------------------------------------------

#: Largest supported order: ``n!`` (which every term carries) is finite up to ``170!``.
POLYGAMMA_MAX_ORDER = 170

# B_2 .. B_40 (A&S table 23.2). Python divides the exact integers with one correct rounding.
_BERNOULLI = (
    _B2,
    _B4,
    _B6,
    _B8,
    _B10,
    _B12,
    _B14,
    _B16,
    43867 / 798,
    -174611 / 330,
    854513 / 138,
    -236364091 / 2730,
    8553103 / 6,
    -23749461029 / 870,
    8615841276005 / 14322,
    -7709321041217 / 510,
    2577687858367 / 6,
    -26315271553053477373 / 1919190,
    2929993913841559 / 6,
    -261082718496449122051 / 13530,
)
# Constant arrays, not tuples: compiled code indexes them with a run-time index. The series uses
# B_2k / (2k)!, so that its loop needs no division.
_BERNOULLI_OVER_FACTORIAL = np.array(
    [b / math.factorial(2 * k) for k, b in enumerate(_BERNOULLI, start=1)]
)
_FACTORIALS = np.array([float(math.factorial(k)) for k in range(POLYGAMMA_MAX_ORDER + 1)])

# The series is summed for y >= 7.5 + 0.45 n. With the 20 Bernoulli numbers above this is where
# a term of relative size < 1e-17 is always reached while the terms still decrease (checked for
# every n <= 170 against exact terms: the minimal y grows from 7 at n = 1 to 77.5 at n = 170).
_POLYGAMMA_ASYMPTOTIC_FROM = 7.5
_POLYGAMMA_ASYMPTOTIC_SLOPE = 0.45
_SERIES_TOLERANCE = 1e-17


@njit
def _times_power_of_two(v: float, e: int) -> float:
    """``v * 2**e`` for finite ``v >= 0``: exact unless the result is subnormal; ``inf`` on overflow.

    ``math.ldexp`` alone would raise ``OverflowError`` in plain Python instead of returning inf.
    """
    q, a = math.frexp(v)
    if a + e > 1024:
        return math.inf
    return math.ldexp(q, a + e)


@njit
def _factorial_over_power(k: int, y: float, m: int) -> float:
    """``k! / y**m`` for ``0 <= k <= 170``, finite ``y > 0``, ``1 <= m <= 171``.

    Never overflows or underflows unless the result does: with ``k! = f 2^e`` and ``y = g 2^d``
    (``f, g`` in ``[1/2, 1)``), ``f g^{-m}`` lies in ``[1/2, 2^171]`` and the factor
    ``2^{e - m d}`` is applied exactly at the end. Error: ``pow``'s plus one rounding.
    """
    f, e = math.frexp(float(_FACTORIALS[k]))
    g, d = math.frexp(y)
    # a float exponent: with an integer one Numba lowers pow to repeated multiplication
    return _times_power_of_two(f * math.pow(g, -float(m)), e - m * d)


@njit
def _polygamma_asymptotic(n: int, y: float) -> float:
    r"""``|psi_n(y)|`` for ``y >= 7.5 + 0.45 n`` from A&S 6.4.11 (relative error < 1e-17).

    .. math::
        |\psi_n(y)| \sim \frac{(n-1)!}{y^n}\Big[1 + \frac{n}{2y}
        + \sum_{k\ge1} \frac{B_{2k}}{(2k)!}\, n (n+1) \cdots (n+2k-1)\, y^{-2k}\Big],

    summed until a term drops below ``1e-17`` (the bracket is at least 1). The remainder of this
    alternating series is smaller than the first omitted term.
    """
    z = 1.0 / y
    z2 = z * z
    rising = 1.0  # n (n+1) ... (n+2k-1) y^(-2k)
    series = 0.0
    for k in range(1, _BERNOULLI_OVER_FACTORIAL.shape[0] + 1):
        rising *= float((n + 2 * k - 2) * (n + 2 * k - 1)) * z2
        term = float(_BERNOULLI_OVER_FACTORIAL[k - 1]) * rising
        series += term
        if abs(term) < _SERIES_TOLERANCE:
            break
    return _factorial_over_power(n - 1, y, n) * (1.0 + 0.5 * n * z + series)


@njit
def _polygamma_magnitude(n: int, x: float) -> float:
    r"""``|psi_n(x)| = n! \zeta(n+1, x)`` for finite ``x > 0`` and ``1 <= n <= 170``.

    Below the series threshold the recurrence A&S 6.4.6, read as
    :math:`|\psi_n(x)| = n!/x^{n+1} + |\psi_n(x+1)|`, shifts the argument to ``y = x + N`` above
    it. All terms are positive, so the sum (smallest first) has no cancellation.
    """
    threshold = _POLYGAMMA_ASYMPTOTIC_FROM + _POLYGAMMA_ASYMPTOTIC_SLOPE * n
    if x >= threshold:
        return _polygamma_asymptotic(n, x)
    steps = int(math.ceil(threshold - x))
    # The terms k = 1 .. N-1 have x + k in [1, threshold]. They are summed as ((x + k)/2)^-(n+1),
    # which lies in [2^-171, 2^(n+1)] (no underflow for n up to 170), and n!/2^(n+1) is applied
    # once; one pow per step is the whole cost of the recurrence.
    middle = 0.0
    for k in range(steps - 1, 0, -1):
        middle += math.pow(0.5 * (x + k), -float(n + 1))
    f, e = math.frexp(float(_FACTORIALS[n]))
    middle = _times_power_of_two(f * middle, e - (n + 1))
    # the k = 0 term can overflow (x -> 0), so it gets the fully guarded evaluation
    return (_polygamma_asymptotic(n, x + steps) + middle) + _factorial_over_power(n, x, n + 1)


@njit
def _cot_derivative(n: int, c: float) -> float:
    r"""The ``n``-th derivative of ``cot`` at ``u``, given ``c = cot(u)``.

    :math:`\frac{d^n}{du^n}\cot u = (-1)^n Q_n(\cot u)` where :math:`Q_0(c) = c` and
    :math:`Q_{m+1}(c) = (1 + c^2)\,Q_m'(c)` (from :math:`\cot' = -(1 + \cot^2)`; Hoffman 1995).
    :math:`Q_n` has degree ``n + 1``, only powers of the parity of ``n + 1`` and positive integer
    coefficients, so Horner's rule in :math:`c^2` has no cancellation.
    """
    # coef[j] multiplies c**j. Q_m uses the parity of m + 1, Q_(m+1) the other one, so each step
    # writes the new coefficients between the old ones and then clears the old ones.
    coef = np.zeros(n + 3)
    coef[1] = 1.0
    for m in range(n):
        # (1 + c^2) sum_j j a_j c^(j-1) = sum_j [(j+1) a_(j+1) + (j-1) a_(j-1)] c^j
        for j in range(m + 2, 0, -2):
            coef[j] = (j + 1) * coef[j + 1] + (j - 1) * coef[j - 1]
        if m % 2 == 0:
            coef[0] = coef[1]
        for j in range(m + 1, -1, -2):
            coef[j] = 0.0
    c2 = c * c
    acc = float(coef[n + 1])  # not 0.0 * c2 + ...: c2 = inf near a pole must give inf, not nan
    for j in range(n - 1, -1, -2):
        acc = acc * c2 + float(coef[j])
    if n % 2 == 1:
        return -acc  # Q_n is even; (-1)^n = -1
    return acc * c  # Q_n is odd


@njit
def _polygamma(n: int, x: float) -> float:
    r"""``psi_n(x)`` for ``1 <= n <= 170`` and any float ``x``: the general algorithm.

    For ``x < 0`` the reflection formula A&S 6.4.7, differentiated ``n`` times,

    .. math::
        \psi_n(x) = (-1)^n \psi_n(1 - x) - \pi^{n+1} \cot^{(n)}(\pi x)
                  = -\big(|\psi_n(1 - x)| + \pi^{n+1} \cot^{(n)}(\pi x)\big),

    with ``x`` reduced exactly to ``r`` in ``[-1/2, 1/2]`` before ``cot(pi r) = cot(pi x)``, and
    ``cot(pi r) = tan(pi (1/2 - r))`` for ``r > 1/4`` (and its mirror for ``r < -1/4``).
    """
    sign = 1.0 if n % 2 == 1 else -1.0  # (-1)^(n+1), the sign of psi_n on x > 0
    if x != x or x == -math.inf:
        return math.nan
    if x == math.inf:
        return sign * 0.0
    if x > 0.0:
        return sign * _polygamma_magnitude(n, x)
    fl = float(np.floor(x))
    if x == fl:
        return sign * math.inf  # the sign SciPy gives (for even n the two sides differ)
    if x > -0.5:
        r = x
    else:
        r = x - fl  # exact (Sterbenz), in (0, 1)
        if r > 0.5:
            r = r - 1.0  # exact
    # cot(pi r) from an exactly reduced argument: near r = +-1/2 through tan(pi (1/2 -+ r)), since
    # there cot is near zero and 1/tan(pi r) would carry the absolute rounding error of pi r,
    # which for even n is a large relative error of the (odd) cot-derivative term.
    if r > 0.25:
        c = math.tan(_PI * (0.5 - r))  # 0.5 - r is exact
    elif r < -0.25:
        c = -math.tan(_PI * (0.5 + r))
    else:
        c = 1.0 / math.tan(_PI * r)
    cot_term = math.pow(_PI, float(n + 1)) * _cot_derivative(n, c)
    return -(_polygamma_magnitude(n, 1.0 - x) + cot_term)


@njit
def polygamma(n: int, x: float) -> float:
    r"""Polygamma function :math:`\psi_n(x) = \frac{d^{n+1}}{dx^{n+1}} \log\Gamma(x)`.

    ``n = 0`` is :func:`digamma` (SciPy's) and ``n = 1`` is :func:`trigamma` (identical results).
    For ``n >= 2``, and ``x > 0``: the recurrence (A&S 6.4.6)
    :math:`\psi_n(x) = \psi_n(x+1) + (-1)^{n+1} n!/x^{n+1}` shifts ``x`` to
    ``y >= 7.5 + 0.45 n``, where the asymptotic series (A&S 6.4.11)

    .. math::
        \psi_n(y) \sim (-1)^{n+1}\Big[\frac{(n-1)!}{y^n} + \frac{n!}{2y^{n+1}}
        + \sum_{k\ge1} B_{2k}\frac{(2k+n-1)!}{(2k)!\,y^{2k+n}}\Big]

    is summed through :math:`B_{40}` (truncation below ``1e-17`` relative). Each term
    :math:`k!/y^m` is formed from mantissas and binary exponents, so nothing overflows or
    underflows before the result does. For ``x < 0`` the reflection formula (A&S 6.4.7)
    :math:`\psi_n(1-x) + (-1)^{n+1}\psi_n(x) = (-1)^n \pi \frac{d^n}{dx^n}\cot(\pi x)` is used,
    with :math:`\frac{d^n}{du^n}\cot u` a polynomial in :math:`\cot u` with integer coefficients.

    Parameters
    ----------
    n : int
        Order, ``0 <= n <= 170`` (an integral float is accepted; ``n!`` overflows beyond 170).
    x : float
        Any real number.

    Returns
    -------
    float
        :math:`\psi_n(x)`. At the poles ``x = 0, -1, -2, ...`` it is :math:`(-1)^{n+1}\infty` as
        in ``scipy.special.polygamma`` (for even ``n`` the one-sided limits differ, so this is a
        convention); at ``+inf`` a zero of sign :math:`(-1)^{n+1}`; at ``-inf`` (no limit) and
        for ``nan``, ``nan``; ``nan`` also for an order that is negative, not an integer or above
        170 (SciPy: ``nan`` for the first two, ``inf`` above 170).

    Notes
    -----
    Measured against mpmath for ``n <= 6``: relative error below ``6e-16`` for ``x > 0`` and
    ``1.7e-15`` for ``x < 0``, except near the zeros that :math:`\psi_n` has on the negative axis
    for even ``n`` (one per unit interval, close to the half-integers). There the two terms of the
    reflection formula cancel, and the error is below ``7e-16`` times the larger of them -- SciPy,
    which sums the recurrence, loses up to ``1e-7`` of that size at ``n = 6``. For larger ``n`` the
    error for ``x > 0`` stays below ``2e-15`` (``n <= 170``); for ``x < 0`` near a pole it grows
    like ``(n + 1) * 1.5e-16``, the rounding of :math:`\pi r` raised to the power ``n + 1``. Cost:
    at most 20 series terms plus one ``pow`` per recurrence step (at most ``8 + 0.45 n`` steps),
    independent of ``|x|``.

    Examples
    --------
    >>> from kernels.special import polygamma
    >>> round(polygamma(2, 1.0), 12)  # -2 zeta(3)
    -2.404113806319
    >>> round(polygamma(3, 0.5), 10)  # pi**4
    97.409091034
    """
    if not (n >= 0 and n <= POLYGAMMA_MAX_ORDER and n == math.floor(n)):  # also rejects nan
        return math.nan
    order = int(n)
    if order == 0:
        return digamma(x)
    if order == 1:
        return trigamma(x)
    return _polygamma(order, float(x))
