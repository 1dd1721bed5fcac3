r"""Continuous families on bounded intervals: Beta (and its mean-precision form
BetaProportion), Kumaraswamy and the relaxed Bernoulli on :math:`[0, 1]`; Uniform, LogUniform,
Triangular and the doubly truncated power law on :math:`[\text{low}, \text{high}]`; the
circular VonMises on :math:`[-\pi, \pi)`.

References: Johnson, Kotz and Balakrishnan, *Continuous Univariate Distributions* (Wiley,
1994-95); Mardia and Jupp, *Directional Statistics* (Wiley, 2000) for the von Mises.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.univariate import (
    _EULER_GAMMA,
    _bcast,
    _Univariate,
)

_SMALL_T = 1e-5  # |beta log(b/a)| below which the power law uses its Taylor series

__all__ = [
    "Beta",
    "BetaProportion",
    "DoublyTruncatedPowerLaw",
    "Kumaraswamy",
    "LogUniform",
    "RelaxedBernoulli",
    "RelaxedBernoulliLogits",
    "Triangular",
    "Uniform",
    "VonMises",
]


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

    def _cdf(self, value):
        """:math:`I_x(\\alpha, \\beta)` (``betainc``)."""
        return sp.betainc(self.concentration1, self.concentration0, anp.clip(value, 0.0, 1.0))

    def _log_cdf(self, value):
        return anp.log(self._cdf(value))

    def _log_sf(self, value):
        x = anp.clip(value, 0.0, 1.0)
        return anp.log(sp.betainc(self.concentration0, self.concentration1, 1.0 - x))

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


class BetaProportion(Beta):
    r"""Beta by its ``mean`` :math:`\mu \in (0, 1)` and precision ``concentration``
    :math:`\phi` (NumPyro): ``Beta(mu * phi, (1 - mu) * phi)``,

    .. math:: p(x) = \frac{x^{\mu\phi - 1}(1 - x)^{(1-\mu)\phi - 1}}{B(\mu\phi, (1-\mu)\phi)},
        \qquad \operatorname{Var} X = \frac{\mu(1-\mu)}{1 + \phi} .

    Reference: Ferrari and Cribari-Neto, "Beta regression for modelling rates and
    proportions", *J. Applied Statistics* 31 (2004) 799-815.
    """

    arg_constraints = {
        "mean": constraints.open_interval(0.0, 1.0),
        "concentration": constraints.positive,
    }

    def __init__(self, mean, concentration, *, validate_args=None):
        self._mean = as_param(mean)
        self.concentration = as_param(concentration)
        super().__init__(self._mean * self.concentration, (1.0 - self._mean) * self.concentration,
                         validate_args=validate_args)

    def _arg_values(self):
        return {"mean": self._mean, "concentration": self.concentration}


class Kumaraswamy(_Univariate):
    r"""Kumaraswamy on :math:`(0, 1)` with ``concentration1`` :math:`a` and ``concentration0``
    :math:`b` (NumPyro):

    .. math:: p(x) = ab\,x^{a-1}(1 - x^a)^{b-1}, \qquad F(x) = 1 - (1 - x^a)^b .

    :math:`E X^k = b\,B(1 + k/a, b)`; entropy
    :math:`(1 - 1/b) + (1 - 1/a)H_b - \log(ab)` with the harmonic number
    :math:`H_b = \psi(b + 1) + \gamma`.  Draws by the inverse cdf (``rsample``).

    Reference: P. Kumaraswamy, "A generalized probability density function for double-bounded
    random processes", *J. Hydrology* 46 (1980) 79-88; M. C. Jones, *Statistical Methodology*
    6 (2009) 70-81.
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    reparametrized_params = ["concentration1", "concentration0"]
    has_rsample = True

    def __init__(self, concentration1, concentration0, *, validate_args=None):
        self._init_params(validate_args, concentration1=concentration1,
                          concentration0=concentration0)

    def _rsample(self, rng, shape):
        tiny, eps = np.finfo(float).tiny, np.finfo(float).eps
        x = self._icdf(np.maximum(rng.random(shape), tiny))
        return anp.clip(x, tiny, 1.0 - eps)

    def _log_prob(self, value):
        a, b = self.concentration1, self.concentration0
        xa = anp.minimum(anp.power(value, a), 1.0 - np.finfo(float).eps)
        return anp.log(a) + anp.log(b) + sp.xlogy(a - 1.0, value) + sp.xlog1py(b - 1.0, -xa)

    def _cdf(self, value):
        a, b = self.concentration1, self.concentration0
        xa = anp.power(anp.clip(value, 0.0, 1.0), a)
        return -anp.expm1(b * anp.log1p(-xa))

    def _icdf(self, q):
        a, b = self.concentration1, self.concentration0
        return anp.power(-anp.expm1(anp.log1p(-q) / b), 1.0 / a)

    def _entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic = sp.digamma(b + 1.0) + _EULER_GAMMA
        h = (1.0 - 1.0 / b) + (1.0 - 1.0 / a) * harmonic - anp.log(a * b)
        return _bcast(h, self.batch_shape)

    def _moment(self, k):
        a, b = self.concentration1, self.concentration0
        return b * anp.exp(sp.betaln(1.0 + k / a, b))

    @property
    def mean(self):
        return _bcast(self._moment(1.0), self.batch_shape)

    @property
    def variance(self):
        m = self._moment(1.0)
        return _bcast(self._moment(2.0) - m * m, self.batch_shape)


