"""Scalar transforms applied elementwise: exp, softplus, sigmoid, tanh, power, affine and bounds.

Each maps one real number to one number, so the log-Jacobian has the shape of the input (the
affine map sums it over ``event_dim`` axes).  These are the bijectors of the scalar supports
(``positive``, ``unit_interval``, ``greater_than`` ...) and the building blocks of the
interval map in :mod:`ppl.transforms.registry`.
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from autodiff.scipy.special import expit, log1mexp, log1pexp, logit
from ppl import constraints
from ppl.constraints import Constraint
from ppl.transforms.base import Transform, _fmt, _shape_of, _sum_rightmost

__all__ = [
    "AffineTransform",
    "ExpTransform",
    "IdentityTransform",
    "LowerBoundTransform",
    "PowerTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "TanhTransform",
    "UpperBoundTransform",
]


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

