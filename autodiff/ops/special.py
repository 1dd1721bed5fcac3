"""Special functions as primitives, with their derivatives.

Each is one row (see :mod:`autodiff.ops.elementwise`): the NumPy implementation, the compiled
template calling the scalar kernel of :mod:`kernels.special`, and the partials.  The two compute
one algorithm: SciPy's for the functions :mod:`kernels.special` binds from SciPy (bit for bit),
and for ``expit``, ``log1pexp`` and ``log1mexp`` the kernel's formula, written vectorised here
(``expit`` and ``log1pexp`` also name their branch-free kernels of :mod:`kernels.vector_math`,
the same formulas within 2 ulp, for loops that vectorise).
``polygamma``'s eager values come from SciPy and its compiled ones from
:mod:`kernels.special_polygamma` (SciPy exports no scalar polygamma to bind), and ``zeta``'s from
SciPy and :func:`kernels.special.zeta`.  The derivative kernels of the incomplete gamma and beta
functions in their shape parameters (:mod:`kernels.special_incomplete`: iterative series and
continued fractions, which do not vectorise) run eagerly as the very same compiled scalar kernel
mapped over the elements.

A derivative without a closed form that is not implemented (``iv`` in its order, ``zeta`` in
``s``, third derivatives of ``gammainc``/``betainc`` in their shape parameters) raises
:class:`NotImplementedError` naming the function and the argument when it is asked for, rather
than returning zero.

=================  =========================================================
function           derivative
=================  =========================================================
gammaln            digamma
digamma            polygamma(1, ·) (trigamma)
polygamma(n, ·)    polygamma(n + 1, ·)
erf / erfc         ± 2/√π exp(-x²)
erfcx              2x erfcx(x) - 2/√π
ndtr               φ(x)
ndtri              1 / φ(ndtri(p))
log_ndtr           r(x) = φ(x)/Φ(x), its own primitive ``dlog_ndtr`` (kernels.special.dlog_ndtr:
                   √(2/π)/erfcx(-x/√2) below 0, no cancellation as x → -∞), with r' = -r(x + r)
                   and x + r a primitive too (Laplace's continued fraction below -3)
erfinv / erfcinv   ± √π/2 exp(y²),  y the result
i0 / i1            i1(x) / i0(x) - i1(x)/x  (1/2 at 0)
iv(v, x)           (I_{v-1}(x) + I_{v+1}(x)) / 2 in x;  in v: an error (no closed form)
gammainc(a, x)     (∂P/∂a: gammainc_da kernel, x^{a-1}e^{-x}/Γ(a))
gammaincc(a, x)    the negatives of gammainc's
gammainc_da(a, x)  (gammainc_daa kernel, ∂P/∂x (log x - ψ(a)))
gammainc_daa(a, x) (an error: no third derivative in a, ∂P/∂x ((log x - ψ(a))² - ψ₁(a)))
betainc(a, b, x)   (betainc_da, betainc_db kernels, x^{a-1}(1-x)^{b-1}/B(a, b) =: f)
betainc_da/_db     (betainc_daa/_dab, betainc_dab/_dbb kernels, f s_a / f s_b), with the scores
                   s_a = log x + ψ(a+b) - ψ(a), s_b = log1p(-x) + ψ(a+b) - ψ(b)
betainc_daa/ab/bb  (errors in a and b: no third derivative, f (s s' + ∂²(-log B)))
zeta(s, q)         (an error: no closed form in s, -s ζ(s+1, q))
expit              expit(x)(1 - expit(x))
logit              1 / (p(1 - p))
log1pexp           expit(x)                    (softplus)
log1mexp           1 / expm1(x)                (log(1 - exp(-x)), x > 0)
i0e                i1e(x) - sign(x) i0e(x)
i1e                i0e(x) - i1e(x)(sign(x) + 1/x),  1/2 at 0
xlogy(x, y)        (log y, x/y),  0 where x = 0
xlog1py(x, y)      (log1p y, x/(1+y))
betaln(a, b)       (ψ(a) - ψ(a+b), ψ(b) - ψ(a+b))
=================  =========================================================
"""

