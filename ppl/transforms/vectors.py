"""Transforms onto constrained vectors: simplex, ordered, positive-ordered, unit sphere, zero-sum.

Each acts on the last axis (the zero-sum map on the ``transform_ndims`` last axes) and may change
its length (:math:`K-1 \\to K` for the simplex), so ``forward_shape``/``inverse_shape`` are
overridden where needed and the log-Jacobian is taken with respect to the free coordinates.
"""

from __future__ import annotations

import math

import numpy as np

import autodiff.numpy as anp
from autodiff.scipy.special import log1pexp
from ppl import constraints
from ppl.transforms.base import Transform, _shape_of

__all__ = [
    "OrderedTransform",
    "PositiveOrderedTransform",
    "StickBreakingTransform",
    "UnitVectorTransform",
    "ZeroSumTransform",
]


class StickBreakingTransform(Transform):
    """:math:`\\mathbb{R}^{K-1}` onto the :math:`K`-simplex, Stan's stick-breaking map.

    With :math:`z_k = \\sigma(x_k - \\log(K - k))` for :math:`k = 1..K-1` (the offset makes
    :math:`x = 0` the uniform simplex), :math:`y_k = z_k (1 - \\sum_{j<k} y_j)` and
    :math:`y_K = 1 - \\sum_{j<K} y_j`.  The Jacobian of :math:`x \\mapsto y_{1..K-1}` is lower
    triangular, so

    .. math:: \\log|J| = \\sum_{k<K} \\log z_k + \\log(1 - z_k) + \\log\\Big(1 - \\sum_{j<k} y_j\\Big).

    Everything is computed in log space (the remaining stick is
    :math:`\\prod_{j<k}(1 - z_j)`), so entries are exactly non-negative and tiny sticks keep
    their relative precision; the inverse uses reverse cumulative sums for the same reason.
    """

    domain = constraints.real_vector
    codomain = constraints.simplex

    @staticmethod
    def _offset(n: int) -> np.ndarray:
        return np.log(np.arange(n, 0, -1, dtype=float))

    def _pieces(self, x):
        t = anp.subtract(x, self._offset(_shape_of(x)[-1]))
        log_z = anp.negative(log1pexp(anp.negative(t)))
        log_1mz = anp.negative(log1pexp(t))
        cum = anp.cumsum(log_1mz, axis=-1)
        # log of the stick left before piece k: 0, then the running sum of log(1 - z_j).
        log_rest = anp.concatenate([anp.zeros_like(cum[..., :1]), cum[..., :-1]], axis=-1)
        return log_z, log_1mz, log_rest, cum[..., -1:]

    def __call__(self, x):
        log_z, _, log_rest, log_last = self._pieces(x)
        return anp.exp(anp.concatenate([anp.add(log_z, log_rest), log_last], axis=-1))

    def inverse(self, y):
        # tail_k = sum_{j >= k} y_j, by a reverse cumulative sum (accurate for small tails).
        tail = anp.flip(anp.cumsum(anp.flip(y, -1), axis=-1), -1)
        x = anp.subtract(anp.log(y[..., :-1]), anp.log(tail[..., 1:]))
        return anp.add(x, self._offset(_shape_of(y)[-1] - 1))

    def log_abs_det_jacobian(self, x, y):
        log_z, log_1mz, log_rest, _ = self._pieces(x)
        return anp.sum(anp.add(anp.add(log_z, log_1mz), log_rest), axis=-1)

    def forward_shape(self, shape):
        return (*shape[:-1], shape[-1] + 1)

    def inverse_shape(self, shape):
        return (*shape[:-1], shape[-1] - 1)


class OrderedTransform(Transform):
    """:math:`\\mathbb{R}^K` onto increasing vectors: :math:`y_1 = x_1`,
    :math:`y_k = y_{k-1} + e^{x_k}`; :math:`\\log|J| = \\sum_{k \\ge 2} x_k`."""

    domain = constraints.real_vector
    codomain = constraints.ordered_vector

    def __call__(self, x):
        steps = anp.concatenate([x[..., :1], anp.exp(x[..., 1:])], axis=-1)
        return anp.cumsum(steps, axis=-1)

    def inverse(self, y):
        return anp.concatenate([y[..., :1], anp.log(y[..., 1:] - y[..., :-1])], axis=-1)

    def log_abs_det_jacobian(self, x, y):
        return anp.sum(x[..., 1:], axis=-1)


