r"""Distributions over categories and counts of categories, with NumPyro's names.

``Categorical`` (``probs`` or ``logits`` along the last axis), the ordinal models
``OrderedLogistic`` and ``OrderedProbit`` (category probabilities as differences of a cdf at
ordered cutpoints, computed in log space), and the vector-valued ``Multinomial`` and
``DirichletMultinomial``.  As in :mod:`ppl.distributions.discrete`, densities are written in
:mod:`autodiff.numpy` operations only, so they differentiate, vectorise and stage.

>>> from ppl.distributions import Categorical
>>> round(float(Categorical(probs=[0.2, 0.8]).log_prob(1)), 6)  # log(0.8)
-0.223144
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param, lazy_property
from ppl.distributions.discrete import _bcast, _one_of
from ppl.distributions.truncated import _log_diff_ndtr

__all__ = [
    "Categorical",
    "DirichletMultinomial",
    "Multinomial",
    "OrderedLogistic",
    "OrderedProbit",
]


class Categorical(Distribution):
    r"""Categorical over :math:`\{0, \dots, K-1\}`: :math:`P(k) = p_k`.

    ``probs`` (a simplex along the last axis) or ``logits`` (unnormalised log-probabilities);
    ``batch_shape`` is the parameter shape without its last axis.  ``mean``/``variance`` are NaN,
    as NumPyro.
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        _one_of("Categorical", probs, logits)
        self._logits_given = logits is not None
        if probs is not None:
            self.probs = as_param(probs)
            param = self.probs
        else:
            self.logits = as_param(logits)
            param = self.logits
        if anp.ndim(param) < 1:
            raise ValueError(
                f"{type(self).__name__}: probs/logits must have a last axis of categories, got "
                f"shape {anp.shape(param)}"
            )
        self._num_categories = anp.shape(param)[-1]
        super().__init__(anp.shape(param)[:-1], (), validate_args)

    @lazy_property
    def probs(self):
        return sp.softmax(self.logits, axis=-1)

    @lazy_property
    def logits(self):
        return anp.log(self.probs)

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_categories - 1)

    def _log_probs(self):
        """Normalised log-probabilities, shape ``batch_shape + (K,)``."""
        if self._logits_given:
            return sp.log_softmax(self.logits, axis=-1)
        return anp.log(self.probs)

    def _sample(self, rng, shape):
        cdf = np.cumsum(np.asarray(self.probs), axis=-1)
        u = rng.random(shape + (1,)) * cdf[..., -1:]
        return np.minimum((u > cdf).sum(-1), self._num_categories - 1).astype(np.int64)

    def _log_prob(self, value):
        k = np.arange(self._num_categories, dtype=np.float64)
        # A one-hot selection rather than an integer gather: it stages and vectorises as is.
        hit = anp.equal(anp.expand_dims(value, -1), k)
        lp = anp.sum(anp.where(hit, self._log_probs(), 0.0), axis=-1)
        return anp.where(anp.any(hit, axis=-1), lp, -np.inf)

    def _entropy(self):
        logp = self._log_probs()
        return -anp.sum(anp.where(anp.isfinite(logp), anp.exp(logp) * logp, 0.0), axis=-1)

    def _enumerate_support(self):
        k = self._num_categories
        return np.arange(float(k)).reshape((k,) + (1,) * len(self.batch_shape))

    @property
    def mean(self):
        return np.full(self.batch_shape, np.nan)

    @property
    def variance(self):
        return np.full(self.batch_shape, np.nan)


def _log_diff_expit(hi, lo):
    r""":math:`\log(\sigma(hi) - \sigma(lo))` for :math:`hi > lo`, without cancellation.

    :math:`\sigma(b) - \sigma(a) = e^b (1 - e^{a-b}) / ((1+e^a)(1+e^b))`.
    """
    return hi + sp.log1mexp(hi - lo) - sp.log1pexp(lo) - sp.log1pexp(hi)