class LogUniform(_Univariate):
    r"""Log-uniform (reciprocal) on :math:`[a, b]`, :math:`0 < a < b` (NumPyro; SciPy's
    ``loguniform``): :math:`\log X \sim \mathrm{Uniform}(\log a, \log b)`,

    .. math:: p(x) = \frac{1}{x \log(b/a)}, \qquad F(x) = \frac{\log(x/a)}{\log(b/a)} .

    Mean :math:`(b - a)/\log(b/a)`, :math:`E X^2 = (b^2 - a^2)/(2\log(b/a))`, entropy
    :math:`(\log a + \log b)/2 + \log\log(b/a)`.  ``rsample`` by the inverse cdf.
    """

    arg_constraints = {"low": constraints.positive, "high": constraints.positive}
    reparametrized_params = ["low", "high"]
    has_rsample = True

    def __init__(self, low, high, *, validate_args=None):
        low = as_param(low)
        self.arg_constraints = {"low": constraints.positive,
                                "high": constraints.greater_than(low)}
        self._init_params(validate_args, low=low, high=high)

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    def _log_width(self):
        return anp.log(self.high) - anp.log(self.low)

    def _rsample(self, rng, shape):
        return self._icdf(rng.random(shape))

    def _log_prob(self, value):
        inside = anp.logical_and(value >= self.low, value <= self.high)
        return anp.where(inside, -anp.log(value) - anp.log(self._log_width()), -np.inf)

    def _cdf(self, value):
        x = anp.clip(value, self.low, self.high)
        return (anp.log(x) - anp.log(self.low)) / self._log_width()

    def _icdf(self, q):
        return self.low * anp.exp(q * self._log_width())

    def _entropy(self):
        h = 0.5 * (anp.log(self.low) + anp.log(self.high)) + anp.log(self._log_width())
        return _bcast(h, self.batch_shape)

    @property
    def mean(self):
        return _bcast((self.high - self.low) / self._log_width(), self.batch_shape)

    @property
    def variance(self):
        lw = self._log_width()
        m = (self.high - self.low) / lw
        return _bcast((self.high**2 - self.low**2) / (2.0 * lw) - m * m, self.batch_shape)


