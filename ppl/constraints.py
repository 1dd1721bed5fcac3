"""Constraints: the supports of distributions and the domains and codomains of transforms.

A constraint answers three questions about a set :math:`S`:

* ``check(x)``: is ``x`` in :math:`S`?  Elementwise for ``event_dim == 0``; for a constraint on
  vectors or matrices (``event_dim`` 1 or 2) the answer is reduced over the event dimensions, so
  ``check(x).shape == x.shape[:x.ndim - event_dim]``;
* ``feasible_like(x)``: a point of :math:`S` shaped like ``x`` (used to initialise samplers);
* ``is_discrete``: whether :math:`S` is countable (no bijection to :math:`\\mathbb{R}^n` exists).

The names follow NumPyro (``positive``, ``interval(lo, hi)``, ``simplex``, ``corr_cholesky`` ...).
Bounds of parametrised constraints are stored exactly as given: they may be arrays, or traced
values that depend on other sample sites (``Uniform(low, high)`` with ``high`` sampled), so
``check`` and ``feasible_like`` are written in :mod:`autodiff.numpy` operations and work on
traced values as well as on NumPy arrays.

This module owns the constraint objects only; the bijections from :math:`\\mathbb{R}^n` onto
each support (``biject_to``) live in :mod:`ppl.transforms`.

>>> import numpy as np
>>> from ppl import constraints
>>> constraints.positive.check(np.array([1.0, -1.0]))
array([ True, False])
>>> constraints.simplex.check(np.array([[0.2, 0.8], [0.5, 0.6]]))
array([ True, False])
>>> constraints.interval(0.0, 2.0)
interval(lower_bound=0.0, upper_bound=2.0)
>>> constraints.corr_cholesky.feasible_like(np.zeros((3, 3)))
array([[1., 0., 0.],
       [0., 1., 0.],
       [0., 0., 1.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer

__all__ = [
    "Constraint",
    "boolean",
    "circular",
    "corr_cholesky",
    "corr_matrix",
    "dependent",
    "greater_than",
    "greater_than_eq",
    "independent",
    "integer_greater_than",
    "integer_interval",
    "interval",
    "l1_ball",
    "less_than",
    "less_than_eq",
    "lower_cholesky",
    "multinomial",
    "nonnegative",
    "nonnegative_integer",
    "open_interval",
    "ordered_vector",
    "positive",
    "positive_definite",
    "positive_definite_circulant_vector",
    "positive_integer",
    "positive_ordered_vector",
    "positive_semidefinite",
    "real",
    "real_matrix",
    "real_vector",
    "simplex",
    "softplus_lower_cholesky",
    "softplus_positive",
    "sphere",
    "unit_interval",
    "unit_vector",
    "zero_sum",
]

# Tolerance of the equality parts of checks (a simplex sums to one, a Cholesky row has unit
# norm): the bijectors reach these sets only up to rounding, so exact equality would reject them.
TOL = 1e-6


def _fmt(v: Any) -> str:
    """A short, readable rendering of a bound for ``repr``."""
    if isinstance(v, Tracer):
        return f"<traced {tuple(v.shape)}>"
    a = np.asarray(v)
    if a.ndim == 0:
        return repr(a.item())
    if a.size <= 4:
        return np.array2string(a, separator=", ")
    return f"<array {a.shape}>"


def _all(x, event_dim: int):
    """Reduce a boolean array over its ``event_dim`` rightmost axes."""
    for _ in range(event_dim):
        x = anp.all(x, axis=-1)
    return x


def _is_integer(x):
    return anp.equal(x, anp.floor(x))


class Constraint:
    """A set of values, with a membership test.

    Subclasses set ``event_dim`` (how many rightmost axes one element of the set spans) and
    ``is_discrete``, and implement ``check`` and ``feasible_like``.
    """

    event_dim: int = 0
    is_discrete: bool = False

    def __call__(self, x):
        return self.check(x)

    def check(self, x):
        """Boolean array: ``x`` in the set, reduced over the ``event_dim`` rightmost axes."""
        raise NotImplementedError

    def feasible_like(self, prototype):
        """A point of the set with the shape of ``prototype``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_").lower()


class _Singleton(Constraint):
    """A constraint without parameters; its ``repr`` is its module-level name."""

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return self._name


# ---- real line ---------------------------------------------------------------------------------


class _Real(_Singleton):
    def check(self, x):
        # NaN and infinities are not real numbers; a NaN parameter must fail validation.
        return anp.isfinite(x)

    def feasible_like(self, prototype):
        return anp.zeros_like(prototype)


