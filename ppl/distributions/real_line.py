r"""Continuous families on the whole real line: Normal, Cauchy, Laplace, Logistic, Gumbel,
StudentT and SkewNormal.

Each is a location-scale family with ``rsample``: ``loc + scale * eps`` with ``eps`` a standard
draw by NumPy, differentiable in the parameters.

References: Johnson, Kotz and Balakrishnan, *Continuous Univariate Distributions* (Wiley,
1994-95).
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.univariate import (
    _EULER_GAMMA,
    _HALF_LOG_2PI,
    _LOG_2,
    _bcast,
    _full,
    _Univariate,
)

__all__ = [
    "Cauchy",
    "Gumbel",
    "Laplace",
    "Logistic",
    "Normal",
    "SkewNormal",
    "StudentT",
]


class _LocScale(_Univariate):
    """A location-scale family on the real line: ``x = loc + scale * z`` with ``z`` drawn from
    the standard member (:meth:`_standard`); subclasses give the standard draw and the maths."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _standard(self, rng, shape):
        raise NotImplementedError

    def _rsample(self, rng, shape):
        return self.loc + self.scale * self._standard(rng, shape)


class Normal(_LocScale):
    r"""Normal distribution: :math:`p(x) = \frac{1}{\sigma\sqrt{2\pi}} e^{-(x-\mu)^2/(2\sigma^2)}`.

    Parameters: ``loc`` (:math:`\mu`), ``scale`` (:math:`\sigma > 0`).
    """

    def _standard(self, rng, shape):
        return rng.standard_normal(shape)

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - anp.log(self.scale) - _HALF_LOG_2PI

    def _cdf(self, value):
        return sp.ndtr((value - self.loc) / self.scale)

    def _icdf(self, q):
        return self.loc + self.scale * sp.ndtri(q)

    def _entropy(self):
        return _bcast(0.5 + _HALF_LOG_2PI + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.loc, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.scale * self.scale, self.batch_shape)