class DoublyTruncatedPowerLaw(_Univariate):
    r"""Power law :math:`x^\alpha` restricted to :math:`[a, b]` (``low`` :math:`a \ge 0`,
    ``high`` :math:`b > a`), any real ``alpha`` (NumPyro):

    .. math:: p(x) = \frac{x^\alpha}{Z}, \quad
        Z = \begin{cases} \log(b/a) & \alpha = -1 \\
        \dfrac{b^{1+\alpha} - a^{1+\alpha}}{1+\alpha} & \text{otherwise,} \end{cases}
        \quad F(x) = \frac{x^{1+\alpha} - a^{1+\alpha}}{b^{1+\alpha} - a^{1+\alpha}} .

    Both cases are one smooth formula, :math:`Z = -b^{\beta}\,\mathrm{expm1}(-\beta\Delta)/\beta`
    with :math:`\beta = 1 + \alpha`, :math:`\Delta = \log(b/a)`, replaced by its Taylor series
    in :math:`\beta\Delta` near :math:`\alpha = -1`; so the density, cdf, quantile and their
    gradients are continuous through :math:`\alpha = -1` (NumPyro writes custom derivative
    rules for this).  ``low = 0`` needs :math:`\alpha > -1`.  Moments
    :math:`E X^k = Z_{\beta+k}/Z_\beta`.  Draws by the inverse cdf (``rsample``).

    Reference: Clauset, Shalizi and Newman, *SIAM Review* 51 (2009) 661-703.
    """

    reparametrized_params = ["alpha", "low", "high"]
    has_rsample = True

    def __init__(self, alpha, low, high, *, validate_args=None):
        low = as_param(low)
        self.arg_constraints = {"alpha": constraints.real,
                                "low": constraints.greater_than_eq(0.0),
                                "high": constraints.greater_than(low)}
        self._init_params(validate_args, alpha=alpha, low=low, high=high)

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    def _z(self, beta, upper):
        r""":math:`\int_a^u x^{\beta - 1} dx`, smooth in :math:`\beta` through 0."""
        delta = anp.log(upper) - anp.log(self.low)  # +inf when low = 0
        t = beta * delta
        small = anp.abs(t) < _SMALL_T
        t_s = anp.where(small, t, 0.0)
        series = delta * (1.0 - 0.5 * t_s + t_s * t_s / 6.0 - t_s * t_s * t_s / 24.0)
        safe_b = anp.where(small, 1.0, beta)
        general = -anp.expm1(-anp.where(small, 1.0, t)) / safe_b
        return anp.power(upper, beta) * anp.where(small, series, general)

    def _rsample(self, rng, shape):
        return self._icdf(rng.random(shape))

    def _log_prob(self, value):
        inside = anp.logical_and(value >= self.low, value <= self.high)
        safe = anp.where(inside, value, self.high)
        lp = self.alpha * anp.log(safe) - anp.log(self._z(self.alpha + 1.0, self.high))
        return anp.where(inside, lp, -np.inf)

    def _cdf(self, value):
        x = anp.clip(value, self.low, self.high)
        beta = self.alpha + 1.0
        return anp.clip(self._z(beta, x) / self._z(beta, self.high), 0.0, 1.0)

    def _icdf(self, q):
        beta = self.alpha + 1.0
        zero_low = anp.equal(self.low, 0.0)
        low = anp.where(zero_low, 1.0, self.low)
        delta = anp.log(self.high) - anp.log(low)
        t = beta * delta
        small = anp.abs(t) < _SMALL_T
        t_s = anp.where(small, t, 0.0)
        # log1p(q expm1(t)) / beta = q Delta (1 + (1 - q) t / 2 + (1 - q)(1 - 2q) t^2 / 6 + ...)
        series = q * delta * (1.0 + 0.5 * (1.0 - q) * t_s
                              + (1.0 - q) * (1.0 - 2.0 * q) * t_s * t_s / 6.0)
        safe_b = anp.where(small, 1.0, beta)
        general = anp.log1p(q * anp.expm1(anp.where(small, 1.0, t))) / safe_b
        x = low * anp.exp(anp.where(small, series, general))
        # low = 0 (beta > 0): F(x) = (x / b)^beta.
        from_zero = self.high * anp.power(q, 1.0 / anp.where(zero_low, beta, 1.0))
        return anp.where(zero_low, from_zero, x)

    @property
    def mean(self):
        b = self.alpha + 1.0
        return _bcast(self._z(b + 1.0, self.high) / self._z(b, self.high), self.batch_shape)

    @property
    def variance(self):
        b = self.alpha + 1.0
        z0 = self._z(b, self.high)
        m = self._z(b + 1.0, self.high) / z0
        return _bcast(self._z(b + 2.0, self.high) / z0 - m * m, self.batch_shape)


