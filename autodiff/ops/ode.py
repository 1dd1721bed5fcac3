r"""``odeint``: the solution of an ordinary differential equation, as one differentiable primitive.

:math:`y' = f(y, t, \theta)`, :math:`y(t_0) = y_0`, solved at the times :math:`t_0 < t_1 <
\dots < t_{m-1}` (JAX's ``jax.experimental.ode.odeint`` signature).  The right-hand side
``func(y, t, *args)`` is staged once into a :class:`~autodiff.ir.Graph` (values it closes over
become explicit operands, as for ``scan``); the primitive holds the graph, and its lowering
compiles it with the solver: for ``"dopri5"`` a step loop generated around it from the parts of
the method in :mod:`kernels.ode_dopri5` (:mod:`autodiff.ops.ode_codegen`), for ``"rosenbrock"``
a hand-written Numba kernel that asks for :math:`f` by reverse communication
(:mod:`kernels.ode_common` says why each).  Eager calls, ``jit`` and model kernels all run the
same compiled code.

Methods
-------
``"dopri5"``: Dormand & Prince (1980) 5(4), dense output of order 4 at the requested times
(Hairer, Nørsett & Wanner 1993, II.4-II.6).  For non-stiff problems.

``"rosenbrock"``: Rodas4, a stiffly accurate L-stable Rosenbrock method of order 4(3) (Hairer &
Wanner 1996, IV.7) with RODAS' dense output of order 3, for stiff problems; its Jacobian
:math:`\partial f/\partial y` (and :math:`\partial f/\partial t`) is a second graph staged from
the first by forward mode.  Why a
Rosenbrock method rather than BDF: :mod:`kernels.ode_rosenbrock`.

Derivatives
-----------
*Forward mode* (JVP) is the forward sensitivity system: :math:`\dot y` obeys
:math:`\dot y' = \partial_y f\,\dot y + \partial_\theta f\,\dot\theta`, so the JVP of
``odeint`` is ``odeint`` of the augmented state :math:`(y, \dot y)` whose right-hand side is the
JVP graph of :math:`f` -- the same primitive, hence derivatives of any order.  The sensitivities
are *not* part of the error norm (CVODES' ``errconS = false``; the primitive's ``n_err``): the
augmented solve takes exactly the steps of the plain one, so its state is the plain solution bit
for bit -- the log density NUTS sees does not depend on whether a gradient is taken, and the
gradient is the exact derivative of the discretised solution (forward and reverse modes agree to
round-off), accurate to about the solver's tolerance where the problem is smooth.

*Reverse mode* (VJP), chosen by ``sensitivity=``:

* ``"forward"``: the sensitivity matrix :math:`S = \partial y / \partial(y_0, \theta)`
  (:math:`n \times D`) is integrated along with :math:`y` (the JVP over :math:`D` directions at
  once, by ``vmap``), and the cotangent is :math:`\sum_i \bar y_i^\top S(t_i)`.  Cost grows with
  :math:`nD`; exact to the solver's tolerance; differentiable again.
* ``"adjoint"``: the adjoint method (Cao, Li, Petzold & Serban 2003, "Adjoint sensitivity
  analysis for differential-algebraic equations", SIAM J. Sci. Comput. 24(3)): from :math:`t_{m-1}`
  back to :math:`t_0` solve :math:`a' = -a^\top\partial_y f`,
  :math:`g' = -a^\top\partial_\theta f` together with :math:`y` itself (restarted from the
  stored forward solution at each output time; for ``method="rosenbrock"`` :math:`y` is read
  from a record of the forward steps instead, :mod:`autodiff.ops.ode_adjoint`), adding
  :math:`\bar y_i` to :math:`a` at :math:`t_i`; then :math:`\bar y_0 = a(t_0)`,
  :math:`\bar\theta = g(t_0)`.  The state has :math:`2n + P` components whatever the number of
  parameters, and the right-hand side is the VJP graph of :math:`f`.  First order only.
* ``"auto"`` (default): forward when :math:`D \le` :data:`FORWARD_MAX_DIRECTIONS`, else adjoint.
  For ``method="rosenbrock"`` the adjoint does not re-integrate :math:`y` backwards (unstable
  for a stiff problem: its decaying modes grow backwards) but reads it from the stored forward
  solution: :mod:`autodiff.ops.ode_adjoint`.

Failures
--------
Eagerly, a failed solve (``mxstep`` steps, a step below round-off, a non-finite right-hand side)
raises :class:`ODESolveError` naming the time reached, the steps taken and the tolerances.  In
compiled code (``jit``, model kernels) the unreached outputs are NaN: a log density that reads
them is not finite, which NUTS treats as a divergence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autodiff.avals import ShapedArray
from autodiff.core import Primitive, Tracer, bind, get_aval
from autodiff.ir import Eqn, Graph, Var, eval_graph
from autodiff.lowering import LoweringContext
from autodiff.ops.ode_codegen import rhs_function, solve_lines
from autodiff.staging import trace_to_graph
from autodiff.tree import tree_flatten, tree_unflatten
from kernels import ode_common

#: ``sensitivity="auto"`` integrates forward sensitivities up to this many directions (the size
#: of y0 plus the number of differentiated parameters), the adjoint system beyond.
FORWARD_MAX_DIRECTIONS = 16

METHODS = ("dopri5", "rosenbrock")
SENSITIVITIES = ("auto", "forward", "adjoint")


class ODESolveError(ValueError):
    """An ODE solve that did not reach the last requested time."""


def _graph_fn(graph: Graph) -> Callable:
    return lambda *args: eval_graph(graph, *args)


def _is_float(x) -> bool:
    return np.issubdtype(get_aval(x).dtype, np.floating)


def _optimized(graph: Graph) -> Graph:
    from autodiff.passes import optimize

    return optimize(graph)


def _stage_rhs(fn: Callable, avals: list[ShapedArray]) -> Graph:
    graph, consts = trace_to_graph(fn, avals)
    if consts:  # rule bodies only close over their explicit inputs
        raise AssertionError("internal error: an odeint rule body closed over a tracer")
    return _optimized(graph)


# --------------------------------------------------------------------------------------------
# the primitive: odeint(y0 (n,), ts (m,), *operands; rhs) -> [ys (m, n), info (4,)]
# --------------------------------------------------------------------------------------------

odeint_p = Primitive("odeint", multiple_results=True)


def _odeint_shape(y0, ts, *ops, rhs, method, rtol, atol, mxstep, sensitivity, n_err):
    return [ShapedArray((ts.shape[0], y0.shape[0]), np.dtype(np.float64)),
            ShapedArray((4,), np.dtype(np.float64))]


_COMPILED: dict[Any, tuple[Any, Callable]] = {}


def _run_compiled(primitive: Primitive, args: list, params: dict) -> list[np.ndarray]:
    """Evaluate one equation of ``primitive`` by compiling it (its lowering is the one code
    path of the solver, eager or not); compiled once per primitive, parameters and types."""
    from autodiff.codegen import compile_graph
    from autodiff.passes import _key

    avals = [get_aval(a) for a in args]
    key = (primitive.name, tuple(avals), _key(params))
    if key not in _COMPILED:
        in_vars = [Var(a) for a in avals]
        out_vars = [Var(a) for a in primitive.shape_rule(*avals, **params)]
        graph = Graph(in_vars, [Eqn(primitive, in_vars, params, out_vars)], out_vars)
        _COMPILED[key] = (params, compile_graph(graph))  # params keep the graphs' ids alive
    return _COMPILED[key][1](*args)


def _check_info(info: np.ndarray, ts: np.ndarray, rtol: float, atol: float, mxstep: int,
                what: str = "odeint") -> None:
    status = int(info[0])
    if status == ode_common.SOLVED:
        return
    reason = ode_common.STATUS_MESSAGES.get(status, f"status {status}")
    advice = {
        ode_common.MXSTEP_EXCEEDED: "raise mxstep, add output times in between, loosen "
        "rtol/atol, or use method='rosenbrock' if the problem is stiff",
        ode_common.STEP_TOO_SMALL: "check that func is finite along the solution for these "
        "arguments (and that the solution does not blow up before the last time)",
        ode_common.NONFINITE: "check func at (y0, t[0]) and the arguments",
        ode_common.SINGULAR: "check that func is differentiable with a finite derivative along "
        "the solution for these arguments",
    }.get(status, "")
    interval = ""
    if status == ode_common.MXSTEP_EXCEEDED:  # mxstep caps the steps since the last output
        passed = ts[(ts - info[1]) * (ts[-1] - ts[0]) <= 0.0]
        if len(passed):
            interval = f", {mxstep} of them after the output time {passed[-1]:.17g}"
    raise ODESolveError(
        f"{what}: {reason}: the solve stopped at t = {info[1]:.17g} of t = [{ts[0]:.17g}, "
        f"{ts[-1]:.17g}] after {int(info[2])} steps{interval} ({int(info[3])} right-hand side "
        f"evaluations; mxstep={mxstep}, rtol={rtol:g}, atol={atol:g}); {advice}"
    )


def _odeint_impl(y0, ts, *ops, **params):
    ys, info = _run_compiled(odeint_p, [y0, ts, *ops], params)
    _check_info(info, np.asarray(ts), params["rtol"], params["atol"], params["mxstep"])
    return [ys, info]


def _odeint_jvp(primals, tangents, rhs, **params):
    from autodiff.forward import jvp_flat
    from autodiff.numpy import concatenate, reshape, zeros

    y0, ts, *ops = primals
    t_y0, t_ts, *t_ops = tangents
    n = get_aval(y0).shape[0]
    live = [k for k, t in enumerate(t_ops) if t is not None and _is_float(ops[k])]
    t_y0 = zeros(n) if t_y0 is None else t_y0
    if t_ts is not None:  # moving t0 by dt0 moves the solution as y0 - f(y0, t0) dt0 would
        t_y0 = t_y0 - eval_graph(rhs, y0, ts[0], *ops)[0] * t_ts[0]
    op_avals = [get_aval(o) for o in ops]

    def aug(z, t, *args):
        y, ydot = z[:n], z[n:]
        base, tans = list(args[: len(ops)]), list(args[len(ops):])
        seeds: list = [None] * len(ops)
        for k, tan in zip(live, tans):
            seeds[k] = tan
        (f,), (fdot,) = jvp_flat(_graph_fn(rhs), [y, t, *base], [ydot, None, *seeds])
        return [concatenate([f, fdot])]

    avals = [ShapedArray((2 * n,), np.dtype(np.float64)), ShapedArray((), np.dtype(np.float64)),
             *op_avals, *[op_avals[k] for k in live]]
    graph = _stage_rhs(aug, avals)
    ys, info = bind(odeint_p, concatenate([y0, t_y0]), ts, *ops, *[t_ops[k] for k in live],
                    rhs=graph, **params)
    ys_dot = ys[:, n:]
    if t_ts is not None:  # d y(t_i) / d t_i = f(y(t_i), t_i)
        ys_dot = ys_dot + _rhs_at_outputs(rhs, ys[:, :n], ts, ops) * reshape(t_ts, (-1, 1))
    return [ys[:, :n], info], [ys_dot, None]


def _rhs_at_outputs(rhs: Graph, ys, ts, ops):
    """``f(ys[i], ts[i])`` for every output time, shape ``(m, n)``."""
    from autodiff.batching import vmap_flat

    return vmap_flat(_graph_fn(rhs), [ys, ts, *ops], [0, 0, *[None] * len(ops)],
                     get_aval(ts).shape[0])[0]


def _time_cotangent(rhs: Graph, ct, ys, y0_ct, ts, ops):
    r"""The cotangent of the times: :math:`\bar y_i \cdot f(y_i, t_i)` for :math:`i \ge 1`, and
    for :math:`t_0` minus the cotangent that reached :math:`y_0` through the solution
    (:math:`\partial y_i/\partial t_0 = -\partial y_i/\partial y_0\, f(y_0, t_0)`)."""
    from autodiff.numpy import concatenate, reshape
    from autodiff.numpy import sum as asum

    f = _rhs_at_outputs(rhs, ys, ts, ops)
    direct = asum(ct * f, axis=1)
    first = -asum((y0_ct - ct[0]) * f[0])
    return concatenate([reshape(first, (1,)), direct[1:]])


def _directions(y0, ops, needs) -> tuple[int, list[tuple[int, int]]]:
    """The number of sensitivity directions and, for each differentiated operand, its
    ``(index, offset)`` among them (y0's block, if wanted, comes first)."""
    n = get_aval(y0).shape[0]
    offset = n if needs[0] else 0
    blocks = []
    for k, op in enumerate(ops):
        if needs[2 + k] and _is_float(op):
            blocks.append((k, offset))
            offset += get_aval(op).size
    return offset, blocks


def _odeint_vjp(cts, ans, primals, needs, **params):
    y0, ts, *ops = primals
    ct = cts[0]
    if ct is None:
        return [None] * len(primals)
    want_t, want_y0 = needs[1], needs[0]
    needs = [needs[0] or want_t, False, *needs[2:]]  # t's cotangent needs y0's
    n_dirs, blocks = _directions(y0, ops, needs)
    sensitivity, method = params["sensitivity"], params["method"]
    use_forward = sensitivity == "forward" or (
        sensitivity == "auto" and n_dirs <= FORWARD_MAX_DIRECTIONS)
    if use_forward:
        g = _vjp_forward(ct, y0, ts, ops, needs, n_dirs, blocks, params)
    else:
        g = ADJOINT_RULES[method](ct, ans[0], y0, ts, ops, blocks, params)
    out = _split_cotangent(g, y0, ops, needs, blocks, adjoint=not use_forward)
    if want_t:
        out[1] = _time_cotangent(params["rhs"], ct, ans[0], out[0], ts, ops)
        out[0] = out[0] if want_y0 else None
    return out


def _split_cotangent(g, y0, ops, needs, blocks, adjoint: bool) -> list:
    from autodiff.numpy import reshape

    n = get_aval(y0).shape[0]
    out: list = [None] * (2 + len(ops))
    if adjoint:  # the adjoint always returns y0's cotangent first
        out[0] = g[:n] if needs[0] else None
        offset = n
    else:
        out[0] = g[:n] if needs[0] else None
        offset = n if needs[0] else 0
    for k, _ in blocks:
        size = get_aval(ops[k]).size
        out[2 + k] = reshape(g[offset: offset + size], get_aval(ops[k]).shape)
        offset += size
    return out


def sensitivities_by_vmap(y0, ts, ops, y0_block: bool, n_dirs: int, blocks, params: dict):
    """``[y, S, info]``: the solution and its sensitivity matrix :math:`S(t_i)`, shape
    ``(m, n, n_dirs)`` -- the derivatives with respect to ``y0`` (the first ``n`` directions,
    when ``y0_block``) and to the operands ``ops[k]`` (``blocks``: ``(k, offset)`` of each
    one's first direction) -- by ``odeint`` of the augmented system whose right-hand side is the
    ``vmap`` of the JVP of ``f`` over the directions."""
    from autodiff.numpy import concatenate, reshape

    n, m = get_aval(y0).shape[0], get_aval(ts).shape[0]
    graph = _sensitivity_rhs(params["rhs"], n, n_dirs, list(blocks), [get_aval(o) for o in ops])
    s0 = np.zeros((n, n_dirs))
    if y0_block:
        s0[:, :n] = np.eye(n)
    solve = {k: params[k] for k in (*SOLVE_PARAMS, "sensitivity")}
    ys, info = bind(odeint_p, concatenate([y0, s0.reshape(-1)]), ts, *ops, rhs=graph, **solve)
    return [ys[:, :n], reshape(ys[:, n:], (m, n, n_dirs)), info]


#: The parameters that decide the steps of a solve: equal in a plain ``odeint`` and in its
#: sensitivities, the two take the same steps (and give the same ``y``).
SOLVE_PARAMS = ("method", "rtol", "atol", "mxstep", "n_err")

#: A method's own way to the sensitivity matrix, with the arguments and the meaning of
#: :func:`sensitivities_by_vmap`'s second result; ``"dopri5"``'s (one generated loop over the
#: directions) is registered by :mod:`autodiff.ops.ode_sensitivity`, which builds on this module.
SENSITIVITY_RULES: dict[str, Callable] = {}


def _vjp_forward(ct, y0, ts, ops, needs, n_dirs, blocks, params):
    """Cotangent of (y0, differentiated operands) from the forward sensitivity matrix."""
    from autodiff.numpy import reshape
    from autodiff.numpy import sum as asum

    n = get_aval(y0).shape[0]
    m = get_aval(ts).shape[0]
    rule = SENSITIVITY_RULES.get(params["method"]) if n_dirs else None
    if rule is not None:
        sens = rule(y0, ts, ops, bool(needs[0]), n_dirs, blocks, params)
    else:
        sens = sensitivities_by_vmap(y0, ts, ops, bool(needs[0]), n_dirs, blocks, params)[1]
    return asum(reshape(ct, (m, n, 1)) * sens, axis=(0, 1))


def _sensitivity_rhs(rhs: Graph, n: int, n_dirs: int, blocks, op_avals) -> Graph:
    """The right-hand side of :math:`z = (y, S)`, ``S`` (n, n_dirs) flattened after ``y``:
    :math:`S' = \\partial_y f\\,S + \\partial_\\theta f` by ``vmap`` of the JVP of ``rhs``
    over the directions (the unit direction of each differentiated operand's entry)."""
    from autodiff.batching import vmap_flat
    from autodiff.forward import jvp_flat
    from autodiff.numpy import concatenate, reshape, transpose

    n_ops = len(op_avals)
    # constant seeds: the unit direction d of each differentiated operand, per direction
    seeds = {}
    for k, off in blocks:
        size = op_avals[k].size
        e = np.zeros((n_dirs, size))
        e[off: off + size] = np.eye(size)
        seeds[k] = e.reshape((n_dirs, *op_avals[k].shape))

    def aug(z, t, *args):
        y, s = z[:n], reshape(z[n:], (n, n_dirs))

        def one(s_d, *e_d):
            tangent_ops: list = [None] * n_ops
            for (k, _), e in zip(blocks, e_d):
                tangent_ops[k] = e
            return jvp_flat(_graph_fn(rhs), [y, t, *args], [s_d, None, *tangent_ops])[1]

        (cols,) = vmap_flat(one, [s, *[seeds[k] for k, _ in blocks]],
                            [1] + [0] * len(blocks), n_dirs)
        (f,) = eval_graph(rhs, y, t, *args)
        return [concatenate([f, reshape(transpose(cols), (n * n_dirs,))])]

    avals = [ShapedArray((n + n * n_dirs,), np.dtype(np.float64)),
             ShapedArray((), np.dtype(np.float64)), *op_avals]
    return _stage_rhs(aug, avals)


def _batch_by_loop(primitive: Primitive, vals: list, dims: list, params: dict):
    """One solve per batch member (their step sizes are their own; a joint solve would share
    steps and weigh every member's error in one norm); an empty batch has empty outputs of the
    primitive's shapes."""
    from autodiff.batching import batch_size_of
    from autodiff.numpy import moveaxis, stack

    size = batch_size_of(vals, dims)
    vals = [v if d is None else moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    if size == 0:
        avals = [get_aval(v) if d is None else ShapedArray(get_aval(v).shape[1:],
                                                             get_aval(v).dtype)
                 for v, d in zip(vals, dims)]
        return [np.zeros((0, *a.shape), a.dtype)
                for a in primitive.shape_rule(*avals, **params)], 0
    outs = [bind(primitive, *[v if d is None else v[b] for v, d in zip(vals, dims)], **params)
            for b in range(size)]
    return [stack([o[k] for o in outs]) for k in range(len(outs[0]))], 0


def _odeint_batch(vals, dims, **params):
    return _batch_by_loop(odeint_p, vals, dims, params)


odeint_p.impl = _odeint_impl
odeint_p.shape_rule = _odeint_shape
odeint_p.jvp = _odeint_jvp
odeint_p.vjp = _odeint_vjp
odeint_p.batch = _odeint_batch


# --------------------------------------------------------------------------------------------
# the adjoint solve: ode_adjoint(ys, ct, ts, *operands; rhs, adj) -> [g (n + P,), info (4,)]
# --------------------------------------------------------------------------------------------

ode_adjoint_p = Primitive("ode_adjoint", multiple_results=True)


def _adjoint_shape(ys, ct, ts, *ops, rhs, adj, n_params, method, rtol, atol, mxstep,
                   sensitivity, n_err):
    return [ShapedArray((ys.shape[1] + n_params,), np.dtype(np.float64)),
            ShapedArray((4,), np.dtype(np.float64))]


def _adjoint_impl(ys, ct, ts, *ops, **params):
    g, info = _run_compiled(ode_adjoint_p, [ys, ct, ts, *ops], params)
    _check_info(info, np.asarray(ts)[::-1], params["rtol"], params["atol"], params["mxstep"],
                what="odeint (the adjoint solve of its gradient)")
    return [g, info]


def _adjoint_no_derivative(*args, **params):
    raise NotImplementedError(
        "odeint: the adjoint gradient is first order only; for higher derivatives pass "
        "sensitivity='forward'")


def _adjoint_batch(vals, dims, **params):
    return _batch_by_loop(ode_adjoint_p, vals, dims, params)


def _vjp_adjoint(ct, ys, y0, ts, ops, blocks, params):
    from autodiff.numpy import concatenate, ravel
    from autodiff.reverse import vjp_flat

    n = get_aval(y0).shape[0]
    rhs = params["rhs"]
    op_avals = [get_aval(o) for o in ops]
    n_params = sum(op_avals[k].size for k, _ in blocks)

    def adj(z, t, *args):
        y, a = z[:n], z[n: 2 * n]
        (f,), pullback = vjp_flat(_graph_fn(rhs), [y, t, *args])
        g = pullback(a)
        parts = [f, -g[0]] + [-ravel(g[2 + k]) for k, _ in blocks]
        return [concatenate(parts)]

    avals = [ShapedArray((2 * n + n_params,), np.dtype(np.float64)),
             ShapedArray((), np.dtype(np.float64)), *op_avals]
    graph = _stage_rhs(adj, avals)
    # every component of the adjoint state is under error control
    g, _ = bind(ode_adjoint_p, ys, ct, ts, *ops, adj=graph, n_params=n_params,
                **{**params, "n_err": 2 * n + n_params})
    return g


#: The adjoint gradient of each method, ``(ct, ys, y0, ts, operands, blocks, params) -> [ȳ0,
#: θ̄]``; ``"rosenbrock"``'s (y read from the stored forward solution, not re-integrated) is
#: registered by :mod:`autodiff.ops.ode_adjoint`, which builds on this module.
ADJOINT_RULES: dict[str, Callable] = {"dopri5": _vjp_adjoint}

ode_adjoint_p.impl = _adjoint_impl
ode_adjoint_p.shape_rule = _adjoint_shape
ode_adjoint_p.jvp = _adjoint_no_derivative
ode_adjoint_p.vjp = _adjoint_no_derivative
ode_adjoint_p.batch = _adjoint_batch


# --------------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------------


def odeint(func: Callable, y0: Any, t: Any, *args: Any, rtol: float = 1.4e-8,
           atol: float = 1.4e-8, mxstep: int = 100_000, method: str = "dopri5",
           sensitivity: str = "auto") -> Any:
    r"""Solve :math:`y' = f(y, t, *args)`, :math:`y(t_0) = y_0`; the solution at every time of
    ``t`` (``t[0]`` is the initial time), shape ``(len(t),) + y0.shape``.

    ``func(y, t, *args)`` returns an array of ``y``'s shape; ``args`` is a pytree of arrays.
    ``rtol``/``atol`` bound the local error of each step (weighted RMS norm), ``mxstep`` the
    number of steps between two consecutive times of ``t`` (as JAX and Stan); ``method`` is
    ``"dopri5"`` (non-stiff) or ``"rosenbrock"`` (stiff), and ``sensitivity`` how reverse mode
    differentiates (``"auto"``, ``"forward"`` or ``"adjoint"``; module docstring of
    :mod:`autodiff.ops.ode`).  Differentiable with respect to ``y0``, ``t`` and ``args``, under
    ``jit`` and ``vmap``, and compiled inside model kernels.  ``y0`` may be a pytree of arrays
    (then so are ``func``'s ``y`` and its result, and each leaf of the solution has a leading
    time axis).

    >>> import numpy as np
    >>> ys = odeint(lambda y, t, k: -k * y, np.array([1.0]), np.array([0.0, 1.0]), 2.0)
    >>> bool(abs(ys[1, 0] - np.exp(-2.0)) < 1e-7)
    True
    """
    return odeint_with_info(func, y0, t, *args, rtol=rtol, atol=atol, mxstep=mxstep,
                            method=method, sensitivity=sensitivity)[0]


def odeint_with_info(func: Callable, y0: Any, t: Any, *args: Any, rtol: float = 1.4e-8,
                     atol: float = 1.4e-8, mxstep: int = 100_000, method: str = "dopri5",
                     sensitivity: str = "auto") -> tuple[Any, Any]:
    """:func:`odeint` and the solver's statistics ``[status, time reached, steps attempted,
    right-hand side evaluations]`` (float64; status 0 is success, :mod:`kernels.ode_common`)."""

    if method not in METHODS:
        hint = " (for stiff problems use method='rosenbrock')" if method == "bdf" else ""
        raise ValueError(f"odeint: method={method!r} is not one of {METHODS}{hint}")
    if sensitivity not in SENSITIVITIES:
        raise ValueError(f"odeint: sensitivity={sensitivity!r} is not one of {SENSITIVITIES}")
    if not (float(rtol) >= 0.0 and float(atol) >= 0.0 and float(rtol) + float(atol) > 0.0):
        raise ValueError(f"odeint: rtol and atol must be >= 0 and not both 0, got rtol={rtol}, "
                         f"atol={atol}")
    if int(mxstep) < 1:
        raise ValueError(f"odeint: mxstep must be a positive integer, got {mxstep}")
    t = t if isinstance(t, Tracer) else np.asarray(t, np.float64)
    t_aval = get_aval(t)
    if t_aval.ndim != 1 or t_aval.shape[0] < 1:
        raise ValueError(f"odeint: t must be a 1-D array of times (t[0] the initial time), got "
                         f"shape {t_aval.shape}")
    if not isinstance(t, Tracer) and np.any(np.diff(t) <= 0.0):
        raise ValueError(f"odeint: the times t must be strictly increasing, got {t}")
    state = _State(y0)
    leaves, tree = tree_flatten(args)
    leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in leaves]
    n = state.size

    def flat_rhs(y, tt, *xs):
        return [state.flatten(func(state.unflatten(y), tt, *tree_unflatten(tree, list(xs))),
                              "func(y, t, *args) returned")]

    f64 = np.dtype(np.float64)
    avals = [ShapedArray((n,), f64), ShapedArray((), f64), *[get_aval(x) for x in leaves]]
    graph, consts = trace_to_graph(flat_rhs, avals)
    # the graph takes (closed-over values, y, t, args); the primitive takes (y0, t, operands)
    n_c = len(consts)
    graph = _optimized(Graph(graph.inputs[n_c: n_c + 2] + graph.inputs[:n_c]
                             + graph.inputs[n_c + 2:], graph.eqns, graph.outputs))
    ys, info = bind(odeint_p, state.flat0, t, *consts, *leaves, rhs=graph, method=method,
                    rtol=float(rtol), atol=float(atol), mxstep=int(mxstep),
                    sensitivity=sensitivity, n_err=n)
    return state.unflatten(ys, t_aval.shape[0]), info


class _State:
    """A state ``y0`` given as a pytree of arrays (JAX allows one), as the flat vector the solver
    integrates: its leaves raveled and concatenated in ``tree_flatten``'s order."""

    def __init__(self, y0: Any) -> None:
        from autodiff.numpy import astype, concatenate, ravel

        leaves, self.tree = tree_flatten(y0)
        if not leaves:
            raise ValueError("odeint: y0 holds no array; pass the initial state as an array or "
                             "a pytree of arrays")
        leaves = [x if isinstance(x, Tracer) else np.asarray(x, np.float64) for x in leaves]
        leaves = [x if np.issubdtype(get_aval(x).dtype, np.floating) else astype(x, np.float64)
                  for x in leaves]
        self.shapes = [get_aval(x).shape for x in leaves]
        self.sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.size = sum(self.sizes)
        self.flat0 = (ravel(leaves[0]) if len(leaves) == 1
                      else concatenate([ravel(x) for x in leaves]))

    def unflatten(self, flat: Any, m: int | None = None) -> Any:
        """The pytree of a flat state ``(n,)``, or of ``m`` stacked ones ``(m, n)`` (each leaf
        then has the leading time axis)."""
        from autodiff.numpy import reshape

        lead = () if m is None else (m,)
        if len(self.shapes) == 1:
            return tree_unflatten(self.tree, [reshape(flat, (*lead, *self.shapes[0]))])
        parts, offset = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            piece = flat[offset: offset + size] if m is None else flat[:, offset: offset + size]
            parts.append(reshape(piece, (*lead, *shape)))
            offset += size
        return tree_unflatten(self.tree, parts)

    def flatten(self, value: Any, what: str) -> Any:
        """A derivative of the state's structure as the flat float64 vector."""
        from autodiff.numpy import astype, concatenate, ravel

        leaves, tree = tree_flatten(value)
        shapes = [get_aval(x).shape for x in leaves]
        if tree != self.tree or shapes != self.shapes:
            got = shapes[0] if len(shapes) == 1 and tree == self.tree else f"{tree} {shapes}"
            want = (self.shapes[0] if len(self.shapes) == 1
                    else f"{self.tree} {self.shapes}")
            raise ValueError(f"odeint: {what} shape {got}, but y0 has shape {want}; the "
                             f"derivative must have y's structure and shapes")
        flat = [astype(ravel(x), np.float64) for x in leaves]
        return flat[0] if len(flat) == 1 else concatenate(flat)


# --------------------------------------------------------------------------------------------
# Numba lowering: the right-hand side (the sub-graph) as a function of the generated module,
# called by a generated Dormand-Prince loop, or by a loop around the stiff solver's kernel
# whenever the kernel asks for it
# --------------------------------------------------------------------------------------------

_JACOBIANS: dict[int, tuple[Graph, Graph]] = {}


def _jacobian_graph(rhs: Graph) -> Graph:
    """The graph ``(y, t, *operands) -> [df/dy (n, n), df/dt (n,)]`` of a right-hand side, by
    forward mode (``n`` directions at once by ``vmap``), staged once per right-hand side."""
    from autodiff.batching import vmap_flat
    from autodiff.forward import jvp_flat
    from autodiff.numpy import transpose

    if id(rhs) not in _JACOBIANS:
        n = rhs.inputs[0].aval.shape[0]
        n_ops = len(rhs.inputs) - 2

        def jac(y, t, *ops):
            def column(e):
                return jvp_flat(_graph_fn(rhs), [y, t, *ops], [e, None, *[None] * n_ops])[1]

            (rows,) = vmap_flat(column, [np.eye(n)], [0], n)
            (f_t,) = jvp_flat(_graph_fn(rhs), [y, t, *ops], [None, np.ones(()),
                                                               *[None] * n_ops])[1]
            return [transpose(rows), f_t]

        _JACOBIANS[id(rhs)] = (rhs, _stage_rhs(jac, [v.aval for v in rhs.inputs]))
    return _JACOBIANS[id(rhs)][1]


def _solve_lines(ctx: LoweringContext, rhs: Graph, fn_args: list[str], y0: str, ts: str,
                 ys: str, n: int, info: str, tag: str) -> list[str]:
    """Lines solving from ``y0`` over ``ts`` into the (preallocated) ``ys``, the solve's
    statistics into ``info``: for ``"dopri5"`` the generated step loop
    (:mod:`autodiff.ops.ode_codegen`), for ``"rosenbrock"`` a loop around the
    reverse-communication solver that evaluates the right-hand side (and its Jacobian) when
    asked."""
    p = ctx.params
    if p["method"] == "dopri5":
        return solve_lines(ctx, rhs_function(ctx, rhs, n, len(fn_args)), n, p, y0, ts, ys,
                           fn_args, info, tag)
    from kernels.ode_rosenbrock import DFDT, JAC

    # the right-hand side takes its arrays from a workspace allocated once per solve: the step
    # loop does not allocate
    fn, consts, size = ctx.emit_subgraph_in_workspace(rhs, "rhs")
    W, S, I = f"W{tag}", f"S{tag}", f"I{tag}"
    point = [f"{W}[{I}[{ode_common.ROW_IN}]]", f"{S}[{ode_common.T_EVAL}]"]
    call = ", ".join([*point, *fn_args, *([f"ws{tag}"] if size else []), *consts])
    jfn, jconsts = ctx.emit_subgraph(_jacobian_graph(rhs), "jac")
    jcall = ", ".join([*point, *fn_args, *jconsts])
    return [
        f"{W}, {S}, {I} = rosenbrock.rosenbrock_workspace({n})",
        *([f"ws{tag} = cn.empty((np.int64({size}),), np.float64)"] if size else []),
        f"rosenbrock.rosenbrock_start({W}, {S}, {I}, {y0}, {ts}, {ys}, {p['rtol']!r}, "
        f"{p['atol']!r}, {p['mxstep']}, {p['n_err']})",
        "while True:",
        f"    rq_ = rosenbrock.rosenbrock_advance({W}, {S}, {I}, {ts}, {ys})",
        f"    if rq_ == {ode_common.NEED_F}:",
        # rows are stored by cached loops (cn.assign_row's docstring says why)
        f"        cn.assign_row({W}, {I}[{ode_common.ROW_OUT}], {fn}({call})[0])",
        f"    elif rq_ == {ode_common.NEED_JAC}:",
        f"        jr_ = {jfn}({jcall})",
        f"        cn.assign_row({W}, {JAC}, jr_[0])",
        f"        cn.assign_row({W}, {DFDT}, jr_[1])",
        "    else:",
        "        break",
        f"{info} = ode.info({S}, {I})",
    ]


def _lower_odeint(ctx: LoweringContext) -> list[str]:
    y0, ts, *ops = ctx.ins
    ys, info = ctx.outs
    n = ctx.out_avals[0].shape[1]
    tag = ys
    lines = [
        # the number of times read from ts, not written in: one compiled module serves every
        # length of t
        f"{ys} = cn.empty(({ts}.shape[0], np.int64({n})), np.float64)",
        f"ts{tag} = cn.ascontiguousarray({ts})",
    ]
    return lines + _solve_lines(ctx, ctx.params["rhs"], ops, f"cn.ascontiguousarray({y0})",
                                f"ts{tag}", ys, n, info, tag)


def _lower_adjoint(ctx: LoweringContext) -> list[str]:
    """Backward from the last time to the first, one solve per interval: the state
    ``[y, a, g]`` restarts from the forward solution ``ys[i]``, and ``a`` jumps by ``ct[i]``."""
    ys, ct, ts, *ops = ctx.ins
    g, info = ctx.outs
    n = ctx.in_avals[0].shape[1]
    big = 2 * n + ctx.params["n_params"]
    tag = g
    part = f"inf{tag}"
    lines = [
        f"z{tag} = np.zeros({big})",
        f"tt{tag} = np.empty(2)",
        f"zz{tag} = np.empty((2, {big}))",
        f"{info} = np.zeros(4)",
        f"for i_ in range({ts}.shape[0] - 1, 0, -1):",
        f"    cn.copy_into(z{tag}, 0, {ys}[i_])",
        f"    for j_ in range({n}):",
        f"        z{tag}[{n} + j_] += {ct}[i_, j_]",
        f"    tt{tag}[0] = {ts}[i_]",
        f"    tt{tag}[1] = {ts}[i_ - 1]",
    ]
    lines += ["    " + line for line in _solve_lines(ctx, ctx.params["adj"], ops, f"z{tag}",
                                                    f"tt{tag}", f"zz{tag}", big, part, tag)]
    lines += [
        f"    {info}[2] += {part}[2]",
        f"    {info}[3] += {part}[3]",
        f"    if {part}[0] != {ode_common.SOLVED}:",
        f"        {info}[0] = {part}[0]",
        f"        {info}[1] = {part}[1]",
        f"        z{tag}.fill(np.nan)",
        "        break",
        f"    cn.copy_into(z{tag}, 0, zz{tag}[1])",
        f"{g} = np.empty({big - n})",
        f"for j_ in range({n}):",
        f"    {g}[j_] = z{tag}[{n} + j_] + {ct}[0, j_]",
        f"cn.copy_into({g}, {n}, z{tag}[{2 * n}:])",
    ]
    return lines


odeint_p.lower = _lower_odeint
ode_adjoint_p.lower = _lower_adjoint
