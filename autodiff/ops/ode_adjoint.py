r"""The adjoint gradient of a stiff ``odeint`` (``method="rosenbrock"``): only the adjoint is
integrated backwards, against the stored forward solution.

The adjoint of :mod:`autodiff.ops.ode` (Cao, Li, Petzold & Serban 2003) integrates
:math:`y` backwards together with the adjoint :math:`a` and the parameter cotangent :math:`g`.
A stiff problem does not survive that: its fast-decaying modes grow when :math:`y` is
integrated backwards.  Here, as in CVODES (Serban & Hindmarsh 2005, "CVODES: the
sensitivity-enabled ODE solver in SUNDIALS"), the forward solution is stored and :math:`y(t)`
read from it:

1. the forward solve is run again over the same times (the same steps as the primal solve, bit
   for bit: with dense output the output times do not change the steps), keeping checkpoints
   and the dense output of the last segment of steps (:mod:`kernels.ode_checkpoints`: about
   :math:`\sqrt N` checkpoints of :math:`n + 2` floats and one segment of :math:`\sqrt N`
   steps of :math:`3n + 1` for a solve of :math:`N` steps);
2. from :math:`t_{m-1}` back to :math:`t_0`, the state :math:`z = (a, g)` of size :math:`n + P`
   solves

   .. math::
       a' = -\partial_y f(y(t), t, \theta)^\top a, \qquad
       g' = -\partial_\theta f(y(t), t, \theta)^\top a,

   by Rodas4 (the adjoint is as stiff as the problem: :math:`-\partial_y f^\top` has the
   eigenvalues of :math:`\partial_y f` negated, and time runs backwards), with :math:`y(t)` the
   dense output of the segment in hand (:func:`kernels.ode_checkpoints.stored_solution`) and
   :math:`a` jumping by :math:`\bar y_i` at each :math:`t_i`; then :math:`\bar y_0 = a(t_0) +
   \bar y_0^{\rm direct}`, :math:`\bar\theta = g(t_0)`.  The backward solve stops at every
   output time and at the start of every segment (CVODES' ``tstop``: a step is shortened to end
   there, and the next one continues with the controller's step -- a Rosenbrock step evaluates
   :math:`f` and the Jacobian afresh at its start, so a stop costs no evaluation); before it
   enters a segment, the segment is solved forward again from its checkpoint.

The Rosenbrock step wants the Jacobian of the adjoint's right-hand side in :math:`z` (it is
linear in :math:`z`: the blocks :math:`-\partial_y f^\top` and :math:`-\partial_\theta f^\top`)
and its total derivative in :math:`t` along the stored solution, :math:`\partial_t +
\partial_y\cdot\dot y` with :math:`\dot y` the slope of the dense output (not :math:`f` at the
interpolated :math:`y`: a stiff :math:`f` amplifies the interpolation error, and an inexact time
derivative costs the Rosenbrock method its order on the stiff adjoint components, so its error
control then takes tiny steps); both are a graph staged by forward mode from the adjoint's.
Cost: the primal solve, the forward re-solve, a second forward solve of every segment but the
last, and the backward solve.  First order only, like the non-stiff adjoint.
"""

from __future__ import annotations

import numpy as np

from autodiff.avals import ShapedArray
from autodiff.core import Primitive, bind, get_aval
from autodiff.ir import Graph
from autodiff.lowering import LoweringContext
from autodiff.ops import ode
from kernels import ode_common
from kernels import ode_rosenbrock as rb

ode_adjoint_stiff_p = Primitive("ode_adjoint_stiff", multiple_results=True)


def _shape(y0, ct, ts, *ops, rhs, adj, adj_jac, n_params, rtol, atol, mxstep):
    return [ShapedArray((y0.shape[0] + n_params,), np.dtype(np.float64)),
            ShapedArray((4,), np.dtype(np.float64))]


def _impl(y0, ct, ts, *ops, **params):
    g, info = ode._run_compiled(ode_adjoint_stiff_p, [y0, ct, ts, *ops], params)
    ts = np.asarray(ts)
    # the forward re-solve runs first: a failure at a time after ts[0] that the primal solve
    # passed cannot happen (the same steps), so the failure is the backward solve's
    ode._check_info(info, ts[::-1], params["rtol"], params["atol"], params["mxstep"],
                    what="odeint (the adjoint solve of its gradient)")
    return [g, info]


