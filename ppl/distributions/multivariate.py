r"""Multivariate distributions: Gaussian and Student-t vectors, Dirichlet, LKJ, random walks.

Each class holds only its maths (shapes and validation live in
:class:`~ppl.distributions.base.Distribution`).  Log densities are written in
:mod:`autodiff.numpy` operations (Cholesky factors and triangular solves, never explicit
inverses or determinants), so they differentiate and stage; samplers use NumPy's ``Generator``
on concrete parameters.

>>> import numpy as np
>>> from ppl.distributions import MultivariateNormal
>>> d = MultivariateNormal(np.zeros(2), covariance_matrix=np.eye(2))
>>> d.batch_shape, d.event_shape
((), (2,))
>>> round(float(d.log_prob(np.zeros(2))), 6)   # -log(2 pi)
-1.837877

References: Lewandowski, Kurowicka and Joe (2009), "Generating random correlation matrices
based on vines and extended onion method", J. Multivariate Analysis 100, 1989-2001 (LKJ);
Stan Functions Reference, ``lkj_corr_cholesky``; PyMC ``ZeroSumNormal``.
"""

from __future__ import annotations

import math

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.transforms import ZeroSumTransform

__all__ = [
    "Dirichlet",
    "GaussianRandomWalk",
    "LKJ",
    "LKJCholesky",
    "LowRankMultivariateNormal",
    "MultivariateNormal",
    "MultivariateStudentT",
    "ZeroSumNormal",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class _lazy:
    """A property computed once and cached in the instance ``__dict__`` (a non-data descriptor,
    so the parameter the user gave is stored under the same name and wins)."""

    def __init__(self, fn):
        self.fn, self.name, self.__doc__ = fn, fn.__name__, fn.__doc__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


def _diag(m):
    return anp.diagonal(m, 0, -2, -1)


def _mT(m):
    return anp.swapaxes(m, -1, -2)


def _tril_solve(L, v):
    """:math:`L^{-1} v` for a batch of vectors ``v`` (``L`` and ``v`` broadcast)."""
    return anp.linalg.solve_triangular(L, anp.expand_dims(v, -1), lower=True)[..., 0]


def _tril_matvec(L, v):
    return anp.matmul(L, anp.expand_dims(v, -1))[..., 0]


def _precision_to_scale_tril(P):
    """Lower :math:`L` with :math:`LL^T = P^{-1}`, without forming :math:`P^{-1}`.

    With :math:`J` the reversal permutation and :math:`JPJ = L_f L_f^T`,
    :math:`P = UU^T` for the upper-triangular :math:`U = J L_f J`, so
    :math:`P^{-1} = U^{-T} U^{-1}` and :math:`L = (U^T)^{-1}` is lower triangular.
    """
    Lf = anp.linalg.cholesky(anp.flip(P, (-2, -1)))
    Ut = anp.flip(_mT(Lf), (-2, -1))
    return anp.linalg.solve_triangular(Ut, np.eye(anp.shape(P)[-1]), lower=True)


def _square(name: str, param: str, m) -> int:
    shape = anp.shape(m)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"{name}: '{param}' must be a (batch of) square matrix, got shape {shape}")
    return shape[-1]


def _vector_loc(name: str, loc, k: int):
    loc = as_param(loc)
    shape = anp.shape(loc)
    if len(shape) == 0:
        return anp.broadcast_to(loc, (k,))
    if shape[-1] != k:
        raise ValueError(
            f"{name}: 'loc' of shape {shape} does not match the {k}x{k} scale matrix; its last "
            f"axis must have length {k}"
        )
    return loc


