"""Reductions and scans along axes: sum, max, min, prod, cumsum, cumprod, argsort, argmax.

``axes`` parameters are sorted tuples of non-negative axes of the (unbatched) operand; the result
drops them (``keepdims`` is a reshape in :mod:`autodiff.numpy`).  The VJP of a sum broadcasts the
cotangent back; the VJP of max/min sends it to the arg-max positions (split equally among ties).
"""

from __future__ import annotations

import numpy as np

from autodiff.avals import ShapedArray, normalize_axis
from autodiff.core import Primitive, bind1, get_aval
from autodiff.lowering import LoweringContext, LoweringRule, loops, reshaped


def _reduced_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _expand_back(g, x_shape: tuple, axes: tuple):
    """Broadcast a reduced value back to the operand's shape."""
    from autodiff.ops.structural import broadcast_to, reshape

    return broadcast_to(reshape(g, _kept_shape(x_shape, axes)), x_shape)


def _def_reduction(name: str, impl, dtype_rule=None) -> Primitive:
    prim = Primitive(name)
    prim.impl = lambda x, axes: np.asarray(impl(x, axis=axes))
    prim.shape_rule = lambda x, axes: ShapedArray(
        _reduced_shape(x.shape, axes), dtype_rule(x.dtype) if dtype_rule else x.dtype
    )
    prim.batch = lambda vals, dims, axes: (
        bind1(prim, vals[0], axes=tuple(a + 1 for a in axes)),
        0,
    )
    return prim


def _sum_dtype(dtype):
    return (
        np.result_type(dtype, np.int64)
        if dtype == np.bool_ or np.issubdtype(dtype, np.integer)
        else dtype
    )


reduce_sum_p = _def_reduction("reduce_sum", np.sum, _sum_dtype)
reduce_sum_p.jvp = lambda primals, tangents, axes: (
    reduce_sum(primals[0], axes),
    reduce_sum(tangents[0], axes),
)
reduce_sum_p.vjp = lambda g, ans, primals, needs, axes: [
    _expand_back(g, get_aval(primals[0]).shape, axes)
]

reduce_max_p = _def_reduction("reduce_max", np.max)
reduce_min_p = _def_reduction("reduce_min", np.min)


def _location_weights(x, ans, axes):
    """1/(number of ties) at the positions where ``x`` attains the reduced value, else 0."""
    from autodiff.ops.elementwise import astype, div, eq

    mask = astype(eq(x, _expand_back(ans, get_aval(x).shape, axes)), get_aval(x).dtype)
    counts = reduce_sum(mask, axes)
    return div(mask, _expand_back(counts, get_aval(x).shape, axes))


def _extremum_jvp(prim):
    def jvp(primals, tangents, axes):
        from autodiff.ops.elementwise import mul

        (x,), (t,) = primals, tangents
        ans = bind1(prim, x, axes=axes)
        return ans, reduce_sum(mul(t, _location_weights(x, ans, axes)), axes)

    return jvp


def _extremum_vjp(g, ans, primals, needs, axes):
    from autodiff.ops.elementwise import mul

    (x,) = primals
    return [mul(_expand_back(g, get_aval(x).shape, axes), _location_weights(x, ans, axes))]


reduce_max_p.jvp, reduce_max_p.vjp = _extremum_jvp(reduce_max_p), _extremum_vjp
reduce_min_p.jvp, reduce_min_p.vjp = _extremum_jvp(reduce_min_p), _extremum_vjp

reduce_prod_p = _def_reduction("reduce_prod", np.prod, _sum_dtype)


def _prod_of_others(x, axes):
    """∂ prod(x) / ∂ x_i = prod of the other entries, computed without dividing by x_i (so it is
    right when some entries are zero): exclusive products from the left times from the right."""
    from autodiff.ops.elementwise import mul
    from autodiff.ops.structural import concatenate, reshape, transpose

    shape = get_aval(x).shape
    keep = [i for i in range(len(shape)) if i not in axes]
    perm = keep + list(axes)
    xt = transpose(x, perm)
    lead = tuple(shape[i] for i in keep)
    n = int(np.prod([shape[a] for a in axes]))
    flat = reshape(xt, (*lead, n))
    ones = np.ones((*lead, 1), get_aval(x).dtype)
    from autodiff.ops.indexing import slice_axis

    left = concatenate([ones, cumprod(slice_axis(flat, len(lead), 0, n - 1), -1)], -1)
    right = cumprod(slice_axis(flat, len(lead), 1, n), -1, reverse=True)
    right = concatenate([right, ones], -1)
    others = reshape(mul(left, right), tuple(shape[i] for i in perm))
    return transpose(others, list(np.argsort(perm)))


