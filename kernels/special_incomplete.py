r"""Derivatives of the regularised incomplete gamma and beta functions in their shape parameters.

SciPy evaluates :math:`P(a, x)`, :math:`Q(a, x)` and :math:`I_x(a, b)` (bound in
:mod:`kernels.special_scipy`), and their derivatives in ``x`` are closed forms (the integrands).
The derivatives in the shape parameters have no closed form; they are computed here by
differentiating a convergent series or continued fraction term by term, in the same pass that
sums it.

* :func:`gammainc_da` -- :math:`\partial P(a, x) / \partial a` (so :math:`\partial Q/\partial a`
  is its negative). For ``x < a + 1`` the power series (Abramowitz & Stegun 6.5.29)

  .. math:: P(a, x) = \frac{x^a e^{-x}}{\Gamma(a+1)} \sum_{n\ge0} u_n,\qquad
            u_0 = 1,\ u_n = u_{n-1}\frac{x}{a+n},

  is differentiated termwise: :math:`\partial_a\,[x^{a+n}/\Gamma(a+n+1)] = x^{a+n}/\Gamma(a+n+1)
  \,(\log x - \psi(a+n+1))` and :math:`\psi(a+n+1) = \psi(a+1) + \sum_{k=1}^n 1/(a+k)`, so

  .. math:: \partial_a P = \frac{x^a e^{-x}}{\Gamma(a+1)}
            \sum_{n\ge0} u_n \Big(\log x - \psi(a+1) - \sum_{k=1}^{n}\frac1{a+k}\Big).

  For ``x >= a + 1`` Legendre's continued fraction (A&S 6.5.31, in the even form of Numerical
  Recipes §6.2) :math:`Q = \frac{x^a e^{-x}}{\Gamma(a)}\,/\,G` with
  :math:`G = b_0 + \frac{a_1}{b_1 +}\frac{a_2}{b_2 +}\cdots`, :math:`b_k = x + 2k + 1 - a`,
  :math:`a_k = -k(k - a)`, gives

  .. math:: \partial_a Q = Q\,\Big(\log x - \psi(a) - \frac{\partial_a G}{G}\Big),

  with :math:`G` and :math:`\partial_a G` from the forward recurrences below. Both sums have
  positive-dominated terms in their region, so the derivative keeps its relative accuracy in
  both tails (there is no ``1 - P`` anywhere). The prefactor
  :math:`x^a e^{-x}/\Gamma(a+1)` is computed for ``a >= 20`` as
  :math:`\exp(a\,\mathrm{log1pmx}((x-a)/a) - \tfrac12\log(2\pi a) - \mathrm{corr}(a))`
  (Stirling's series for :math:`\log\Gamma`, A&S 6.1.41, with the large terms cancelled
  analytically as in Temme 1979 and DiDonato & Morris 1986) rather than as a difference of three
  numbers of size ``a log a``, whose rounding would cost ``~ 1e-16 a`` relative accuracy.

* :func:`betainc_da`, :func:`betainc_db` -- :math:`\partial I_x(a,b)/\partial a` and
  :math:`\partial/\partial b`, following Boik & Robison-Cox (1998): for
  ``x < (a + 1)/(a + b + 2)`` the continued fraction (A&S 26.5.8; Numerical Recipes §6.4)

  .. math:: I_x(a,b) = \frac{x^a(1-x)^b}{a\,B(a,b)}\Big/ G,\quad
            G = 1 + \frac{d_1}{1+}\frac{d_2}{1+}\cdots,\quad
            d_{2m+1} = -\frac{(a+m)(a+b+m)x}{(a+2m)(a+2m+1)},\
            d_{2m} = \frac{m(b-m)x}{(a+2m-1)(a+2m)},

  is differentiated through its forward recurrences, and
  :math:`\partial_a I = I\,(\log x - 1/a - \psi(a) + \psi(a+b) - \partial_a G/G)`,
  :math:`\partial_b I = I\,(\log(1-x) - \psi(b) + \psi(a+b) - \partial_b G/G)`. Above that point
  the symmetry :math:`I_x(a,b) = 1 - I_{1-x}(b,a)` swaps the roles (and the signs) of the two
  derivatives, so again no ``1 - I`` is formed.

Continued fractions with derivatives
------------------------------------
For :math:`G = b_0 + a_1/(b_1 + a_2/(b_2 + \cdots))` the convergents are :math:`A_n/B_n` with
:math:`A_n = b_n A_{n-1} + a_n A_{n-2}` (same for :math:`B`; :math:`A_{-1} = 1, A_0 = b_0,
B_{-1} = 0, B_0 = 1`). Differentiating the recurrence gives one for :math:`A_n'`:
:math:`A_n' = b_n' A_{n-1} + b_n A_{n-1}' + a_n' A_{n-2} + a_n A_{n-2}'`, and
:math:`G_n' = (A_n' - G_n B_n')/B_n`. The recurrences are linear and homogeneous in
:math:`(A, B, A', B')` jointly, so every step rescales all of them by :math:`1/B_n` to stay clear
of overflow (Boik & Robison-Cox 1998, section 3). Iteration stops when the value and every
derivative changed by less than ``1e-16`` of themselves.

Large shape parameters need ``O(sqrt(a))`` (or ``O(sqrt(max(a, b)))``) terms; past
:data:`MAX_TERMS` the kernels return ``nan`` rather than a silently truncated value.

References
----------
* R. J. Boik and J. F. Robison-Cox (1998), *Derivatives of the incomplete beta function*, Journal
  of Statistical Software 3(1).
* R. J. Moore (1982), *Algorithm AS 187: Derivatives of the incomplete gamma integral*, Applied
  Statistics 31(3), 330-335 (the same idea for the gamma series).
* M. Abramowitz and I. A. Stegun (1964), *Handbook of Mathematical Functions*, 6.1.41, 6.5.29,
  6.5.31, 26.5.8.
* N. M. Temme (1979), *The asymptotic expansion of the incomplete gamma functions*, SIAM J. Math.
  Anal. 10, 757-766; A. R. DiDonato and A. H. Morris (1986), *Computation of the incomplete gamma
  function ratios and their inverse*, ACM TOMS 12, 377-393 (the scaled prefactor).
* W. H. Press et al. (2007), *Numerical Recipes*, 3rd ed., §6.2 and §6.4 (the continued fractions
  in the form used here).

Examples
--------
>>> from kernels.special_incomplete import gammainc_da, betainc_da
>>> round(gammainc_da(1.0, 1.0), 12)  # mpmath.diff of P(a, 1) at a = 1 agrees to 1e-15
-0.431729710635
>>> round(betainc_da(1.0, 1.0, 0.5), 12)  # d/da x^a at a = 1, x = 1/2: x log x
-0.34657359028
"""

