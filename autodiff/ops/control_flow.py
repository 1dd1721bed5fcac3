"""Structured control flow: ``cond``, ``scan`` and ``fori_loop``.

Their bodies are staged into :class:`~autodiff.ir.Graph` s (so a 10,000-step loop is one equation
holding a body, not 10,000 unrolled equations), and their rules transform the bodies:

* JVP: the body's JVP is staged into a new body carrying primals and tangents side by side.
* VJP of ``cond``: a ``cond`` over the branches' pullbacks (recomputing the chosen branch).
* VJP of ``scan``: one forward scan that records the carry entering each step, then a reverse
  scan whose body is the pullback of one step, accumulating the cotangents of the closed-over
  values (reverse-mode checkpointing at step granularity).
* batching: the body is vmapped; a batched ``cond`` predicate becomes both branches + ``select``.

Semantics follow JAX's ``lax.cond``/``lax.scan``/``lax.fori_loop``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autodiff.avals import ShapedArray
from autodiff.core import Primitive, Tracer, bind, get_aval
from autodiff.ir import Graph, eval_graph
from autodiff.lowering import LoweringContext, dtype_src, shape_src
from autodiff.staging import trace_to_graph
from autodiff.tree import tree_flatten, tree_unflatten


def _graph_fn(graph: Graph) -> Callable:
    return lambda *args: eval_graph(graph, *args)


def _is_float(x) -> bool:
    return np.issubdtype(get_aval(x).dtype, np.floating)


def _zeros_like(x):
    aval = get_aval(x)
    return np.zeros(aval.shape, aval.dtype if _is_float(x) else np.float64)


# --------------------------------------------------------------------------------------------
# cond
# --------------------------------------------------------------------------------------------

cond_p = Primitive("cond", multiple_results=True)


def _cond_impl(index, *operands, branches):
    return eval_graph(branches[int(index)], *operands)


def _cond_shape(index, *operands, branches):
    return list(branches[0].out_avals)


def _stage(fn: Callable, avals: list[ShapedArray]) -> Graph:
    graph, consts = trace_to_graph(fn, avals)
    if consts:  # rule bodies only close over their explicit inputs
        raise AssertionError("internal error: a control-flow rule body closed over a tracer")
    return graph


def _cond_jvp(primals, tangents, branches):
    from autodiff.forward import jvp_flat

    index, *ops = primals
    tans = [instantiate_float(t, p) for t, p in zip(tangents[1:], ops)]
    n = len(ops)
    avals = [get_aval(x) for x in ops + tans]

    def jvp_branch(graph):
        def fn(*args):
            p_out, t_out = jvp_flat(_graph_fn(graph), list(args[:n]), list(args[n:]))
            return p_out + t_out

        return _stage(fn, avals)

    outs = bind(cond_p, index, *ops, *tans, branches=tuple(jvp_branch(g) for g in branches))
    k = len(outs) // 2
    return outs[:k], outs[k:]


def instantiate_float(t, like):
    return _zeros_like(like) if t is None else t


def _cond_vjp(cts, ans, primals, needs, branches):
    from autodiff.reverse import vjp_flat

    index, *ops = primals
    cts = [instantiate_float(c, a) for c, a in zip(cts, ans)]
    n = len(ops)
    avals = [get_aval(x) for x in ops + cts]

    def vjp_branch(graph):
        def fn(*args):
            _, pullback = vjp_flat(_graph_fn(graph), list(args[:n]))
            return pullback(*args[n:])

        return _stage(fn, avals)

    in_cts = bind(cond_p, index, *ops, *cts, branches=tuple(vjp_branch(g) for g in branches))
    return [None] + [
        c if need and _is_float(x) else None for c, need, x in zip(in_cts, needs[1:], ops)
    ]


def _cond_batch(vals, dims, branches):
    from autodiff.batching import batch_size_of, materialize, vmap_flat
    from autodiff.ops.elementwise import select
    from autodiff.ops.structural import reshape

    size = batch_size_of(vals, dims)
    index, *ops = vals
    idim, *op_dims = dims
    avals = [get_aval(x) for x in ops]

    def batched_branch(graph):
        return _stage(lambda *args: vmap_flat(_graph_fn(graph), list(args), op_dims, size), avals)

    new_branches = tuple(batched_branch(g) for g in branches)
    if idim is None:
        return bind(cond_p, index, *ops, branches=new_branches), 0
    # a predicate per example: run every branch and pick per example
    results = [eval_graph(g, *ops) for g in new_branches]
    index = materialize(index, idim, size)
    outs = []
    for k in range(len(results[0])):
        out = results[0][k]
        for b in range(1, len(results)):
            rank = get_aval(out).ndim
            sel = reshape(index, (size,) + (1,) * (rank - 1))
            from autodiff.ops.elementwise import eq

            out = select(eq(sel, b), results[b][k], out)
        outs.append(out)
    return outs, 0


cond_p.impl = _cond_impl
cond_p.shape_rule = _cond_shape
cond_p.jvp = _cond_jvp
cond_p.vjp = _cond_vjp
cond_p.batch = _cond_batch


def cond(pred, true_fn: Callable, false_fn: Callable, *operands: Any) -> Any:
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``, as one staged operation.

    Both branches must return pytrees of the same structure, shapes and dtypes.  Under ``vmap``
    with a batched predicate both branches run and the result is selected per example.

    >>> import autodiff.numpy as anp
    >>> float(cond(1.0 > 0.0, lambda x: x * 2.0, lambda x: -x, 3.0))
    6.0
    """
    pred_aval = get_aval(pred)
    if pred_aval.shape != ():
        raise TypeError(f"cond: the predicate must be a scalar, got shape {pred_aval.shape}")
    leaves, in_tree = tree_flatten(operands)
    avals = [get_aval(x) for x in leaves]
    out_trees = []

    def branch_fn(fn):
        def flat(*xs):
            out = fn(*tree_unflatten(in_tree, list(xs)))
            flat_out, tree = tree_flatten(out)
            out_trees.append(tree)
            return flat_out

        return flat

    graphs, consts = [], []
    for fn in (false_fn, true_fn):
        graph, c = trace_to_graph(branch_fn(fn), avals)
        graphs.append(graph)
        consts.append(c)
    if out_trees[0] != out_trees[1] or graphs[0].out_avals != graphs[1].out_avals:
        raise TypeError(
            "cond: the branches must return the same structure, shapes and dtypes; true_fn gave "
            f"{out_trees[1]} {graphs[1].out_avals}, false_fn gave {out_trees[0]} "
            f"{graphs[0].out_avals}"
        )
    graphs = _join_consts(graphs, consts)
    from autodiff.ops.elementwise import astype, ne

    index = astype(ne(pred, 0), np.int64) if pred_aval.dtype != np.bool_ else astype(pred, np.int64)
    outs = bind(cond_p, index, *consts[0], *consts[1], *leaves, branches=tuple(graphs))
    return tree_unflatten(out_trees[0], outs)