from __future__ import annotations

import numpy as np
import scipy.special as sp

from autodiff.core import bind1
from autodiff.ops._rules import def_elementwise
from autodiff.ops.elementwise import (
    add,
    div,
    eq,
    exp,
    expm1,
    log,
    log1p,
    mul,
    neg,
    select,
    sign,
    sub,
)
from kernels import special as ks

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)
_SQRT_PI_OVER_TWO = 0.5 * np.sqrt(np.pi)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_VELTKAMP = 134217729.0


def _no_derivative(function: str, argument: str, why: str):
    """A partial that raises: the derivative exists but is not implemented (never a silent 0)."""

    def partial(ans, *args, **params):
        raise NotImplementedError(
            f"{function}: the derivative with respect to {argument} is not implemented ({why}); "
            f"pass {argument} as a constant (data) or wrap it in stop_gradient"
        )

    return partial


def _elementwise_kernel(kernel):
    """Map a compiled scalar kernel over broadcast arrays: the eager implementation of the
    primitives whose kernel is an iterative algorithm (the same bits as compiled code)."""
    mapped = np.vectorize(kernel, otypes=[np.float64])

    def impl(*args):
        return mapped(*[np.asarray(a, dtype=np.float64) for a in args])

    impl.__name__ = kernel.__name__ if hasattr(kernel, "__name__") else "kernel"
    return impl


def _dlog_ndtr(x):
    """φ(x)/Φ(x) vectorised: the formula of :func:`kernels.special.dlog_ndtr`."""
    x = np.asarray(x, dtype=float)
    neg_x = np.minimum(x, 0.0)
    below = _SQRT_2_OVER_PI / sp.erfcx(-neg_x / np.sqrt(2.0))
    below = np.where(x < -1e8, -x - 1.0 / np.where(x < -1e8, x, -1.0), below)
    pos = np.clip(x, 0.0, 40.0)
    c = _VELTKAMP * pos
    hi = c - (c - pos)  # exact split of x, as the kernel does, so x*x rounds nowhere
    lo = pos - hi
    phi = np.exp(-0.5 * hi * hi) * np.exp(-lo * (hi + 0.5 * lo)) * _INV_SQRT_2PI
    above = np.where(x >= 40.0, 0.0, phi / sp.ndtr(pos))
    return np.where(np.isnan(x), np.nan, np.where(x < 0.0, below, above))


def _log1pexp(x):
    """NumPy's ``logaddexp(0, x)`` is exactly ``max(x, 0) + log1p(exp(-|x|))``, the formula of
    :func:`kernels.special.log1pexp` (with ``log 2`` at 0, which ``log1p(1)`` rounds to)."""
    return np.logaddexp(0.0, x)