from __future__ import annotations

import math

from kernels.jit import njit
from kernels.special_scipy import betaln, digamma, gammaln

#: Iteration cap of every series and continued fraction here (enough for shape parameters up to
#: about 1e8 near the mode); beyond it the result is ``nan``.
MAX_TERMS = 100_000
_EPS = 1e-16
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_STIRLING_FROM = 20.0


@njit
def log1pmx(d: float) -> float:
    r"""``log(1 + d) - d`` for ``d > -1``, without cancellation for small ``|d|``.

    With :math:`t = d/(2 + d)`, :math:`\log(1+d) = 2\,\mathrm{artanh}(t)` and
    :math:`2t - d = -d^2/(2+d)`, so :math:`\log(1+d) - d = -d^2/(2+d) + 2\sum_{k\ge1}
    t^{2k+1}/(2k+1)`: both parts are small and no large terms cancel (``|t| <= 1/3`` for
    ``|d| <= 1/2``; ``log1p(d) - d`` directly beyond).
    """
    if abs(d) > 0.5:
        return math.log1p(d) - d
    t = d / (2.0 + d)
    t2 = t * t
    power = t * t2
    s = 0.0
    for k in range(1, 60):
        term = power / (2 * k + 1)
        s += term
        if abs(term) <= 1e-17 * abs(s):
            break
        power *= t2
    return -d * d / (2.0 + d) + 2.0 * s


