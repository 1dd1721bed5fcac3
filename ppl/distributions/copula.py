r"""Gaussian copulas: univariate marginals coupled through a latent Gaussian correlation.

With marginal cdfs :math:`F_i`, densities :math:`f_i`, and :math:`q_i = \Phi^{-1}(F_i(x_i))`,
the Gaussian copula with correlation matrix :math:`R = LL^T` has density

.. math::
    \log p(x) = \log\mathcal{N}(q \mid 0, R) + \tfrac12\|q\|^2 + \tfrac d2\log 2\pi
    + \sum_i \log f_i(x_i)
    = -\tfrac12\|L^{-1}q\|^2 + \tfrac12\|q\|^2 - \sum_i\log L_{ii} + \sum_i \log f_i(x_i),

the change of variables :math:`x \mapsto q` applied to :math:`q \sim \mathcal{N}(0, R)`
(Song 2000, eq. 2.2).  A draw is :math:`x_i = F_i^{-1}(\Phi(q_i))`.

References: Song (2000), "Multivariate dispersion models generated from Gaussian copula",
Scand. J. Statistics 27; Nelsen (2006), *An Introduction to Copulas*, 2nd ed.; NumPyro 0.22
``GaussianCopula`` and ``GaussianCopulaBeta``.
"""

from __future__ import annotations

import numpy as np
import scipy.special as ss

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.bounded import Beta
from ppl.distributions.multivariate import MultivariateNormal

__all__ = ["GaussianCopula", "GaussianCopulaBeta"]

# Probabilities are clamped into [eps, 1 - eps] before the normal quantile (NumPyro's
# clamp_probs), so a cdf of exactly 0 or 1 gives a finite quantile.
_EPS = float(np.finfo(float).eps)


class GaussianCopula(Distribution):
    r"""Couple the last batch axis of a univariate ``marginal_dist`` with a Gaussian copula.

    ``marginal_dist`` has scalar events and batch shape ``(..., d)``; the copula has event shape
    ``(d,)`` and correlation ``correlation_matrix`` :math:`R` or ``correlation_cholesky``
    :math:`L` (give one).  The density is in the module docstring; it needs the marginal's
    ``cdf`` (as traced code), its draws need the marginal's ``icdf``.  ``mean`` and
    ``variance`` are the marginals'.
    """

    arg_constraints = {
        "correlation_matrix": constraints.corr_matrix,
        "correlation_cholesky": constraints.corr_cholesky,
    }
    reparametrized_params = ["correlation_matrix", "correlation_cholesky"]
    has_rsample = True

    def __init__(self, marginal_dist: Distribution, correlation_matrix=None,
                 correlation_cholesky=None, *, validate_args=None):
        cls = type(self).__name__
        if not isinstance(marginal_dist, Distribution) or marginal_dist.event_shape != ():
            raise ValueError(f"{cls}: 'marginal_dist' must be a univariate distribution (scalar "
                             f"events), got {marginal_dist!r}")
        if (correlation_matrix is None) == (correlation_cholesky is None):
            raise ValueError(f"{cls}: give exactly one of correlation_matrix or "
                             "correlation_cholesky")
        if correlation_matrix is not None:
            self.correlation_matrix = as_param(correlation_matrix)
            base = MultivariateNormal(0.0, covariance_matrix=self.correlation_matrix)
        else:
            self.correlation_cholesky = as_param(correlation_cholesky)
            base = MultivariateNormal(0.0, scale_tril=self.correlation_cholesky)
        d = base.event_shape[-1]
        if marginal_dist.batch_shape[-1:] != (d,):
            raise ValueError(f"{cls}: marginal_dist.batch_shape {marginal_dist.batch_shape} must "
                             f"end in the dimension {d} of the {d}x{d} correlation")
        try:
            batch = tuple(np.broadcast_shapes(marginal_dist.batch_shape[:-1], base.batch_shape))
        except ValueError:
            raise ValueError(f"{cls}: marginal_dist.batch_shape[:-1] "
                             f"{marginal_dist.batch_shape[:-1]} does not broadcast with the "
                             f"correlation batch shape {base.batch_shape}") from None
        self.marginal_dist = marginal_dist
        self.base_dist = base
        super().__init__(batch, (d,), validate_args)

    @property
    def support(self):
        return constraints.independent(self.marginal_dist.support, 1)

    def _marginal_cdf(self, value):
        return self.marginal_dist.cdf(value)

    def _log_prob(self, value):
        marginal_lp = self.marginal_dist.log_prob(value)
        u = anp.clip(self._marginal_cdf(value), _EPS, 1.0 - _EPS)
        q = sp.ndtri(u)
        L = self.base_dist.scale_tril
        w = anp.linalg.solve_triangular(L, anp.expand_dims(q, -1), lower=True)[..., 0]
        half_log_det = anp.sum(anp.log(anp.diagonal(L, 0, -2, -1)), -1)
        copula = 0.5 * (anp.sum(anp.square(q), -1) - anp.sum(anp.square(w), -1)) - half_log_det
        return copula + anp.sum(marginal_lp, -1)

    def _uniforms(self, rng, shape):
        """:math:`\\Phi(q)` for :math:`q \\sim \\mathcal{N}(0, R)`, shape ``shape``."""
        q = np.asarray(self.base_dist.expand(shape[:-1])._sample(rng, shape))
        return ss.ndtr(q)

    def _rsample(self, rng, shape):
        # Pathwise in the correlation (and in the marginal's parameters through its icdf).
        z = rng.standard_normal(shape)
        q = anp.matmul(self.base_dist.scale_tril, anp.expand_dims(z, -1))[..., 0]
        return self.marginal_dist.icdf(sp.ndtr(q))

    @property
    def mean(self):
        return anp.broadcast_to(self.marginal_dist.mean, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        return anp.broadcast_to(self.marginal_dist.variance, self.batch_shape + self.event_shape)


class GaussianCopulaBeta(GaussianCopula):
    r"""A :class:`GaussianCopula` with ``Beta(concentration1, concentration0)`` marginals.

    Draws use SciPy's inverse regularised incomplete beta on the concrete parameters; the
    log density uses the Beta cdf :math:`F(x) = I_x(\alpha, \beta)` (``betainc``,
    differentiable in :math:`x`, :math:`\alpha` and :math:`\beta`).
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
        "correlation_matrix": constraints.corr_matrix,
        "correlation_cholesky": constraints.corr_cholesky,
    }
    support = constraints.independent(constraints.unit_interval, 1)
    has_rsample = False  # the Beta quantile is not a differentiable primitive yet

    def __init__(self, concentration1, concentration0, correlation_matrix=None,
                 correlation_cholesky=None, *, validate_args=None):
        self.concentration1 = as_param(concentration1)
        self.concentration0 = as_param(concentration0)
        super().__init__(Beta(self.concentration1, self.concentration0), correlation_matrix,
                         correlation_cholesky, validate_args=validate_args)

    def _sample(self, rng, shape):
        u = self._uniforms(rng, shape)
        a = np.broadcast_to(np.asarray(self.concentration1, dtype=float), shape)
        b = np.broadcast_to(np.asarray(self.concentration0, dtype=float), shape)
        return ss.betaincinv(a, b, u)
