r"""Matrix-variate distributions: the Wishart family and the matrix normal.

* :class:`Wishart` and :class:`WishartCholesky`: :math:`X \sim W_p(\nu, S)` on positive-definite
  matrices, and the law of its lower Cholesky factor;
* :class:`InverseWishart` and :class:`InverseWishartCholesky`: :math:`X \sim W_p^{-1}(\nu, \Psi)`
  (:math:`X^{-1} \sim W_p(\nu, \Psi^{-1})`), and the law of its Cholesky factor;
* :class:`MatrixNormal`: :math:`X \sim \mathcal{MN}(M, U, V)`, i.e.
  :math:`\operatorname{vec}(X) \sim \mathcal{N}(\operatorname{vec} M, V \otimes U)`.

NumPyro's names and parameterisations: ``concentration`` is :math:`\nu` and exactly one of
``scale_matrix`` (:math:`S`), ``rate_matrix`` (:math:`S^{-1}`) or ``scale_tril``
(:math:`L_S`, :math:`S = L_S L_S^T`) is given.  The log densities use Cholesky factors and
triangular solves only (no inverses or determinants), so they differentiate and compile.  The
Cholesky versions are the densities of :math:`L` with respect to the lower triangle of
:math:`L` (diagonal included): the matrix density plus
:math:`\log|\partial X/\partial L| = p\log 2 + \sum_{j=0}^{p-1} (p - j)\log L_{jj}`.

>>> import numpy as np
>>> from ppl.distributions import Wishart
>>> d = Wishart(4.0, scale_matrix=np.eye(2))
>>> d.batch_shape, d.event_shape
((), (2, 2))
>>> d.mean
array([[4., 0.],
       [0., 4.]])

References: Anderson (2003), *An Introduction to Multivariate Statistical Analysis*, 3rd ed.,
ch. 7 (Wishart density, Bartlett decomposition); Gupta and Nagar (2000), *Matrix Variate
Distributions*, ch. 2-3 (matrix normal, inverse Wishart moments); NumPyro 0.22
``numpyro.distributions.continuous`` (names and semantics).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.multivariate import _diag, _lazy, _mT, _precision_to_scale_tril

__all__ = [
    "InverseWishart",
    "InverseWishartCholesky",
    "MatrixNormal",
    "Wishart",
    "WishartCholesky",
    "multigammaln",
]

_LOG_2 = math.log(2.0)
_LOG_2PI = math.log(2.0 * math.pi)


def multigammaln(a: Any, p: int) -> Any:
    r"""Log of the multivariate gamma function,
    :math:`\log\Gamma_p(a) = \tfrac{p(p-1)}{4}\log\pi + \sum_{j=1}^{p}\log\Gamma\big(a + \tfrac{1-j}{2}\big)`."""
    j = np.arange(p, dtype=float)
    return (0.25 * p * (p - 1) * math.log(math.pi)
            + anp.sum(sp.gammaln(anp.expand_dims(a, -1) - 0.5 * j), -1))


def _tri_logdet(L: Any) -> Any:
    """:math:`\\sum_i \\log L_{ii}` (half the log-determinant of :math:`LL^T`)."""
    return anp.sum(anp.log(_diag(L)), -1)


def _square_matrix(cls: str, name: str, m: Any) -> int:
    shape = anp.shape(m)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"{cls}: '{name}' must be a (batch of) square matrix, got shape {shape}")
    return shape[-1]


def _broadcast_batch(cls: str, shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ValueError(f"{cls}: the batch shapes of the parameters ({listed}) do not "
                         "broadcast") from None


def _bartlett_noise(rng: np.random.Generator, shape: tuple[int, ...], dofs: np.ndarray) -> np.ndarray:
    """Lower-triangular :math:`A` with :math:`A_{ii} = \\sqrt{\\chi^2_{\\text{dofs}_i}}` and
    standard normal entries below the diagonal (``dofs`` broadcasts to ``shape[:-1]``)."""
    p = shape[-1]
    A = np.tril(rng.standard_normal(shape), -1)
    i = np.arange(p)
    A[..., i, i] = np.sqrt(rng.chisquare(np.broadcast_to(dofs, shape[:-1])))
    return A


class _WishartBase(Distribution):
    """Shared parameter handling: ``concentration`` and one of scale_matrix / rate_matrix /
    scale_tril, with the others derived on first use."""

    reparametrized_params = ["scale_matrix", "rate_matrix", "scale_tril"]
    has_rsample = True

    def __init__(self, concentration, scale_matrix=None, rate_matrix=None, scale_tril=None,
                 *, validate_args=None):
        cls = type(self).__name__
        given = {n: v for n, v in [("scale_matrix", scale_matrix), ("rate_matrix", rate_matrix),
                                   ("scale_tril", scale_tril)] if v is not None}
        if len(given) != 1:
            raise ValueError(f"{cls}: give exactly one of scale_matrix, rate_matrix or scale_tril "
                             f"(got {sorted(given) or 'none'})")
        (name, matrix), = given.items()
        matrix = as_param(matrix)
        p = _square_matrix(cls, name, matrix)
        concentration = as_param(concentration)
        batch = _broadcast_batch(cls, {"concentration": anp.shape(concentration),
                                       name: anp.shape(matrix)[:-2]})
        self.concentration = anp.broadcast_to(concentration, batch)
        setattr(self, name, anp.broadcast_to(matrix, batch + (p, p)))
        # An instance-level table: the lower bound on concentration depends on the dimension.
        self.arg_constraints = {
            "concentration": constraints.greater_than(p - 1.0),
            "scale_matrix": constraints.positive_definite,
            "rate_matrix": constraints.positive_definite,
            "scale_tril": constraints.lower_cholesky,
        }
        super().__init__(batch, (p, p), validate_args)

    @_lazy
    def scale_tril(self):
        if "scale_matrix" in self.__dict__:
            return anp.linalg.cholesky(self.scale_matrix)
        return _precision_to_scale_tril(self.rate_matrix)

    @_lazy
    def scale_matrix(self):
        return anp.matmul(self.scale_tril, _mT(self.scale_tril))

    @_lazy
    def rate_matrix(self):
        p = self.event_shape[-1]
        inv_L = anp.linalg.solve_triangular(self.scale_tril, np.eye(p), lower=True)
        return anp.matmul(_mT(inv_L), inv_L)

    def _nu(self):
        """:math:`\\nu` with two trailing unit axes (broadcasts against matrices)."""
        return anp.expand_dims(anp.expand_dims(self.concentration, -1), -1)


class WishartCholesky(_WishartBase):
    r"""The lower Cholesky factor :math:`L` of :math:`X = LL^T \sim W_p(\nu, S)`.

    With respect to the lower triangle of :math:`L` (diagonal included),

    .. math::
        \log p(L) = (\nu - p - 1)\sum_i \log L_{ii} - \tfrac12\|L_S^{-1}L\|_F^2
        + p\big(1 - \tfrac\nu2\big)\log 2 - \log\Gamma_p\big(\tfrac\nu2\big)
        - \nu \sum_i \log (L_S)_{ii} + \sum_{j=0}^{p-1} (p - j)\log L_{jj},

    the Wishart density of :math:`X` (with :math:`\operatorname{tr}(S^{-1}X) = \|L_S^{-1}L\|_F^2`)
    times the Jacobian of :math:`L \mapsto LL^T`.  Draws use the Bartlett decomposition
    :math:`L = L_S A`, :math:`A_{ii} = \sqrt{\chi^2_{\nu - i}}` (:math:`i = 0..p-1`),
    :math:`A_{ij} \sim \mathcal{N}(0, 1)` below the diagonal (Anderson 2003, thm 7.2.1); they
    are reparameterised in the scale (not in ``concentration``), as in NumPyro.
    Requires :math:`\nu > p - 1`.
    """

    support = constraints.lower_cholesky

    def _log_prob(self, value):
        p = self.event_shape[-1]
        nu = self.concentration
        z = anp.linalg.solve_triangular(self.scale_tril, value, lower=True)
        trace = anp.sum(anp.sum(anp.square(z), -1), -1)
        log_diag = anp.log(_diag(value))
        weights = anp.expand_dims(nu, -1) - np.arange(1.0, p + 1.0)  # (nu - p - 1) + (p - j)
        return (anp.sum(weights * log_diag, -1) - 0.5 * trace + p * (1.0 - 0.5 * nu) * _LOG_2
                - multigammaln(0.5 * nu, p) - nu * _tri_logdet(self.scale_tril))

    def _rsample(self, rng, shape):
        p = self.event_shape[-1]
        nu = np.asarray(self.concentration)
        A = _bartlett_noise(rng, shape, nu[..., None] - np.arange(p))
        return anp.matmul(self.scale_tril, A)

    def _sqrt_chi_mean(self):
        """:math:`E\\sqrt{\\chi^2_k} = \\sqrt2\\,\\Gamma(\\tfrac{k+1}2)/\\Gamma(\\tfrac k2)`,
        :math:`k = \\nu - j`."""
        k = anp.expand_dims(self.concentration, -1) - np.arange(self.event_shape[-1])
        return math.sqrt(2.0) * anp.exp(sp.gammaln(0.5 * (k + 1.0)) - sp.gammaln(0.5 * k))

    @property
    def mean(self):
        return self.scale_tril * anp.expand_dims(self._sqrt_chi_mean(), -2)

    @property
    def variance(self):
        # Var (L_S A)_ij = sum_k L_ik^2 Var(A_kj): 1 below the diagonal, k_j - E[chi]^2 on it.
        p = self.event_shape[-1]
        k = anp.expand_dims(self.concentration, -1) - np.arange(p)
        m = self._sqrt_chi_mean()
        var_diag = k - anp.square(m)  # (..., p)
        strict = np.tri(p, p, -1)  # [k, j] = 1 for k > j
        var_A = strict + anp.expand_dims(var_diag, -2) * np.eye(p)
        return anp.matmul(anp.square(self.scale_tril), var_A)


class Wishart(WishartCholesky):
    r"""Wishart distribution :math:`W_p(\nu, S)` on :math:`p \times p` positive-definite matrices.

    .. math::
        \log p(X) = \tfrac{\nu - p - 1}2 \log|X| - \tfrac12\operatorname{tr}(S^{-1}X)
        - \tfrac{\nu p}2\log 2 - \tfrac\nu2\log|S| - \log\Gamma_p\big(\tfrac\nu2\big),

    with respect to the lower triangle of :math:`X` (the upper one is its mirror).
    ``concentration`` :math:`\nu > p - 1`; :math:`E X = \nu S`,
    :math:`\operatorname{Var} X_{ij} = \nu(S_{ij}^2 + S_{ii}S_{jj})`.  A draw is
    :math:`LL^T` for a :class:`WishartCholesky` draw :math:`L`.
    """

    support = constraints.positive_definite

    def _log_prob(self, value):
        p = self.event_shape[-1]
        nu = self.concentration
        L = anp.linalg.cholesky(value)
        z = anp.linalg.solve_triangular(self.scale_tril, L, lower=True)
        trace = anp.sum(anp.sum(anp.square(z), -1), -1)
        return ((nu - p - 1.0) * _tri_logdet(L) - 0.5 * trace - 0.5 * nu * p * _LOG_2
                - nu * _tri_logdet(self.scale_tril) - multigammaln(0.5 * nu, p))

    def _rsample(self, rng, shape):
        L = super()._rsample(rng, shape)
        return anp.matmul(L, _mT(L))

    @property
    def mean(self):
        return self._nu() * self.scale_matrix

    @property
    def variance(self):
        S = self.scale_matrix
        d = _diag(S)
        return self._nu() * (anp.square(S) + anp.expand_dims(d, -1) * anp.expand_dims(d, -2))

    def _entropy(self):
        p = self.event_shape[-1]
        nu = self.concentration
        j = np.arange(p, dtype=float)
        multidigamma = anp.sum(sp.digamma(anp.expand_dims(0.5 * nu, -1) - 0.5 * j), -1)
        return ((p + 1.0) * _tri_logdet(self.scale_tril) + 0.5 * p * (p + 1.0) * _LOG_2
                + multigammaln(0.5 * nu, p) - 0.5 * (nu - p - 1.0) * multidigamma + 0.5 * nu * p)


class InverseWishartCholesky(_WishartBase):
    r"""The lower Cholesky factor :math:`L` of :math:`X = LL^T \sim W_p^{-1}(\nu, \Psi)`.

    With respect to the lower triangle of :math:`L`,

    .. math::
        \log p(L) = \nu\sum_i\log(L_\Psi)_{ii} + p\big(1 - \tfrac\nu2\big)\log 2
        - \log\Gamma_p\big(\tfrac\nu2\big) - \sum_{j=0}^{p-1}(\nu + 1 + j)\log L_{jj}
        - \tfrac12\|L^{-1}L_\Psi\|_F^2,

    the inverse-Wishart density of :math:`X` times :math:`|\partial X/\partial L|`.  Draws:
    :math:`L = L_\Psi T^{-1}` with :math:`T` lower triangular, :math:`T_{ii} =
    \sqrt{\chi^2_{\nu - p + 1 + i}}` and standard normals below the diagonal, so that
    :math:`T^T T \sim W_p(\nu, I)` and :math:`X^{-1} = L_\Psi^{-T} T^T T L_\Psi^{-1}
    \sim W_p(\nu, \Psi^{-1})`.

    ``mean`` is :math:`E L = L_\Psi\,\operatorname{diag}\big(E[\chi_{\nu-p+1+j}^{-1}]\big)` with
    :math:`E[\chi_k^{-1}] = \Gamma(\tfrac{k-1}2) / (\sqrt2\,\Gamma(\tfrac k2))` (infinite for
    :math:`k \le 1`): the off-diagonal entries of :math:`T^{-1}` are sums of products of
    distinct independent zero-mean normals.  (NumPyro 0.22 returns the Cholesky factor of
    :math:`E X` instead, which is not :math:`E L`.)
    """

    support = constraints.lower_cholesky

    def _log_prob(self, value):
        p = self.event_shape[-1]
        nu = self.concentration
        z = anp.linalg.solve_triangular(value, self.scale_tril, lower=True)
        trace = anp.sum(anp.sum(anp.square(z), -1), -1)
        weights = -(anp.expand_dims(nu, -1) + 1.0 + np.arange(p))
        return (nu * _tri_logdet(self.scale_tril) + p * (1.0 - 0.5 * nu) * _LOG_2
                - multigammaln(0.5 * nu, p) + anp.sum(weights * anp.log(_diag(value)), -1)
                - 0.5 * trace)

    def _rsample(self, rng, shape):
        p = self.event_shape[-1]
        nu = np.asarray(self.concentration)
        T = _bartlett_noise(rng, shape, nu[..., None] - p + 1.0 + np.arange(p))
        T_inv = np.linalg.solve(T, np.broadcast_to(np.eye(p), shape))
        T_inv = np.tril(T_inv)  # exactly triangular (solve leaves rounding above the diagonal)
        return anp.matmul(self.scale_tril, T_inv)

    @property
    def mean(self):
        p = self.event_shape[-1]
        k = anp.expand_dims(self.concentration, -1) - p + 1.0 + np.arange(p)
        safe_k = anp.where(anp.greater(k, 1.0), k, 2.0)
        inv_chi = anp.exp(sp.gammaln(0.5 * (safe_k - 1.0)) - sp.gammaln(0.5 * safe_k)) / math.sqrt(2.0)
        inv_chi = anp.where(anp.greater(k, 1.0), inv_chi, np.inf)
        return self.scale_tril * anp.expand_dims(inv_chi, -2)


class InverseWishart(InverseWishartCholesky):
    r"""Inverse Wishart distribution :math:`W_p^{-1}(\nu, \Psi)` on positive-definite matrices.

    .. math::
        \log p(X) = \tfrac\nu2\log|\Psi| - \tfrac{\nu p}2\log 2 - \log\Gamma_p\big(\tfrac\nu2\big)
        - \tfrac{\nu + p + 1}2\log|X| - \tfrac12\operatorname{tr}(\Psi X^{-1}),

    with :math:`\operatorname{tr}(\Psi X^{-1}) = \|L_X^{-1}L_\Psi\|_F^2`; here ``scale_matrix``
    is :math:`\Psi` (NumPyro's naming).  Moments (Gupta and Nagar 2000, thm 3.4.3):
    :math:`E X = \Psi/(\nu - p - 1)` for :math:`\nu > p + 1`, and for :math:`\nu > p + 3`

    .. math::
        \operatorname{Var} X_{ij} = \frac{(\nu - p + 1)\Psi_{ij}^2 + (\nu - p - 1)\Psi_{ii}\Psi_{jj}}
        {(\nu - p)(\nu - p - 1)^2(\nu - p - 3)}

    (NaN otherwise).  NumPyro 0.22's ``variance`` drops the :math:`(\nu - p \pm 1)` weights,
    which is right on the diagonal only.
    """

    support = constraints.positive_definite

    def _log_prob(self, value):
        p = self.event_shape[-1]
        nu = self.concentration
        L = anp.linalg.cholesky(value)
        z = anp.linalg.solve_triangular(L, self.scale_tril, lower=True)
        trace = anp.sum(anp.sum(anp.square(z), -1), -1)
        return (nu * _tri_logdet(self.scale_tril) - 0.5 * nu * p * _LOG_2
                - multigammaln(0.5 * nu, p) - (nu + p + 1.0) * _tri_logdet(L) - 0.5 * trace)

    def _rsample(self, rng, shape):
        L = super()._rsample(rng, shape)
        return anp.matmul(L, _mT(L))

    @property
    def mean(self):
        p = self.event_shape[-1]
        nu = self._nu()
        ok = anp.greater(nu, p + 1.0)
        return anp.where(ok, self.scale_matrix / anp.where(ok, nu - p - 1.0, 1.0), np.nan)

    @property
    def variance(self):
        p = self.event_shape[-1]
        nu = self._nu()
        ok = anp.greater(nu, p + 3.0)
        nu_s = anp.where(ok, nu, p + 4.0)
        psi = self.scale_matrix
        d = _diag(psi)
        num = ((nu_s - p + 1.0) * anp.square(psi)
               + (nu_s - p - 1.0) * anp.expand_dims(d, -1) * anp.expand_dims(d, -2))
        den = (nu_s - p) * anp.square(nu_s - p - 1.0) * (nu_s - p - 3.0)
        return anp.where(ok, num / den, np.nan)


class MatrixNormal(Distribution):
    r"""Matrix normal :math:`\mathcal{MN}(M, U, V)` on :math:`n \times p` real matrices, with
    :math:`U = L_r L_r^T` (``scale_tril_row``, :math:`n \times n`) and :math:`V = L_c L_c^T`
    (``scale_tril_column``, :math:`p \times p`):

    .. math::
        \log p(X) = -\tfrac12\big\|L_r^{-1}(X - M)L_c^{-T}\big\|_F^2
        - p\sum_i\log(L_r)_{ii} - n\sum_j\log(L_c)_{jj} - \tfrac{np}2\log 2\pi,

    the density of :math:`\operatorname{vec}(X) \sim \mathcal{N}(\operatorname{vec}M,
    V\otimes U)`.  A draw is :math:`M + L_r Z L_c^T` with :math:`Z` standard normal
    (reparameterised); :math:`\operatorname{Var} X_{ij} = U_{ii}V_{jj}`.
    Reference: Gupta and Nagar (2000), *Matrix Variate Distributions*, def. 2.2.1.
    """

    arg_constraints = {
        "loc": constraints.real_matrix,
        "scale_tril_row": constraints.lower_cholesky,
        "scale_tril_column": constraints.lower_cholesky,
    }
    support = constraints.real_matrix
    reparametrized_params = ["loc", "scale_tril_row", "scale_tril_column"]
    has_rsample = True

    def __init__(self, loc, scale_tril_row, scale_tril_column, *, validate_args=None):
        cls = type(self).__name__
        loc, Lr, Lc = as_param(loc), as_param(scale_tril_row), as_param(scale_tril_column)
        if anp.ndim(loc) < 2:
            raise ValueError(f"{cls}: 'loc' must be a (batch of) n x p matrix, got shape "
                             f"{anp.shape(loc)}")
        n, p = anp.shape(loc)[-2:]
        if _square_matrix(cls, "scale_tril_row", Lr) != n:
            raise ValueError(f"{cls}: 'scale_tril_row' of shape {anp.shape(Lr)} does not match "
                             f"the {n} rows of 'loc' (shape {anp.shape(loc)})")
        if _square_matrix(cls, "scale_tril_column", Lc) != p:
            raise ValueError(f"{cls}: 'scale_tril_column' of shape {anp.shape(Lc)} does not "
                             f"match the {p} columns of 'loc' (shape {anp.shape(loc)})")
        batch = _broadcast_batch(cls, {"loc": anp.shape(loc)[:-2],
                                       "scale_tril_row": anp.shape(Lr)[:-2],
                                       "scale_tril_column": anp.shape(Lc)[:-2]})
        self.loc = anp.broadcast_to(loc, batch + (n, p))
        self.scale_tril_row = anp.broadcast_to(Lr, batch + (n, n))
        self.scale_tril_column = anp.broadcast_to(Lc, batch + (p, p))
        super().__init__(batch, (n, p), validate_args)

    def _log_prob(self, value):
        n, p = self.event_shape
        diff = anp.subtract(value, self.loc)
        batch = np.broadcast_shapes(anp.shape(diff)[:-2], self.batch_shape)
        diff = anp.broadcast_to(diff, batch + (n, p))
        Lr = anp.broadcast_to(self.scale_tril_row, batch + (n, n))
        Lc = anp.broadcast_to(self.scale_tril_column, batch + (p, p))
        z = anp.linalg.solve_triangular(Lr, diff, lower=True)          # L_r^{-1} D
        w = anp.linalg.solve_triangular(Lc, _mT(z), lower=True)        # L_c^{-1} (L_r^{-1} D)^T
        quad = anp.sum(anp.sum(anp.square(w), -1), -1)
        return (-0.5 * quad - p * _tri_logdet(self.scale_tril_row)
                - n * _tri_logdet(self.scale_tril_column) - 0.5 * n * p * _LOG_2PI)

    def _rsample(self, rng, shape):
        z = rng.standard_normal(shape)
        return anp.add(self.loc, anp.matmul(anp.matmul(self.scale_tril_row, z),
                                            _mT(self.scale_tril_column)))

    def _entropy(self):
        n, p = self.event_shape
        h = (0.5 * n * p * (1.0 + _LOG_2PI) + p * _tri_logdet(self.scale_tril_row)
             + n * _tri_logdet(self.scale_tril_column))
        return anp.broadcast_to(h, self.batch_shape)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        u = anp.sum(anp.square(self.scale_tril_row), -1)      # diag(U)
        v = anp.sum(anp.square(self.scale_tril_column), -1)   # diag(V)
        return anp.expand_dims(u, -1) * anp.expand_dims(v, -2)
