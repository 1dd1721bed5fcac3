r"""Hurdle models (NumPyro's ``HurdleDistribution``, ``HurdleProbs``, ``HurdleLogits`` and the
named ``HurdlePoisson``, ``HurdleNegativeBinomial2``, ``HurdleGamma``, ``HurdleLogNormal``).

A Bernoulli hurdle makes the outcome zero with probability ``gate`` :math:`g`; otherwise the
magnitude comes from the base law, zero-truncated when the base is discrete:

.. math:: P(X = 0) = g, \qquad
    p(x) = (1 - g)\,\frac{b(x)}{1 - B(0)} \ (x \ne 0,\ \text{discrete base}), \qquad
    p(x) = (1 - g)\, b(x) \ (x > 0,\ \text{continuous base}).

Every zero is structural (unlike zero inflation, where the base may also produce zeros).  For a
continuous base the law is a mixture of a point mass at 0 and a density on :math:`x > 0`;
``log_prob(0)`` is :math:`\log g`, the log mass of the atom (NumPyro's convention), and
``log_prob(x)`` for :math:`x > 0` the log density of the continuous part.

References: J. G. Cragg, *Econometrica* 39 (1971) 829-844; J. Mullahy, *J. Econometrics* 33
(1986) 341-365.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.discrete import NegativeBinomial2, Poisson
from ppl.distributions.positive import Gamma, LogNormal

__all__ = [
    "HurdleDistribution",
    "HurdleGamma",
    "HurdleLogNormal",
    "HurdleLogits",
    "HurdleNegativeBinomial2",
    "HurdlePoisson",
    "HurdleProbs",
]

_MAX_REDRAWS = 10_000


class HurdleProbs(Distribution):
    r"""Hurdle over ``base_dist`` with ``gate`` :math:`g`, the probability of a structural
    zero (PyMC's ``psi`` is :math:`1 - g`).

    The support is the base's, with 0 added to a positive continuous base's
    (:math:`[0, \infty)`).  ``mean`` and
    ``variance`` are :math:`(1-g)\mu_T` and :math:`(1-g)E_T[X^2] - \text{mean}^2` with the
    moments of the (zero-truncated) base.
    """

    arg_constraints = {"gate": constraints.unit_interval}

    def __init__(self, base_dist: Distribution, gate: Any, *,
                 validate_args: bool | None = None) -> None:
        self._init_gate(base_dist, gate=as_param(gate), validate_args=validate_args)

    def _init_gate(self, base_dist: Distribution, *, gate: Any = None, gate_logits: Any = None,
                   validate_args: bool | None = None) -> None:
        name = type(self).__name__
        if not isinstance(base_dist, Distribution) or base_dist.event_shape:
            raise ValueError(
                f"{name}: base_dist must be a univariate distribution, got {base_dist!r}"
            )
        self.base_dist = base_dist
        self._is_discrete = bool(base_dist.is_discrete)
        if gate is not None:
            self.gate = gate
            param = gate
        else:
            self.gate_logits = gate_logits
            param = gate_logits
        batch = np.broadcast_shapes(anp.shape(param), base_dist.batch_shape)
        Distribution.__init__(self, batch, (), validate_args)

    @property
    def support(self):
        support = self.base_dist.support
        if not self._is_discrete and support is constraints.positive:
            return constraints.nonnegative  # the atom at 0 joins the positive half-line
        return support

    @property
    def is_discrete(self):
        return self._is_discrete

    def _log_gate(self):
        return anp.log(self.gate)

    def _log1m_gate(self):
        return anp.log1p(-self.gate)

    def _log_p_nonzero(self):
        """:math:`\\log(1 - B(0))` of a discrete base."""
        return sp.log1mexp(-self.base_dist.log_prob(np.zeros(())))

    def _sample(self, rng, shape):
        base = self.base_dist.expand(self.batch_shape)
        draws = np.asarray(base._sample(rng, shape))
        if self._is_discrete:
            # Rejection sampling of the zero-truncated base: redraw the zeros.
            for _ in range(_MAX_REDRAWS):
                zero = draws == 0
                if not zero.any():
                    break
                draws = np.where(zero, np.asarray(base._sample(rng, shape)), draws)
            else:
                raise RuntimeError(
                    f"{type(self).__name__}.sample: the base draws zero too often to "
                    f"zero-truncate by rejection ({_MAX_REDRAWS} rounds)"
                )
        gate = np.broadcast_to(np.asarray(self._gate_value()), shape)
        return np.where(rng.random(shape) < gate, np.zeros_like(draws), draws)

    def _log_prob(self, value):
        is_zero = anp.equal(value, 0.0)
        # The base density at 0 may be undefined (Gamma, LogNormal): evaluate it at 1 there.
        safe = anp.where(is_zero, 1.0, value)
        log_nonzero = self._log1m_gate() + self.base_dist.log_prob(safe)
        if self._is_discrete:
            log_nonzero = log_nonzero - self._log_p_nonzero()
        return anp.where(is_zero, self._log_gate(), log_nonzero)

    def _gate_value(self):
        return self.gate if "gate" in self.__dict__ else sp.expit(self.gate_logits)

    def _truncated_moments(self):
        m, v = self.base_dist.mean, self.base_dist.variance
        second = v + m * m
        if self._is_discrete:
            p_nonzero = -anp.expm1(self.base_dist.log_prob(np.zeros(())))
            return m / p_nonzero, second / p_nonzero
        return m, second

    @property
    def mean(self):
        m, _ = self._truncated_moments()
        return anp.broadcast_to((1.0 - self._gate_value()) * m, self.batch_shape)

    @property
    def variance(self):
        m, second = self._truncated_moments()
        g = self._gate_value()
        mean = (1.0 - g) * m
        return anp.broadcast_to((1.0 - g) * second - mean * mean, self.batch_shape)


class HurdleLogits(HurdleProbs):
    r"""Hurdle with ``gate_logits`` :math:`\ell = \operatorname{logit} g`;
    :math:`\log g = -\operatorname{softplus}(-\ell)` and
    :math:`\log(1-g) = -\operatorname{softplus}(\ell)` stay finite for large :math:`|\ell|`."""

    arg_constraints = {"gate_logits": constraints.real}

    def __init__(self, base_dist: Distribution, gate_logits: Any, *,
                 validate_args: bool | None = None) -> None:
        self._init_gate(base_dist, gate_logits=as_param(gate_logits),
                        validate_args=validate_args)

    def _log_gate(self):
        return -sp.log1pexp(-self.gate_logits)

    def _log1m_gate(self):
        return -sp.log1pexp(self.gate_logits)


def HurdleDistribution(base_dist: Distribution, *, gate: Any = None,  # noqa: N802
                       gate_logits: Any = None,
                       validate_args: bool | None = None) -> HurdleProbs:
    """A :class:`HurdleProbs` (given ``gate``) or :class:`HurdleLogits` (given
    ``gate_logits``) over ``base_dist``; exactly one of the two (NumPyro's constructor)."""
    if (gate is None) == (gate_logits is None):
        raise ValueError(
            f"HurdleDistribution: give exactly one of gate= or gate_logits= (got gate={gate!r}, "
            f"gate_logits={gate_logits!r})"
        )
    if gate is not None:
        return HurdleProbs(base_dist, gate, validate_args=validate_args)
    return HurdleLogits(base_dist, gate_logits, validate_args=validate_args)


class HurdlePoisson(HurdleProbs):
    r"""Hurdle Poisson: :math:`P(0) = g`,
    :math:`P(k) = (1-g)\,\frac{\lambda^k e^{-\lambda}}{k!\,(1 - e^{-\lambda})}` for
    :math:`k \ge 1`."""

    arg_constraints = {"gate": constraints.unit_interval, "rate": constraints.positive}

    def __init__(self, gate: Any, rate: Any = 1.0, *, validate_args: bool | None = None) -> None:
        self.rate = as_param(rate)
        super().__init__(Poisson(self.rate, validate_args=False), gate,
                         validate_args=validate_args)


class HurdleNegativeBinomial2(HurdleProbs):
    r"""Hurdle over ``NegativeBinomial2(mean, concentration)`` (mean-dispersion form),
    zero-truncated: :math:`P(0) = g`, :math:`P(k) = (1-g)\,\mathrm{NB}(k)/(1 - \mathrm{NB}(0))`
    with :math:`\mathrm{NB}(0) = (\phi/(\phi + \mu))^\phi`."""

    arg_constraints = {"gate": constraints.unit_interval, "mean": constraints.positive,
                       "concentration": constraints.positive}

    def __init__(self, gate: Any, mean: Any, concentration: Any, *,
                 validate_args: bool | None = None) -> None:
        self._mean = as_param(mean)
        self.concentration = as_param(concentration)
        base = NegativeBinomial2(self._mean, self.concentration, validate_args=False)
        super().__init__(base, gate, validate_args=validate_args)

    def _arg_values(self):
        return {"gate": self.gate, "mean": self._mean, "concentration": self.concentration}


class HurdleGamma(HurdleProbs):
    r"""Hurdle Gamma: an atom :math:`g` at 0 and density
    :math:`(1-g)\frac{\beta^\alpha}{\Gamma(\alpha)}x^{\alpha-1}e^{-\beta x}` on
    :math:`x > 0`."""

    arg_constraints = {"gate": constraints.unit_interval,
                       "concentration": constraints.positive, "rate": constraints.positive}

    def __init__(self, gate: Any, concentration: Any, rate: Any = 1.0, *,
                 validate_args: bool | None = None) -> None:
        self.concentration = as_param(concentration)
        self.rate = as_param(rate)
        super().__init__(Gamma(self.concentration, self.rate, validate_args=False), gate,
                         validate_args=validate_args)


class HurdleLogNormal(HurdleProbs):
    r"""Hurdle log-normal: an atom :math:`g` at 0 and density :math:`(1-g)` times the
    ``LogNormal(loc, scale)`` density on :math:`x > 0`."""

    arg_constraints = {"gate": constraints.unit_interval, "loc": constraints.real,
                       "scale": constraints.positive}

    def __init__(self, gate: Any, loc: Any = 0.0, scale: Any = 1.0, *,
                 validate_args: bool | None = None) -> None:
        self.loc = as_param(loc)
        self.scale = as_param(scale)
        super().__init__(LogNormal(self.loc, self.scale, validate_args=False), gate,
                         validate_args=validate_args)
