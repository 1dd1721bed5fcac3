"""Ranks with ties averaged, in NumPy: the first step of rank-normalised R-hat and ESS.

:func:`average_ranks` is ``scipy.stats.rankdata(x, method="average", axis=-1)`` for finite
input. It lives here, written with NumPy, so that importing :mod:`inference.diagnostics` does not
import ``scipy.stats``, which takes about half a second.
"""

from __future__ import annotations

import numpy as np

__all__ = ["average_ranks"]


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks ``1..n`` along the last axis, ties sharing the mean of their ranks.

    Sort each row (stably); a run of equal sorted values at positions ``first..last`` gets the
    rank ``(first + last) / 2 + 1``; scatter the ranks back to the original order.

    Examples
    --------
    >>> average_ranks(np.array([[3.0, 1.0, 3.0, 2.0]])).tolist()
    [[3.5, 1.0, 3.5, 2.0]]
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    position = np.broadcast_to(np.arange(n), x.shape)
    starts = np.ones(x.shape, dtype=bool)  # a run of equal values begins here ...
    starts[..., 1:] = xs[..., 1:] != xs[..., :-1]
    ends = np.ones(x.shape, dtype=bool)  # ... and ends here
    ends[..., :-1] = starts[..., 1:]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    last = np.flip(
        np.minimum.accumulate(np.flip(np.where(ends, position, n - 1), -1), axis=-1), -1
    )
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, 0.5 * (first + last) + 1.0, axis=-1)
    return ranks
