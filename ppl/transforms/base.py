"""The :class:`Transform` interface, its inverse view, and the shape helpers every transform uses.

A transform ``t`` maps ``t.domain`` onto ``t.codomain`` (constraints of :mod:`ppl.constraints`);
``t.log_abs_det_jacobian(x, y)`` is summed over the domain's event axes.  ``t.inv`` wraps ``t``
as its own inverse (:class:`_InverseTransform`), negating the log-Jacobian.  The concrete maps
live in the sibling modules; :mod:`ppl.transforms` re-exports them all.
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from ppl import constraints
from ppl.constraints import Constraint

__all__ = ["Transform"]


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

