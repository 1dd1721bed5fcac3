r"""Univariate continuous distributions, with NumPyro's names and parameterisations.

Each class holds only its maths: ``_log_prob`` written in :mod:`autodiff.numpy` and
:mod:`autodiff.scipy.special` operations (so it differentiates, vectorises and stages), an exact
NumPy sampler, and closed-form moments, ``cdf``/``icdf`` and ``entropy`` where they exist.
Shapes and validation live in :class:`~ppl.distributions.base.Distribution`.

Location-scale families (and others with a natural reparameterisation) have ``rsample``:
``loc + scale * eps`` with ``eps`` drawn by NumPy, differentiable in the parameters.

>>> from ppl.distributions import Gamma
>>> d = Gamma(2.0, rate=4.0)
>>> float(d.mean), float(d.variance)
(0.5, 0.125)

References: N. L. Johnson, S. Kotz, N. Balakrishnan, *Continuous Univariate Distributions*,
vols. 1-2 (Wiley, 1994-95), for every density, moment and entropy below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param, promote_batch_shape

__all__ = [
    "Beta",
    "Cauchy",
    "Chi2",
    "Exponential",
    "Gamma",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "HalfStudentT",
    "InverseGamma",
    "Laplace",
    "LogNormal",
    "Logistic",
    "Normal",
    "Pareto",
    "SkewNormal",
    "StudentT",
    "TruncatedNormal",
    "Uniform",
    "VonMises",
    "Weibull",
]

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
_LOG_2 = np.log(2.0)
_EULER_GAMMA = 0.5772156649015329


def _full(shape, value):
    return np.full(shape, value, dtype=np.float64)


def _bcast(x, shape):
    return anp.broadcast_to(x, shape)


class _Univariate(Distribution):
    """Stores the named parameters as float arrays and sets ``batch_shape`` to their broadcast."""

    def _init_params(self, validate_args, **params: Any) -> None:
        for name, value in params.items():
            setattr(self, name, as_param(value))
        batch = promote_batch_shape(*(getattr(self, n) for n in params))
        Distribution.__init__(self, batch, (), validate_args)


# ---- location-scale families on the real line ------------------------------------------------


class Normal(_Univariate):
    r"""Normal distribution: :math:`p(x) = \frac{1}{\sigma\sqrt{2\pi}} e^{-(x-\mu)^2/(2\sigma^2)}`.

    Parameters: ``loc`` (:math:`\mu`), ``scale`` (:math:`\sigma > 0`).
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        return self.loc + self.scale * rng.standard_normal(shape)

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


class Cauchy(_Univariate):
    r"""Cauchy distribution: :math:`p(x) = [\pi\sigma(1 + ((x-\mu)/\sigma)^2)]^{-1}`.

    Its mean and variance do not exist: ``mean`` is NaN and ``variance`` is +inf (as NumPyro).
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        return self.loc + self.scale * rng.standard_cauchy(shape)

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


class Laplace(_Univariate):
    r"""Laplace (double exponential): :math:`p(x) = \frac{1}{2b} e^{-|x-\mu|/b}`."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        return self.loc + self.scale * rng.laplace(0.0, 1.0, shape)

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


class Logistic(_Univariate):
    r"""Logistic: :math:`p(x) = \frac{e^{-z}}{s(1+e^{-z})^2}`, :math:`z = (x-\mu)/s`."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        return self.loc + self.scale * rng.logistic(0.0, 1.0, shape)

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


class Gumbel(_Univariate):
    r"""Gumbel (type-I extreme value): :math:`p(x) = \frac{1}{\beta} e^{-(z + e^{-z})}`."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        return self.loc + self.scale * rng.gumbel(0.0, 1.0, shape)

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


# ---- on the positive half-line ---------------------------------------------------------------