def _join_consts(graphs: list[Graph], consts: list[list]) -> list[Graph]:
    """Give every branch the same leading inputs: the closed-over values of all branches."""
    from autodiff.ir import Var

    joined = []
    counts = [len(c) for c in consts]
    for b, graph in enumerate(graphs):
        own = graph.inputs[: counts[b]]
        rest = graph.inputs[counts[b] :]
        inputs = []
        for other, c in enumerate(consts):
            inputs.extend(own if other == b else [Var(get_aval(x)) for x in c])
        joined.append(Graph(inputs + rest, graph.eqns, graph.outputs))
    return joined


# --------------------------------------------------------------------------------------------
# scan
# --------------------------------------------------------------------------------------------

scan_p = Primitive("scan", multiple_results=True)


def _scan_impl(*args, body, n_consts, n_carry, length, reverse):
    consts = list(args[:n_consts])
    carry = list(args[n_consts : n_consts + n_carry])
    xs = args[n_consts + n_carry :]
    n_ys = len(body.outputs) - n_carry
    ys: list[list] = [[None] * length for _ in range(n_ys)]
    for step in range(length):
        i = length - 1 - step if reverse else step
        outs = eval_graph(body, *consts, *carry, *[x[i] for x in xs])
        carry = outs[:n_carry]
        for k, y in enumerate(outs[n_carry:]):
            ys[k][i] = y
    stacked = [
        np.stack(y) if length else np.zeros((0, *a.shape), a.dtype)
        for y, a in zip(ys, body.out_avals[n_carry:])
    ]
    return [np.asarray(c) for c in carry] + stacked


