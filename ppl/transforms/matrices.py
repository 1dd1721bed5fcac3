"""Transforms onto structured matrices: Cholesky factors, correlation and positive-definite matrices.

Unconstrained vectors fill a lower triangle row by row (:func:`_vec_to_tril`); the
log-Jacobians are with respect to the free entries of the output (the lower triangle, or the
strictly lower triangle when the diagonal is fixed), as in Stan.
"""

from __future__ import annotations

import math

import numpy as np

import autodiff.numpy as anp
from autodiff.scipy.special import log1mexp, log1pexp
from ppl import constraints
from ppl.transforms.base import Transform, _shape_of
from ppl.transforms.compose import ComposeTransform
from ppl.transforms.elementwise import _log1m_tanh2

__all__ = [
    "CholeskyTransform",
    "CorrCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "CorrMatrixTransform",
    "LowerCholeskyTransform",
    "PositiveDefiniteTransform",
    "SoftplusLowerCholeskyTransform",
]


def _matrix_size(m: int, diagonal: bool, who: str) -> int:
    """K such that a vector of length m fills the lower triangle (with or without diagonal)."""
    root = math.isqrt(8 * m + 1)
    k = (root - 1) // 2 if diagonal else (root + 1) // 2
    if root * root != 8 * m + 1:
        part = "K(K+1)/2" if diagonal else "K(K-1)/2"
        raise ValueError(f"{who}: input length {m} is not {part} for any integer K")
    return k


def _fill_index(k: int, offset: int) -> np.ndarray:
    """(K, K) positions into ``concatenate([v, 0])``: the triangle ``tril(k=offset)`` is filled
    row by row from ``v``; every other entry points at the trailing zero."""
    rows, cols = np.tril_indices(k, offset)
    index = np.full((k, k), rows.size, dtype=np.int64)
    index[rows, cols] = np.arange(rows.size)
    return index


def _vec_to_tril(v, k: int, offset: int):
    # The trailing zero is made from the shape, not sliced from v: v may be empty (the
    # off-diagonal part of a 1 x 1 matrix).
    padded = anp.concatenate([v, anp.zeros(tuple(anp.shape(v))[:-1] + (1,))], axis=-1)
    return padded[..., _fill_index(k, offset)]


def _tril_to_vec(m, offset: int):
    rows, cols = np.tril_indices(_shape_of(m)[-1], offset)
    return m[..., rows, cols]


def _diag(m):
    return anp.diagonal(m, 0, -2, -1)


def _mT(m):
    return anp.swapaxes(m, -1, -2)