def _expit(x):
    """``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` below, ``e = exp(-|x|)``: the formula
    of :func:`kernels.special.expit`."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0, e) / (1.0 + e)


def _log1mexp(a):
    """``log1p(-exp(-a))`` above ``log 2``, ``log(-expm1(-a))`` up to it: the formula of
    :func:`kernels.special.log1mexp` (Maechler 2012); NaN below 0."""
    a = np.asarray(a, dtype=float)
    return np.where(a > np.log(2.0), np.log1p(-np.exp(-a)), np.log(-np.expm1(-a)))


def _polygamma_template(n: int) -> str:
    return "sp.trigamma({0})" if n == 1 else f"sp.polygamma({n}, {{0}})"


# One row per primitive: name, NumPy implementation, compiled scalar template (``sp`` is
# kernels.special there, not scipy.special), partials.
gammaln_p = def_elementwise(
    "gammaln", sp.gammaln, "sp.gammaln({0})", (lambda ans, x: digamma(x),), vector="vm.lgamma({0})"
)
digamma_p = def_elementwise(
    "digamma", sp.digamma, "sp.digamma({0})", (lambda ans, x: polygamma(1, x),)
)
polygamma_p = def_elementwise(
    "polygamma",
    lambda x, n: sp.polygamma(n, x),
    _polygamma_template,
    (lambda ans, x, n: polygamma(n + 1, x),),
)
erf_p = def_elementwise(
    "erf", sp.erf, "sp.erf({0})", (lambda ans, x: mul(_TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))),)
)
erfc_p = def_elementwise(
    "erfc", sp.erfc, "sp.erfc({0})", (lambda ans, x: mul(-_TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))),)
)
erfcx_p = def_elementwise(
    "erfcx", sp.erfcx, "sp.erfcx({0})", (lambda ans, x: sub(mul(mul(2.0, x), ans), _TWO_OVER_SQRT_PI),)
)
ndtr_p = def_elementwise(
    "ndtr", sp.ndtr, "sp.ndtr({0})", (lambda ans, x: exp(sub(mul(-0.5, mul(x, x)), _LOG_SQRT_2PI)),)
)
ndtri_p = def_elementwise(
    "ndtri", sp.ndtri, "sp.ndtri({0})", (lambda ans, p: exp(add(mul(0.5, mul(ans, ans)), _LOG_SQRT_2PI)),)
)
# φ/Φ is a primitive of its own: exp(-x²/2 - log Φ(x)) loses all digits below x ≈ -1e5 (two
# numbers of size x²/2 cancel), the erfcx form loses none; r' = -r (x + r) lets it nest.
dlog_ndtr_p = def_elementwise(
    "dlog_ndtr",
    _dlog_ndtr,
    "sp.dlog_ndtr({0})",
    (lambda ans, x: neg(mul(ans, x_plus_dlog_ndtr(x))),),
)
# x + r, which r' = -r (x + r) needs, cancels as x → -∞: a kernel (Laplace's continued
# fraction) computes it without; (x + r)' = 1 + r' = 1 - r (x + r).
x_plus_dlog_ndtr_p = def_elementwise(
    "x_plus_dlog_ndtr",
    _elementwise_kernel(ks.x_plus_dlog_ndtr),
    "sp.x_plus_dlog_ndtr({0})",
    (lambda ans, x: sub(1.0, mul(dlog_ndtr(x), ans)),),
)
log_ndtr_p = def_elementwise(
    "log_ndtr", sp.log_ndtr, "sp.log_ndtr({0})", (lambda ans, x: dlog_ndtr(x),)
)
expit_p = def_elementwise(
    "expit", _expit, "sp.expit({0})", (lambda ans, x: mul(ans, sub(1.0, ans)),), vector="vm.expit({0})"
)
logit_p = def_elementwise(
    "logit", sp.logit, "sp.logit({0})", (lambda ans, p: div(1.0, mul(p, sub(1.0, p))),)
)
log1pexp_p = def_elementwise(
    "log1pexp", _log1pexp, "sp.log1pexp({0})", (lambda ans, x: expit(x),), vector="vm.log1pexp({0})"
)
log1mexp_p = def_elementwise(
    "log1mexp", _log1mexp, "sp.log1mexp({0})", (lambda ans, x: div(1.0, expm1(x)),)
)
erfinv_p = def_elementwise(
    "erfinv", sp.erfinv, "sp.erfinv({0})", (lambda ans, x: mul(_SQRT_PI_OVER_TWO, exp(mul(ans, ans))),)
)
erfcinv_p = def_elementwise(
    "erfcinv",
    sp.erfcinv,
    "sp.erfcinv({0})",
    (lambda ans, x: mul(-_SQRT_PI_OVER_TWO, exp(mul(ans, ans))),),
)
i0_p = def_elementwise("i0", sp.i0, "sp.i0({0})", (lambda ans, x: i1(x),))


def _i1_partial(ans, x):
    """I1'(x) = I0(x) - I1(x)/x, and 1/2 at 0 (where I1(x)/x → 1/2)."""
    safe_x = select(eq(x, 0.0), 1.0, x)
    return select(eq(x, 0.0), 0.5, sub(i0(x), div(ans, safe_x)))