def _scan_shape(*avals, body, n_consts, n_carry, length, reverse):
    outs = body.out_avals
    return list(outs[:n_carry]) + [ShapedArray((length, *a.shape), a.dtype) for a in outs[n_carry:]]


def _split(args, n_consts, n_carry):
    return (
        list(args[:n_consts]),
        list(args[n_consts : n_consts + n_carry]),
        list(args[n_consts + n_carry :]),
    )


def _slice_aval(aval: ShapedArray) -> ShapedArray:
    return ShapedArray(aval.shape[1:], aval.dtype)


def _scan_jvp(primals, tangents, body, n_consts, n_carry, length, reverse):
    from autodiff.forward import jvp_flat

    consts, carry, xs = _split(primals, n_consts, n_carry)
    tans = [instantiate_float(t, p) for t, p in zip(tangents, primals)]
    t_consts, t_carry, t_xs = _split(tans, n_consts, n_carry)
    nc, nk, nx = len(consts), len(carry), len(xs)

    def body_jvp(*args):
        c, k, x, tc, tk, tx = (
            args[:nc],
            args[nc : nc + nk],
            args[nc + nk : nc + nk + nx],
            args[nc + nk + nx : 2 * nc + nk + nx],
            args[2 * nc + nk + nx : 2 * nc + 2 * nk + nx],
            args[2 * nc + 2 * nk + nx :],
        )
        p_out, t_out = jvp_flat(_graph_fn(body), [*c, *k, *x], [*tc, *tk, *tx])
        return p_out[:nk] + t_out[:nk] + p_out[nk:] + t_out[nk:]

    avals = [get_aval(a) for a in consts + carry] + [_slice_aval(get_aval(x)) for x in xs]
    avals += [get_aval(a) for a in t_consts + t_carry] + [_slice_aval(get_aval(x)) for x in t_xs]
    # body inputs ordered (consts, tconsts, carry, tcarry, xs, txs) for the scan's layout
    order = (
        list(range(nc))
        + list(range(nc + nk + nx, 2 * nc + nk + nx))
        + list(range(nc, nc + nk))
        + list(range(2 * nc + nk + nx, 2 * nc + 2 * nk + nx))
        + list(range(nc + nk, nc + nk + nx))
        + list(range(2 * nc + 2 * nk + nx, 2 * (nc + nk + nx)))
    )
    inverse = np.argsort(order)

    def reordered(*args):
        return body_jvp(*[args[inverse[i]] for i in range(len(args))])

    new_body = _stage(reordered, [avals[i] for i in order])
    outs = bind(
        scan_p,
        *consts,
        *t_consts,
        *carry,
        *t_carry,
        *xs,
        *t_xs,
        body=new_body,
        n_consts=2 * nc,
        n_carry=2 * nk,
        length=length,
        reverse=reverse,
    )
    n_ys = len(body.outputs) - nk
    carry_out, t_carry_out = outs[:nk], outs[nk : 2 * nk]
    ys = outs[2 * nk :]
    return carry_out + ys[:n_ys], t_carry_out + ys[n_ys:]