class _Independent(Constraint):
    """``base`` applied elementwise, with ``reinterpreted_batch_ndims`` axes made event axes."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int):
        if reinterpreted_batch_ndims < 0:
            raise ValueError(
                f"independent: reinterpreted_batch_ndims must be >= 0, got "
                f"{reinterpreted_batch_ndims}"
            )
        self.base_constraint = base
        self.reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)
        self.event_dim = base.event_dim + self.reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete

    def check(self, x):
        return _all(self.base_constraint.check(x), self.reinterpreted_batch_ndims)

    def feasible_like(self, prototype):
        return self.base_constraint.feasible_like(prototype)

    def __repr__(self) -> str:
        names = {(real, 1): "real_vector", (real, 2): "real_matrix"}
        key = (self.base_constraint, self.reinterpreted_batch_ndims)
        if key in names:
            return names[key]
        return f"independent({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, _Independent)
            and other.base_constraint == self.base_constraint
            and other.reinterpreted_batch_ndims == self.reinterpreted_batch_ndims
        )

    def __hash__(self) -> int:
        return hash((_Independent, self.base_constraint, self.reinterpreted_batch_ndims))


# ---- bounded intervals -------------------------------------------------------------------------


class _GreaterThan(Constraint):
    """:math:`x > \\text{lower\\_bound}`."""

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, x):
        return anp.greater(x, self.lower_bound)

    def feasible_like(self, prototype):
        return anp.add(anp.zeros_like(prototype), anp.add(self.lower_bound, 1.0))

    def __repr__(self) -> str:
        return f"greater_than(lower_bound={_fmt(self.lower_bound)})"


class _GreaterThanEq(_GreaterThan):
    """:math:`x \\ge \\text{lower\\_bound}`."""

    def check(self, x):
        return anp.greater_equal(x, self.lower_bound)

    def __repr__(self) -> str:
        return f"greater_than_eq(lower_bound={_fmt(self.lower_bound)})"


class _Positive(_GreaterThan):
    def __init__(self):
        super().__init__(0.0)

    def feasible_like(self, prototype):
        return anp.ones_like(prototype)

    def __repr__(self) -> str:
        return "positive"


class _Nonnegative(_GreaterThanEq):
    def __init__(self):
        super().__init__(0.0)

    def feasible_like(self, prototype):
        return anp.ones_like(prototype)

    def __repr__(self) -> str:
        return "nonnegative"


class _SoftplusPositive(_Positive):
    """Positive reals, mapped to by ``softplus`` rather than ``exp`` in ``biject_to``."""

    def __repr__(self) -> str:
        return "softplus_positive"


class _LessThan(Constraint):
    """:math:`x < \\text{upper\\_bound}`."""

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, x):
        return anp.less(x, self.upper_bound)

    def feasible_like(self, prototype):
        return anp.add(anp.zeros_like(prototype), anp.subtract(self.upper_bound, 1.0))

    def __repr__(self) -> str:
        return f"less_than(upper_bound={_fmt(self.upper_bound)})"


class _LessThanEq(_LessThan):
    """:math:`x \\le \\text{upper\\_bound}`."""

    def check(self, x):
        return anp.less_equal(x, self.upper_bound)

    def __repr__(self) -> str:
        return f"less_than_eq(upper_bound={_fmt(self.upper_bound)})"


class _Interval(Constraint):
    """The closed interval :math:`[\\text{lower\\_bound}, \\text{upper\\_bound}]` (as NumPyro)."""

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, x):
        return anp.logical_and(
            anp.greater_equal(x, self.lower_bound), anp.less_equal(x, self.upper_bound)
        )

    def feasible_like(self, prototype):
        mid = anp.multiply(anp.add(self.lower_bound, self.upper_bound), 0.5)
        return anp.add(anp.zeros_like(prototype), mid)

    def __repr__(self) -> str:
        lo, hi = _fmt(self.lower_bound), _fmt(self.upper_bound)
        return f"interval(lower_bound={lo}, upper_bound={hi})"


class _OpenInterval(_Interval):
    """The open interval :math:`(\\text{lower\\_bound}, \\text{upper\\_bound})`."""

    def check(self, x):
        return anp.logical_and(anp.greater(x, self.lower_bound), anp.less(x, self.upper_bound))

    def __repr__(self) -> str:
        lo, hi = _fmt(self.lower_bound), _fmt(self.upper_bound)
        return f"open_interval(lower_bound={lo}, upper_bound={hi})"


class _UnitInterval(_Interval):
    def __init__(self):
        super().__init__(0.0, 1.0)

    def __repr__(self) -> str:
        return "unit_interval"


class _Circular(_Interval):
    """Angles, :math:`[-\\pi, \\pi]`."""

    def __init__(self):
        super().__init__(-np.pi, np.pi)

    def __repr__(self) -> str:
        return "circular"


# ---- discrete ----------------------------------------------------------------------------------


class _Boolean(_Singleton):
    is_discrete = True

    def check(self, x):
        return anp.logical_or(anp.equal(x, 0), anp.equal(x, 1))

    def feasible_like(self, prototype):
        return anp.zeros_like(prototype)


class _IntegerInterval(Constraint):
    """Integers in :math:`\\{\\text{lower\\_bound}, \\dots, \\text{upper\\_bound}\\}`."""

    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, x):
        inside = anp.logical_and(
            anp.greater_equal(x, self.lower_bound), anp.less_equal(x, self.upper_bound)
        )
        return anp.logical_and(inside, _is_integer(x))

    def feasible_like(self, prototype):
        return anp.add(anp.zeros_like(prototype), self.lower_bound)

    def __repr__(self) -> str:
        lo, hi = _fmt(self.lower_bound), _fmt(self.upper_bound)
        return f"integer_interval(lower_bound={lo}, upper_bound={hi})"


class _IntegerGreaterThan(Constraint):
    """Integers :math:`\\ge \\text{lower\\_bound}` (inclusive, as NumPyro's)."""

    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, x):
        return anp.logical_and(anp.greater_equal(x, self.lower_bound), _is_integer(x))

    def feasible_like(self, prototype):
        return anp.add(anp.zeros_like(prototype), self.lower_bound)

    def __repr__(self) -> str:
        return f"integer_greater_than(lower_bound={_fmt(self.lower_bound)})"


