r"""Forward sensitivities of an ODE solve, lowered as one loop over the directions.

Reverse mode of ``odeint`` with ``sensitivity="forward"`` (:mod:`autodiff.ops.ode`) integrates
:math:`z = (y, S)`, :math:`S = \partial y/\partial(y_0, \theta)` (:math:`n \times D`), with

.. math::
    y' = f(y, t, \theta), \qquad S_{:,d}' = \partial_y f\,S_{:,d} + \partial_\theta f\,e_d,

the error norm on :math:`y` only.  Written as a graph of :math:`z` (``vmap`` over the :math:`D`
directions of the JVP of :math:`f`), the compiled right-hand side transposes :math:`S` in and
out and concatenates the pieces at every stage.  The primitive ``odeint_sensitivities`` instead
holds the JVP graph of :math:`f` for *one* direction, ``(y, t, *operands, s_d, *seeds_d) ->
(f, S_{:,d}')``, and its lowering generates one function per stage that computes the part of
that graph which does not depend on the direction (:math:`f` and the intermediates of the primal
computation) once, then loops over the directions, each one reading its column of :math:`S`
from, and writing its derivative into, the solver's rows (stored by direction: :math:`S^\top`
flattened after :math:`y`); the seeds :math:`e_d` are unit entries set in place.  Outputs built
as stacks of scalars (``anp.stack([du, dv])``) are stored element by element, with no array.

Its values are those of the ``vmap`` form (its derivative rules are that form's, so derivatives
of any order still hold), and its :math:`y` is the plain solve's bit for bit: the same
operations compute :math:`f` (the primal part of its JVP graph) at the same steps.  So when a
graph holds both the plain ``odeint`` (for the value) and its sensitivities (for the gradient)
of the same arguments, :func:`merge_sensitivity_solves` lets the one solve give both.  Only for
``method="dopri5"``: Rodas4 also needs the Jacobian of the augmented system, which the ``vmap``
form provides.
"""

from __future__ import annotations

import numpy as np

from autodiff.avals import ShapedArray
from autodiff.core import Primitive, bind, get_aval
from autodiff.ir import Eqn, Graph, Var
from autodiff.lowering import LoweringContext, dtype_src
from autodiff.ops import ode
from autodiff.ops.ode import (
    SOLVE_PARAMS,
    _check_info,
    _graph_fn,
    _run_compiled,
    _stage_rhs,
    sensitivities_by_vmap,
)
from autodiff.passes import REWRITES, _atom_key, move_into_place
from kernels import ode_common

odeint_sens_p = Primitive("odeint_sensitivities", multiple_results=True)


def forward_sensitivities(y0, ts, ops, y0_block: bool, n_dirs: int, blocks, params: dict):
    """:math:`S(t_i)`, as :func:`autodiff.ops.ode.sensitivities_by_vmap` gives it, by this
    module's primitive."""
    blocks = tuple((k, off) for k, off in blocks)
    _, sens, _ = bind(odeint_sens_p, y0, ts, *ops, tangent=_tangent_graph(
        params["rhs"], [get_aval(o) for o in ops], blocks), y0_block=y0_block,
        n_dirs=n_dirs, blocks=blocks, **params)
    return sens


ode.SENSITIVITY_RULES["dopri5"] = forward_sensitivities


_TANGENTS: dict[tuple, tuple[Graph, Graph]] = {}


def _tangent_graph(rhs: Graph, op_avals: list[ShapedArray], blocks) -> Graph:
    """``(y, t, *operands, s_d, *seeds) -> [f, J_y s_d + sum_k J_k seed_k]``, one seed per
    differentiated operand (``blocks``), staged once per right-hand side."""
    from autodiff.forward import jvp_flat

    key = (id(rhs), tuple(k for k, _ in blocks))
    if key not in _TANGENTS:
        n_ops = len(op_avals)

        def tangent(y, t, *args):
            ops, s_d, seeds = args[:n_ops], args[n_ops], args[n_ops + 1:]
            tangent_ops: list = [None] * n_ops
            for (k, _), seed in zip(blocks, seeds):
                tangent_ops[k] = seed
            (f,), (fdot,) = jvp_flat(_graph_fn(rhs), [y, t, *ops], [s_d, None, *tangent_ops])
            return [f, fdot]

        y_aval = rhs.inputs[0].aval
        avals = [y_aval, rhs.inputs[1].aval, *op_avals, y_aval,
                 *[op_avals[k] for k, _ in blocks]]
        _TANGENTS[key] = (rhs, _stage_rhs(tangent, avals))  # rhs kept alive: its id is the key
    return _TANGENTS[key][1]