class Triangular(_Univariate):
    r"""Triangular on :math:`[l, u]` with mode :math:`c` (PyMC's ``Triangular(lower, c,
    upper)``; SciPy's ``triang((c - l)/(u - l), loc=l, scale=u - l)``):

    .. math:: p(x) = \begin{cases} \dfrac{2(x - l)}{(u - l)(c - l)} & l \le x < c \\[4pt]
        \dfrac{2(u - x)}{(u - l)(u - c)} & c \le x \le u \end{cases}

    Mean :math:`(l + c + u)/3`, variance :math:`(l^2 + c^2 + u^2 - lc - lu - cu)/18`, entropy
    :math:`1/2 + \log((u - l)/2)`.  ``rsample`` by the inverse cdf.
    """

    reparametrized_params = ["lower", "c", "upper"]
    has_rsample = True

    def __init__(self, lower=0.0, c=0.5, upper=1.0, *, validate_args=None):
        lower, upper = as_param(lower), as_param(upper)
        self.arg_constraints = {"lower": constraints.real,
                                "c": constraints.interval(lower, upper),
                                "upper": constraints.greater_than(lower)}
        self._init_params(validate_args, lower=lower, c=c, upper=upper)

    @property
    def support(self):
        return constraints.interval(self.lower, self.upper)

    def _rsample(self, rng, shape):
        return self._icdf(rng.random(shape))

    def _log_prob(self, value):
        lo, c, up = self.lower, self.c, self.upper
        width = up - lo
        left = anp.log(2.0 * anp.maximum(value - lo, 0.0)) - anp.log(width * (c - lo))
        right = anp.log(2.0 * anp.maximum(up - value, 0.0)) - anp.log(width * (up - c))
        lp = anp.where(value < c, left, right)
        inside = anp.logical_and(value >= lo, value <= up)
        return anp.where(inside, lp, -np.inf)

    def _cdf(self, value):
        lo, c, up = self.lower, self.c, self.upper
        x = anp.clip(value, lo, up)
        width = up - lo
        left = (x - lo) ** 2 / (width * (c - lo))
        right = 1.0 - (up - x) ** 2 / (width * (up - c))
        return anp.where(x < c, left, right)

    def _icdf(self, q):
        lo, c, up = self.lower, self.c, self.upper
        width = up - lo
        fc = (c - lo) / width
        left = lo + anp.sqrt(anp.minimum(q, fc) * width * (c - lo))
        right = up - anp.sqrt((1.0 - anp.maximum(q, fc)) * width * (up - c))
        return anp.where(q < fc, left, right)

    def _entropy(self):
        return _bcast(0.5 + anp.log(0.5 * (self.upper - self.lower)), self.batch_shape)

    @property
    def mean(self):
        return _bcast((self.lower + self.c + self.upper) / 3.0, self.batch_shape)

    @property
    def variance(self):
        lo, c, up = self.lower, self.c, self.upper
        return _bcast((lo * lo + c * c + up * up - lo * c - lo * up - c * up) / 18.0,
                      self.batch_shape)


class RelaxedBernoulliLogits(_Univariate):
    r"""Relaxed (concrete) Bernoulli on :math:`(0, 1)` with ``temperature`` :math:`T` and
    ``logits`` :math:`l` (NumPyro): :math:`X = \sigma(Y)`,
    :math:`Y \sim \mathrm{Logistic}(l/T, 1/T)`, so

    .. math:: p(x) = \frac{T e^{l} x^{-T-1}(1-x)^{-T-1}}{(e^{l} x^{-T} + (1-x)^{-T})^2},
        \qquad F(x) = \sigma(T\,\mathrm{logit}(x) - l) .

    ``rsample`` is :math:`\sigma((l + L)/T)` with standard logistic noise :math:`L`.

    Reference: Maddison, Mnih and Teh, "The Concrete distribution", ICLR 2017; Jang, Gu and
    Poole, "Categorical reparameterization with Gumbel-softmax", ICLR 2017.
    """

    arg_constraints = {"temperature": constraints.positive, "logits": constraints.real}
    support = constraints.unit_interval
    reparametrized_params = ["temperature", "logits"]
    has_rsample = True

    def __init__(self, temperature, logits, *, validate_args=None):
        self._init_params(validate_args, temperature=temperature, logits=logits)

    @property
    def probs(self):
        return sp.expit(self.logits)

    def _rsample(self, rng, shape):
        tiny, eps = np.finfo(float).tiny, np.finfo(float).eps
        y = (self.logits + rng.logistic(0.0, 1.0, shape)) / self.temperature
        return anp.clip(sp.expit(y), tiny, 1.0 - eps)

    def _log_prob(self, value):
        t = self.temperature
        y = sp.logit(value)
        z = t * y - self.logits
        # log T + log logistic(z) - log(x (1 - x)), with log x = -log1pexp(-y) etc.
        return (anp.log(t) - z - 2.0 * sp.log1pexp(-z)
                + sp.log1pexp(-y) + sp.log1pexp(y))

    def _cdf(self, value):
        return sp.expit(self.temperature * sp.logit(value) - self.logits)

    def _icdf(self, q):
        return sp.expit((sp.logit(q) + self.logits) / self.temperature)