class _NonnegativeInteger(_IntegerGreaterThan):
    def __init__(self):
        super().__init__(0)

    def __repr__(self) -> str:
        return "nonnegative_integer"


class _PositiveInteger(_IntegerGreaterThan):
    def __init__(self):
        super().__init__(1)

    def __repr__(self) -> str:
        return "positive_integer"


class _Multinomial(Constraint):
    """Count vectors: nonnegative integers summing to ``upper_bound``."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, x):
        ok = anp.all(anp.logical_and(anp.greater_equal(x, 0), _is_integer(x)), axis=-1)
        return anp.logical_and(ok, anp.equal(anp.sum(x, axis=-1), self.upper_bound))

    def feasible_like(self, prototype):
        # Everything in the first category.
        first = np.zeros(anp.shape(prototype)[-1])
        first[0] = 1.0
        return anp.multiply(anp.add(anp.zeros_like(prototype), first),
                            anp.expand_dims(anp.asarray(self.upper_bound), -1))

    def __repr__(self) -> str:
        return f"multinomial(upper_bound={_fmt(self.upper_bound)})"


# ---- vectors -----------------------------------------------------------------------------------


class _Simplex(_Singleton):
    """:math:`\\{x \\in \\mathbb{R}^K : x_k \\ge 0, \\sum_k x_k = 1\\}` (sum to within ``TOL``)."""

    event_dim = 1

    def check(self, x):
        nonneg = anp.all(anp.greater_equal(x, 0.0), axis=-1)
        return anp.logical_and(nonneg, anp.less(anp.abs(anp.sum(x, axis=-1) - 1.0), TOL))

    def feasible_like(self, prototype):
        n = anp.shape(prototype)[-1]
        return anp.add(anp.zeros_like(prototype), 1.0 / n)


class _OrderedVector(_Singleton):
    """Strictly increasing vectors."""

    event_dim = 1

    def check(self, x):
        return anp.all(anp.greater(x[..., 1:], x[..., :-1]), axis=-1)

    def feasible_like(self, prototype):
        n = anp.shape(prototype)[-1]
        return anp.add(anp.zeros_like(prototype), np.arange(float(n)))


class _PositiveOrderedVector(_OrderedVector):
    """Strictly increasing vectors of positive numbers."""

    def check(self, x):
        return anp.logical_and(super().check(x), anp.all(anp.greater(x, 0.0), axis=-1))

    def feasible_like(self, prototype):
        n = anp.shape(prototype)[-1]
        return anp.add(anp.zeros_like(prototype), np.arange(1.0, n + 1.0))


class _Sphere(_Singleton):
    """Unit vectors, :math:`\\|x\\|_2 = 1` (to within ``TOL``)."""

    event_dim = 1

    def check(self, x):
        norm = anp.sqrt(anp.sum(anp.square(x), axis=-1))
        return anp.less(anp.abs(norm - 1.0), TOL)

    def feasible_like(self, prototype):
        first = np.zeros(anp.shape(prototype)[-1])
        first[0] = 1.0
        return anp.add(anp.zeros_like(prototype), first)


class _L1Ball(_Singleton):
    r"""Vectors in the closed unit :math:`\ell_1` ball, :math:`\sum_i |x_i| \le 1` (to within
    ``TOL``); NumPyro's ``l1_ball`` (the skewness of ``SineSkewed``)."""

    event_dim = 1

    def check(self, x):
        return anp.less_equal(anp.sum(anp.abs(x), axis=-1), 1.0 + TOL)

    def feasible_like(self, prototype):
        return anp.zeros_like(prototype)