def _no_derivative(*args, **params):
    raise NotImplementedError(
        "odeint: the adjoint gradient is first order only; for higher derivatives pass "
        "sensitivity='forward'")


def _batch(vals, dims, **params):
    return ode._batch_by_loop(ode_adjoint_stiff_p, vals, dims, params)


ode_adjoint_stiff_p.impl = _impl
ode_adjoint_stiff_p.shape_rule = _shape
ode_adjoint_stiff_p.jvp = _no_derivative
ode_adjoint_stiff_p.vjp = _no_derivative
ode_adjoint_stiff_p.batch = _batch


def vjp_adjoint_stiff(ct, ys, y0, ts, ops: list, blocks: list, params: dict):
    """The cotangent ``[ȳ0, θ̄ (the differentiated operands' blocks, raveled)]`` of a
    ``method="rosenbrock"`` solve, by the backward adjoint solve against the stored forward
    solution (module docstring; the forward solution ``ys`` at the output times is not needed:
    the stored one is solved again from ``y0``)."""
    from autodiff.numpy import concatenate, ravel, zeros
    from autodiff.reverse import vjp_flat

    n = get_aval(y0).shape[0]
    rhs = params["rhs"]
    op_avals = [get_aval(o) for o in ops]
    n_params = sum(op_avals[k].size for k, _ in blocks)
    k_adj = n + n_params
    f64 = np.dtype(np.float64)

    def adj(z, t, y, *args):
        _, pullback = vjp_flat(ode._graph_fn(rhs), [y, t, *args])
        g = pullback(z[:n])
        parts = [-g[0] if g[0] is not None else zeros(n)]
        for k, _ in blocks:
            parts.append(zeros(op_avals[k].size) if g[2 + k] is None else -ravel(g[2 + k]))
        return [concatenate(parts)]

    avals = [ShapedArray((k_adj,), f64), ShapedArray((), f64), ShapedArray((n,), f64),
             *op_avals]
    adj_graph = ode._stage_rhs(adj, avals)
    adj_jac = ode._stage_rhs(lambda *a: _adjoint_jacobian(adj_graph, k_adj, *a),
                             [*avals[:3], avals[2], *op_avals])
    g, _ = bind(ode_adjoint_stiff_p, y0, ct, ts, *ops, rhs=rhs, adj=adj_graph, adj_jac=adj_jac,
                n_params=n_params, rtol=params["rtol"], atol=params["atol"],
                mxstep=params["mxstep"])
    return g


def _adjoint_jacobian(adj_graph: Graph, k_adj: int, z, t, y, y_dot, *ops):
    """``[∂adj/∂z (k × k), ∂adj/∂t + ∂adj/∂y · y_dot]``: the Jacobian of the adjoint's
    right-hand side and its derivative along the stored solution, whose slope is ``y_dot``."""
    from autodiff.batching import vmap_flat
    from autodiff.forward import jvp_flat
    from autodiff.numpy import transpose

    none_ops = [None] * len(ops)

    def column(e):
        return jvp_flat(ode._graph_fn(adj_graph), [z, t, y, *ops], [e, None, None, *none_ops])[1]

    (rows,) = vmap_flat(column, [np.eye(k_adj)], [0], k_adj)
    (dt,) = jvp_flat(ode._graph_fn(adj_graph), [z, t, y, *ops],
                     [None, np.ones(()), y_dot, *none_ops])[1]
    return [transpose(rows), dt]