i1_p = def_elementwise("i1", sp.i1, "sp.i1({0})", (_i1_partial,))
iv_p = def_elementwise(
    "iv",
    sp.iv,
    "sp.iv({0}, {1})",
    (
        _no_derivative("iv", "the order v", "∂I_v/∂v has no closed form"),
        # I_v' = (I_{v-1} + I_{v+1}) / 2 (A&S 9.6.26), valid for every real v
        lambda ans, v, x: mul(0.5, add(iv(sub(v, 1.0), x), iv(add(v, 1.0), x))),
    ),
)
i0e_p = def_elementwise("i0e", sp.i0e, "sp.i0e({0})", (lambda ans, x: sub(i1e(x), mul(sign(x), ans)),))


def _i1e_partial(ans, x):
    safe_x = select(eq(x, 0.0), 1.0, x)
    general = sub(i0e(x), mul(ans, add(sign(x), div(1.0, safe_x))))
    return select(eq(x, 0.0), 0.5, general)


i1e_p = def_elementwise("i1e", sp.i1e, "sp.i1e({0})", (_i1e_partial,))

xlogy_p = def_elementwise(
    "xlogy",
    sp.xlogy,
    "sp.xlogy({0}, {1})",
    (
        lambda ans, x, y: log(y),
        lambda ans, x, y: select(eq(x, 0.0), 0.0, div(x, y)),
    ),
)
xlog1py_p = def_elementwise(
    "xlog1py",
    sp.xlog1py,
    "sp.xlog1py({0}, {1})",
    (
        lambda ans, x, y: log1p(y),
        lambda ans, x, y: select(eq(x, 0.0), 0.0, div(x, add(1.0, y))),
    ),
)
betaln_p = def_elementwise(
    "betaln",
    sp.betaln,
    "sp.betaln({0}, {1})",
    (
        lambda ans, a, b: sub(digamma(a), digamma(add(a, b))),
        lambda ans, a, b: sub(digamma(b), digamma(add(a, b))),
    ),
)


def _gammainc_dx(a, x):
    """∂P(a, x)/∂x = x^{a-1} e^{-x} / Γ(a) (the gamma density), as exp of its logarithm."""
    return exp(sub(sub(xlogy(sub(a, 1.0), x), x), gammaln(a)))


def _betainc_dx(a, b, x):
    """∂I_x(a, b)/∂x = x^{a-1} (1-x)^{b-1} / B(a, b) (the beta density)."""
    return exp(sub(add(xlogy(sub(a, 1.0), x), xlog1py(sub(b, 1.0), neg(x))), betaln(a, b)))


_NO_THIRD = "third derivatives in the shape parameters are not implemented"


def _trigamma(x):
    return polygamma(1, x)


def _gamma_score(a, x):
    """∂/∂a log(gamma density) = log x - ψ(a)."""
    return sub(log(x), digamma(a))


def _beta_scores(a, b, x):
    """∂/∂a and ∂/∂b of log(beta density): log x + ψ(a+b) - ψ(a), log1p(-x) + ψ(a+b) - ψ(b)."""
    psi_ab = digamma(add(a, b))
    return add(log(x), sub(psi_ab, digamma(a))), add(log1p(neg(x)), sub(psi_ab, digamma(b)))


# ∂P/∂a and ∂²P/∂a² by kernels.special_incomplete; their derivatives in x are the gamma
# density's derivatives in a (closed form), so every mixed derivative nests.
gammainc_daa_p = def_elementwise(
    "gammainc_daa",
    _elementwise_kernel(ks.gammainc_daa),
    "sp.gammainc_daa({0}, {1})",
    (
        _no_derivative("gammainc_daa (∂²gammainc/∂a²)", "a", _NO_THIRD),
        lambda ans, a, x: mul(
            _gammainc_dx(a, x), sub(mul(_gamma_score(a, x), _gamma_score(a, x)), _trigamma(a))
        ),
    ),
)
gammainc_da_p = def_elementwise(
    "gammainc_da",
    _elementwise_kernel(ks.gammainc_da),
    "sp.gammainc_da({0}, {1})",
    (
        lambda ans, a, x: gammainc_daa(a, x),
        lambda ans, a, x: mul(_gammainc_dx(a, x), _gamma_score(a, x)),
    ),
)
gammainc_p = def_elementwise(
    "gammainc",
    sp.gammainc,
    "sp.gammainc({0}, {1})",
    (lambda ans, a, x: gammainc_da(a, x), lambda ans, a, x: _gammainc_dx(a, x)),
)
gammaincc_p = def_elementwise(
    "gammaincc",
    sp.gammaincc,
    "sp.gammaincc({0}, {1})",
    (lambda ans, a, x: neg(gammainc_da(a, x)), lambda ans, a, x: neg(_gammainc_dx(a, x))),
)


