"""Transforms built from other transforms: composition, event reinterpretation and reshaping.

:class:`ComposeTransform` chains maps and sums each part's log-Jacobian over the event axes the
chain adds; :class:`IndependentTransform` treats batch axes as event axes;
:class:`ReshapeTransform` changes the event shape with a zero log-Jacobian.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import autodiff.numpy as anp
from ppl import constraints
from ppl.transforms.base import Transform, _shape_of, _sum_rightmost

__all__ = ["ComposeTransform", "IndependentTransform", "ReshapeTransform"]


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