class _LocScaleTril(Distribution):
    """Shared shapes for ``loc`` (..., k) and a (..., k, k) matrix parameter."""

    def _init_loc_matrix(self, loc, name, matrix, extra=(), validate_args=None):
        cls = type(self).__name__
        matrix = as_param(matrix)
        k = _square(cls, name, matrix)
        loc = _vector_loc(cls, loc, k)
        shapes = [anp.shape(loc)[:-1], anp.shape(matrix)[:-2], *(anp.shape(e) for e in extra)]
        try:
            batch = tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise ValueError(
                f"{cls}: batch shapes of the parameters {shapes} do not broadcast"
            ) from None
        self.loc = anp.broadcast_to(loc, batch + (k,))
        setattr(self, name, anp.broadcast_to(matrix, batch + (k, k)))
        return batch, k

    @_lazy
    def covariance_matrix(self):
        return covariance_from_tril(self.scale_tril)

    @_lazy
    def precision_matrix(self):
        return precision_from_tril(self.scale_tril)


class MultivariateNormal(_LocScaleTril):
    r"""Multivariate normal :math:`\mathcal{N}(\mu, \Sigma)` on :math:`\mathbb{R}^k`.

    .. math:: \log p(x) = -\tfrac12 \|L^{-1}(x - \mu)\|^2 - \sum_i \log L_{ii} - \tfrac k2 \log 2\pi,
              \qquad \Sigma = LL^T.

    Give exactly one of ``covariance_matrix`` (:math:`\Sigma`), ``precision_matrix``
    (:math:`\Sigma^{-1}`) or ``scale_tril`` (:math:`L`); the others are derived on first use.
    A scalar ``loc`` is broadcast to the event shape.
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    reparametrized_params = ["loc", "covariance_matrix", "precision_matrix", "scale_tril"]
    has_rsample = True

    def __init__(self, loc=0.0, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 *, validate_args=None):
        given = {
            n: v
            for n, v in [("covariance_matrix", covariance_matrix),
                         ("precision_matrix", precision_matrix), ("scale_tril", scale_tril)]
            if v is not None
        }
        if len(given) != 1:
            raise ValueError(
                "MultivariateNormal: give exactly one of covariance_matrix, precision_matrix or "
                f"scale_tril (got {sorted(given) or 'none'})"
            )
        (name, matrix), = given.items()
        batch, k = self._init_loc_matrix(loc, name, matrix)
        super().__init__(batch, (k,), validate_args)

    @_lazy
    def scale_tril(self):
        if "covariance_matrix" in self.__dict__:
            return anp.linalg.cholesky(self.covariance_matrix)
        return _precision_to_scale_tril(self.precision_matrix)

    def _rsample(self, rng, shape):
        return anp.add(self.loc, _tril_matvec(self.scale_tril, rng.standard_normal(shape)))

    def _log_prob(self, value):
        z = _tril_solve(self.scale_tril, anp.subtract(value, self.loc))
        half_log_det = anp.sum(anp.log(_diag(self.scale_tril)), -1)
        k = self.event_shape[-1]
        return -0.5 * anp.sum(anp.square(z), -1) - half_log_det - k * _HALF_LOG_2PI

    def _entropy(self):
        k = self.event_shape[-1]
        half_log_det = anp.sum(anp.log(_diag(self.scale_tril)), -1)
        return anp.broadcast_to(k * (0.5 + _HALF_LOG_2PI) + half_log_det, self.batch_shape)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return anp.sum(anp.square(self.scale_tril), -1)


class LowRankMultivariateNormal(Distribution):
    r"""Multivariate normal with a low-rank plus diagonal covariance,
    :math:`\Sigma = WW^T + \operatorname{diag}(D)` (``cov_factor`` :math:`W`, :math:`k \times r`;
    ``cov_diag`` :math:`D > 0`, length :math:`k`).

    The density costs :math:`O(kr^2)`, never a :math:`k \times k` factorisation: with the
    capacitance matrix :math:`C = I_r + W^T D^{-1} W = L_C L_C^T`, the Woodbury identity and the
    matrix determinant lemma give

    .. math::
        (x-\mu)^T \Sigma^{-1} (x-\mu) = \|(x-\mu)/\sqrt D\|^2 - \|L_C^{-1} W^T D^{-1}(x-\mu)\|^2,
        \qquad \log\det\Sigma = 2\sum_i \log (L_C)_{ii} + \sum_j \log D_j,

    and :math:`\log p(x) = -\tfrac12\big((x-\mu)^T\Sigma^{-1}(x-\mu) + \log\det\Sigma
    + k\log 2\pi\big)`.  A draw is :math:`\mu + W\varepsilon_r + \sqrt D\,\varepsilon_k` with
    standard normal :math:`\varepsilon` (reparameterised in all three parameters).
    NumPyro's ``LowRankMultivariateNormal(loc, cov_factor, cov_diag)``; the guide
    :class:`inference.autoguide.AutoLowRankMultivariateNormal` uses it.

    >>> import numpy as np
    >>> d = LowRankMultivariateNormal(np.zeros(3), np.ones((3, 1)), np.ones(3))
    >>> d.covariance_matrix
    array([[2., 1., 1.],
           [1., 2., 1.],
           [1., 1., 2.]])
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "cov_factor": constraints.independent(constraints.real, 2),
        "cov_diag": constraints.independent(constraints.positive, 1),
    }
    support = constraints.real_vector
    reparametrized_params = ["loc", "cov_factor", "cov_diag"]
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, *, validate_args=None):
        cls = type(self).__name__
        cov_factor, cov_diag = as_param(cov_factor), as_param(cov_diag)
        wshape, dshape = anp.shape(cov_factor), anp.shape(cov_diag)
        if len(wshape) < 2:
            raise ValueError(f"{cls}: 'cov_factor' must be a (batch of) k x r matrix, got shape "
                             f"{wshape}")
        k, r = wshape[-2], wshape[-1]
        if len(dshape) == 0 or dshape[-1] != k:
            raise ValueError(f"{cls}: 'cov_diag' of shape {dshape} does not match 'cov_factor' of "
                             f"shape {wshape}; its last axis must have length {k}")
        loc = _vector_loc(cls, loc, k)
        shapes = [anp.shape(loc)[:-1], wshape[:-2], dshape[:-1]]
        try:
            batch = tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise ValueError(f"{cls}: batch shapes of the parameters {shapes} do not broadcast"
                             ) from None
        self.loc = anp.broadcast_to(loc, batch + (k,))
        self.cov_factor = anp.broadcast_to(cov_factor, batch + (k, r))
        self.cov_diag = anp.broadcast_to(cov_diag, batch + (k,))
        super().__init__(batch, (k,), validate_args)

    @_lazy
    def _capacitance_tril(self):
        """:math:`L_C`, the Cholesky factor of :math:`I_r + W^T D^{-1} W`."""
        W = self.cov_factor
        r = anp.shape(W)[-1]
        Wt_Dinv = _mT(W) / anp.expand_dims(self.cov_diag, -2)
        return anp.linalg.cholesky(anp.matmul(Wt_Dinv, W) + np.eye(r))

    def _log_prob(self, value):
        k = self.event_shape[-1]
        diff = anp.subtract(value, self.loc)
        Dinv_diff = diff / self.cov_diag
        Wt_Dinv_diff = anp.matmul(_mT(self.cov_factor), anp.expand_dims(Dinv_diff, -1))[..., 0]
        L = self._capacitance_tril
        z = _tril_solve(L, Wt_Dinv_diff)
        mahalanobis = anp.sum(diff * Dinv_diff, -1) - anp.sum(anp.square(z), -1)
        log_det = 2.0 * anp.sum(anp.log(_diag(L)), -1) + anp.sum(anp.log(self.cov_diag), -1)
        return -0.5 * (mahalanobis + log_det) - k * _HALF_LOG_2PI

    def _rsample(self, rng, shape):
        r = anp.shape(self.cov_factor)[-1]
        eps_w = rng.standard_normal(tuple(shape[:-1]) + (r,))
        eps_d = rng.standard_normal(tuple(shape))
        return (anp.add(self.loc, _tril_matvec(self.cov_factor, eps_w))
                + anp.sqrt(self.cov_diag) * eps_d)

    def _entropy(self):
        k = self.event_shape[-1]
        log_det = (2.0 * anp.sum(anp.log(_diag(self._capacitance_tril)), -1)
                   + anp.sum(anp.log(self.cov_diag), -1))
        return anp.broadcast_to(k * (0.5 + _HALF_LOG_2PI) + 0.5 * log_det, self.batch_shape)

    @_lazy
    def covariance_matrix(self):
        k = self.event_shape[-1]
        return (anp.matmul(self.cov_factor, _mT(self.cov_factor))
                + anp.expand_dims(self.cov_diag, -1) * np.eye(k))

    @_lazy
    def precision_matrix(self):
        r"""Woodbury: :math:`D^{-1} - D^{-1} W C^{-1} W^T D^{-1}`."""
        k = self.event_shape[-1]
        Dinv = 1.0 / self.cov_diag
        A = _mT(anp.linalg.solve_triangular(self._capacitance_tril,
                                            _mT(self.cov_factor) * anp.expand_dims(Dinv, -2),
                                            lower=True))
        return anp.expand_dims(Dinv, -1) * np.eye(k) - anp.matmul(A, _mT(A))

    @_lazy
    def scale_tril(self):
        return anp.linalg.cholesky(self.covariance_matrix)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return anp.sum(anp.square(self.cov_factor), -1) + self.cov_diag