class Cauchy(_LocScale):
    r"""Cauchy distribution: :math:`p(x) = [\pi\sigma(1 + ((x-\mu)/\sigma)^2)]^{-1}`.

    Its mean and variance do not exist: ``mean`` is NaN and ``variance`` is +inf (as NumPyro).
    """

    def _standard(self, rng, shape):
        return rng.standard_cauchy(shape)

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -np.log(np.pi) - anp.log(self.scale) - anp.log1p(z * z)

    def _cdf(self, value):
        return 0.5 + anp.arctan((value - self.loc) / self.scale) / np.pi

    def _icdf(self, q):
        return self.loc + self.scale * anp.tan(np.pi * (q - 0.5))

    def _entropy(self):
        return _bcast(np.log(4.0 * np.pi) + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _full(self.batch_shape, np.nan)

    @property
    def variance(self):
        return _full(self.batch_shape, np.inf)


class Laplace(_LocScale):
    r"""Laplace (double exponential): :math:`p(x) = \frac{1}{2b} e^{-|x-\mu|/b}`."""

    def _standard(self, rng, shape):
        return rng.laplace(0.0, 1.0, shape)

    def _log_prob(self, value):
        return -_LOG_2 - anp.log(self.scale) - anp.abs(value - self.loc) / self.scale

    def _cdf(self, value):
        z = (value - self.loc) / self.scale
        return 0.5 - 0.5 * anp.sign(z) * anp.expm1(-anp.abs(z))

    def _icdf(self, q):
        d = q - 0.5
        return self.loc - self.scale * anp.sign(d) * anp.log1p(-2.0 * anp.abs(d))

    def _entropy(self):
        return _bcast(1.0 + _LOG_2 + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.loc, self.batch_shape)

    @property
    def variance(self):
        return _bcast(2.0 * self.scale * self.scale, self.batch_shape)


class Logistic(_LocScale):
    r"""Logistic: :math:`p(x) = \frac{e^{-z}}{s(1+e^{-z})^2}`, :math:`z = (x-\mu)/s`."""

    def _standard(self, rng, shape):
        return rng.logistic(0.0, 1.0, shape)

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        # -z - 2 log(1 + e^{-z}) written with softplus so neither tail overflows.
        return -z - 2.0 * sp.log1pexp(-z) - anp.log(self.scale)

    def _cdf(self, value):
        return sp.expit((value - self.loc) / self.scale)

    def _icdf(self, q):
        return self.loc + self.scale * sp.logit(q)

    def _entropy(self):
        return _bcast(2.0 + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.loc, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.scale * self.scale * np.pi**2 / 3.0, self.batch_shape)


class Gumbel(_LocScale):
    r"""Gumbel (type-I extreme value): :math:`p(x) = \frac{1}{\beta} e^{-(z + e^{-z})}`."""

    def _standard(self, rng, shape):
        return rng.gumbel(0.0, 1.0, shape)

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -(z + anp.exp(-z)) - anp.log(self.scale)

    def _cdf(self, value):
        return anp.exp(-anp.exp(-(value - self.loc) / self.scale))

    def _icdf(self, q):
        return self.loc - self.scale * anp.log(-anp.log(q))

    def _entropy(self):
        return _bcast(anp.log(self.scale) + _EULER_GAMMA + 1.0, self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.loc + self.scale * _EULER_GAMMA, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.scale * self.scale * np.pi**2 / 6.0, self.batch_shape)


class StudentT(_Univariate):
    r"""Student's t: :math:`p(x) = \frac{\Gamma(\frac{\nu+1}{2})}{\Gamma(\frac{\nu}{2})
    \sqrt{\nu\pi}\,\sigma} (1 + z^2/\nu)^{-(\nu+1)/2}`, :math:`z = (x-\mu)/\sigma`.

    ``mean`` is NaN for :math:`\nu \le 1`; ``variance`` is +inf for :math:`1 < \nu \le 2` and NaN
    for :math:`\nu \le 1`.  ``rsample`` is reparameterised in ``loc`` and ``scale`` only.
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, df=df, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        t = rng.standard_t(np.broadcast_to(np.asarray(self.df), shape))
        return self.loc + self.scale * t

    def _log_prob(self, value):
        df = self.df
        z = (value - self.loc) / self.scale
        norm = (
            sp.gammaln(0.5 * (df + 1.0)) - sp.gammaln(0.5 * df)
            - 0.5 * anp.log(df * np.pi) - anp.log(self.scale)
        )
        return norm - 0.5 * (df + 1.0) * anp.log1p(z * z / df)

    def _entropy(self):
        df = self.df
        h = (
            0.5 * (df + 1.0) * (sp.digamma(0.5 * (df + 1.0)) - sp.digamma(0.5 * df))
            + 0.5 * anp.log(df) + sp.betaln(0.5 * df, 0.5) + anp.log(self.scale)
        )
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        return _bcast(anp.where(self.df > 1.0, self.loc, np.nan), self.batch_shape)

    @property
    def variance(self):
        df = self.df
        safe = anp.where(df > 2.0, df, 3.0)
        var = self.scale * self.scale * safe / (safe - 2.0)
        var = anp.where(df > 2.0, var, anp.where(df > 1.0, np.inf, np.nan))
        return _bcast(var, self.batch_shape)


class SkewNormal(_Univariate):
    r"""Azzalini's skew-normal: :math:`p(x) = \frac{2}{\sigma}\phi(z)\Phi(\alpha z)`.

    ``alpha`` is the shape (skewness) parameter; ``alpha = 0`` is ``Normal(loc, scale)``.  NumPyro
    has no skew-normal; the parameter names follow its ``loc``/``scale`` convention and PyMC's
    ``alpha``.  Sampling uses the representation of Azzalini & Capitanio (1999, JRSS-B 61).
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "alpha": constraints.real,
    }
    support = constraints.real
    reparametrized_params = ["loc", "scale", "alpha"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, alpha=0.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale, alpha=alpha)

    def _delta(self):
        return self.alpha / anp.sqrt(1.0 + self.alpha * self.alpha)

    def _rsample(self, rng, shape):
        u0, v = rng.standard_normal(shape), rng.standard_normal(shape)
        delta = self._delta()
        u1 = delta * u0 + anp.sqrt(1.0 - delta * delta) * v
        return self.loc + self.scale * anp.where(u0 >= 0.0, u1, -u1)

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        return _LOG_2 - 0.5 * z * z - _HALF_LOG_2PI - anp.log(self.scale) + sp.log_ndtr(
            self.alpha * z
        )

    @property
    def mean(self):
        return _bcast(self.loc + self.scale * self._delta() * np.sqrt(2.0 / np.pi), self.batch_shape)

    @property
    def variance(self):
        d = self._delta()
        return _bcast(self.scale * self.scale * (1.0 - 2.0 * d * d / np.pi), self.batch_shape)
