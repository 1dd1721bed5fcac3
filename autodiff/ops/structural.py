"""Structural primitives: reshape, transpose, broadcast_to, concatenate.

All are linear, so their JVP applies the same operation to the tangent and their VJP applies the
adjoint operation (reshape back, inverse permutation, sum over broadcast axes, slice) to the
cotangent.  Composites (``moveaxis``, ``expand_dims``, ``squeeze``, ``stack``) are built on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from autodiff.avals import ShapedArray, normalize_axis
from autodiff.batching import batch_size_of, materialize
from autodiff.core import Primitive, bind1, get_aval
from autodiff.lowering import LoweringContext, loops, reshaped, shape_src
from autodiff.ops._rules import unbroadcast

# --------------------------------------------------------------------------------------------
# reshape
# --------------------------------------------------------------------------------------------

reshape_p = Primitive("reshape")
reshape_p.impl = lambda x, shape: np.reshape(x, shape)
reshape_p.shape_rule = lambda x, shape: ShapedArray(shape, x.dtype)
reshape_p.jvp = lambda primals, tangents, shape: (
    reshape(primals[0], shape),
    reshape(tangents[0], shape),
)
reshape_p.vjp = lambda g, ans, primals, needs, shape: [reshape(g, get_aval(primals[0]).shape)]
reshape_p.batch = lambda vals, dims, shape: (
    reshape(vals[0], (get_aval(vals[0]).shape[0], *shape)),
    0,
)


def reshape(x, shape: Sequence[int] | int):
    """``x`` with a new shape (one entry may be -1)."""
    aval = get_aval(x)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1]))
        if shape.count(-1) > 1 or known == 0 or aval.size % known:
            raise ValueError(f"reshape: cannot reshape an array of shape {aval.shape} into {shape}")
        shape = tuple(aval.size // known if d == -1 else d for d in shape)
    if int(np.prod(shape)) != aval.size:
        raise ValueError(
            f"reshape: cannot reshape an array of shape {aval.shape} (size {aval.size}) into "
            f"shape {shape}"
        )
    if shape == aval.shape:
        return x
    return bind1(reshape_p, x, shape=shape)


# --------------------------------------------------------------------------------------------
# transpose
# --------------------------------------------------------------------------------------------

transpose_p = Primitive("transpose")
transpose_p.impl = lambda x, perm: np.transpose(x, perm)
transpose_p.shape_rule = lambda x, perm: ShapedArray(tuple(x.shape[p] for p in perm), x.dtype)
transpose_p.jvp = lambda primals, tangents, perm: (
    transpose(primals[0], perm),
    transpose(tangents[0], perm),
)
transpose_p.vjp = lambda g, ans, primals, needs, perm: [transpose(g, tuple(np.argsort(perm)))]
transpose_p.batch = lambda vals, dims, perm: (
    transpose(vals[0], (0, *(p + 1 for p in perm))),
    0,
)


def transpose(x, axes: Sequence[int] | None = None):
    """Permute the axes of ``x`` (reverse them when ``axes`` is None)."""
    ndim = get_aval(x).ndim
    perm = tuple(range(ndim))[::-1] if axes is None else tuple(int(a) % max(ndim, 1) for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of an array of rank {ndim}")
    if perm == tuple(range(ndim)):
        return x
    return bind1(transpose_p, x, perm=perm)


def moveaxis(x, source: int, destination: int):
    """Move axis ``source`` of ``x`` to position ``destination``."""
    ndim = get_aval(x).ndim
    source, destination = source % ndim, destination % ndim
    perm = [a for a in range(ndim) if a != source]
    perm.insert(destination, source)
    return transpose(x, perm)


def swapaxes(x, axis1: int, axis2: int):
    ndim = get_aval(x).ndim
    perm = list(range(ndim))
    perm[axis1 % ndim], perm[axis2 % ndim] = perm[axis2 % ndim], perm[axis1 % ndim]
    return transpose(x, perm)


# --------------------------------------------------------------------------------------------
# broadcast_to
# --------------------------------------------------------------------------------------------

broadcast_to_p = Primitive("broadcast_to")
broadcast_to_p.impl = lambda x, shape: np.broadcast_to(x, shape)


def _broadcast_to_shape(x: ShapedArray, shape):
    try:
        np.broadcast_shapes(x.shape, shape)
        if np.broadcast_shapes(x.shape, shape) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return ShapedArray(shape, x.dtype)


broadcast_to_p.shape_rule = _broadcast_to_shape
broadcast_to_p.jvp = lambda primals, tangents, shape: (
    broadcast_to(primals[0], shape),
    broadcast_to(tangents[0], shape),
)
broadcast_to_p.vjp = lambda g, ans, primals, needs, shape: [
    unbroadcast(g, get_aval(primals[0]).shape)
]


def _broadcast_batch_rule(vals, dims, shape):
    x = vals[0]
    xs = get_aval(x).shape
    size, inner = xs[0], xs[1:]
    pad = len(shape) - len(inner)
    x = reshape(x, (size,) + (1,) * pad + inner)
    return broadcast_to(x, (size, *shape)), 0


broadcast_to_p.batch = _broadcast_batch_rule


def broadcast_to(x, shape: Sequence[int]):
    """``x`` broadcast to ``shape`` (NumPy rules)."""
    shape = tuple(int(d) for d in shape)
    if get_aval(x).shape == shape:
        return x
    return bind1(broadcast_to_p, x, shape=shape)


# --------------------------------------------------------------------------------------------
# concatenate
# --------------------------------------------------------------------------------------------

concatenate_p = Primitive("concatenate")
concatenate_p.impl = lambda *xs, axis: np.concatenate(xs, axis=axis)


def _concatenate_shape(*avals: ShapedArray, axis: int) -> ShapedArray:
    first = avals[0]
    for a in avals[1:]:
        if a.ndim != first.ndim or any(
            d1 != d2 for i, (d1, d2) in enumerate(zip(a.shape, first.shape)) if i != axis
        ):
            shapes = ", ".join(str(b.shape) for b in avals)
            raise ValueError(
                f"concatenate: along axis {axis} the other dimensions must agree; got shapes "
                f"{shapes}"
            )
    shape = list(first.shape)
    shape[axis] = sum(a.shape[axis] for a in avals)
    return ShapedArray(tuple(shape), np.result_type(*[a.dtype for a in avals]))


def _concatenate_jvp(primals, tangents, axis):
    from autodiff.forward import instantiate

    out = concatenate(primals, axis)
    ts = [instantiate(t, p) for p, t in zip(primals, tangents)]
    return out, concatenate(ts, axis)


def _concatenate_vjp(g, ans, primals, needs, axis):
    from autodiff.ops.indexing import slice_axis

    cts, start = [], 0
    for x, need in zip(primals, needs):
        n = get_aval(x).shape[axis]
        cts.append(slice_axis(g, axis, start, start + n) if need else None)
        start += n
    return cts


def _concatenate_batch(vals, dims, axis):
    size = batch_size_of(vals, dims)
    return concatenate([materialize(v, d, size) for v, d in zip(vals, dims)], axis + 1), 0


concatenate_p.shape_rule = _concatenate_shape
concatenate_p.jvp = _concatenate_jvp
concatenate_p.vjp = _concatenate_vjp
concatenate_p.batch = _concatenate_batch


def concatenate(xs: Sequence, axis: int = 0):
    """Join arrays along an existing axis."""
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: need at least one array")
    ndim = get_aval(xs[0]).ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    (axis,) = normalize_axis("concatenate", axis, ndim)
    if len(xs) == 1:
        return xs[0]
    return bind1(concatenate_p, *xs, axis=axis)


# --------------------------------------------------------------------------------------------
# Numba lowering
# --------------------------------------------------------------------------------------------


def _lower_reshape(ctx: LoweringContext) -> list[str]:
    facts, out, (x,), (x_aval,) = ctx.facts, ctx.out, ctx.ins, ctx.in_avals
    if (ctx.output_in(facts.matvec_vectors) or ctx.output_in(facts.unit_scalars)
            or ctx.output_in(facts.stacked_scalars)):
        return []  # its readers read the vector (or the scalar) it views instead
    if ctx.input_in(facts.flat_products, 0):
        return [f"{out} = {x}"]  # the product was computed 1-D already
    if ctx.out_aval.ndim == 0:
        return [f"{out} = {x}[{', '.join('0' for _ in range(x_aval.ndim))}]" if x_aval.ndim
                else f"{out} = {x}"]
    if x_aval.ndim == 0:
        if ctx.in_workspace:
            return _written(ctx, lambda idx: x)
        return [f"{out} = cn.full({shape_src(ctx.out_aval)}, {x})"]
    return [f"{out} = {reshaped(x, ctx.out_aval.shape)}"]


# In a function with a workspace (a model kernel, an ODE right-hand side called at every stage)
# the rules below write their float64 results into a slice of it by loops instead of allocating
# a new array per call (an allocation costs about as much as a small right-hand side).


def _index(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "()"


def _written(ctx: LoweringContext, element) -> list[str]:
    """``out = <workspace slice>`` and loops over the result's shape writing ``element(idx)``
    (the source of one element, given the loop indices ``o0, o1...``) at each index."""
    shape = ctx.out_aval.shape
    idx = [f"o{k}" for k in range(len(shape))]
    return [f"{ctx.out} = {ctx.alloc(ctx.out_aval)}",
            *_loops(shape, idx, f"{ctx.out}[{_index(idx)}] = {element(idx)}")]


def _loops(shape, idx: list[str], body: str) -> list[str]:
    """:func:`loops`, or the one statement with the indices 0 when there is one element."""
    if all(d == 1 for d in shape):
        for name in idx:
            body = re.sub(rf"\b{name}\b", "0", body)
        return [body]
    return loops(shape, body)


def _lower_concatenate(ctx: LoweringContext) -> list[str]:
    scalars = [ctx.input_fact(ctx.facts.stacked_scalars, k) for k in range(len(ctx.ins))]
    if not ctx.in_workspace and not any(scalars):
        return [f"{ctx.out} = cn.concatenate(({''.join(n + ', ' for n in ctx.ins)}), "
                f"{ctx.params['axis']})"]
    axis, out = ctx.params["axis"], ctx.out
    lines = [f"{out} = {ctx.alloc(ctx.out_aval)}"]
    offset = 0
    for x, aval, scalar in zip(ctx.ins, ctx.in_avals, scalars):
        if scalar is not None:  # a stacked scalar: no array of one element
            lines.append(f"{out}[{offset}] = {scalar}")
            offset += 1
            continue
        idx = [f"o{k}" for k in range(aval.ndim)]
        at = list(idx)
        at[axis] = f"{offset} + o{axis}"
        lines += _loops(aval.shape, idx, f"{out}[{_index(at)}] = {x}[{_index(idx)}]")
        offset += aval.shape[axis]
    return lines


def _lower_transpose(ctx: LoweringContext) -> list[str]:
    if ctx.output_in(ctx.facts.matmul_transposes):
        return []  # only read by matrix products, which take the transposed view
    x, perm = ctx.ins[0], ctx.params["perm"]
    if ctx.in_workspace:  # out[o_0, o_1, ...] = x[...] with o_k at x's axis perm[k]
        def element(idx):
            at = [""] * len(perm)
            for k, axis in enumerate(perm):
                at[axis] = idx[k]
            return f"{x}[{_index(at)}]"

        return _written(ctx, element)
    if perm == (1, 0):
        return [f"{ctx.out} = cn.ascontiguousarray({x}.T)"]
    return [f"{ctx.out} = cn.ascontiguousarray(cn.transpose({x}, {perm}))"]


def _lower_broadcast_to(ctx: LoweringContext) -> list[str]:
    x_aval, shape = ctx.in_avals[0], ctx.out_aval.shape
    if ctx.in_workspace:  # NumPy's broadcasting: x's axes align with the last ones of out
        lead = len(shape) - x_aval.ndim

        def element(idx):
            if not x_aval.ndim:
                return ctx.ins[0]
            at = ["0" if d == 1 else idx[lead + i] for i, d in enumerate(x_aval.shape)]
            return f"{ctx.ins[0]}[{_index(at)}]"

        return _written(ctx, element)
    x = f"cn.full((1,), {ctx.ins[0]})" if ctx.in_avals[0].ndim == 0 else ctx.ins[0]
    return [f"{ctx.out} = cn.ascontiguousarray(cn.broadcast_to({x}, {shape_src(ctx.out_aval)}))"]


reshape_p.lower = _lower_reshape
transpose_p.lower = _lower_transpose
broadcast_to_p.lower = _lower_broadcast_to
# in a fused loop, the element of the broadcast operand (read at the loop's index) is the value
broadcast_to_p.scalar_template = "{0}"
concatenate_p.lower = _lower_concatenate

# --------------------------------------------------------------------------------------------
# Composites
# --------------------------------------------------------------------------------------------


def expand_dims(x, axis):
    """Insert axes of length one at the positions ``axis`` of the result."""
    shape = list(get_aval(x).shape)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out_ndim = len(shape) + len(axes)
    for a in sorted(int(a) % out_ndim for a in axes):
        shape.insert(a, 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    """Remove axes of length one (all of them, or those in ``axis``)."""
    shape = get_aval(x).shape
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = normalize_axis("squeeze", axis, len(shape))
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {shape} does not have length 1")
    return reshape(x, [d for i, d in enumerate(shape) if i not in axes])


def stack(xs: Sequence, axis: int = 0):
    """Join arrays of the same shape along a new axis."""
    xs = list(xs)
    if not xs:
        raise ValueError("stack: need at least one array")
    shapes = {get_aval(x).shape for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"stack: all arrays must have the same shape, got {sorted(shapes)}")
    ndim = get_aval(xs[0]).ndim + 1
    axis = int(axis) % ndim
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def index_static(x, i: int):
    """``x[i]`` for a Python int ``i`` (used by loop batching)."""
    from autodiff.ops.indexing import getitem

    return getitem(x, int(i))