@njit
def _stirling_correction(a: float) -> float:
    """``log Gamma(a) - ((a - 1/2) log a - a + log(2 pi)/2)`` for ``a >= 20`` (A&S 6.1.41)."""
    r = 1.0 / a
    r2 = r * r
    return r * (
        1.0 / 12.0
        + r2
        * (
            -1.0 / 360.0
            + r2 * (1.0 / 1260.0 + r2 * (-1.0 / 1680.0 + r2 * (1.0 / 1188.0 - r2 * 691.0 / 360360.0)))
        )
    )


@njit
def log_gamma_prefix(a: float, x: float) -> float:
    r"""``log(x^a e^{-x} / Gamma(a + 1))`` for ``a > 0``, ``x > 0``, accurate for large ``a``."""
    if a < _STIRLING_FROM:
        return a * math.log(x) - x - gammaln(a + 1.0)
    d = (x - a) / a
    if abs(d) <= 0.5:
        core = a * log1pmx(d)  # x near a: -(x - a)^2 / (2a) + ..., the large terms cancelled
    else:
        # log(x/a) - d would lose log1p's digits of 1 + d when x << a: take log(x/a) directly
        ratio = x / a
        log_ratio = math.log(ratio) if ratio > 1e-300 else math.log(x) - math.log(a)
        core = a * log_ratio - (x - a)
    return core - 0.5 * math.log(a) - _HALF_LOG_2PI - _stirling_correction(a)


@njit
def _gammainc_da_series(a: float, x: float) -> float:
    """``dP/da`` from the termwise derivative of the power series (``x < a + 1``)."""
    c = math.log(x) - digamma(a + 1.0)
    u = 1.0
    h = 0.0
    s = c
    for n in range(1, MAX_TERMS):
        u *= x / (a + n)
        h += 1.0 / (a + n)
        term = u * (c - h)
        s += term
        if abs(term) <= _EPS * abs(s):
            return math.exp(log_gamma_prefix(a, x)) * s
    return math.nan


@njit
def _gammaincc_da_fraction(a: float, x: float) -> float:
    """``dQ/da`` from Legendre's continued fraction and its derivative (``x >= a + 1``)."""
    # state: A_{n-2}, A_{n-1}, B_{n-2}, B_{n-1} and their derivatives in a
    a_prev, a_cur, b_prev, b_cur = 1.0, x + 1.0 - a, 0.0, 1.0
    da_prev, da_cur, db_prev, db_cur = 0.0, -1.0, 0.0, 0.0
    g = a_cur
    dg = da_cur
    for k in range(1, MAX_TERMS):
        ak = -k * (k - a)
        bk = x + 2.0 * k + 1.0 - a
        dak = float(k)  # d a_k / da
        # d b_k / da = -1
        a_new = bk * a_cur + ak * a_prev
        b_new = bk * b_cur + ak * b_prev
        da_new = -a_cur + bk * da_cur + dak * a_prev + ak * da_prev
        db_new = -b_cur + bk * db_cur + dak * b_prev + ak * db_prev
        scale = 1.0 / b_new
        a_prev, a_cur = a_cur * scale, a_new * scale
        b_prev, b_cur = b_cur * scale, 1.0
        da_prev, da_cur = da_cur * scale, da_new * scale
        db_prev, db_cur = db_cur * scale, db_new * scale
        g_new = a_cur
        dg_new = da_cur - g_new * db_cur
        done = abs(g_new - g) <= _EPS * abs(g_new) and abs(dg_new - dg) <= _EPS * abs(dg_new)
        g, dg = g_new, dg_new
        if done:
            # x^a e^-x / Gamma(a) = a * (x^a e^-x / Gamma(a + 1))
            q = a * math.exp(log_gamma_prefix(a, x)) / g
            return q * (math.log(x) - digamma(a) - dg / g)
    return math.nan