# --------------------------------------------------------------------------------------------
# the primitive: odeint_sensitivities(y0, ts, *ops; rhs, tangent, ...) -> [ys, S, info]
# --------------------------------------------------------------------------------------------


def _shape(y0, ts, *ops, n_dirs, **params):
    m, n = ts.shape[0], y0.shape[0]
    f64 = np.dtype(np.float64)
    return [ShapedArray((m, n), f64), ShapedArray((m, n, n_dirs), f64), ShapedArray((4,), f64)]


def _impl(y0, ts, *ops, **params):

    ys, sens, info = _run_compiled(odeint_sens_p, [y0, ts, *ops], params)
    _check_info(info, np.asarray(ts), params["rtol"], params["atol"], params["mxstep"])
    return [ys, sens, info]


def _ref_fn(params: dict):
    keep = {k: v for k, v in params.items() if k not in ("tangent", "y0_block", "n_dirs",
                                                          "blocks")}

    def ref(y0, ts, *ops):
        return sensitivities_by_vmap(y0, ts, ops, params["y0_block"], params["n_dirs"],
                                     params["blocks"],
                          keep)

    return ref


def _jvp(primals, tangents, **params):
    from autodiff.forward import jvp_flat

    return jvp_flat(_ref_fn(params), list(primals), list(tangents))


def _vjp(cts, ans, primals, needs, **params):
    from autodiff.reverse import vjp_flat

    ref = _ref_fn(params)
    wanted = [i for i, need in enumerate(needs) if need]

    def of_wanted(*xs):  # the others (the times, for one) stay constants
        args = list(primals)
        for i, x in zip(wanted, xs):
            args[i] = x
        return ref(*args)

    _, pullback = vjp_flat(of_wanted, [primals[i] for i in wanted])
    grads = dict(zip(wanted, pullback(*cts)))
    return [grads.get(i) for i in range(len(primals))]


def _batch(vals, dims, **params):
    """One solve per batch member, as for ``odeint``."""
    from autodiff.batching import batch_size_of
    from autodiff.numpy import stack

    size = batch_size_of(vals, dims)
    outs = [bind(odeint_sens_p, *[v if d is None else v[b] for v, d in zip(vals, dims)],
                 **params) for b in range(size)]
    return [stack([o[i] for o in outs]) for i in range(3)], 0


def _lower(ctx: LoweringContext) -> list[str]:
    """A Dormand-Prince solve of ``z = (y, S^T)`` whose right-hand side is one generated
    function (:func:`_rhs_function`) that loops over the directions."""
    y0, ts, *ops = ctx.ins
    ys, sens, info = ctx.outs
    p = ctx.params
    n, n_dirs = ctx.in_avals[0].shape[0], p["n_dirs"]
    size = n + n * n_dirs
    W, S, I, z, full, T = (f"{x}{ys}" for x in ("W", "S", "I", "z", "full", "ts"))
    fn, seeds, extra = _rhs_function(ctx, n, n_dirs)
    lines = [f"{W}, {S}, {I} = ode.workspace({size})",
             f"{z} = np.zeros({size})",
             f"cn.copy_into({z}, 0, cn.ascontiguousarray({y0}))"]
    if p["y0_block"]:  # S(t0) = [I 0]: direction d < n is y0's entry d
        lines += [f"for d_ in range({n}):", f"    {z}[{n} + d_ * {n + 1}] = 1.0"]
    lines += [f"{full} = cn.empty(({ts}.shape[0], np.int64({size})), np.float64)",
              f"{T} = cn.ascontiguousarray({ts})"]
    for name, aval in seeds:
        lines.append(f"{name}{ys} = np.zeros({aval.size}, {dtype_src(aval)})")
    if extra["ws"]:
        lines.append(f"ws{ys} = cn.empty((np.int64({extra['ws']}),), np.float64)")
    call = ", ".join([W, f"{I}[{ode_common.ROW_IN}]", f"{I}[{ode_common.ROW_OUT}]",
                      f"{S}[{ode_common.T_EVAL}]", *ops, *[name + ys for name, _ in seeds],
                      *([f"ws{ys}"] if extra["ws"] else []), *extra["consts"]])
    return lines + [
        f"dopri5.dopri5_start({W}, {S}, {I}, {z}, {T}, {full}, {p['rtol']!r}, {p['atol']!r}, "
        f"{p['mxstep']}, {p['n_err']})",
        "while True:",
        f"    rq_ = dopri5.dopri5_advance({W}, {S}, {I}, {T}, {full})",
        f"    if rq_ != {ode_common.NEED_F}:",
        "        break",
        f"    {fn}({call})",
        # y and S (n, n_dirs) at each time, from the rows (y, S^T)
        f"{ys} = cn.empty(({ts}.shape[0], np.int64({n})), np.float64)",
        f"{sens} = cn.empty(({ts}.shape[0], np.int64({n}), np.int64({n_dirs})), np.float64)",
        f"for i_ in range({ts}.shape[0]):",
        f"    for j_ in range({n}):",
        f"        {ys}[i_, j_] = {full}[i_, j_]",
        f"        for d_ in range({n_dirs}):",
        f"            {sens}[i_, j_, d_] = {full}[i_, {n} + d_ * {n} + j_]",
        f"{info} = ode.info({S}, {I})",
    ]