def _scan_vjp(cts, ans, primals, needs, body, n_consts, n_carry, length, reverse):
    from autodiff.ops.elementwise import add
    from autodiff.reverse import vjp_flat

    consts, carry, xs = _split(primals, n_consts, n_carry)
    nc, nk, nx = len(consts), len(carry), len(xs)
    n_ys = len(body.outputs) - nk
    # 1. forward scan recording the carry that enters each step
    carry_avals = [get_aval(c) for c in carry]
    x_avals = [_slice_aval(get_aval(x)) for x in xs]

    # It also returns every output of the body, so that the primal scan over the same inputs can
    # be dropped in favour of this one (``passes.merge_extending_scans``): one forward loop, not two.
    def record_body(*args):
        c, k, x = args[:nc], args[nc : nc + nk], args[nc + nk :]
        outs = eval_graph(body, *c, *k, *x)
        return outs + list(k)

    record = _stage(record_body, [get_aval(c) for c in consts] + carry_avals + x_avals)
    record.extends = body
    history = bind(
        scan_p,
        *consts,
        *carry,
        *xs,
        body=record,
        n_consts=nc,
        n_carry=nk,
        length=length,
        reverse=reverse,
    )[nk + n_ys :]
    # 2. reverse scan of one-step pullbacks
    ct_carry = [instantiate_float(c, a) for c, a in zip(cts[:nk], ans[:nk])]
    ct_ys = [instantiate_float(c, a) for c, a in zip(cts[nk:], ans[nk:])]
    ct_consts = [_zeros_like(c) for c in consts]

    def back_body(*args):
        c = args[:nc]
        acc, ct_k = args[nc : 2 * nc], args[2 * nc : 2 * nc + nk]
        k_t = args[2 * nc + nk : 2 * nc + 2 * nk]
        x_t = args[2 * nc + 2 * nk : 2 * nc + 2 * nk + nx]
        ct_y = args[2 * nc + 2 * nk + nx :]
        _, pullback = vjp_flat(_graph_fn(body), [*c, *k_t, *x_t])
        g = pullback(*ct_k, *ct_y)
        g_c, g_k, g_x = g[:nc], g[nc : nc + nk], g[nc + nk :]
        return [add(a, b) for a, b in zip(acc, g_c)] + list(g_k) + list(g_x)

    back_avals = (
        [get_aval(c) for c in consts]
        + [get_aval(c) for c in ct_consts]
        + [get_aval(c) for c in ct_carry]
        + carry_avals
        + x_avals
        + [_slice_aval(get_aval(c)) for c in ct_ys]
    )
    back = _stage(back_body, back_avals)
    outs = bind(
        scan_p,
        *consts,
        *ct_consts,
        *ct_carry,
        *history,
        *xs,
        *ct_ys,
        body=back,
        n_consts=nc,
        n_carry=nc + nk,
        length=length,
        reverse=not reverse,
    )
    g_consts, g_init, g_xs = outs[:nc], outs[nc : nc + nk], outs[nc + nk :]
    all_cts = list(g_consts) + list(g_init) + list(g_xs)
    del n_ys
    return [c if need and _is_float(p) else None for c, need, p in zip(all_cts, needs, primals)]


def _scan_batch(vals, dims, body, n_consts, n_carry, length, reverse):
    from autodiff.batching import batch_size_of, materialize, vmap_flat
    from autodiff.ops.structural import moveaxis

    size = batch_size_of(vals, dims)
    consts, carry, xs = _split(vals, n_consts, n_carry)
    c_dims, _, x_dims = _split(dims, n_consts, n_carry)
    carry = [materialize(c, d, size) for c, d in zip(carry, dims[n_consts : n_consts + n_carry])]
    xs = [moveaxis(x, 0, 1) if d is not None else x for x, d in zip(xs, x_dims)]
    in_dims = list(c_dims) + [0] * len(carry) + list(x_dims)
    avals = (
        [get_aval(c) for c in consts]
        + [get_aval(c) for c in carry]
        + [_slice_aval(get_aval(x)) for x in xs]
    )
    new_body = _stage(lambda *args: vmap_flat(_graph_fn(body), list(args), in_dims, size), avals)
    outs = bind(
        scan_p,
        *consts,
        *carry,
        *xs,
        body=new_body,
        n_consts=n_consts,
        n_carry=n_carry,
        length=length,
        reverse=reverse,
    )
    return outs[:n_carry] + [moveaxis(y, 1, 0) for y in outs[n_carry:]], 0


