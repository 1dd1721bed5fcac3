"""Operators and NumPy-style methods on traced values, so model code reads like NumPy.

``x + y``, ``x[i]``, ``x @ A``, ``x.sum(axis=0)``, ``x.T``, ``x.at[i].set(v)`` on a tracer call
the functions of :mod:`autodiff.numpy`.  NumPy functions called on a tracer (``np.exp(x)``,
``np.sum(x)``) are redirected there too, through NumPy's ``__array_ufunc__`` and
``__array_function__`` protocols; a NumPy function that autodiff does not provide raises an error
naming it, rather than silently converting the tracer to an array.
"""

from __future__ import annotations

import autodiff.numpy as anp
from autodiff.core import Tracer
from autodiff.ops.indexing import _IndexUpdateHelper, getitem


def _defers(other) -> bool:
    """Whether ``other`` opts out of array arithmetic as NumPy's protocol says
    (``__array_ufunc__ = None``): then ``tracer * other`` returns ``NotImplemented`` and Python
    calls ``other.__rmul__`` (as ``eta**2 * kernel`` in :mod:`ppl.gp`)."""
    return getattr(type(other), "__array_ufunc__", False) is None


def _forward(fn):
    return lambda self, other: NotImplemented if _defers(other) else fn(self, other)


def _swap(fn):
    return lambda self, other: NotImplemented if _defers(other) else fn(other, self)


_BINARY = {
    "add": anp.add,
    "sub": anp.subtract,
    "mul": anp.multiply,
    "truediv": anp.divide,
    "floordiv": anp.floor_divide,
    "mod": anp.mod,
    "pow": anp.power,
    "matmul": anp.matmul,
}
_COMPARE = {
    "lt": anp.less,
    "le": anp.less_equal,
    "gt": anp.greater,
    "ge": anp.greater_equal,
    "eq": anp.equal,
    "ne": anp.not_equal,
    "and": anp.logical_and,
    "or": anp.logical_or,
    "xor": anp.logical_xor,
}

_UFUNC_NAMES = {"true_divide": "divide", "absolute": "abs", "conjugate": "positive"}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    if method != "__call__" or kwargs.get("out") is not None:
        return NotImplemented
    name = _UFUNC_NAMES.get(ufunc.__name__, ufunc.__name__)
    fn = getattr(anp, name, None)
    if fn is None:
        raise TypeError(
            f"numpy.{ufunc.__name__} is not differentiable here: autodiff.numpy has no "
            f"'{name}'. Write it with autodiff.numpy functions."
        )
    return fn(*inputs, **{k: v for k, v in kwargs.items() if k != "out"})


def _array_function(self, func, types, args, kwargs):
    name = func.__name__
    fn = getattr(anp, name, None)
    if fn is None and func.__module__.endswith("linalg"):
        fn = getattr(anp.linalg, name, None)
    if fn is None or fn is func:
        raise TypeError(
            f"numpy.{name} cannot be applied to a traced value: autodiff.numpy has no '{name}'. "
            "Use the autodiff.numpy equivalent or write it from supported operations."
        )
    return fn(*args, **kwargs)


def install() -> None:
    """Attach operators and methods to :class:`autodiff.core.Tracer`."""
    for name, fn in _BINARY.items():
        setattr(Tracer, f"__{name}__", _forward(fn))
        setattr(Tracer, f"__r{name}__", _swap(fn))
    for name, fn in _COMPARE.items():
        setattr(Tracer, f"__{name}__", fn)
    Tracer.__rand__ = _swap(anp.logical_and)
    Tracer.__ror__ = _swap(anp.logical_or)
    Tracer.__neg__ = anp.negative
    Tracer.__pos__ = anp.positive
    Tracer.__abs__ = anp.abs
    Tracer.__invert__ = anp.logical_not
    Tracer.__getitem__ = getitem
    Tracer.__iter__ = lambda self: (self[i] for i in range(len(self)))
    Tracer.__array_ufunc__ = _array_ufunc
    Tracer.__array_function__ = _array_function
    Tracer.at = property(_IndexUpdateHelper)
    Tracer.T = property(lambda self: anp.transpose(self))
    Tracer.mT = property(lambda self: anp.swapaxes(self, -1, -2))
    for name in (
        "sum",
        "mean",
        "var",
        "std",
        "prod",
        "max",
        "min",
        "cumsum",
        "cumprod",
        "argmax",
        "argmin",
        "argsort",
        "ravel",
        "squeeze",
        "diagonal",
        "clip",
        "astype",
        "take",
        "dot",
        "transpose",
        "swapaxes",
        "repeat",
        "sort",
    ):
        setattr(Tracer, name, getattr(anp, name))
    Tracer.reshape = lambda self, *shape: anp.reshape(self, shape[0] if len(shape) == 1 else shape)
    Tracer.flatten = anp.ravel
    Tracer.__eq__ = anp.equal
    Tracer.__hash__ = object.__hash__