def _rhs_function(ctx: LoweringContext, n: int, n_dirs: int):
    """``def sens<k>(W, row_in, row_out, t, *operands, *seed buffers, [ws_], *consts)``:
    writes the derivative of the row ``W[row_in] = (y, S^T)`` into ``W[row_out]``.  The tangent
    graph's statements that do not depend on the direction (``f`` and the intermediates of the
    primal computation) come first, the others inside a loop over the directions (one call per
    stage: a call per direction cost more than the arithmetic).  Returns its name, the seed
    buffers the caller allocates (name, aval of the operand) and ``{"ws": workspace size,
    "consts": constants to pass}``."""
    p = ctx.params
    n_ops = len(ctx.ins) - 2
    graph, pieces = _scalar_outputs(p["tangent"], n)
    parts, consts, ws = ctx.scope.emit_subgraph_bodies(list(_split_primal(graph, n_ops)))
    (_, hoisted, _), (args, body, result) = parts
    y, t, op_names, s_d = args[0], args[1], args[2: 2 + n_ops], args[2 + n_ops]
    seed_names = args[3 + n_ops:]
    seeds, params, pre, set_, clear = [], [], [], [], []
    for j, ((k, off), name) in enumerate(zip(p["blocks"], seed_names)):
        aval = ctx.in_avals[2 + k]
        if aval.ndim == 0:
            set_.append(f"{name} = 1.0 if dir_ == {off} else 0.0")
            continue
        buf = f"e{j}_"
        seeds.append((buf, aval))
        params.append(buf)
        pre.append(f"{name} = {_reshaped(buf, aval.shape)}")
        hit = f"if {off} <= dir_ < {off + aval.size}:"
        set_ += [hit, f"    {buf}[dir_ - {off}] = 1.0"]
        clear += [hit, f"    {buf}[dir_ - {off}] = 0.0"]
    lines = [
        # rows of the solver's workspace, viewed here: a view made by the caller at each call
        # costs a reference count
        "    zin_ = W_[rin_]",
        "    zout_ = W_[rout_]",
        f"    {y} = zin_[0:{n}]",
        *["    " + line for line in pre],
        *hoisted,
        f"    for dir_ in range({n_dirs}):",
        f"        {s_d} = zin_[{n} + dir_ * {n}:{2 * n} + dir_ * {n}]",
        *["        " + line for line in set_],
        *["    " + line for line in body],
        *["        " + line for line in _stores(pieces[1], result, f"{n} + dir_ * {n}", n)],
        *["        " + line for line in clear],
        *["    " + line for line in _stores(pieces[0], result, "0", n)],
    ]
    fn = ctx.scope.add_function("sens", ["W_", "rin_", "rout_", t, *op_names, *params,
                                         *(["ws_"] if ws else [])], lines, consts)
    return fn, seeds, {"ws": ws, "consts": consts}