class HalfNormal(_Univariate):
    r"""Half-normal: :math:`p(x) = \frac{\sqrt2}{\sigma\sqrt\pi} e^{-x^2/(2\sigma^2)}`, :math:`x>0`."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["scale"]
    has_rsample = True

    def __init__(self, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, scale=scale)

    def _rsample(self, rng, shape):
        return self.scale * np.abs(rng.standard_normal(shape))

    def _log_prob(self, value):
        z = value / self.scale
        return _LOG_2 - 0.5 * z * z - _HALF_LOG_2PI - anp.log(self.scale)

    def _cdf(self, value):
        return sp.erf(value / (np.sqrt(2.0) * self.scale))

    def _icdf(self, q):
        return self.scale * sp.ndtri(0.5 * (1.0 + q))

    def _entropy(self):
        return _bcast(0.5 * np.log(np.pi * np.e / 2.0) + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.scale * np.sqrt(2.0 / np.pi), self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.scale * self.scale * (1.0 - 2.0 / np.pi), self.batch_shape)


class HalfCauchy(_Univariate):
    r"""Half-Cauchy: :math:`p(x) = \frac{2}{\pi\sigma(1 + (x/\sigma)^2)}`, :math:`x > 0`.

    ``mean`` and ``variance`` are +inf (as NumPyro).
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["scale"]
    has_rsample = True

    def __init__(self, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, scale=scale)

    def _rsample(self, rng, shape):
        return self.scale * np.abs(rng.standard_cauchy(shape))

    def _log_prob(self, value):
        z = value / self.scale
        return _LOG_2 - np.log(np.pi) - anp.log(self.scale) - anp.log1p(z * z)

    def _cdf(self, value):
        return 2.0 / np.pi * anp.arctan(value / self.scale)

    def _icdf(self, q):
        return self.scale * anp.tan(0.5 * np.pi * q)

    def _entropy(self):
        return _bcast(np.log(2.0 * np.pi) + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _full(self.batch_shape, np.inf)

    @property
    def variance(self):
        return _full(self.batch_shape, np.inf)


class HalfStudentT(_Univariate):
    r"""Half Student's t: :math:`p(x) = 2\,\mathrm{StudentT}(x \mid \nu, 0, \sigma)`, :math:`x > 0`.

    Not in NumPyro; parameters follow PyMC's ``HalfStudentT(nu, sigma)`` as ``(df, scale)``.
    """

    arg_constraints = {"df": constraints.positive, "scale": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["scale"]
    has_rsample = True

    def __init__(self, df, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, df=df, scale=scale)

    def _rsample(self, rng, shape):
        return self.scale * np.abs(rng.standard_t(np.broadcast_to(np.asarray(self.df), shape)))

    def _log_prob(self, value):
        return _LOG_2 + StudentT(self.df, 0.0, self.scale, validate_args=False)._log_prob(value)

    @property
    def mean(self):
        df = self.df
        safe = anp.where(df > 1.0, df, 2.0)
        m = (
            2.0 * self.scale * anp.sqrt(safe / np.pi) / (safe - 1.0)
            * anp.exp(sp.gammaln(0.5 * (safe + 1.0)) - sp.gammaln(0.5 * safe))
        )
        return _bcast(anp.where(df > 1.0, m, np.inf), self.batch_shape)

    @property
    def variance(self):
        df = self.df
        full = StudentT(anp.where(df > 2.0, df, 3.0), 0.0, self.scale, validate_args=False).variance
        m = self.mean
        return _bcast(anp.where(df > 2.0, full - m * m, np.inf), self.batch_shape)


class LogNormal(_Univariate):
    r"""Log-normal: :math:`\log X \sim \mathrm{Normal}(\mu, \sigma)`,
    :math:`p(x) = \frac{1}{x\sigma\sqrt{2\pi}} e^{-(\log x-\mu)^2/(2\sigma^2)}`."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        return anp.exp(self.loc + self.scale * rng.standard_normal(shape))

    def _log_prob(self, value):
        log_x = anp.log(value)
        z = (log_x - self.loc) / self.scale
        return -0.5 * z * z - anp.log(self.scale) - _HALF_LOG_2PI - log_x

    def _cdf(self, value):
        return sp.ndtr((anp.log(value) - self.loc) / self.scale)

    def _icdf(self, q):
        return anp.exp(self.loc + self.scale * sp.ndtri(q))

    def _entropy(self):
        return _bcast(self.loc + 0.5 + _HALF_LOG_2PI + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _bcast(anp.exp(self.loc + 0.5 * self.scale * self.scale), self.batch_shape)

    @property
    def variance(self):
        s2 = self.scale * self.scale
        return _bcast(anp.expm1(s2) * anp.exp(2.0 * self.loc + s2), self.batch_shape)


class Exponential(_Univariate):
    r"""Exponential: :math:`p(x) = \lambda e^{-\lambda x}`, :math:`x > 0`."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["rate"]
    has_rsample = True

    def __init__(self, rate=1.0, *, validate_args=None):
        self._init_params(validate_args, rate=rate)

    def _rsample(self, rng, shape):
        return rng.standard_exponential(shape) / self.rate

    def _log_prob(self, value):
        return anp.log(self.rate) - self.rate * value

    def _cdf(self, value):
        return -anp.expm1(-self.rate * value)

    def _icdf(self, q):
        return -anp.log1p(-q) / self.rate

    def _entropy(self):
        return _bcast(1.0 - anp.log(self.rate), self.batch_shape)

    @property
    def mean(self):
        return _bcast(1.0 / self.rate, self.batch_shape)

    @property
    def variance(self):
        return _bcast(1.0 / (self.rate * self.rate), self.batch_shape)


class Gamma(_Univariate):
    r"""Gamma with shape :math:`\alpha` (``concentration``) and ``rate`` :math:`\beta`:
    :math:`p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{\alpha-1} e^{-\beta x}`.

    No ``rsample`` (NumPy's gamma sampler is not reparameterised); ``cdf`` needs the regularised
    incomplete gamma function, which autodiff does not provide.
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    reparametrized_params: list[str] = []

    def __init__(self, concentration, rate=1.0, *, validate_args=None):
        self._init_params(validate_args, concentration=concentration, rate=rate)

    def _sample(self, rng, shape):
        return rng.gamma(np.broadcast_to(self.concentration, shape)) / self.rate

    def _log_prob(self, value):
        a, b = self.concentration, self.rate
        return sp.xlogy(a, b) + sp.xlogy(a - 1.0, value) - b * value - sp.gammaln(a)

    def _entropy(self):
        a = self.concentration
        h = a - anp.log(self.rate) + sp.gammaln(a) + (1.0 - a) * sp.digamma(a)
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.concentration / self.rate, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.concentration / (self.rate * self.rate), self.batch_shape)


class Chi2(Gamma):
    r"""Chi-squared with ``df`` degrees of freedom: ``Gamma(df / 2, rate=1 / 2)``."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, *, validate_args=None):
        self.df = as_param(df)
        super().__init__(0.5 * self.df, 0.5, validate_args=validate_args)


class InverseGamma(_Univariate):
    r"""Inverse gamma: :math:`1/X \sim \mathrm{Gamma}(\alpha, \beta)`,
    :math:`p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{-\alpha-1} e^{-\beta/x}`.

    ``mean`` is +inf for :math:`\alpha \le 1`; ``variance`` is +inf for :math:`\alpha \le 2`.
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    reparametrized_params: list[str] = []

    def __init__(self, concentration, rate=1.0, *, validate_args=None):
        self._init_params(validate_args, concentration=concentration, rate=rate)

    def _sample(self, rng, shape):
        return self.rate / rng.gamma(np.broadcast_to(self.concentration, shape))

    def _log_prob(self, value):
        a, b = self.concentration, self.rate
        return sp.xlogy(a, b) - (a + 1.0) * anp.log(value) - b / value - sp.gammaln(a)

    def _entropy(self):
        a = self.concentration
        h = a + anp.log(self.rate) + sp.gammaln(a) - (1.0 + a) * sp.digamma(a)
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        a = self.concentration
        safe = anp.where(a > 1.0, a, 2.0)
        return _bcast(anp.where(a > 1.0, self.rate / (safe - 1.0), np.inf), self.batch_shape)

    @property
    def variance(self):
        a = self.concentration
        safe = anp.where(a > 2.0, a, 3.0)
        var = self.rate * self.rate / ((safe - 1.0) ** 2 * (safe - 2.0))
        return _bcast(anp.where(a > 2.0, var, np.inf), self.batch_shape)


class Weibull(_Univariate):
    r"""Weibull with ``scale`` :math:`\lambda` and ``concentration`` (shape) :math:`k` -- note the
    order, as NumPyro: :math:`p(x) = \frac{k}{\lambda}(x/\lambda)^{k-1} e^{-(x/\lambda)^k}`."""

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["scale", "concentration"]
    has_rsample = True

    def __init__(self, scale, concentration, *, validate_args=None):
        self._init_params(validate_args, scale=scale, concentration=concentration)

    def _rsample(self, rng, shape):
        e = rng.standard_exponential(shape)
        return self.scale * anp.power(e, 1.0 / self.concentration)

    def _log_prob(self, value):
        k = self.concentration
        log_z = anp.log(value / self.scale)
        return anp.log(k) - anp.log(self.scale) + (k - 1.0) * log_z - anp.exp(k * log_z)

    def _cdf(self, value):
        return -anp.expm1(-anp.power(value / self.scale, self.concentration))

    def _icdf(self, q):
        return self.scale * anp.power(-anp.log1p(-q), 1.0 / self.concentration)

    def _entropy(self):
        k = self.concentration
        h = _EULER_GAMMA * (1.0 - 1.0 / k) + anp.log(self.scale / k) + 1.0
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.scale * sp.gamma(1.0 + 1.0 / self.concentration), self.batch_shape)

    @property
    def variance(self):
        k = self.concentration
        g1, g2 = sp.gamma(1.0 + 1.0 / k), sp.gamma(1.0 + 2.0 / k)
        return _bcast(self.scale * self.scale * (g2 - g1 * g1), self.batch_shape)


class Pareto(_Univariate):
    r"""Pareto (type I) with ``scale`` :math:`x_m` and shape ``alpha``:
    :math:`p(x) = \alpha x_m^\alpha / x^{\alpha+1}`, :math:`x \ge x_m`."""

    arg_constraints = {"scale": constraints.positive, "alpha": constraints.positive}
    reparametrized_params = ["scale", "alpha"]
    has_rsample = True

    def __init__(self, scale, alpha, *, validate_args=None):
        self._init_params(validate_args, scale=scale, alpha=alpha)

    @property
    def support(self):
        return constraints.greater_than(self.scale)

    def _rsample(self, rng, shape):
        return self.scale * anp.exp(rng.standard_exponential(shape) / self.alpha)

    def _log_prob(self, value):
        a = self.alpha
        lp = anp.log(a) + a * anp.log(self.scale) - (a + 1.0) * anp.log(value)
        return anp.where(value >= self.scale, lp, -np.inf)

    def _cdf(self, value):
        cdf = -anp.expm1(self.alpha * anp.log(self.scale / value))
        return anp.where(value >= self.scale, cdf, 0.0)

    def _icdf(self, q):
        return self.scale * anp.exp(-anp.log1p(-q) / self.alpha)

    def _entropy(self):
        a = self.alpha
        return _bcast(anp.log(self.scale / a) + 1.0 / a + 1.0, self.batch_shape)

    @property
    def mean(self):
        a = self.alpha
        safe = anp.where(a > 1.0, a, 2.0)
        return _bcast(anp.where(a > 1.0, safe * self.scale / (safe - 1.0), np.inf), self.batch_shape)

    @property
    def variance(self):
        a = self.alpha
        safe = anp.where(a > 2.0, a, 3.0)
        var = self.scale * self.scale * safe / ((safe - 1.0) ** 2 * (safe - 2.0))
        return _bcast(anp.where(a > 2.0, var, np.inf), self.batch_shape)


# ---- on bounded intervals --------------------------------------------------------------------


class Beta(_Univariate):
    r"""Beta: :math:`p(x) = \frac{x^{\alpha-1}(1-x)^{\beta-1}}{B(\alpha, \beta)}` with
    :math:`\alpha` = ``concentration1``, :math:`\beta` = ``concentration0``."""

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    reparametrized_params: list[str] = []

    def __init__(self, concentration1, concentration0, *, validate_args=None):
        self._init_params(
            validate_args, concentration1=concentration1, concentration0=concentration0
        )

    def _sample(self, rng, shape):
        a = np.broadcast_to(self.concentration1, shape)
        return rng.beta(a, np.broadcast_to(self.concentration0, shape))

    def _log_prob(self, value):
        a, b = self.concentration1, self.concentration0
        return sp.xlogy(a - 1.0, value) + sp.xlog1py(b - 1.0, -value) - sp.betaln(a, b)

    def _entropy(self):
        a, b = self.concentration1, self.concentration0
        h = (
            sp.betaln(a, b) - (a - 1.0) * sp.digamma(a) - (b - 1.0) * sp.digamma(b)
            + (a + b - 2.0) * sp.digamma(a + b)
        )
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        a, b = self.concentration1, self.concentration0
        return _bcast(a / (a + b), self.batch_shape)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        t = a + b
        return _bcast(a * b / (t * t * (t + 1.0)), self.batch_shape)


class Uniform(_Univariate):
    r"""Uniform on :math:`[\text{low}, \text{high}]`: :math:`p(x) = 1/(\text{high} - \text{low})`.

    The support ``interval(low, high)`` depends on the parameters; validation checks
    ``high > low``.  ``log_prob`` is -inf outside the support.
    """

    arg_constraints = {"low": constraints.real, "high": constraints.real}
    reparametrized_params = ["low", "high"]
    has_rsample = True

    def __init__(self, low=0.0, high=1.0, *, validate_args=None):
        low = as_param(low)
        # Instance-level constraint: `high` must exceed this distribution's own `low`.
        self.arg_constraints = {"low": constraints.real, "high": constraints.greater_than(low)}
        self._init_params(validate_args, low=low, high=high)

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    def _rsample(self, rng, shape):
        return self.low + (self.high - self.low) * rng.random(shape)

    def _log_prob(self, value):
        inside = anp.logical_and(value >= self.low, value <= self.high)
        return anp.where(inside, -anp.log(self.high - self.low), -np.inf)

    def _cdf(self, value):
        return anp.clip((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def _icdf(self, q):
        return self.low + q * (self.high - self.low)

    def _entropy(self):
        return _bcast(anp.log(self.high - self.low), self.batch_shape)

    @property
    def mean(self):
        return _bcast(0.5 * (self.low + self.high), self.batch_shape)

    @property
    def variance(self):
        w = self.high - self.low
        return _bcast(w * w / 12.0, self.batch_shape)


class VonMises(_Univariate):
    r"""Von Mises (circular normal) on :math:`[-\pi, \pi)`:
    :math:`p(x) = \frac{e^{\kappa\cos(x-\mu)}}{2\pi I_0(\kappa)}`.

    :math:`\log I_0(\kappa) = \log(\mathrm{i0e}(\kappa)) + \kappa`, stable for large
    :math:`\kappa`.  ``variance`` is the circular variance :math:`1 - I_1(\kappa)/I_0(\kappa)`,
    as NumPyro (not the linear variance).
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.circular
    reparametrized_params: list[str] = []

    def __init__(self, loc, concentration, *, validate_args=None):
        self._init_params(validate_args, loc=loc, concentration=concentration)

    def _sample(self, rng, shape):
        mu = np.broadcast_to(self.loc, shape)
        # NumPy's Best-Fisher sampler; wrap into [-pi, pi) as the support states.
        x = rng.vonmises(mu, np.broadcast_to(self.concentration, shape))
        return np.mod(x + np.pi, 2.0 * np.pi) - np.pi

    def _log_prob(self, value):
        k = self.concentration
        return k * (anp.cos(value - self.loc) - 1.0) - np.log(2.0 * np.pi) - anp.log(sp.i0e(k))

    def _entropy(self):
        k = self.concentration
        ratio = sp.i1e(k) / sp.i0e(k)
        return _bcast(np.log(2.0 * np.pi) + anp.log(sp.i0e(k)) + k - k * ratio, self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.loc, self.batch_shape)

    @property
    def variance(self):
        k = self.concentration
        return _bcast(1.0 - sp.i1e(k) / sp.i0e(k), self.batch_shape)


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