@njit
def gammainc_da(a: float, x: float) -> float:
    r"""``∂P(a, x)/∂a`` for the regularised lower incomplete gamma function (``-∂Q/∂a``).

    Series for ``x < a + 1``, continued fraction above (see the module docstring). ``0`` at
    ``x = 0`` and ``x = inf``; ``nan`` for ``a <= 0``, ``x < 0`` or ``nan`` input.
    """
    if not (a > 0.0 and x >= 0.0) or a == math.inf:
        return math.nan
    if x == 0.0 or x == math.inf:
        return 0.0
    if x < a + 1.0:
        return _gammainc_da_series(a, x)
    return -_gammaincc_da_fraction(a, x)


#: B_2k / (2k) for k = 1..8, the coefficients of the asymptotic series of digamma (A&S 6.3.18).
_DIGAMMA_ASYMPTOTIC = (
    1.0 / 12.0,
    -1.0 / 120.0,
    1.0 / 252.0,
    -1.0 / 240.0,
    1.0 / 132.0,
    -691.0 / 32760.0,
    1.0 / 12.0,
    -3617.0 / 8160.0,
)


@njit
def digamma_difference(x: float, d: float) -> float:
    r"""``psi(x + d) - psi(x)`` for ``x > 0``, ``d >= 0``, accurate when ``d << x``.

    The plain difference loses ``log10(x/d)`` digits. For ``d < x`` the argument is shifted to
    ``y = x + n >= 10`` by :math:`\psi(x+d) - \psi(x) = \psi(y+d) - \psi(y) +
    \sum_{i<n} d/((x+i)(x+d+i))`, and at ``y`` the asymptotic series
    :math:`\psi(y) \sim \log y - 1/(2y) - \sum_k B_{2k}/(2k\,y^{2k})` (A&S 6.3.18) is
    differenced term by term, each difference without cancellation:
    :math:`\log(1 + d/y)` by ``log1p`` and :math:`y^{-m} - (y+d)^{-m} =
    -y^{-m}\,\mathrm{expm1}(-m\,\mathrm{log1p}(d/y))`. Truncation error below ``1e-17``
    relative for ``y >= 10`` (the first omitted term is ``~ 3617/8160 * 16 d / y^17``).
    """
    if not d < x:
        return digamma(x + d) - digamma(x)
    shift = 0.0
    y = x
    while y < 10.0:
        shift += d / (y * (y + d))
        y += 1.0
    r = d / y
    log1p_r = math.log1p(r)
    # 1/(2y) - 1/(2(y + d)) = d / (2 y (y + d))
    total = log1p_r + d / (2.0 * y * (y + d))
    inv_y2 = 1.0 / (y * y)
    power = inv_y2
    for k in range(8):
        m = 2.0 * (k + 1)
        total -= _DIGAMMA_ASYMPTOTIC[k] * power * math.expm1(-m * log1p_r)
        power *= inv_y2
    return total + shift


