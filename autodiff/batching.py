"""Batching: ``vmap`` runs a function written for one example on a whole batch at once.

A :class:`BatchTracer` carries a value with an extra leading batch axis (``dim == 0``) or a value
shared by the whole batch (``dim is None``).  Each primitive's ``batch`` rule rewrites the
operation for batched operands (for most primitives: the same primitive on arrays with one more
axis), so the batched function runs as array operations, not a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autodiff.avals import ShapedArray
from autodiff.core import ConcretizationError, Primitive, Trace, Tracer, bind, get_aval, new_main
from autodiff.tree import tree_flatten, tree_unflatten


class BatchTracer(Tracer):
    __slots__ = ("val", "dim")

    def __init__(self, trace: Trace, val: Any, dim: int | None):
        self._trace = trace
        self.val = val
        self.dim = dim

    @property
    def aval(self) -> ShapedArray:
        aval = get_aval(self.val)
        return aval if self.dim is None else ShapedArray(aval.shape[1:], aval.dtype)

    def concrete_value(self) -> Any:
        if self.dim is None:
            v = self.val
            return v.concrete_value() if isinstance(v, Tracer) else v
        raise ConcretizationError(self)

    def full_lower(self) -> Any:
        return self.val if self.dim is None else self


class BatchTrace(Trace):
    def pure(self, value: Any) -> BatchTracer:
        return BatchTracer(self, value, None)

    lift = pure

    def process_primitive(self, primitive: Primitive, tracers: list[BatchTracer], params: dict):
        vals = [t.val for t in tracers]
        dims = [t.dim for t in tracers]
        if all(d is None for d in dims):
            return bind(primitive, *vals, **params)
        if primitive.batch is None:
            raise NotImplementedError(f"vmap of '{primitive.name}' is not implemented")
        out, out_dim = primitive.batch(vals, dims, **params)
        if primitive.multiple_results:
            dims_out = out_dim if isinstance(out_dim, (list, tuple)) else [out_dim] * len(out)
            return [BatchTracer(self, o, d) for o, d in zip(out, dims_out)]
        return BatchTracer(self, out, out_dim)


def vmap(fn: Callable, in_axes: Any = 0, out_axes: Any = 0) -> Callable:
    """Vectorise ``fn`` over an axis of its arguments.

    ``in_axes`` is an int or ``None`` for all arguments, or a tuple with one entry per argument
    (an int, ``None`` for an argument shared by the batch, or a pytree of them matching the
    argument).  ``out_axes`` likewise places the batch axis in the outputs.

    >>> import numpy as np
    >>> import autodiff.numpy as anp
    >>> vmap(lambda x, y: anp.dot(x, y), in_axes=(0, None))(np.eye(2), np.array([3.0, 4.0]))
    array([3., 4.])
    """

    def batched(*args: Any) -> Any:
        leaves, in_tree = tree_flatten(args)
        axes = _broadcast_axes(in_axes, args, "in_axes")
        size = _batch_size(leaves, axes)
        out_tree = []

        def flat_fn(*xs):
            out = fn(*tree_unflatten(in_tree, list(xs)))
            flat, tree = tree_flatten(out)
            out_tree.append(tree)
            return flat

        outs = vmap_flat(flat_fn, leaves, axes, size)
        out = tree_unflatten(out_tree[0], outs)
        o_axes = _broadcast_axes(out_axes, out, "out_axes", wrap=False)
        moved = [_move_out(o, a, size) for o, a in zip(tree_flatten(out)[0], o_axes)]
        return tree_unflatten(out_tree[0], moved)

    return batched


def vmap_flat(fn: Callable, leaves: list, axes: list, size: int) -> list:
    from autodiff.ops.structural import moveaxis

    with new_main(BatchTrace) as main:
        trace = BatchTrace(main)
        tracers = [
            BatchTracer(trace, x, None) if a is None else BatchTracer(trace, moveaxis(x, a, 0), 0)
            for x, a in zip(leaves, axes)
        ]
        outs = fn(*tracers)
        results = []
        for out in outs:
            if isinstance(out, BatchTracer) and out._trace.main is main and out.dim is not None:
                results.append(out.val)
            else:
                val = out.val if isinstance(out, BatchTracer) and out._trace.main is main else out
                results.append(broadcast_batch(val, size))
    return results


def broadcast_batch(x: Any, size: int) -> Any:
    """``x`` repeated ``size`` times along a new leading axis."""
    from autodiff.ops.structural import broadcast_to

    shape = get_aval(x).shape
    return broadcast_to(x, (size, *shape))


def _move_out(x: Any, axis: int | None, size: int) -> Any:
    from autodiff.ops.structural import moveaxis

    if axis is None:
        raise ValueError("vmap: out_axes=None needs an output that does not depend on the batch")
    return x if axis == 0 else moveaxis(x, 0, axis)


def _broadcast_axes(axes: Any, tree: Any, what: str, wrap: bool = True) -> list:
    leaves, treedef = tree_flatten(tree)
    if axes is None or isinstance(axes, int):
        return [axes] * len(leaves)
    if wrap and isinstance(axes, list):
        axes = tuple(axes)
    if wrap and len(axes) != len(tree):
        raise ValueError(
            f"vmap: {what} has {len(axes)} entries but there are {len(tree)} arguments"
        )
    out: list = []
    for sub_axes, sub_tree in zip(axes, tree) if wrap else [(axes, tree)]:
        out.extend(_prefix_axes(sub_axes, sub_tree, sub_axes, what))
    return out


def _prefix_axes(axes: Any, tree: Any, entry: Any, what: str) -> list:
    """One axis per leaf of ``tree``: ``axes`` is a prefix of its structure whose leaves are ints
    or ``None`` (``None`` is an axis here, not an empty node), broadcast over the subtrees."""
    if axes is None or isinstance(axes, int):
        return [axes] * len(tree_flatten(tree)[0])
    if isinstance(axes, dict) and isinstance(tree, dict) and set(axes) == set(tree):
        return [a for k in sorted(tree) for a in _prefix_axes(axes[k], tree[k], entry, what)]
    if (
        isinstance(axes, (tuple, list))
        and isinstance(tree, (tuple, list))
        and len(axes) == len(tree)
    ):
        return [a for ax, t in zip(axes, tree) for a in _prefix_axes(ax, t, entry, what)]
    raise ValueError(f"vmap: {what} entry {entry} does not match its argument")


def _batch_size(leaves: Sequence[Any], axes: Sequence[int | None]) -> int:
    sizes = {}
    for i, (x, a) in enumerate(zip(leaves, axes)):
        if a is None:
            continue
        shape = get_aval(x).shape
        if not -len(shape) <= a < len(shape):
            raise ValueError(f"vmap: in_axes={a} for an argument of shape {shape}")
        sizes[i] = shape[a]
    if not sizes:
        raise ValueError("vmap: at least one argument must be batched (in_axes not all None)")
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"vmap: batched arguments have different sizes {sorted(set(sizes.values()))}"
        )
    return next(iter(sizes.values()))


# --------------------------------------------------------------------------------------------
# Helpers for batch rules
# --------------------------------------------------------------------------------------------


def batch_size_of(vals: Sequence[Any], dims: Sequence[int | None]) -> int:
    for v, d in zip(vals, dims):
        if d is not None:
            return get_aval(v).shape[0]
    raise AssertionError("no batched operand")


def materialize(x: Any, dim: int | None, size: int) -> Any:
    """A batched operand with the batch on axis 0, broadcasting an unbatched one."""
    return x if dim is not None else broadcast_batch(x, size)


def unbatched_ndim(x: Any, dim: int | None) -> int:
    return get_aval(x).ndim - (dim is not None)


def align_batched(vals: Sequence[Any], dims: Sequence[int | None]) -> list[Any]:
    """Reshape batched operands ``(B, *s)`` to ``(B, 1, ..., 1, *s)`` so that NumPy broadcasting
    of the batched and unbatched operands lines their example axes up."""
    from autodiff.ops.structural import reshape

    rank = max(unbatched_ndim(v, d) for v, d in zip(vals, dims))
    out = []
    for v, d in zip(vals, dims):
        if d is None:
            out.append(v)
            continue
        shape = get_aval(v).shape
        pad = rank - (len(shape) - 1)
        out.append(v if pad == 0 else reshape(v, (shape[0],) + (1,) * pad + shape[1:]))
    return out


def elementwise_batch(primitive: Primitive) -> Callable:
    """The batch rule of an elementwise (broadcasting) primitive."""

    def rule(vals, dims, **params):
        return bind(primitive, *align_batched(vals, dims), **params), 0

    return rule


def loop_batch(primitive: Primitive) -> Callable:
    """A batch rule that applies the primitive to each example and stacks the results.

    Correct for any primitive; used only where a vectorised rule would be contrived.
    """
    from autodiff.ops.structural import index_static, stack

    def rule(vals, dims, **params):
        size = batch_size_of(vals, dims)
        results = []
        for b in range(size):
            args = [v if d is None else index_static(v, b) for v, d in zip(vals, dims)]
            results.append(bind(primitive, *args, **params))
        if primitive.multiple_results:
            return [stack([r[k] for r in results]) for k in range(len(results[0]))], 0
        return stack(results), 0

    return rule
