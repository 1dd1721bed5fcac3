r"""Continuous families on the whole real line: Normal, Cauchy, Laplace, Logistic, Gumbel,
StudentT, SkewNormal, SoftLaplace, AsymmetricLaplace (and its quantile parameterisation),
Moyal and the exponentially modified Gaussian (ExGaussian).

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
    "AsymmetricLaplace",
    "AsymmetricLaplaceQuantile",
    "Cauchy",
    "ExGaussian",
    "Gumbel",
    "Laplace",
    "Logistic",
    "Moyal",
    "Normal",
    "SkewNormal",
    "SoftLaplace",
    "StudentT",
]


class _LocScale(_Univariate):
    """A location-scale family on the real line: ``x = loc + scale * z`` with ``z`` drawn from
    the standard member (:meth:`_standard`); subclasses give the standard draw and the maths."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True
    # Symmetric about ``loc``: truncation and censoring reflect upper tails into lower ones.
    _symmetric_about_loc = True

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

    def _log_cdf(self, value):
        r""":math:`\log\Phi(z)`, accurate far in the lower tail (used by truncation/censoring)."""
        return sp.log_ndtr((value - self.loc) / self.scale)

    def _log_sf(self, value):
        r""":math:`\log(1 - \Phi(z)) = \log\Phi(-z)`, accurate far in the upper tail."""
        return sp.log_ndtr(-(value - self.loc) / self.scale)

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

    _symmetric_about_loc = False

    def _standard(self, rng, shape):
        return rng.gumbel(0.0, 1.0, shape)

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -(z + anp.exp(-z)) - anp.log(self.scale)

    def _cdf(self, value):
        return anp.exp(-anp.exp(-(value - self.loc) / self.scale))

    def _log_cdf(self, value):
        """:math:`\\log F(x) = -e^{-z}`, exact in the lower tail."""
        return -anp.exp(-(value - self.loc) / self.scale)

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
    ``cdf``: :math:`\tfrac12 I_{\nu/(\nu+z^2)}(\nu/2, 1/2)` in the lower tail (``betainc``),
    reflected above ``loc``.
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    reparametrized_params = ["loc", "scale"]
    has_rsample = True

    _symmetric_about_loc = True

    def __init__(self, df, loc=0.0, scale=1.0, *, validate_args=None):
        self._init_params(validate_args, df=df, loc=loc, scale=scale)

    def _rsample(self, rng, shape):
        t = rng.standard_t(np.broadcast_to(np.asarray(self.df), shape))
        return self.loc + self.scale * t

    def _cdf(self, value):
        z = (value - self.loc) / self.scale
        tail = 0.5 * sp.betainc(0.5 * self.df, 0.5, self.df / (self.df + z * z))
        return anp.where(z > 0.0, 1.0 - tail, tail)

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


class SoftLaplace(_LocScale):
    r"""Smooth, log-concave density with Laplace-like (exponential) tails (NumPyro):

    .. math:: p(x) = \frac{2}{\pi\sigma}\,\frac{1}{e^{z} + e^{-z}}
        = \frac{1}{\pi\sigma}\operatorname{sech} z, \qquad z = (x - \mu)/\sigma .

    This is the hyperbolic secant law (SciPy's ``hypsecant``); unlike the Laplace density it
    is infinitely differentiable, which suits HMC.  :math:`F(x) = \frac{2}{\pi}\arctan e^{z}`,
    variance :math:`(\pi\sigma/2)^2`, entropy :math:`\log(2\pi\sigma)`.
    """

    def _standard(self, rng, shape):
        u = rng.random(shape)
        return np.log(np.tan(0.5 * np.pi * np.maximum(u, np.finfo(float).tiny)))

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        return np.log(2.0 / np.pi) - anp.log(self.scale) - anp.logaddexp(z, -z)

    def _cdf(self, value):
        return (2.0 / np.pi) * anp.arctan(anp.exp((value - self.loc) / self.scale))

    def _icdf(self, q):
        return self.loc + self.scale * anp.log(anp.tan(0.5 * np.pi * q))

    def _entropy(self):
        return _bcast(np.log(2.0 * np.pi) + anp.log(self.scale), self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.loc, self.batch_shape)

    @property
    def variance(self):
        return _bcast((0.5 * np.pi * self.scale) ** 2, self.batch_shape)


