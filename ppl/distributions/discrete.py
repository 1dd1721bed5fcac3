r"""Discrete distributions, with NumPyro's names and parameterisations.

Values may be integer arrays or float arrays holding integers (observed data).  Classes given
``probs=`` or ``logits=`` store the one given and compute the other lazily; densities in the
``logits`` parameterisation use ``log1pexp`` / ``log_softmax`` so they stay finite for large
logits.  Everything in ``_log_prob`` is written in :mod:`autodiff.numpy` operations (no Python
branching on values), so it differentiates in the parameters, vectorises and stages.

>>> from ppl.distributions import Bernoulli, Poisson
>>> round(float(Bernoulli(logits=0.0).log_prob(1.0)), 6)  # log(1/2)
-0.693147
>>> Poisson(3.0).sample(0, (4,)).shape
(4,)
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param, lazy_property, promote_batch_shape

__all__ = [
    "Bernoulli",
    "BetaBinomial",
    "BetaNegativeBinomial",
    "Binomial",
    "DiscreteUniform",
    "GammaPoisson",
    "Geometric",
    "NegativeBinomial",
    "NegativeBinomial2",
    "Poisson",
    "ZeroInflatedDistribution",
    "ZeroInflatedNegativeBinomial2",
    "ZeroInflatedPoisson",
]


def _one_of(name: str, probs: Any, logits: Any, probs_name="probs", logits_name="logits"):
    if (probs is None) == (logits is None):
        raise ValueError(
            f"{name}: give exactly one of {probs_name}= or {logits_name}= "
            f"(got {probs_name}={probs!r}, {logits_name}={logits!r})"
        )


def _lchoose(n, k):
    """:math:`\\log\\binom{n}{k}` through ``gammaln`` (n, k may be non-integers)."""
    return sp.gammaln(n + 1.0) - sp.gammaln(k + 1.0) - sp.gammaln(n - k + 1.0)


def _concrete_int(x, name: str, what: str) -> int:
    """One integer for a homogeneous concrete array (needed to enumerate a support)."""
    arr = np.asarray(x)
    if arr.size == 0 or not np.all(arr == arr.flat[0]):
        raise NotImplementedError(f"{name}.enumerate_support needs a single {what}, got {arr}")
    return int(arr.flat[0])


def _bcast(x, shape):
    return anp.broadcast_to(x, shape)


def _gate_probs_logits(self, name, gate, gate_logits):
    """Store ``gate`` or ``gate_logits`` (exactly one) and return it as an array."""
    _one_of(name, gate, gate_logits, "gate", "gate_logits")
    self._gate_logits_given = gate_logits is not None
    if gate is not None:
        self.gate = as_param(gate)
        return self.gate
    self.gate_logits = as_param(gate_logits)
    return self.gate_logits


class _ProbsLogits(Distribution):
    """Binary-probability parameterisations: ``probs`` in [0, 1] or ``logits`` on the real line."""

    def _store_probs_logits(self, probs, logits):
        _one_of(type(self).__name__, probs, logits)
        self._logits_given = logits is not None
        if probs is not None:
            self.probs = as_param(probs)
            return self.probs
        self.logits = as_param(logits)
        return self.logits

    @lazy_property
    def probs(self):
        return sp.expit(self.logits)

    @lazy_property
    def logits(self):
        return sp.logit(self.probs)

    def _log_p_and_log1m_p(self):
        """(log p, log(1 - p)) from whichever parameterisation was given."""
        if self._logits_given:
            return -sp.log1pexp(-self.logits), -sp.log1pexp(self.logits)
        return anp.log(self.probs), anp.log1p(-self.probs)


# ---- binary and counts with a probability parameter ---------------------------------------------


class Bernoulli(_ProbsLogits):
    r"""Bernoulli: :math:`P(1) = p`, :math:`P(0) = 1 - p`; ``probs`` :math:`= p` or
    ``logits`` :math:`= \log\frac{p}{1-p}`."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        param = self._store_probs_logits(probs, logits)
        super().__init__(anp.shape(param), (), validate_args)

    def _sample(self, rng, shape):
        return (rng.random(shape) < np.asarray(self.probs)).astype(np.int64)

    def _log_prob(self, value):
        if self._logits_given:
            # k l - log(1 + e^l): exact for any size of l.
            return value * self.logits - sp.log1pexp(self.logits)
        return sp.xlogy(value, self.probs) + sp.xlog1py(1.0 - value, -self.probs)

    def _entropy(self):
        if self._logits_given:
            return _bcast(sp.log1pexp(self.logits) - self.probs * self.logits, self.batch_shape)
        p = self.probs
        return _bcast(-sp.xlogy(p, p) - sp.xlog1py(1.0 - p, -p), self.batch_shape)

    def _enumerate_support(self):
        return np.arange(2.0).reshape((2,) + (1,) * len(self.batch_shape))

    @property
    def mean(self):
        return _bcast(self.probs, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.probs * (1.0 - self.probs), self.batch_shape)


