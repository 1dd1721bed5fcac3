"""Bijective transforms, and ``biject_to``: the map from :math:`\\mathbb{R}^n` onto each support.

A :class:`Transform` ``t`` maps its ``domain`` onto its ``codomain`` (both constraints of
:mod:`ppl.constraints`).  ``t(x)`` is the forward map, ``t.inverse(y)`` its inverse and
``t.log_abs_det_jacobian(x, y)`` the log of :math:`|\\det \\partial y / \\partial x|`, summed over
the transform's event dimensions (``domain.event_dim``), so it has the batch shape of ``x``.
``t.inv`` is the inverse as a transform.  For a map between spaces of different dimensions
(simplex, Cholesky factors ...) the Jacobian is taken with respect to the *free coordinates* of
the output (the first :math:`K-1` entries of a simplex, the strictly lower triangle of a
correlation Cholesky factor), as in Stan and NumPyro.

Every map is written in :mod:`autodiff.numpy` and :mod:`autodiff.scipy.special` operations
without Python control flow on values, so it differentiates, stages and compiles; parameters
(bounds, ``loc``, ``scale``) may be traced values that depend on other sample sites.

``biject_to(constraint)`` returns the transform from unconstrained space onto a support, as used
by NUTS and the autoguides:

>>> import numpy as np
>>> from ppl import constraints
>>> from ppl.transforms import biject_to
>>> t = biject_to(constraints.simplex)
>>> t(np.zeros(3))   # Stan's offset: zero maps to the uniform simplex
array([0.25, 0.25, 0.25, 0.25])
>>> t.inverse(t(np.array([0.5, -1.0, 2.0])))
array([ 0.5, -1. ,  2. ])
>>> biject_to(constraints.positive)
ExpTransform()

References: Stan Reference Manual, "Constraint transforms"; NumPyro ``distributions/transforms.py``
(names and conventions); Lewandowski, Kurowicka and Joe (2009) for the correlation transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from autodiff.scipy.special import expit, log1mexp, log1pexp, logit
from ppl import constraints
from ppl.constraints import Constraint

__all__ = [
    "AffineTransform",
    "CholeskyTransform",
    "ComposeTransform",
    "CorrCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "CorrMatrixTransform",
    "ExpTransform",
    "IdentityTransform",
    "IndependentTransform",
    "LowerBoundTransform",
    "LowerCholeskyTransform",
    "NoBijectorError",
    "OrderedTransform",
    "PositiveDefiniteTransform",
    "PositiveOrderedTransform",
    "PowerTransform",
    "ReshapeTransform",
    "SigmoidTransform",
    "SoftplusLowerCholeskyTransform",
    "SoftplusTransform",
    "StickBreakingTransform",
    "TanhTransform",
    "Transform",
    "UnitVectorTransform",
    "UpperBoundTransform",
    "ZeroSumTransform",
    "biject_to",
]


def _sum_rightmost(x, n: int):
    """Sum ``x`` over its ``n`` rightmost axes."""
    for _ in range(n):
        x = anp.sum(x, axis=-1)
    return x


def _shape_of(v) -> tuple[int, ...]:
    return tuple(anp.shape(v))


def _fmt(v) -> str:
    if isinstance(v, Tracer):
        return f"<traced {tuple(v.shape)}>"
    a = np.asarray(v)
    return repr(a.item()) if a.ndim == 0 else f"<array {a.shape}>"


class Transform:
    """A differentiable bijection from ``domain`` onto ``codomain``.

    Subclasses implement ``__call__``, ``inverse`` and ``log_abs_det_jacobian``, and override
    ``forward_shape``/``inverse_shape`` when the event shape changes.
    """

    domain: Constraint = constraints.real
    codomain: Constraint = constraints.real
    #: False for a map that is only a surjection (``UnitVectorTransform``), whose ``inverse``
    #: picks one preimage.
    bijective: bool = True

    def __call__(self, x):
        raise NotImplementedError

    def inverse(self, y):
        raise NotImplementedError

    def log_abs_det_jacobian(self, x, y):
        """:math:`\\log|\\det \\partial y/\\partial x|`, summed over the domain's event axes."""
        raise NotImplementedError

    def forward_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``t(x)`` for ``x`` of ``shape``."""
        return tuple(shape)

    def inverse_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``t.inverse(y)`` for ``y`` of ``shape``."""
        return tuple(shape)

    @property
    def sign(self):
        """+1 or -1: whether a scalar monotone transform increases or decreases."""
        raise NotImplementedError(f"{self!r}: sign is defined only for scalar monotone maps")

    @property
    def inv(self) -> Transform:
        """The inverse map as a transform."""
        return _InverseTransform(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _InverseTransform(Transform):
    def __init__(self, base: Transform):
        self.base = base
        self.domain, self.codomain = base.codomain, base.domain

    def __call__(self, x):
        return self.base.inverse(x)

    def inverse(self, y):
        return self.base(y)

    def log_abs_det_jacobian(self, x, y):
        return anp.negative(self.base.log_abs_det_jacobian(y, x))

    def forward_shape(self, shape):
        return self.base.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self.base.forward_shape(shape)

    @property
    def sign(self):
        return self.base.sign

    @property
    def inv(self) -> Transform:
        return self.base

    def __repr__(self) -> str:
        return f"{self.base!r}.inv"


# ---- composition and reinterpretation ---------------------------------------------------------


class ComposeTransform(Transform):
    """``parts[-1] ∘ ... ∘ parts[0]``: apply ``parts[0]`` first.

    Each part's log-det is summed over the event axes the composition has beyond that part's own
    (``ComposeTransform([OrderedTransform(), ExpTransform()])`` sums the elementwise log-det of
    ``exp`` over the vector), so the result has the batch shape of ``x``.
    """

    def __init__(self, parts: Sequence[Transform]):
        if not parts:
            raise ValueError("ComposeTransform: give at least one transform")
        self.parts = list(parts)

    @property
    def _domain_event_dim(self) -> int:
        # Walk backwards: how many rightmost input axes the whole chain treats as one event.
        dim = self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            dim += part.domain.event_dim - part.codomain.event_dim
            dim = max(dim, part.domain.event_dim)
        return dim

    def _event_dims(self) -> list[int]:
        """The event dim of the input of each part, given the composition's domain event dim."""
        dims, dim = [], self._domain_event_dim
        for part in self.parts:
            dims.append(dim)
            dim += part.codomain.event_dim - part.domain.event_dim
        return dims + [dim]

    @property
    def domain(self):  # type: ignore[override]
        base, extra = self.parts[0].domain, self._domain_event_dim - self.parts[0].domain.event_dim
        return constraints.independent(base, extra) if extra else base

    @property
    def codomain(self):  # type: ignore[override]
        base = self.parts[-1].codomain
        extra = self._event_dims()[-1] - base.event_dim
        return constraints.independent(base, extra) if extra else base

    def __call__(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def inverse(self, y):
        for part in reversed(self.parts):
            y = part.inverse(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        total = 0.0
        last = len(self.parts) - 1
        for i, (part, dim) in enumerate(zip(self.parts, self._event_dims())):
            out = y if i == last else part(x)  # the intermediates are recomputed, not stored
            term = part.log_abs_det_jacobian(x, out)
            total = anp.add(total, _sum_rightmost(term, dim - part.domain.event_dim))
            x = out
        return total

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return shape

    @property
    def sign(self):
        s = 1
        for part in self.parts:
            s = anp.multiply(s, part.sign)
        return s

    def __repr__(self) -> str:
        return f"{type(self).__name__}([{', '.join(map(repr, self.parts))}])"


class IndependentTransform(Transform):
    """``base`` with ``reinterpreted_batch_ndims`` more rightmost axes treated as event axes."""

    def __init__(self, base: Transform, reinterpreted_batch_ndims: int):
        self.base = base
        self.reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)
        n = self.reinterpreted_batch_ndims
        self.domain = constraints.independent(base.domain, n)
        self.codomain = constraints.independent(base.codomain, n)

    def __call__(self, x):
        return self.base(x)

    def inverse(self, y):
        return self.base.inverse(y)

    def log_abs_det_jacobian(self, x, y):
        return _sum_rightmost(self.base.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base.inverse_shape(shape)

    def __repr__(self) -> str:
        return f"IndependentTransform({self.base!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    """Reshape the event: ``inverse_shape`` (domain event) ↔ ``forward_shape`` (codomain event)."""

    def __init__(self, forward_shape: tuple[int, ...], inverse_shape: tuple[int, ...]):
        if math.prod(forward_shape) != math.prod(inverse_shape):
            raise ValueError(
                f"ReshapeTransform: event shapes {tuple(inverse_shape)} and "
                f"{tuple(forward_shape)} have different sizes"
            )
        self._fwd, self._inv = tuple(forward_shape), tuple(inverse_shape)
        self.domain = constraints.independent(constraints.real, len(self._inv))
        self.codomain = constraints.independent(constraints.real, len(self._fwd))

    def _batch(self, shape, event, name):
        shape = tuple(shape)
        if shape[len(shape) - len(event) :] != event:
            raise ValueError(f"ReshapeTransform.{name}: shape {shape} does not end in {event}")
        return shape[: len(shape) - len(event)]

    def __call__(self, x):
        return anp.reshape(x, self.forward_shape(_shape_of(x)))

    def inverse(self, y):
        return anp.reshape(y, self.inverse_shape(_shape_of(y)))

    def log_abs_det_jacobian(self, x, y):
        return anp.zeros(self._batch(_shape_of(x), self._inv, "log_abs_det_jacobian"))

    def forward_shape(self, shape):
        return self._batch(shape, self._inv, "forward_shape") + self._fwd

    def inverse_shape(self, shape):
        return self._batch(shape, self._fwd, "inverse_shape") + self._inv

    def __repr__(self) -> str:
        return f"ReshapeTransform(forward_shape={self._fwd}, inverse_shape={self._inv})"


# ---- elementwise ------------------------------------------------------------------------------


class IdentityTransform(Transform):
    """:math:`y = x`."""

    def __call__(self, x):
        return x

    def inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y):
        return anp.zeros_like(x)

    sign = 1


class ExpTransform(Transform):
    """:math:`y = e^x`, :math:`\\log|J| = x`."""

    codomain = constraints.positive
    sign = 1

    def __call__(self, x):
        return anp.exp(x)

    def inverse(self, y):
        return anp.log(y)

    def log_abs_det_jacobian(self, x, y):
        return x


class SoftplusTransform(Transform):
    """:math:`y = \\log(1 + e^x)`, :math:`\\log|J| = -\\log(1 + e^{-x})`."""

    codomain = constraints.softplus_positive
    sign = 1

    def __call__(self, x):
        return log1pexp(x)

    def inverse(self, y):
        # log(e^y - 1) = y + log(1 - e^{-y}), stable for small and large y.
        return anp.add(y, log1mexp(y))

    def log_abs_det_jacobian(self, x, y):
        return anp.negative(log1pexp(anp.negative(x)))


class SigmoidTransform(Transform):
    """:math:`y = 1/(1 + e^{-x})`, :math:`\\log|J| = -\\log(1+e^{-x}) - \\log(1+e^{x})`."""

    codomain = constraints.unit_interval
    sign = 1

    def __call__(self, x):
        return expit(x)

    def inverse(self, y):
        return logit(y)

    def log_abs_det_jacobian(self, x, y):
        return anp.negative(anp.add(log1pexp(x), log1pexp(anp.negative(x))))


class TanhTransform(Transform):
    """:math:`y = \\tanh x`, :math:`\\log|J| = \\log(1 - \\tanh^2 x) = 2(\\log 2 - x - \\log(1 + e^{-2x}))`."""

    codomain = constraints.interval(-1.0, 1.0)
    sign = 1

    def __call__(self, x):
        return anp.tanh(x)

    def inverse(self, y):
        return anp.arctanh(y)

    def log_abs_det_jacobian(self, x, y):
        return _log1m_tanh2(x)


def _log1m_tanh2(x):
    """:math:`\\log(1 - \\tanh^2 x)`, stable for large :math:`|x|` of either sign."""
    return anp.multiply(2.0, anp.subtract(np.log(2.0) - x, log1pexp(anp.multiply(-2.0, x))))


class PowerTransform(Transform):
    """:math:`y = x^p` on the positive reals, :math:`\\log|J| = \\log|p| + (p-1)\\log x`."""

    domain = constraints.positive
    codomain = constraints.positive

    def __init__(self, exponent):
        self.exponent = exponent

    def __call__(self, x):
        return anp.power(x, self.exponent)

    def inverse(self, y):
        return anp.power(y, anp.reciprocal(self.exponent))

    def log_abs_det_jacobian(self, x, y):
        p = self.exponent
        return anp.add(anp.log(anp.abs(p)), anp.multiply(anp.subtract(p, 1.0), anp.log(x)))

    def forward_shape(self, shape):
        return tuple(np.broadcast_shapes(tuple(shape), _shape_of(self.exponent)))

    inverse_shape = forward_shape

    @property
    def sign(self):
        return anp.sign(self.exponent)

    def __repr__(self) -> str:
        return f"PowerTransform(exponent={_fmt(self.exponent)})"


def _concrete_sign(v) -> int | None:
    """+1/-1 when ``v`` is concrete and all of one sign, else None (traced or mixed)."""
    if isinstance(v, Tracer):
        return None
    a = np.asarray(v)
    return 1 if np.all(a > 0) else (-1 if np.all(a < 0) else None)


class AffineTransform(Transform):
    """:math:`y = \\text{loc} + \\text{scale}\\, x`, :math:`\\log|J| = \\sum_{\\text{event}} \\log|\\text{scale}|`.

    ``event_dim`` axes of ``x`` form one event.  ``domain`` may be ``real`` (default),
    ``positive`` or ``unit_interval``; the codomain follows (``greater_than(loc)``,
    ``interval(loc, loc + scale)`` ... for a concrete positive scale; a traced scale is assumed
    positive).  ``loc`` and ``scale`` may be traced.
    """

    def __init__(self, loc, scale, event_dim: int = 0, domain: Constraint = constraints.real):
        self.loc, self.scale, self.event_dim = loc, scale, int(event_dim)
        self._domain = domain

    @property
    def domain(self):  # type: ignore[override]
        if self.event_dim and self._domain.event_dim == 0:
            return constraints.independent(self._domain, self.event_dim)
        return self._domain

    @property
    def codomain(self):  # type: ignore[override]
        negative = _concrete_sign(self.scale) == -1
        base = self._domain
        if isinstance(base, type(constraints.positive)):
            c = constraints.less_than(self.loc) if negative else constraints.greater_than(self.loc)
        elif isinstance(base, type(constraints.unit_interval)):
            ends = (self.loc, anp.add(self.loc, self.scale))
            c = constraints.interval(*(ends[::-1] if negative else ends))
        else:
            c = constraints.real
        return constraints.independent(c, self.event_dim) if self.event_dim else c

    def __call__(self, x):
        return anp.add(self.loc, anp.multiply(self.scale, x))

    def inverse(self, y):
        return anp.divide(anp.subtract(y, self.loc), self.scale)

    def log_abs_det_jacobian(self, x, y):
        shape = np.broadcast_shapes(_shape_of(x), _shape_of(y), _shape_of(self.scale))
        logdet = anp.broadcast_to(anp.log(anp.abs(self.scale)), shape)
        return _sum_rightmost(logdet, self.event_dim)

    def forward_shape(self, shape):
        return tuple(np.broadcast_shapes(tuple(shape), _shape_of(self.loc), _shape_of(self.scale)))

    inverse_shape = forward_shape

    @property
    def sign(self):
        return anp.sign(self.scale)

    def __repr__(self) -> str:
        return f"AffineTransform(loc={_fmt(self.loc)}, scale={_fmt(self.scale)})"


class LowerBoundTransform(Transform):
    """:math:`y = \\text{lower} + e^x` onto ``greater_than(lower)``; :math:`\\log|J| = x`."""

    sign = 1

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound
        self.codomain = constraints.greater_than(lower_bound)

    def __call__(self, x):
        return anp.add(self.lower_bound, anp.exp(x))

    def inverse(self, y):
        return anp.log(anp.subtract(y, self.lower_bound))

    def log_abs_det_jacobian(self, x, y):
        return anp.add(x, anp.zeros_like(y))

    def forward_shape(self, shape):
        return tuple(np.broadcast_shapes(tuple(shape), _shape_of(self.lower_bound)))

    inverse_shape = forward_shape

    def __repr__(self) -> str:
        return f"LowerBoundTransform(lower_bound={_fmt(self.lower_bound)})"


class UpperBoundTransform(Transform):
    """:math:`y = \\text{upper} - e^x` onto ``less_than(upper)``; :math:`\\log|J| = x`."""

    sign = -1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound
        self.codomain = constraints.less_than(upper_bound)

    def __call__(self, x):
        return anp.subtract(self.upper_bound, anp.exp(x))

    def inverse(self, y):
        return anp.log(anp.subtract(self.upper_bound, y))

    def log_abs_det_jacobian(self, x, y):
        return anp.add(x, anp.zeros_like(y))

    def forward_shape(self, shape):
        return tuple(np.broadcast_shapes(tuple(shape), _shape_of(self.upper_bound)))

    inverse_shape = forward_shape

    def __repr__(self) -> str:
        return f"UpperBoundTransform(upper_bound={_fmt(self.upper_bound)})"


# ---- vectors ----------------------------------------------------------------------------------


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


# ---- matrices ---------------------------------------------------------------------------------


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
    padded = anp.concatenate([v, anp.zeros_like(v[..., :1])], axis=-1)
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


# ---- biject_to --------------------------------------------------------------------------------


class NoBijectorError(NotImplementedError):
    """A support with no bijection from unconstrained space (discrete, or not supported)."""

    def __init__(self, constraint: Constraint):
        self.constraint = constraint
        super().__init__(
            f"support {constraint!r} has no bijector to the real line (it is discrete or not "
            "supported); marginalise the site (sum or enumerate it out of the model), replace "
            "it by a continuous relaxation, or observe it"
        )


class ConstraintRegistry:
    """Maps constraint types to factories ``factory(constraint) -> Transform``.

    Lookup walks the constraint's class hierarchy, so ``unit_interval`` (an ``interval``) uses
    the interval factory unless it has its own.
    """

    def __init__(self):
        self._factories: dict[type, Callable[[Any], Transform]] = {}

    def register(self, constraint, factory: Callable[[Any], Transform] | None = None):
        """Register ``factory`` for ``constraint`` (a constraint or its type); a decorator
        when ``factory`` is omitted."""
        key = constraint if isinstance(constraint, type) else type(constraint)
        if factory is None:
            return lambda f: self.register(key, f)
        self._factories[key] = factory
        return factory

    def __call__(self, constraint: Constraint) -> Transform:
        for cls in type(constraint).__mro__:
            if cls in self._factories:
                return self._factories[cls](constraint)
        raise NoBijectorError(constraint)


biject_to = ConstraintRegistry()

biject_to.register(constraints.real, lambda c: IdentityTransform())


@biject_to.register(constraints.real_vector)
def _biject_independent(c):
    try:
        base = biject_to(c.base_constraint)
    except NoBijectorError:
        raise NoBijectorError(c) from None  # name the constraint the caller asked about
    return IndependentTransform(base, c.reinterpreted_batch_ndims)


biject_to.register(constraints.positive, lambda c: ExpTransform())
biject_to.register(constraints.nonnegative, lambda c: ExpTransform())
biject_to.register(constraints.softplus_positive, lambda c: SoftplusTransform())
biject_to.register(constraints.greater_than, lambda c: LowerBoundTransform(c.lower_bound))
biject_to.register(constraints.less_than, lambda c: UpperBoundTransform(c.upper_bound))
biject_to.register(constraints.unit_interval, lambda c: SigmoidTransform())
biject_to.register(
    constraints.interval,
    lambda c: ComposeTransform([
        SigmoidTransform(),
        AffineTransform(c.lower_bound, anp.subtract(c.upper_bound, c.lower_bound),
                        domain=constraints.unit_interval),
    ]),
)
biject_to.register(constraints.simplex, lambda c: StickBreakingTransform())
biject_to.register(constraints.ordered_vector, lambda c: OrderedTransform())
biject_to.register(constraints.positive_ordered_vector, lambda c: PositiveOrderedTransform())
biject_to.register(constraints.sphere, lambda c: UnitVectorTransform())
biject_to.register(constraints.zero_sum, lambda c: ZeroSumTransform(c.event_dim))
biject_to.register(constraints.lower_cholesky, lambda c: LowerCholeskyTransform())
biject_to.register(constraints.softplus_lower_cholesky, lambda c: SoftplusLowerCholeskyTransform())
biject_to.register(constraints.corr_cholesky, lambda c: CorrCholeskyTransform())
biject_to.register(constraints.positive_definite, lambda c: PositiveDefiniteTransform())
biject_to.register(constraints.corr_matrix, lambda c: CorrMatrixTransform())
