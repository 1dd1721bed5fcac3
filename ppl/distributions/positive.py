r"""Continuous families on the positive half-line: half-normal, half-Cauchy, half-Student-t,
log-normal, exponential, gamma, chi-squared, inverse gamma, Weibull, Levy, Wald (inverse
Gaussian) and Rice.  Pareto, Gompertz, Dagum and the power law are in
:mod:`ppl.distributions.lifetime`.

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
    "Levy",
    "LogNormal",
    "Rice",
    "Wald",
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

    def _cdf(self, value):
        """:math:`I_{z^2/(\\nu + z^2)}(1/2, \\nu/2)`, :math:`z = x/\\sigma` (``betainc``)."""
        z = anp.maximum(value, 0.0) / self.scale
        z2 = z * z
        return sp.betainc(0.5, 0.5 * self.df, z2 / (self.df + z2))

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

    def _log_sf(self, value):
        """:math:`\\log(1 - F(x)) = -\\lambda x`, exact in the upper tail."""
        return -self.rate * anp.maximum(value, 0.0)

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

    No ``rsample`` (NumPy's gamma sampler is not reparameterised).  ``cdf`` is the regularised
    incomplete gamma function :math:`P(\alpha, \beta x)`; the log survival uses
    :math:`Q = 1 - P` (``gammaincc``) so upper tails keep their precision in truncation and
    censoring.  No closed-form ``icdf``.
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

    def _cdf(self, value):
        return sp.gammainc(self.concentration, self.rate * anp.maximum(value, 0.0))

    def _log_cdf(self, value):
        return anp.log(self._cdf(value))

    def _log_sf(self, value):
        return anp.log(sp.gammaincc(self.concentration, self.rate * anp.maximum(value, 0.0)))

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

    def _cdf(self, value):
        """:math:`Q(\\alpha, \\beta/x)` (``gammaincc``)."""
        return sp.gammaincc(self.concentration, self.rate / anp.maximum(value, 1e-300))

    def _log_cdf(self, value):
        return anp.log(self._cdf(value))

    def _log_sf(self, value):
        return anp.log(sp.gammainc(self.concentration, self.rate / anp.maximum(value, 1e-300)))

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

    def _log_sf(self, value):
        """:math:`\\log(1 - F(x)) = -(x/\\lambda)^k`, exact in the upper tail."""
        return -anp.power(anp.maximum(value, 0.0) / self.scale, self.concentration)

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


class Levy(_Univariate):
    r"""Lévy distribution (the stable law with index 1/2, totally skewed), ``loc`` :math:`\mu`,
    ``scale`` :math:`c` (NumPyro; SciPy's ``levy``):

    .. math:: p(x) = \sqrt{\frac{c}{2\pi}}\,\frac{e^{-c/(2(x-\mu))}}{(x-\mu)^{3/2}},
        \qquad F(x) = 2 - 2\Phi\big(\sqrt{c/(x-\mu)}\big), \qquad x > \mu .

    Mean and variance are +inf; entropy :math:`(1 + 3\gamma + \log(16\pi c^2))/2`.  As in
    NumPyro it has no ``rsample`` (draws by the inverse cdf).

    Reference: Nolan, *Univariate Stable Distributions* (Springer, 2020), §1.3.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}

    def __init__(self, loc, scale, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale)

    @property
    def support(self):
        return constraints.greater_than(self.loc)

    def _sample(self, rng, shape):
        return np.asarray(self._icdf(rng.random(shape)))

    def _log_prob(self, value):
        y = value - self.loc
        return 0.5 * (anp.log(self.scale) - np.log(2.0 * np.pi) - self.scale / y) - 1.5 * anp.log(y)

    def _cdf(self, value):
        y = anp.maximum(value - self.loc, 0.0)
        # 2 (1 - Phi(s)) = erfc(s / sqrt2), accurate in the upper tail of s.
        return sp.erfc(anp.sqrt(self.scale / (2.0 * y)))

    def _icdf(self, q):
        z = sp.ndtri(1.0 - 0.5 * q)
        return self.loc + self.scale / (z * z)

    def _entropy(self):
        h = 0.5 * (1.0 + 3.0 * _EULER_GAMMA + np.log(16.0 * np.pi)) + anp.log(self.scale)
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        return _full(self.batch_shape, np.inf)

    @property
    def variance(self):
        return _full(self.batch_shape, np.inf)


