"""``scipy.special`` names, differentiable.

>>> import numpy as np
>>> from autodiff.scipy.special import logsumexp
>>> float(logsumexp(np.log(np.array([1.0, 2.0, 3.0]))))  # log 6
1.791759469228055
"""

from __future__ import annotations

from autodiff.core import get_aval
from autodiff.ops import elementwise as _e
from autodiff.ops import reductions as _r
from autodiff.ops import structural as _s
from autodiff.ops.special import (  # noqa: F401
    betaln,
    digamma,
    erf,
    erfc,
    erfcx,
    expit,
    gammaln,
    i0e,
    i1e,
    log1mexp,
    log1pexp,
    log_ndtr,
    logit,
    ndtr,
    ndtri,
    polygamma,
    xlog1py,
    xlogy,
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


def gamma(x):
    return _e.exp(gammaln(x))


def beta(a, b):
    return _e.exp(betaln(a, b))