class OrderedLogistic(Categorical):
    r"""Ordinal regression: :math:`P(Y \le k) = \sigma(c_k - \eta)` for ordered ``cutpoints``
    :math:`c_0 < \dots < c_{K-2}` and a real ``predictor`` :math:`\eta`; :math:`K` categories.

    The category log-probabilities are computed in log space (``_log_diff_expit``), so they stay
    accurate when :math:`\eta` is far from the cutpoints.
    """

    arg_constraints = {"predictor": constraints.real, "cutpoints": constraints.ordered_vector}

    def __init__(self, predictor, cutpoints, *, validate_args=None):
        self.predictor = as_param(predictor)
        self.cutpoints = as_param(cutpoints)
        eta = anp.expand_dims(self.predictor, -1)
        z = self.cutpoints - eta  # (..., K-1)
        first = -sp.log1pexp(-z[..., :1])
        last = -sp.log1pexp(z[..., -1:])
        middle = _log_diff_expit(z[..., 1:], z[..., :-1])
        logits = anp.concatenate([first, middle, last], axis=-1)
        # Validation (if on) checks predictor and cutpoints, through _arg_values.
        super().__init__(logits=logits, validate_args=validate_args)

    def _arg_values(self):
        return {"predictor": self.predictor, "cutpoints": self.cutpoints}


class OrderedProbit(Categorical):
    r"""Ordinal probit regression (PyMC's ``OrderedProbit(eta, cutpoints, sigma=1)``):
    :math:`P(Y \le k) = \Phi((c_k - \eta)/\sigma)` for ordered ``cutpoints``
    :math:`c_0 < \dots < c_{K-2}`, so

    .. math:: P(Y = k) = \Phi\Big(\frac{c_k - \eta}{\sigma}\Big)
        - \Phi\Big(\frac{c_{k-1} - \eta}{\sigma}\Big), \qquad c_{-1} = -\infty,\
        c_{K-1} = +\infty .

    The differences are taken in log space with the tail-accurate ``_log_diff_ndtr``, so they
    stay finite far from the cutpoints.

    Reference: McKelvey and Zavoina, "A statistical model for the analysis of ordinal level
    dependent variables", *J. Mathematical Sociology* 4 (1975) 103-120.
    """

    arg_constraints = {
        "eta": constraints.real,
        "cutpoints": constraints.ordered_vector,
        "sigma": constraints.positive,
    }

    def __init__(self, eta, cutpoints, sigma=1.0, *, validate_args=None):
        self.eta = as_param(eta)
        self.cutpoints = as_param(cutpoints)
        self.sigma = as_param(sigma)
        z = (self.cutpoints - anp.expand_dims(self.eta, -1)) / anp.expand_dims(self.sigma, -1)
        first = sp.log_ndtr(z[..., :1])
        last = sp.log_ndtr(-z[..., -1:])
        middle = _log_diff_ndtr(z[..., :-1], z[..., 1:])
        logits = anp.concatenate([first, middle, last], axis=-1)
        super().__init__(logits=logits, validate_args=validate_args)

    def _arg_values(self):
        return {"eta": self.eta, "cutpoints": self.cutpoints, "sigma": self.sigma}