class MultivariateStudentT(_LocScaleTril):
    r"""Multivariate Student-t with ``df`` :math:`\nu`, ``loc`` :math:`\mu`, ``scale_tril`` :math:`L`.

    .. math::
        \log p(x) = \log\Gamma\big(\tfrac{\nu+k}2\big) - \log\Gamma\big(\tfrac\nu2\big)
        - \tfrac k2 \log(\nu\pi) - \sum_i \log L_{ii}
        - \tfrac{\nu+k}2 \log\big(1 + \|L^{-1}(x-\mu)\|^2/\nu\big).

    A draw is :math:`\mu + L z \sqrt{\nu / w}` with :math:`z \sim \mathcal{N}(0, I)` and
    :math:`w \sim \chi^2_\nu`; it is reparameterised in ``loc`` and ``scale_tril``.
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real_vector,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    reparametrized_params = ["loc", "scale_tril"]
    has_rsample = True

    def __init__(self, df, loc=0.0, scale_tril=None, *, validate_args=None):
        if scale_tril is None:
            raise ValueError("MultivariateStudentT: 'scale_tril' is required")
        df = as_param(df)
        batch, k = self._init_loc_matrix(loc, "scale_tril", scale_tril, (df,))
        self.df = anp.broadcast_to(df, batch)
        super().__init__(batch, (k,), validate_args)

    def _rsample(self, rng, shape):
        df = np.broadcast_to(np.asarray(self.df), shape[:-1])
        w = rng.chisquare(df)
        z = rng.standard_normal(shape) * np.sqrt(df / w)[..., None]
        return anp.add(self.loc, _tril_matvec(self.scale_tril, z))

    def _log_prob(self, value):
        k = self.event_shape[-1]
        df = self.df
        z = _tril_solve(self.scale_tril, anp.subtract(value, self.loc))
        half_log_det = anp.sum(anp.log(_diag(self.scale_tril)), -1)
        norm = (sp.gammaln(0.5 * (df + k)) - sp.gammaln(0.5 * df)
                - 0.5 * k * anp.log(df * math.pi) - half_log_det)
        return norm - 0.5 * (df + k) * anp.log1p(anp.sum(anp.square(z), -1) / df)

    @property
    def mean(self):
        finite = anp.expand_dims(anp.greater(self.df, 1.0), -1)
        return anp.where(finite, self.loc, np.nan)

    @property
    def variance(self):
        df = anp.expand_dims(self.df, -1)
        diag = anp.sum(anp.square(self.scale_tril), -1)
        scaled = diag * df / anp.where(anp.greater(df, 2.0), df - 2.0, 1.0)
        infinite = anp.where(anp.greater(df, 1.0), np.inf, np.nan)
        return anp.where(anp.greater(df, 2.0), scaled, infinite)


class Dirichlet(Distribution):
    r"""Dirichlet on the :math:`K`-simplex, ``concentration`` :math:`\alpha`.

    .. math:: \log p(x) = \sum_k (\alpha_k - 1)\log x_k + \log\Gamma(\alpha_0) - \sum_k \log\Gamma(\alpha_k),
              \qquad \alpha_0 = \sum_k \alpha_k.

    Draws normalise Gamma variates in log space, using
    :math:`G_\alpha = G_{\alpha+1} U^{1/\alpha}`, so small concentrations do not underflow to 0/0.
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex

    def __init__(self, concentration, *, validate_args=None):
        self.concentration = as_param(concentration)
        shape = anp.shape(self.concentration)
        if len(shape) == 0 or shape[-1] < 2:
            raise ValueError(
                f"Dirichlet: 'concentration' must be a vector of length >= 2, got shape {shape}"
            )
        super().__init__(shape[:-1], shape[-1:], validate_args)

    def _sample(self, rng, shape):
        alpha = np.broadcast_to(np.asarray(self.concentration), shape)
        log_g = np.log(rng.gamma(alpha + 1.0)) + np.log(rng.uniform(size=shape)) / alpha
        log_g -= log_g.max(axis=-1, keepdims=True)
        g = np.exp(log_g)
        return g / g.sum(axis=-1, keepdims=True)

    def _log_prob(self, value):
        alpha = self.concentration
        norm = sp.gammaln(anp.sum(alpha, -1)) - anp.sum(sp.gammaln(alpha), -1)
        return anp.sum(sp.xlogy(alpha - 1.0, value), -1) + norm

    @property
    def mean(self):
        return self.concentration / anp.sum(self.concentration, -1, keepdims=True)

    @property
    def variance(self):
        a0 = anp.sum(self.concentration, -1, keepdims=True)
        m = self.concentration / a0
        return m * (1.0 - m) / (a0 + 1.0)