class LowerCholeskyTransform(Transform):
    """:math:`\\mathbb{R}^{K(K+1)/2}` onto lower-triangular matrices with a positive diagonal.

    The first :math:`K(K-1)/2` entries fill the strictly lower triangle row by row; the last
    :math:`K` are the logs of the diagonal.  :math:`\\log|J| = \\sum_i x_{\\text{diag},i}`.
    """

    domain = constraints.real_vector
    codomain = constraints.lower_cholesky

    def _diag_forward(self, d):
        return anp.exp(d)

    def _diag_inverse(self, d):
        return anp.log(d)

    def _diag_logdet(self, d):
        return d

    def __call__(self, x):
        k = _matrix_size(_shape_of(x)[-1], True, type(self).__name__)
        n_off = k * (k - 1) // 2
        lower = _vec_to_tril(x[..., :n_off], k, -1)
        return anp.add(lower, anp.multiply(anp.expand_dims(self._diag_forward(x[..., n_off:]), -1),
                                           np.eye(k)))

    def inverse(self, y):
        return anp.concatenate([_tril_to_vec(y, -1), self._diag_inverse(_diag(y))], axis=-1)

    def log_abs_det_jacobian(self, x, y):
        k = _matrix_size(_shape_of(x)[-1], True, type(self).__name__)
        return anp.sum(self._diag_logdet(x[..., k * (k - 1) // 2 :]), axis=-1)

    def forward_shape(self, shape):
        k = _matrix_size(shape[-1], True, type(self).__name__)
        return (*shape[:-1], k, k)

    def inverse_shape(self, shape):
        return (*shape[:-2], shape[-1] * (shape[-1] + 1) // 2)


class SoftplusLowerCholeskyTransform(LowerCholeskyTransform):
    """As :class:`LowerCholeskyTransform` with a softplus diagonal (gentler for large values)."""

    codomain = constraints.softplus_lower_cholesky

    def _diag_forward(self, d):
        return log1pexp(d)

    def _diag_inverse(self, d):
        return anp.add(d, log1mexp(d))

    def _diag_logdet(self, d):
        return anp.negative(log1pexp(anp.negative(d)))


class CorrCholeskyTransform(Transform):
    """:math:`\\mathbb{R}^{K(K-1)/2}` onto Cholesky factors of correlation matrices.

    The LKJ / Stan construction: :math:`z = \\tanh x` are canonical partial correlations,
    placed row by row in the strictly lower triangle; then row :math:`i` of :math:`L` is a
    stick-breaking of the unit norm,

    .. math::
        L_{ij} = z_{ij} \\sqrt{\\textstyle\\prod_{k<j} (1 - z_{ik}^2)} \\;(j < i), \\qquad
        L_{ii} = \\sqrt{\\textstyle\\prod_{k<i} (1 - z_{ik}^2)},

    so :math:`\\sum_j L_{ij}^2 = 1`.  With respect to the strictly lower entries of :math:`L`,

    .. math::
        \\log|J| = \\sum_{i>j} \\Big[\\log(1 - z_{ij}^2)
                  + \\tfrac12 \\sum_{k<j} \\log(1 - z_{ik}^2)\\Big].

    Products are accumulated as sums of :math:`\\log(1 - \\tanh^2 x)`, which is stable for
    large :math:`|x|`.  Reference: Lewandowski, Kurowicka and Joe (2009), J. Multivariate
    Analysis 100; Stan Reference Manual, "Cholesky factors of correlation matrices".
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky

    def _pieces(self, x):
        k = _matrix_size(_shape_of(x)[-1], False, "CorrCholeskyTransform")
        X = _vec_to_tril(x, k, -1)  # zero on and above the diagonal, so tanh and log1m are 0 there
        log_w = _log1m_tanh2(X)
        # log of the squared norm left before column j: exclusive cumulative sum along the row.
        log_rest = anp.subtract(anp.cumsum(log_w, axis=-1), log_w)
        return k, X, log_w, log_rest

    def __call__(self, x):
        k, X, _, log_rest = self._pieces(x)
        return anp.multiply(anp.add(anp.tanh(X), np.eye(k)), anp.exp(anp.multiply(0.5, log_rest)))

    def inverse(self, y):
        rows, cols = np.tril_indices(_shape_of(y)[-1], -1)
        sq = anp.square(y)
        rest = anp.subtract(1.0, anp.subtract(anp.cumsum(sq, axis=-1), sq))
        z = anp.divide(y[..., rows, cols], anp.sqrt(rest[..., rows, cols]))
        return anp.arctanh(z)

    def log_abs_det_jacobian(self, x, y):
        k, _, log_w, log_rest = self._pieces(x)
        strictly_lower = np.tri(k, k, -1)
        terms = anp.add(log_w, anp.multiply(0.5, anp.multiply(log_rest, strictly_lower)))
        return anp.sum(anp.sum(terms, axis=-1), axis=-1)

    def forward_shape(self, shape):
        k = _matrix_size(shape[-1], False, "CorrCholeskyTransform")
        return (*shape[:-1], k, k)

    def inverse_shape(self, shape):
        return (*shape[:-2], shape[-1] * (shape[-1] - 1) // 2)


class CholeskyTransform(Transform):
    """Positive-definite :math:`A` onto its lower Cholesky factor :math:`L` (:math:`A = LL^T`).

    With respect to the lower triangles (diagonal included) of both,
    :math:`\\log|\\partial A/\\partial L| = K \\log 2 + \\sum_j (K - j) \\log L_{jj}`
    (:math:`j = 0..K-1`), and this map has the negative of that.
    """

    domain = constraints.positive_definite
    codomain = constraints.lower_cholesky

    def __call__(self, x):
        return anp.linalg.cholesky(x)

    def inverse(self, y):
        return anp.matmul(y, _mT(y))

    def log_abs_det_jacobian(self, x, y):
        k = _shape_of(y)[-1]
        weights = np.arange(k, 0, -1, dtype=float)
        return anp.negative(anp.add(k * np.log(2.0), anp.sum(weights * anp.log(_diag(y)), -1)))


class CorrMatrixCholeskyTransform(CholeskyTransform):
    """A correlation matrix onto its Cholesky factor.

    With respect to the strictly lower triangles of both (the diagonals are fixed by the rest),
    :math:`\\log|\\partial C/\\partial L| = \\sum_j (K - 1 - j) \\log L_{jj}`; this map has the
    negative of that.
    """

    domain = constraints.corr_matrix
    codomain = constraints.corr_cholesky

    def log_abs_det_jacobian(self, x, y):
        k = _shape_of(y)[-1]
        weights = np.arange(k - 1, -1, -1, dtype=float)
        return anp.negative(anp.sum(weights * anp.log(_diag(y)), -1))


class PositiveDefiniteTransform(ComposeTransform):
    """:math:`\\mathbb{R}^{K(K+1)/2}` onto positive-definite matrices: a lower Cholesky factor
    (:class:`LowerCholeskyTransform`), then :math:`LL^T` (the inverse of
    :class:`CholeskyTransform`); the log-Jacobian is with respect to the lower triangle."""

    def __init__(self):
        super().__init__([LowerCholeskyTransform(), CholeskyTransform().inv])

    def __repr__(self) -> str:
        return "PositiveDefiniteTransform()"


class CorrMatrixTransform(ComposeTransform):
    """:math:`\\mathbb{R}^{K(K-1)/2}` onto correlation matrices: :class:`CorrCholeskyTransform`,
    then :math:`LL^T`; the log-Jacobian is with respect to the strictly lower triangle."""

    def __init__(self):
        super().__init__([CorrCholeskyTransform(), CorrMatrixCholeskyTransform().inv])

    def __repr__(self) -> str:
        return "CorrMatrixTransform()"