def _split_primal(graph: Graph, n_ops: int) -> tuple[Graph, Graph]:
    """``(P, T)``: ``P`` computes, from ``(y, t, *operands)``, the equations of ``graph`` that do
    not depend on the direction (on ``s_d`` or the seeds), its outputs the values of those that
    the others or ``graph``'s outputs read; ``T`` computes the rest, taking ``graph``'s inputs
    and ``P``'s outputs, and gives ``graph``'s outputs."""
    varying = {v.id for v in graph.inputs[2 + n_ops:]}
    primal, tangent = [], []
    for eqn in graph.eqns:
        if any(isinstance(a, Var) and a.id in varying for a in eqn.inputs):
            tangent.append(eqn)
            varying.update(v.id for v in eqn.outputs)
        else:
            primal.append(eqn)
    computed = {v.id for eqn in primal for v in eqn.outputs}
    needed: dict[int, Var] = {}
    for atom in [a for eqn in tangent for a in eqn.inputs] + list(graph.outputs):
        if isinstance(atom, Var) and atom.id in computed:
            needed.setdefault(atom.id, atom)
    shared = list(needed.values())
    return (Graph(graph.inputs[: 2 + n_ops], primal, shared),
            Graph(graph.inputs + shared, tangent, graph.outputs))


def _scalar_outputs(graph: Graph, n: int) -> tuple[Graph, list[list[int] | int]]:
    """``graph`` with each output that is a stack of scalars (``concatenate`` of ``(1,)``
    reshapes of scalars: ``anp.stack([du, dv])``) replaced by those scalars, which the generated
    code stores straight into the solver's row: an array for them (a workspace view per call and
    direction) cost more than the right-hand side.  Also, per original output, the positions
    of its scalars among the new outputs, or the position of the array kept."""
    from autodiff.passes import dce

    producer = graph.producers()
    outputs: list = []
    pieces: list[list[int] | int] = []
    for out in graph.outputs:
        eqn = producer.get(getattr(out, "id", None))
        scalars = None
        if eqn is not None and eqn.primitive.name == "concatenate" and out.aval.ndim == 1:
            parts = [producer.get(getattr(a, "id", None)) for a in eqn.inputs]
            if all(e is not None and e.primitive.name == "reshape" and e.inputs[0].aval.ndim == 0
                   and e.outputs[0].aval.shape == (1,) for e in parts):
                scalars = [e.inputs[0] for e in parts]
        if scalars is None or len(scalars) != n:
            pieces.append(len(outputs))
            outputs.append(out)
        else:
            pieces.append(list(range(len(outputs), len(outputs) + n)))
            outputs += scalars
    return dce(Graph(graph.inputs, graph.eqns, outputs)), pieces


def _stores(piece: list[int] | int, result: list[str], offset: str, n: int) -> list[str]:
    """Lines storing one output (its scalars, or its array) at ``zout_[offset:offset + n]``."""
    if isinstance(piece, int):
        return [f"for k_ in range({n}):", f"    zout_[{offset} + k_] = {result[piece]}[k_]"]
    return [f"zout_[{offset} + {i}] = {result[j]}" for i, j in enumerate(piece)]


def _reshaped(src: str, shape: tuple[int, ...]) -> str:
    from autodiff.lowering import reshaped

    return src if len(shape) == 1 else reshaped(src, shape)


odeint_sens_p.impl = _impl
odeint_sens_p.shape_rule = _shape
odeint_sens_p.jvp = _jvp
odeint_sens_p.vjp = _vjp
odeint_sens_p.batch = _batch
odeint_sens_p.lower = _lower


# --------------------------------------------------------------------------------------------
# one solve for the value and the gradient
# --------------------------------------------------------------------------------------------


def _solve_key(eqn: Eqn):
    return (tuple(_atom_key(a) for a in eqn.inputs), id(eqn.params["rhs"]),
            tuple(eqn.params[k] for k in SOLVE_PARAMS))


def merge_sensitivity_solves(graph: Graph) -> Graph:
    """A plain ``odeint`` whose sensitivities the graph also computes (same inputs, right-hand
    side and solver parameters) is replaced, in its place, by the sensitivity solve: its ``y``
    and ``info`` are the plain solve's (module docstring), so reverse mode's graph of a model
    solves once instead of twice."""
    plain = {}
    for pos, eqn in enumerate(graph.eqns):
        if eqn.primitive.name == "odeint":
            plain.setdefault(_solve_key(eqn), pos)
    moved: dict[int, Eqn] = {}
    replace: dict[int, Var] = {}
    for eqn in graph.eqns:
        if eqn.primitive is not odeint_sens_p:
            continue
        pos = plain.get(_solve_key(eqn))
        if pos is None or pos in moved:
            continue
        moved[pos] = eqn
        ys, info = graph.eqns[pos].outputs
        replace[ys.id], replace[info.id] = eqn.outputs[0], eqn.outputs[2]
    return move_into_place(graph, moved, replace)


REWRITES.append(merge_sensitivity_solves)