class AsymmetricLaplace(_Univariate):
    r"""Asymmetric Laplace with ``loc`` :math:`\mu`, ``scale`` :math:`\sigma` and ``asymmetry``
    :math:`\kappa` (NumPyro; SciPy's ``laplace_asymmetric(kappa, loc, scale)``):

    .. math:: p(x) = \frac{1}{\lambda_l + \lambda_r}
        \begin{cases} e^{(x-\mu)/\lambda_l} & x < \mu \\ e^{-(x-\mu)/\lambda_r} & x \ge \mu
        \end{cases}, \qquad \lambda_l = \sigma\kappa,\ \lambda_r = \sigma/\kappa .

    ``kappa = 1`` is ``Laplace(loc, scale)``.  Draws are
    :math:`\mu - \lambda_l E_1 + \lambda_r E_2` with standard exponentials (``rsample``).
    Entropy :math:`1 + \log(\lambda_l + \lambda_r)`.

    Reference: Kotz, Kozubowski and Podgórski, *The Laplace Distribution and
    Generalizations* (Birkhäuser, 2001), ch. 3.
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "asymmetry": constraints.positive,
    }
    support = constraints.real
    reparametrized_params = ["loc", "scale", "asymmetry"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, asymmetry=1.0, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale, asymmetry=asymmetry)

    @property
    def left_scale(self):
        return self.scale * self.asymmetry

    @property
    def right_scale(self):
        return self.scale / self.asymmetry

    def _rsample(self, rng, shape):
        u, v = rng.standard_exponential(shape), rng.standard_exponential(shape)
        return self.loc - self.left_scale * u + self.right_scale * v

    def _log_prob(self, value):
        z = value - self.loc
        side = anp.where(z < 0.0, self.left_scale, self.right_scale)
        return -anp.abs(z) / side - anp.log(self.left_scale + self.right_scale)

    def _cdf(self, value):
        z = value - self.loc
        k2 = self.asymmetry * self.asymmetry
        # Each branch sees a non-positive exponent, so the unselected one never overflows.
        right = 1.0 - anp.exp(-anp.maximum(z, 0.0) / self.right_scale) / (1.0 + k2)
        left = k2 / (1.0 + k2) * anp.exp(anp.minimum(z, 0.0) / self.left_scale)
        return anp.where(z >= 0.0, right, left)

    def _icdf(self, q):
        k2 = self.asymmetry * self.asymmetry
        p_left = k2 / (1.0 + k2)
        left = self.loc + self.left_scale * anp.log(anp.minimum(q, p_left) / p_left)
        right = self.loc - self.right_scale * anp.log((1.0 + k2) * (1.0 - anp.maximum(q, p_left)))
        return anp.where(q <= p_left, left, right)

    def _entropy(self):
        return _bcast(1.0 + anp.log(self.left_scale + self.right_scale), self.batch_shape)

    @property
    def mean(self):
        lft, rgt = self.left_scale, self.right_scale
        return _bcast(self.loc + (rgt * rgt - lft * lft) / (lft + rgt), self.batch_shape)

    @property
    def variance(self):
        lft, rgt = self.left_scale, self.right_scale
        total = lft + rgt
        p, q = lft / total, rgt / total
        return _bcast(p * lft * lft + q * rgt * rgt + p * q * total * total, self.batch_shape)


class AsymmetricLaplaceQuantile(_Univariate):
    r"""The asymmetric Laplace in the quantile-regression parameterisation (NumPyro): ``loc``
    :math:`\mu` is the ``quantile`` :math:`\tau` of the law, with density

    .. math:: p(x) = \frac{\tau(1-\tau)}{\sigma}
        \exp\Big(-\rho_\tau\Big(\frac{x-\mu}{\sigma}\Big)\Big), \qquad
        \rho_\tau(u) = u(\tau - 1[u < 0]),

    i.e. ``AsymmetricLaplace(loc, scale * kappa / tau, kappa)`` with
    :math:`\kappa = \sqrt{\tau/(1-\tau)}`.  ``quantile = 0.5`` is ``Laplace(loc, 2 * scale)``.

    Reference: Yu and Moyeed, "Bayesian quantile regression", *Statistics & Probability
    Letters* 54 (2001) 437-447.
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "quantile": constraints.open_interval(0.0, 1.0),
    }
    support = constraints.real
    reparametrized_params = ["loc", "scale", "quantile"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, quantile=0.5, *, validate_args=None):
        self._init_params(validate_args, loc=loc, scale=scale, quantile=quantile)
        kappa = anp.sqrt(self.quantile / (1.0 - self.quantile))
        self._ald = AsymmetricLaplace(self.loc, self.scale * kappa / self.quantile, kappa,
                                      validate_args=False)

    def _rsample(self, rng, shape):
        return self._ald._rsample(rng, shape)

    def _log_prob(self, value):
        return self._ald._log_prob(value)

    def _cdf(self, value):
        return self._ald._cdf(value)

    def _icdf(self, q):
        return self._ald._icdf(q)

    def _entropy(self):
        return _bcast(self._ald._entropy(), self.batch_shape)

    @property
    def mean(self):
        return _bcast(self._ald.mean, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self._ald.variance, self.batch_shape)