def _prod_jvp(primals, tangents, axes):
    from autodiff.ops.elementwise import mul

    (x,), (t,) = primals, tangents
    return reduce_prod(x, axes), reduce_sum(mul(t, _prod_of_others(x, axes)), axes)


def _prod_vjp(g, ans, primals, needs, axes):
    from autodiff.ops.elementwise import mul

    (x,) = primals
    return [mul(_expand_back(g, get_aval(x).shape, axes), _prod_of_others(x, axes))]


reduce_prod_p.jvp, reduce_prod_p.vjp = _prod_jvp, _prod_vjp

# --------------------------------------------------------------------------------------------
# Cumulative sums and products
# --------------------------------------------------------------------------------------------


def _cumulative_impl(op):
    def impl(x, axis, reverse):
        x = np.asarray(x)
        if reverse:
            return np.flip(op(np.flip(x, axis), axis=axis), axis)
        return op(x, axis=axis)

    return impl


cumsum_p = Primitive("cumsum")
cumsum_p.impl = _cumulative_impl(np.cumsum)
cumsum_p.shape_rule = lambda x, axis, reverse: ShapedArray(x.shape, _sum_dtype(x.dtype))
cumsum_p.jvp = lambda primals, tangents, axis, reverse: (
    cumsum(primals[0], axis, reverse),
    cumsum(tangents[0], axis, reverse),
)
cumsum_p.vjp = lambda g, ans, primals, needs, axis, reverse: [cumsum(g, axis, not reverse)]
cumsum_p.batch = lambda vals, dims, axis, reverse: (cumsum(vals[0], axis + 1, reverse), 0)

cumprod_p = Primitive("cumprod")
cumprod_p.impl = _cumulative_impl(np.cumprod)
cumprod_p.shape_rule = lambda x, axis, reverse: ShapedArray(x.shape, _sum_dtype(x.dtype))


def _cumprod_jvp(primals, tangents, axis, reverse):
    from autodiff.ops.elementwise import div, mul

    (x,), (t,) = primals, tangents
    ans = cumprod(x, axis, reverse)
    # d ans_i = ans_i * sum_{j <= i} t_j / x_j   (entries equal to zero are not supported)
    return ans, mul(ans, cumsum(div(t, x), axis, reverse))


def _cumprod_vjp(g, ans, primals, needs, axis, reverse):
    from autodiff.ops.elementwise import div, mul

    (x,) = primals
    return [div(cumsum(mul(g, ans), axis, not reverse), x)]


cumprod_p.jvp, cumprod_p.vjp = _cumprod_jvp, _cumprod_vjp
cumprod_p.batch = lambda vals, dims, axis, reverse: (cumprod(vals[0], axis + 1, reverse), 0)

# --------------------------------------------------------------------------------------------
# Integer-valued: argsort, argmax, argmin
# --------------------------------------------------------------------------------------------

argsort_p = Primitive("argsort", nondiff=True)
argsort_p.impl = lambda x, axis: np.argsort(x, axis=axis, kind="stable")
argsort_p.shape_rule = lambda x, axis: ShapedArray(x.shape, np.int64)
argsort_p.batch = lambda vals, dims, axis: (bind1(argsort_p, vals[0], axis=axis + 1), 0)

argmax_p = Primitive("argmax", nondiff=True)
argmax_p.impl = lambda x, axis: np.argmax(x, axis=axis)
argmax_p.shape_rule = lambda x, axis: ShapedArray(_reduced_shape(x.shape, (axis,)), np.int64)
argmax_p.batch = lambda vals, dims, axis: (bind1(argmax_p, vals[0], axis=axis + 1), 0)
argmin_p = Primitive("argmin", nondiff=True)
argmin_p.impl = lambda x, axis: np.argmin(x, axis=axis)
argmin_p.shape_rule = argmax_p.shape_rule
argmin_p.batch = lambda vals, dims, axis: (bind1(argmin_p, vals[0], axis=axis + 1), 0)

