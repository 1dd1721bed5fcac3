"""Indexing: ``x[idx]`` (gather), its adjoint scatter-add, and ``x.at[idx].set/add``.

A NumPy index (ints, slices, ``None``, ``...``, integer arrays, boolean masks) is normalised into a
static *spec* (a tuple of entries) plus the integer index arrays, which are inputs of the
primitive so that they may be traced values (a group index passed as data, say):

* ``("s", start, stop, step)`` -- a slice, already resolved against the axis length;
* ``("i", k)`` -- an integer (non-negative);
* ``("n",)`` -- a new axis (``None``);
* ``("a",)`` -- the next integer index array.

The primitive's NumPy implementation is NumPy indexing itself, so the semantics (including where
NumPy puts the axes of non-adjacent advanced indices) are NumPy's.  The VJP of ``gather`` is
``scatter_add``, which accumulates repeated indices (``a[[0, 0]]`` has gradient 2 at ``a[0]``).
Boolean masks must be concrete: the result's shape depends on their values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.avals import ShapedArray, broadcast_shapes
from autodiff.core import Primitive, Tracer, bind, get_aval
from autodiff.lowering import LoweringContext, loops

# --------------------------------------------------------------------------------------------
# Index normalisation and shapes
# --------------------------------------------------------------------------------------------


def normalize_index(shape: tuple[int, ...], idx: Any) -> tuple[tuple, list]:
    """Turn a NumPy index for an array of ``shape`` into ``(spec, index_arrays)``."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    n_consumed = sum(_consumes(i) for i in idx if i is not Ellipsis and i is not None)
    if sum(i is Ellipsis for i in idx) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_consumed > len(shape):
        raise IndexError(f"too many indices ({n_consumed}) for an array of shape {shape}")
    spec: list[tuple] = []
    arrays: list[Any] = []
    axis = 0
    for item in idx:
        if item is Ellipsis:
            for _ in range(len(shape) - n_consumed):
                spec.append(("s", 0, shape[axis], 1))
                axis += 1
        elif item is None:
            spec.append(("n",))
        elif isinstance(item, slice):
            spec.append(("s", *slice(item.start, item.stop, item.step).indices(shape[axis])))
            axis += 1
        elif _is_int_scalar(item):
            k = int(item)
            if not -shape[axis] <= k < shape[axis]:
                raise IndexError(
                    f"index {k} is out of bounds for axis {axis} with size {shape[axis]} "
                    f"(array of shape {shape})"
                )
            spec.append(("i", k % shape[axis]))
            axis += 1
        else:
            item = item if isinstance(item, Tracer) else np.asarray(item)
            aval = get_aval(item)
            if aval.dtype == np.bool_:
                if isinstance(item, Tracer):
                    raise IndexError(
                        "a boolean mask index must be concrete (the result's shape depends on its "
                        "values); use autodiff.numpy.where(mask, x, 0) instead"
                    )
                if item.shape != shape[axis : axis + item.ndim]:
                    raise IndexError(
                        f"boolean index of shape {item.shape} does not match the indexed "
                        f"dimensions {shape[axis : axis + item.ndim]} of an array of shape {shape}"
                    )
                for nz in np.nonzero(item):
                    spec.append(("a",))
                    arrays.append(nz)
                axis += item.ndim
                continue
            if not np.issubdtype(aval.dtype, np.integer):
                raise IndexError(
                    f"arrays used as indices must be of integer or boolean type, got {aval.dtype}"
                )
            if not isinstance(item, Tracer) and item.size:
                lo, hi = item.min(), item.max()
                if lo < -shape[axis] or hi >= shape[axis]:
                    bad = lo if lo < -shape[axis] else hi
                    raise IndexError(
                        f"index {bad} is out of bounds for axis {axis} with size {shape[axis]} "
                        f"(array of shape {shape})"
                    )
                item = np.where(item < 0, item + shape[axis], item)
            spec.append(("a",))
            arrays.append(item)
            axis += 1
    for d in shape[axis:]:
        spec.append(("s", 0, d, 1))
    return tuple(spec), arrays


def _consumes(item: Any) -> int:
    if isinstance(item, (np.ndarray, Tracer)) and get_aval(item).dtype == np.bool_:
        return get_aval(item).ndim
    if isinstance(item, list) and np.asarray(item).dtype == np.bool_:
        return np.asarray(item).ndim
    return 1


def _is_int_scalar(item: Any) -> bool:
    if isinstance(item, (bool, np.bool_)):
        return False
    if isinstance(item, (int, np.integer)):
        return True
    return False


