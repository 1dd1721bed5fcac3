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
from numba import carray, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

from kernels.jit import JIT_DISABLED, njit
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


@intrinsic
def _c_contiguous_view(typingctx, x, shape):
    """The C-contiguous array ``x`` seen with ``shape`` (same data, same owner; the sizes must
    agree). Numba's own ``reshape`` goes through a general routine (any layout, ``-1``) that
    cost more than the arithmetic of a small loop body using the view; this one only fills the
    new array's shape and strides."""
    if not (isinstance(x, types.Array) and x.layout == "C" and isinstance(shape, types.BaseTuple)
            and all(isinstance(d, types.Integer) for d in shape)):
        return None
    ndim = len(shape)
    view_type = types.Array(x.dtype, ndim, "C", readonly=not x.mutable)

    def codegen(context, builder, signature, args):
        source = make_array(signature.args[0])(context, builder, args[0])
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[1], ndim), signature.args[1])]
        strides, step = [], source.itemsize
        for d in reversed(dims):
            strides.insert(0, step)
            step = builder.mul(step, d)
        view = make_array(view_type)(context, builder)
        populate_array(view, data=source.data, shape=dims, strides=strides,
                       itemsize=source.itemsize, meminfo=source.meminfo, parent=source.parent)
        return impl_ret_borrowed(context, builder, view_type, view._getvalue())

    return view_type(x, shape), codegen


def _size_of(shape):
    """The number of elements of an array of ``shape`` (a tuple of integers, maybe empty)."""
    size = 1
    for d in shape:
        size *= d
    return size


@overload(_size_of)
def _size_of_compiled(shape):
    if len(shape) == 0:  # Numba cannot iterate over an empty tuple
        return lambda shape: 1
    return _size_of


@njit
def reshape(x, shape):
    """``np.ascontiguousarray(x).reshape(shape)`` (a view when ``x`` is C-contiguous)."""
    contiguous = np.ascontiguousarray(x)
    if _size_of(shape) != contiguous.size:
        raise ValueError("cannot reshape: the sizes differ")
    if JIT_DISABLED:  # a constant: compiled code has only the other branch
        return contiguous.reshape(shape)
    return _c_contiguous_view(contiguous, shape)


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