class Binomial(_ProbsLogits):
    r"""Binomial: :math:`P(k) = \binom{n}{k} p^k (1-p)^{n-k}`, ``total_count`` :math:`= n`."""

    arg_constraints = {
        "total_count": constraints.nonnegative_integer,
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, *, validate_args=None):
        param = self._store_probs_logits(probs, logits)
        self.total_count = as_param(total_count)
        batch = promote_batch_shape(self.total_count, param)
        super().__init__(batch, (), validate_args)

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    def _sample(self, rng, shape):
        n = np.broadcast_to(np.asarray(self.total_count).astype(np.int64), shape)
        return rng.binomial(n, np.broadcast_to(self.probs, shape))

    def _log_prob(self, value):
        n = self.total_count
        if self._logits_given:
            tail = value * self.logits - n * sp.log1pexp(self.logits)
        else:
            tail = sp.xlogy(value, self.probs) + sp.xlog1py(n - value, -self.probs)
        return _lchoose(n, value) + tail

    def _cdf(self, value):
        r""":math:`P(X \le k) = I_{1-p}(n - k, k + 1)` for :math:`0 \le k < n` (``betainc``)."""
        n = self.total_count
        k = anp.floor(value)
        inner = anp.clip(k, 0.0, anp.maximum(n - 1.0, 0.0))
        mid = sp.betainc(anp.maximum(n - inner, 1e-300), inner + 1.0, 1.0 - self.probs)
        return anp.where(k < 0.0, 0.0, anp.where(k >= n, 1.0, mid))

    def _enumerate_support(self):
        n = _concrete_int(self.total_count, "Binomial", "total_count")
        return np.arange(n + 1.0).reshape((n + 1,) + (1,) * len(self.batch_shape))

    @property
    def mean(self):
        return _bcast(self.total_count * self.probs, self.batch_shape)

    @property
    def variance(self):
        p = self.probs
        return _bcast(self.total_count * p * (1.0 - p), self.batch_shape)