def _layout(spec: tuple, array_shapes: list[tuple]) -> tuple[list, tuple, bool]:
    """The result's axes: ``(dims, bcast, contiguous)`` where ``dims`` lists the basic result axes
    with ``"A"`` markers for advanced entries, ``bcast`` the broadcast shape of the advanced
    indices and ``contiguous`` whether they are adjacent (then their axes go in place)."""
    has_adv = any(e[0] == "a" for e in spec)
    dims: list = []
    adv_shapes = []
    arrays = iter(array_shapes)
    for e in spec:
        if e[0] == "s":
            dims.append(len(range(e[1], e[2], e[3])))
        elif e[0] == "n":
            dims.append(1)
        elif e[0] == "i":
            if has_adv:
                dims.append("A")
                adv_shapes.append(())
        else:
            dims.append("A")
            adv_shapes.append(next(arrays))
    marks = [i for i, d in enumerate(dims) if d == "A"]
    contiguous = not marks or marks[-1] - marks[0] == len(marks) - 1
    bcast = broadcast_shapes("index", *adv_shapes) if adv_shapes else ()
    return dims, bcast, contiguous


def gather_shape(shape: tuple, spec: tuple, array_shapes: list[tuple]) -> tuple[int, ...]:
    dims, bcast, contiguous = _layout(spec, array_shapes)
    if not bcast and "A" not in dims:
        return tuple(dims)
    basic = [d for d in dims if d != "A"]
    if contiguous:
        first = dims.index("A")
        before = [d for d in dims[:first] if d != "A"]
        return (*before, *bcast, *basic[len(before) :])
    return (*bcast, *basic)


def _n_before_advanced(spec: tuple, array_shapes: list[tuple]) -> tuple[int, int]:
    """(number of result axes before the advanced group, rank of the advanced group) when the
    advanced indices are adjacent and stay in place; (0, rank) when they go first."""
    dims, bcast, contiguous = _layout(spec, array_shapes)
    if "A" not in dims:
        return 0, 0
    if not contiguous:
        return 0, len(bcast)
    return dims.index("A"), len(bcast)


def _build_index(spec: tuple, arrays: list) -> tuple:
    arrays = iter(arrays)
    out = []
    for e in spec:
        if e[0] == "s":
            out.append(slice(e[1], e[2] if e[2] >= 0 else None, e[3]))
        elif e[0] == "i":
            out.append(e[1])
        elif e[0] == "n":
            out.append(None)
        else:
            out.append(next(arrays))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# gather
# --------------------------------------------------------------------------------------------

gather_p = Primitive("gather")
gather_p.impl = lambda x, *idx, spec: np.asarray(x)[_build_index(spec, idx)]
gather_p.shape_rule = lambda x, *idx, spec: ShapedArray(
    gather_shape(x.shape, spec, [i.shape for i in idx]), x.dtype
)


def _gather_jvp(primals, tangents, spec):
    x, *idx = primals
    return gather(x, spec, idx), gather(tangents[0], spec, idx)


def _gather_vjp(g, ans, primals, needs, spec):
    x, *idx = primals
    if not needs[0]:
        return [None] * len(primals)
    zeros = np.zeros(get_aval(x).shape, get_aval(g).dtype)
    return [scatter_add(zeros, g, spec, idx)] + [None] * len(idx)


gather_p.jvp = _gather_jvp
gather_p.vjp = _gather_vjp


def gather(x, spec: tuple, arrays: list):
    return bind(gather_p, x, *arrays, spec=spec)


# --------------------------------------------------------------------------------------------
# scatter_add and scatter (set)
# --------------------------------------------------------------------------------------------


def _scatter_add_impl(operand, updates, *idx, spec):
    out = np.array(operand, copy=True)
    np.add.at(out, _build_index(spec, idx), updates)
    return out


def _scatter_set_impl(operand, updates, *idx, spec):
    out = np.array(operand, copy=True)
    out[_build_index(spec, idx)] = updates
    return out


def _scatter_shape(operand, updates, *idx, spec):
    expected = gather_shape(operand.shape, spec, [i.shape for i in idx])
    if updates.shape != expected:
        raise ValueError(f"scatter: updates of shape {updates.shape}, expected {expected}")
    return ShapedArray(operand.shape, np.result_type(operand.dtype, updates.dtype))


scatter_add_p = Primitive("scatter_add")
scatter_add_p.impl = _scatter_add_impl
scatter_add_p.shape_rule = _scatter_shape
scatter_p = Primitive("scatter")
scatter_p.impl = _scatter_set_impl
scatter_p.shape_rule = _scatter_shape


