r"""``TransformedDistribution``: the law of :math:`Y = T(X)` for a bijection :math:`T`.

.. math:: \log p_Y(y) = \log p_X\big(T^{-1}(y)\big) - \log\big|\det J_T\big(T^{-1}(y)\big)\big|.

Shapes: ``transforms`` may change the event shape (``forward_shape``) and may treat more
rightmost axes as one event than the base distribution does (an elementwise base under a
vector transform such as stick-breaking is reinterpreted with ``to_event``).

>>> import numpy as np
>>> from ppl.distributions import Normal, TransformedDistribution
>>> from ppl.transforms import ExpTransform
>>> d = TransformedDistribution(Normal(0.0, 1.0), ExpTransform())   # log-normal
>>> round(float(d.log_prob(1.0)), 6)
-0.918939
"""

from __future__ import annotations

from collections.abc import Sequence

import autodiff.numpy as anp
from ppl import constraints
from ppl.distributions.base import Distribution
from ppl.transforms import ComposeTransform, Transform

__all__ = ["TransformedDistribution"]


def _sum_rightmost(x, n: int):
    for _ in range(n):
        x = anp.sum(x, axis=-1)
    return x


class TransformedDistribution(Distribution):
    """``base_distribution`` pushed through ``transforms`` (one, or a list applied in order).

    ``support`` is the codomain of the last transform; ``sample``/``rsample`` apply the
    transforms to a base draw; ``log_prob`` inverts them and subtracts the log-Jacobian.
    """

    arg_constraints: dict = {}

    def __init__(self, base_distribution: Distribution,
                 transforms: Transform | Sequence[Transform], *, validate_args=None):
        parts = [transforms] if isinstance(transforms, Transform) else list(transforms)
        for t in parts:
            if not isinstance(t, Transform):
                raise TypeError(
                    f"TransformedDistribution: transforms must be Transform objects, got "
                    f"{type(t).__name__} {t!r}"
                )
        self.transforms = parts
        self.transform = parts[0] if len(parts) == 1 else ComposeTransform(parts)
        t = self.transform
        base = base_distribution
        # The transform may need more event axes than the base has (vector transform of an
        # elementwise base): reinterpret the base's rightmost batch axes.
        if t.domain.event_dim > base.event_dim:
            base = base.to_event(t.domain.event_dim - base.event_dim)
        self.base_dist = base
        shape = t.forward_shape(base.batch_shape + base.event_shape)
        event_dim = max(t.codomain.event_dim,
                        base.event_dim + t.codomain.event_dim - t.domain.event_dim)
        # Event dims of the base, counted in the transform's input space.
        self._x_event_dim = event_dim - t.codomain.event_dim + t.domain.event_dim
        split = len(shape) - event_dim
        super().__init__(shape[:split], shape[split:], validate_args)

    @property
    def base_distribution(self) -> Distribution:
        return self.base_dist

    @property
    def support(self):
        codomain = self.transform.codomain
        extra = self.event_dim - codomain.event_dim
        return constraints.independent(codomain, extra) if extra else codomain

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    def _base_shape(self, shape):
        n = len(self.batch_shape) + self.event_dim
        sample_shape = shape[: len(shape) - n]
        return sample_shape + self.base_dist.batch_shape + self.base_dist.event_shape

    def _sample(self, rng, shape):
        return self.transform(self.base_dist._sample(rng, self._base_shape(shape)))

    def _rsample(self, rng, shape):
        return self.transform(self.base_dist._rsample(rng, self._base_shape(shape)))

    def _log_prob(self, value):
        t = self.transform
        x = t.inverse(value)
        log_det = t.log_abs_det_jacobian(x, value)
        base_lp = self.base_dist.log_prob(x)
        base_lp = _sum_rightmost(base_lp, self._x_event_dim - self.base_dist.event_dim)
        log_det = _sum_rightmost(log_det, self._x_event_dim - t.domain.event_dim)
        return anp.subtract(base_lp, log_det)

    def __repr__(self) -> str:
        return (f"TransformedDistribution({self.base_dist!r}, {self.transforms!r}, "
                f"batch_shape={self.batch_shape}, event_shape={self.event_shape})")