class Geometric(_ProbsLogits):
    r"""Geometric: failures before the first success, :math:`P(k) = p(1-p)^k`, :math:`k \ge 0`."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        param = self._store_probs_logits(probs, logits)
        super().__init__(anp.shape(param), (), validate_args)

    def _sample(self, rng, shape):
        return rng.geometric(np.broadcast_to(self.probs, shape)) - 1

    def _log_prob(self, value):
        log_p, log1m_p = self._log_p_and_log1m_p()
        if self._logits_given:
            return log_p + value * log1m_p
        return log_p + sp.xlog1py(value, -self.probs)

    def _entropy(self):
        log_p, log1m_p = self._log_p_and_log1m_p()
        p = self.probs
        return _bcast(-((1.0 - p) * log1m_p + p * log_p) / p, self.batch_shape)

    def _cdf(self, value):
        r""":math:`P(X \le k) = 1 - (1 - p)^{k+1}`."""
        _, log1m_p = self._log_p_and_log1m_p()
        k = anp.floor(value)
        return anp.where(k < 0.0, 0.0, -anp.expm1((anp.maximum(k, 0.0) + 1.0) * log1m_p))

    @property
    def mean(self):
        return _bcast((1.0 - self.probs) / self.probs, self.batch_shape)

    @property
    def variance(self):
        p = self.probs
        return _bcast((1.0 - p) / (p * p), self.batch_shape)


class NegativeBinomial(_ProbsLogits):
    r"""Negative binomial: successes before ``total_count`` :math:`= r` failures, success
    probability ``probs`` :math:`= p`: :math:`P(k) = \binom{k+r-1}{k} p^k (1-p)^r`.

    This is NumPyro's (and PyTorch's) convention, the mean is :math:`rp/(1-p)`; SciPy's
    ``nbinom(r, 1 - p)`` is the same law.
    """

    arg_constraints = {
        "total_count": constraints.positive,
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, *, validate_args=None):
        param = self._store_probs_logits(probs, logits)
        self.total_count = as_param(total_count)
        super().__init__(promote_batch_shape(self.total_count, param), (), validate_args)

    def _sample(self, rng, shape):
        r = np.broadcast_to(self.total_count, shape)
        # NumPy counts failures before r successes of probability q; here q = 1 - probs.
        return rng.negative_binomial(r, np.broadcast_to(1.0 - np.asarray(self.probs), shape))

    def _log_prob(self, value):
        r = self.total_count
        log_p, log1m_p = self._log_p_and_log1m_p()
        norm = sp.gammaln(value + r) - sp.gammaln(r) - sp.gammaln(value + 1.0)
        if self._logits_given:
            return norm + value * log_p + r * log1m_p
        return norm + sp.xlogy(value, self.probs) + r * log1m_p

    def _cdf(self, value):
        r""":math:`P(X \le k) = I_{1-p}(r, k + 1)` (``betainc``)."""
        k = anp.floor(value)
        cdf = sp.betainc(self.total_count, anp.maximum(k, 0.0) + 1.0, 1.0 - self.probs)
        return anp.where(k < 0.0, 0.0, cdf)

    @property
    def mean(self):
        p = self.probs
        return _bcast(self.total_count * p / (1.0 - p), self.batch_shape)

    @property
    def variance(self):
        p = self.probs
        return _bcast(self.total_count * p / ((1.0 - p) * (1.0 - p)), self.batch_shape)


# ---- Poisson family ----------------------------------------------------------------------------


class Poisson(Distribution):
    r"""Poisson: :math:`P(k) = \lambda^k e^{-\lambda} / k!`, ``rate`` :math:`= \lambda`."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative_integer

    def __init__(self, rate, *, validate_args=None):
        self.rate = as_param(rate)
        super().__init__(anp.shape(self.rate), (), validate_args)

    def _sample(self, rng, shape):
        return rng.poisson(np.broadcast_to(self.rate, shape))

    def _log_prob(self, value):
        return sp.xlogy(value, self.rate) - self.rate - sp.gammaln(value + 1.0)

    def _cdf(self, value):
        r""":math:`P(X \le k) = Q(k + 1, \lambda)` (``gammaincc``)."""
        k = anp.floor(value)
        return anp.where(k < 0.0, 0.0, sp.gammaincc(anp.maximum(k, 0.0) + 1.0, self.rate))

    def _log_sf(self, value):
        r""":math:`\log P(X > k) = \log P(k + 1, \lambda)`, accurate in the upper tail."""
        k = anp.floor(value)
        return anp.where(k < 0.0, 0.0, anp.log(sp.gammainc(anp.maximum(k, 0.0) + 1.0, self.rate)))

    @property
    def mean(self):
        return _bcast(self.rate, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self.rate, self.batch_shape)


