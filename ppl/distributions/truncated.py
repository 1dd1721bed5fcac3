r"""The truncated normal, and the tail-accurate normal-cdf helpers it needs.

:func:`_log_diff_ndtr` computes :math:`\log(\Phi(v) - \Phi(u))` and :func:`_ndtri_exp` the
quantile :math:`\Phi^{-1}(e^y)`, both accurate far in the tails, so that
:class:`TruncatedNormal` keeps finite densities, cdfs and reparameterised samples for
intervals many standard deviations from the mean.
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import as_param
from ppl.distributions.univariate import (
    _HALF_LOG_2PI,
    _bcast,
    _Univariate,
)

__all__ = [
    "TruncatedNormal",
]


def _log_diff_ndtr(u, v):
    r""":math:`\log(\Phi(v) - \Phi(u))` for finite :math:`u \le v`, accurate in both tails.

    An interval above zero is reflected (:math:`\Phi(v) - \Phi(u) = \Phi(-u) - \Phi(-v)`) so
    that both ends sit in the lower tail, where ``log_ndtr`` keeps full relative precision.
    """
    flip = u > 0.0
    lo, hi = anp.where(flip, -v, u), anp.where(flip, -u, v)
    log_hi = sp.log_ndtr(hi)
    return log_hi + sp.log1mexp(log_hi - sp.log_ndtr(lo))


_LOG_TINY = -680.0  # exp(-680) ~ 5e-296 is still a normal double


def _ndtri_exp(y):
    r""":math:`\Phi^{-1}(e^y)` for :math:`y \le 0`, also where :math:`e^y` underflows.

    Above ``_LOG_TINY`` this is ``ndtri(exp(y))``; below, four Newton steps on
    :math:`\log\Phi(z) = y` from the asymptotic start
    :math:`z_0 = -\sqrt{-2y - \log(-2y) - \log 2\pi}` (:math:`\log\Phi(z) \approx
    -z^2/2 - \log(-z) - \tfrac12\log 2\pi`).  Both branches see clamped inputs, so the
    unselected one never produces infinities that would poison gradients.
    """
    direct = sp.ndtri(anp.exp(anp.maximum(y, _LOG_TINY)))
    t = anp.minimum(y, _LOG_TINY)
    z = -anp.sqrt(-2.0 * t - anp.log(-2.0 * t) - np.log(2.0 * np.pi))
    for _ in range(4):
        log_phi = sp.log_ndtr(z)
        # Newton: divide by d log Phi / dz = phi(z) / Phi(z).
        z = z - (log_phi - t) * anp.exp(log_phi + 0.5 * z * z + _HALF_LOG_2PI)
    return anp.where(y < _LOG_TINY, z, direct)


class TruncatedNormal(_Univariate):
    r"""Normal(loc, scale) truncated to :math:`[\text{low}, \text{high}]` (either may be None).

    .. math:: p(x) = \frac{\phi(z)}{\sigma Z}, \quad Z = \Phi(\beta) - \Phi(\alpha), \quad
        \alpha = \frac{\text{low}-\mu}{\sigma}, \ \beta = \frac{\text{high}-\mu}{\sigma}.

    :math:`\log Z` is computed from ``log_ndtr`` in whichever tail keeps it accurate (the interval
    is reflected when it lies above the mean), so densities stay finite far in the tails.
    Sampling is by the inverse cdf in the same reflected coordinates, and is differentiable in
    every parameter (``rsample``).
    """

    reparametrized_params = ["loc", "scale", "low", "high"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, low=None, high=None, validate_args=None):
        self.arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
        params = {"loc": loc, "scale": scale}
        if low is not None:
            params["low"] = low
            self.arg_constraints["low"] = constraints.real
        if high is not None:
            params["high"] = high
            self.arg_constraints["high"] = (
                constraints.real if low is None else constraints.greater_than(as_param(low))
            )
        self.low, self.high = None, None
        self._init_params(validate_args, **params)

    @property
    def support(self):
        if self.low is None and self.high is None:
            return constraints.real
        if self.high is None:
            return constraints.greater_than(self.low)
        if self.low is None:
            return constraints.less_than(self.high)
        return constraints.interval(self.low, self.high)

    def _standard_bounds(self):
        """(alpha, beta) with +-inf standing in for a missing bound."""
        a = -np.inf if self.low is None else (self.low - self.loc) / self.scale
        b = np.inf if self.high is None else (self.high - self.loc) / self.scale
        return a, b

    def _log_normaliser(self):
        if self.low is None and self.high is None:
            return 0.0
        if self.low is None:
            return sp.log_ndtr((self.high - self.loc) / self.scale)
        if self.high is None:
            return sp.log_ndtr(-(self.low - self.loc) / self.scale)
        return _log_diff_ndtr(*self._standard_bounds())

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        lp = -0.5 * z * z - _HALF_LOG_2PI - anp.log(self.scale) - self._log_normaliser()
        inside = np.True_
        if self.low is not None:
            inside = anp.logical_and(inside, value >= self.low)
        if self.high is not None:
            inside = anp.logical_and(inside, value <= self.high)
        return anp.where(inside, lp, -np.inf)

    def _quantile(self, q):
        a, b = self._standard_bounds()
        flip = (a > 0.0) if self.low is not None else np.False_
        lo, hi = anp.where(flip, -b, a), anp.where(flip, -a, b)
        # In reflected coordinates the quantile q of X is the quantile 1 - q.
        qq = anp.where(flip, 1.0 - q, q)
        # log(Phi(lo) + qq Z), in log space so that intervals far in the tail do not underflow.
        log_p = anp.logaddexp(sp.log_ndtr(lo), anp.log(qq) + _log_diff_ndtr(lo, hi))
        z = _ndtri_exp(log_p)
        x = self.loc + self.scale * anp.where(flip, -z, z)
        if self.low is not None:
            x = anp.maximum(x, self.low)
        if self.high is not None:
            x = anp.minimum(x, self.high)
        return x

    def _rsample(self, rng, shape):
        return self._quantile(rng.random(shape))

    def _icdf(self, q):
        return self._quantile(q)

    def _cdf(self, value):
        a, b = self._standard_bounds()
        z = (value - self.loc) / self.scale
        if self.low is None and self.high is None:
            return sp.ndtr(z)
        if self.low is None:
            return anp.exp(sp.log_ndtr(anp.minimum(z, b)) - sp.log_ndtr(b))
        if self.high is None:
            # 1 - Phi(-z) / Phi(-a): the survival ratio is accurate when a is in the upper tail.
            return -anp.expm1(sp.log_ndtr(-anp.maximum(z, a)) - sp.log_ndtr(-a))
        z = anp.clip(z, a, b)
        return anp.exp(_log_diff_ndtr(a, z) - self._log_normaliser())

    def _phi_terms(self):
        """(phi(a) - phi(b)) / Z and (a phi(a) - b phi(b)) / Z, with infinite bounds giving 0."""
        a, b = self._standard_bounds()
        log_z = self._log_normaliser()

        def term(t, missing):
            if missing:  # an infinite bound: the density and t * density vanish there
                return 0.0, 0.0
            pdf = anp.exp(-0.5 * t * t - _HALF_LOG_2PI - log_z)
            return pdf, t * pdf

        pa, apa = term(a, self.low is None)
        pb, bpb = term(b, self.high is None)
        return pa - pb, apa - bpb

    @property
    def mean(self):
        d1, _ = self._phi_terms()
        return _bcast(self.loc + self.scale * d1, self.batch_shape)

    @property
    def variance(self):
        d1, d2 = self._phi_terms()
        return _bcast(self.scale * self.scale * (1.0 + d2 - d1 * d1), self.batch_shape)

    def _entropy(self):
        _, d2 = self._phi_terms()
        h = 0.5 + _HALF_LOG_2PI + anp.log(self.scale) + self._log_normaliser() + 0.5 * d2
        return _bcast(h, self.batch_shape)
