"""``scipy.special`` names, differentiable.

Derivatives (the rules are in :mod:`autodiff.ops.special`): every argument of every function here
is differentiable, except the order ``v`` of :func:`iv` and the exponent ``s`` of :func:`zeta`
(asking for those raises ``NotImplementedError``). The incomplete gamma and beta functions are
differentiable twice in their shape parameters (by the series and continued-fraction kernels of
:mod:`kernels.special_incomplete`), with every mixed derivative in ``x`` closed form; a third
derivative in a shape parameter raises ``NotImplementedError``.

>>> import numpy as np
>>> from autodiff.scipy.special import logsumexp
>>> float(logsumexp(np.log(np.array([1.0, 2.0, 3.0]))))  # log 6
1.791759469228055
>>> import autodiff
>>> from autodiff.scipy.special import gammainc
>>> round(float(autodiff.grad(gammainc, argnums=1)(2.0, 1.0)), 12)  # x e^-x / Gamma(2)
0.367879441171
"""

from __future__ import annotations

from autodiff.core import Tracer as _Tracer
from autodiff.core import get_aval
from autodiff.ops import elementwise as _e
from autodiff.ops import reductions as _r
from autodiff.ops import structural as _s
from autodiff.ops.special import (  # noqa: F401
    betainc,
    betaln,
    digamma,
    erf,
    erfc,
    erfcinv,
    erfcx,
    erfinv,
    expit,
    gammainc,
    gammaincc,
    gammaln,
    i0,
    i0e,
    i1,
    i1e,
    iv,
    log1mexp,
    log1pexp,
    log_ndtr,
    logit,
    ndtr,
    ndtri,
    polygamma,
    xlog1py,
    xlogy,
    zeta,
)

psi = digamma
softplus = log1pexp


def trigamma(x):
    """``polygamma(1, x)``."""
    return polygamma(1, x)


def logsumexp(a, axis=None, b=None, keepdims: bool = False):
    """``log(sum(b * exp(a)))`` over ``axis``, computed stably (max-shifted).

    The shift is a constant for differentiation, so the gradient is ``softmax(a)`` (times ``b``).
    """
    from autodiff.avals import normalize_axis

    axes = normalize_axis("logsumexp", axis, get_aval(a).ndim)
    m = _r.reduce_max(a, axes) if axes else a
    kept = tuple(1 if i in axes else d for i, d in enumerate(get_aval(a).shape))
    m = _e.stop_gradient(_e.select(_e.isfinite(m), m, 0.0))
    m_kept = _s.reshape(m, kept)
    terms = _e.exp(_e.sub(a, m_kept))
    if b is not None:
        terms = _e.mul(b, terms)
    out = _e.add(_e.log(_r.reduce_sum(terms, axes)), m)
    return _s.reshape(out, kept) if keepdims else out


def log_softmax(x, axis=-1):
    return _e.sub(x, logsumexp(x, axis=axis, keepdims=True))


def softmax(x, axis=-1):
    return _e.exp(log_softmax(x, axis))


def multigammaln(a, d: int):
    r"""Log of the multivariate gamma function, ``scipy.special.multigammaln(a, d)``.

    :math:`\log\Gamma_d(a) = \frac{d(d-1)}{4}\log\pi + \sum_{j=0}^{d-1}\log\Gamma(a - j/2)`
    for a static integer dimension ``d >= 1``; composed from :func:`gammaln`, so it is
    differentiable in ``a`` to any order. Defined for ``a > (d - 1)/2``; as with SciPy, a
    concrete ``a`` outside that range raises ``ValueError`` (a traced one gives ``nan``).

    >>> round(float(multigammaln(3.0, 2)), 12)  # log(pi^(1/2) Gamma(3) Gamma(5/2))
    1.550194993958
    """
    import numpy as np

    if int(d) != d or d < 1:
        raise ValueError(f"multigammaln: d must be a positive integer, got {d}")
    d = int(d)
    if not isinstance(a, _Tracer) and np.any(np.asarray(a) <= 0.5 * (d - 1)):
        raise ValueError("multigammaln: condition a > (d-1)/2 not met")
    out = _e.add(gammaln(a), 0.25 * d * (d - 1) * np.log(np.pi))
    for j in range(1, d):
        out = _e.add(out, gammaln(_e.sub(a, 0.5 * j)))
    return out


def gamma(x):
    return _e.exp(gammaln(x))


def beta(a, b):
    return _e.exp(betaln(a, b))
