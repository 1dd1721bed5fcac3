r"""Continuous families on the positive half-line: half-normal, half-Cauchy, half-Student-t,
log-normal, exponential, gamma, chi-squared, inverse gamma, Weibull and Pareto.

References: Johnson, Kotz and Balakrishnan, *Continuous Univariate Distributions* (Wiley,
1994-95).
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import as_param
from ppl.distributions.real_line import StudentT
from ppl.distributions.univariate import (
    _EULER_GAMMA,
    _HALF_LOG_2PI,
    _LOG_2,
    _bcast,
    _full,
    _Univariate,
)

__all__ = [
    "Chi2",
    "Exponential",
    "Gamma",
    "HalfCauchy",
    "HalfNormal",
    "HalfStudentT",
    "InverseGamma",
    "LogNormal",
    "Pareto",
    "Weibull",
]


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