class GammaPoisson(Distribution):
    r"""Gamma-Poisson mixture: :math:`k \sim \mathrm{Poisson}(\lambda)`,
    :math:`\lambda \sim \mathrm{Gamma}(\alpha, \beta)`:

    .. math:: P(k) = \frac{\Gamma(k+\alpha)}{\Gamma(\alpha)\,k!}
        \Big(\frac{\beta}{1+\beta}\Big)^\alpha \Big(\frac{1}{1+\beta}\Big)^k .
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative_integer

    def __init__(self, concentration, rate=1.0, *, validate_args=None):
        self.concentration = as_param(concentration)
        self.rate = as_param(rate)
        batch = promote_batch_shape(self.concentration, self.rate)
        super().__init__(batch, (), validate_args)

    def _sample(self, rng, shape):
        lam = rng.gamma(np.broadcast_to(self.concentration, shape)) / np.asarray(self.rate)
        return rng.poisson(lam)

    def _log_prob(self, value):
        a, b = self.concentration, self.rate
        norm = sp.gammaln(value + a) - sp.gammaln(a) - sp.gammaln(value + 1.0)
        return norm + a * anp.log(b) - (a + value) * anp.log1p(b)

    def _cdf(self, value):
        r""":math:`P(X \le k) = I_{\beta/(1+\beta)}(\alpha, k + 1)` (``betainc``)."""
        k = anp.floor(value)
        b = self.rate
        cdf = sp.betainc(self.concentration, anp.maximum(k, 0.0) + 1.0, b / (1.0 + b))
        return anp.where(k < 0.0, 0.0, cdf)

    @property
    def mean(self):
        return _bcast(self.concentration / self.rate, self.batch_shape)

    @property
    def variance(self):
        b = self.rate
        return _bcast(self.concentration * (1.0 + b) / (b * b), self.batch_shape)


class NegativeBinomial2(GammaPoisson):
    r"""Negative binomial by ``mean`` :math:`\mu` and ``concentration`` :math:`\phi`:
    ``GammaPoisson(phi, rate=phi / mu)``, variance :math:`\mu + \mu^2/\phi` (Stan's
    ``neg_binomial_2``; PyMC's ``NegativeBinomial(mu, alpha)``)."""

    arg_constraints = {"mean": constraints.positive, "concentration": constraints.positive}

    def __init__(self, mean, concentration, *, validate_args=None):
        self._mean = as_param(mean)
        concentration = as_param(concentration)
        super().__init__(concentration, concentration / self._mean, validate_args=validate_args)

    def _arg_values(self):
        return {"mean": self._mean, "concentration": self.concentration}

    def _log_prob(self, value):
        mu, phi = self._mean, self.concentration
        norm = sp.gammaln(value + phi) - sp.gammaln(phi) - sp.gammaln(value + 1.0)
        # phi log(phi / (phi + mu)) + k log(mu / (phi + mu)), without forming the ratios.
        log_total = anp.log(phi + mu)
        return norm - phi * anp.log1p(mu / phi) + sp.xlogy(value, mu) - value * log_total

    @property
    def mean(self):
        return _bcast(self._mean, self.batch_shape)

    @property
    def variance(self):
        mu = self._mean
        return _bcast(mu + mu * mu / self.concentration, self.batch_shape)


class BetaBinomial(Distribution):
    r"""Beta-binomial: :math:`P(k) = \binom{n}{k} \frac{B(k+\alpha, n-k+\beta)}{B(\alpha,\beta)}`
    with :math:`\alpha` = ``concentration1``, :math:`\beta` = ``concentration0``."""

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
        "total_count": constraints.nonnegative_integer,
    }
    has_enumerate_support = True

    def __init__(self, concentration1, concentration0, total_count=1, *, validate_args=None):
        self.concentration1 = as_param(concentration1)
        self.concentration0 = as_param(concentration0)
        self.total_count = as_param(total_count)
        batch = promote_batch_shape(self.concentration1, self.concentration0, self.total_count)
        super().__init__(batch, (), validate_args)

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    def _sample(self, rng, shape):
        p = rng.beta(np.broadcast_to(self.concentration1, shape),
                     np.broadcast_to(self.concentration0, shape))
        n = np.broadcast_to(np.asarray(self.total_count).astype(np.int64), shape)
        return rng.binomial(n, p)

    def _log_prob(self, value):
        a, b, n = self.concentration1, self.concentration0, self.total_count
        return _lchoose(n, value) + sp.betaln(value + a, n - value + b) - sp.betaln(a, b)

    def _enumerate_support(self):
        n = _concrete_int(self.total_count, "BetaBinomial", "total_count")
        return np.arange(n + 1.0).reshape((n + 1,) + (1,) * len(self.batch_shape))

    @property
    def mean(self):
        a, b = self.concentration1, self.concentration0
        return _bcast(self.total_count * a / (a + b), self.batch_shape)

    @property
    def variance(self):
        a, b, n = self.concentration1, self.concentration0, self.total_count
        t = a + b
        return _bcast(n * a * b * (t + n) / (t * t * (t + 1.0)), self.batch_shape)