class PositiveOrderedTransform(Transform):
    r""":math:`\mathbb{R}^K` onto increasing positive vectors (Stan's ``positive_ordered``):
    :math:`y_k = \sum_{j \le k} e^{x_j}`; :math:`\log|J| = \sum_k x_k`.

    Unlike ``exp`` of an ordered vector it has no double exponential, so moderate inputs
    cannot overflow.
    """

    domain = constraints.real_vector
    codomain = constraints.positive_ordered_vector

    def __call__(self, x):
        return anp.cumsum(anp.exp(x), axis=-1)

    def inverse(self, y):
        return anp.log(anp.concatenate([y[..., :1], y[..., 1:] - y[..., :-1]], axis=-1))

    def log_abs_det_jacobian(self, x, y):
        return anp.sum(x, axis=-1)


class UnitVectorTransform(Transform):
    """:math:`\\mathbb{R}^n` onto the unit sphere: :math:`y = x / \\|x\\|` (Stan's ``unit_vector``).

    Normalisation is not a bijection (the radius is lost), so, as Stan does, the
    "log-Jacobian" is the log density of a standard normal on :math:`x` up to a constant,
    :math:`-\\tfrac12 \\|x\\|^2`.  Adding it makes the unconstrained density proper: the radius
    gets a :math:`\\chi_n` distribution independent of the direction, and the direction keeps
    the target density on the sphere.  ``inverse(y)`` returns the preimage of radius 1.
    """

    domain = constraints.real_vector
    codomain = constraints.sphere
    bijective = False

    def __call__(self, x):
        return anp.divide(x, anp.sqrt(anp.sum(anp.square(x), axis=-1, keepdims=True)))

    def inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y):
        return anp.multiply(-0.5, anp.sum(anp.square(x), axis=-1))


def _axis_slice(axis: int, sl: slice) -> tuple:
    """An index selecting ``sl`` along the negative ``axis``."""
    return (Ellipsis, sl) + (slice(None),) * (-axis - 1)


class ZeroSumTransform(Transform):
    """:math:`\\mathbb{R}^{n-1}` onto zero-sum vectors of :math:`\\mathbb{R}^n` (PyMC, NumPyro).

    Along each of the ``transform_ndims`` rightmost axes, with :math:`s = \\sum_i x_i` and
    :math:`c = s / (\\sqrt n + n)`: :math:`y_i = x_i - c` for :math:`i < n` and
    :math:`y_n = -s/\\sqrt n`.  This is :math:`x \\mapsto H [x; 0]` for the Householder
    reflection :math:`H` taking :math:`e_n` to :math:`-\\mathbf{1}/\\sqrt n`: an isometry from
    :math:`\\mathbb{R}^{n-1}` onto the hyperplane :math:`\\sum_i y_i = 0`.  Densities on the
    hyperplane (``ZeroSumNormal``) are with respect to its own :math:`(n-1)`-dimensional Lebesgue
    measure, so :math:`\\log|J| = 0`.
    """

    def __init__(self, transform_ndims: int = 1):
        self.transform_ndims = int(transform_ndims)
        self.domain = constraints.independent(constraints.real, self.transform_ndims)
        self.codomain = constraints.zero_sum(self.transform_ndims)

    def __call__(self, x):
        for axis in range(-self.transform_ndims, 0):
            n = _shape_of(x)[axis] + 1
            s = anp.sum(x, axis=axis, keepdims=True)
            c = anp.divide(s, math.sqrt(n) + n)
            last = anp.divide(s, -math.sqrt(n))
            x = anp.concatenate([anp.subtract(x, c), last], axis=axis)
        return x

    def inverse(self, y):
        for axis in range(-self.transform_ndims, 0):
            n = _shape_of(y)[axis]
            s = anp.multiply(y[_axis_slice(axis, slice(n - 1, n))], -math.sqrt(n))
            c = anp.divide(s, math.sqrt(n) + n)
            y = anp.add(y[_axis_slice(axis, slice(0, n - 1))], c)
        return y

    def log_abs_det_jacobian(self, x, y):
        return anp.zeros(_shape_of(x)[: len(_shape_of(x)) - self.transform_ndims])

    def forward_shape(self, shape):
        k = self.transform_ndims
        return (*shape[: len(shape) - k], *(d + 1 for d in shape[len(shape) - k :]))

    def inverse_shape(self, shape):
        k = self.transform_ndims
        return (*shape[: len(shape) - k], *(d - 1 for d in shape[len(shape) - k :]))

    def __repr__(self) -> str:
        return f"ZeroSumTransform(transform_ndims={self.transform_ndims})"