class _PositiveDefiniteCirculantVector(_Singleton):
    """First rows :math:`c` of symmetric positive-definite circulant matrices: symmetric
    (:math:`c_k = c_{n-k}`) with a positive real FFT (the eigenvalues).  Concrete values only
    (uses ``numpy.fft``); NumPyro's ``positive_definite_circulant_vector``."""

    event_dim = 1

    def check(self, x):
        x = np.asarray(x)
        n = x.shape[-1]
        mirrored = np.concatenate([x[..., :1], np.flip(x[..., 1:], -1)], -1)
        symmetric = np.all(np.abs(x - mirrored) <= TOL * np.maximum(1.0, np.abs(x)), -1)
        return np.logical_and(symmetric, np.all(np.fft.rfft(x, n=n).real > 0, -1))

    def feasible_like(self, prototype):
        shape = anp.shape(prototype)
        return np.broadcast_to(np.eye(1, shape[-1])[0], shape).copy()


class _ZeroSum(Constraint):
    """Arrays summing to zero along each of their ``event_dim`` rightmost axes.

    The tolerance scales with the size of the entries (``TOL * (1 + max|x|)``), since a
    zero-sum vector made of large entries sums to zero only up to their rounding error.
    """

    def __init__(self, event_dim: int = 1):
        if event_dim < 1:
            raise ValueError(f"zero_sum: event_dim must be >= 1, got {event_dim}")
        self.event_dim = int(event_dim)

    def check(self, x):
        scale = anp.add(1.0, anp.abs(x))
        ok = None
        for axis in range(-self.event_dim, 0):
            tol = anp.multiply(TOL, anp.max(scale, axis=axis, keepdims=True))
            zero = anp.less_equal(anp.abs(anp.sum(x, axis=axis, keepdims=True)), tol)
            ok = zero if ok is None else anp.logical_and(ok, zero)
        return _all(anp.broadcast_to(ok, anp.shape(x)), self.event_dim)

    def feasible_like(self, prototype):
        return anp.zeros_like(prototype)

    def __repr__(self) -> str:
        return f"zero_sum(event_dim={self.event_dim})"

    def __eq__(self, other) -> bool:
        return isinstance(other, _ZeroSum) and other.event_dim == self.event_dim

    def __hash__(self) -> int:
        return hash((_ZeroSum, self.event_dim))


# ---- matrices ----------------------------------------------------------------------------------


def _eye_like(prototype):
    n = anp.shape(prototype)[-1]
    return anp.add(anp.zeros_like(prototype), np.eye(n))


def _is_lower_triangular(x):
    n, m = anp.shape(x)[-2:]
    strictly_upper = ~np.tri(n, m, dtype=bool)
    return _all(anp.logical_or(~strictly_upper, anp.equal(x, 0.0)), 2)


def _diagonal(x):
    return anp.diagonal(x, 0, -2, -1)


def _is_symmetric(x):
    return _all(anp.less(anp.abs(x - anp.swapaxes(x, -1, -2)), TOL), 2)


class _LowerCholesky(_Singleton):
    """Lower-triangular matrices with a positive diagonal."""

    event_dim = 2

    def check(self, x):
        positive_diagonal = anp.all(anp.greater(_diagonal(x), 0.0), axis=-1)
        return anp.logical_and(_is_lower_triangular(x), positive_diagonal)

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _SoftplusLowerCholesky(_LowerCholesky):
    """Lower Cholesky factors, mapped to with a ``softplus`` diagonal in ``biject_to``."""