# --------------------------------------------------------------------------------------------
# Numba lowering: the reduced axes are moved last and the operand seen as a (rows, reduced)
# matrix, which the row kernels of ``kernels.graph_ops`` (``gk``) reduce or scan
# --------------------------------------------------------------------------------------------


def _rows(x: str, aval: ShapedArray, axes: tuple) -> tuple[list[str], str, tuple]:
    """Lines that move ``axes`` last and reshape to (rows, reduced); the kept shape."""
    keep = [i for i in range(aval.ndim) if i not in axes]
    perm = tuple(keep + list(axes))
    kept = tuple(aval.shape[i] for i in keep)
    rows = int(np.prod(kept)) if kept else 1
    red = int(np.prod([aval.shape[a] for a in axes]))
    src = x if aval.ndim else f"cn.full((1,), {x})"
    if perm != tuple(range(aval.ndim)) and aval.ndim:
        src = f"cn.transpose({src}, {perm})"
    return [f"{x}_r = {reshaped(src, (rows, red))}"], f"{x}_r", kept


def _rows_result(ctx: LoweringContext, kind: str, axes: tuple) -> list[str]:
    """``gk.rows_<kind>`` of the operand's rows, reshaped to the kept axes (or its one value)."""
    lines, rows, kept = _rows(ctx.ins[0], ctx.in_avals[0], axes)
    call = f"gk.rows_{kind}({rows})"
    return lines + [f"{ctx.out} = {call}[0]" if not kept else f"{ctx.out} = {reshaped(call, kept)}"]


# The start of each float reduction, a value ``s`` with ``s op x == x`` for every x (-0.0 keeps
# the sign of a zero sum), and the update of an accumulator ``{s}`` by an element ``{v}``: the
# same results, to the bit, as the row kernels, which start from the first element.
_FLOAT_REDUCTION = {
    "sum": ("-0.0", "{s} += {v}"),
    "prod": ("1.0", "{s} *= {v}"),
    "max": ("-np.inf", "{s} = {v} if {v} > {s} or {v} != {v} else {s}"),
    "min": ("np.inf", "{s} = {v} if {v} < {s} or {v} != {v} else {s}"),
}


def _inline_float_reduction(ctx: LoweringContext, kind: str) -> list[str]:
    """Loops writing into an array from ``ctx.alloc`` -- a slice of the workspace when the
    function has one: no transposed copy, no allocated result (a loop body runs this at every
    step). Each result element sees the reduced elements in the row kernels' order, so the
    loop nest may follow the operand's memory order: reduced axes last, a scalar accumulator
    in the innermost loops; otherwise the loops in axis order, accumulating into the result."""
    aval, x, out, axes = ctx.in_avals[0], ctx.ins[0], ctx.out, tuple(ctx.params["axes"])
    start, update = _FLOAT_REDUCTION[kind]
    keep = [i for i in range(aval.ndim) if i not in axes]
    index = {d: f"o{k}" for k, d in enumerate(keep)}
    index.update({d: f"r{k}_" for k, d in enumerate(axes)})
    element = f"{x}[{', '.join(index[d] for d in range(aval.ndim))}]"
    target = f"{out}[{', '.join(f'o{k}' for k in range(len(keep)))}]"

    def nest(dims: list[int], depth: int = 0) -> list[str]:
        return [f"{'    ' * (depth + k)}for {index[d]} in range({aval.shape[d]}):"
                for k, d in enumerate(dims)]

    if list(axes) == list(range(len(keep), aval.ndim)):
        pad = "    " * aval.ndim
        inner = [*nest(list(axes), len(keep)), f"{pad}v_ = {element}",
                 pad + update.format(s="s_", v="v_")]
        if not keep:
            return [f"s_ = {start}", *inner, f"{out} = s_"]
        head = "    " * len(keep)
        return [f"{out} = {ctx.alloc(ctx.out_aval)}", *nest(keep), f"{head}s_ = {start}",
                *inner, f"{head}{target} = s_"]
    pad = "    " * aval.ndim
    return [f"{out} = {ctx.alloc(ctx.out_aval)}",
            *loops(ctx.out_aval.shape, f"{target} = {start}"),
            *nest(list(range(aval.ndim)) if list(axes) == sorted(axes) else [*axes, *keep]),
            f"{pad}v_ = {element}", f"{pad}w_ = {target}",
            pad + update.format(s="w_", v="v_"), f"{pad}{target} = w_"]


