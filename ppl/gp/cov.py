r"""Covariance functions (PyMC's ``pm.gp.cov`` names), written with :mod:`autodiff.numpy`.

A covariance function ``k`` maps inputs ``X`` (``n x input_dim``, or a vector when
``input_dim == 1``) and ``Xs`` (``m x input_dim``, default ``X``) to the matrix
:math:`K_{ij} = k(x_i, x'_j)`; ``k.diag(X)`` is the diagonal of ``k(X)`` without forming it.
Every hyperparameter may be a number, an array or a traced parameter of a model (a sample
site's value), so a kernel matrix built in a model differentiates and compiles.

``active_dims`` (a list of column indices) restricts a kernel to some input columns; a
lengthscale ``ls`` is a scalar or one value per active dimension.  The stationary kernels are
functions of the scaled distance

.. math:: r^2 = \sum_{d} \frac{(x_d - x'_d)^2}{\ell_d^2}

- ``ExpQuad``: :math:`\exp(-r^2/2)`
- ``Matern12``: :math:`\exp(-r)`
- ``Matern32``: :math:`(1 + \sqrt3 r)\exp(-\sqrt3 r)`
- ``Matern52``: :math:`(1 + \sqrt5 r + \tfrac53 r^2)\exp(-\sqrt5 r)`
- ``RationalQuadratic``: :math:`(1 + r^2/(2\alpha))^{-\alpha}`
- ``Periodic``: :math:`\exp\big(-\tfrac12\sum_d \sin^2(\pi|x_d - x'_d|/T)/\ell_d^2\big)`
  (PyMC's convention: scikit-learn's ``ExpSineSquared(length_scale=ℓ/2, periodicity=T)``)
- ``Linear``: :math:`(x - c)^T(x' - c)`
- ``WhiteNoise``: :math:`\sigma^2\,\delta_{ij}` (``k(X)`` is :math:`\sigma^2 I`, ``k(X, Xs)``
  is zero)

Kernels combine as PyMC's do: ``k1 + k2`` (sum), ``k1 * k2`` (elementwise product), and
``c * k`` or ``k * c`` with a number, an array or a traced parameter ``c`` (``eta**2 * k``).

>>> import numpy as np
>>> from ppl.gp import ExpQuad, WhiteNoise
>>> k = 2.0 * ExpQuad(1, ls=1.0) + WhiteNoise(0.1)
>>> X = np.array([0.0, 1.0])
>>> np.round(k(X), 4)
array([[2.01  , 1.2131],
       [1.2131, 2.01  ]])
>>> k.diag(X)
array([2.01, 2.01])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff.numpy as anp

__all__ = [
    "Covariance",
    "ExpQuad",
    "Linear",
    "Matern12",
    "Matern32",
    "Matern52",
    "Periodic",
    "Prod",
    "RationalQuadratic",
    "Stationary",
    "Sum",
    "WhiteNoise",
]


class Covariance:
    """Base class: ``input_dim`` columns of which ``active_dims`` are used.

    Subclasses implement ``full(X, Xs)`` and ``diag_(X)`` on inputs already restricted to the
    active columns (2-D arrays).  ``__array_ufunc__ = None`` makes NumPy arrays and traced
    values hand ``array * kernel`` to the kernel's ``__rmul__``.
    """

    __array_ufunc__ = None

    def __init__(self, input_dim: int, active_dims: Sequence[int] | None = None):
        if not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
            raise ValueError(f"{type(self).__name__}: input_dim must be a positive integer, "
                             f"got {input_dim!r}")
        self.input_dim = int(input_dim)
        if active_dims is None:
            active_dims = list(range(self.input_dim))
        active_dims = [int(d) for d in np.atleast_1d(active_dims)]
        bad = [d for d in active_dims if not 0 <= d < self.input_dim]
        if bad or not active_dims:
            raise ValueError(f"{type(self).__name__}: active_dims {active_dims} must be column "
                             f"indices in [0, {self.input_dim})")
        self.active_dims = active_dims

    # ---- inputs ----------------------------------------------------------------------------
    def _inputs_full(self, X: Any, what: str = "X") -> Any:
        """``X`` as an ``n x input_dim`` matrix (a vector when ``input_dim == 1``), checked."""
        X = X if hasattr(X, "shape") else np.asarray(X, float)
        shape = anp.shape(X)
        if len(shape) == 1 and self.input_dim in (1, None):
            return anp.reshape(X, (shape[0], 1))
        if len(shape) != 2 or (self.input_dim is not None and shape[1] != self.input_dim):
            raise ValueError(f"{type(self).__name__}: {what} must have shape (n, "
                             f"{self.input_dim}) (input_dim={self.input_dim}), got {shape}")
        return X

    def _restrict(self, X: Any) -> Any:
        """Columns ``active_dims`` of a full ``n x input_dim`` matrix."""
        if self.active_dims is not None and self.active_dims != list(range(self.input_dim)):
            return anp.take(X, np.asarray(self.active_dims), axis=1)
        return X

    def _restrict_or_none(self, X: Any) -> Any:
        return None if X is None else self._restrict(X)

    def __call__(self, X: Any, Xs: Any = None) -> Any:
        """The covariance matrix ``k(X, Xs)`` (``n x m``; ``k(X, X)`` when ``Xs`` is None)."""
        Xa = self._inputs_full(X, "X")
        Xb = None if Xs is None else self._inputs_full(Xs, "Xs")
        return self.full(self._restrict(Xa), self._restrict_or_none(Xb))

    def diag(self, X: Any) -> Any:
        """The diagonal of ``k(X)``, a vector of length ``n``."""
        return self.diag_(self._restrict(self._inputs_full(X, "X")))

    def full(self, X: Any, Xs: Any | None) -> Any:
        raise NotImplementedError

    def diag_(self, X: Any) -> Any:
        raise NotImplementedError

    # ---- algebra ---------------------------------------------------------------------------
    def __add__(self, other: Any) -> Sum:
        return Sum([self, other])

    __radd__ = __add__

    def __mul__(self, other: Any) -> Prod:
        return Prod([self, other])

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_dim={self.input_dim}, active_dims={self.active_dims})"


class _Combination(Covariance):
    """Sum or product of kernels and parameters (numbers, arrays, traced values)."""

    def __init__(self, factors: list):
        flat = []
        for f in factors:
            flat.extend(f.factors if type(f) is type(self) else [f])
        kernels = [f for f in flat if isinstance(f, Covariance)]
        dims = {k.input_dim for k in kernels} - {None}
        if len(dims) > 1:
            raise ValueError(f"{type(self).__name__}: kernels of different input_dim {sorted(dims)}"
                             " cannot be combined")
        self.factors = flat
        self.input_dim = dims.pop() if dims else None
        self.active_dims = None

    def _parts(self, X, Xs, diag: bool):
        out = []
        for f in self.factors:
            if isinstance(f, Covariance):
                out.append(f.diag_(f._restrict(X)) if diag else f.full(f._restrict(X),
                                                                     f._restrict_or_none(Xs)))
            else:
                out.append(f)
        return out


class Sum(_Combination):
    r"""``k1 + k2 + ...``: :math:`k(x, x') = \sum_i k_i(x, x')` (a parameter adds a constant)."""

    def full(self, X, Xs):
        out = 0.0
        for part in self._parts(X, Xs, False):
            out = anp.add(out, part)
        return out

    def diag_(self, X):
        out = 0.0
        for part in self._parts(X, None, True):
            out = anp.add(out, part)
        return out


class Prod(_Combination):
    r"""``k1 * k2 * ...``: :math:`k(x, x') = \prod_i k_i(x, x')` (a parameter scales)."""

    def full(self, X, Xs):
        out = 1.0
        for part in self._parts(X, Xs, False):
            out = anp.multiply(out, part)
        return out

    def diag_(self, X):
        out = 1.0
        for part in self._parts(X, None, True):
            out = anp.multiply(out, part)
        return out


class Stationary(Covariance):
    """A kernel of the scaled distance :math:`r` (see the module docstring): ``ls`` is a scalar
    or one lengthscale per active dimension."""

    def __init__(self, input_dim: int, ls: Any = None, ls_inv: Any = None,
                 active_dims: Sequence[int] | None = None):
        super().__init__(input_dim, active_dims)
        if (ls is None) == (ls_inv is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of ls or ls_inv")
        ls = anp.divide(1.0, ls_inv) if ls is None else ls
        if isinstance(ls, (list, tuple)):
            ls = np.asarray(ls, float)
        shape = anp.shape(ls)
        if shape not in ((), (1,), (len(self.active_dims),)):
            raise ValueError(f"{type(self).__name__}: ls of shape {shape} must be a scalar or have "
                             f"one value per active dimension ({len(self.active_dims)})")
        self.ls = ls

    def square_dist(self, X, Xs):
        """:math:`r^2` between the rows of ``X`` and ``Xs`` (``n x m``)."""
        Xs = X if Xs is None else Xs
        diff = anp.divide(anp.subtract(anp.expand_dims(X, 1), anp.expand_dims(Xs, 0)), self.ls)
        return anp.sum(anp.square(diff), axis=-1)

    def euclidean_dist(self, X, Xs):
        """:math:`r`, with the square root kept off zero (a finite gradient on the diagonal)."""
        return anp.sqrt(anp.maximum(self.square_dist(X, Xs), 1e-36))

    def diag_(self, X):
        return anp.ones((anp.shape(X)[0],))


class ExpQuad(Stationary):
    r"""Squared exponential: :math:`k(x, x') = \exp(-r^2/2)`."""

    def full(self, X, Xs):
        return anp.exp(-0.5 * self.square_dist(X, Xs))


class Matern12(Stationary):
    r"""Matérn, :math:`\nu = 1/2` (exponential): :math:`k(x, x') = \exp(-r)`."""

    def full(self, X, Xs):
        return anp.exp(-self.euclidean_dist(X, Xs))


class Matern32(Stationary):
    r"""Matérn, :math:`\nu = 3/2`: :math:`k(x, x') = (1 + \sqrt3 r)\exp(-\sqrt3 r)`."""

    def full(self, X, Xs):
        r = math.sqrt(3.0) * self.euclidean_dist(X, Xs)
        return (1.0 + r) * anp.exp(-r)


class Matern52(Stationary):
    r"""Matérn, :math:`\nu = 5/2`: :math:`k = (1 + \sqrt5 r + \tfrac53 r^2)\exp(-\sqrt5 r)`."""

    def full(self, X, Xs):
        r2 = self.square_dist(X, Xs)
        r = math.sqrt(5.0) * anp.sqrt(anp.maximum(r2, 1e-36))
        return (1.0 + r + (5.0 / 3.0) * r2) * anp.exp(-r)


class RationalQuadratic(Stationary):
    r"""Rational quadratic: :math:`k(x, x') = (1 + r^2/(2\alpha))^{-\alpha}`."""

    def __init__(self, input_dim: int, alpha: Any, ls: Any = None, ls_inv: Any = None,
                 active_dims: Sequence[int] | None = None):
        super().__init__(input_dim, ls, ls_inv, active_dims)
        self.alpha = alpha

    def full(self, X, Xs):
        base = 1.0 + anp.divide(self.square_dist(X, Xs), 2.0 * self.alpha)
        return anp.exp(-self.alpha * anp.log(base))


class Periodic(Stationary):
    r"""Periodic (PyMC's): :math:`k = \exp\big(-\tfrac12\sum_d \sin^2(\pi (x_d - x'_d)/T)
    / \ell_d^2\big)` with period :math:`T`."""

    def __init__(self, input_dim: int, period: Any, ls: Any = None, ls_inv: Any = None,
                 active_dims: Sequence[int] | None = None):
        super().__init__(input_dim, ls, ls_inv, active_dims)
        self.period = period

    def full(self, X, Xs):
        Xs = X if Xs is None else Xs
        diff = anp.subtract(anp.expand_dims(X, 1), anp.expand_dims(Xs, 0))
        s = anp.divide(anp.sin(anp.divide(np.pi * diff, self.period)), self.ls)
        return anp.exp(-0.5 * anp.sum(anp.square(s), axis=-1))


class Linear(Covariance):
    r"""Linear (dot product): :math:`k(x, x') = (x - c)^T (x' - c)`."""

    def __init__(self, input_dim: int, c: Any, active_dims: Sequence[int] | None = None):
        super().__init__(input_dim, active_dims)
        self.c = c

    def full(self, X, Xs):
        A = anp.subtract(X, self.c)
        B = A if Xs is None else anp.subtract(Xs, self.c)
        return anp.matmul(A, anp.transpose(B))

    def diag_(self, X):
        return anp.sum(anp.square(anp.subtract(X, self.c)), axis=-1)


class WhiteNoise(Covariance):
    r"""White noise: :math:`k(X) = \sigma^2 I`; between distinct inputs ``k(X, Xs) = 0``.

    As in PyMC it takes no ``input_dim``; it accepts any number of input columns."""

    def __init__(self, sigma: Any):
        self.sigma = sigma
        self.input_dim = None
        self.active_dims = None

    def full(self, X, Xs):
        n = anp.shape(X)[0]
        if Xs is None:
            return anp.multiply(anp.square(self.sigma), np.eye(n))
        return np.zeros((n, anp.shape(Xs)[0]))

    def diag_(self, X):
        return anp.multiply(anp.square(self.sigma), np.ones(anp.shape(X)[0]))

    def __repr__(self) -> str:
        return "WhiteNoise(sigma=...)"