def _lower(ctx: LoweringContext) -> list[str]:
    """Forward: re-solve keeping checkpoints and the last segment; backward: one solve between
    each two stops (output times and segment starts, the step carried across), the state
    ``z = [a, g]``, ``a`` jumping by ``ct[i]`` at ``t_i``, y read from the segment, each
    earlier segment recomputed from its checkpoint before the backward solve enters it."""
    y0, ct, ts, *ops = ctx.ins
    g, info = ctx.outs
    p = ctx.params
    n = ctx.in_avals[0].shape[0]
    k_adj = n + p["n_params"]
    tag = g
    rtol, atol = repr(p["rtol"]), repr(p["atol"])
    fwd, fcon, fsize = ctx.emit_subgraph_in_workspace(p["rhs"], "rhs")
    jfwd, jfcon = ctx.emit_subgraph(ode._jacobian_graph(p["rhs"]), "jac")
    adj, acon, asize = ctx.emit_subgraph_in_workspace(p["adj"], "adj")
    jadj, jacon = ctx.emit_subgraph(p["adj_jac"], "adjjac")
    Wf, Sf, If = f"Wf{tag}", f"Sf{tag}", f"If{tag}"
    Wb, Sb, Ib = f"Wb{tag}", f"Sb{tag}", f"Ib{tag}"
    C, cps, seg = f"C{tag}", f"cps{tag}", f"seg{tag}"
    yb, ydb, z, tsf, ysf = f"yb{tag}", f"ydb{tag}", f"z{tag}", f"ts{tag}", f"ysf{tag}"
    NEED_F, NEED_JAC = ode_common.NEED_F, ode_common.NEED_JAC
    ROW_IN, ROW_OUT, T_EVAL = ode_common.ROW_IN, ode_common.ROW_OUT, ode_common.T_EVAL
    STATUS, SOLVED = ode_common.STATUS, ode_common.SOLVED

    def call(fn, point, con, size, ws):
        return f"{fn}({', '.join([*point, *ops, *([ws] if size else []), *con])})"

    fpoint = [f"{Wf}[{If}[{ROW_IN}]]", f"{Sf}[{T_EVAL}]"]
    bpoint = [f"{Wb}[{Ib}[{ROW_IN}]]", f"{Sb}[{T_EVAL}]", yb]
    jpoint = [*bpoint, ydb]

    def forward_requests(indent: str) -> list[str]:
        """The answers to the forward solver's requests (after ``rq_ = ...advance(...)``)."""
        return [indent + line for line in [
            f"if rq_ == {NEED_F}:",
            f"    cn.assign_row({Wf}, {If}[{ROW_OUT}], {call(fwd, fpoint, fcon, fsize, f'wsf{tag}')}"
            "[0])",
            f"elif rq_ == {NEED_JAC}:",
            f"    jr_ = {call(jfwd, fpoint, jfcon, 0, '')}",
            f"    cn.assign_row({Wf}, {rb.JAC}, jr_[0])",
            f"    cn.assign_row({Wf}, {rb.DFDT}, jr_[1])",
            "else:",
            "    break",
        ]]

    lines = [
        f"{Wf}, {Sf}, {If} = rosenbrock.rosenbrock_workspace({n})",
        *([f"wsf{tag} = cn.empty((np.int64({fsize}),), np.float64)"] if fsize else []),
        f"{tsf} = cn.ascontiguousarray({ts})",
        f"m{tag} = {tsf}.shape[0]",
        f"{ysf} = cn.empty((m{tag}, np.int64({n})), np.float64)",
        f"{C}, {cps}, {seg} = checkpoints.checkpoint_arrays({n})",
        f"rosenbrock.rosenbrock_start({Wf}, {Sf}, {If}, cn.ascontiguousarray({y0}), {tsf}, "
        f"{ysf}, {rtol}, {atol}, {p['mxstep']}, {n})",
        "while True:",
        f"    rq_ = rosenbrock.rosenbrock_advance({Wf}, {Sf}, {If}, {tsf}, {ysf})",
        f"    {cps}, {seg} = checkpoints.record_forward({C}, {cps}, {seg}, {Wf}, {Sf}, {If}, rq_)",
        *forward_requests("    "),
        f"{info} = ode.info({Sf}, {If})",
        f"{z} = np.zeros({k_adj})",
        f"if {If}[{STATUS}] != {SOLVED}:",
        f"    {z}.fill(np.nan)",
        f"elif m{tag} > 1:",
        f"    {info}[2] = 0.0",
        f"    {info}[3] = 0.0",
        f"    {Wb}, {Sb}, {Ib} = rosenbrock.rosenbrock_workspace({k_adj})",
        *([f"    wsb{tag} = cn.empty((np.int64({asize}),), np.float64)"] if asize else []),
        f"    {yb} = cn.empty((np.int64({n}),), np.float64)",
        f"    {ydb} = cn.empty((np.int64({n}),), np.float64)",
        f"    tt{tag} = np.empty(2)",
        f"    zz{tag} = np.empty((2, {k_adj}))",
        f"    i_ = m{tag} - 1  # the last output time not yet passed backwards",
        f"    c_ = {C}[checkpoints.N_CHECKPOINTS] - 1  # the segment held",
        f"    t_hi = {tsf}[i_]",
        "    h_ = 0.0  # the step carried across stops (0: the initial-step heuristic)",
        f"    for j_ in range({n}):",
        f"        {z}[j_] += {ct}[i_, j_]",
        "    while i_ > 0:",
        f"        t_lo = max({tsf}[i_ - 1], {cps}[c_, 0])",
        f"        tt{tag}[0] = t_hi",
        f"        tt{tag}[1] = t_lo",
        f"        rosenbrock.rosenbrock_start({Wb}, {Sb}, {Ib}, {z}, tt{tag}, zz{tag}, {rtol}, "
        f"{atol}, {p['mxstep']}, {k_adj})",
        f"        rosenbrock.set_first_step({Sb}, h_)",
        "        while True:",
        f"            rq_ = rosenbrock.rosenbrock_advance({Wb}, {Sb}, {Ib}, tt{tag}, zz{tag})",
        f"            if rq_ == {NEED_F} or rq_ == {NEED_JAC}:",
        f"                checkpoints.stored_solution({C}, {seg}, {Sb}[{T_EVAL}], {yb}, {ydb})",
        f"            if rq_ == {NEED_F}:",
        f"                cn.assign_row({Wb}, {Ib}[{ROW_OUT}], "
        f"{call(adj, bpoint, acon, asize, f'wsb{tag}')}[0])",
        f"            elif rq_ == {NEED_JAC}:",
        f"                jr_ = {call(jadj, jpoint, jacon, 0, '')}",
        f"                cn.assign_row({Wb}, {rb.JAC}, jr_[0])",
        f"                cn.assign_row({Wb}, {rb.DFDT}, jr_[1])",
        "            else:",
        "                break",
        f"        {info}[2] += {Ib}[{ode_common.NSTEPS}]",
        f"        {info}[3] += {Ib}[{ode_common.NFEV}]",
        f"        if {Ib}[{STATUS}] != {SOLVED}:",
        f"            {info}[0] = {Ib}[{STATUS}]",
        f"            {info}[1] = {Sb}[{ode_common.T}]",
        f"            {z}.fill(np.nan)",
        "            break",
        f"        h_ = rosenbrock.next_step({Sb})",
        f"        cn.copy_into({z}, 0, zz{tag}[1])",
        f"        if t_lo == {tsf}[i_ - 1]:",
        "            i_ -= 1",
        f"            for j_ in range({n}):",
        f"                {z}[j_] += {ct}[i_, j_]",
        f"        if t_lo == {cps}[c_, 0] and i_ > 0:  # recompute the segment below",
        "            c_ -= 1",
        f"            hf_ = checkpoints.load_checkpoint({C}, {cps}, c_, {yb}, tt{tag}, "
        f"{tsf}[m{tag} - 1])",
        # the recomputation never reaches an output time: mxstep cannot bind
        f"            rosenbrock.rosenbrock_start({Wf}, {Sf}, {If}, {yb}, tt{tag}, {ysf}, {rtol}, "
        f"{atol}, {2 ** 62}, {n})",
        f"            rosenbrock.set_first_step({Sf}, hf_)",
        "            while True:",
        f"                rq_ = rosenbrock.rosenbrock_advance({Wf}, {Sf}, {If}, tt{tag}, {ysf})",
        f"                if checkpoints.record_segment({C}, {seg}, {Wf}, {Sf}, {If}, rq_):",
        "                    break",
        *forward_requests("                "),
        "        t_hi = t_lo",
        f"{g} = {z}",
    ]
    return lines


ode_adjoint_stiff_p.lower = _lower

ode.ADJOINT_RULES["rosenbrock"] = vjp_adjoint_stiff