class BetaNegativeBinomial(Distribution):
    r"""Beta-negative-binomial: :math:`p \sim \mathrm{Beta}(\alpha, \beta)`,
    :math:`X \mid p \sim` ``NegativeBinomial(n, probs=p)`` (NumPyro's parameter names
    ``concentration1`` :math:`= \alpha`, ``concentration0`` :math:`= \beta`, ``n``):

    .. math:: P(k) = \binom{n + k - 1}{k} \frac{B(\alpha + k, \beta + n)}{B(\alpha, \beta)} .

    Mean :math:`n\alpha/(\beta - 1)` for :math:`\beta > 1`, variance
    :math:`\frac{n\alpha(n + \beta - 1)(\alpha + \beta - 1)}{(\beta - 1)^2(\beta - 2)}` for
    :math:`\beta > 2` (+inf otherwise).  SciPy's ``betanbinom(n, beta, alpha)`` (roles of the
    two concentrations swapped).

    Reference: Johnson, Kemp and Kotz, *Univariate Discrete Distributions* (Wiley, 2005), §6.2.3.
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
        "n": constraints.positive,
    }
    support = constraints.nonnegative_integer

    def __init__(self, concentration1, concentration0, n, *, validate_args=None):
        self.concentration1 = as_param(concentration1)
        self.concentration0 = as_param(concentration0)
        self.n = as_param(n)
        batch = promote_batch_shape(self.concentration1, self.concentration0, self.n)
        super().__init__(batch, (), validate_args)

    def _sample(self, rng, shape):
        p = rng.beta(np.broadcast_to(self.concentration1, shape),
                     np.broadcast_to(self.concentration0, shape))
        # NumPy counts failures before n successes of probability q = 1 - p.
        return rng.negative_binomial(np.broadcast_to(self.n, shape), 1.0 - p)

    def _log_prob(self, value):
        a, b, n = self.concentration1, self.concentration0, self.n
        return (sp.gammaln(n + value) - sp.gammaln(n) - sp.gammaln(value + 1.0)
                + sp.betaln(a + value, b + n) - sp.betaln(a, b))

    @property
    def mean(self):
        a, b, n = self.concentration1, self.concentration0, self.n
        safe = anp.where(b > 1.0, b, 2.0)
        return _bcast(anp.where(b > 1.0, n * a / (safe - 1.0), np.inf), self.batch_shape)

    @property
    def variance(self):
        a, b, n = self.concentration1, self.concentration0, self.n
        safe = anp.where(b > 2.0, b, 3.0)
        var = n * a * (n + safe - 1.0) * (a + safe - 1.0) / ((safe - 1.0) ** 2 * (safe - 2.0))
        return _bcast(anp.where(b > 2.0, var, np.inf), self.batch_shape)


class DiscreteUniform(Distribution):
    r"""Uniform on the integers :math:`\{\text{low}, \dots, \text{high}\}` (both included)."""

    arg_constraints = {"low": constraints.real, "high": constraints.real}
    has_enumerate_support = True

    def __init__(self, low=0, high=1, *, validate_args=None):
        self.low, self.high = as_param(low), as_param(high)
        self.arg_constraints = {
            "low": constraints.real,
            "high": constraints.greater_than_eq(self.low),
        }
        super().__init__(promote_batch_shape(self.low, self.high), (), validate_args)

    @property
    def support(self):
        return constraints.integer_interval(self.low, self.high)

    def _sample(self, rng, shape):
        low = np.broadcast_to(self.low, shape).astype(np.int64)
        return rng.integers(low, np.broadcast_to(self.high, shape).astype(np.int64) + 1)

    def _log_prob(self, value):
        inside = anp.logical_and(
            anp.logical_and(value >= self.low, value <= self.high),
            anp.equal(value, anp.floor(value)),
        )
        return anp.where(inside, -anp.log(self.high - self.low + 1.0), -np.inf)

    def _entropy(self):
        return _bcast(anp.log(self.high - self.low + 1.0), self.batch_shape)

    def _enumerate_support(self):
        lo = _concrete_int(self.low, "DiscreteUniform", "low")
        hi = _concrete_int(self.high, "DiscreteUniform", "high")
        return np.arange(lo, hi + 1.0).reshape((hi - lo + 1,) + (1,) * len(self.batch_shape))

    @property
    def mean(self):
        return _bcast(0.5 * (self.low + self.high), self.batch_shape)

    @property
    def variance(self):
        w = self.high - self.low + 1.0
        return _bcast((w * w - 1.0) / 12.0, self.batch_shape)


# ---- zero inflation ----------------------------------------------------------------------------


class ZeroInflatedDistribution(Distribution):
    r"""``base_dist`` with extra zeros: :math:`P(0) = g + (1-g) P_b(0)`,
    :math:`P(k) = (1-g) P_b(k)` for :math:`k > 0`; ``gate`` :math:`= g` is the probability of a
    structural zero (PyMC's ``psi`` is :math:`1 - g`), or give ``gate_logits``."""

    arg_constraints = {"gate": constraints.unit_interval, "gate_logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, base_dist, *, gate=None, gate_logits=None, validate_args=None):
        if base_dist.event_shape:
            raise ValueError(
                f"ZeroInflatedDistribution: base_dist must be univariate, got event_shape "
                f"{base_dist.event_shape}"
            )
        param = _gate_probs_logits(self, type(self).__name__, gate, gate_logits)
        self.base_dist = base_dist
        batch = np.broadcast_shapes(anp.shape(param), base_dist.batch_shape)
        Distribution.__init__(self, batch, (), validate_args)

    @lazy_property
    def gate(self):
        return sp.expit(self.gate_logits)

    @lazy_property
    def gate_logits(self):
        return sp.logit(self.gate)

    def _sample(self, rng, shape):
        counts = self.base_dist.expand(self.batch_shape)._sample(rng, shape)
        zero = rng.random(shape) < np.asarray(self.gate)
        return np.where(zero, 0, counts)

    def _log_prob(self, value):
        if self._gate_logits_given:
            log_g, log1m_g = -sp.log1pexp(-self.gate_logits), -sp.log1pexp(self.gate_logits)
        else:
            log_g, log1m_g = anp.log(self.gate), anp.log1p(-self.gate)
        base_lp = self.base_dist.log_prob(value)
        at_zero = anp.logaddexp(log_g, log1m_g + base_lp)
        return anp.where(anp.equal(value, 0.0), at_zero, log1m_g + base_lp)

    @property
    def mean(self):
        return _bcast((1.0 - self.gate) * self.base_dist.mean, self.batch_shape)

    @property
    def variance(self):
        g, m = self.gate, self.base_dist.mean
        second = self.base_dist.variance + m * m
        return _bcast((1.0 - g) * second - ((1.0 - g) * m) ** 2, self.batch_shape)


class ZeroInflatedPoisson(ZeroInflatedDistribution):
    r"""Zero-inflated Poisson: ``ZeroInflatedDistribution(Poisson(rate), gate=gate)``.

    ``gate`` is the probability of an extra zero (NumPyro's meaning).
    """

    arg_constraints = {
        "gate": constraints.unit_interval,
        "gate_logits": constraints.real,
        "rate": constraints.positive,
    }

    def __init__(self, gate=None, rate=1.0, *, gate_logits=None, validate_args=None):
        self.rate = as_param(rate)
        super().__init__(Poisson(self.rate, validate_args=False), gate=gate,
                         gate_logits=gate_logits, validate_args=validate_args)


class ZeroInflatedNegativeBinomial2(ZeroInflatedDistribution):
    r"""Zero-inflated ``NegativeBinomial2(mean, concentration)`` with ``gate`` or
    ``gate_logits``."""

    arg_constraints = {
        "mean": constraints.positive,
        "concentration": constraints.positive,
        "gate": constraints.unit_interval,
        "gate_logits": constraints.real,
    }

    def __init__(self, mean, concentration, *, gate=None, gate_logits=None, validate_args=None):
        self._mean = as_param(mean)
        self.concentration = as_param(concentration)
        base = NegativeBinomial2(self._mean, self.concentration, validate_args=False)
        super().__init__(base, gate=gate, gate_logits=gate_logits, validate_args=validate_args)

    def _arg_values(self):
        values = super()._arg_values()
        values["mean"] = self._mean
        return values
