r"""Continuous families on bounded intervals: Beta on :math:`[0, 1]`, Uniform on
:math:`[\text{low}, \text{high}]` and the circular VonMises on :math:`[-\pi, \pi)`.

References: Johnson, Kotz and Balakrishnan, *Continuous Univariate Distributions* (Wiley,
1994-95); Mardia and Jupp, *Directional Statistics* (Wiley, 2000) for the von Mises.
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import as_param
from ppl.distributions.univariate import (
    _bcast,
    _Univariate,
)

__all__ = [
    "Beta",
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