def _betainc_second(name: str, x_partial) -> object:
    """A second shape derivative of I_x(a, b): kernel, no third derivative, closed form in x."""
    return def_elementwise(
        name,
        _elementwise_kernel(getattr(ks, name)),
        f"sp.{name}({{0}}, {{1}}, {{2}})",
        (
            _no_derivative(f"{name} (a second derivative of betainc)", "a", _NO_THIRD),
            _no_derivative(f"{name} (a second derivative of betainc)", "b", _NO_THIRD),
            x_partial,
        ),
    )


def _beta_dx_times(score_product):
    def partial(ans, a, b, x):
        return mul(_betainc_dx(a, b, x), score_product(a, b, x, *_beta_scores(a, b, x)))

    return partial


# ∂²(beta density)/∂·∂· = density × (score products + the second derivatives of -log B(a, b))
betainc_daa_p = _betainc_second(
    "betainc_daa",
    _beta_dx_times(
        lambda a, b, x, sa, sb: add(mul(sa, sa), sub(_trigamma(add(a, b)), _trigamma(a)))
    ),
)
betainc_dab_p = _betainc_second(
    "betainc_dab", _beta_dx_times(lambda a, b, x, sa, sb: add(mul(sa, sb), _trigamma(add(a, b))))
)
betainc_dbb_p = _betainc_second(
    "betainc_dbb",
    _beta_dx_times(
        lambda a, b, x, sa, sb: add(mul(sb, sb), sub(_trigamma(add(a, b)), _trigamma(b)))
    ),
)
betainc_da_p = def_elementwise(
    "betainc_da",
    _elementwise_kernel(ks.betainc_da),
    "sp.betainc_da({0}, {1}, {2})",
    (
        lambda ans, a, b, x: betainc_daa(a, b, x),
        lambda ans, a, b, x: betainc_dab(a, b, x),
        _beta_dx_times(lambda a, b, x, sa, sb: sa),
    ),
)
betainc_db_p = def_elementwise(
    "betainc_db",
    _elementwise_kernel(ks.betainc_db),
    "sp.betainc_db({0}, {1}, {2})",
    (
        lambda ans, a, b, x: betainc_dab(a, b, x),
        lambda ans, a, b, x: betainc_dbb(a, b, x),
        _beta_dx_times(lambda a, b, x, sa, sb: sb),
    ),
)
betainc_p = def_elementwise(
    "betainc",
    sp.betainc,
    "sp.betainc({0}, {1}, {2})",
    (
        lambda ans, a, b, x: betainc_da(a, b, x),
        lambda ans, a, b, x: betainc_db(a, b, x),
        lambda ans, a, b, x: _betainc_dx(a, b, x),
    ),
)
zeta_p = def_elementwise(
    "zeta",
    sp.zeta,
    "sp.zeta({0}, {1})",
    (
        _no_derivative("zeta", "s", "∂ζ(s, q)/∂s has no closed form"),
        # ∂ζ(s, q)/∂q = -s ζ(s + 1, q), termwise from Σ (q + k)^{-s}
        lambda ans, s, q: neg(mul(s, zeta(add(s, 1.0), q))),
    ),
)


def _fn1(p):
    def fn(x):
        return bind1(p, x)

    fn.__name__ = p.name
    fn.__doc__ = f"``scipy.special.{p.name}``, differentiable."
    return fn