class Wald(_Univariate):
    r"""Wald (inverse Gaussian) with mean ``mu`` :math:`\mu`, shape ``lam`` :math:`\lambda` and
    shift ``alpha`` (PyMC's ``Wald(mu, lam, phi, alpha)``; give ``lam`` or ``phi`` =
    :math:`\lambda/\mu`):

    .. math:: p(x) = \sqrt{\frac{\lambda}{2\pi y^3}}
        \exp\Big(-\frac{\lambda (y - \mu)^2}{2\mu^2 y}\Big), \qquad y = x - \alpha > 0 ,

    :math:`F(x) = \Phi(\sqrt{\lambda/y}(y/\mu - 1)) + e^{2\lambda/\mu}
    \Phi(-\sqrt{\lambda/y}(y/\mu + 1))` (the second term in log space).  SciPy's
    ``invgauss(mu/lam, loc=alpha, scale=lam)``.  Mean :math:`\mu + \alpha`, variance
    :math:`\mu^3/\lambda`.  Draws are NumPy's ``wald`` (no ``rsample``).

    Reference: Chhikara and Folks, *The Inverse Gaussian Distribution* (Dekker, 1989).
    """

    arg_constraints = {
        "mu": constraints.positive,
        "lam": constraints.positive,
        "phi": constraints.positive,
        "alpha": constraints.real,
    }

    def __init__(self, mu=None, lam=None, phi=None, alpha=0.0, *, validate_args=None):
        if mu is None or (lam is None) == (phi is None):
            raise ValueError(
                f"Wald: give mu= and exactly one of lam= or phi= (got mu={mu!r}, lam={lam!r}, "
                f"phi={phi!r})"
            )
        params = {"mu": mu, "alpha": alpha}
        if lam is not None:
            params["lam"] = lam
        else:
            params["phi"] = phi
        self._init_params(validate_args, **params)
        if lam is None:
            self.lam = self.phi * self.mu

    @property
    def support(self):
        return constraints.greater_than(self.alpha)

    def _sample(self, rng, shape):
        y = rng.wald(np.broadcast_to(self.mu, shape), np.broadcast_to(self.lam, shape))
        return y + np.asarray(self.alpha)

    def _log_prob(self, value):
        y = value - self.alpha
        mu, lam = self.mu, self.lam
        d = y - mu
        return (0.5 * (anp.log(lam) - np.log(2.0 * np.pi)) - 1.5 * anp.log(y)
                - lam * d * d / (2.0 * mu * mu * y))

    def _cdf(self, value):
        y = anp.maximum(value - self.alpha, 1e-300)
        mu, lam = self.mu, self.lam
        r = anp.sqrt(lam / y)
        return sp.ndtr(r * (y / mu - 1.0)) + anp.exp(2.0 * lam / mu + sp.log_ndtr(-r * (y / mu + 1.0)))

    @property
    def mean(self):
        return _bcast(self.mu + self.alpha, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.mu**3 / self.lam, self.batch_shape)


class Rice(_Univariate):
    r"""Rice distribution (PyMC's ``Rice(nu, sigma)``, or ``b`` = :math:`\nu/\sigma`): the length
    of a bivariate normal vector with mean of length :math:`\nu` and per-axis sd :math:`\sigma`:

    .. math:: p(x) = \frac{x}{\sigma^2} \exp\Big(-\frac{x^2 + \nu^2}{2\sigma^2}\Big)
        I_0\Big(\frac{x\nu}{\sigma^2}\Big), \qquad x > 0 ,

    with :math:`\log I_0(t) = \log \mathrm{i0e}(t) + t` (stable for large :math:`t`).  SciPy's
    ``rice(b=nu/sigma, scale=sigma)``.  Mean :math:`\sigma\sqrt{\pi/2}\,L_{1/2}(-\nu^2/2\sigma^2)`,
    variance :math:`2\sigma^2 + \nu^2 - \pi\sigma^2 L_{1/2}^2/2` (Laguerre function written
    with ``i0e``/``i1e``).  ``rsample`` is :math:`\sqrt{(\nu + \sigma N_1)^2 + (\sigma N_2)^2}`.

    Reference: S. O. Rice, "Mathematical analysis of random noise", *Bell System Tech. J.* 24
    (1945) 46-156.
    """

    arg_constraints = {"nu": constraints.nonnegative, "sigma": constraints.positive,
                       "b": constraints.nonnegative}
    support = constraints.positive
    reparametrized_params = ["nu", "sigma"]
    has_rsample = True

    def __init__(self, nu=None, sigma=None, b=None, *, validate_args=None):
        if sigma is None or (nu is None) == (b is None):
            raise ValueError(
                f"Rice: give sigma= and exactly one of nu= or b= (got nu={nu!r}, "
                f"sigma={sigma!r}, b={b!r})"
            )
        if nu is not None:
            self._init_params(validate_args, nu=nu, sigma=sigma)
        else:
            self._init_params(validate_args, b=b, sigma=sigma)
            self.nu = self.b * self.sigma

    def _rsample(self, rng, shape):
        n1, n2 = rng.standard_normal(shape), rng.standard_normal(shape)
        a = self.nu + self.sigma * n1
        c = self.sigma * n2
        return anp.sqrt(a * a + c * c)

    def _log_prob(self, value):
        s2 = self.sigma * self.sigma
        t = value * self.nu / s2
        return (anp.log(value) - anp.log(s2) - (value * value + self.nu * self.nu) / (2.0 * s2)
                + anp.log(sp.i0e(t)) + t)

    def _laguerre_half(self):
        x = -self.nu * self.nu / (2.0 * self.sigma * self.sigma)
        return (1.0 - x) * sp.i0e(-0.5 * x) - x * sp.i1e(-0.5 * x)

    @property
    def mean(self):
        m = self.sigma * np.sqrt(0.5 * np.pi) * self._laguerre_half()
        return _bcast(m, self.batch_shape)

    @property
    def variance(self):
        s2 = self.sigma * self.sigma
        lag = self._laguerre_half()
        return _bcast(2.0 * s2 + self.nu * self.nu - 0.5 * np.pi * s2 * lag * lag, self.batch_shape)
