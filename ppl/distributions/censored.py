r"""Censored observations of a univariate distribution (NumPyro 0.22's
``LeftCensoredDistribution``, ``RightCensoredDistribution`` and
``IntervalCensoredDistribution``).

A censored observation is known only to lie in a set; its likelihood is the probability of
that set under the base law with cdf :math:`F` and density :math:`f`:

===============================  ===========================================================
observation                      log-likelihood contribution
===============================  ===========================================================
exact value :math:`x`            :math:`\log f(x)`
left-censored at :math:`x`       :math:`\log F(x)` (the true value is :math:`\le x`)
right-censored at :math:`x`      :math:`\log(1 - F(x))` (the true value is :math:`\ge x`)
in :math:`(l, u]`                :math:`\log(F(u) - F(l))`
outside :math:`(l, u]`           :math:`\log(1 - F(u) + F(l))`
===============================  ===========================================================

The censoring indicators are data (they may be traced, so the same compiled model serves any
pattern of censoring); every branch is computed on safe inputs and selected with ``where``,
so gradients stay finite.  Log cdfs come from :func:`~ppl.distributions.truncated.log_cdf` and
:func:`~ppl.distributions.truncated.log_survival` (``log_ndtr`` for a normal base).

Reference: Klein and Moeschberger, *Survival Analysis* (Springer, 2003), §3.5 (the censored
likelihood); R's ``survival::Surv`` types ``left``, ``right`` and ``interval2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.truncated import (
    _require_cdf,
    log_cdf,
    log_interval_mass,
    log_survival,
)

__all__ = [
    "IntervalCensoredDistribution",
    "LeftCensoredDistribution",
    "RightCensoredDistribution",
]


def _indicator(x: Any) -> Any:
    """The boolean mask of 0/1 (or boolean) censoring data; nonzero means censored."""
    if isinstance(x, Tracer):
        return anp.not_equal(x, 0.0)
    return np.asarray(x) != 0


class _Censored(Distribution):
    arg_constraints = {"censored": constraints.boolean}

    def __init__(self, base_dist: Distribution, censored: Any = False, *,
                 validate_args: bool | None = None) -> None:
        name = type(self).__name__
        _require_cdf(name, base_dist, need_icdf=False)
        self.base_dist = base_dist
        self.censored = as_param(censored)  # validated against ``boolean`` as given
        self._censored = _indicator(self.censored)
        batch = np.broadcast_shapes(base_dist.batch_shape, anp.shape(self.censored))
        super().__init__(batch, (), validate_args)

    @property
    def support(self):
        return self.base_dist.support

    def _sample(self, rng, shape):
        return self.base_dist.expand(self.batch_shape)._sample(rng, shape)

    def _log_prob(self, value):
        return anp.where(self._censored, self._log_censored(value),
                         self.base_dist.log_prob(value))

    @property
    def mean(self):
        return anp.broadcast_to(self.base_dist.mean, self.batch_shape)

    @property
    def variance(self):
        return anp.broadcast_to(self.base_dist.variance, self.batch_shape)


class LeftCensoredDistribution(_Censored):
    r"""``base_dist`` with left-censored observations: ``log_prob(x)`` is :math:`\log F(x)`
    where ``censored`` is 1 (the true value is at most :math:`x`) and :math:`\log f(x)` where
    it is 0 (R's ``Surv(time, event, type='left')``).  Draws are base draws (the uncensored
    values), as NumPyro."""

    def _log_censored(self, value):
        return log_cdf(self.base_dist, value)


class RightCensoredDistribution(_Censored):
    r"""``base_dist`` with right-censored observations: ``log_prob(x)`` is
    :math:`\log(1 - F(x))` where ``censored`` is 1 (the true value is at least :math:`x`, e.g.
    a survival time still running at the end of follow-up) and :math:`\log f(x)` where it is
    0.  Draws are base draws, as NumPyro."""

    def _log_censored(self, value):
        return log_survival(self.base_dist, value)


class IntervalCensoredDistribution(Distribution):
    r"""``base_dist`` observed as intervals: a value is a pair ``(lower, upper)`` (event shape
    ``(2,)``), with indicators ``left_censored`` and ``right_censored`` (NumPyro 0.22):

    ===================================  ==============================================
    ``left_censored``, ``right_censored``  log-likelihood
    ===================================  ==============================================
    1, 0                                 :math:`\log F(u)`
    0, 1                                 :math:`\log(1 - F(l))`
    0, 0                                 :math:`\log(F(u) - F(l))`; :math:`\log f(l)` if
                                         ``isclose(l, u)`` (an exact observation)
    1, 1                                 :math:`\log(1 - (F(u) - F(l)))` (outside the interval)
    ===================================  ==============================================

    The unused bound may be infinite (``[-inf, u]``, ``[l, inf]``); it is replaced by the other
    bound before any cdf is evaluated (observed data in a compiled model must be finite: put
    any finite number there).  ``isclose`` uses NumPy's default tolerances.  Unlike
    NumPyro (whose draws have the base's shape), ``sample`` returns the point interval
    ``(x, x)`` of a base draw :math:`x`, so that draws have the event shape ``(2,)`` and
    ``log_prob`` of a draw is the base log density.
    """

    arg_constraints = {"left_censored": constraints.boolean,
                       "right_censored": constraints.boolean}

    def __init__(self, base_dist: Distribution, left_censored: Any, right_censored: Any, *,
                 validate_args: bool | None = None) -> None:
        name = type(self).__name__
        _require_cdf(name, base_dist, need_icdf=False)
        self.base_dist = base_dist
        self.left_censored = as_param(left_censored)
        self.right_censored = as_param(right_censored)
        batch = np.broadcast_shapes(base_dist.batch_shape, anp.shape(self.left_censored),
                                    anp.shape(self.right_censored))
        super().__init__(batch, (2,), validate_args)

    @property
    def support(self):
        return constraints.independent(self.base_dist.support, 1)

    def _validate_sample(self, value):
        if anp.shape(value)[-1:] != (2,):
            raise ValueError(
                f"IntervalCensoredDistribution.log_prob: value must end in a (lower, upper) "
                f"axis of size 2, got shape {anp.shape(value)}"
            )

    def _sample(self, rng, shape):
        x = np.asarray(self.base_dist.expand(self.batch_shape)._sample(rng, shape[:-1]))
        return np.stack([x, x], axis=-1)

    def _log_prob(self, value):
        base = self.base_dist
        lo, hi = value[..., 0], value[..., 1]
        left, right = _indicator(self.left_censored), _indicator(self.right_censored)
        m_left = anp.logical_and(left, anp.logical_not(right))
        m_right = anp.logical_and(right, anp.logical_not(left))
        m_int = anp.logical_and(anp.logical_not(left), anp.logical_not(right))
        # Replace the unused (possibly infinite) bound by the other one.
        lo_f = anp.where(m_left, hi, lo)
        hi_f = anp.where(m_right, lo, hi)
        close = anp.abs(lo_f - hi_f) <= 1e-8 + 1e-5 * anp.abs(hi_f)
        m_point = anp.logical_and(m_int, close)
        # An interval of positive width for the mass (rows of zero width get a dummy one, so
        # that no unselected branch is log(0) with a NaN gradient).
        hi_w = anp.where(close, lo_f + 1.0, hi_f)
        lp_left = log_cdf(base, hi_f)
        lp_right = log_survival(base, lo_f)
        lp_int = log_interval_mass(base, lo_f, hi_w)
        lp_point = base.log_prob(lo_f)
        # 1 - (F(u) - F(l)) = F(l) + (1 - F(u)).
        lp_double = anp.logaddexp(log_cdf(base, lo_f), log_survival(base, hi_f))
        out = anp.where(m_left, lp_left, anp.where(m_right, lp_right, lp_double))
        out = anp.where(m_int, anp.where(m_point, lp_point, lp_int), out)
        return out

    @property
    def mean(self):
        m = anp.broadcast_to(self.base_dist.mean, self.batch_shape)
        return anp.stack([m, m], axis=-1)

    @property
    def variance(self):
        v = anp.broadcast_to(self.base_dist.variance, self.batch_shape)
        return anp.stack([v, v], axis=-1)