def RelaxedBernoulli(temperature: Any, probs: Any = None, logits: Any = None, *,  # noqa: N802
                     validate_args: bool | None = None) -> RelaxedBernoulliLogits:
    """``RelaxedBernoulliLogits(temperature, logits)`` from ``probs`` or ``logits`` (exactly
    one), as NumPyro's constructor."""
    if (probs is None) == (logits is None):
        raise ValueError(
            f"RelaxedBernoulli: give exactly one of probs= or logits= (got probs={probs!r}, "
            f"logits={logits!r})"
        )
    if probs is not None:
        logits = sp.logit(as_param(probs))
    return RelaxedBernoulliLogits(temperature, logits, validate_args=validate_args)


class TruncatedPolyaGamma(Distribution):
    r"""The Pólya-Gamma distribution :math:`PG(1, 0)` truncated to :math:`(0, 2.5]` (NumPyro's
    ``TruncatedPolyaGamma``, used for Pólya-Gamma data augmentation of logistic models;
    Polson, Scott and Windle 2013).

    The density is an alternating series in two forms (Devroye's representation of the Jacobi
    distribution, :math:`PG(1, 0) = J^*/4`), each summed where it converges fast:

    .. math::

        p(x) = \frac{1}{\sqrt{2\pi x^3}} \sum_{n \ge 0} (-1)^n (2n + 1)
        e^{-(2n+1)^2 / (8x)} \quad (x \le 0.16), \qquad
        p(x) = \sum_{n \ge 0} (-1)^n\, 2\pi (2n + 1)\, e^{-(2n+1)^2 \pi^2 x / 2}
        \quad (x > 0.16),

    7 terms each (NumPyro sums only the first form, whose 7 terms lose accuracy towards the
    truncation point: 28 % at :math:`x = 2.4`). Draws are the first 8 terms of
    :math:`\frac{1}{2\pi^2}\sum_{k\ge1} g_k / (k - 1/2)^2`, :math:`g_k \sim
    \text{Exponential}(1)` (NumPyro's sampler), clipped at the truncation point.
    """

    truncation_point = 2.5
    num_log_prob_terms = 7
    num_gamma_variates = 8
    arg_constraints: dict = {}
    support = constraints.interval(0.0, 2.5)

    def __init__(self, batch_shape=(), *, validate_args=None):
        super().__init__(tuple(batch_shape), (), validate_args)

    def _sample(self, rng, shape):
        k = np.arange(1, self.num_gamma_variates + 1)
        g = rng.standard_exponential(tuple(shape) + (self.num_gamma_variates,))
        draws = np.sum(g / (k - 0.5) ** 2, axis=-1) / (2.0 * np.pi**2)
        return np.minimum(draws, self.truncation_point)

    def _log_prob(self, value):
        n = np.arange(self.num_log_prob_terms)
        odd = 2.0 * n + 1.0
        small = value <= 0.16
        # each form evaluated only where it converges (elsewhere at a harmless point), so the
        # branch not taken cannot put a NaN into the gradient
        x_left = anp.expand_dims(anp.where(small, value, 0.1), -1)
        x_right = anp.expand_dims(anp.where(small, 1.0, value), -1)
        left = (np.log(odd) - 1.5 * anp.log(x_left) - 0.125 * odd**2 / x_left
                - 0.5 * np.log(2.0 * np.pi))
        right = np.log(2.0 * np.pi * odd) - 0.5 * np.pi**2 * odd**2 * x_right
        return anp.where(small, _alternating(left), _alternating(right))


def _alternating(log_terms):
    """``log(sum_n (-1)^n exp(log_terms[..., n]))`` for decreasing terms, without cancellation:
    ``p + log1p(-exp(m - p))`` with ``p``, ``m`` the log-sums of the even and the odd terms."""
    positive = sp.logsumexp(log_terms[..., 0::2], axis=-1)
    negative = sp.logsumexp(log_terms[..., 1::2], axis=-1)
    return positive + anp.log1p(-anp.exp(negative - positive))
