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


def _take_axis(a, index: _np.ndarray, axis: int):
    """``a`` gathered along ``axis`` with a constant integer ``index`` (one gather primitive)."""
    idx = [slice(None)] * get_aval(a).ndim
    idx[axis] = index
    return _ix.getitem(a, tuple(idx))


def diff(a, n: int = 1, axis: int = -1, prepend=None, append=None):
    """``numpy.diff``: the ``n``-th forward difference along ``axis``, differentiable.

    Composed of slices and a subtraction (``a[1:] - a[:-1]``, ``n`` times); ``prepend`` and
    ``append`` (scalars or arrays, traced or not) are concatenated first, as in NumPy.

    >>> diff(_np.array([1.0, 4.0, 9.0, 16.0]), n=2)
    array([2., 2.])
    """
    if int(n) != n or n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    nd = get_aval(a).ndim
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = axis % nd
    if prepend is not None or append is not None:
        shape = list(get_aval(a).shape)
        parts = []
        for extra in (prepend, None, append):
            if extra is None:
                continue
            if get_aval(extra).ndim == 0:
                shape[axis] = 1
                extra = broadcast_to(extra, tuple(shape))
            parts.append(extra)
        parts.insert(0 if prepend is None else 1, a)
        a = concatenate(parts, axis)
    for _ in range(int(n)):
        length = get_aval(a).shape[axis]
        upper = _ix.slice_axis(a, axis, 1, length)
        lower = _ix.slice_axis(a, axis, 0, builtins_max(length - 1, 0))
        a = _e.sub(upper, lower)
    return a


_PAD_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(array, pad_width, mode: str = "constant", constant_values=0):
    """``numpy.pad`` for the modes ``constant``, ``edge``, ``reflect``, ``symmetric``, ``wrap``.

    Every mode but ``constant`` maps each output position to a source position, so it is one
    gather per padded axis whose index is NumPy's own ``pad`` of ``arange(n)`` (the positions
    are NumPy's by construction). ``constant`` concatenates constant blocks; ``constant_values``
    is a scalar (possibly traced, and then differentiable) or concrete per-axis
    ``(before, after)`` pairs as in NumPy. Differentiable in ``array``.

    >>> pad(_np.array([1.0, 2.0, 3.0]), (2, 1), mode="edge")
    array([1., 1., 1., 2., 3., 3.])
    """
    nd = get_aval(array).ndim
    widths = _np.broadcast_to(_np.asarray(pad_width, dtype=int), (nd, 2))
    if (widths < 0).any():
        raise ValueError("pad: index can't contain negative values")
    if mode in _PAD_INDEX_MODES:
        out = array
        for axis in range(nd):
            before, after = (int(w) for w in widths[axis])
            if before or after:
                n = get_aval(out).shape[axis]
                index = _np.pad(_np.arange(n), (before, after), mode=mode)
                out = _take_axis(out, index, axis)
        return out
    if mode != "constant":
        raise NotImplementedError(
            f"pad: mode {mode!r} is not supported (constant, {', '.join(_PAD_INDEX_MODES)})"
        )
    traced = isinstance(constant_values, Tracer)
    values = constant_values if traced else _np.asarray(constant_values, dtype=float)
    if not traced and values.ndim > 0:
        values = _np.broadcast_to(values, (nd, 2))
    out = array
    for axis in range(nd):
        before, after = (int(w) for w in widths[axis])
        parts = [out]
        for side, width in ((0, before), (1, after)):
            if width == 0:
                continue
            shape = list(get_aval(out).shape)
            shape[axis] = width
            value = values if traced or values.ndim == 0 else values[axis, side]
            block = broadcast_to(_e.astype(value, get_aval(out).dtype), tuple(shape))
            parts.insert(0 if side == 0 else len(parts), block)
        if len(parts) > 1:
            out = concatenate(parts, axis)
    return out


def roll(a, shift, axis=None):
    """``numpy.roll``: a gather with the index ``numpy.roll(arange(n), shift)`` per axis.

    >>> roll(_np.array([1.0, 2.0, 3.0]), 1)
    array([3., 1., 2.])
    """
    if axis is None:
        shape = get_aval(a).shape
        return _s.reshape(roll(ravel(a), shift, 0), shape)
    shifts, axes = _np.broadcast_arrays(_np.asarray(shift, dtype=int), _np.asarray(axis))
    nd = get_aval(a).ndim
    total: dict[int, int] = {}
    for k, ax in zip(shifts.ravel(), axes.ravel()):
        total[int(ax) % nd] = total.get(int(ax) % nd, 0) + int(k)
    for ax, k in total.items():
        n = get_aval(a).shape[ax]
        if n and k % n:
            a = _take_axis(a, _np.roll(_np.arange(n), k), ax)
    return a


