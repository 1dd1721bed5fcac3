"""NumPy's names, differentiable: ``import autodiff.numpy as anp``.

Functions accept NumPy arrays, Python scalars and traced values; on plain arrays outside any
transformation they return plain NumPy arrays.  Floating point is float64 by default.

>>> import autodiff.numpy as anp
>>> anp.sum(anp.exp(anp.array([0.0, 0.0])), keepdims=True)
array([2.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as _np

from autodiff.core import Tracer, get_aval
from autodiff.numpy import linalg  # noqa: F401
from autodiff.ops import elementwise as _e
from autodiff.ops import indexing as _ix
from autodiff.ops import linalg as _la
from autodiff.ops import reductions as _r
from autodiff.ops import structural as _s
from autodiff.ops.elementwise import (  # noqa: F401
    abs,
    arccos,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    ceil,
    cos,
    cosh,
    exp,
    expm1,
    floor,
    isfinite,
    isnan,
    log,
    log1p,
    log2,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    sign,
    sin,
    sinh,
    sqrt,
    stop_gradient,
    tan,
    tanh,
)
from autodiff.ops.indexing import at  # noqa: F401
from autodiff.ops.reductions import argsort  # noqa: F401
from autodiff.ops.structural import (  # noqa: F401
    broadcast_to,
    expand_dims,
    moveaxis,
    squeeze,
    stack,
    swapaxes,
)

pi, e, inf, nan, newaxis = _np.pi, _np.e, _np.inf, _np.nan, None
float64, float32, int64, int32, bool_ = _np.float64, _np.float32, _np.int64, _np.int32, _np.bool_

ndarray = _np.ndarray


def array(x: Any, dtype=None) -> Any:
    """An array from ``x`` (float64 when ``x`` holds Python floats); tracers pass through."""
    if isinstance(x, Tracer):
        return x if dtype is None else _e.astype(x, dtype)
    if isinstance(x, (list, tuple)) and any(isinstance(v, Tracer) for v in _flatten_list(x)):
        return stack([array(v, dtype) for v in x])
    return _np.array(x, dtype=dtype)


def _flatten_list(x):
    for v in x:
        if isinstance(v, (list, tuple)):
            yield from _flatten_list(v)
        else:
            yield v


asarray = array


def zeros(shape, dtype=float):
    return _np.zeros(shape, dtype)


def ones(shape, dtype=float):
    return _np.ones(shape, dtype)


def full(shape, fill_value, dtype=None):
    if isinstance(fill_value, Tracer):
        return broadcast_to(fill_value, (shape,) if _np.ndim(shape) == 0 else shape)
    return _np.full(shape, fill_value, dtype)


def zeros_like(x, dtype=None):
    aval = get_aval(x)
    return _np.zeros(aval.shape, dtype or aval.dtype)


def ones_like(x, dtype=None):
    aval = get_aval(x)
    return _np.ones(aval.shape, dtype or aval.dtype)


def full_like(x, fill_value, dtype=None):
    return add(zeros_like(x, dtype), fill_value)


arange, linspace, eye, identity = _np.arange, _np.linspace, _np.eye, _np.identity
tri = _np.tri


def shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def ndim(x) -> int:
    return get_aval(x).ndim


def size(x) -> int:
    return get_aval(x).size


# ---- arithmetic -------------------------------------------------------------------------------

add, subtract, multiply = _e.add, _e.sub, _e.mul
divide = true_divide = _e.div
negative, power, mod, remainder, floor_divide = _e.neg, _e.power, _e.mod, _e.mod, _e.floor_divide
less, less_equal, greater, greater_equal, equal, not_equal = (
    _e.lt,
    _e.le,
    _e.gt,
    _e.ge,
    _e.eq,
    _e.ne,
)
absolute = abs
round = around = _e.round  # noqa: A001


def positive(x):
    return x


def square(x):
    """``x * x``."""
    return multiply(x, x)


def reciprocal(x):
    return divide(1.0, x)


def where(condition, x=None, y=None):
    """``x`` where ``condition`` holds, else ``y`` (elementwise, broadcasting).

    Differentiable in ``x`` and ``y``; both are computed, so guard a branch that would produce
    NaN (e.g. ``log(where(x > 0, x, 1.0))``) to keep gradients finite.
    """
    if x is None or y is None:
        raise TypeError("where(condition) with one argument is not supported; give x and y")
    return _e.select(condition, x, y)


def clip(a, a_min=None, a_max=None):
    out = a
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def sinc(x):
    safe = where(equal(x, 0.0), 1.0, x)
    return where(equal(x, 0.0), 1.0, divide(sin(multiply(pi, safe)), multiply(pi, safe)))


def log10(x):
    return divide(log(x), _np.log(10.0))


def exp2(x):
    return exp(multiply(x, _np.log(2.0)))


def hypot(x, y):
    return sqrt(add(square(x), square(y)))


def isinf(x):
    return logical_and(logical_not(isfinite(x)), logical_not(isnan(x)))


# ---- reductions -------------------------------------------------------------------------------


def _keep(out, x, axis, keepdims):
    if not keepdims:
        return out
    from autodiff.avals import normalize_axis

    axes = normalize_axis("keepdims", axis, get_aval(x).ndim)
    shp = tuple(1 if i in axes else d for i, d in enumerate(get_aval(x).shape))
    return _s.reshape(out, shp)


def sum(a, axis=None, keepdims: bool = False):  # noqa: A001
    """Sum of elements over ``axis`` (all axes when None)."""
    return _keep(_r.reduce_sum(a, axis), a, axis, keepdims)


def prod(a, axis=None, keepdims: bool = False):
    return _keep(_r.reduce_prod(a, axis), a, axis, keepdims)


def max(a, axis=None, keepdims: bool = False):  # noqa: A001
    return _keep(_r.reduce_max(a, axis), a, axis, keepdims)


def min(a, axis=None, keepdims: bool = False):  # noqa: A001
    return _keep(_r.reduce_min(a, axis), a, axis, keepdims)


amax, amin = max, min


def _count(a, axis) -> int:
    from autodiff.avals import normalize_axis

    shp = get_aval(a).shape
    return int(_np.prod([shp[i] for i in normalize_axis("mean", axis, len(shp))]))


def mean(a, axis=None, keepdims: bool = False):
    a = _float(a)
    return divide(sum(a, axis, keepdims), float(_count(a, axis)))


def var(a, axis=None, ddof: int = 0, keepdims: bool = False):
    a = _float(a)
    centred = subtract(a, mean(a, axis, keepdims=True))
    return divide(sum(square(centred), axis, keepdims), float(_count(a, axis) - ddof))


def std(a, axis=None, ddof: int = 0, keepdims: bool = False):
    return sqrt(var(a, axis, ddof, keepdims))


def _float(a):
    a = a if isinstance(a, Tracer) else _np.asarray(a)
    return a if _np.issubdtype(get_aval(a).dtype, _np.floating) else _e.astype(a, _np.float64)


def cumsum(a, axis=None):
    return _r.cumsum(a, axis)


def cumprod(a, axis=None):
    return _r.cumprod(a, axis)


def argmax(a, axis=None):
    return _r.argmax(a, axis)


def argmin(a, axis=None):
    return _r.argmin(a, axis)


def sort(a, axis: int = -1):
    """Sorted copy of ``a`` along ``axis``; differentiable (the gradient follows the values)."""
    return take_along_axis(a, argsort(a, axis), axis)


def all(a, axis=None):  # noqa: A001
    return _np.all(a, axis) if not isinstance(a, Tracer) else equal(min(_e.astype(a, int), axis), 1)


def any(a, axis=None):  # noqa: A001
    return _np.any(a, axis) if not isinstance(a, Tracer) else equal(max(_e.astype(a, int), axis), 1)


# ---- shapes -----------------------------------------------------------------------------------


def reshape(a, newshape, order: str = "C"):
    if order != "C":
        raise NotImplementedError("reshape: only order='C' is supported")
    return _s.reshape(a, newshape)


def ravel(a):
    return _s.reshape(a, (-1,))


def transpose(a, axes=None):
    return _s.transpose(a, axes)


def concatenate(arrays: Sequence, axis: int = 0):
    return _s.concatenate(arrays, axis)


def hstack(arrays):
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, 0 if get_aval(arrays[0]).ndim == 1 else 1)


def vstack(arrays):
    return concatenate([atleast_2d(a) for a in arrays], 0)


def atleast_1d(a):
    return a if get_aval(a).ndim >= 1 else _s.reshape(a, (1,))


def atleast_2d(a):
    a = atleast_1d(a)
    return a if get_aval(a).ndim >= 2 else _s.reshape(a, (1, *get_aval(a).shape))


def flip(a, axis=None):
    nd = get_aval(a).ndim
    axes = range(nd) if axis is None else [ax % nd for ax in _np.atleast_1d(axis)]
    idx = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(nd))
    return _ix.getitem(a, idx)


def repeat(a, repeats: int, axis=None):
    if axis is None:
        a, axis = ravel(a), 0
    n = get_aval(a).shape[axis]
    idx = [slice(None)] * get_aval(a).ndim
    idx[axis] = _np.repeat(_np.arange(n), repeats)
    return _ix.getitem(a, tuple(idx))


def tile(a, reps):
    reps = (reps,) if _np.ndim(reps) == 0 else tuple(reps)
    a_shape = get_aval(a).shape
    nd = max(len(a_shape), len(reps))
    a = _s.reshape(a, (1,) * (nd - len(a_shape)) + a_shape)
    reps = (1,) * (nd - len(reps)) + reps
    for ax, r in enumerate(reps):
        if r != 1:
            a = concatenate([a] * r, ax)
    return a


def diagonal(a, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """The diagonal of ``a`` over ``axis1``/``axis2`` (moved to the last axis, as NumPy does)."""
    nd = get_aval(a).ndim
    axis1, axis2 = axis1 % nd, axis2 % nd
    a = _s.transpose(a, [i for i in range(nd) if i not in (axis1, axis2)] + [axis1, axis2])
    n, m = get_aval(a).shape[-2:]
    rows = _np.arange(builtins_max(0, -offset), builtins_min(n, m - offset))
    return _ix.getitem(a, (Ellipsis, rows, rows + offset))


def diag(v, k: int = 0):
    """A diagonal matrix from a vector, or the diagonal of a matrix."""
    nd = get_aval(v).ndim
    if nd == 2:
        return diagonal(v, k)
    n = get_aval(v).shape[0] + abs_int(k)
    rows = _np.arange(get_aval(v).shape[0]) + builtins_max(0, -k)
    return _ix.index_set(_np.zeros((n, n), get_aval(v).dtype), (rows, rows + k), v)


def trace(a, offset: int = 0):
    return sum(diagonal(a, offset, -2, -1), axis=-1)


def tril(m, k: int = 0):
    n, p = get_aval(m).shape[-2:]
    return where(_np.tri(n, p, k, dtype=bool), m, 0.0)


def triu(m, k: int = 0):
    n, p = get_aval(m).shape[-2:]
    return where(_np.tri(n, p, k - 1, dtype=bool), 0.0, m)


def take(a, indices, axis=None):
    if axis is None:
        return _ix.getitem(ravel(a), indices)
    idx = [slice(None)] * get_aval(a).ndim
    idx[axis] = indices
    return _ix.getitem(a, tuple(idx))


def take_along_axis(arr, indices, axis: int):
    """``numpy.take_along_axis``: differentiable in ``arr``."""
    nd = get_aval(arr).ndim
    axis = axis % nd
    ishape = get_aval(indices).shape
    idx = []
    for d in range(nd):
        if d == axis:
            idx.append(indices)
        else:
            shp = [1] * nd
            shp[d] = ishape[d]
            idx.append(_np.arange(ishape[d]).reshape(shp))
    return _ix.getitem(arr, tuple(idx))


def astype(x, dtype):
    return _e.astype(x, dtype)


# ---- products ---------------------------------------------------------------------------------


def matmul(a, b):
    """Matrix product with NumPy's rules for vectors (promoted, then squeezed)."""
    da, db = get_aval(a).ndim, get_aval(b).ndim
    if da == 0 or db == 0:
        raise ValueError("matmul: operands must be at least one-dimensional; use multiply")
    a2 = _s.reshape(a, (1, get_aval(a).shape[0])) if da == 1 else a
    b2 = _s.reshape(b, (get_aval(b).shape[0], 1)) if db == 1 else b
    out = _la.matmul(a2, b2)
    if da == 1:
        out = _s.squeeze(out, -2)
    if db == 1:
        out = _s.squeeze(out, -1)
    return out


def dot(a, b):
    """``numpy.dot`` for operands of rank at most 2 (scalars multiply)."""
    da, db = get_aval(a).ndim, get_aval(b).ndim
    if da == 0 or db == 0:
        return multiply(a, b)
    if da > 2 or db > 2:
        raise NotImplementedError("dot: operands of rank > 2 are not supported; use einsum/matmul")
    return matmul(a, b)


def vdot(a, b):
    return sum(multiply(ravel(a), ravel(b)))


def inner(a, b):
    return sum(multiply(a, b), axis=-1)


def outer(a, b):
    return multiply(_s.reshape(ravel(a), (-1, 1)), _s.reshape(ravel(b), (1, -1)))


def einsum(subscripts: str, *operands):
    """``numpy.einsum`` with explicit or implicit output (no ellipses)."""
    return _la.einsum(subscripts, *operands)


def logsumexp(a, axis=None, keepdims: bool = False):
    from autodiff.scipy.special import logsumexp as _lse

    return _lse(a, axis=axis, keepdims=keepdims)


import builtins as _builtins  # noqa: E402

builtins_max, builtins_min = _builtins.max, _builtins.min


def abs_int(k: int) -> int:
    return k if k >= 0 else -k
