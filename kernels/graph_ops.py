"""Small array kernels that generated code calls where Numba's NumPy support stops.

Generated functions (see ``autodiff.codegen``) are plain NumPy-in-Numba; reductions over several
axes and along rows go through these helpers, which take arrays already reshaped to
``(rows, reduced)`` so one loop serves every axis combination.
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit


@njit
def rows_sum(a: np.ndarray) -> np.ndarray:
    """Sum of each row of a 2-D array."""
    out = np.zeros(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        s = a[i, 0] * 0
        for j in range(a.shape[1]):
            s += a[i, j]
        out[i] = s
    return out


@njit
def rows_max(a: np.ndarray) -> np.ndarray:
    """Maximum of each row of a 2-D array (NaN propagates, as in NumPy)."""
    out = np.empty(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        m = a[i, 0]
        for j in range(1, a.shape[1]):
            v = a[i, j]
            if v > m or v != v:
                m = v
        out[i] = m
    return out


@njit
def rows_min(a: np.ndarray) -> np.ndarray:
    """Minimum of each row of a 2-D array (NaN propagates, as in NumPy)."""
    out = np.empty(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        m = a[i, 0]
        for j in range(1, a.shape[1]):
            v = a[i, j]
            if v < m or v != v:
                m = v
        out[i] = m
    return out


@njit
def rows_prod(a: np.ndarray) -> np.ndarray:
    """Product of each row of a 2-D array."""
    out = np.ones(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i] *= a[i, j]
    return out


@njit
def rows_cumsum(a: np.ndarray, reverse: bool) -> np.ndarray:
    """Cumulative sum along each row (from the right when ``reverse``)."""
    out = np.empty_like(a)
    n = a.shape[1]
    for i in range(a.shape[0]):
        s = a[i, 0] * 0
        for k in range(n):
            j = n - 1 - k if reverse else k
            s += a[i, j]
            out[i, j] = s
    return out


@njit
def rows_cumprod(a: np.ndarray, reverse: bool) -> np.ndarray:
    """Cumulative product along each row (from the right when ``reverse``)."""
    out = np.empty_like(a)
    n = a.shape[1]
    for i in range(a.shape[0]):
        s = a[i, 0] * 0 + 1
        for k in range(n):
            j = n - 1 - k if reverse else k
            s *= a[i, j]
            out[i, j] = s
    return out
