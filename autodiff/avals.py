"""Abstract values: what a traced value is known to be (its shape and dtype) without its data.

Shape rules of primitives compute output ``ShapedArray``s from input ones; the staging tracer
carries one; the type checker of the IR compares them.  The dtype policy is NumPy's promotion with
float64 as the default floating type.
"""

from __future__ import annotations

import numpy as np


class ShapedArray:
    """The shape and dtype of an array, and nothing else (immutable, hashable)."""

    __slots__ = ("dtype", "shape")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ShapedArray)
            and self.shape == other.shape
            and self.dtype == other.dtype
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def str_short(self) -> str:
        """``f64[3,4]``: the notation used by the IR printer."""
        return f"{_DTYPE_SHORT.get(self.dtype.name, self.dtype.name)}[{','.join(map(str, self.shape))}]"

    def __repr__(self) -> str:
        return self.str_short()


_DTYPE_SHORT = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool"}

FLOAT = np.dtype(np.float64)
INT = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)


def aval_of(x) -> ShapedArray:
    """The abstract value of a concrete array or Python scalar."""
    if isinstance(x, (np.ndarray, np.generic)):
        aval = object.__new__(ShapedArray)  # shape and dtype are already canonical
        aval.shape, aval.dtype = x.shape, x.dtype
        return aval
    return ShapedArray(np.shape(x), result_dtype(x))


def result_dtype(*xs) -> np.dtype:
    """NumPy's promotion of the values' dtypes, Python floats counting as float64."""
    dtypes = [x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype for x in xs]
    return np.result_type(*dtypes) if dtypes else FLOAT


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The floating dtype an operation such as ``exp`` returns for inputs of ``dtype``."""
    dtype = np.dtype(dtype)
    return dtype if np.issubdtype(dtype, np.floating) else FLOAT


def is_float(dtype: np.dtype) -> bool:
    return np.issubdtype(np.dtype(dtype), np.floating)


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of ``shapes``, with an error that names the operation and every shape."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(
            f"{op}: shapes {listed} cannot be broadcast together (NumPy broadcasting aligns "
            "trailing dimensions, which must be equal or 1); reshape or index one operand"
        ) from None


def normalize_axis(op: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative ints, checked against ndim."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{op}: axis {a} is out of bounds for an array of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))
