r"""Forward sensitivities of an ODE solve, lowered as one loop over the directions.

Reverse mode of ``odeint`` with ``sensitivity="forward"`` (:mod:`autodiff.ops.ode`) integrates
:math:`z = (y, S)`, :math:`S = \partial y/\partial(y_0, \theta)` (:math:`n \times D`), with

.. math::
    y' = f(y, t, \theta), \qquad S_{:,d}' = \partial_y f\,S_{:,d} + \partial_\theta f\,e_d,

the error norm on :math:`y` only.  Written as a graph of :math:`z` (``vmap`` over the :math:`D`
directions of the JVP of :math:`f`), the compiled right-hand side transposes :math:`S` in and
out and concatenates the pieces at every stage.  The primitive ``odeint_sensitivities`` instead
holds the JVP graph of :math:`f` for *one* direction, ``(y, t, *operands, s_d, *seeds_d) ->
(f, S_{:,d}')``, and its lowering (:mod:`autodiff.ops.ode_codegen`) generates a right-hand side
called once per stage that computes the part of that graph which does not depend on the
direction (:math:`f` and the intermediates of the primal computation) once, then loops over the
directions, each one reading its column of :math:`S` from, and writing its derivative into, the
solver's rows (stored by direction: :math:`S^\top` flattened after :math:`y`); the seeds
:math:`e_d` are unit entries set in place.  Outputs built as stacks of scalars
(``anp.stack([du, dv])``) are stored element by element, with no array.  The Dormand-Prince
step loop around it is generated too, so one compiled function runs the whole solve.

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
from autodiff.lowering import LoweringContext
from autodiff.ops import ode
from autodiff.ops.ode import (
    SOLVE_PARAMS,
    _check_info,
    _graph_fn,
    _run_compiled,
    _stage_rhs,
    sensitivities_by_vmap,
)
from autodiff.ops.ode_codegen import rhs_function, solve_lines
from autodiff.passes import REWRITES, _atom_key, move_into_place

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
    """A generated Dormand-Prince solve (:mod:`autodiff.ops.ode_codegen`) of ``z = (y, S^T)``
    whose right-hand side loops over the directions."""
    y0, ts, *ops = ctx.ins
    ys, sens, info = ctx.outs
    p = ctx.params
    n, n_dirs = ctx.in_avals[0].shape[0], p["n_dirs"]
    size = n + n * n_dirs
    z, full = f"z{ys}", f"full{ys}"
    rhs = rhs_function(ctx, p["tangent"], n, len(ops), n_dirs, p["blocks"], ctx.in_avals[2:])
    lines = [f"{z} = np.zeros({size})",
             f"cn.copy_into({z}, 0, cn.ascontiguousarray({y0}))"]
    if p["y0_block"]:  # S(t0) = [I 0]: direction d < n is y0's entry d
        lines += [f"for d_ in range({n}):", f"    {z}[{n} + d_ * {n + 1}] = 1.0"]
    return lines + [
        f"{full} = cn.empty(({ts}.shape[0], np.int64({size})), np.float64)",
        *solve_lines(ctx, rhs, size, p, z, f"cn.ascontiguousarray({ts})", full, ops, info, ys),
        # y and S (n, n_dirs) at each time, from the rows (y, S^T)
        f"{ys} = cn.empty(({ts}.shape[0], np.int64({n})), np.float64)",
        f"{sens} = cn.empty(({ts}.shape[0], np.int64({n}), np.int64({n_dirs})), np.float64)",
        f"for i_ in range({ts}.shape[0]):",
        f"    for j_ in range({n}):",
        f"        {ys}[i_, j_] = {full}[i_, j_]",
        f"        for d_ in range({n_dirs}):",
        f"            {sens}[i_, j_, d_] = {full}[i_, {n} + d_ * {n} + j_]",
    ]


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