def _lower_reduction(kind: str) -> LoweringRule:
    def lower(ctx: LoweringContext) -> list[str]:
        aval = ctx.in_avals[0]
        if aval.ndim and aval.dtype == np.float64 and ctx.out_aval.dtype == np.float64:
            return _inline_float_reduction(ctx, kind)
        return _rows_result(ctx, kind, ctx.params["axes"])

    return lower


def _lower_along_axis(kind: str) -> LoweringRule:
    """cumsum, cumprod, argsort: a result of the operand's shape, computed along one axis."""

    def lower(ctx: LoweringContext) -> list[str]:
        aval, axis = ctx.in_avals[0], ctx.params["axis"]
        lines, rows, kept = _rows(ctx.ins[0], aval, (axis,))
        moved = (*kept, aval.shape[axis])
        perm = [i for i in range(aval.ndim) if i != axis] + [axis]
        back = tuple(int(p) for p in np.argsort(perm))
        reverse = f", {ctx.params['reverse']}" if "reverse" in ctx.params else ""
        res = reshaped(f"gk.rows_{kind}({rows}{reverse})", moved)
        if kind != "argsort" and back == tuple(range(len(back))):
            return lines + [f"{ctx.out} = {res}"]  # np.transpose with axes is costly to compile
        return lines + [f"{ctx.out} = cn.ascontiguousarray(cn.transpose({res}, {back}))"]

    return lower


reduce_sum_p.lower = _lower_reduction("sum")
reduce_max_p.lower = _lower_reduction("max")
reduce_min_p.lower = _lower_reduction("min")
reduce_prod_p.lower = _lower_reduction("prod")
cumsum_p.lower = _lower_along_axis("cumsum")
cumprod_p.lower = _lower_along_axis("cumprod")
argsort_p.lower = _lower_along_axis("argsort")
argmax_p.lower = lambda ctx: _rows_result(ctx, "argmax", (ctx.params["axis"],))
argmin_p.lower = lambda ctx: _rows_result(ctx, "argmin", (ctx.params["axis"],))

# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------


def _axes(name, x, axis):
    return normalize_axis(name, axis, get_aval(x).ndim)


def reduce_sum(x, axis=None):
    axes = _axes("sum", x, axis)
    return x if not axes else bind1(reduce_sum_p, x, axes=axes)


def reduce_max(x, axis=None):
    axes = _axes("max", x, axis)
    _check_nonempty("max", x, axes)
    return x if not axes else bind1(reduce_max_p, x, axes=axes)


def reduce_min(x, axis=None):
    axes = _axes("min", x, axis)
    _check_nonempty("min", x, axes)
    return x if not axes else bind1(reduce_min_p, x, axes=axes)


def reduce_prod(x, axis=None):
    axes = _axes("prod", x, axis)
    return x if not axes else bind1(reduce_prod_p, x, axes=axes)


def _check_nonempty(name, x, axes):
    shape = get_aval(x).shape
    if any(shape[a] == 0 for a in axes):
        raise ValueError(f"{name}: zero-size array of shape {shape} has no {name} along {axes}")


def cumsum(x, axis=None, reverse: bool = False):
    from autodiff.ops.structural import reshape

    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    (axis,) = _axes("cumsum", x, axis)
    return bind1(cumsum_p, x, axis=axis, reverse=bool(reverse))


def cumprod(x, axis=None, reverse: bool = False):
    from autodiff.ops.structural import reshape

    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    (axis,) = _axes("cumprod", x, axis)
    return bind1(cumprod_p, x, axis=axis, reverse=bool(reverse))


def argsort(x, axis: int = -1):
    (axis,) = _axes("argsort", x, axis)
    return bind1(argsort_p, x, axis=axis)


def argmax(x, axis=None):
    from autodiff.ops.structural import reshape

    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    (axis,) = _axes("argmax", x, axis)
    return bind1(argmax_p, x, axis=axis)


def argmin(x, axis=None):
    from autodiff.ops.structural import reshape

    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    (axis,) = _axes("argmin", x, axis)
    return bind1(argmin_p, x, axis=axis)