def kron(a, b):
    """``numpy.kron``: the Kronecker product, as a broadcast product with interleaved axes.

    With both operands brought to the same rank ``d``, ``a`` is reshaped to
    ``(a0, 1, a1, 1, ...)`` and ``b`` to ``(1, b0, 1, b1, ...)``; their product reshaped to
    ``(a0 b0, a1 b1, ...)`` is ``kron(a, b)``.

    >>> kron(_np.array([1.0, 2.0]), _np.array([1.0, 10.0, 100.0]))
    array([  1.,  10., 100.,   2.,  20., 200.])
    """
    sa, sb = get_aval(a).shape, get_aval(b).shape
    nd = builtins_max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a2 = _s.reshape(a, tuple(v for d in sa for v in (d, 1)))
    b2 = _s.reshape(b, tuple(v for d in sb for v in (1, d)))
    return _s.reshape(_e.mul(a2, b2), tuple(x * y for x, y in zip(sa, sb)))


def searchsorted(a, v, side: str = "left", sorter=None):
    """``numpy.searchsorted`` for a sorted 1-D ``a``: integer positions, not differentiable.

    Counts ``a < v`` (``side="left"``) or ``a <= v`` (``side="right"``) over ``a``: ``O(len(a))``
    work per element of ``v`` (no binary search), but made of comparisons and a sum, so it
    traces, batches and compiles like any other expression. A NaN in ``v`` gives 0 (NumPy's
    sort order puts NaN last and gives ``len(a)``).

    >>> searchsorted(_np.array([1.0, 2.0, 3.0]), _np.array([0.5, 2.0, 9.0]), side="right")
    array([0, 2, 3])
    """
    if sorter is not None:
        a = take(a, sorter)
    if get_aval(a).ndim != 1:
        raise ValueError("searchsorted: a must be one-dimensional")
    compare = {"left": _e.lt, "right": _e.le}.get(side)
    if compare is None:
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    v_shape = get_aval(v).shape
    hits = compare(a, _s.reshape(v, (*v_shape, 1)))
    return _r.reduce_sum(_e.astype(_e.stop_gradient(hits), _np.int64), (len(v_shape),))


def interp(x, xp, fp, left=None, right=None):
    """``numpy.interp``: piecewise-linear interpolation, differentiable in ``x``, ``xp``, ``fp``.

    The interval of each ``x`` comes from :func:`searchsorted` (``side="right"``) on the
    increasing ``xp``; the value is NumPy's formula ``slope * (x - xp[j]) + fp[j]``; below
    ``xp[0]`` and above ``xp[-1]`` it is ``left``/``right`` (default ``fp[0]``/``fp[-1]``).
    The derivative in ``x`` is the slope of the interval (at a knot, of the interval to its
    right).

    >>> interp(_np.array([0.5, 2.5]), _np.array([0.0, 1.0, 3.0]), _np.array([0.0, 2.0, 3.0]))
    array([1.  , 2.75])
    """
    n = get_aval(xp).shape[0]
    if get_aval(xp).ndim != 1 or get_aval(fp).shape != (n,) or n == 0:
        raise ValueError("interp: xp and fp must be 1-D sequences of the same, non-zero length")
    x = _e.astype(x, _np.float64) if get_aval(x).dtype != _np.float64 else x
    left = _ix.getitem(fp, 0) if left is None else left
    right = _ix.getitem(fp, n - 1) if right is None else right
    if n == 1:
        inside = _e.add(_e.mul(x, 0.0), _ix.getitem(fp, 0))
    else:
        j = clip(_e.sub(searchsorted(xp, x, side="right"), 1), 0, n - 2)
        x0, x1 = take(xp, j), take(xp, _e.add(j, 1))
        f0, f1 = take(fp, j), take(fp, _e.add(j, 1))
        slope = _e.div(_e.sub(f1, f0), _e.sub(x1, x0))
        inside = _e.add(_e.mul(slope, _e.sub(x, x0)), f0)
    last = _ix.getitem(xp, n - 1)
    out = _e.select(_e.lt(x, _ix.getitem(xp, 0)), left, inside)
    out = _e.select(_e.eq(x, last), _ix.getitem(fp, n - 1), out)
    return _e.select(_e.gt(x, last), right, out)


def meshgrid(*xi, indexing: str = "xy", sparse: bool = False, copy: bool = True):
    """``numpy.meshgrid`` of 1-D inputs (``"xy"`` or ``"ij"`` indexing), by reshape and
    broadcast, so each output is differentiable in its input.

    >>> [g.tolist() for g in meshgrid(_np.array([1.0, 2.0]), _np.array([5.0]))]
    [[[1.0, 2.0]], [[5.0, 5.0]]]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError("meshgrid: valid values for `indexing` are 'xy' and 'ij'")
    xi = [ravel(x) for x in xi]
    nd = len(xi)
    shapes = [get_aval(x).shape[0] for x in xi]
    if indexing == "xy" and nd > 1:
        shapes[0], shapes[1] = shapes[1], shapes[0]
    out = []
    for i, x in enumerate(xi):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and nd > 1 else i
        shape = [1] * nd
        shape[axis] = get_aval(x).shape[0]
        x = _s.reshape(x, tuple(shape))
        out.append(x if sparse else broadcast_to(x, tuple(shapes)))
    return out


# Index helpers: plain NumPy (their results are concrete integer arrays, used as indices).
tril_indices, triu_indices = _np.tril_indices, _np.triu_indices
tril_indices_from, triu_indices_from = _np.tril_indices_from, _np.triu_indices_from


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