def _scatter_add_jvp(primals, tangents, spec):
    from autodiff.forward import instantiate

    operand, updates, *idx = primals
    t_op = instantiate(tangents[0], operand)
    t_up = instantiate(tangents[1], updates)
    return scatter_add(operand, updates, spec, idx), scatter_add(t_op, t_up, spec, idx)


def _scatter_add_vjp(g, ans, primals, needs, spec):
    operand, updates, *idx = primals
    ct_up = gather(g, spec, idx) if needs[1] else None
    return [g if needs[0] else None, ct_up] + [None] * len(idx)


def _scatter_jvp(primals, tangents, spec):
    from autodiff.forward import instantiate

    operand, updates, *idx = primals
    t_op = instantiate(tangents[0], operand)
    t_up = instantiate(tangents[1], updates)
    return scatter(operand, updates, spec, idx), scatter(t_op, t_up, spec, idx)


def _scatter_vjp(g, ans, primals, needs, spec):
    operand, updates, *idx = primals
    ct_op = None
    if needs[0]:
        ct_op = scatter(g, np.zeros(get_aval(updates).shape, get_aval(g).dtype), spec, idx)
    ct_up = gather(g, spec, idx) if needs[1] else None
    return [ct_op, ct_up] + [None] * len(idx)


scatter_add_p.jvp = _scatter_add_jvp
scatter_add_p.vjp = _scatter_add_vjp
scatter_p.jvp = _scatter_jvp
scatter_p.vjp = _scatter_vjp


def scatter_add(operand, updates, spec: tuple, arrays: list):
    return bind(scatter_add_p, operand, updates, *arrays, spec=spec)


def scatter(operand, updates, spec: tuple, arrays: list):
    return bind(scatter_p, operand, updates, *arrays, spec=spec)


# --------------------------------------------------------------------------------------------
# Batching: the batch axis becomes one more advanced index (arange(B)), placed first
# --------------------------------------------------------------------------------------------


def _batched_spec(size: int, spec: tuple, idx: list, dims: list) -> tuple[tuple, list]:
    """Spec and index arrays that index a batched operand example by example."""
    from autodiff.ops.structural import reshape

    shapes = [
        get_aval(i).shape[1:] if d is not None else get_aval(i).shape for i, d in zip(idx, dims)
    ]
    rank = max((len(s) for s in shapes), default=0)
    arrays = [np.arange(size).reshape((size,) + (1,) * rank)]
    for i, d, s in zip(idx, dims, shapes):
        arrays.append(i if d is None else reshape(i, (size,) + (1,) * (rank - len(s)) + s))
    return (("a",), *spec), arrays


def _example_to_batched_perm(spec: tuple, idx_shapes: list, out_ndim: int) -> list[int] | None:
    """Axis permutation from per-example layout (B, pre, bcast, post) to (B, bcast, pre, post)."""
    n_pre, n_adv = _n_before_advanced(spec, idx_shapes)
    if n_pre == 0 or n_adv == 0:
        return None
    pre = list(range(1, 1 + n_pre))
    adv = list(range(1 + n_pre, 1 + n_pre + n_adv))
    post = list(range(1 + n_pre + n_adv, out_ndim + 1))
    return [0, *adv, *pre, *post]


def _unbatched_shapes(idx, dims):
    return [
        get_aval(i).shape[1:] if d is not None else get_aval(i).shape for i, d in zip(idx, dims)
    ]


def _gather_batch(vals, dims, spec):
    from autodiff.batching import batch_size_of, materialize
    from autodiff.ops.structural import transpose

    size = batch_size_of(vals, dims)
    x = materialize(vals[0], dims[0], size)
    new_spec, arrays = _batched_spec(size, spec, vals[1:], dims[1:])
    out = gather(x, new_spec, arrays)
    perm = _example_to_batched_perm(
        spec, _unbatched_shapes(vals[1:], dims[1:]), get_aval(out).ndim - 1
    )
    if perm is not None:  # out is (B, bcast, pre, post); examples are (pre, bcast, post)
        out = transpose(out, list(np.argsort(perm)))
    return out, 0


def _scatter_batch_rule(primitive):
    def rule(vals, dims, spec):
        from autodiff.batching import batch_size_of, materialize
        from autodiff.ops.structural import transpose

        size = batch_size_of(vals, dims)
        operand = materialize(vals[0], dims[0], size)
        updates = materialize(vals[1], dims[1], size)
        new_spec, arrays = _batched_spec(size, spec, vals[2:], dims[2:])
        perm = _example_to_batched_perm(
            spec, _unbatched_shapes(vals[2:], dims[2:]), get_aval(updates).ndim - 1
        )
        if perm is not None:
            updates = transpose(updates, perm)
        return bind(primitive, operand, updates, *arrays, spec=new_spec), 0

    return rule