scan_p.impl = _scan_impl
scan_p.shape_rule = _scan_shape
scan_p.jvp = _scan_jvp
scan_p.vjp = _scan_vjp
scan_p.batch = _scan_batch


def scan(
    f: Callable, init: Any, xs: Any = None, length: int | None = None, reverse: bool = False
) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; return the final carry
    and the ``y`` s stacked along a new leading axis (JAX's ``lax.scan``).

    >>> import numpy as np
    >>> import autodiff.numpy as anp
    >>> total, partial_sums = scan(lambda c, x: (c + x, c + x), 0.0, np.arange(4.0))
    >>> float(total), partial_sums
    (6.0, array([0., 1., 3., 6.]))
    """
    carry_leaves, carry_tree = tree_flatten(init)
    x_leaves, x_tree = tree_flatten(xs)
    carry_leaves = [c if isinstance(c, Tracer) else np.asarray(c) for c in carry_leaves]
    x_leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in x_leaves]
    lengths = {get_aval(x).shape[0] if get_aval(x).ndim else None for x in x_leaves}
    if None in lengths:
        raise ValueError("scan: every leaf of xs needs a leading axis to scan over")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ValueError(
            f"scan: the leading axes of xs (and length=) disagree: {sorted(lengths)}"
            if lengths
            else "scan: give xs or length="
        )
    length = lengths.pop()
    carry_avals = [get_aval(c) for c in carry_leaves]
    x_avals = [_slice_aval(get_aval(x)) for x in x_leaves]
    y_tree_box = []

    def flat_body(*args):
        carry = tree_unflatten(carry_tree, list(args[: len(carry_leaves)]))
        x = tree_unflatten(x_tree, list(args[len(carry_leaves) :]))
        out = f(carry, x)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("scan: the body must return a pair (carry, y)")
        new_carry, y = out
        new_leaves, new_tree = tree_flatten(new_carry)
        if new_tree != carry_tree:
            raise TypeError(
                f"scan: the body returned a carry of structure {new_tree}, but the initial carry "
                f"has structure {carry_tree}"
            )
        y_leaves, y_tree = tree_flatten(y)
        y_tree_box.append(y_tree)
        return new_leaves + y_leaves

    body, consts = trace_to_graph(flat_body, carry_avals + x_avals)
    out_carry_avals = body.out_avals[: len(carry_leaves)]
    if out_carry_avals != carry_avals:
        body = _promote_carry(body, carry_avals, out_carry_avals)
    outs = bind(
        scan_p,
        *consts,
        *carry_leaves,
        *x_leaves,
        body=body,
        n_consts=len(consts),
        n_carry=len(carry_leaves),
        length=length,
        reverse=bool(reverse),
    )
    carry = tree_unflatten(carry_tree, outs[: len(carry_leaves)])
    ys = tree_unflatten(y_tree_box[0], outs[len(carry_leaves) :])
    return carry, ys


def _promote_carry(body: Graph, carry_avals, out_avals) -> Graph:
    """A body whose carry outputs must match the carry inputs exactly (a float carry that
    started as an int literal is the usual case): report the mismatch clearly."""
    raise TypeError(
        "scan: the body's carry output types "
        f"{[str(a) for a in out_avals]} differ from the initial carry types "
        f"{[str(a) for a in carry_avals]}; give the initial carry the shapes and dtypes the "
        "body returns (e.g. 0.0 instead of 0 for a float accumulator)"
    )


def fori_loop(lower: int, upper: int, body_fun: Callable, init_val: Any) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``, as a ``scan``.

    >>> float(fori_loop(0, 5, lambda i, s: s + i, 0.0))
    10.0
    """
    if isinstance(lower, Tracer) or isinstance(upper, Tracer):
        raise TypeError("fori_loop: lower and upper must be concrete integers")
    lower, upper = int(lower), int(upper)

    def step(carry, _):
        i, val = carry
        return (i + 1, body_fun(i, val)), None

    (_, val), _ = scan(
        step, (np.asarray(lower, np.int64), init_val), None, length=max(upper - lower, 0)
    )
    return val


# --------------------------------------------------------------------------------------------
# Numba lowering: each branch (or the body) is a function of the generated module of its own,
# called with the operands and the constants it needs
# --------------------------------------------------------------------------------------------


def _lower_cond(ctx: LoweringContext) -> list[str]:
    index, operands = ctx.ins[0], ctx.ins[1:]
    branches = [ctx.emit_subgraph(g, "branch", reuse_workspace=True)
                for g in ctx.params["branches"]]
    lines = []
    for k, (fn, consts) in enumerate(branches):
        head = "if" if k == 0 else ("elif" if k < len(branches) - 1 else "else")
        cond_src = f" {index} == {k}" if head != "else" else ""
        lines.append(f"{head}{cond_src}:")
        lines.append(f"    r_ = {fn}({', '.join([*operands, *consts])})")
    return lines + [f"{o} = r_[{k}]" for k, o in enumerate(ctx.outs)]


def _lower_scan(ctx: LoweringContext) -> list[str]:
    """The loop over the steps, which allocates nothing: the body's results are views of the
    workspace (or of its operands), copied into two buffers per array carry that swap roles
    every step -- the body reads one while its results are copied into the other, so a result
    that is a view of a carry input (``c[::-1]``, or carries swapped) is never overwritten
    before it is read."""
    fn, consts = ctx.emit_subgraph(ctx.params["body"], "body", reuse_workspace=True,
                                   copy_results=False)
    nc, nk, length = ctx.params["n_consts"], ctx.params["n_carry"], ctx.params["length"]
    ins, outs, out_avals = ctx.ins, ctx.outs, ctx.out_avals
    c_in, k_in, x_in = ins[:nc], ins[nc : nc + nk], ins[nc + nk :]
    carry = [f"{o}_c" for o in outs[:nk]]
    arrays = [k for k, aval in enumerate(out_avals[:nk]) if aval.ndim]
    lines = []
    for k, (name, src, aval) in enumerate(zip(carry, k_in, out_avals[:nk])):
        if k in arrays:  # a copy: the loop writes into it
            lines += [f"{name} = cn.astype({src}, {dtype_src(aval)})",
                      f"{name}_next = cn.empty({shape_src(aval)}, {dtype_src(aval)})"]
        else:
            lines.append(f"{name} = {src}")
    for o, aval in zip(outs[nk:], out_avals[nk:]):
        lines.append(f"{o} = cn.empty({shape_src(aval)}, {dtype_src(aval)})")
    t = f"{length - 1} - i_" if ctx.params["reverse"] else "i_"
    args = [*c_in, *carry, *[f"{x}[t_]" for x in x_in], *consts]
    lines += [f"for i_ in range({length}):", f"    t_ = {t}", f"    r_ = {fn}({', '.join(args)})"]
    for k, name in enumerate(carry):
        lines.append(f"    cn.assign_all({name}_next, r_[{k}])" if k in arrays
                     else f"    {name} = r_[{k}]")
    for k in arrays:
        lines.append(f"    {carry[k]}, {carry[k]}_next = {carry[k]}_next, {carry[k]}")
    for k, (o, aval) in enumerate(zip(outs[nk:], out_avals[nk:])):
        # a row of an array is stored by a cached loop (cn.assign_row's docstring says why)
        lines.append(f"    cn.assign_row({o}, t_, r_[{nk + k}])" if aval.ndim > 1
                     else f"    {o}[t_] = r_[{nk + k}]")
    return lines + [f"{o} = {c}" for o, c in zip(outs[:nk], carry)]


cond_p.lower = _lower_cond
scan_p.lower = _lower_scan