class Moyal(_LocScale):
    r"""Moyal distribution (PyMC's ``Moyal(mu, sigma)``, SciPy's ``moyal``), an approximation
    to the Landau energy-loss law:

    .. math:: p(x) = \frac{1}{\sigma\sqrt{2\pi}} \exp\Big(-\frac{z + e^{-z}}{2}\Big),
        \qquad z = (x - \mu)/\sigma .

    :math:`e^{-Z} \sim \chi^2_1`, so draws are :math:`\mu - 2\sigma\log|N|` (``rsample``).
    :math:`F(x) = \operatorname{erfc}(e^{-z/2}/\sqrt2)`, mean
    :math:`\mu + \sigma(\gamma + \log 2)`, variance :math:`\pi^2\sigma^2/2`, entropy
    :math:`\log\sigma + \tfrac12\log 2\pi + (1 + \gamma + \log 2)/2`.

    Reference: J. E. Moyal, "Theory of ionization fluctuations", *Phil. Mag.* 46 (1955) 263.
    Parameters are named ``loc``/``scale`` as NumPyro's location-scale families.
    """

    _symmetric_about_loc = False

    def _standard(self, rng, shape):
        return -2.0 * np.log(np.abs(rng.standard_normal(shape)))

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -0.5 * (z + anp.exp(-z)) - anp.log(self.scale) - _HALF_LOG_2PI

    def _cdf(self, value):
        z = (value - self.loc) / self.scale
        return sp.erfc(anp.exp(-0.5 * z) / np.sqrt(2.0))

    def _icdf(self, q):
        # erfc(y / sqrt2) = q  <=>  y = -ndtri(q / 2);  z = -2 log y.
        return self.loc - 2.0 * self.scale * anp.log(-sp.ndtri(0.5 * q))

    def _entropy(self):
        h = anp.log(self.scale) + _HALF_LOG_2PI + 0.5 * (1.0 + _EULER_GAMMA + _LOG_2)
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        return _bcast(self.loc + self.scale * (_EULER_GAMMA + _LOG_2), self.batch_shape)

    @property
    def variance(self):
        return _bcast(0.5 * np.pi**2 * self.scale * self.scale, self.batch_shape)


class ExGaussian(_Univariate):
    r"""Exponentially modified Gaussian (PyMC's ``ExGaussian(mu, sigma, nu)``): the sum of
    ``Normal(mu, sigma)`` and an independent exponential of mean ``nu``:

    .. math:: p(x) = \frac{1}{\nu} \exp\Big(\frac{\mu - x}{\nu} + \frac{\sigma^2}{2\nu^2}\Big)
        \Phi\Big(\frac{x - \mu}{\sigma} - \frac{\sigma}{\nu}\Big).

    SciPy's ``exponnorm(K=nu/sigma, loc=mu, scale=sigma)``.  Mean :math:`\mu + \nu`, variance
    :math:`\sigma^2 + \nu^2`; :math:`F(x) = \Phi(z) - \exp(\dots)\Phi(z - \sigma/\nu)` computed
    in log space; ``rsample`` is :math:`\mu + \sigma N + \nu E`.

    Reference: Grushka, "Characterization of exponentially modified Gaussian peaks in
    chromatography", *Analytical Chemistry* 44 (1972) 1733-1738.
    """

    arg_constraints = {
        "mu": constraints.real,
        "sigma": constraints.positive,
        "nu": constraints.positive,
    }
    support = constraints.real
    reparametrized_params = ["mu", "sigma", "nu"]
    has_rsample = True

    def __init__(self, mu=0.0, sigma=1.0, nu=1.0, *, validate_args=None):
        self._init_params(validate_args, mu=mu, sigma=sigma, nu=nu)

    def _rsample(self, rng, shape):
        return (self.mu + self.sigma * rng.standard_normal(shape)
                + self.nu * rng.standard_exponential(shape))

    def _log_exp_term(self, value):
        """:math:`(\\mu - x)/\\nu + \\sigma^2/(2\\nu^2) + \\log\\Phi(z - \\sigma/\\nu)`."""
        s, n = self.sigma, self.nu
        z = (value - self.mu) / s
        return (self.mu - value) / n + 0.5 * (s / n) ** 2 + sp.log_ndtr(z - s / n)

    def _log_prob(self, value):
        return self._log_exp_term(value) - anp.log(self.nu)

    def _cdf(self, value):
        z = (value - self.mu) / self.sigma
        log_phi = sp.log_ndtr(z)
        # Phi(z) (1 - exp(t - log Phi(z))); t < log Phi(z) always.
        return anp.exp(log_phi) * -anp.expm1(self._log_exp_term(value) - log_phi)

    @property
    def mean(self):
        return _bcast(self.mu + self.nu, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.sigma * self.sigma + self.nu * self.nu, self.batch_shape)