gather_p.batch = _gather_batch
scatter_add_p.batch = _scatter_batch_rule(scatter_add_p)
scatter_p.batch = _scatter_batch_rule(scatter_p)

# --------------------------------------------------------------------------------------------
# Numba lowering: loops over the gathered (or scattered) positions
# --------------------------------------------------------------------------------------------


def _index_plan(x_aval: ShapedArray, spec: tuple, idx_avals: list) -> tuple[tuple, list]:
    """For each gathered output axis, a loop; for each axis of ``x``, an index expression.

    Returns ``(out_shape, x_exprs)`` where ``x_exprs[k]`` is Python source (in loop variables
    ``o0, o1, ...`` and index-array names ``idx0, idx1, ...``) for the index into axis ``k`` of
    ``x``, following NumPy's placement of advanced-index axes.
    """
    out_shape = gather_shape(x_aval.shape, spec, [a.shape for a in idx_avals])
    dims, bcast, contiguous = _layout(spec, [a.shape for a in idx_avals])
    has_adv = "A" in dims
    n_b = len(bcast)
    # output position of each basic entry, and where the broadcast block starts
    basic_pos, pos = [], 0
    if has_adv and not contiguous:
        pos = n_b
    adv_start = 0
    seen_adv = False
    for d in dims:
        if d == "A":
            if contiguous and not seen_adv:
                adv_start, pos = pos, pos + n_b
            seen_adv = True
            basic_pos.append(None)
        else:
            basic_pos.append(pos)
            pos += 1
    exprs, k_arr = [], 0
    dim_iter = iter(range(len(dims)))
    for e in spec:
        if e[0] == "n":
            next(dim_iter)
            continue
        if e[0] == "s":
            p = basic_pos[next(dim_iter)]
            exprs.append(f"{e[1]} + {e[3]} * o{p}" if e[3] != 1 else f"{e[1]} + o{p}")
        elif e[0] == "i":
            if has_adv:
                next(dim_iter)
            exprs.append(str(e[1]))
        else:
            next(dim_iter)
            shape = idx_avals[k_arr].shape
            subs = [
                "0" if d == 1 and bcast[n_b - len(shape) + j] != 1
                else f"o{adv_start + n_b - len(shape) + j}"
                for j, d in enumerate(shape)
            ]
            exprs.append(f"idx{k_arr}[{', '.join(subs)}]" if shape else f"idx{k_arr}")
            k_arr += 1
    return out_shape, exprs


def _bind_index_names(ins: list[str], start: int) -> list[str]:
    return [f"idx{k} = {name}" for k, name in enumerate(ins[start:])]


def _basic_view(spec: tuple) -> str | None:
    """``a:b`` / ``k`` index source when ``spec`` is basic (a view, no copy), else None."""
    parts = []
    for e in spec:
        if e[0] == "s":
            parts.append(f"{e[1]}:{'' if e[2] < 0 else e[2]}:{e[3]}" if e[3] != 1 else f"{e[1]}:{e[2]}")
        elif e[0] == "i":
            parts.append(str(e[1]))
        else:
            return None
    return ", ".join(parts)


def _lower_gather(ctx: LoweringContext) -> list[str]:
    x, out, spec = ctx.ins[0], ctx.out, ctx.params["spec"]
    view = _basic_view(spec)
    if view is not None and ctx.in_avals[0].ndim:
        return [f"{out} = {x}[{view}]"]
    out_shape, exprs = _index_plan(ctx.in_avals[0], spec, ctx.in_avals[1:])
    src = f"{x}[{', '.join(exprs)}]" if exprs else x
    lines = _bind_index_names(ctx.ins, 1)
    if not out_shape:
        return lines + [f"{out} = {src}"]
    lines.append(f"{out} = {ctx.alloc(ctx.out_aval)}")
    target = f"{out}[{', '.join(f'o{k}' for k in range(len(out_shape)))}]"
    return lines + loops(out_shape, f"{target} = {src}")