class Multinomial(Distribution):
    r"""Multinomial counts over :math:`K` categories:
    :math:`P(x) = \frac{n!}{\prod_k x_k!} \prod_k p_k^{x_k}`, :math:`\sum_k x_k = n`.

    ``event_shape`` is ``(K,)``.
    """

    arg_constraints = {
        "total_count": constraints.nonnegative_integer,
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
    }

    def __init__(self, total_count=1, probs=None, logits=None, *, validate_args=None):
        _one_of("Multinomial", probs, logits)
        self._logits_given = logits is not None
        if probs is not None:
            self.probs = as_param(probs)
            param = self.probs
        else:
            self.logits = as_param(logits)
            param = self.logits
        self.total_count = as_param(total_count)
        pshape = anp.shape(param)
        batch = np.broadcast_shapes(pshape[:-1], anp.shape(self.total_count))
        super().__init__(batch, pshape[-1:], validate_args)

    @lazy_property
    def probs(self):
        return sp.softmax(self.logits, axis=-1)

    @lazy_property
    def logits(self):
        return anp.log(self.probs)

    @property
    def support(self):
        return constraints.multinomial(self.total_count)

    def _sample(self, rng, shape):
        n = np.broadcast_to(np.asarray(self.total_count).astype(np.int64), shape[:-1])
        return rng.multinomial(n, np.broadcast_to(np.asarray(self.probs), shape))

    def _log_prob(self, value):
        n = self.total_count
        norm = sp.gammaln(n + 1.0) - anp.sum(sp.gammaln(value + 1.0), axis=-1)
        if self._logits_given:
            return norm + anp.sum(value * sp.log_softmax(self.logits, axis=-1), axis=-1)
        return norm + anp.sum(sp.xlogy(value, self.probs), axis=-1)

    @property
    def mean(self):
        n = anp.expand_dims(self.total_count, -1)
        return _bcast(n * self.probs, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        n, p = anp.expand_dims(self.total_count, -1), self.probs
        return _bcast(n * p * (1.0 - p), self.batch_shape + self.event_shape)


class DirichletMultinomial(Distribution):
    r"""Dirichlet-multinomial: :math:`p \sim \mathrm{Dirichlet}(\alpha)`,
    :math:`x \sim \mathrm{Multinomial}(n, p)`:

    .. math:: P(x) = \frac{\Gamma(\alpha_0)\, n!}{\Gamma(n + \alpha_0)}
        \prod_k \frac{\Gamma(x_k + \alpha_k)}{\Gamma(\alpha_k)\, x_k!}, \quad
        \alpha_0 = \textstyle\sum_k \alpha_k .
    """

    arg_constraints = {
        "concentration": constraints.independent(constraints.positive, 1),
        "total_count": constraints.nonnegative_integer,
    }

    def __init__(self, concentration, total_count=1, *, validate_args=None):
        self.concentration = as_param(concentration)
        self.total_count = as_param(total_count)
        cshape = anp.shape(self.concentration)
        if len(cshape) < 1:
            raise ValueError(
                f"DirichletMultinomial: concentration needs a last axis of categories, got "
                f"shape {cshape}"
            )
        batch = np.broadcast_shapes(cshape[:-1], anp.shape(self.total_count))
        super().__init__(batch, cshape[-1:], validate_args)

    @property
    def support(self):
        return constraints.multinomial(self.total_count)

    def _sample(self, rng, shape):
        g = rng.gamma(np.broadcast_to(self.concentration, shape))
        p = g / g.sum(-1, keepdims=True)
        n = np.broadcast_to(np.asarray(self.total_count).astype(np.int64), shape[:-1])
        return rng.multinomial(n, p)

    def _log_prob(self, value):
        a, n = self.concentration, self.total_count
        a0 = anp.sum(a, axis=-1)
        per_k = sp.gammaln(value + a) - sp.gammaln(a) - sp.gammaln(value + 1.0)
        return sp.gammaln(a0) + sp.gammaln(n + 1.0) - sp.gammaln(n + a0) + anp.sum(per_k, -1)

    @property
    def mean(self):
        a = self.concentration
        p = a / anp.sum(a, axis=-1, keepdims=True)
        return _bcast(anp.expand_dims(self.total_count, -1) * p, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        a = self.concentration
        a0 = anp.sum(a, axis=-1, keepdims=True)
        p = a / a0
        n = anp.expand_dims(self.total_count, -1)
        var = n * p * (1.0 - p) * (n + a0) / (1.0 + a0)
        return _bcast(var, self.batch_shape + self.event_shape)