def _fn2(p):
    def fn(x, y):
        return bind1(p, x, y)

    fn.__name__ = p.name
    fn.__doc__ = f"``scipy.special.{p.name}``, differentiable."
    return fn


gammaln, digamma, erf, erfc, erfcx = map(_fn1, (gammaln_p, digamma_p, erf_p, erfc_p, erfcx_p))
ndtr, ndtri, log_ndtr, expit, logit = map(_fn1, (ndtr_p, ndtri_p, log_ndtr_p, expit_p, logit_p))
log1pexp, log1mexp, i0e, i1e = map(_fn1, (log1pexp_p, log1mexp_p, i0e_p, i1e_p))
xlogy, xlog1py, betaln = map(_fn2, (xlogy_p, xlog1py_p, betaln_p))
erfinv, erfcinv, i0, i1, dlog_ndtr = map(_fn1, (erfinv_p, erfcinv_p, i0_p, i1_p, dlog_ndtr_p))
x_plus_dlog_ndtr = _fn1(x_plus_dlog_ndtr_p)
iv, gammainc, gammaincc = map(_fn2, (iv_p, gammainc_p, gammaincc_p))
gammainc_da, gammainc_daa = _fn2(gammainc_da_p), _fn2(gammainc_daa_p)
zeta = _fn2(zeta_p)


def _fn3(p):
    def fn(a, b, x):
        return bind1(p, a, b, x)

    fn.__name__ = p.name
    fn.__doc__ = f"``scipy.special.{p.name}``, differentiable."
    return fn


betainc, betainc_da, betainc_db = map(_fn3, (betainc_p, betainc_da_p, betainc_db_p))
betainc_daa, betainc_dab, betainc_dbb = map(_fn3, (betainc_daa_p, betainc_dab_p, betainc_dbb_p))

# What the user-facing functions differentiate (the generic docstring says only "differentiable").
_DOCS = {
    gammainc: "Regularised lower incomplete gamma ``P(a, x)`` (``scipy.special.gammainc``).\n\n"
    "Differentiable in ``x`` to any order and in ``a`` twice (series and continued-fraction "
    "kernels of :mod:`kernels.special_incomplete`, ~1e-13 relative); a third derivative in "
    "``a`` raises ``NotImplementedError``.",
    gammaincc: "Regularised upper incomplete gamma ``Q(a, x) = 1 - P(a, x)``; derivatives as "
    ":func:`gammainc` (negated), computed without forming ``1 - P``.",
    betainc: "Regularised incomplete beta ``I_x(a, b)`` (``scipy.special.betainc``).\n\n"
    "Differentiable in ``x`` to any order and in ``a`` and ``b`` twice (the continued fraction "
    "differentiated, Boik & Robison-Cox 1998; ~1e-11 relative); a third derivative in ``a`` or "
    "``b`` raises ``NotImplementedError``.",
    iv: "Modified Bessel function ``I_v(x)`` of real order (``scipy.special.iv``).\n\n"
    "Differentiable in ``x`` (``(I_{v-1} + I_{v+1})/2``, any order); the derivative in the "
    "order ``v`` raises ``NotImplementedError``: pass ``v`` as data.",
    zeta: "Hurwitz zeta ``zeta(s, q) = sum_k (q + k)^-s`` (``scipy.special.zeta``; compiled by "
    ":func:`kernels.special.zeta`).\n\nDifferentiable in ``q`` (``-s zeta(s + 1, q)``, any "
    "order); the derivative in ``s`` raises ``NotImplementedError``.",
    log_ndtr: "``log Phi(x)`` (``scipy.special.log_ndtr``), differentiable to any order; the "
    "first two derivatives keep full relative accuracy deep in the left tail.",
}
for _fn, _doc in _DOCS.items():
    _fn.__doc__ = _doc


def polygamma(n: int, x):
    """``scipy.special.polygamma(n, x)`` for a static integer order ``n``; differentiable in x."""
    if int(n) != n or n < 0:
        raise ValueError(f"polygamma: the order n must be a non-negative integer, got {n}")
    if n == 0:
        return digamma(x)
    return bind1(polygamma_p, x, n=int(n))