def _check_dimension(name: str, dimension) -> int:
    if int(dimension) != dimension or dimension < 2:
        raise ValueError(f"{name}: 'dimension' must be an integer >= 2, got {dimension!r}")
    return int(dimension)


class LKJCholesky(Distribution):
    r"""LKJ distribution on Cholesky factors :math:`L` of :math:`d \times d` correlation matrices.

    The correlation matrix :math:`C = LL^T` has density proportional to
    :math:`\det(C)^{\eta - 1}` (``concentration`` :math:`\eta`; 1 is uniform, larger favours the
    identity).  With respect to the strictly lower entries of :math:`L` (Stan's
    ``lkj_corr_cholesky``),

    .. math::
        \log p(L) = \sum_{i=1}^{d-1} \big(d - i - 1 + 2(\eta - 1)\big) \log L_{ii} + \log c_d(\eta),
        \qquad
        \log c_d(\eta) = \sum_{i=1}^{d-1} \Big[\log\Gamma\big(\tfrac i2\big) - \tfrac i2\log\pi
                          - \log B\big(\tfrac i2, \beta_i\big)\Big],

    with :math:`\beta_i = \eta + (d - 1 - i)/2`.  The constant comes from the onion method
    (Lewandowski et al. 2009, section 3.2), which is also the sampler: row :math:`i` of :math:`L`
    is :math:`(\sqrt{y}\,u, \sqrt{1 - y})` with :math:`y \sim \text{Beta}(i/2, \beta_i)` and
    :math:`u` uniform on the unit sphere of :math:`\mathbb{R}^i`; its density is
    :math:`(1 - \|w\|^2)^{\beta_i - 1}\,\Gamma(i/2)\,/\,(\pi^{i/2} B(i/2, \beta_i))`.
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dimension: int, concentration=1.0, *, validate_args=None):
        self.dimension = _check_dimension(type(self).__name__, dimension)
        self.concentration = as_param(concentration)
        d = self.dimension
        super().__init__(anp.shape(self.concentration), (d, d), validate_args)

    def _beta(self):
        """:math:`\\beta_i` for rows ``i = 1..d-1``, shape ``batch + (d-1,)``."""
        d = self.dimension
        return anp.expand_dims(self.concentration, -1) + 0.5 * (d - 1 - np.arange(1, d))

    def _log_normalizer(self):
        i = np.arange(1, self.dimension, dtype=float)
        terms = sp.gammaln(0.5 * i) - 0.5 * i * math.log(math.pi) - sp.betaln(0.5 * i, self._beta())
        return anp.sum(terms, -1)

    def _log_prob_cholesky(self, L):
        d = self.dimension
        eta = anp.expand_dims(self.concentration, -1)
        coef = (d - 1.0 - np.arange(1, d)) + 2.0 * (eta - 1.0)
        log_diag = anp.log(_diag(L)[..., 1:])
        return anp.sum(coef * log_diag, -1) + self._log_normalizer()

    def _log_prob(self, value):
        return self._log_prob_cholesky(value)

    def _sample_cholesky(self, rng, shape):
        d = self.dimension
        batch = shape[:-2]
        beta = np.broadcast_to(np.asarray(self._beta()), batch + (d - 1,))
        L = np.zeros(shape)
        L[..., 0, 0] = 1.0
        for i in range(1, d):
            y = rng.beta(0.5 * i, beta[..., i - 1])
            u = rng.standard_normal(batch + (i,))
            u /= np.linalg.norm(u, axis=-1, keepdims=True)
            L[..., i, :i] = np.sqrt(y)[..., None] * u
            L[..., i, i] = np.sqrt(1.0 - y)
        return L

    def _sample(self, rng, shape):
        return self._sample_cholesky(rng, shape)


class LKJ(LKJCholesky):
    r"""LKJ distribution on :math:`d \times d` correlation matrices :math:`C`:
    :math:`p(C) = c_d(\eta) \det(C)^{\eta - 1}`, with :math:`c_d` as in :class:`LKJCholesky`
    (with respect to the strictly lower entries of :math:`C`)."""

    support = constraints.corr_matrix

    def _log_prob(self, value):
        L = anp.linalg.cholesky(value)
        log_det = 2.0 * anp.sum(anp.log(_diag(L)), -1)
        return (self.concentration - 1.0) * log_det + self._log_normalizer()

    def _sample(self, rng, shape):
        L = self._sample_cholesky(rng, shape)
        return L @ np.swapaxes(L, -1, -2)

    @property
    def mean(self):
        d = self.dimension
        return np.broadcast_to(np.eye(d), self.batch_shape + (d, d))


class GaussianRandomWalk(Distribution):
    r"""Gaussian random walk of ``num_steps`` steps from 0: :math:`x_1 \sim \mathcal{N}(0, \sigma)`,
    :math:`x_t - x_{t-1} \sim \mathcal{N}(0, \sigma)`.

    .. math:: \log p(x) = \sum_{t=1}^{T} \log \mathcal{N}(x_t - x_{t-1} \mid 0, \sigma), \quad x_0 = 0.
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.real_vector
    reparametrized_params = ["scale"]
    has_rsample = True

    def __init__(self, scale=1.0, num_steps: int = 1, *, validate_args=None):
        if int(num_steps) != num_steps or num_steps < 1:
            raise ValueError(
                f"GaussianRandomWalk: 'num_steps' must be a positive integer, got {num_steps!r}"
            )
        self.scale = as_param(scale)
        self.num_steps = int(num_steps)
        super().__init__(anp.shape(self.scale), (self.num_steps,), validate_args)

    def _rsample(self, rng, shape):
        steps = anp.expand_dims(self.scale, -1) * rng.standard_normal(shape)
        return anp.cumsum(steps, axis=-1)

    def _log_prob(self, value):
        steps = anp.concatenate([value[..., :1], value[..., 1:] - value[..., :-1]], axis=-1)
        scale = anp.expand_dims(self.scale, -1)
        z = steps / scale
        return anp.sum(-0.5 * z * z - anp.log(scale) - _HALF_LOG_2PI, -1)

    @property
    def mean(self):
        return np.zeros(self.batch_shape + self.event_shape)

    @property
    def variance(self):
        t = np.arange(1.0, self.num_steps + 1.0)
        return anp.expand_dims(anp.square(self.scale), -1) * t