class _CorrCholesky(_Singleton):
    """Cholesky factors of correlation matrices: lower Cholesky factors with unit-norm rows."""

    event_dim = 2

    def check(self, x):
        norm = anp.sqrt(anp.sum(anp.square(x), axis=-1))
        unit_rows = anp.all(anp.less(anp.abs(norm - 1.0), TOL), axis=-1)
        return anp.logical_and(_LowerCholesky.check(self, x), unit_rows)

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _PositiveDefinite(_Singleton):
    """Symmetric positive-definite matrices (the Cholesky factorisation succeeds)."""

    event_dim = 2

    def check(self, x):
        # anp's Cholesky returns NaN on a matrix that is not positive definite, so this test
        # also works on traced values (an eigendecomposition is not differentiable here).
        chol = anp.linalg.cholesky(anp.multiply(anp.add(x, anp.swapaxes(x, -1, -2)), 0.5))
        return anp.logical_and(_is_symmetric(x), _all(anp.isfinite(chol), 2))

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _PositiveSemidefinite(_Singleton):
    """Symmetric positive-semidefinite matrices (concrete values only: uses ``eigvalsh``)."""

    event_dim = 2

    def check(self, x):
        x = np.asarray(x)
        sym = np.all(np.abs(x - np.swapaxes(x, -1, -2)) < TOL, axis=(-2, -1))
        return sym & np.all(np.linalg.eigvalsh(x) >= -TOL, axis=-1)

    def feasible_like(self, prototype):
        return _eye_like(prototype)


class _CorrMatrix(_PositiveDefinite):
    """Correlation matrices: positive definite with a unit diagonal."""

    def check(self, x):
        unit_diagonal = anp.all(anp.less(anp.abs(_diagonal(x) - 1.0), TOL), axis=-1)
        return anp.logical_and(super().check(x), unit_diagonal)


# ---- dependent ---------------------------------------------------------------------------------


class _Dependent(Constraint):
    """A placeholder for a support that depends on other arguments and has no checkable form.

    Calling it gives a copy with ``is_discrete``/``event_dim`` declared, as NumPyro's.
    """

    def __init__(self, is_discrete=NotImplemented, event_dim=NotImplemented):
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    @property
    def is_discrete(self):  # type: ignore[override]
        if self._is_discrete is NotImplemented:
            raise NotImplementedError("dependent: is_discrete was not declared")
        return self._is_discrete

    @property
    def event_dim(self):  # type: ignore[override]
        if self._event_dim is NotImplemented:
            raise NotImplementedError("dependent: event_dim was not declared")
        return self._event_dim

    def __call__(self, x=NotImplemented, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        if x is not NotImplemented:
            return self.check(x)
        return _Dependent(is_discrete, event_dim)

    def check(self, x):
        raise ValueError("dependent: this constraint cannot be checked (it has no concrete form)")

    def __repr__(self) -> str:
        return "dependent"


# ---- public names ------------------------------------------------------------------------------

real = _Real("real")
real_vector = _Independent(real, 1)
real_matrix = _Independent(real, 2)
positive = _Positive()
nonnegative = _Nonnegative()
softplus_positive = _SoftplusPositive()
unit_interval = _UnitInterval()
circular = _Circular()
boolean = _Boolean("boolean")
nonnegative_integer = _NonnegativeInteger()
positive_integer = _PositiveInteger()
simplex = _Simplex("simplex")
ordered_vector = _OrderedVector("ordered_vector")
positive_ordered_vector = _PositiveOrderedVector("positive_ordered_vector")
unit_vector = sphere = _Sphere("sphere")
l1_ball = _L1Ball("l1_ball")
lower_cholesky = _LowerCholesky("lower_cholesky")
softplus_lower_cholesky = _SoftplusLowerCholesky("softplus_lower_cholesky")
corr_cholesky = _CorrCholesky("corr_cholesky")
positive_definite = _PositiveDefinite("positive_definite")
positive_definite_circulant_vector = _PositiveDefiniteCirculantVector(
    "positive_definite_circulant_vector")
positive_semidefinite = _PositiveSemidefinite("positive_semidefinite")
corr_matrix = _CorrMatrix("corr_matrix")
dependent = _Dependent()

independent = _Independent
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
less_than_eq = _LessThanEq
interval = _Interval
open_interval = _OpenInterval
integer_interval = _IntegerInterval
integer_greater_than = _IntegerGreaterThan
multinomial = _Multinomial
zero_sum = _ZeroSum