@njit
def _betainc_fraction_grad(
    a: float, b: float, x: float, log_x: float, log_y: float
) -> tuple[float, float]:
    """``(∂I/∂a, ∂I/∂b)`` of ``I_x(a, b)`` from the continued fraction (``x`` below the mode).

    ``log x`` and ``log(1 - x)`` are passed in: after the swap ``x`` is the caller's ``1 - x``,
    and both logarithms are best computed from the caller's exact ``x`` (``log1p(-x)``, ``log x``).
    """
    # G = 1 + d1/(1 + d2/(1 + ...)): b_0 = b_k = 1, a_k = d_k
    p_prev, p_cur, q_prev, q_cur = 1.0, 1.0, 0.0, 1.0
    pa_prev, pa_cur, qa_prev, qa_cur = 0.0, 0.0, 0.0, 0.0
    pb_prev, pb_cur, qb_prev, qb_cur = 0.0, 0.0, 0.0, 0.0
    g, ga, gb = 1.0, 0.0, 0.0
    for k in range(1, MAX_TERMS):
        m = k // 2
        if k % 2 == 1:
            # d_{2m+1} = N / D, N = -(a+m)(a+b+m)x, D = (a+2m)(a+2m+1)
            num = -(a + m) * (a + b + m) * x
            den = (a + 2.0 * m) * (a + 2.0 * m + 1.0)
            num_a = -((a + b + m) + (a + m)) * x
            num_b = -(a + m) * x
            den_a = (a + 2.0 * m + 1.0) + (a + 2.0 * m)
        else:
            # d_{2m} = N / D, N = m(b-m)x, D = (a+2m-1)(a+2m)
            num = m * (b - m) * x
            den = (a + 2.0 * m - 1.0) * (a + 2.0 * m)
            num_a = 0.0
            num_b = m * x
            den_a = (a + 2.0 * m) + (a + 2.0 * m - 1.0)
        d = num / den
        d_a = (num_a - d * den_a) / den
        d_b = num_b / den
        p_new = p_cur + d * p_prev
        q_new = q_cur + d * q_prev
        pa_new = pa_cur + d_a * p_prev + d * pa_prev
        qa_new = qa_cur + d_a * q_prev + d * qa_prev
        pb_new = pb_cur + d_b * p_prev + d * pb_prev
        qb_new = qb_cur + d_b * q_prev + d * qb_prev
        scale = 1.0 / q_new
        p_prev, p_cur = p_cur * scale, p_new * scale
        q_prev, q_cur = q_cur * scale, 1.0
        pa_prev, pa_cur = pa_cur * scale, pa_new * scale
        qa_prev, qa_cur = qa_cur * scale, qa_new * scale
        pb_prev, pb_cur = pb_cur * scale, pb_new * scale
        qb_prev, qb_cur = qb_cur * scale, qb_new * scale
        g_new = p_cur
        ga_new = pa_cur - g_new * qa_cur
        gb_new = pb_cur - g_new * qb_cur
        done = (
            abs(g_new - g) <= _EPS * abs(g_new)
            and abs(ga_new - ga) <= _EPS * abs(ga_new)
            and abs(gb_new - gb) <= _EPS * abs(gb_new)
        )
        g, ga, gb = g_new, ga_new, gb_new
        if done and k > 2:
            log_k = a * log_x + b * log_y - math.log(a) - betaln(a, b)
            value = math.exp(log_k) / g
            # psi(a + b) - psi(a) and psi(a + b) - psi(b) are small when b << a or a << b:
            # computed as such, not as differences of two digammas
            grad_a = value * (log_x - 1.0 / a + digamma_difference(a, b) - ga / g)
            grad_b = value * (log_y + digamma_difference(b, a) - gb / g)
            return grad_a, grad_b
    return math.nan, math.nan


@njit
def betainc_grad(a: float, b: float, x: float) -> tuple[float, float]:
    """``(∂I_x(a, b)/∂a, ∂I_x(a, b)/∂b)``; ``(0, 0)`` at ``x = 0`` and ``x = 1``.

    ``nan`` for ``a <= 0``, ``b <= 0``, ``x`` outside ``[0, 1]`` or ``nan`` input.
    """
    if not (a > 0.0 and b > 0.0 and 0.0 <= x <= 1.0) or a == math.inf or b == math.inf:
        return math.nan, math.nan
    if x == 0.0 or x == 1.0:
        return 0.0, 0.0
    if x < (a + 1.0) / (a + b + 2.0):
        return _betainc_fraction_grad(a, b, x, math.log(x), math.log1p(-x))
    # I_x(a, b) = 1 - I_{1-x}(b, a): the first argument of the swapped call is b
    grad_b_swapped, grad_a_swapped = _betainc_fraction_grad(
        b, a, 1.0 - x, math.log1p(-x), math.log(x)
    )
    return -grad_a_swapped, -grad_b_swapped


@njit
def betainc_da(a: float, b: float, x: float) -> float:
    r"""``∂I_x(a, b)/∂a`` of the regularised incomplete beta function (see :func:`betainc_grad`)."""
    return betainc_grad(a, b, x)[0]


@njit
def betainc_db(a: float, b: float, x: float) -> float:
    r"""``∂I_x(a, b)/∂b`` of the regularised incomplete beta function (see :func:`betainc_grad`)."""
    return betainc_grad(a, b, x)[1]