class ZeroSumNormal(Distribution):
    r"""Normal vectors (or arrays) constrained to sum to zero along every event axis (PyMC's).

    The law of :math:`x - \bar x` for :math:`x \sim \mathcal{N}(0, \sigma^2 I)` (centred along
    each of the ``len(event_shape)`` axes).  It lives on a subspace of dimension
    :math:`m = \prod_a (n_a - 1)`, and its density there (with respect to that subspace's own
    Lebesgue measure) is

    .. math:: \log p(x) = -\frac{\|x\|^2}{2\sigma^2} - \frac m2 \log(2\pi\sigma^2).

    ``scale`` :math:`\sigma` must be constant along the event axes (its shape is the batch
    shape).  The matching bijector is :class:`~ppl.transforms.ZeroSumTransform`, an isometry.
    """

    arg_constraints = {"scale": constraints.positive}
    reparametrized_params = ["scale"]
    has_rsample = True

    def __init__(self, scale=1.0, event_shape=(), *, validate_args=None):
        event_shape = (event_shape,) if np.ndim(event_shape) == 0 else tuple(event_shape)
        if not event_shape or any(int(n) < 2 for n in event_shape):
            raise ValueError(
                f"ZeroSumNormal: 'event_shape' must be non-empty with every size >= 2, got "
                f"{event_shape!r}"
            )
        self.scale = as_param(scale)
        super().__init__(anp.shape(self.scale), event_shape, validate_args)

    @property
    def support(self):
        return constraints.zero_sum(self.event_dim)

    def _scale_event(self):
        return anp.reshape(self.scale, anp.shape(self.scale) + (1,) * self.event_dim)

    def _rsample(self, rng, shape):
        x = rng.standard_normal(shape)
        for axis in range(-self.event_dim, 0):
            x = x - x.mean(axis=axis, keepdims=True)
        return anp.multiply(self._scale_event(), x)

    def _log_prob(self, value):
        m = math.prod(n - 1 for n in self.event_shape)
        sq = anp.sum(anp.square(value), axis=tuple(range(-self.event_dim, 0)))
        var = anp.square(self.scale)
        return -0.5 * sq / var - 0.5 * m * anp.log(2.0 * math.pi * var)

    @property
    def mean(self):
        return np.zeros(self.batch_shape + self.event_shape)

    @property
    def variance(self):
        shrink = math.prod((n - 1) / n for n in self.event_shape)
        return anp.broadcast_to(shrink * anp.square(self._scale_event()),
                                self.batch_shape + self.event_shape)

    @property
    def transform(self) -> ZeroSumTransform:
        """The isometry from :math:`\\mathbb{R}^{m}` used to sample and to unconstrain."""
        return ZeroSumTransform(self.event_dim)


def covariance_from_tril(scale_tril):
    r""":math:`L L^\top` (batched)."""
    return anp.matmul(scale_tril, _mT(scale_tril))


def precision_from_tril(scale_tril):
    r""":math:`(L L^\top)^{-1} = L^{-\top} L^{-1}`, by one triangular solve (batched)."""
    k = anp.shape(scale_tril)[-1]
    inv_l = anp.linalg.solve_triangular(scale_tril, np.eye(k), lower=True)
    return anp.matmul(_mT(inv_l), inv_l)
