"""The shared base of the univariate continuous families, and the constants their densities use.

:class:`_Univariate` stores named parameters as float arrays and sets ``batch_shape`` to their
broadcast; the families themselves live in :mod:`~ppl.distributions.real_line`,
:mod:`~ppl.distributions.positive`, :mod:`~ppl.distributions.bounded` and
:mod:`~ppl.distributions.truncated` (all re-exported by :mod:`ppl.distributions.continuous`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
from ppl.distributions.base import Distribution, as_param, promote_batch_shape

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
_LOG_2 = np.log(2.0)
_EULER_GAMMA = 0.5772156649015329


def _full(shape, value):
    return np.full(shape, value, dtype=np.float64)


def _bcast(x, shape):
    return anp.broadcast_to(x, shape)


class _Univariate(Distribution):
    """Stores the named parameters as float arrays and sets ``batch_shape`` to their broadcast."""

    def _init_params(self, validate_args, **params: Any) -> None:
        for name, value in params.items():
            setattr(self, name, as_param(value))
        batch = promote_batch_shape(*(getattr(self, n) for n in params))
        Distribution.__init__(self, batch, (), validate_args)
