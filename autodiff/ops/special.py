"""Special functions as primitives, with their derivatives.

Each is one row (see :mod:`autodiff.ops.elementwise`): the NumPy implementation, the compiled
template calling the scalar kernel of :mod:`kernels.special`, and the partials.  The two compute
one algorithm: SciPy's for the functions :mod:`kernels.special` binds from SciPy (bit for bit),
and for ``expit``, ``log1pexp`` and ``log1mexp`` the kernel's formula, written vectorised here.
``polygamma``'s eager values come from SciPy and its compiled ones from
:mod:`kernels.special_polygamma` (SciPy exports no scalar polygamma to bind).

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
log_ndtr           φ(x)/Φ(x) = exp(-x²/2 - log Φ(x)) / √(2π)   (stable in both tails)
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

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


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
gammaln_p = def_elementwise("gammaln", sp.gammaln, "sp.gammaln({0})", (lambda ans, x: digamma(x),))
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
log_ndtr_p = def_elementwise(
    "log_ndtr",
    sp.log_ndtr,
    "sp.log_ndtr({0})",
    (lambda ans, x: exp(sub(sub(mul(-0.5, mul(x, x)), ans), _LOG_SQRT_2PI)),),
)
expit_p = def_elementwise("expit", _expit, "sp.expit({0})", (lambda ans, x: mul(ans, sub(1.0, ans)),))
logit_p = def_elementwise(
    "logit", sp.logit, "sp.logit({0})", (lambda ans, p: div(1.0, mul(p, sub(1.0, p))),)
)
log1pexp_p = def_elementwise("log1pexp", _log1pexp, "sp.log1pexp({0})", (lambda ans, x: expit(x),))
log1mexp_p = def_elementwise(
    "log1mexp", _log1mexp, "sp.log1mexp({0})", (lambda ans, x: div(1.0, expm1(x)),)
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


def polygamma(n: int, x):
    """``scipy.special.polygamma(n, x)`` for a static integer order ``n``; differentiable in x."""
    if int(n) != n or n < 0:
        raise ValueError(f"polygamma: the order n must be a non-negative integer, got {n}")
    if n == 0:
        return digamma(x)
    return bind1(polygamma_p, x, n=int(n))
