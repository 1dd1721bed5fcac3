"""NumPy's array constructors and layout functions behind disk-cached dispatchers.

Generated model code (see ``autodiff.codegen``) calls these instead of ``np.empty``,
``np.ascontiguousarray``, ``np.dot`` and friends.  The reason is compile time, not speed:
Numba implements those NumPy functions as *overloads*, small functions it compiles for each
argument type the first time a process uses them, and it never stores them on disk by
themselves -- only inside the cached machine code of the function that called them.  A new
model is a new function, so every fresh process that compiled a new model paid for
``np.dot``, ``np.empty`` and ``carray`` again (``benchmarks/gradient.py`` measures a new
model's compile).  Behind an ``@njit(cache=True)`` wrapper, each overload is compiled once
per machine and argument type, and later processes load it from Numba's cache in
milliseconds; LLVM still inlines the wrapper into its caller.

Every function has NumPy's semantics for the arguments generated code passes.

>>> import numpy as np
>>> from kernels.cached_numpy import dot, transpose
>>> a = np.arange(6.0).reshape(2, 3)
>>> dot(a, np.ones(3)).tolist()
[3.0, 12.0]
>>> transpose(a, (1, 0)).shape
(3, 2)
"""

from __future__ import annotations

import numpy as np
from numba import carray

from kernels.jit import njit
from kernels.pointers import as_b1_pointer, as_f8_pointer, as_i8_pointer

# ---------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------


@njit
def empty(shape, dtype):
    """``np.empty(shape, dtype)``."""
    return np.empty(shape, dtype)


@njit
def zeros(shape, dtype):
    """``np.zeros(shape, dtype)``."""
    return np.zeros(shape, dtype)


@njit
def astype(x, dtype):
    """``x.astype(dtype)`` (always a copy)."""
    return x.astype(dtype)


@njit
def full(shape, value):
    """``np.full(shape, value)``."""
    return np.full(shape, value)


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


@njit
def ascontiguousarray(x):
    """``np.ascontiguousarray(x)`` (no copy when ``x`` is already C-contiguous)."""
    return np.ascontiguousarray(x)


@njit
def reshape(x, shape):
    """``np.ascontiguousarray(x).reshape(shape)`` (a view when ``x`` is C-contiguous)."""
    return np.ascontiguousarray(x).reshape(shape)


@njit
def ravel(x):
    """``np.ascontiguousarray(x).reshape(-1)``: the elements of ``x`` in C order."""
    return np.ascontiguousarray(x).reshape(x.size)


@njit
def broadcast_to(x, shape):
    """``np.broadcast_to(x, shape)`` (a read-only view)."""
    return np.broadcast_to(x, shape)


@njit
def transpose(x, axes):
    """``np.transpose(x, axes)`` (a view)."""
    return np.transpose(x, axes)


@njit
def concatenate(arrays, axis):
    """``np.concatenate(arrays, axis=axis)``."""
    return np.concatenate(arrays, axis=axis)


@njit
def where(condition, x, y):
    """``np.where(condition, x, y)`` for arrays of one shape."""
    return np.where(condition, x, y)


@njit
def assign_row(out, t, value):
    """``out[t] = value`` for a C-contiguous ``out`` and a ``value`` of ``out[t]``'s shape; or
    ``out[t:t + k] = value`` for a ``value`` holding ``k`` rows (its elements in C order).

    Written as a loop because Numba's array assignment ``out[t] = value`` checks broadcasting with
    an error message that formats both shapes: a string-formatting routine of several seconds'
    compile that every generated function using it would pay again (it is not cached on its own).
    """
    flat = out.reshape(out.size)
    start = t * (out.size // out.shape[0])
    src = np.ascontiguousarray(value).reshape(value.size)
    for i in range(value.size):
        flat[start + i] = src[i]


@njit
def assign_all(out, value):
    """``out[...] = value`` for a C-contiguous ``out`` of ``value``'s shape, by a loop (see
    ``assign_row``)."""
    flat = out.reshape(out.size)
    src = np.ascontiguousarray(value).reshape(value.size)
    for i in range(src.size):
        flat[i] = src[i]


@njit
def copy_into(out, start, value):
    """``out[start:start + len(value)] = value`` for 1-D arrays, by a loop (see ``assign_row``)."""
    for i in range(value.size):
        out[start + i] = value[i]


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------


@njit
def dot(a, b):
    """``np.dot(a, b)`` for 1-D and 2-D operands (BLAS ``gemv``/``gemm``/``dot``)."""
    return np.dot(a, b)


# ---------------------------------------------------------------------------------------------
# Views of raw memory (model kernels receive their arrays as addresses)
# ---------------------------------------------------------------------------------------------


@njit
def f8_view(address, shape):
    """The float64 array of ``shape`` at ``address`` (an integer or a ``double*``)."""
    return carray(as_f8_pointer(address), shape)


@njit
def i8_view(address, shape):
    """The int64 array of ``shape`` at ``address``."""
    return carray(as_i8_pointer(address), shape)


@njit
def b1_view(address, shape):
    """The bool array of ``shape`` at ``address``."""
    return carray(as_b1_pointer(address), shape)