def _lower_scatter(accumulate: bool):
    def lower(ctx: LoweringContext) -> list[str]:
        operand, out, out_aval = ctx.in_avals[0], ctx.out, ctx.out_aval
        if operand.ndim == 0:
            # A scalar can only be indexed by newaxes (``u[None]``), so the update holds exactly
            # one element whatever its rank of ones: read it at the origin.
            upd_rank = ctx.in_avals[1].ndim
            upd = f"{ctx.ins[1]}[{', '.join(['0'] * upd_rank)}]" if upd_rank else ctx.ins[1]
            dtype = f"np.{out_aval.dtype.name}"
            if accumulate:
                return [f"{out} = {dtype}({ctx.ins[0]} + {upd})"]
            return [f"{out} = {dtype}({upd})"]
        out_shape, exprs = _index_plan(operand, ctx.params["spec"], ctx.in_avals[2:])
        lines = _bind_index_names(ctx.ins, 2)
        if ctx.may_overwrite(0) and operand.dtype == out_aval.dtype:
            lines.append(f"{out} = {ctx.ins[0]}")  # read by nothing else: updated in place
        else:  # a copy, into the workspace when the function has one
            lines += [f"{out} = {ctx.alloc(out_aval)}", f"cn.assign_all({out}, {ctx.ins[0]})"]
        unit = ctx.input_fact(ctx.facts.unit_scalars, 1)
        if unit is not None:  # the update is a scalar reshaped to shape (1,): use the scalar
            upd = unit
        elif out_shape:
            upd = f"{ctx.ins[1]}[{', '.join(f'o{k}' for k in range(len(out_shape)))}]"
        else:
            upd = ctx.ins[1]
        op = "+=" if accumulate else "="
        return lines + loops(out_shape, f"{out}[{', '.join(exprs)}] {op} {upd}")

    return lower


gather_p.lower = _lower_gather
scatter_add_p.lower = _lower_scatter(accumulate=True)
scatter_p.lower = _lower_scatter(accumulate=False)

# --------------------------------------------------------------------------------------------
# User-level functions
# --------------------------------------------------------------------------------------------


def getitem(x, idx):
    """``x[idx]`` with NumPy's indexing semantics."""
    shape = get_aval(x).shape
    spec, arrays = normalize_index(shape, idx)
    if (
        not arrays
        and all(e[0] == "s" for e in spec)
        and all(e[1] == 0 and e[2] == d and e[3] == 1 for e, d in zip(spec, shape))
    ):
        return x
    return gather(x, spec, arrays)


def _updates_for(x, spec, arrays, values):
    from autodiff.ops.elementwise import astype
    from autodiff.ops.structural import broadcast_to

    target = gather_shape(get_aval(x).shape, spec, [get_aval(a).shape for a in arrays])
    values = values if isinstance(values, Tracer) else np.asarray(values)
    try:
        np.broadcast_shapes(get_aval(values).shape, target)
    except ValueError:
        raise ValueError(
            f"cannot assign values of shape {get_aval(values).shape} to an indexed region of "
            f"shape {target}"
        ) from None
    values = astype(values, np.result_type(get_aval(x).dtype, get_aval(values).dtype))
    return broadcast_to(values, target)


def index_add(x, idx, values):
    """``x`` with ``values`` added at ``x[idx]`` (repeated indices accumulate)."""
    spec, arrays = normalize_index(get_aval(x).shape, idx)
    return scatter_add(x, _updates_for(x, spec, arrays, values), spec, arrays)


def index_set(x, idx, values):
    """``x`` with ``x[idx]`` replaced by ``values`` (functional update)."""
    spec, arrays = normalize_index(get_aval(x).shape, idx)
    return scatter(x, _updates_for(x, spec, arrays, values), spec, arrays)


def slice_axis(x, axis: int, start: int, stop: int):
    """``x[..., start:stop, ...]`` along ``axis``."""
    idx = [slice(None)] * get_aval(x).ndim
    idx[axis] = slice(start, stop)
    return getitem(x, tuple(idx))


class _IndexUpdateHelper:
    """``x.at[idx].set(v)`` / ``.add(v)`` / ``.get()``: functional indexed updates, as in JAX."""

    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.x, idx)


class _IndexUpdateRef:
    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def get(self):
        return getitem(self.x, self.idx)

    def set(self, values):
        return index_set(self.x, self.idx, values)

    def add(self, values):
        return index_add(self.x, self.idx, values)

    def multiply(self, values):
        from autodiff.ops.elementwise import mul

        return index_set(self.x, self.idx, mul(getitem(self.x, self.idx), values))


def at(x) -> _IndexUpdateHelper:
    """``at(x)[idx].set(v)``: the functional update helper, also for plain NumPy arrays."""
    return _IndexUpdateHelper(x)
