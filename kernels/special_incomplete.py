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
  (with :math:`a\log(x/a) - (x - a)` in place of the first term when ``|x - a| > a/2``;
  Stirling's series for :math:`\log\Gamma`, A&S 6.1.41, with the large terms cancelled
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
  derivatives, so again no ``1 - I`` is formed. The differences :math:`\psi(a+b) - \psi(a)`,
  which are small when ``b << a``, come from :func:`digamma_difference` (no cancellation).

Second derivatives (:func:`gammainc_daa`, :func:`betainc_daa`, :func:`betainc_dab`,
:func:`betainc_dbb`) come from the same sums differentiated twice: termwise for the gamma series
(:math:`\partial_a^2 T_n = T_n((\log x - \psi(a+n+1))^2 - \psi_1(a+n+1))`), and for the
continued fractions by running the recurrences below on second-order *jets* (a value with its
first and second partial derivatives in ``a`` and ``b``, combined by Leibniz's rule), then
:math:`\log I = K - \log G` differentiated twice (:math:`K_{aa} = 1/a^2 - \psi_1(a) +
\psi_1(a+b)`, :math:`K_{ab} = \psi_1(a+b)`, :math:`K_{bb} = \psi_1(a+b) - \psi_1(b)`).
One pass gives all of them; the first-derivative kernels use the same pass.

Continued fractions with derivatives
------------------------------------
For :math:`G = b_0 + a_1/(b_1 + a_2/(b_2 + \cdots))` the convergents are :math:`A_n/B_n` with
:math:`A_n = b_n A_{n-1} + a_n A_{n-2}` (same for :math:`B`; :math:`A_{-1} = 1, A_0 = b_0,
B_{-1} = 0, B_0 = 1`). Differentiating the recurrence gives one for :math:`A_n'`:
:math:`A_n' = b_n' A_{n-1} + b_n A_{n-1}' + a_n' A_{n-2} + a_n A_{n-2}'`, and
:math:`G_n' = (A_n' - G_n B_n')/B_n`. The recurrences are linear and homogeneous in
:math:`(A, B, A', B')` jointly, so every step rescales all of them by :math:`1/B_n` to stay clear
of overflow (Boik & Robison-Cox 1998, section 3). Iteration stops when the value and every
derivative changed by less than ``1e-15`` of themselves (see :func:`_jet_done`).

Large shape parameters need ``O(sqrt(a))`` (or ``O(sqrt(max(a, b)))``) terms; past
:data:`MAX_TERMS` (shape parameters beyond about 1e10 near the mode) the kernels return ``nan``
rather than a silently truncated value. Where the result underflows it is returned as zero
without iterating.

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
from kernels.special_polygamma import trigamma
from kernels.special_scipy import betaln, digamma, gammaln

#: Iteration cap of every series and continued fraction here: near the mode they need a few
#: times ``sqrt(a)`` terms, so this serves shape parameters up to about 1e10 (a few ms per
#: call there); beyond it the result is ``nan``, never a truncated sum.
MAX_TERMS = 1_000_000
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


# --- second-order jets ------------------------------------------------------------------------
# A jet (v, a, b, aa, ab, bb) is a value with its first and second partial derivatives in the
# two shape parameters (the gamma function leaves the b entries at zero). The continued
# fractions are run on jets: each recurrence step is a product and a sum of jets.


@njit(inline="always")
def _jet_add(p, q):
    return (p[0] + q[0], p[1] + q[1], p[2] + q[2], p[3] + q[3], p[4] + q[4], p[5] + q[5])


@njit(inline="always")
def _jet_scale(p, c):
    return (p[0] * c, p[1] * c, p[2] * c, p[3] * c, p[4] * c, p[5] * c)


@njit(inline="always")
def _jet_mul(p, q):
    """Leibniz's rule to second order."""
    return (
        p[0] * q[0],
        p[1] * q[0] + p[0] * q[1],
        p[2] * q[0] + p[0] * q[2],
        p[3] * q[0] + 2.0 * p[1] * q[1] + p[0] * q[3],
        p[4] * q[0] + p[1] * q[2] + p[2] * q[1] + p[0] * q[4],
        p[5] * q[0] + 2.0 * p[2] * q[2] + p[0] * q[5],
    )


@njit(inline="always")
def _jet_div(p, q):
    """``g = p / q`` from ``p = g q`` differentiated twice."""
    g = p[0] / q[0]
    ga = (p[1] - g * q[1]) / q[0]
    gb = (p[2] - g * q[2]) / q[0]
    gaa = (p[3] - 2.0 * ga * q[1] - g * q[3]) / q[0]
    gab = (p[4] - ga * q[2] - gb * q[1] - g * q[4]) / q[0]
    gbb = (p[5] - 2.0 * gb * q[2] - g * q[5]) / q[0]
    return (g, ga, gb, gaa, gab, gbb)


@njit(inline="always")
def _jet_log_derivatives(g):
    """The derivatives of ``log g`` (entry 0 is ``log|g|``)."""
    ra = g[1] / g[0]
    rb = g[2] / g[0]
    return (
        math.log(abs(g[0])),
        ra,
        rb,
        g[3] / g[0] - ra * ra,
        g[4] / g[0] - ra * rb,
        g[5] / g[0] - rb * rb,
    )


@njit(inline="always")
def _jet_exp(lam):
    """``exp`` of a jet given by its logarithm's derivatives."""
    e = math.exp(lam[0])
    return (
        e,
        e * lam[1],
        e * lam[2],
        e * (lam[3] + lam[1] * lam[1]),
        e * (lam[4] + lam[1] * lam[2]),
        e * (lam[5] + lam[2] * lam[2]),
    )


_JET_TOL = 1e-15  # about 4.5 ulps: the rescaled recurrences jitter by an ulp or two per step


@njit(inline="always")
def _jet_first_converged(new, old) -> bool:
    """The value and the first derivatives changed by less than ``_JET_TOL`` of themselves (or
    of ``1e-20 |g|``, so that an entry through zero does not stall the loop)."""
    floor = 1e-20 * abs(new[0])
    for i in range(3):
        if abs(new[i] - old[i]) > _JET_TOL * abs(new[i]) + floor:
            return False
    return True


@njit(inline="always")
def _jet_second_converged(new, old) -> bool:
    """The second derivatives changed by less than ``_JET_TOL`` of themselves or of their
    natural scale ``(|g_a| + |g_b|)^2 / |g|`` (the size of the terms of ``(log g)''``)."""
    floor = _JET_TOL * (abs(new[1]) + abs(new[2])) ** 2 / abs(new[0]) + 1e-20 * abs(new[0])
    for i in range(3, 6):
        if abs(new[i] - old[i]) > _JET_TOL * abs(new[i]) + floor:
            return False
    return True


@njit(inline="always")
def _jet_done(new, old, k: int, k_first: int) -> tuple[bool, int]:
    """Stopping rule of the jet recurrences; ``k_first`` is the step where the value and first
    derivatives converged (0 before). The second derivatives converge at the same geometric rate
    times a factor ~ k^2, and their rounding noise (accumulated over the rescaled steps) can
    exceed ``_JET_TOL``: so stop when they converged, or ``k_first / 4 + 5`` steps later, which
    covers the k^2 factor for the rates of these fractions (k_first = 37 / log(1/rate))."""
    if k_first == 0 and _jet_first_converged(new, old):
        k_first = k
    if k_first == 0:
        return False, 0
    return _jet_second_converged(new, old) or k >= k_first + k_first // 4 + 5, k_first


_JET_ONE = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_JET_ZERO = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@njit
def _gammainc_series_derivatives(a: float, x: float) -> tuple[float, float]:
    r"""``(dP/da, d2P/da2)`` from the termwise derivatives of the power series (``x < a + 1``).

    With :math:`T_n = x^{a+n}e^{-x}/\Gamma(a+n+1)`: :math:`T_n' = T_n\,(\log x -
    \psi(a+n+1))` and :math:`T_n'' = T_n\,((\log x - \psi(a+n+1))^2 - \psi_1(a+n+1))`, where
    :math:`\psi_1(a+n+1) = \psi_1(a+1) - \sum_{k=1}^n 1/(a+k)^2`.
    """
    c = math.log(x) - digamma(a + 1.0)
    t1 = trigamma(a + 1.0)
    u = 1.0
    h = 0.0
    h2 = 0.0
    s1 = c
    s2 = c * c - t1
    for n in range(1, MAX_TERMS):
        u *= x / (a + n)
        inv = 1.0 / (a + n)
        h += inv
        h2 += inv * inv
        d = c - h
        term1 = u * d
        term2 = u * (d * d - (t1 - h2))
        s1 += term1
        s2 += term2
        if abs(term1) <= _EPS * abs(s1) and abs(term2) <= _EPS * abs(s2) + 1e-20 * abs(s1):
            prefix = math.exp(log_gamma_prefix(a, x))
            return prefix * s1, prefix * s2
    return math.nan, math.nan


@njit
def _gammaincc_fraction_derivatives(a: float, x: float) -> tuple[float, float]:
    """``(dQ/da, d2Q/da2)`` from Legendre's continued fraction run on jets (``x >= a + 1``)."""
    # x^a e^-x / Gamma(a) = a * (x^a e^-x / Gamma(a + 1)); the factors below are at most
    # ~ (log x)^2, so below e^-760 the result underflows (and for x ~ 1e300 the recurrences
    # would overflow before converging): return the zeros directly
    log_prefix = log_gamma_prefix(a, x) + math.log(a)
    if log_prefix < -760.0:
        return 0.0, 0.0
    p_prev, p_cur = _JET_ONE, (x + 1.0 - a, -1.0, 0.0, 0.0, 0.0, 0.0)
    q_prev, q_cur = _JET_ZERO, _JET_ONE
    g = p_cur
    k_first = 0
    for k in range(1, MAX_TERMS):
        ak = (-k * (k - a), float(k), 0.0, 0.0, 0.0, 0.0)
        bk = (x + 2.0 * k + 1.0 - a, -1.0, 0.0, 0.0, 0.0, 0.0)
        p_new = _jet_add(_jet_mul(bk, p_cur), _jet_mul(ak, p_prev))
        q_new = _jet_add(_jet_mul(bk, q_cur), _jet_mul(ak, q_prev))
        scale = 1.0 / q_new[0]  # the recurrences are linear: rescale to stay finite
        p_prev, p_cur = _jet_scale(p_cur, scale), _jet_scale(p_new, scale)
        q_prev, q_cur = _jet_scale(q_cur, scale), _jet_scale(q_new, scale)
        g_new = _jet_div(p_cur, q_cur)
        done, k_first = _jet_done(g_new, g, k, k_first)
        g = g_new
        if done:
            # log Q = log_prefix - log G, and log_prefix' = log x - psi(a), '' = -psi_1(a)
            lg = _jet_log_derivatives(g)
            la = math.log(x) - digamma(a) - lg[1]
            laa = -trigamma(a) - lg[3]
            q = math.exp(log_prefix - lg[0])
            return q * la, q * (laa + la * la)
    return math.nan, math.nan


@njit
def gammainc_derivatives(a: float, x: float) -> tuple[float, float]:
    """``(∂P/∂a, ∂²P/∂a²)`` of the regularised lower incomplete gamma function.

    Series for ``x < a + 1``, continued fraction above (see the module docstring); the
    derivatives of ``Q`` are their negatives. ``0`` at ``x = 0`` and ``x = inf``; ``nan`` for
    ``a <= 0``, ``x < 0`` or ``nan`` input.
    """
    if not (a > 0.0 and x >= 0.0) or a == math.inf:
        return math.nan, math.nan
    if x == 0.0 or x == math.inf:
        return 0.0, 0.0
    if x < a + 1.0:
        return _gammainc_series_derivatives(a, x)
    dq, dq2 = _gammaincc_fraction_derivatives(a, x)
    return -dq, -dq2


@njit
def gammainc_da(a: float, x: float) -> float:
    """``∂P(a, x)/∂a`` (``= -∂Q/∂a``); see :func:`gammainc_derivatives`."""
    return gammainc_derivatives(a, x)[0]


@njit
def gammainc_daa(a: float, x: float) -> float:
    """``∂²P(a, x)/∂a²`` (``= -∂²Q/∂a²``); see :func:`gammainc_derivatives`."""
    return gammainc_derivatives(a, x)[1]


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
def _betainc_fraction_jet(a: float, b: float, x: float, log_x: float, log_y: float):
    """The jet of ``I_x(a, b)`` (value, ∂a, ∂b, ∂aa, ∂ab, ∂bb) from the continued fraction
    run on jets (``x`` below the mode).

    ``log x`` and ``log(1 - x)`` are passed in: after the swap ``x`` is the caller's ``1 - x``,
    and both logarithms are best computed from the caller's exact ``x`` (``log1p(-x)``, ``log x``).
    """
    p_prev, p_cur = _JET_ONE, _JET_ONE
    q_prev, q_cur = _JET_ZERO, _JET_ONE
    g = _JET_ONE
    k_first = 0
    for k in range(1, MAX_TERMS):
        m = k // 2
        if k % 2 == 1:
            # d_{2m+1} = N / D, N = -(a+m)(a+b+m)x, D = (a+2m)(a+2m+1)
            num = (
                -(a + m) * (a + b + m) * x,
                -((a + b + m) + (a + m)) * x,
                -(a + m) * x,
                -2.0 * x,
                -x,
                0.0,
            )
            den = ((a + 2.0 * m) * (a + 2.0 * m + 1.0), 2.0 * a + 4.0 * m + 1.0, 0.0, 2.0, 0.0, 0.0)
        else:
            # d_{2m} = N / D, N = m(b-m)x, D = (a+2m-1)(a+2m)
            num = (m * (b - m) * x, 0.0, m * x, 0.0, 0.0, 0.0)
            den = ((a + 2.0 * m - 1.0) * (a + 2.0 * m), 2.0 * a + 4.0 * m - 1.0, 0.0, 2.0, 0.0, 0.0)
        d = _jet_div(num, den)
        p_new = _jet_add(p_cur, _jet_mul(d, p_prev))
        q_new = _jet_add(q_cur, _jet_mul(d, q_prev))
        scale = 1.0 / q_new[0]
        p_prev, p_cur = _jet_scale(p_cur, scale), _jet_scale(p_new, scale)
        q_prev, q_cur = _jet_scale(q_cur, scale), _jet_scale(q_new, scale)
        g_new = _jet_div(p_cur, q_cur)
        done, k_first = _jet_done(g_new, g, k, k_first)
        g = g_new
        if done and k > 2:
            # log I = K - log G, K = a log x + b log(1-x) - log a - log B(a, b); the digamma
            # differences are small when b << a or a << b: computed as such (no cancellation)
            lg = _jet_log_derivatives(g)
            tri_ab = trigamma(a + b)
            log_k = (
                a * log_x + b * log_y - math.log(a) - betaln(a, b),
                log_x - 1.0 / a + digamma_difference(a, b),
                log_y + digamma_difference(b, a),
                1.0 / (a * a) - trigamma(a) + tri_ab,
                tri_ab,
                tri_ab - trigamma(b),
            )
            return _jet_exp(
                (
                    log_k[0] - lg[0],
                    log_k[1] - lg[1],
                    log_k[2] - lg[2],
                    log_k[3] - lg[3],
                    log_k[4] - lg[4],
                    log_k[5] - lg[5],
                )
            )
    return (math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)


@njit
def betainc_derivatives(a: float, b: float, x: float):
    """``(∂a, ∂b, ∂aa, ∂ab, ∂bb)`` of the regularised incomplete beta function ``I_x(a, b)``.

    ``0`` at ``x = 0`` and ``x = 1``; ``nan`` for ``a <= 0``, ``b <= 0``, ``x`` outside
    ``[0, 1]`` or ``nan`` input.
    """
    nan = math.nan
    if not (a > 0.0 and b > 0.0 and 0.0 <= x <= 1.0) or a == math.inf or b == math.inf:
        return nan, nan, nan, nan, nan
    if x == 0.0 or x == 1.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    if x < (a + 1.0) / (a + b + 2.0):
        j = _betainc_fraction_jet(a, b, x, math.log(x), math.log1p(-x))
        return j[1], j[2], j[3], j[4], j[5]
    # I_x(a, b) = 1 - J with J = I_{1-x}(b, a), whose first shape parameter is b
    j = _betainc_fraction_jet(b, a, 1.0 - x, math.log1p(-x), math.log(x))
    return -j[2], -j[1], -j[5], -j[4], -j[3]


@njit
def betainc_grad(a: float, b: float, x: float) -> tuple[float, float]:
    """``(∂I_x(a, b)/∂a, ∂I_x(a, b)/∂b)``; see :func:`betainc_derivatives`."""
    d = betainc_derivatives(a, b, x)
    return d[0], d[1]


@njit
def betainc_da(a: float, b: float, x: float) -> float:
    """``∂I_x(a, b)/∂a``; see :func:`betainc_derivatives`."""
    return betainc_derivatives(a, b, x)[0]


@njit
def betainc_db(a: float, b: float, x: float) -> float:
    """``∂I_x(a, b)/∂b``; see :func:`betainc_derivatives`."""
    return betainc_derivatives(a, b, x)[1]


@njit
def betainc_daa(a: float, b: float, x: float) -> float:
    """``∂²I_x(a, b)/∂a²``; see :func:`betainc_derivatives`."""
    return betainc_derivatives(a, b, x)[2]


@njit
def betainc_dab(a: float, b: float, x: float) -> float:
    """``∂²I_x(a, b)/∂a∂b``; see :func:`betainc_derivatives`."""
    return betainc_derivatives(a, b, x)[3]


@njit
def betainc_dbb(a: float, b: float, x: float) -> float:
    """``∂²I_x(a, b)/∂b²``; see :func:`betainc_derivatives`."""
    return betainc_derivatives(a, b, x)[4]
